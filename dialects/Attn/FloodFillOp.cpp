//===- FloodFillOp.cpp - SPION's block-pattern derivation -------*- C++ -*-===//
//
// attn.flood_fill: the pieces every lowering shares (buildBlockSum,
// buildQuantileRanks, buildInterpolation, buildWalk) and the CPU lowering
// (decompose), step by step as
// SEMANTICS.md's "Flood fill (SPION-CF pattern derivation, exact)" states:
//
//   Bm[x, y] = (1 / bs²) Σ_{(i, j) in block (x, y)} Σ_{|t| <= h} A[i+t, j+t]
//            = (1 / bs²) Σ_{p, q} w(p, q) A[p, q]
//
// with w(p, q) the number of taps t that carry A[p, q] into the block, so
// each block reads its (bs + 2h)² neighbourhood once instead of bs²
// (2h + 1) scores. The threshold is the quantile of Bm with linear
// interpolation (order statistics by rank counting: the k-th smallest is
// the value v with #{< v} <= k < #{<= v}); SPION-C keeps the blocks of rank
// < int(density nb² - nb) by value (ties: lower row-major index first).
// Sums run in f32, in another order than the f64 reference: equal on maps
// whose sums are exact (SEMANTICS.md says how to compare otherwise).
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace attn;

int64_t FloodFillOp::getFilterHalfWidth() {
  return getVariant() == SpionVariant::FloodFill ? 0 : (getConvSize() - 1) / 2;
}

Value FloodFillOp::buildBlockSum(OpBuilder &builder, Location loc,
                                 Value blockRow, Value blockCol,
                                 Value firstRow, Value rowStep, Value firstCol,
                                 Value colStep, const IRMapping &mapping) {
  ImplicitLocOpBuilder b(loc, builder);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Value scores = mapping.lookupOrDefault(getScores());
  int64_t half = getFilterHalfWidth(), size = getBlockSize();
  Value length = memref::DimOp::create(b, scores, 0);
  Value zero = index(0), one = index(1);
  Value rowOrigin = arith::MulIOp::create(b, blockRow, index(size));
  Value colOrigin = arith::MulIOp::create(b, blockCol, index(size));
  auto clampedRange = [&](Value origin) -> std::pair<Value, Value> {
    Value begin = arith::MaxSIOp::create(
        b, arith::SubIOp::create(b, origin, index(half)), zero);
    Value end = arith::MinSIOp::create(
        b, arith::AddIOp::create(b, origin, index(size + half)), length);
    return {begin, end};
  };
  auto [rowBegin, rowEnd] = clampedRange(rowOrigin);
  auto [colBegin, colEnd] = clampedRange(colOrigin);
  Type f32 = b.getF32Type();
  Value zeroF = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  auto rows = scf::ForOp::create(
      b, arith::AddIOp::create(b, rowBegin, firstRow), rowEnd, rowStep, zeroF);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(rows.getBody());
    Value p = rows.getInductionVar();
    Value a = arith::SubIOp::create(b, p, rowOrigin);
    auto cols = scf::ForOp::create(b, arith::AddIOp::create(b, colBegin, firstCol),
                                   colEnd, colStep, rows.getRegionIterArg(0));
    b.setInsertionPointToStart(cols.getBody());
    Value q = cols.getInductionVar();
    Value c = arith::SubIOp::create(b, q, colOrigin);
    // Taps t in [-h, h] with p - t and q - t in the block.
    Value highest = arith::MinSIOp::create(
        b, arith::MinSIOp::create(b, a, c), index(half));
    Value lowest = arith::MaxSIOp::create(
        b,
        arith::MaxSIOp::create(b, arith::SubIOp::create(b, a, index(size - 1)),
                               arith::SubIOp::create(b, c, index(size - 1))),
        index(-half));
    Value taps = arith::MaxSIOp::create(
        b,
        arith::AddIOp::create(b, arith::SubIOp::create(b, highest, lowest),
                              one),
        zero);
    Value score = memref::LoadOp::create(b, scores, ValueRange{p, q});
    if (!score.getType().isF32())
      score = arith::ExtFOp::create(b, f32, score);
    Value weight = arith::UIToFPOp::create(
        b, f32, arith::IndexCastOp::create(b, b.getI32Type(), taps));
    scf::YieldOp::create(
        b, ValueRange{arith::AddFOp::create(
               b, cols.getRegionIterArg(0),
               arith::MulFOp::create(b, weight, score))});
    b.setInsertionPointAfter(cols);
    scf::YieldOp::create(b, cols.getResults());
  }
  return rows.getResult(0);
}

