//===- OrderedMask.cpp - the sm_80 mask of a step over sorted tokens -----===//
//
// See OrderedMask.h.
//
//===----------------------------------------------------------------------===//

#include "OrderedMask.h"

#include "llvm/ADT/DenseMap.h"

#include <cstdint>
#include <limits>

using namespace mlir;
using namespace attn;

SmallVector<OrderedRow>
attn::prepareOrderedRows(KernelBuilder &tiles, const SortedTokens &tokens,
                         ArrayRef<Value> rows, Value batch, Value head,
                         Value q0, const TileMask &mask, Value diagonalOffset) {
  ImplicitLocOpBuilder &b = tiles.b;
  Type i64 = b.getI64Type(), i32 = b.getI32Type();
  Value offset = arith::IndexCastOp::create(b, i64, diagonalOffset);
  auto bound = [&](Value diagonal, std::optional<int64_t> value) -> Value {
    if (!value)
      return {};
    Value sum = arith::AddIOp::create(
        b, diagonal, arith::ConstantIntOp::create(b, i64, *value));
    Value clamped = arith::MaxSIOp::create(
        b,
        arith::MinSIOp::create(
            b, sum,
            arith::ConstantIntOp::create(b, i64,
                                         std::numeric_limits<int32_t>::max())),
        arith::ConstantIntOp::create(b, i64,
                                     std::numeric_limits<int32_t>::min()));
    return arith::TruncIOp::create(b, i32, clamped);
  };
  SmallVector<OrderedRow> result;
  for (Value row : rows) {
    Value sorted = arith::AddIOp::create(b, q0, row);
    OrderedRow ordered;
    ordered.position =
        buildOriginalRow(b, b.getLoc(), tokens.query, batch, head, sorted);
    Value rowClass = tiles.i32Constant(0);
    if (tokens.queryClasses) {
      rowClass = arith::IndexCastUIOp::create(
          b, i32,
          buildOriginalRow(b, b.getLoc(), tokens.queryClasses, batch, head,
                           sorted));
      rowClass = arith::SelectOp::create(
          b,
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, rowClass,
                                tiles.i32Constant(tokens.classes)),
          rowClass, tiles.i32Constant(-1));
    }
    ordered.rowClass = rowClass;
    Value diagonal = arith::AddIOp::create(
        b, arith::IndexCastOp::create(b, i64, ordered.position), offset);
    ordered.lower = bound(diagonal, mask.getBandLower());
    ordered.upper = bound(diagonal, mask.getBandUpper());
    result.push_back(ordered);
  }
  return result;
}

SmallVector<Value>
attn::maskOrderedScores(KernelBuilder &tiles, const SortedTokens &tokens,
                        ArrayRef<OrderedRow> rows, ArrayRef<Value> flat,
                        int64_t blockK, Value twoT, const TileMask &mask,
                        const FusedForwardOp::Problem &problem, Value batch,
                        Value head, Value k0, const IRMapping &mapping) {
  ImplicitLocOpBuilder &b = tiles.b;
  Value keyBase = arith::AddIOp::create(b, k0, twoT);
  Value lastKey = arith::SubIOp::create(b, problem.keyLen, tiles.index(1));
  struct KeyColumn {
    Value position, keyClass;
  };
  llvm::DenseMap<int64_t, KeyColumn> columns;
  auto columnAt = [&](int64_t column) {
    KeyColumn &entry = columns[column];
    if (!entry.position) {
      Value sorted = arith::AddIOp::create(b, keyBase, tiles.index(column));
      SmallVector<Value, 3> at{batch, problem.kvHead,
                               arith::MinUIOp::create(b, sorted, lastKey)};
      entry.position = memref::LoadOp::create(b, tokens.key, at);
      Value exists = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, sorted,
                                           problem.keyLen);
      Value keyClass =
          tokens.keyClasses
              ? Value(memref::LoadOp::create(b, tokens.keyClasses, at))
              : tiles.i32Constant(0);
      entry.keyClass =
          arith::SelectOp::create(b, exists, keyClass, tiles.i32Constant(-2));
    }
    return entry;
  };
  int64_t perRowTile = blockK / 2;
  SmallVector<Value> result;
  for (size_t i = 0; i < flat.size(); ++i) {
    int64_t r = i / perRowTile, within = i % perRowTile;
    int64_t column = 8 * (within / 4) + within % 2, half = (within % 4) / 2;
    KeyColumn key = columnAt(column);
    const OrderedRow &row = rows[2 * r + half];
    Value allowed = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                          row.rowClass, key.keyClass);
    if (row.upper)
      allowed = arith::AndIOp::create(
          b, allowed,
          arith::CmpIOp::create(b, arith::CmpIPredicate::sle, key.position,
                                row.upper));
    if (row.lower)
      allowed = arith::AndIOp::create(
          b, allowed,
          arith::CmpIOp::create(b, arith::CmpIPredicate::sge, key.position,
                                row.lower));
    if (mask.hasPredicate())
      allowed = arith::AndIOp::create(
          b, allowed,
          mask.buildPredicate(
              b, b.getLoc(), batch, head, row.position,
              arith::IndexCastUIOp::create(b, b.getIndexType(), key.position),
              mapping));
    result.push_back(arith::SelectOp::create(
        b, allowed, flat[i],
        tiles.f32(-std::numeric_limits<float>::infinity())));
  }
  return result;
}
