//===- PerOpLowering.cpp - each attn.tile op on its own ---------*- C++ -*-===//
//
// See PerOpLowering.h. Arithmetic is f32; the softmax steps build
// SoftmaxNumerics.h's formulas with ex2.approx.ftz, as the fused emitters
// do, and log through math.log (libdevice).
//
// Tensor-core products: each warp owns whole 16x8 output tiles (dealt
// round-robin), so no two warps write the same element; operands are packed
// from shared memory, P rounded to the value type.
//
//===----------------------------------------------------------------------===//

#include "PerOpLowering.h"

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Dialect/Attn/SoftmaxNumerics.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

using namespace mlir;
using namespace attn;

namespace {
/// The per-op lowering of one launch body.
class PerOpLowering : public KernelBuilder {
public:
  PerOpLowering(KernelBuilder &kernel, bool useMma)
      : KernelBuilder(kernel), useMma(useMma) {}

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
        .Case([&](TilePruneOp op) { lowerPrune(op); })
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
        if (Value order = op.getOrder())
          row = buildOriginalRow(b, b.getLoc(), order, op.getBatch(),
                                 op.getHead(), row);
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
  /// the tile indices] of the element; with a token order the row is
  /// order[b, h, firstRow + r].
  struct TensorRow {
    Value inRange;
    SmallVector<Value> indices;
  };
  TensorRow tensorRow(Value batch, Value head, Value firstRow, Value rows,
                      ArrayRef<Value> tileIndices, Value order) {
    Value row = arith::AddIOp::create(b, firstRow, tileIndices[0]);
    TensorRow result;
    result.inRange =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, rows);
    if (order)
      row = buildOriginalRow(b, b.getLoc(), order, batch, head, row);
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
                                       rows, indices, op.getOrder());
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
                                     rows, indices, op.getOrder());
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
      Value allowed = op.buildAllowedAt(b, b.getLoc(), r, c, offset);
      Value score = memref::LoadOp::create(b, op.getScores(), ValueRange{r, c});
      Value masked = arith::SelectOp::create(
          b, allowed, score, f32(-std::numeric_limits<float>::infinity()));
      memref::StoreOp::create(b, masked, op.getScores(), ValueRange{r, c});
    });
  }

  /// The N:M prune, a thread per (row, group) so that no two threads
  /// touch one group (TilePruneOp::buildPruneGroup).
  void lowerPrune(TilePruneOp op) {
    ArrayRef<int64_t> shape = shapeOf(op.getScores());
    int64_t groups = shape[1] / static_cast<int64_t>(op.getGroup());
    forEachDistributed(shape[0] * groups, [&](Value e) {
      auto [r, g] = split(e, groups);
      op.buildPruneGroup(b, b.getLoc(), r, g);
    });
  }

  /// One online-softmax step per row (see TileOnlineSoftmaxOp), with
  /// SoftmaxNumerics.h's formulas.
  void lowerOnlineSoftmax(TileOnlineSoftmaxOp op) {
    ArrayRef<int64_t> shape = shapeOf(op.getScores());
    int64_t valueDim = shapeOf(op.getAcc())[1];
    float threshold = op.getRescaleThreshold().convertToFloat();
    Value negInf = f32(-std::numeric_limits<float>::infinity());
    auto exp2 = [&](Value x) { return exp2FlushToZero(x); };
    forEachDistributed(shape[0], [&](Value r) {
      Value oldMax = memref::LoadOp::create(b, op.getRowMax(), r);
      Value tileMax = reduce(shape[1], negInf, [&](Value c, Value acc) {
        Value s = memref::LoadOp::create(b, op.getScores(), ValueRange{r, c});
        return arith::MaxNumFOp::create(b, acc, s);
      });
      softmax::RowUpdate update = softmax::buildRowUpdate(
          b, b.getLoc(), oldMax, tileMax,
          softmax::buildRises(b, b.getLoc(), oldMax, tileMax, threshold),
          exp2);
      Value sum = reduce(shape[1], f32(0.0f), [&](Value c, Value acc) {
        Value s = memref::LoadOp::create(b, op.getScores(), ValueRange{r, c});
        Value p = exp2(arith::SubFOp::create(b, s, update.shift));
        memref::StoreOp::create(b, p, op.getScores(), ValueRange{r, c});
        return arith::AddFOp::create(b, acc, p);
      });
      Value oldSum = memref::LoadOp::create(b, op.getRowSum(), r);
      memref::StoreOp::create(b,
                              math::FmaOp::create(b, update.alpha, oldSum, sum),
                              op.getRowSum(), r);
      memref::StoreOp::create(b, update.newMax, op.getRowMax(), r);
      forEachSequential(valueDim, [&](Value col) {
        Value a = memref::LoadOp::create(b, op.getAcc(), ValueRange{r, col});
        memref::StoreOp::create(b, arith::MulFOp::create(b, a, update.alpha),
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

  /// acc *= 1 / l and m = m ln 2 + ln l, with 0 and -inf for rows where
  /// l = 0 (SoftmaxNumerics.h).
  void lowerFinalize(TileFinalizeOp op) {
    ArrayRef<int64_t> shape = shapeOf(op.getAcc());
    forEachDistributed(shape[0] * shape[1], [&](Value e) {
      auto [r, col] = split(e, shape[1]);
      Value sum = memref::LoadOp::create(b, op.getRowSum(), r);
      Value inverse = softmax::buildInverseSum(b, b.getLoc(), sum);
      Value acc = memref::LoadOp::create(b, op.getAcc(), ValueRange{r, col});
      memref::StoreOp::create(b, arith::MulFOp::create(b, acc, inverse),
                              op.getAcc(), ValueRange{r, col});
    });
    forEachDistributed(shape[0], [&](Value r) {
      Value sum = memref::LoadOp::create(b, op.getRowSum(), r);
      Value max = memref::LoadOp::create(b, op.getRowMax(), r);
      memref::StoreOp::create(b, softmax::buildLogSumExp(b, b.getLoc(), max, sum),
                              op.getRowMax(), r);
    });
  }

  /// Whether a product with 16-bit operands of `operandType`, output tile
  /// `output` ([M, N]) and reduction length `reduction` fits m16n8k16.
  static bool mmaApplies(Type operandType, ArrayRef<int64_t> output,
                         int64_t reduction) {
    Type element = cast<MemRefType>(operandType).getElementType();
    return (element.isBF16() || element.isF16()) && output[0] % 16 == 0 &&
           output[1] % 8 == 0 && reduction % 16 == 0;
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

  bool useMma;
};
} // namespace

void attn::lowerTileOpPerOp(KernelBuilder &kernel, Operation *op,
                            bool useMma) {
  PerOpLowering(kernel, useMma).lower(op);
}