FloodFillOp::QuantileRanks
FloodFillOp::buildQuantileRanks(OpBuilder &builder, Location loc,
                                Value cells) {
  ImplicitLocOpBuilder b(loc, builder);
  Type f64 = b.getF64Type();
  Value rank = arith::MulFOp::create(
      b,
      arith::UIToFPOp::create(
          b, f64,
          arith::IndexCastOp::create(
              b, b.getI64Type(),
              arith::SubIOp::create(b, cells,
                                    arith::ConstantIndexOp::create(b, 1)))),
      arith::ConstantOp::create(
          b, b.getF64FloatAttr(getQuantile().convertToDouble())));
  Value below = math::FloorOp::create(b, rank);
  auto toIndex = [&](Value value) -> Value {
    return arith::IndexCastOp::create(
        b, b.getIndexType(),
        arith::FPToUIOp::create(b, b.getI64Type(), value));
  };
  return {toIndex(below), toIndex(math::CeilOp::create(b, rank)),
          arith::SubFOp::create(b, rank, below)};
}

Value FloodFillOp::buildInterpolation(OpBuilder &builder, Location loc,
                                      Value low, Value high, Value fraction) {
  ImplicitLocOpBuilder b(loc, builder);
  Value spread = arith::SubFOp::create(b, high, low);
  Value half = arith::ConstantOp::create(b, b.getF64FloatAttr(0.5));
  Value oneF = arith::ConstantOp::create(b, b.getF64FloatAttr(1.0));
  return arith::SelectOp::create(
      b, arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, fraction, half),
      arith::AddFOp::create(b, low, arith::MulFOp::create(b, fraction, spread)),
      arith::SubFOp::create(
          b, high,
          arith::MulFOp::create(b, spread,
                                arith::SubFOp::create(b, oneF, fraction))));
}

Value FloodFillOp::buildPaddedValue(
    OpBuilder &builder, Location loc, Value blocks, Value x, Value y,
    function_ref<Value(OpBuilder &, Value, Value)> read) {
  ImplicitLocOpBuilder b(loc, builder);
  Value inside = arith::AndIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, blocks),
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, y, blocks));
  Value last =
      arith::SubIOp::create(b, blocks, arith::ConstantIndexOp::create(b, 1));
  Value value = read(b, arith::MinUIOp::create(b, x, last),
                     arith::MinUIOp::create(b, y, last));
  return arith::SelectOp::create(
      b, inside, value, arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f)));
}

