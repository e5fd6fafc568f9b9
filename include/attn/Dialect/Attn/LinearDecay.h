//===- LinearDecay.h - linear attention's decay weights ---------*- C++ -*-===//
//
// The one formula for the decay weights of linear attention (attn.fused.
// linear, attn.tile.decay_scores, attn.tile.scale_rows): with the head's
// rate s >= 0, the weight of an integer exponent e is
//   w(e) = exp(-s · e) for e >= 0, else 0,
// a power of λ = exp(-s) <= 1, so it never overflows. A rate is valid
// when finite and >= 0 (buildIsValidDecayRate). The CPU lowering
// builds it with math.exp; the GPU emitter uses the same exponents through
// exp2 with s · log2(e) hoisted.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_LINEARDECAY_H
#define ATTN_DIALECT_ATTN_LINEARDECAY_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <limits>

namespace attn {

/// Builds w(e) = e >= 0 ? exp(-rate · e) : 0 for an index exponent `e` and
/// an f32 `rate` at the insertion point of `b`.
inline mlir::Value buildDecayWeight(mlir::OpBuilder &b, mlir::Location loc,
                                    mlir::Value rate, mlir::Value exponent) {
  using namespace mlir;
  Type f32 = b.getF32Type();
  Value asInteger =
      arith::IndexCastOp::create(b, loc, b.getI64Type(), exponent);
  Value asFloat = arith::SIToFPOp::create(b, loc, f32, asInteger);
  Value weight = math::ExpOp::create(
      b, loc,
      arith::MulFOp::create(b, loc, arith::NegFOp::create(b, loc, rate),
                            asFloat));
  Value nonNegative = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::sge, asInteger,
      arith::ConstantIntOp::create(b, loc, b.getI64Type(), 0));
  return arith::SelectOp::create(
      b, loc, nonNegative, weight,
      arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f)));
}

/// Builds whether the f32 decay rate `rate` is valid: finite and >= 0
/// (NaN fails both compares). Invalid rates make a call write nothing: the
/// CPU decomposition tests them, the GPU scan kernel counts them.
inline mlir::Value buildIsValidDecayRate(mlir::OpBuilder &b, mlir::Location loc,
                                         mlir::Value rate) {
  using namespace mlir;
  auto constant = [&](float value) -> Value {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
  };
  return arith::AndIOp::create(
      b, loc,
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, rate,
                            constant(0.0f)),
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, rate,
                            constant(std::numeric_limits<float>::infinity())));
}

} // namespace attn

#endif // ATTN_DIALECT_ATTN_LINEARDECAY_H
