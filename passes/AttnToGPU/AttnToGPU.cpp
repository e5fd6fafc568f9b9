//===- AttnToGPU.cpp - L2 tile loops to gpu.launch kernels ------*- C++ -*-===//
//
// attn-to-gpu turns each scf.forall (batch, head, q-tile) written by
// attn-tile into one gpu.launch and lowers its attn.tile ops for the block:
//
//   1. Launch: grid = (q-tiles, query heads, batch), block = `threads`
//      threads. Every memref.alloca tile of the forall body becomes a
//      workgroup (shared-memory) attribution whose rows are padded by 4
//      bytes, viewed through a subview with the tile's shape: threads that
//      walk a column (rows r, r+1, ...) then hit consecutive banks.
//   2. Self-contained body: the extents, constants and index arithmetic the
//      body uses from outside are cloned into it, so that after outlining
//      the kernel's parameters are exactly the memrefs (the bundle ABI).
//   3. Tile ops: each becomes a loop over its elements (or rows, for the
//      row-wise softmax steps) distributed over the block's threads,
//      `for (e = tid; e < count; e += nthreads)`, followed by gpu.barrier so
//      the next op sees the whole tile. Arithmetic is f32; exp and log go
//      through math ops (libdevice on NVVM).
//
// This is the correct CUDA-core baseline. The tensor-core lowering (ldmatrix,
// mma.sync, register-resident S/P/acc, cp.async pipelining) replaces step 3
// for the same L2 input.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

namespace attn {
#define GEN_PASS_DEF_ATTNTOGPU
#include "attn/Passes/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

/// Static shared memory a block may use without opting in (48 KiB).
static constexpr int64_t kStaticSharedBytes = 48 * 1024;

/// Padding added to each tile row in shared memory.
static constexpr int64_t kRowPadBytes = 4;

namespace {
/// Builds thread-distributed loops over tile elements inside a launch.
class TileLoweringBuilder {
public:
  TileLoweringBuilder(ImplicitLocOpBuilder &b, Value threadId,
                      Value numThreads, bool useMma)
      : b(b), threadId(threadId), numThreads(numThreads), useMma(useMma) {}

  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, value);
  }
  Value f32(float value) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(value));
  }
  Value toF32(Value value) {
    if (value.getType().isF32())
      return value;
    return arith::ExtFOp::create(b, b.getF32Type(), value);
  }
  Value fromF32(Value value, Type type) {
    if (type.isF32())
      return value;
    return arith::TruncFOp::create(b, type, value);
  }

  /// Emits `for (e = tid; e < count; e += nthreads) body(e)` and a barrier.
  void forEachDistributed(int64_t count, function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, threadId, index(count), numThreads);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      body(loop.getInductionVar());
    }
    gpu::BarrierOp::create(b);
  }

  /// Emits a sequential loop `for (i = 0; i < count; ++i)` carrying one f32
  /// value; returns the final value.
  Value reduce(int64_t count, Value init,
               function_ref<Value(Value, Value)> step) {
    auto loop =
        scf::ForOp::create(b, index(0), index(count), index(1), ValueRange{init});
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value next =
          step(loop.getInductionVar(), loop.getRegionIterArgs().front());
      scf::YieldOp::create(b, next);
    }
    return loop.getResult(0);
  }

  /// Emits a sequential loop over `count` with no carried value.
  void forEachSequential(int64_t count, function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, index(0), index(count), index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar());
  }

  /// Splits a linear element index of a [rows, cols] tile.
  std::pair<Value, Value> split(Value linear, int64_t cols) {
    Value colsValue = index(cols);
    return {arith::DivUIOp::create(b, linear, colsValue),
            arith::RemUIOp::create(b, linear, colsValue)};
  }

  /// Emits the lowering of `op`, then erases it.
  void lower(Operation *op) {
    b.setInsertionPoint(op);
    b.setLoc(op->getLoc());
    llvm::TypeSwitch<Operation *>(op)
        .Case([&](TileLoadOp op) { lowerLoad(op); })
        .Case([&](TileStoreOp op) { lowerStore(op); })
        .Case([&](TileFillOp op) { lowerFill(op); })
        .Case([&](TileQKOp op) {
          if (useMma && mmaApplies(op.getQuery().getType(),
                                   shapeOf(op.getScores()),
                                   shapeOf(op.getQuery())[1]))
            lowerQKWithMma(op);
          else
            lowerQK(op);
        })
        .Case([&](TileMaskOp op) { lowerMask(op); })
        .Case([&](TileOnlineSoftmaxOp op) { lowerOnlineSoftmax(op); })
        .Case([&](TilePVOp op) {
          ArrayRef<int64_t> acc = shapeOf(op.getAcc());
          if (useMma && mmaApplies(op.getValue().getType(), acc,
                                   shapeOf(op.getProbs())[1]))
            lowerPVWithMma(op);
          else
            lowerPV(op);
        })
        .Case([&](TileFinalizeOp op) { lowerFinalize(op); });
    op->erase();
  }