std::pair<Value, Value> FloodFillOp::buildWalk(
    OpBuilder &builder, Location loc,
    function_ref<Value(OpBuilder &, Value, Value)> paddedValue, Value mask,
    Value blocks, Value rowLimit, Value threshold, Value startRow,
    Value startCol) {
  ImplicitLocOpBuilder b(loc, builder);
  Value one = arith::ConstantIndexOp::create(b, 1);
  Type indexType = b.getIndexType(), f64 = b.getF64Type();
  Type maskElement = cast<MemRefType>(mask.getType()).getElementType();
  auto loop = scf::WhileOp::create(b, TypeRange{indexType, indexType},
                                   ValueRange{startRow, startCol});
  OpBuilder::InsertionGuard guard(b);
  Block *before = b.createBlock(&loop.getBefore(), {}, {indexType, indexType},
                                {loc, loc});
  Value x = before->getArgument(0), y = before->getArgument(1);
  scf::ConditionOp::create(
      b,
      arith::AndIOp::create(
          b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, rowLimit),
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, y, blocks)),
      ValueRange{x, y});
  Block *after = b.createBlock(&loop.getAfter(), {}, {indexType, indexType},
                               {loc, loc});
  x = after->getArgument(0);
  y = after->getArgument(1);
  Value x1 = arith::AddIOp::create(b, x, one);
  Value y1 = arith::AddIOp::create(b, y, one);
  Value down = paddedValue(b, x1, y), right = paddedValue(b, x, y1),
        diagonal = paddedValue(b, x1, y1);
  // down > right: down unless the diagonal is not below it; else right
  // unless the diagonal is not below it (strict > throughout).
  Value downWins =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, down, right);
  Value downBeatsDiagonal =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, down, diagonal);
  Value rightBeatsDiagonal =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, right, diagonal);
  Value nextX = arith::SelectOp::create(
      b, downWins, x1, arith::SelectOp::create(b, rightBeatsDiagonal, x, x1));
  Value nextY = arith::SelectOp::create(
      b, downWins, arith::SelectOp::create(b, downBeatsDiagonal, y, y1), y1);
  // The next cell's value is one of the three just read.
  Value nextValue = arith::SelectOp::create(
      b, downWins,
      arith::SelectOp::create(b, downBeatsDiagonal, down, diagonal),
      arith::SelectOp::create(b, rightBeatsDiagonal, right, diagonal));
  Value inside = arith::AndIOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, nextX, blocks),
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, nextY, blocks));
  Value above = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT,
                                      arith::ExtFOp::create(b, f64, nextValue),
                                      threshold);
  auto ifMarked = scf::IfOp::create(b, arith::AndIOp::create(b, inside, above),
                                    /*withElseRegion=*/false);
  {
    OpBuilder::InsertionGuard ifGuard(b);
    b.setInsertionPointToStart(ifMarked.thenBlock());
    memref::StoreOp::create(
        b, arith::ConstantOp::create(b, b.getIntegerAttr(maskElement, 1)),
        mask, ValueRange{nextX, nextY});
  }
  scf::YieldOp::create(b, ValueRange{nextX, nextY});
  return {loop.getResult(0), loop.getResult(1)};
}

