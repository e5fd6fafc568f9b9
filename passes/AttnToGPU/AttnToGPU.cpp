//===- AttnToGPU.cpp - L2 tile loops to gpu.launch kernels ------*- C++ -*-===//
//
// attn-to-gpu turns each scf.forall (batch, head, q-tile) written by
// attn-tile into one gpu.launch and lowers its attn.tile ops for the block:
//
//   1. Launch: grid = (q-tiles, query heads, batch), block = `threads`
//      threads; block x runs q-tile (q-tiles - 1 - x), longest first under
//      a causal band. Every memref.alloca tile of the forall body that stays
//      in memory becomes a buffer in the block's dynamic shared memory (one
//      gpu.dynamic_shared_memory, a memref.view per buffer at a 16-byte
//      aligned offset; the launch carries the total), its rows padded
//      (rowPadBytes) and viewed through a subview with the tile's shape.
//   2. Self-contained body: the extents, constants and index arithmetic the
//      body uses from outside are cloned into it, so that after outlining
//      the kernel's parameters are exactly the memrefs (the bundle ABI).
//   3. Tile ops: each becomes a loop over its elements (or rows, for the
//      row-wise softmax steps) distributed over the block's threads,
//      `for (e = tid; e < count; e += nthreads)`, followed by gpu.barrier so
//      the next op sees the whole tile. Arithmetic is f32; exp and log go
//      through math ops (libdevice on NVVM).
//
// With `mma` (default) and a q-tile of 16, 32 or 64 rows per warp, the kv
// loop is instead lowered as a whole, FlashAttention-2 style
// (emitRegisterFlash, FlashEmitter):
//   - each warp owns 1, 2 or 4 row tiles of 16 query rows; its Q fragments
//     are loaded once, straight from global memory, unless they would take
//     more than kMaxQueryFragmentRegisters registers: then the Q tile is
//     copied to shared memory with the first K/V tile and the fragments of
//     each k-step are read by ldmatrix.x4 inside the loop;
//   - S = scale Q Kᵀ is a set of mma.sync m16n8k16 accumulator fragments,
//     emitted k-step outer so that consecutive mma are independent;
//     thread (g = lane / 4, t = lane % 4) holds rows g and g + 8 and, in
//     each 8-column slice, columns 2t and 2t + 1;
//   - partial tiles are masked on the fragments: per row, the allowed key
//     columns form one range (TileMaskOp::buildColumnBounds) compared as
//     i32 with each fragment's constant column, only in warps where some
//     lane has a disallowed key; a predicate region is evaluated per
//     element;
//   - the softmax works in the log2 domain (log2(e) folded into the scale,
//     the scale folded into the exponent's fma) so that it uses exp2, as
//     ex2.approx.ftz (one MUFU instruction; the non-ftz form adds a
//     compare and two multiplies for subnormal results);
//   - the online softmax runs on the fragments: row max (a balanced tree,
//     then two xor shuffles over the quad); the running max moves only when
//     a warp vote sees some row exceed it by kRescaleThreshold, so acc is
//     rescaled only in those iterations; the running sum stays a per-thread
//     partial until the end;
//   - K fragments come from ldmatrix.x4, V fragments from ldmatrix.x4.trans,
//     each requested one step ahead of its mma; K and V go through 4 (two
//     tiles ahead) or 2 (one tile ahead) shared-memory stages filled by
//     cp.async, with one barrier per iteration (KeyValuePipeline); a tile
//     wholly inside the tensor is copied from
//     one strided view per thread (addresses = base + constants), only the
//     last one with clamped rows and zero fill;
//   - P is rounded to the input type in pairs (cvt.rn.bf16x2.f32) and used
//     directly as the A operand of P V (the accumulator layout of an m16n8
//     pair is the A layout of one m16k16 chunk); acc stays in registers as
//     loop-carried values;
//   - after the loop acc is divided by l and stored from the fragments,
//     LSE = m + log l by one thread per quad.
// Otherwise (mma=false or other tile shapes) each tile op is lowered on its
// own: a loop over its elements distributed over the block's threads, with
// Q Kᵀ and P V on tensor cores where `mma` allows.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>

namespace attn {
#define GEN_PASS_DEF_ATTNTOGPU
#include "attn/Passes/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

/// How far (in log2 units) a row's tile max may exceed the running max m'
/// before the register-resident softmax raises m' and rescales acc: P
/// values stay at most 2^8, well inside f32 and bf16 range.
static constexpr float kRescaleThreshold = 8.0f;

/// Dynamic shared memory one block may use on `chip` (the opt-in maximum:
/// 227 KiB on Hopper, 163 KiB on A100-class Ampere).
static int64_t maxSharedBytes(StringRef chip) {
  return chip == "sm_90a" ? 227 * 1024 : 163 * 1024;
}

/// Byte alignment of every tile buffer inside the block's dynamic shared
/// memory (16-byte cp.async and ldmatrix rows).
static constexpr int64_t kSharedBufferAlignment = 16;

/// Registers per thread the register-resident lowering may spend on Q
/// fragments held for the whole kv loop; above it (e.g. 32 rows per warp at
/// D = 128: 64 registers) Q stays in shared memory and its fragments are
/// read per k-step, which leaves room for S and acc without spills.
static constexpr int64_t kMaxQueryFragmentRegisters = 32;

/// Padding added to each tile row in shared memory: 16 bytes for 16-bit
/// tiles (rows stay 16-byte aligned, and the fragment reads of rows g and
/// columns 2t, g = 0..7, t = 0..3, fall on 32 distinct banks), one word for
/// f32 tiles (row-wise and column-wise walks hit distinct banks).
static int64_t rowPadBytes(int64_t elementBytes) {
  return elementBytes == 2 ? 16 : 4;
}

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

  /// `value` (an index or i32) through an identity the optimizer can
  /// neither see through nor move: a `mov` in inline PTX with side effects.
  /// Two uses:
  ///  - a loop-invariant shared-memory row that many fragment reads of a
  ///    loop body offset by constants: LLVM's LICM would hoist each
  ///    (row + constant) address out of the loop into a register of its
  ///    own, live across the whole body, since the NVPTX backend folds a
  ///    constant into an address only within one block. Computed in the
  ///    body from this copy, the reads share one register and carry their
  ///    constants as immediates;
  ///  - an i32 narrowed from a clamped index: without it LLVM proves the
  ///    clamp redundant for the compares that use it and compares the
  ///    64-bit value (two instructions each on the GPU).
  Value opaque(Value value) {
    bool isIndex = value.getType().isIndex();
    Type type = isIndex ? b.getI64Type() : value.getType();
    StringRef move = type.isInteger(64) ? "mov.b64 $0, $1;" : "mov.b32 $0, $1;";
    StringRef constraints = type.isInteger(64) ? "=l,l" : "=r,r";
    Value operand =
        isIndex ? arith::IndexCastUIOp::create(b, type, value) : value;
    Value copy =
        LLVM::InlineAsmOp::create(
            b, type, ValueRange{operand}, move, constraints,
            /*has_side_effects=*/true, /*is_align_stack=*/false,
            LLVM::TailCallKind::None, LLVM::AsmDialectAttr(), ArrayAttr())
            .getRes();
    return isIndex ? arith::IndexCastUIOp::create(b, b.getIndexType(), copy)
                   : copy;
  }

