//===- SoftmaxNumerics.cpp - the online softmax's scalar formulas -*- C++ -*-=//

#include "attn/Dialect/Attn/SoftmaxNumerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <limits>

using namespace mlir;

static Value f32Constant(OpBuilder &b, Location loc, float value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value attn::softmax::buildRises(OpBuilder &b, Location loc, Value oldMax,
                                Value tileMax, float threshold) {
  return arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OGT, tileMax,
      arith::AddFOp::create(b, loc, oldMax, f32Constant(b, loc, threshold)));
}

attn::softmax::RowUpdate attn::softmax::buildRowUpdate(
    OpBuilder &b, Location loc, Value oldMax, Value tileMax, Value rises,
    function_ref<Value(Value)> exp2) {
  RowUpdate update;
  Value raised = arith::MaxNumFOp::create(b, loc, oldMax, tileMax);
  update.newMax = arith::SelectOp::create(b, loc, rises, raised, oldMax);
  Value empty = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OEQ, update.newMax,
      f32Constant(b, loc, -std::numeric_limits<float>::infinity()));
  update.shift = arith::SelectOp::create(b, loc, empty,
                                         f32Constant(b, loc, 0.0f),
                                         update.newMax);
  Value one = f32Constant(b, loc, 1.0f);
  Value scaled = exp2(arith::SubFOp::create(b, loc, oldMax, update.shift));
  update.alpha = arith::SelectOp::create(b, loc, empty, one, scaled);
  return update;
}

/// Whether the row sum `sum` is 0 (no allowed key).
static Value isEmptyRow(OpBuilder &b, Location loc, Value sum) {
  return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, sum,
                               f32Constant(b, loc, 0.0f));
}

Value attn::softmax::buildInverseSum(OpBuilder &b, Location loc, Value sum) {
  Value empty = isEmptyRow(b, loc, sum);
  return arith::SelectOp::create(
      b, loc, empty, f32Constant(b, loc, 0.0f),
      arith::DivFOp::create(b, loc, f32Constant(b, loc, 1.0f), sum));
}

Value attn::softmax::buildLogSumExp(OpBuilder &b, Location loc, Value max,
                                    Value sum) {
  Value empty = isEmptyRow(b, loc, sum);
  Value lse = math::FmaOp::create(b, loc, max,
                                  f32Constant(b, loc, static_cast<float>(kLn2)),
                                  math::LogOp::create(b, loc, sum));
  return arith::SelectOp::create(
      b, loc, empty,
      f32Constant(b, loc, -std::numeric_limits<float>::infinity()), lse);
}