private:
  static ArrayRef<int64_t> shapeOf(Value tile) {
    return cast<MemRefType>(tile.getType()).getShape();
  }

  /// Indices into a tile for linear element `e`: [e] or [e / cols, e % cols].
  SmallVector<Value> tileIndices(Value tile, Value linear) {
    ArrayRef<int64_t> shape = shapeOf(tile);
    if (shape.size() == 1)
      return {linear};
    auto [row, col] = split(linear, shape[1]);
    return {row, col};
  }

  /// tile[r, ...] = row0 + r < N ? buffer[b, h, row0 + r, ...] : 0.
  void lowerLoad(TileLoadOp op) {
    Value tile = op.getTile();
    Type elementType = cast<MemRefType>(tile.getType()).getElementType();
    Value rows = memref::DimOp::create(b, op.getSource(), 2);
    forEachDistributed(
        cast<MemRefType>(tile.getType()).getNumElements(), [&](Value e) {
          SmallVector<Value> indices = tileIndices(tile, e);
          Value row = arith::AddIOp::create(b, op.getRow(), indices[0]);
          Value inRange =
              arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, rows);
          auto ifOp = scf::IfOp::create(b, TypeRange{elementType}, inRange,
                                        /*withElseRegion=*/true);
          {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(ifOp.thenBlock());
            SmallVector<Value> source{op.getBatch(), op.getHead(), row};
            source.append(indices.begin() + 1, indices.end());
            Value loaded = memref::LoadOp::create(b, op.getSource(), source);
            scf::YieldOp::create(b, loaded);
            b.setInsertionPointToStart(ifOp.elseBlock());
            Value zero = arith::ConstantOp::create(
                b, b.getZeroAttr(elementType));
            scf::YieldOp::create(b, zero);
          }
          memref::StoreOp::create(b, ifOp.getResult(0), tile, indices);
        });
  }

  /// buffer[b, h, row0 + r, ...] = tile[r, ...] for rows below N.
  void lowerStore(TileStoreOp op) {
    Value tile = op.getTile();
    Type destType = cast<MemRefType>(op.getDest().getType()).getElementType();
    Value rows = memref::DimOp::create(b, op.getDest(), 2);
    forEachDistributed(
        cast<MemRefType>(tile.getType()).getNumElements(), [&](Value e) {
          SmallVector<Value> indices = tileIndices(tile, e);
          Value row = arith::AddIOp::create(b, op.getRow(), indices[0]);
          Value inRange =
              arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, rows);
          auto ifOp = scf::IfOp::create(b, inRange, /*withElseRegion=*/false);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(ifOp.thenBlock());
          Value value = memref::LoadOp::create(b, tile, indices);
          SmallVector<Value> dest{op.getBatch(), op.getHead(), row};
          dest.append(indices.begin() + 1, indices.end());
          memref::StoreOp::create(b, fromF32(value, destType), op.getDest(),
                                  dest);
        });
  }

  void lowerFill(TileFillOp op) {
    Value tile = op.getTile();
    Value value = arith::ConstantOp::create(b, op.getValueAttr());
    forEachDistributed(cast<MemRefType>(tile.getType()).getNumElements(),
                       [&](Value e) {
                         memref::StoreOp::create(b, value, tile,
                                                 tileIndices(tile, e));
                       });
  }

  /// S[r, c] = scale · Σ_d Q[r, d] K[c, d].
  void lowerQK(TileQKOp op) {
    ArrayRef<int64_t> scoresShape = shapeOf(op.getScores());
    int64_t headDim = shapeOf(op.getQuery())[1];
    Value scale = arith::ConstantOp::create(b, op.getScaleAttr());
    forEachDistributed(scoresShape[0] * scoresShape[1], [&](Value e) {
      auto [r, c] = split(e, scoresShape[1]);
      Value dot = reduce(headDim, f32(0.0f), [&](Value d, Value acc) {
        Value q = toF32(memref::LoadOp::create(b, op.getQuery(),
                                               ValueRange{r, d}));
        Value k =
            toF32(memref::LoadOp::create(b, op.getKey(), ValueRange{c, d}));
        return math::FmaOp::create(b, q, k, acc);
      });
      memref::StoreOp::create(b, arith::MulFOp::create(b, dot, scale),
                              op.getScores(), ValueRange{r, c});
    });
  }

  /// S[r, c] = -inf unless key c exists, lies in the band and satisfies
  /// the predicate.
  void lowerMask(TileMaskOp op) {
    ArrayRef<int64_t> shape = shapeOf(op.getScores());
    forEachDistributed(shape[0] * shape[1], [&](Value e) {
      auto [r, c] = split(e, shape[1]);
      Value i = arith::AddIOp::create(b, op.getQueryStart(), r);
      Value j = arith::AddIOp::create(b, op.getKeyStart(), c);
      Value allowed = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, j,
                                            op.getKeyLen());
      Value diagonal = arith::AddIOp::create(
          b, i, arith::SubIOp::create(b, op.getKeyLen(), op.getQueryLen()));
      Value delta = arith::SubIOp::create(b, j, diagonal);
      if (std::optional<int64_t> lower = op.getBandLower())
        allowed = arith::AndIOp::create(
            b, allowed,
            arith::CmpIOp::create(b, arith::CmpIPredicate::sge, delta,
                                  index(*lower)));
      if (std::optional<int64_t> upper = op.getBandUpper())
        allowed = arith::AndIOp::create(
            b, allowed,
            arith::CmpIOp::create(b, arith::CmpIPredicate::sle, delta,
                                  index(*upper)));
      if (!op.getPredicate().empty()) {
        Block &body = op.getPredicate().front();
        IRMapping mapping;
        mapping.map(body.getArgument(0), i);
        mapping.map(body.getArgument(1), j);
        for (Operation &inner : body.without_terminator())
          b.clone(inner, mapping);
        allowed = arith::AndIOp::create(
            b, allowed,
            mapping.lookup(cast<YieldOp>(body.getTerminator()).getValue()));
      }
      Value score = memref::LoadOp::create(b, op.getScores(), ValueRange{r, c});
      Value masked = arith::SelectOp::create(
          b, allowed, score, f32(-std::numeric_limits<float>::infinity()));
      memref::StoreOp::create(b, masked, op.getScores(), ValueRange{r, c});
    });
  }

  /// One online-softmax step per row (see TileOnlineSoftmaxOp).
  void lowerOnlineSoftmax(TileOnlineSoftmaxOp op) {
    ArrayRef<int64_t> shape = shapeOf(op.getScores());
    int64_t valueDim = shapeOf(op.getAcc())[1];
    Value negInf = f32(-std::numeric_limits<float>::infinity());
    forEachDistributed(shape[0], [&](Value r) {
      Value oldMax = memref::LoadOp::create(b, op.getRowMax(), r);
      Value tileMax = reduce(shape[1], negInf, [&](Value c, Value acc) {
        Value s = memref::LoadOp::create(b, op.getScores(), ValueRange{r, c});
        return arith::MaxNumFOp::create(b, acc, s);
      });
      Value newMax = arith::MaxNumFOp::create(b, oldMax, tileMax);
      Value empty =
          arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, newMax, negInf);
      // For an empty row subtract 0: exp(-inf - 0) = 0, never NaN.
      Value shift = arith::SelectOp::create(b, empty, f32(0.0f), newMax);
      Value alpha = arith::SelectOp::create(
          b, empty, f32(1.0f),
          math::ExpOp::create(b, arith::SubFOp::create(b, oldMax, shift)));
      Value sum = reduce(shape[1], f32(0.0f), [&](Value c, Value acc) {
        Value s = memref::LoadOp::create(b, op.getScores(), ValueRange{r, c});
        Value p = math::ExpOp::create(b, arith::SubFOp::create(b, s, shift));
        memref::StoreOp::create(b, p, op.getScores(), ValueRange{r, c});
        return arith::AddFOp::create(b, acc, p);
      });
      Value oldSum = memref::LoadOp::create(b, op.getRowSum(), r);
      memref::StoreOp::create(b, math::FmaOp::create(b, alpha, oldSum, sum),
                              op.getRowSum(), r);
      memref::StoreOp::create(b, newMax, op.getRowMax(), r);
      forEachSequential(valueDim, [&](Value col) {
        Value a = memref::LoadOp::create(b, op.getAcc(), ValueRange{r, col});
        memref::StoreOp::create(b, arith::MulFOp::create(b, a, alpha),
                                op.getAcc(), ValueRange{r, col});
      });
    });
  }

  /// acc[r, e] += Σ_c P[r, c] V[c, e].
  void lowerPV(TilePVOp op) {
    ArrayRef<int64_t> probsShape = shapeOf(op.getProbs());
    int64_t valueDim = shapeOf(op.getAcc())[1];
    forEachDistributed(probsShape[0] * valueDim, [&](Value e) {
      auto [r, col] = split(e, valueDim);
      Value acc = memref::LoadOp::create(b, op.getAcc(), ValueRange{r, col});
      Value total = reduce(probsShape[1], acc, [&](Value c, Value sum) {
        Value p = memref::LoadOp::create(b, op.getProbs(), ValueRange{r, c});
        Value v =
            toF32(memref::LoadOp::create(b, op.getValue(), ValueRange{c, col}));
        return math::FmaOp::create(b, p, v, sum);
      });
      memref::StoreOp::create(b, total, op.getAcc(), ValueRange{r, col});
    });
  }

  /// acc /= l and m = m + log(l), with 0 and -inf for rows where l = 0.
  void lowerFinalize(TileFinalizeOp op) {
    ArrayRef<int64_t> shape = shapeOf(op.getAcc());
    Value zero = f32(0.0f);
    forEachDistributed(shape[0] * shape[1], [&](Value e) {
      auto [r, col] = split(e, shape[1]);
      Value sum = memref::LoadOp::create(b, op.getRowSum(), r);
      Value empty =
          arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, sum, zero);
      Value acc = memref::LoadOp::create(b, op.getAcc(), ValueRange{r, col});
      Value normalised = arith::SelectOp::create(
          b, empty, zero, arith::DivFOp::create(b, acc, sum));
      memref::StoreOp::create(b, normalised, op.getAcc(), ValueRange{r, col});
    });
    forEachDistributed(shape[0], [&](Value r) {
      Value sum = memref::LoadOp::create(b, op.getRowSum(), r);
      Value empty =
          arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, sum, zero);
      Value max = memref::LoadOp::create(b, op.getRowMax(), r);
      Value lse = arith::SelectOp::create(
          b, empty, f32(-std::numeric_limits<float>::infinity()),
          arith::AddFOp::create(b, max, math::LogOp::create(b, sum)));
      memref::StoreOp::create(b, lse, op.getRowMax(), r);
    });
  }

  //===--------------------------------------------------------------------===//
  // Tensor cores: mma.sync m16n8k16 with f32 accumulation.
  //
  // Fragment layout (PTX ISA, mma.m16n8k16 for 16-bit floats), with
  // g = lane / 4 and t = lane % 4:
  //   A (16x16, row): registers hold the pairs (g, 2t), (g + 8, 2t),
  //                   (g, 2t + 8), (g + 8, 2t + 8) and the next column.
  //   B (16x8, col):  (k = 2t, n = g) and (k = 2t + 8, n = g), with k + 1.
  //   C (16x8):       (g, 2t), (g, 2t + 1), (g + 8, 2t), (g + 8, 2t + 1).
  // Each warp owns whole 16x8 output tiles, so no two warps write the same
  // element.
  //===--------------------------------------------------------------------===//

  /// Whether a product with 16-bit operands of `operandType`, output tile
  /// `output` ([M, N]) and reduction length `reduction` fits m16n8k16.
  static bool mmaApplies(Type operandType, ArrayRef<int64_t> output,
                         int64_t reduction) {
    Type element = cast<MemRefType>(operandType).getElementType();
    return (element.isBF16() || element.isF16()) && output[0] % 16 == 0 &&
           output[1] % 8 == 0 && reduction % 16 == 0;
  }

  /// Packs two 16-bit floats into one mma operand register: an i32 for
  /// bf16, a vector<2xf16> for f16 (low half = first element).
  Value packPair(Value low, Value high) {
    Type i16 = b.getI16Type(), i32 = b.getI32Type();
    auto widen = [&](Value v) {
      return arith::ExtUIOp::create(b, i32,
                                    arith::BitcastOp::create(b, i16, v));
    };
    Value packed = arith::OrIOp::create(
        b, widen(low),
        arith::ShLIOp::create(b, widen(high),
                              arith::ConstantIntOp::create(b, i32, 16)));
    if (low.getType().isBF16())
      return packed;
    return LLVM::BitcastOp::create(
        b, VectorType::get({2}, b.getF16Type()), packed);
  }

  /// Loads tile[row, col] and tile[row, col + 1] as one operand register.
  Value loadPair(Value tile, Value row, Value col) {
    Value next = arith::AddIOp::create(b, col, index(1));
    return packPair(memref::LoadOp::create(b, tile, ValueRange{row, col}),
                    memref::LoadOp::create(b, tile, ValueRange{row, next}));
  }

  /// Lane coordinates: warp index, g = lane / 4, t = lane % 4, 2t.
  struct LaneCoords {
    Value warp, numWarps, g, twoT;
  };
  LaneCoords laneCoords() {
    Value warpSize = index(32);
    Value lane = arith::RemUIOp::create(b, threadId, warpSize);
    LaneCoords coords;
    coords.warp = arith::DivUIOp::create(b, threadId, warpSize);
    coords.numWarps = arith::DivUIOp::create(b, numThreads, warpSize);
    coords.g = arith::DivUIOp::create(b, lane, index(4));
    coords.twoT = arith::MulIOp::create(
        b, arith::RemUIOp::create(b, lane, index(4)), index(2));
    return coords;
  }

  /// Emits one mma.sync m16n8k16 and returns the four f32 results.
  SmallVector<Value> mma(ArrayRef<Value> a, ArrayRef<Value> bOperands,
                         ArrayRef<Value> c, bool isBF16) {
    Type f32 = b.getF32Type();
    Type resultType =
        LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    NVVM::MMATypes type = isBF16 ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
    auto op = NVVM::MmaOp::create(
        b, resultType, a, bOperands, c, ArrayRef<int64_t>{16, 8, 16},
        std::nullopt, std::nullopt,
        std::array<NVVM::MMATypes, 2>{type, type},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                       NVVM::MMALayout::col});
    SmallVector<Value> results;
    for (int64_t i = 0; i < 4; ++i)
      results.push_back(LLVM::ExtractValueOp::create(b, op.getRes(), i));
    return results;
  }

  /// Runs `body(m0, n0)` for every 16x8 tile of an [M, N] output owned by
  /// this warp (tiles dealt round-robin over the warps), then a barrier.
  void forEachWarpTile(const LaneCoords &lane, int64_t m, int64_t n,
                       function_ref<void(Value, Value)> body) {
    int64_t tilesN = n / 8;
    auto loop =
        scf::ForOp::create(b, lane.warp, index((m / 16) * tilesN), lane.numWarps);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value tile = loop.getInductionVar();
      Value m0 = arith::MulIOp::create(
          b, arith::DivUIOp::create(b, tile, index(tilesN)), index(16));
      Value n0 = arith::MulIOp::create(
          b, arith::RemUIOp::create(b, tile, index(tilesN)), index(8));
      body(m0, n0);
    }
    gpu::BarrierOp::create(b);
  }

  /// Emits the k-loop of one 16x8 tile: for k0 in [0, reduction) step 16,
  /// c = mma(a(k0), b(k0), c), starting from `init`; returns the final c.
  SmallVector<Value>
  accumulateTile(int64_t reduction, ArrayRef<Value> init, bool isBF16,
                 function_ref<SmallVector<Value>(Value)> loadA,
                 function_ref<SmallVector<Value>(Value)> loadB) {
    auto loop = scf::ForOp::create(b, index(0), index(reduction), index(16),
                                   ValueRange(init));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value k0 = loop.getInductionVar();
      SmallVector<Value> a = loadA(k0), bFrag = loadB(k0);
      scf::YieldOp::create(
          b, mma(a, bFrag, SmallVector<Value>(loop.getRegionIterArgs()),
                 isBF16));
    }
    return SmallVector<Value>(loop.getResults());
  }

  /// The four (row, column) positions of a C fragment of tile (m0, n0).
  std::array<std::pair<Value, Value>, 4> accumulatorPositions(
      const LaneCoords &lane, Value m0, Value n0) {
    Value row = arith::AddIOp::create(b, m0, lane.g);
    Value row8 = arith::AddIOp::create(b, row, index(8));
    Value col = arith::AddIOp::create(b, n0, lane.twoT);
    Value col1 = arith::AddIOp::create(b, col, index(1));
    return {{{row, col}, {row, col1}, {row8, col}, {row8, col1}}};
  }

  /// S = scale · Q Kᵀ on tensor cores.
  void lowerQKWithMma(TileQKOp op) {
    ArrayRef<int64_t> scores = shapeOf(op.getScores());
    int64_t headDim = shapeOf(op.getQuery())[1];
    bool isBF16 =
        cast<MemRefType>(op.getQuery().getType()).getElementType().isBF16();
    Value scale = arith::ConstantOp::create(b, op.getScaleAttr());
    LaneCoords lane = laneCoords();
    forEachWarpTile(lane, scores[0], scores[1], [&](Value m0, Value n0) {
      Value row = arith::AddIOp::create(b, m0, lane.g);
      Value row8 = arith::AddIOp::create(b, row, index(8));
      Value keyRow = arith::AddIOp::create(b, n0, lane.g);
      SmallVector<Value> zero(4, f32(0.0f));
      SmallVector<Value> c = accumulateTile(
          headDim, zero, isBF16,
          [&](Value k0) -> SmallVector<Value> {
            Value col = arith::AddIOp::create(b, k0, lane.twoT);
            Value col8 = arith::AddIOp::create(b, col, index(8));
            return {loadPair(op.getQuery(), row, col),
                    loadPair(op.getQuery(), row8, col),
                    loadPair(op.getQuery(), row, col8),
                    loadPair(op.getQuery(), row8, col8)};
          },
          [&](Value k0) -> SmallVector<Value> {
            Value col = arith::AddIOp::create(b, k0, lane.twoT);
            Value col8 = arith::AddIOp::create(b, col, index(8));
            return {loadPair(op.getKey(), keyRow, col),
                    loadPair(op.getKey(), keyRow, col8)};
          });
      for (auto [value, position] :
           llvm::zip(c, accumulatorPositions(lane, m0, n0)))
        memref::StoreOp::create(b, arith::MulFOp::create(b, value, scale),
                                op.getScores(),
                                ValueRange{position.first, position.second});
    });
  }

  /// acc += P V on tensor cores; P is rounded to the value type.
  void lowerPVWithMma(TilePVOp op) {
    ArrayRef<int64_t> acc = shapeOf(op.getAcc());
    int64_t keys = shapeOf(op.getProbs())[1];
    Type valueType = cast<MemRefType>(op.getValue().getType()).getElementType();
    bool isBF16 = valueType.isBF16();
    LaneCoords lane = laneCoords();
    forEachWarpTile(lane, acc[0], acc[1], [&](Value m0, Value n0) {
      auto positions = accumulatorPositions(lane, m0, n0);
      SmallVector<Value> init;
      for (auto [r, c] : positions)
        init.push_back(memref::LoadOp::create(b, op.getAcc(), ValueRange{r, c}));
      Value row = arith::AddIOp::create(b, m0, lane.g);
      Value row8 = arith::AddIOp::create(b, row, index(8));
      Value valueCol = arith::AddIOp::create(b, n0, lane.g);
      auto probPair = [&](Value r, Value c) {
        Value next = arith::AddIOp::create(b, c, index(1));
        return packPair(
            fromF32(memref::LoadOp::create(b, op.getProbs(), ValueRange{r, c}),
                    valueType),
            fromF32(
                memref::LoadOp::create(b, op.getProbs(), ValueRange{r, next}),
                valueType));
      };
      auto valuePair = [&](Value k) {
        Value next = arith::AddIOp::create(b, k, index(1));
        return packPair(
            memref::LoadOp::create(b, op.getValue(), ValueRange{k, valueCol}),
            memref::LoadOp::create(b, op.getValue(),
                                   ValueRange{next, valueCol}));
      };
      SmallVector<Value> c = accumulateTile(
          keys, init, isBF16,
          [&](Value k0) -> SmallVector<Value> {
            Value col = arith::AddIOp::create(b, k0, lane.twoT);
            Value col8 = arith::AddIOp::create(b, col, index(8));
            return {probPair(row, col), probPair(row8, col),
                    probPair(row, col8), probPair(row8, col8)};
          },
          [&](Value k0) -> SmallVector<Value> {
            Value k = arith::AddIOp::create(b, k0, lane.twoT);
            Value k8 = arith::AddIOp::create(b, k, index(8));
            return {valuePair(k), valuePair(k8)};
          });
      for (auto [value, position] : llvm::zip(c, positions))
        memref::StoreOp::create(b, value, op.getAcc(),
                                ValueRange{position.first, position.second});
    });
  }

  ImplicitLocOpBuilder &b;
  Value threadId, numThreads;
  bool useMma;
};