  /// 2^x by the special-function unit with subnormal results flushed to
  /// zero (`ex2.approx.ftz.f32`). `math.exp2` becomes the non-ftz form,
  /// which ptxas wraps in a compare and two multiplies that rescale
  /// subnormal results; softmax probabilities below 2^-126 of the row max
  /// do not matter, and 2^-inf is still 0.
  Value exp2FlushToZero(Value x) {
    return LLVM::CallIntrinsicOp::create(
               b, b.getF32Type(), b.getStringAttr("llvm.nvvm.ex2.approx.ftz"),
               ValueRange{x})
        .getResult(0);
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

  /// The vectorized form of lowerLoad for 2-D 16-bit tiles whose rows are
  /// a multiple of 8 elements: one 16-byte global load per (row, 8-element
  /// chunk), zero chunks for rows past the end.
  void lowerLoadVectorized(TileLoadOp op) {
    Value tile = op.getTile();
    ArrayRef<int64_t> shape = shapeOf(tile);
    Type element = cast<MemRefType>(tile.getType()).getElementType();
    auto chunkType = VectorType::get({8}, element);
    int64_t chunks = shape[1] / 8;
    Value rows = memref::DimOp::create(b, op.getSource(), 2);
    forEachDistributed(shape[0] * chunks, [&](Value e) {
      auto [r, chunk] = split(e, chunks);
      Value col = arith::MulIOp::create(b, chunk, index(8));
      Value row = arith::AddIOp::create(b, op.getRow(), r);
      Value inRange =
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, rows);
      auto ifOp = scf::IfOp::create(b, TypeRange{chunkType}, inRange,
                                    /*withElseRegion=*/true);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifOp.thenBlock());
        Value loaded = vector::LoadOp::create(
            b, chunkType, op.getSource(),
            ValueRange{op.getBatch(), op.getHead(), row, col},
            /*nontemporal=*/false, llvm::MaybeAlign(16));
        scf::YieldOp::create(b, loaded);
        b.setInsertionPointToStart(ifOp.elseBlock());
        Value zero = arith::ConstantOp::create(
            b, DenseElementsAttr::get(chunkType, b.getZeroAttr(element)));
        scf::YieldOp::create(b, zero);
      }
      vector::StoreOp::create(b, ifOp.getResult(0), tile, ValueRange{r, col},
                              /*nontemporal=*/false, llvm::MaybeAlign(4));
    });
  }

  /// The global row firstRow + r of tile row r, whether it is below the
  /// tensor's row count `rows`, and the tensor indices [b, h, row, rest of
  /// the tile indices] of the element.
  struct TensorRow {
    Value inRange;
    SmallVector<Value> indices;
  };
  TensorRow tensorRow(Value batch, Value head, Value firstRow, Value rows,
                      ArrayRef<Value> tileIndices) {
    Value row = arith::AddIOp::create(b, firstRow, tileIndices[0]);
    TensorRow result;
    result.inRange =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, rows);
    result.indices = {batch, head, row};
    result.indices.append(tileIndices.begin() + 1, tileIndices.end());
    return result;
  }

  /// tile[r, ...] = row0 + r < N ? buffer[b, h, row0 + r, ...] : 0.
  void lowerLoad(TileLoadOp op) {
    Value tile = op.getTile();
    auto tileType = cast<MemRefType>(tile.getType());
    auto sourceType = cast<MemRefType>(op.getSource().getType());
    if (tileType.getRank() == 2 && tileType.getElementTypeBitWidth() == 16 &&
        tileType.getDimSize(1) % 8 == 0 &&
        sourceType.getDimSize(3) == tileType.getDimSize(1))
      return lowerLoadVectorized(op);
    Type elementType = cast<MemRefType>(tile.getType()).getElementType();
    Value rows = memref::DimOp::create(b, op.getSource(), 2);
    forEachDistributed(
        cast<MemRefType>(tile.getType()).getNumElements(), [&](Value e) {
          SmallVector<Value> indices = tileIndices(tile, e);
          TensorRow source = tensorRow(op.getBatch(), op.getHead(), op.getRow(),
                                       rows, indices);
          auto ifOp =
              scf::IfOp::create(b, TypeRange{elementType}, source.inRange,
                                /*withElseRegion=*/true);
          {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(ifOp.thenBlock());
            Value loaded =
                memref::LoadOp::create(b, op.getSource(), source.indices);
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
          TensorRow dest = tensorRow(op.getBatch(), op.getHead(), op.getRow(),
                                     rows, indices);
          auto ifOp =
              scf::IfOp::create(b, dest.inRange, /*withElseRegion=*/false);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(ifOp.thenBlock());
          Value value = memref::LoadOp::create(b, tile, indices);
          memref::StoreOp::create(b, fromF32(value, destType), op.getDest(),
                                  dest.indices);
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
    Value offset = arith::SubIOp::create(b, op.getKeyLen(), op.getQueryLen());
    forEachDistributed(shape[0] * shape[1], [&](Value e) {
      auto [r, c] = split(e, shape[1]);
      Value i = arith::AddIOp::create(b, op.getQueryStart(), r);
      Value j = arith::AddIOp::create(b, op.getKeyStart(), c);
      Value allowed =
          op.buildAllowed(b, b.getLoc(), i, j, op.getKeyLen(), offset);
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

  /// Rounds two f32 values to the 16-bit `type` and packs them as one mma
  /// operand register (low half = `low`): one cvt.rn.{bf16,f16}x2.f32.
  Value roundPair(Value low, Value high, Type type) {
    Value pair = vector::FromElementsOp::create(
        b, VectorType::get({2}, b.getF32Type()), ValueRange{low, high});
    return pairOperand(
        arith::TruncFOp::create(b, VectorType::get({2}, type), pair));
  }

  /// The mma operand register holding a vector<2xT> pair: the pair itself
  /// for f16, its bits as an i32 for bf16.
  Value pairOperand(Value pair) {
    if (cast<VectorType>(pair.getType()).getElementType().isF16())
      return pair;
    Value word = vector::BitCastOp::create(
        b, VectorType::get({1}, b.getI32Type()), pair);
    return vector::ExtractOp::create(b, word, ArrayRef<int64_t>{0});
  }

  /// Loads tile[row, col] and tile[row, col + 1] (col even, rows 4-byte
  /// aligned) as one operand register with one 32-bit load.
  Value loadPair(Value tile, Value row, Value col) {
    Type element = cast<MemRefType>(tile.getType()).getElementType();
    Value pair = vector::LoadOp::create(
        b, VectorType::get({2}, element), tile, ValueRange{row, col},
        /*nontemporal=*/false, llvm::MaybeAlign(4));
    return pairOperand(pair);
  }

  /// ldmatrix.x4: four 8x8 matrices of 16-bit elements, lane l giving the
  /// address of row l % 8 of matrix l / 8 (`row`, `col` are this lane's).
  /// Returns the four operand registers, matrix i in register i; with
  /// `transpose` each matrix is transposed on the way.
  SmallVector<Value> loadMatrices(Value tile, Value row, Value col,
                                  bool transpose) {
    Type element = cast<MemRefType>(tile.getType()).getElementType();
    Value matrices = nvgpu::LdMatrixOp::create(
        b, VectorType::get({4, 2}, element), tile, ValueRange{row, col},
        b.getBoolAttr(transpose), b.getI32IntegerAttr(4));
    SmallVector<Value> registers;
    for (int64_t i = 0; i < 4; ++i)
      registers.push_back(pairOperand(
          vector::ExtractOp::create(b, matrices, ArrayRef<int64_t>{i})));
    return registers;
  }

  /// Lane coordinates: warp index, g = lane / 4, t = lane % 4, 2t.
  struct LaneCoords {
    Value lane, warp, numWarps, g, twoT;
  };
  LaneCoords laneCoords() {
    Value warpSize = index(32);
    Value lane = arith::RemUIOp::create(b, threadId, warpSize);
    LaneCoords coords;
    coords.lane = lane;
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


/// The ops of one FlashAttention nest that the register-resident lowering
/// replaces as a whole.
struct FlashNest {
  TileLoadOp queryLoad;
  scf::ForOp kvLoop;
  TileQKOp qk;
  scf::IfOp maskIf;
  TileMaskOp mask;
  TileOnlineSoftmaxOp softmax;
  TilePVOp pv;
  TileFinalizeOp finalize;
  TileStoreOp storeOutput;
  TileStoreOp storeLse; // may be null
  Value query, key, value, scores, rowMax, rowSum, acc; // tile allocas
};

/// Recognises the nest attn-tile writes: one kv scf.for holding K/V loads,
/// qk, an scf.if around mask, online_softmax and pv, followed by finalize
/// and the stores. Returns std::nullopt for anything else.
std::optional<FlashNest> matchFlashNest(scf::ForallOp nest) {
  FlashNest match;
  for (Operation &op : nest.getBody()->without_terminator()) {
    if (auto loop = dyn_cast<scf::ForOp>(op)) {
      if (match.kvLoop)
        return std::nullopt;
      match.kvLoop = loop;
    } else if (auto load = dyn_cast<TileLoadOp>(op)) {
      if (match.queryLoad)
        return std::nullopt;
      match.queryLoad = load;
    } else if (auto finalize = dyn_cast<TileFinalizeOp>(op)) {
      match.finalize = finalize;
    } else if (auto store = dyn_cast<TileStoreOp>(op)) {
      if (cast<MemRefType>(store.getTile().getType()).getRank() == 2)
        match.storeOutput = store;
      else
        match.storeLse = store;
    }
  }
  if (!match.queryLoad || !match.kvLoop || !match.finalize ||
      !match.storeOutput)
    return std::nullopt;
  SmallVector<TileLoadOp> kvLoads;
  for (Operation &op : match.kvLoop.getBody()->without_terminator()) {
    if (auto load = dyn_cast<TileLoadOp>(op))
      kvLoads.push_back(load);
    else if (auto qk = dyn_cast<TileQKOp>(op))
      match.qk = qk;
    else if (auto ifOp = dyn_cast<scf::IfOp>(op)) {
      Block *then = ifOp.thenBlock();
      if (ifOp.getNumResults() != 0 || ifOp.elseBlock() ||
          then->getOperations().size() != 2 ||
          !isa<TileMaskOp>(then->front()))
        return std::nullopt;
      match.maskIf = ifOp;
      match.mask = cast<TileMaskOp>(then->front());
    } else if (auto softmax = dyn_cast<TileOnlineSoftmaxOp>(op))
      match.softmax = softmax;
    else if (auto pv = dyn_cast<TilePVOp>(op))
      match.pv = pv;
    else if (!isa<arith::ArithDialect>(op.getDialect()))
      return std::nullopt;
  }
  if (kvLoads.size() != 2 || !match.qk || !match.maskIf || !match.softmax ||
      !match.pv)
    return std::nullopt;
  match.query = match.qk.getQuery();
  match.key = match.qk.getKey();
  match.scores = match.qk.getScores();
  match.value = match.pv.getValue();
  match.rowMax = match.softmax.getRowMax();
  match.rowSum = match.softmax.getRowSum();
  match.acc = match.softmax.getAcc();
  if (match.queryLoad.getTile() != match.query ||
      match.mask.getScores() != match.scores ||
      match.pv.getProbs() != match.scores || match.pv.getAcc() != match.acc ||
      match.storeOutput.getTile() != match.acc ||
      (match.storeLse && match.storeLse.getTile() != match.rowMax))
    return std::nullopt;
  return match;
}

/// Emits FlashAttention-2 with S, P, the row statistics and the output
/// accumulator in registers (see the file comment). Each warp owns
/// `rowTiles` consecutive 16-row tiles of the q-tile; in row tile r,
/// thread (g = lane / 4, t = lane % 4) holds rows 16r + g and 16r + g + 8
/// and, in each 8-column slice, columns 2t and 2t + 1. Every K and V
/// fragment read from shared memory feeds one mma per row tile.
class FlashEmitter {
public:
  FlashEmitter(ImplicitLocOpBuilder &b, TileLoweringBuilder &tiles,
               int64_t headDim, int64_t valueDim, int64_t blockK,
               int64_t rowTiles, bool isBF16, Type elementType)
      : b(b), tiles(tiles), headDim(headDim),
        valueDim(valueDim), blockK(blockK), rowTiles(rowTiles),
        isBF16(isBF16), elementType(elementType) {}

  /// Computes the lane coordinates and, unless `sharedQueryTile` (the Q
  /// tile in shared memory, filled by the caller) is given, loads this
  /// warp's Q fragments straight from global memory (they are read once
  /// per block): rows q0 + 16 (rowTiles warp + r) + g and + 8 of
  /// query[batch, head], zero past the end.
  void loadQueryFragments(Value query, Value batch, Value head, Value q0,
                          Value sharedQueryTile) {
    TileLoweringBuilder::LaneCoords coords = tiles.laneCoords();
    Value lane = coords.lane;
    g = coords.g;
    twoT = coords.twoT;
    isQuadLeader = arith::CmpIOp::create(
        b, arith::CmpIPredicate::eq,
        arith::RemUIOp::create(b, lane, tiles.index(4)), tiles.index(0));
    warpRowBase =
        arith::MulIOp::create(b, coords.warp, tiles.index(16 * rowTiles));
    Value warpRow0 = arith::AddIOp::create(b, warpRowBase, g);
    for (int64_t r = 0; r < rowTiles; ++r)
      for (int64_t half = 0; half < 2; ++half)
        rows.push_back(arith::AddIOp::create(
            b, warpRow0, tiles.index(16 * r + 8 * half)));
    // ldmatrix.x4: lane l gives row l % 8 of matrix l / 8. Matrix bit 0
    // and bit 1 select +8 rows or +8 columns, depending on the operand.
    Value laneRow = arith::RemUIOp::create(b, lane, tiles.index(8));
    Value laneMatrix = arith::DivUIOp::create(b, lane, tiles.index(8));
    Value bit0Offset = arith::MulIOp::create(
        b, arith::RemUIOp::create(b, laneMatrix, tiles.index(2)),
        tiles.index(8));
    Value bit1Offset = arith::MulIOp::create(
        b, arith::DivUIOp::create(b, laneMatrix, tiles.index(2)),
        tiles.index(8));
    keyLaneRow = arith::AddIOp::create(b, laneRow, bit1Offset);
    keyLaneCol = bit0Offset;
    valueLaneRow = arith::AddIOp::create(b, laneRow, bit0Offset);
    valueLaneCol = bit1Offset;
    queryTile = sharedQueryTile;
    if (queryTile)
      return;
    Value queryLen = memref::DimOp::create(b, query, 2);
    Value lastRow = arith::SubIOp::create(b, queryLen, tiles.index(1));
    Type pairType = VectorType::get({2}, elementType);
    Value zeroPair = arith::ConstantOp::create(
        b, DenseElementsAttr::get(cast<ShapedType>(pairType),
                                  b.getZeroAttr(elementType)));
    for (int64_t r = 0; r < rowTiles; ++r) {
      SmallVector<std::pair<Value, Value>, 2> clamped; // (row, in range)
      for (int64_t half = 0; half < 2; ++half) {
        Value absolute = arith::AddIOp::create(b, q0, rowOf(r, half));
        clamped.push_back(
            {arith::MinUIOp::create(b, absolute, lastRow),
             arith::CmpIOp::create(b, arith::CmpIPredicate::ult, absolute,
                                   queryLen)});
      }
      auto loadPair = [&](int64_t half, Value col) -> Value {
        auto [row, inRange] = clamped[half];
        Value pair = vector::LoadOp::create(
            b, pairType, query, ValueRange{batch, head, row, col},
            /*nontemporal=*/false, llvm::MaybeAlign(4));
        pair = arith::SelectOp::create(b, inRange, pair, zeroPair);
        return tiles.pairOperand(pair);
      };
      SmallVector<SmallVector<Value>> fragments;
      for (int64_t k0 = 0; k0 < headDim; k0 += 16) {
        Value col = arith::AddIOp::create(b, twoT, tiles.index(k0));
        Value col8 = arith::AddIOp::create(b, col, tiles.index(8));
        fragments.push_back({loadPair(0, col), loadPair(1, col),
                             loadPair(0, col8), loadPair(1, col8)});
      }
      queryFragments.push_back(std::move(fragments));
    }
  }

  /// Loop-carried state, per row tile r: m (2) and l (2) at 4r, and acc
  /// (valueDim / 8 slices of 4) at accIndex(r, 0).
  SmallVector<Value> initialState() {
    SmallVector<Value> state;
    for (int64_t r = 0; r < rowTiles; ++r)
      state.append({tiles.f32(-std::numeric_limits<float>::infinity()),
                    tiles.f32(-std::numeric_limits<float>::infinity()),
                    tiles.f32(0.0f), tiles.f32(0.0f)});
    state.append(rowTiles * valueDim / 2, tiles.f32(0.0f));
    return state;
  }

  /// One kv tile: S = scale Q Kᵀ, mask when `partial`, online softmax,
  /// acc += P V. Returns the new state.
  SmallVector<Value> step(ValueRange state, Value keyTile, Value valueTile,
                          FloatAttr scale, Value partial, TileMaskOp mask,
                          Value q0, Value k0) {
    // S fragments per row tile: blockK / 8 slices of 4 values. The softmax
    // works in the log2 domain, s' = scale · log2(e) · s, so that
    // exp(s - m) = exp2(s' - m'). With a positive scale the fragments stay
    // unscaled (masking with -inf and the row max commute with the scaling)
    // and the scale is folded into the exponent's fma.
    double log2Scale = scale.getValueAsDouble() * M_LOG2E;
    bool foldScale = log2Scale > 0;
    Value scaleValue =
        arith::ConstantOp::create(b, b.getF32FloatAttr(log2Scale));
    SmallVector<SmallVector<Value>> scores(rowTiles);
    // k-step outer, key slices inner: the blockK / 8 · rowTiles
    // accumulators of a k-step are independent mmas, and the K fragments of
    // step kStep + 1 are requested (ldmatrix) before the mmas of step kStep
    // so that their shared-memory latency overlaps tensor work. One
    // ldmatrix.x4 covers two key slices of one k-step: matrices (keys
    // n0, n0 + 8) x (dims 16 kStep, 16 kStep + 8) are b0, b1 of slice n0
    // and b0, b1 of slice n0 + 8.
    // With Q in shared memory its A fragments of the step (one ldmatrix.x4
    // per row tile: rows +0/+8 x dims +0/+8) come along with K's.
    int64_t kSteps = headDim / 16, slices = blockK / 8;
    struct StepFragments {
      SmallVector<SmallVector<Value>> key, query;
    };
    // This lane's row of the Q tile, through an opaque copy: the kSteps ·
    // rowTiles Q fragment reads of the body then share one register and
    // differ by constants (see TileLoweringBuilder::opaque).
    Value queryRow;
    if (queryTile)
      queryRow = tiles.opaque(
          arith::AddIOp::create(b, warpRowBase, this->valueLaneRow));
    auto loadKeyStep = [&](int64_t kStep) {
      StepFragments fragments;
      Value col = arith::AddIOp::create(b, keyLaneCol, tiles.index(16 * kStep));
      for (int64_t n0 = 0; n0 < blockK; n0 += 16)
        fragments.key.push_back(tiles.loadMatrices(
            keyTile, arith::AddIOp::create(b, keyLaneRow, tiles.index(n0)),
            col, /*transpose=*/false));
      for (int64_t r = 0; r < rowTiles; ++r)
        fragments.query.push_back(
            queryTile
                ? tiles.loadMatrices(
                      queryTile,
                      arith::AddIOp::create(b, queryRow, tiles.index(16 * r)),
                      arith::AddIOp::create(b, valueLaneCol,
                                            tiles.index(16 * kStep)),
                      /*transpose=*/false)
                : queryFragments[r][kStep]);
      return fragments;
    };
    SmallVector<SmallVector<SmallVector<Value>>> c(
        rowTiles, SmallVector<SmallVector<Value>>(
                      slices, SmallVector<Value>(4, tiles.f32(0.0f))));
    StepFragments next = loadKeyStep(0);
    for (int64_t kStep = 0; kStep < kSteps; ++kStep) {
      StepFragments current = std::move(next);
      if (kStep + 1 < kSteps)
        next = loadKeyStep(kStep + 1);
      for (int64_t slice = 0; slice < slices; ++slice) {
        ArrayRef<Value> pair = current.key[slice / 2];
        SmallVector<Value, 2> fragment{pair[2 * (slice % 2)],
                                       pair[2 * (slice % 2) + 1]};
        for (int64_t r = 0; r < rowTiles; ++r)
          c[r][slice] = tiles.mma(current.query[r], fragment, c[r][slice],
                                  isBF16);
      }
    }
    for (int64_t r = 0; r < rowTiles; ++r)
      for (ArrayRef<Value> slice : c[r])
        for (Value v : slice)
          scores[r].push_back(
              foldScale ? v : arith::MulFOp::create(b, v, scaleValue));

    // Mask partial tiles.
    SmallVector<Value> flat;
    for (ArrayRef<Value> rowScores : scores)
      flat.append(rowScores.begin(), rowScores.end());
    // Within a partial tile a warp whose rows all allow every key of the
    // tile (below the causal diagonal) keeps its scores; without a
    // predicate the bounds alone tell.
    SmallVector<Value> maybeMasked = updateIf(partial, flat, [&] {
      SmallVector<RowBounds> bounds = rowBounds(mask, q0, k0);
      auto masked = [&] {
        SmallVector<Value> result;
        for (int64_t r = 0; r < rowTiles; ++r)
          llvm::append_range(result,
                             maskScores(scores[r], r, mask,
                                        {bounds[2 * r], bounds[2 * r + 1]}));
        return result;
      };
      if (!mask.getPredicate().empty())
        return masked();
      Value lastColumn =
          arith::ConstantIntOp::create(b, b.getI32Type(), blockK - 7);
      Value zero = arith::ConstantIntOp::create(b, b.getI32Type(), 0);
      Value anyDisallowed;
      for (const RowBounds &row : bounds) {
        Value some = arith::CmpIOp::create(b, arith::CmpIPredicate::slt,
                                           row.last, lastColumn);
        if (row.first)
          some = arith::OrIOp::create(
              b, some,
              arith::CmpIOp::create(b, arith::CmpIPredicate::sgt, row.first,
                                    zero));
        anyDisallowed =
            anyDisallowed ? Value(arith::OrIOp::create(b, anyDisallowed, some))
                          : some;
      }
      return updateIf(warpVote(anyDisallowed, NVVM::VoteSyncKind::any), flat,
                      masked);
    });
    int64_t perRowTile = blockK / 2;
    for (int64_t r = 0; r < rowTiles; ++r)
      scores[r].assign(maybeMasked.begin() + r * perRowTile,
                       maybeMasked.begin() + (r + 1) * perRowTile);

    // Online softmax on the fragments (rows g and g + 8 of each row tile),
    // with the running max raised lazily: a row's max m' moves only when
    // the warp votes that some row's tile max exceeds its m' by more than
    // kRescaleThreshold; otherwise m' stays, P = exp2(s' - m') is at most
    // 2^kRescaleThreshold, and the rescaling of acc (valueDim / 2 products
    // per row tile) is skipped. O = acc / l and LSE = m' ln 2 + ln l hold
    // for any m' used consistently, so the result is unchanged.
    Value negInf = tiles.f32(-std::numeric_limits<float>::infinity());
    SmallVector<Value> tileMax(2 * rowTiles), oldMax(2 * rowTiles);
    Value anyRowRises;
    for (int64_t r = 0; r < rowTiles; ++r)
      for (int64_t half = 0; half < 2; ++half) {
        SmallVector<Value> rowScores;
        for (size_t i = 0; i < scores[r].size(); i += 4)
          for (int64_t j = 0; j < 2; ++j)
            rowScores.push_back(scores[r][i + 2 * half + j]);
        Value rowMax = quadReduce(treeReduce(rowScores, /*isMax=*/true),
                                  /*isMax=*/true);
        if (foldScale)
          rowMax = arith::MulFOp::create(b, rowMax, scaleValue);
        int64_t row = 2 * r + half;
        tileMax[row] = rowMax;
        oldMax[row] = state[4 * r + half];
        Value rises = arith::CmpFOp::create(
            b, arith::CmpFPredicate::OGT, rowMax,
            arith::AddFOp::create(b, oldMax[row],
                                  tiles.f32(kRescaleThreshold)));
        anyRowRises = anyRowRises ? Value(arith::OrIOp::create(b, anyRowRises,
                                                               rises))
                                  : rises;
      }
    Value rescale = warpVote(anyRowRises, NVVM::VoteSyncKind::any);
    SmallVector<Value> newState(state.begin(), state.end());
    SmallVector<Value> alpha(2 * rowTiles);
    for (int64_t r = 0; r < rowTiles; ++r)
      for (int64_t half = 0; half < 2; ++half) {
        int64_t row = 2 * r + half;
        Value raised = arith::MaxNumFOp::create(b, oldMax[row], tileMax[row]);
        Value newMax =
            arith::SelectOp::create(b, rescale, raised, oldMax[row]);
        Value empty = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ,
                                            newMax, negInf);
        Value shift =
            arith::SelectOp::create(b, empty, tiles.f32(0.0f), newMax);
        alpha[row] =
            arith::SelectOp::create(b, empty, tiles.f32(1.0f),
                                    tiles.exp2FlushToZero(arith::SubFOp::create(
                                        b, oldMax[row], shift)));
        Value negShift = arith::NegFOp::create(b, shift);
        SmallVector<Value> probs;
        for (size_t i = 0; i < scores[r].size(); i += 4)
          for (int64_t j = 0; j < 2; ++j) {
            Value &s = scores[r][i + 2 * half + j];
            Value exponent =
                foldScale
                    ? Value(math::FmaOp::create(b, s, scaleValue, negShift))
                    : Value(arith::AddFOp::create(b, s, negShift));
            s = tiles.exp2FlushToZero(exponent);
            probs.push_back(s);
          }
        Value partialSum = treeReduce(probs, /*isMax=*/false);
        // l stays a per-thread partial sum; the quad is summed at the end.
        newState[4 * r + half] = newMax;
        newState[4 * r + 2 + half] = math::FmaOp::create(
            b, alpha[row], state[4 * r + 2 + half], partialSum);
      }
    // acc *= alpha, only in the iterations where some row's max moved.
    int64_t accBegin = accIndex(0, 0);
    SmallVector<Value> acc(newState.begin() + accBegin, newState.end());
    SmallVector<Value> rescaled = updateIf(rescale, acc, [&] {
      SmallVector<Value> scaled;
      for (int64_t r = 0; r < rowTiles; ++r)
        for (int64_t i = 0; i < valueDim / 2; ++i)
          scaled.push_back(arith::MulFOp::create(
              b, acc[r * (valueDim / 2) + i], alpha[2 * r + (i % 4) / 2]));
      return scaled;
    });
    std::copy(rescaled.begin(), rescaled.end(), newState.begin() + accBegin);

    // acc += P V: P's accumulator layout is the A-operand layout.
    SmallVector<SmallVector<SmallVector<Value>>> pFragments(rowTiles);
    for (int64_t r = 0; r < rowTiles; ++r)
      for (int64_t kc = 0; kc < blockK / 16; ++kc) {
        ArrayRef<Value> p(scores[r].data() + 8 * kc, 8);
        pFragments[r].push_back({tiles.roundPair(p[0], p[1], elementType),
                                 tiles.roundPair(p[2], p[3], elementType),
                                 tiles.roundPair(p[4], p[5], elementType),
                                 tiles.roundPair(p[6], p[7], elementType)});
      }
    // acc slice e of every row tile += P(kc) · valueFragment.
    auto accumulate = [&](int64_t kc, int64_t e,
                          ArrayRef<Value> valueFragment) {
      for (int64_t r = 0; r < rowTiles; ++r) {
        int64_t index = accIndex(r, e);
        ArrayRef<Value> acc(newState.data() + index, 4);
        SmallVector<Value> updated =
            tiles.mma(pFragments[r][kc], valueFragment, acc, isBF16);
        std::copy(updated.begin(), updated.end(), newState.begin() + index);
      }
    };
    if (valueDim % 16 == 0) {
      // One ldmatrix.x4.trans covers two value slices: matrices (keys
      // 16kc, 16kc+8) x (values 16ep, 16ep+8), transposed, are b0, b1 of
      // slice 2ep and of slice 2ep + 1. Blocks are walked kc-major, each
      // requested one block ahead of its mmas.
      int64_t valuePairs = valueDim / 16;
      auto loadValueBlock = [&](int64_t block) {
        int64_t kc = block / valuePairs, ep = block % valuePairs;
        return tiles.loadMatrices(
            valueTile,
            arith::AddIOp::create(b, valueLaneRow, tiles.index(16 * kc)),
            arith::AddIOp::create(b, valueLaneCol, tiles.index(16 * ep)),
            /*transpose=*/true);
      };
      int64_t blocks = blockK / 16 * valuePairs;
      SmallVector<Value> next = loadValueBlock(0);
      for (int64_t block = 0; block < blocks; ++block) {
        SmallVector<Value> v = std::move(next);
        if (block + 1 < blocks)
          next = loadValueBlock(block + 1);
        int64_t kc = block / valuePairs, ep = block % valuePairs;
        accumulate(kc, 2 * ep, {v[0], v[1]});
        accumulate(kc, 2 * ep + 1, {v[2], v[3]});
      }
      return newState;
    }
    for (int64_t kc = 0; kc < blockK / 16; ++kc) {
      Value k = arith::AddIOp::create(b, twoT, tiles.index(16 * kc));
      Value k1 = arith::AddIOp::create(b, k, tiles.index(1));
      Value k8 = arith::AddIOp::create(b, k, tiles.index(8));
      Value k9 = arith::AddIOp::create(b, k, tiles.index(9));
      for (int64_t e = 0; e < valueDim / 8; ++e) {
        Value col = arith::AddIOp::create(b, g, tiles.index(8 * e));
        auto load = [&](Value row) {
          return memref::LoadOp::create(b, valueTile, ValueRange{row, col});
        };
        accumulate(kc, e,
                   {tiles.packPair(load(k), load(k1)),
                    tiles.packPair(load(k8), load(k9))});
      }
    }
    return newState;
  }

  /// Normalises and writes O (and LSE) rows that exist.
  void finish(ValueRange state, Value output, Value lse, Value batch,
              Value head, Value q0) {
    Value queryLen = memref::DimOp::create(b, output, 2);
    Type outType = cast<MemRefType>(output.getType()).getElementType();
    for (int64_t r = 0; r < rowTiles; ++r)
      for (int64_t half = 0; half < 2; ++half) {
        Value sum = quadReduce(state[4 * r + 2 + half], /*isMax=*/false);
        Value empty = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ,
                                            sum, tiles.f32(0.0f));
        Value inverse = arith::SelectOp::create(
            b, empty, tiles.f32(0.0f),
            arith::DivFOp::create(b, tiles.f32(1.0f), sum));
        Value row = arith::AddIOp::create(b, q0, rowOf(r, half));
        Value inRange =
            arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, queryLen);
        auto ifOp = scf::IfOp::create(b, inRange, /*withElseRegion=*/false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifOp.thenBlock());
        for (int64_t e = 0; e < valueDim / 8; ++e) {
          Value col = arith::AddIOp::create(b, twoT, tiles.index(8 * e));
          SmallVector<Value, 2> pair;
          for (int64_t j = 0; j < 2; ++j)
            pair.push_back(tiles.fromF32(
                arith::MulFOp::create(
                    b, state[accIndex(r, e) + 2 * half + j], inverse),
                outType));
          Value vector = vector::FromElementsOp::create(
              b, VectorType::get({2}, outType), pair);
          vector::StoreOp::create(
              b, vector, output, ValueRange{batch, head, row, col},
              /*nontemporal=*/false,
              llvm::MaybeAlign(2 * outType.getIntOrFloatBitWidth() / 8));
        }
        if (lse) {
          // m is in the log2 domain: LSE = m · ln 2 + ln l.
          Value value = arith::SelectOp::create(
              b, empty, tiles.f32(-std::numeric_limits<float>::infinity()),
              math::FmaOp::create(b, state[4 * r + half], tiles.f32(M_LN2),
                                  math::LogOp::create(b, sum)));
          auto leader = scf::IfOp::create(b, isQuadLeader, false);
          b.setInsertionPointToStart(leader.thenBlock());
          memref::StoreOp::create(b, value, lse, ValueRange{batch, head, row});
        }
      }
  }

private:
  /// The q-tile row of this thread in row tile r, half 0 (g) or 1 (g + 8).
  Value rowOf(int64_t r, int64_t half) const { return rows[2 * r + half]; }

  /// Index in the state of acc slice e (4 values) of row tile r.
  int64_t accIndex(int64_t r, int64_t e) const {
    return 4 * rowTiles + r * (valueDim / 2) + 4 * e;
  }

  /// `update()` (the same number of f32 values) where `condition` holds,
  /// `values` unchanged otherwise: an scf.if whose then-branch computes the
  /// update, so that its work runs only when needed.
  SmallVector<Value> updateIf(Value condition, ArrayRef<Value> values,
                              function_ref<SmallVector<Value>()> update) {
    auto ifOp = scf::IfOp::create(
        b, SmallVector<Type>(values.size(), b.getF32Type()), condition,
        /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    scf::YieldOp::create(b, update());
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, values);
    return SmallVector<Value>(ifOp.getResults());
  }

  /// The max or sum of `values` as a balanced tree (depth log2 n instead of
  /// a chain of n dependent operations).
  Value treeReduce(ArrayRef<Value> values, bool isMax) {
    SmallVector<Value> level(values);
    while (level.size() > 1) {
      SmallVector<Value> next;
      for (size_t i = 0; i + 1 < level.size(); i += 2)
        next.push_back(
            isMax ? Value(arith::MaxNumFOp::create(b, level[i], level[i + 1]))
                  : Value(arith::AddFOp::create(b, level[i], level[i + 1])));
      if (level.size() % 2)
        next.push_back(level.back());
      level = std::move(next);
    }
    return level.front();
  }

  /// Reduces `value` over the 4 threads of a quad (lanes that share g).
  Value quadReduce(Value value, bool isMax) {
    for (int32_t offset : {1, 2}) {
      Value other = gpu::ShuffleOp::create(b, value, offset, 32,
                                           gpu::ShuffleMode::XOR)
                        .getShuffleResult();
      value = isMax ? Value(arith::MaxNumFOp::create(b, value, other))
                    : Value(arith::AddFOp::create(b, value, other));
    }
    return value;
  }

  /// The key columns of each of this thread's rows (rowOf(r, half) at
  /// index 2r + half) that the length and band conditions allow: this
  /// thread's keys are k0 + 2t + c for the constants c = n0 + j, and they
  /// pass iff first <= c <= last (no `first` without a lower band bound).
  /// The bounds are clamped to [-1, blockK] and narrowed to i32, so that
  /// each element costs a compare with a constant instead of 64-bit index
  /// arithmetic.
  struct RowBounds {
    Value query, keyBase, first, last;
  };
  SmallVector<RowBounds> rowBounds(TileMaskOp mask, Value q0, Value k0) {
    Value keyLen = mapped(mask.getKeyLen());
    Value offset =
        arith::SubIOp::create(b, keyLen, mapped(mask.getQueryLen()));
    Value keyBase = arith::AddIOp::create(b, k0, twoT);
    auto clampToI32 = [&](Value column) -> Value {
      if (!column)
        return {};
      Value clamped = arith::MaxSIOp::create(
          b, arith::MinSIOp::create(b, column, tiles.index(blockK)),
          tiles.index(-1));
      return tiles.opaque(
          arith::IndexCastOp::create(b, b.getI32Type(), clamped));
    };
    SmallVector<RowBounds> result;
    for (Value row : rows) {
      Value query = arith::AddIOp::create(b, q0, row);
      TileMaskOp::ColumnBounds bounds =
          mask.buildColumnBounds(b, b.getLoc(), query, keyBase, keyLen, offset);
      result.push_back(
          {query, keyBase, clampToI32(bounds.first), clampToI32(bounds.last)});
    }
    return result;
  }

  /// The vote of this warp's lanes on `predicate`.
  Value warpVote(Value predicate, NVVM::VoteSyncKind kind) {
    return NVVM::VoteSyncOp::create(
        b, b.getI1Type(), arith::ConstantIntOp::create(b, b.getI32Type(), -1),
        predicate, kind);
  }

  /// The masked copy of row tile r's S fragments, given the bounds of its
  /// two rows: -inf where the key does not exist, lies outside the band or
  /// fails the predicate.
  SmallVector<Value> maskScores(ArrayRef<Value> scores, int64_t r,
                                TileMaskOp mask, ArrayRef<RowBounds> rows) {
    SmallVector<Value> result;
    for (size_t i = 0; i < scores.size(); ++i) {
      int64_t column = 8 * (i / 4) + i % 2, half = (i % 4) / 2;
      const RowBounds &row = rows[half];
      Value constant = arith::ConstantIntOp::create(b, b.getI32Type(), column);
      Value allowed = arith::CmpIOp::create(b, arith::CmpIPredicate::sle,
                                            constant, row.last);
      if (row.first)
        allowed = arith::AndIOp::create(
            b, allowed,
            arith::CmpIOp::create(b, arith::CmpIPredicate::sge, constant,
                                  row.first));
      if (!mask.getPredicate().empty()) {
        Value key = arith::AddIOp::create(b, row.keyBase, tiles.index(column));
        allowed = arith::AndIOp::create(
            b, allowed,
            mask.buildPredicate(b, b.getLoc(), row.query, key, valueMapping));
      }
      result.push_back(arith::SelectOp::create(
          b, allowed, scores[i],
          tiles.f32(-std::numeric_limits<float>::infinity())));
    }
    return result;
  }

  Value mapped(Value value) { return valueMapping.lookupOrDefault(value); }

public:
  IRMapping valueMapping; // nest values -> launch body values

private:
  ImplicitLocOpBuilder &b;
  TileLoweringBuilder &tiles;
  int64_t headDim, valueDim, blockK, rowTiles;
  bool isBF16;
  Type elementType;
  Value g, twoT, isQuadLeader;
  /// The first q-tile row of this warp (16 rowTiles warp).
  Value warpRowBase;
  /// The Q tile in shared memory, or null when the Q fragments are
  /// registers (queryFragments).
  Value queryTile;
  /// This thread's q-tile rows, rowOf(r, half) = rows[2r + half].
  SmallVector<Value> rows;
  /// ldmatrix.x4 addressing of this lane: key row keyLaneRow and dim
  /// column keyLaneCol of a (16 keys x 16 dims) K block; row valueLaneRow
  /// and column valueLaneCol of a 16 x 16 block of V (transposed) or of Q
  /// (an A operand: rows +8 in matrices 1 and 3, columns +8 in 2 and 3).
  Value keyLaneRow, keyLaneCol, valueLaneRow, valueLaneCol;
  /// queryFragments[r][kStep]: the A operand of row tile r, dims 16 kStep.
  SmallVector<SmallVector<SmallVector<Value>>> queryFragments;
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

  /// Checks that the tiles of `nest` fit the target; returns the allocas
  /// that become shared memory (all but `registerTiles`).
  FailureOr<SmallVector<memref::AllocaOp>>
  collectTiles(scf::ForallOp nest, ArrayRef<Value> registerTiles) {
    SmallVector<memref::AllocaOp> allocas;
    int64_t bytes = 0;
    for (Operation &op : nest.getBody()->without_terminator()) {
      auto alloca = dyn_cast<memref::AllocaOp>(op);
      if (!alloca || llvm::is_contained(registerTiles, alloca.getResult()))
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
    if (bytes > maxSharedBytes(chip))
      return nest.emitOpError()
             << "attn-to-gpu: tiles need " << bytes
             << " bytes of shared memory, more than the "
             << maxSharedBytes(chip) << " bytes a block has on " << chip
             << "; use smaller block-q/block-k (e.g. 32) or a smaller head "
                "dimension";
    return allocas;
  }

  /// The shared-memory type of a tile: rows padded by kRowPadBytes.
  static MemRefType paddedType(MemRefType tile) {
    SmallVector<int64_t> shape(tile.getShape());
    int64_t elementBytes = tile.getElementTypeBitWidth() / 8;
    if (shape.size() == 2)
      shape.back() += rowPadBytes(elementBytes) / elementBytes;
    auto workgroup = gpu::AddressSpaceAttr::get(
        tile.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
    return MemRefType::get(shape, tile.getElementType(), MemRefLayoutAttrInterface(),
                           workgroup);
  }

  /// Whether the register-resident lowering applies to `flash`: 16-bit
  /// inputs, head dims that fit m16n8k16, 16, 32 or 64 query rows per warp
  /// (1, 2 or 4 row tiles), and key tiles in multiples of 16.
  bool registerLoweringApplies(FlashNest flash) {
    auto q = cast<MemRefType>(flash.query.getType());
    auto v = cast<MemRefType>(flash.value.getType());
    auto k = cast<MemRefType>(flash.key.getType());
    Type element = q.getElementType();
    int64_t warpRows = q.getDimSize(0) / (threads / 32);
    return (element.isBF16() || element.isF16()) &&
           q.getDimSize(0) % (threads / 32) == 0 &&
           llvm::is_contained({16, 32, 64}, warpRows) &&
           q.getDimSize(1) % 16 == 0 && v.getDimSize(1) % 8 == 0 &&
           k.getDimSize(0) % 16 == 0;
  }

  /// Whether `tile` can be copied by cp.async: every thread copies whole
  /// 16-byte chunks, the same number of them.
  bool copiesEvenly(MemRefType tile) {
    return tile.getDimSize(1) % 8 == 0 &&
           (tile.getDimSize(0) * tile.getDimSize(1) / 8) % threads == 0;
  }

  /// Whether the Q fragments of `flash` would take more than
  /// kMaxQueryFragmentRegisters registers per thread, so that the Q tile
  /// should stay in shared memory (when it can be copied there).
  bool queryPrefersShared(FlashNest flash) {
    auto q = cast<MemRefType>(flash.query.getType());
    int64_t warpRows = q.getDimSize(0) / (threads / 32);
    // Each 16x16 A fragment is 4 registers per lane.
    int64_t registers = warpRows / 16 * q.getDimSize(1) / 16 * 4;
    return registers > kMaxQueryFragmentRegisters && copiesEvenly(q);
  }

  /// How the K/V tiles of a fused kv loop are pipelined through shared
  /// memory: `stages` buffers per tile, tile kt in stage kt mod stages;
  /// iteration kt issues the cp.async group of tile kt + ahead and waits
  /// for tile kt's group, around the iteration's one barrier.
  ///  - issued after the barrier, the copy may overwrite the stage of
  ///    iteration kt - 1 (every warp is past it), so stages >= ahead + 1;
  ///  - issued before the wait, it is in flight during the wait, but some
  ///    warp may still compute on iteration kt - 1, so stages >= ahead + 2.
  struct KeyValuePipeline {
    int64_t stages = 0, ahead = 0;
    bool issueBeforeWait = false;
  };

  /// The pipeline of `flash` (stages = 0 when its tiles do not copy evenly
  /// or do not fit): 4 stages, 2 tiles ahead, issued before the wait, when
  /// they fit half of the block's shared memory (two blocks of
  /// 255-register threads still share an SM; D = 64); otherwise 2 stages,
  /// 1 tile ahead, issued after the barrier, when they fit with the Q tile
  /// (if Q prefers shared memory). At D = 64 on an H100 the first is
  /// 3-9% faster than the second, and faster than 3 stages either way
  /// (bench/NOTES.md, v11).
  KeyValuePipeline keyValuePipeline(FlashNest flash) {
    auto q = cast<MemRefType>(flash.query.getType());
    auto k = cast<MemRefType>(flash.key.getType());
    auto v = cast<MemRefType>(flash.value.getType());
    if (!copiesEvenly(k) || !copiesEvenly(v))
      return {};
    int64_t elementBytes = k.getElementTypeBitWidth() / 8;
    auto bytes = [&](int64_t stages) {
      int64_t elements = stages * (paddedType(k).getNumElements() +
                                   paddedType(v).getNumElements());
      if (queryPrefersShared(flash))
        elements += paddedType(q).getNumElements();
      return elements * elementBytes;
    };
    if (bytes(4) <= maxSharedBytes(chip) / 2)
      return {/*stages=*/4, /*ahead=*/2, /*issueBeforeWait=*/true};
    if (bytes(2) <= maxSharedBytes(chip))
      return {/*stages=*/2, /*ahead=*/1, /*issueBeforeWait=*/false};
    return {};
  }

  /// Issues the cp.async copies of rows [firstRow, firstRow + rows) of
  /// source[batch, head] into rows [0, rows) of `buffer` (of stage
  /// `stage` of a staged 3-D buffer when `stage` is given), unless
  /// `enabled` (when given) is false. Thread `threadId` copies the 16-byte
  /// chunks threadId + i · threads. A tile that lies wholly inside the source
  /// (every tile but the last) is copied without per-chunk checks, so that
  /// each copy's addresses are one per-tile base plus a constant; rows of
  /// the last tile past the source's end read no bytes and are
  /// zero-filled, from a source row clamped into the tensor.
  static void issueTileCopy(ImplicitLocOpBuilder &b, TileLoweringBuilder &t,
                            Value threadId, int64_t threads, Value source,
                            Value batch, Value head, Value firstRow,
                            Value buffer, Value stage, int64_t rows,
                            int64_t cols, Value enabled) {
    int64_t chunks = cols / 8;
    // (row, column) of each chunk this thread copies. When the threads
    // cover whole rows, every chunk of a thread has the same column and
    // rows `threads / chunks` apart.
    SmallVector<std::pair<Value, Value>> chunkCoords;
    int64_t copies = rows * chunks / threads;
    bool wholeRows = threads % chunks == 0;
    Value row0, col0;
    if (wholeRows) {
      auto [row, chunk] = t.split(threadId, chunks);
      row0 = row;
      col0 = arith::MulIOp::create(b, chunk, t.index(8));
      for (int64_t i = 0; i < copies; ++i)
        chunkCoords.push_back(
            {arith::AddIOp::create(b, row0, t.index(i * (threads / chunks))),
             col0});
    } else {
      for (int64_t i = 0; i < copies; ++i) {
        auto [row, chunk] = t.split(
            arith::AddIOp::create(b, threadId, t.index(i * threads)), chunks);
        chunkCoords.push_back(
            {row, arith::MulIOp::create(b, chunk, t.index(8))});
      }
    }
    auto bufferIndices = [&](Value row, Value col) -> SmallVector<Value, 3> {
      if (stage)
        return {stage, row, col};
      return {row, col};
    };
    Value sourceRows = memref::DimOp::create(b, source, 2);
    OpBuilder::InsertionGuard guard(b);
    if (enabled) {
      auto ifEnabled = scf::IfOp::create(b, enabled, /*withElseRegion=*/false);
      b.setInsertionPointToStart(ifEnabled.thenBlock());
    }
    Value whole = arith::CmpIOp::create(
        b, arith::CmpIPredicate::ule,
        arith::AddIOp::create(b, firstRow, t.index(rows)), sourceRows);
    auto ifWhole = scf::IfOp::create(b, whole, /*withElseRegion=*/true);
    b.setInsertionPointToStart(ifWhole.thenBlock());
    if (wholeRows) {
      // The thread's chunks as one strided view of the source: chunk i is
      // element [i, 0] of rows firstRow + row0 + i · threads / chunks, so
      // its address is the view's base plus a constant.
      SmallVector<OpFoldResult> offsets{
          batch, head, arith::AddIOp::create(b, firstRow, row0).getResult(),
          col0};
      SmallVector<OpFoldResult> sizes{b.getIndexAttr(copies),
                                      b.getIndexAttr(8)};
      SmallVector<OpFoldResult> strides{b.getIndexAttr(threads / chunks),
                                        b.getIndexAttr(1)};
      sizes.insert(sizes.begin(), 2, b.getIndexAttr(1));
      strides.insert(strides.begin(), 2, b.getIndexAttr(1));
      auto sourceType = cast<MemRefType>(source.getType());
      auto chunkType = memref::SubViewOp::inferRankReducedResultType(
          {copies, 8}, sourceType, offsets, sizes, strides);
      Value chunkView = memref::SubViewOp::create(b, chunkType, source, offsets,
                                                  sizes, strides);
      for (auto [i, coords] : llvm::enumerate(chunkCoords))
        nvgpu::DeviceAsyncCopyOp::create(
            b, buffer, bufferIndices(coords.first, coords.second), chunkView,
            ValueRange{t.index(i), t.index(0)}, b.getIndexAttr(8),
            /*srcElements=*/Value(), b.getUnitAttr());
    } else {
      for (auto [r, col] : chunkCoords)
        nvgpu::DeviceAsyncCopyOp::create(
            b, buffer, bufferIndices(r, col), source,
            ValueRange{batch, head, arith::AddIOp::create(b, firstRow, r), col},
            b.getIndexAttr(8), /*srcElements=*/Value(), b.getUnitAttr());
    }
    b.setInsertionPointToStart(ifWhole.elseBlock());
    Value lastRow = arith::SubIOp::create(b, sourceRows, t.index(1));
    for (auto [r, col] : chunkCoords) {
      Value row = arith::AddIOp::create(b, firstRow, r);
      Value count = arith::SelectOp::create(
          b,
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, sourceRows),
          t.index(8), t.index(0));
      nvgpu::DeviceAsyncCopyOp::create(
          b, buffer, bufferIndices(r, col), source,
          ValueRange{batch, head, arith::MinSIOp::create(b, row, lastRow), col},
          b.getIndexAttr(8), count, b.getUnitAttr());
    }
  }

  LogicalResult convertNest(scf::ForallOp nest) {
    stageBuffers.clear();
    std::optional<FlashNest> flash;
    if (mma) {
      flash = matchFlashNest(nest);
      if (flash && !registerLoweringApplies(*flash))
        flash.reset();
    }
    KeyValuePipeline pipeline;
    if (flash)
      pipeline = keyValuePipeline(*flash);
    int64_t stages = pipeline.stages;
    bool pipelined = stages > 0;
    bool sharedQuery = pipelined && queryPrefersShared(*flash);
    // Q fragments too large for registers need the pipelined shared Q tile;
    // without it the per-op lowering (all tiles shared) is the honest form.
    if (flash && !pipelined && queryPrefersShared(*flash))
      flash.reset();
    SmallVector<Value> registerTiles;
    if (flash)
      registerTiles = {flash->scores, flash->rowMax, flash->rowSum,
                       flash->acc};
    if (flash && !sharedQuery)
      registerTiles.push_back(flash->query);
    FailureOr<SmallVector<memref::AllocaOp>> allocas =
        collectTiles(nest, registerTiles);
    if (failed(allocas))
      return failure();

    ImplicitLocOpBuilder b(nest.getLoc(), nest);
    SmallVector<Value> upper = getValueOrCreateConstantIndexOp(
        b, nest.getLoc(), nest.getMixedUpperBound());
    // Every tile buffer is a view into the block's dynamic shared memory,
    // at a 16-byte aligned offset.
    SmallVector<MemRefType> bufferTypes;
    SmallVector<int64_t> bufferOffsets;
    int64_t sharedBytes = 0;
    for (memref::AllocaOp alloca : *allocas) {
      MemRefType padded = paddedType(alloca.getType());
      // `stages` stages of the K and V tiles.
      if (pipelined && (alloca.getResult() == flash->key ||
                        alloca.getResult() == flash->value))
        padded = MemRefType::get(
            {stages, padded.getDimSize(0), padded.getDimSize(1)},
            padded.getElementType(), MemRefLayoutAttrInterface(),
            padded.getMemorySpace());
      bufferTypes.push_back(padded);
      bufferOffsets.push_back(sharedBytes);
      sharedBytes += llvm::alignTo(padded.getNumElements() *
                                       (padded.getElementTypeBitWidth() / 8),
                                   kSharedBufferAlignment);
    }
    Value one = arith::ConstantIndexOp::create(b, 1);
    Value blockSize = arith::ConstantIndexOp::create(b, threads);
    // forall (batch, head, q-tile) -> grid (x = q-tile, y = head, z = batch).
    auto launch = gpu::LaunchOp::create(
        b, upper[2], upper[1], upper[0], blockSize, one, one,
        /*dynamicSharedMemorySize=*/
        arith::ConstantIntOp::create(b, b.getI32Type(), sharedBytes));
    Block &body = launch.getBody().front();
    b.setInsertionPointToStart(&body);
    Value threadId = launch.getThreadIds().x;
    Value numThreads = launch.getBlockSize().x;
    TileLoweringBuilder lowering(b, threadId, numThreads, mma);

    IRMapping mapping;
    gpu::KernelDim3 blockIds = launch.getBlockIds();
    mapping.map(nest.getInductionVar(0), blockIds.z);
    mapping.map(nest.getInductionVar(1), blockIds.y);
    // q-tiles longest-first: block x runs q-tile (tiles - 1 - x). Under a
    // causal band the last q-tiles have the most kv tiles; starting them
    // first leaves the short ones for the last wave.
    mapping.map(nest.getInductionVar(2),
                arith::SubIOp::create(
                    b,
                    arith::SubIOp::create(b, launch.getGridSize().x,
                                          lowering.index(1)),
                    blockIds.x));
    auto workgroup = gpu::AddressSpaceAttr::get(
        b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
    Value sharedBase = gpu::DynamicSharedMemoryOp::create(
        b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                           MemRefLayoutAttrInterface(), workgroup));
    for (auto [alloca, bufferType, offset] :
         llvm::zip(*allocas, bufferTypes, bufferOffsets)) {
      MemRefType tileType = alloca.getType();
      Value buffer = memref::ViewOp::create(b, bufferType, sharedBase,
                                            lowering.index(offset),
                                            ValueRange{});
      stageBuffers[alloca.getResult()] = buffer;
      Value view = buffer;
      if (tileType.getRank() == 2)
        view =
            tileView(b, buffer, tileType,
                     bufferType.getRank() == 3 ? lowering.index(0) : Value());
      mapping.map(alloca.getResult(), view);
    }
    for (Operation &op : nest.getBody()->without_terminator()) {
      if (isa<memref::AllocaOp>(op))
        continue;
      if (flash) {
        if (auto fill = dyn_cast<TileFillOp>(op))
          if (llvm::is_contained(registerTiles, fill.getTile()))
            continue;
        if (&op == flash->queryLoad.getOperation() ||
            &op == flash->finalize.getOperation() ||
            &op == flash->storeOutput.getOperation() ||
            (flash->storeLse && &op == flash->storeLse.getOperation()))
          continue;
        if (&op == flash->kvLoop.getOperation()) {
          emitRegisterFlash(b, lowering, threadId, *flash, mapping, pipeline,
                            sharedQuery);
          continue;
        }
      }
      b.clone(op, mapping);
    }
    gpu::TerminatorOp::create(b);
    nest.erase();

    rematerializeCapturedScalars(launch);

    SmallVector<Operation *> tileOps;
    launch.getBody().walk([&](Operation *op) {
      if (op->getName().getStringRef().starts_with("attn.tile."))
        tileOps.push_back(op);
    });
    for (Operation *op : tileOps)
      lowering.lower(op);
    return success();
  }

  /// Emits the kv loop of `flash` with S, P, m, l and acc in registers, and
  /// the normalisation and stores that follow it. With a pipeline (stages
  /// > 0), the K and V tiles go through shared-memory stages filled by
  /// cp.async `ahead` tiles in advance, with one barrier per iteration (see
  /// KeyValuePipeline), so that the copies overlap the MMAs.
  void emitRegisterFlash(ImplicitLocOpBuilder &b, TileLoweringBuilder &lowering,
                         Value threadId, FlashNest flash, IRMapping &mapping,
                         KeyValuePipeline pipeline, bool sharedQuery) {
    int64_t stages = pipeline.stages, ahead = pipeline.ahead;
    bool pipelined = stages > 0;
    auto q = cast<MemRefType>(flash.query.getType());
    auto v = cast<MemRefType>(flash.value.getType());
    auto k = cast<MemRefType>(flash.key.getType());
    int64_t blockK = k.getDimSize(0);
    int64_t rowTiles = q.getDimSize(0) / (16 * (threads / 32));
    FlashEmitter emitter(b, lowering, q.getDimSize(1),
                         v.getDimSize(1), blockK, rowTiles,
                         q.getElementType().isBF16(), q.getElementType());
    emitter.loadQueryFragments(
        mapping.lookupOrDefault(flash.queryLoad.getSource()),
        mapping.lookupOrDefault(flash.queryLoad.getBatch()),
        mapping.lookupOrDefault(flash.queryLoad.getHead()),
        mapping.lookupOrDefault(flash.queryLoad.getRow()),
        sharedQuery ? mapping.lookupOrDefault(flash.query) : Value());
    scf::ForOp kvLoop = flash.kvLoop;
    Value lower = mapping.lookupOrDefault(kvLoop.getLowerBound());
    Value upper = mapping.lookupOrDefault(kvLoop.getUpperBound());

    // The K and V loads of the original loop body.
    SmallVector<TileLoadOp> kvLoads;
    for (Operation &op : kvLoop.getBody()->without_terminator())
      if (auto load = dyn_cast<TileLoadOp>(op))
        kvLoads.push_back(load);
    // Copies `load`'s tile, rows from firstRow, into its shared buffer (at
    // stage `stage` of a staged buffer).
    auto copyTile = [&](TileLoadOp load, Value firstRow, Value stage,
                        Value enabled) {
      auto tileType = cast<MemRefType>(load.getTile().getType());
      issueTileCopy(b, lowering, threadId, threads,
                    mapping.lookupOrDefault(load.getSource()),
                    mapping.lookupOrDefault(load.getBatch()),
                    mapping.lookupOrDefault(load.getHead()), firstRow,
                    stageBuffers.lookup(load.getTile()), stage,
                    tileType.getDimSize(0), tileType.getDimSize(1), enabled);
    };
    // Issues kv tile `tile` into stage `stage` as one cp.async group.
    auto issue = [&](Value tile, Value stage, Value enabled) {
      for (TileLoadOp load : kvLoads) {
        Value rows = lowering.index(
            cast<MemRefType>(load.getTile().getType()).getDimSize(0));
        copyTile(load, arith::MulIOp::create(b, tile, rows), stage, enabled);
      }
      NVVM::CpAsyncCommitGroupOp::create(b);
    };
    // Tile kt lives in stage kt mod `stages`.
    auto stageOf = [&](Value tile) -> Value {
      return arith::RemUIOp::create(b, tile, lowering.index(stages));
    };
    if (pipelined) {
      // Prologue, only if the loop runs: tiles lower .. lower + ahead - 1,
      // one group each (empty past the last tile); the Q tile, when Q is
      // shared, joins the first.
      Value any = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, lower,
                                        upper);
      auto ifAny = scf::IfOp::create(b, any, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifAny.thenBlock());
      if (sharedQuery)
        copyTile(flash.queryLoad,
                 mapping.lookupOrDefault(flash.queryLoad.getRow()),
                 /*stage=*/Value(), /*enabled=*/Value());
      for (int64_t s = 0; s < ahead; ++s) {
        Value tile = arith::AddIOp::create(b, lower, lowering.index(s));
        issue(tile, stageOf(tile),
              s == 0 ? Value()
                     : arith::CmpIOp::create(b, arith::CmpIPredicate::slt, tile,
                                             upper));
      }
    }

    auto loop = scf::ForOp::create(b, lower, upper,
                                   mapping.lookupOrDefault(kvLoop.getStep()),
                                   emitter.initialState());
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value kt = loop.getInductionVar();
      mapping.map(kvLoop.getInductionVar(), kt);
      Value keyTile = mapping.lookupOrDefault(flash.key);
      Value valueTile = mapping.lookupOrDefault(flash.value);
      if (pipelined) {
        Value stage = stageOf(kt);
        // Tile kt + ahead, into a stage no warp reads any more (see
        // KeyValuePipeline); after the wait, tile kt's group has landed
        // for this thread (the newer groups, tiles kt + 1 .. kt + ahead or
        // kt + ahead - 1, may be in flight), and after the barrier for
        // every thread.
        Value next = arith::AddIOp::create(b, kt, lowering.index(ahead));
        auto issueNext = [&] {
          issue(
              next, stageOf(next),
              arith::CmpIOp::create(b, arith::CmpIPredicate::slt, next, upper));
        };
        if (pipeline.issueBeforeWait)
          issueNext();
        NVVM::CpAsyncWaitGroupOp::create(
            b, pipeline.issueBeforeWait ? ahead : ahead - 1);
        gpu::BarrierOp::create(b);
        if (!pipeline.issueBeforeWait)
          issueNext();
        keyTile = tileView(b, stageBuffers.lookup(flash.key),
                           cast<MemRefType>(flash.key.getType()), stage);
        valueTile = tileView(b, stageBuffers.lookup(flash.value),
                             cast<MemRefType>(flash.value.getType()), stage);
      }
      for (Operation &op : kvLoop.getBody()->without_terminator()) {
        if (isa<TileQKOp, TileOnlineSoftmaxOp, TilePVOp>(op) ||
            &op == flash.maskIf.getOperation() ||
            (pipelined && isa<TileLoadOp>(op)))
          continue;
        b.clone(op, mapping);
      }
      emitter.valueMapping = mapping;
      SmallVector<Value> state = emitter.step(
          loop.getRegionIterArgs(), keyTile, valueTile,
          flash.qk.getScaleAttr(),
          mapping.lookupOrDefault(flash.maskIf.getCondition()), flash.mask,
          mapping.lookupOrDefault(flash.mask.getQueryStart()),
          mapping.lookupOrDefault(flash.mask.getKeyStart()));
      // Without pipelining the next iteration's loads overwrite the tiles
      // read here.
      if (!pipelined)
        gpu::BarrierOp::create(b);
      scf::YieldOp::create(b, state);
    }
    emitter.finish(loop.getResults(),
                   mapping.lookupOrDefault(flash.storeOutput.getDest()),
                   flash.storeLse
                       ? mapping.lookupOrDefault(flash.storeLse.getDest())
                       : Value(),
                   mapping.lookupOrDefault(flash.storeOutput.getBatch()),
                   mapping.lookupOrDefault(flash.storeOutput.getHead()),
                   mapping.lookupOrDefault(flash.storeOutput.getRow()));
  }

  /// The workgroup buffer of each tile alloca of the nest being converted.
  DenseMap<Value, Value> stageBuffers;

  /// The 2-D `tileType`-shaped view at the origin of `buffer` (padded
  /// rows), of stage `stage` when `buffer` is a staged 3-D buffer.
  static Value tileView(ImplicitLocOpBuilder &b, Value buffer,
                        MemRefType tileType, Value stage) {
    auto bufferType = cast<MemRefType>(buffer.getType());
    SmallVector<OpFoldResult> offsets(bufferType.getRank(), b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes{b.getIndexAttr(tileType.getDimSize(0)),
                                    b.getIndexAttr(tileType.getDimSize(1))};
    SmallVector<OpFoldResult> strides(bufferType.getRank(), b.getIndexAttr(1));
    if (!stage)
      return memref::SubViewOp::create(b, buffer, offsets, sizes, strides);
    offsets[0] = stage;
    sizes.insert(sizes.begin(), b.getIndexAttr(1));
    auto viewType = memref::SubViewOp::inferRankReducedResultType(
        tileType.getShape(), bufferType, offsets, sizes, strides);
    return memref::SubViewOp::create(b, viewType, buffer, offsets, sizes,
                                     strides);
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
      // Clone in program order, so that a clone never uses a value cloned
      // after it.
      SmallVector<Operation *> defs;
      for (Value value : captured) {
        Operation *def = value.getDefiningOp();
        if (isa<MemRefType>(value.getType()) || !def ||
            !isMemoryEffectFree(def) || llvm::is_contained(defs, def))
          continue;
        defs.push_back(def);
      }
      llvm::stable_sort(defs, [](Operation *a, Operation *b) {
        return a->getBlock() == b->getBlock() && a->isBeforeInBlock(b);
      });
      bool changed = false;
      for (Operation *def : defs) {
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