void FloodFillOp::decompose(OpBuilder &builder) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(*this);
  ImplicitLocOpBuilder b(getLoc(), builder);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Value zero = index(0), one = index(1);
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  Value mask = getBlockMask();
  Type maskElement = cast<MemRefType>(mask.getType()).getElementType();
  Value on = arith::ConstantOp::create(b, b.getIntegerAttr(maskElement, 1));
  Value off = arith::ConstantOp::create(b, b.getIntegerAttr(maskElement, 0));
  Value blocks = arith::DivUIOp::create(
      b, memref::DimOp::create(b, getScores(), 0), index(getBlockSize()));
  auto forEach = [&](Value upper, function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, zero, upper, one);
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar());
  };
  /// Σ over the flattened block map of `term(j)` (an index count).
  auto countOver = [&](Value count, Value map,
                       function_ref<Value(Value, Value)> counted) -> Value {
    auto loop = scf::ForOp::create(b, zero, count, one, zero);
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value j = loop.getInductionVar();
    Value value = memref::LoadOp::create(
        b, map,
        ValueRange{arith::DivUIOp::create(b, j, blocks),
                   arith::RemUIOp::create(b, j, blocks)});
    Value counts = counted(j, value);
    scf::YieldOp::create(b,
                         ValueRange{arith::AddIOp::create(
                             b, loop.getRegionIterArg(0),
                             arith::SelectOp::create(b, counts, one, zero))});
    return loop.getResult(0);
  };

  // The block map.
  auto pooled = memref::AllocOp::create(
      b, MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, f32),
      ValueRange{blocks, blocks});
  forEach(blocks, [&](Value x) {
    forEach(blocks, [&](Value y) {
      Value sum = buildBlockSum(b, getLoc(), x, y, zero, one, zero, one);
      Value average = arith::MulFOp::create(
          b, sum,
          arith::ConstantOp::create(
              b, b.getF32FloatAttr(1.0f / static_cast<float>(getBlockArea()))));
      memref::StoreOp::create(b, average, pooled, ValueRange{x, y});
      memref::StoreOp::create(b, off, mask, ValueRange{x, y});
    });
  });
  Value cells = arith::MulIOp::create(b, blocks, blocks);
  auto cellValue = [&](Value i) -> Value {
    return memref::LoadOp::create(
        b, pooled,
        ValueRange{arith::DivUIOp::create(b, i, blocks),
                   arith::RemUIOp::create(b, i, blocks)});
  };
  auto toF64 = [&](Value indexValue) -> Value {
    return arith::UIToFPOp::create(
        b, f64, arith::IndexCastOp::create(b, b.getI64Type(), indexValue));
  };

  if (getVariant() == SpionVariant::ConvTopK) {
    // Keep the cells of rank < int(density nb² - nb), rank by value
    // (descending), ties by lower row-major index.
    Value wanted = arith::SubFOp::create(
        b,
        arith::MulFOp::create(
            b, toF64(cells),
            arith::ConstantOp::create(
                b, b.getF64FloatAttr(getDensity()->convertToDouble()))),
        toF64(blocks));
    Value keep = arith::MaxSIOp::create(
        b,
        arith::FPToSIOp::create(b, b.getI64Type(),
                                math::TruncOp::create(b, wanted)),
        arith::ConstantIntOp::create(b, b.getI64Type(), 0));
    forEach(cells, [&](Value i) {
      Value value = cellValue(i);
      Value rank = countOver(cells, pooled, [&](Value j, Value other) {
        Value greater =
            arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, other, value);
        Value tiedBefore = arith::AndIOp::create(
            b,
            arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, other, value),
            arith::CmpIOp::create(b, arith::CmpIPredicate::ult, j, i));
        return arith::OrIOp::create(b, greater, tiedBefore);
      });
      Value kept = arith::CmpIOp::create(
          b, arith::CmpIPredicate::slt,
          arith::IndexCastOp::create(b, b.getI64Type(), rank), keep);
      memref::StoreOp::create(b, arith::SelectOp::create(b, kept, on, off),
                              mask,
                              ValueRange{arith::DivUIOp::create(b, i, blocks),
                                         arith::RemUIOp::create(b, i, blocks)});
    });
  } else {
    // The threshold: the order statistics of the quantile's two ranks.
    QuantileRanks ranks = buildQuantileRanks(b, getLoc(), cells);
    auto orderStatistic = [&](Value k) -> Value {
      auto loop = scf::ForOp::create(
          b, zero, cells, one,
          ValueRange{arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f))});
      {
        OpBuilder::InsertionGuard loopGuard(b);
        b.setInsertionPointToStart(loop.getBody());
        Value i = loop.getInductionVar();
        Value value = cellValue(i);
        Value less = countOver(cells, pooled, [&](Value, Value other) {
          return arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, other,
                                       value);
        });
        Value atMost = countOver(cells, pooled, [&](Value, Value other) {
          return arith::CmpFOp::create(b, arith::CmpFPredicate::OLE, other,
                                       value);
        });
        Value isIt = arith::AndIOp::create(
            b, arith::CmpIOp::create(b, arith::CmpIPredicate::ule, less, k),
            arith::CmpIOp::create(b, arith::CmpIPredicate::ult, k, atMost));
        scf::YieldOp::create(
            b, ValueRange{arith::SelectOp::create(b, isIt, value,
                                                  loop.getRegionIterArg(0))});
      }
      return arith::ExtFOp::create(b, f64, loop.getResult(0));
    };
    Value threshold =
        buildInterpolation(b, getLoc(), orderStatistic(ranks.low),
                           orderStatistic(ranks.high), ranks.fraction);
    // The walks: from every top-row cell, then every left-column cell.
    auto paddedValue = [&](OpBuilder &builder, Value x, Value y) -> Value {
      return buildPaddedValue(
          builder, getLoc(), blocks, x, y,
          [&](OpBuilder &reader, Value row, Value col) -> Value {
            return memref::LoadOp::create(reader, getLoc(), pooled,
                                          ValueRange{row, col});
          });
    };
    forEach(blocks, [&](Value k) {
      buildWalk(b, getLoc(), paddedValue, mask, blocks, blocks, threshold, zero,
                k);
    });
    forEach(blocks, [&](Value k) {
      buildWalk(b, getLoc(), paddedValue, mask, blocks, blocks, threshold, k,
                zero);
    });
  }
  // The diagonal, always on.
  forEach(blocks, [&](Value d) {
    memref::StoreOp::create(b, on, mask, ValueRange{d, d});
  });
  memref::DeallocOp::create(b, pooled);
  erase();
}