/// Whether `region` holds attn.tile ops (the forall nests attn-tile wrote).
bool containsTileOps(Region &region) {
  return region
      .walk([](Operation *op) {
        return op->getName().getStringRef().starts_with("attn.tile.")
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}

struct AttnToGPUPass : public attn::impl::AttnToGPUBase<AttnToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    if (chip != "sm_80" && chip != "sm_90a") {
      getOperation()->emitError()
          << "attn-to-gpu: unknown chip '" << chip
          << "' (supported: sm_80, sm_90a)";
      return signalPassFailure();
    }
    if (threads < 32 || threads > 1024 || threads % 32 != 0) {
      getOperation()->emitError()
          << "attn-to-gpu: threads = " << threads.getValue()
          << " must be a multiple of 32 between 32 and 1024";
      return signalPassFailure();
    }
    SmallVector<scf::ForallOp> nests;
    getOperation()->walk([&](scf::ForallOp op) {
      if (op.getRank() == 3 && containsTileOps(op.getRegion()))
        nests.push_back(op);
    });
    for (scf::ForallOp nest : nests)
      if (failed(convertNest(nest)))
        return signalPassFailure();
  }

  /// Checks that the tiles of `nest` fit the target; returns the allocas.
  FailureOr<SmallVector<memref::AllocaOp>> collectTiles(scf::ForallOp nest) {
    SmallVector<memref::AllocaOp> allocas;
    int64_t bytes = 0;
    for (Operation &op : nest.getBody()->without_terminator()) {
      auto alloca = dyn_cast<memref::AllocaOp>(op);
      if (!alloca)
        continue;
      MemRefType type = alloca.getType();
      Type element = type.getElementType();
      if (!element.isF16() && !element.isBF16() && !element.isF32())
        return nest.emitOpError() << "attn-to-gpu: unexpected tile type "
                                  << type;
      allocas.push_back(alloca);
      bytes += paddedType(type).getNumElements() *
               (type.getElementTypeBitWidth() / 8);
    }
    // Q, K and V tiles carry the input element type: f32 inputs are a CPU
    // (test) form only.
    WalkResult badInput = nest.walk([&](TileLoadOp load) {
      Type element = cast<MemRefType>(load.getTile().getType()).getElementType();
      if (element.isF32() &&
          cast<MemRefType>(load.getSource().getType()).getRank() == 4) {
        load.emitOpError() << "attn-to-gpu: element type f32 is not supported "
                              "on "
                           << chip << " (use f16 or bf16)";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (badInput.wasInterrupted())
      return failure();
    if (bytes > kStaticSharedBytes)
      return nest.emitOpError()
             << "attn-to-gpu: tiles need " << bytes
             << " bytes of shared memory, more than the " << kStaticSharedBytes
             << " static bytes this lowering uses; use smaller "
                "block-q/block-k (e.g. 32) or a smaller head dimension";
    return allocas;
  }

  /// The shared-memory type of a tile: rows padded by kRowPadBytes.
  static MemRefType paddedType(MemRefType tile) {
    SmallVector<int64_t> shape(tile.getShape());
    int64_t elementBytes = tile.getElementTypeBitWidth() / 8;
    if (shape.size() == 2)
      shape.back() += kRowPadBytes / elementBytes;
    auto workgroup = gpu::AddressSpaceAttr::get(
        tile.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
    return MemRefType::get(shape, tile.getElementType(), MemRefLayoutAttrInterface(),
                           workgroup);
  }

  LogicalResult convertNest(scf::ForallOp nest) {
    FailureOr<SmallVector<memref::AllocaOp>> allocas = collectTiles(nest);
    if (failed(allocas))
      return failure();

    ImplicitLocOpBuilder b(nest.getLoc(), nest);
    SmallVector<Value> upper = getValueOrCreateConstantIndexOp(
        b, nest.getLoc(), nest.getMixedUpperBound());
    SmallVector<Type> workgroupTypes;
    for (memref::AllocaOp alloca : *allocas)
      workgroupTypes.push_back(paddedType(alloca.getType()));
    Value one = arith::ConstantIndexOp::create(b, 1);
    Value blockSize = arith::ConstantIndexOp::create(b, threads);
    // forall (batch, head, q-tile) -> grid (x = q-tile, y = head, z = batch).
    auto launch = gpu::LaunchOp::create(b, upper[2], upper[1], upper[0],
                                        blockSize, one, one, nullptr, nullptr,
                                        {}, workgroupTypes);
    Block &body = launch.getBody().front();
    b.setInsertionPointToStart(&body);

    IRMapping mapping;
    gpu::KernelDim3 blockIds = launch.getBlockIds();
    mapping.map(nest.getInductionVar(0), blockIds.z);
    mapping.map(nest.getInductionVar(1), blockIds.y);
    mapping.map(nest.getInductionVar(2), blockIds.x);
    for (auto [alloca, attribution] :
         llvm::zip(*allocas, launch.getWorkgroupAttributions())) {
      MemRefType tileType = alloca.getType();
      Value view = attribution;
      if (tileType.getRank() == 2) {
        SmallVector<OpFoldResult> offsets(2, b.getIndexAttr(0));
        SmallVector<OpFoldResult> sizes{b.getIndexAttr(tileType.getDimSize(0)),
                                        b.getIndexAttr(tileType.getDimSize(1))};
        SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
        view = memref::SubViewOp::create(b, attribution, offsets, sizes,
                                         strides);
      }
      mapping.map(alloca.getResult(), view);
    }
    for (Operation &op : nest.getBody()->without_terminator())
      if (!isa<memref::AllocaOp>(op))
        b.clone(op, mapping);
    gpu::TerminatorOp::create(b);
    nest.erase();

    rematerializeCapturedScalars(launch);

    b.setInsertionPointToStart(&body);
    Value threadId = launch.getThreadIds().x;
    Value numThreads = launch.getBlockSize().x;
    TileLoweringBuilder lowering(b, threadId, numThreads, mma);
    SmallVector<Operation *> tileOps;
    launch.getBody().walk([&](Operation *op) {
      if (op->getName().getStringRef().starts_with("attn.tile."))
        tileOps.push_back(op);
    });
    for (Operation *op : tileOps)
      lowering.lower(op);
    return success();
  }

  /// Clones into the launch body every side-effect-free op whose result the
  /// body uses from outside (recursively through its operands), so that
  /// only memrefs cross the kernel boundary.
  static void rematerializeCapturedScalars(gpu::LaunchOp launch) {
    Region &body = launch.getBody();
    OpBuilder b = OpBuilder::atBlockBegin(&body.front());
    while (true) {
      SetVector<Value> captured;
      getUsedValuesDefinedAbove(body, captured);
      bool changed = false;
      for (Value value : captured) {
        Operation *def = value.getDefiningOp();
        if (isa<MemRefType>(value.getType()) || !def || !isMemoryEffectFree(def))
          continue;
        Operation *clone = b.clone(*def);
        for (auto [original, copy] :
             llvm::zip(def->getResults(), clone->getResults()))
          replaceAllUsesInRegionWith(original, copy, body);
        changed = true;
      }
      if (!changed)
        return;
      b.setInsertionPointToStart(&body.front());
    }
  }
};
} // namespace
