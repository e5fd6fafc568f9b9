//===- FragmentMask.cpp - the sm_80 mask of a partial tile ----------------===//
//
// See FragmentMask.h.
//
//===----------------------------------------------------------------------===//

#include "FragmentMask.h"

#include <limits>

using namespace mlir;
using namespace attn;

SmallVector<FragmentRowBounds>
attn::buildFragmentRowBounds(KernelBuilder &tiles, const TileMask &mask,
                             const FusedForwardOp::Problem &problem,
                             ArrayRef<Value> rows, Value q0, Value keyBase,
                             int64_t blockK) {
  ImplicitLocOpBuilder &b = tiles.b;
  auto clampToI32 = [&](Value column) -> Value {
    if (!column)
      return {};
    Value clamped = arith::MaxSIOp::create(
        b, arith::MinSIOp::create(b, column, tiles.index(blockK)),
        tiles.index(-1));
    return tiles.opaque(arith::IndexCastOp::create(b, b.getI32Type(), clamped));
  };
  SmallVector<FragmentRowBounds> result;
  for (Value row : rows) {
    Value query = arith::AddIOp::create(b, q0, row);
    TileMask::ColumnBounds bounds = mask.buildColumnBounds(
        b, b.getLoc(), query, keyBase, problem.keyLen, problem.diagonalOffset);
    result.push_back(
        {query, keyBase, clampToI32(bounds.first), clampToI32(bounds.last)});
  }
  return result;
}

SmallVector<Value> attn::maskFragmentScores(
    KernelBuilder &tiles, ArrayRef<Value> scores, const TileMask &mask,
    Value batch, Value head, ArrayRef<FragmentRowBounds> rows,
    function_ref<int64_t(int64_t)> columnOf, const IRMapping &valueMapping) {
  ImplicitLocOpBuilder &b = tiles.b;
  SmallVector<Value> result;
  for (size_t i = 0; i < scores.size(); ++i) {
    int64_t column = columnOf(i), half = (i % 4) / 2;
    const FragmentRowBounds &row = rows[half];
    Value constant = arith::ConstantIntOp::create(b, b.getI32Type(), column);
    Value allowed =
        arith::CmpIOp::create(b, arith::CmpIPredicate::sle, constant, row.last);
    if (row.first)
      allowed = arith::AndIOp::create(
          b, allowed,
          arith::CmpIOp::create(b, arith::CmpIPredicate::sge, constant,
                                row.first));
    if (mask.hasPredicate()) {
      Value key = arith::AddIOp::create(b, row.keyBase, tiles.index(column));
      allowed = arith::AndIOp::create(b, allowed,
                                      mask.buildPredicate(b, b.getLoc(), batch,
                                                          head, row.query, key,
                                                          valueMapping));
    }
    result.push_back(arith::SelectOp::create(
        b, allowed, scores[i],
        tiles.f32(-std::numeric_limits<float>::infinity())));
  }
  return result;
}
