//===- TileMask.cpp - the allowed pairs of a tile ---------------*- C++ -*-===//

#include "attn/Dialect/Attn/TileMask.h"
#include "attn/Dialect/Attn/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace attn;

/// `value + constant` as an index, or `value` itself for 0.
static Value plusConstant(OpBuilder &b, Location loc, Value value,
                          int64_t constant) {
  if (constant == 0)
    return value;
  return arith::AddIOp::create(
      b, loc, value, arith::ConstantIndexOp::create(b, loc, constant));
}

TileMask::ColumnBounds
TileMask::buildColumnBounds(OpBuilder &b, Location loc, Value i, Value jBase,
                            Value keyLen, Value diagonalOffset) const {
  ColumnBounds bounds;
  // j < keyLen.
  bounds.last =
      plusConstant(b, loc, arith::SubIOp::create(b, loc, keyLen, jBase), -1);
  if (!hasBand())
    return bounds;
  // The band on j - (i + diagonalOffset): c = j - jBase lies in
  // [lower, upper] + (i + diagonalOffset - jBase).
  Value shift = arith::SubIOp::create(
      b, loc, arith::AddIOp::create(b, loc, i, diagonalOffset), jBase);
  if (bandUpper)
    bounds.last = arith::MinSIOp::create(
        b, loc, bounds.last, plusConstant(b, loc, shift, *bandUpper));
  if (bandLower)
    bounds.first = plusConstant(b, loc, shift, *bandLower);
  return bounds;
}

Value TileMask::buildPredicate(OpBuilder &b, Location loc, Value batch,
                               Value head, Value i, Value j,
                               IRMapping mapping) const {
  if (!hasPredicate())
    return {};
  Block &body = predicate->front();
  Value arguments[] = {batch, head, i, j};
  for (auto [argument, value] : llvm::zip(body.getArguments(), arguments))
    mapping.map(argument, value);
  for (Operation &nested : body.without_terminator())
    b.clone(nested, mapping);
  return mapping.lookupOrDefault(
      cast<YieldOp>(body.getTerminator()).getValue());
}

Value TileMask::buildAllowed(OpBuilder &b, Location loc, Value batch,
                             Value head, Value i, Value j, Value keyLen,
                             Value diagonalOffset, IRMapping mapping) const {
  ColumnBounds bounds = buildColumnBounds(b, loc, i, j, keyLen, diagonalOffset);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value allowed = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge,
                                        bounds.last, zero);
  if (bounds.first)
    allowed = arith::AndIOp::create(
        b, loc, allowed,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, bounds.first,
                              zero));
  if (Value holds = buildPredicate(b, loc, batch, head, i, j, mapping))
    allowed = arith::AndIOp::create(b, loc, allowed, holds);
  return allowed;
}
