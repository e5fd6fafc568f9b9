//===- LshOp.cpp - angular LSH bucket ids -----------------------*- C++ -*-===//
//
// attn.lsh: the per-token bucket id every lowering builds the same way
// (buildBucketOf) and the CPU lowering (decompose). For a token x: D and a
// rotation R: [D, nb / 2], p_c = Σ_d x_d R[d, c] accumulated in f32 in d
// order; the id is the first maximum of (p_0 .. p_{nb/2-1}, -p_0 ..
// -p_{nb/2-1}), scanned in index order with a strict comparison.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <limits>

using namespace mlir;
using namespace attn;

Value LshOp::buildBucketOf(OpBuilder &builder, Location loc, Value batch,
                           Value head, Value token, const IRMapping &mapping) {
  ImplicitLocOpBuilder b(loc, builder);
  Value input = mapping.lookupOrDefault(getInput());
  Value rotation = mapping.lookupOrDefault(getRotation());
  auto rotationType = cast<MemRefType>(getRotation().getType());
  int64_t headDim = rotationType.getDimSize(0);
  int64_t columns = rotationType.getDimSize(1);
  Type f32 = b.getF32Type(), i64 = b.getI64Type();
  auto toF32 = [&](Value value) -> Value {
    return value.getType().isF32() ? value
                                   : arith::ExtFOp::create(b, f32, value);
  };
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  // The projections, one loop-carried f32 each.
  SmallVector<Value> zeros(
      columns, arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f)));
  auto dims = scf::ForOp::create(b, index(0), index(headDim), index(1), zeros);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(dims.getBody());
    Value d = dims.getInductionVar();
    Value x = toF32(
        memref::LoadOp::create(b, input, ValueRange{batch, head, token, d}));
    SmallVector<Value> next;
    for (int64_t c = 0; c < columns; ++c) {
      Value r =
          toF32(memref::LoadOp::create(b, rotation, ValueRange{d, index(c)}));
      next.push_back(math::FmaOp::create(b, x, r, dims.getRegionIterArg(c)));
    }
    scf::YieldOp::create(b, next);
  }
  // The first maximum of (p, -p).
  Value best = arith::ConstantOp::create(
      b, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  Value bestIndex = arith::ConstantIntOp::create(b, i64, 0);
  for (int64_t k = 0; k < 2 * columns; ++k) {
    Value projection = dims.getResult(k % columns);
    Value value =
        k < columns ? projection : Value(arith::NegFOp::create(b, projection));
    Value greater =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, value, best);
    best = arith::SelectOp::create(b, greater, value, best);
    bestIndex = arith::SelectOp::create(
        b, greater, arith::ConstantIntOp::create(b, i64, k), bestIndex);
  }
  Type idType = cast<MemRefType>(getBucketIds().getType()).getElementType();
  if (idType.getIntOrFloatBitWidth() == 64)
    return bestIndex;
  return arith::TruncIOp::create(b, idType, bestIndex);
}

void LshOp::decompose(OpBuilder &builder) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(*this);
  ImplicitLocOpBuilder b(getLoc(), builder);
  Value input = getInput();
  Value zero = arith::ConstantIndexOp::create(b, 0);
  Value one = arith::ConstantIndexOp::create(b, 1);
  SmallVector<Value> upper;
  for (unsigned dim = 0; dim < 3; ++dim)
    upper.push_back(memref::DimOp::create(b, input, dim));
  scf::buildLoopNest(
      b, getLoc(), {zero, zero, zero}, upper, {one, one, one},
      [&](OpBuilder &nested, Location loc, ValueRange ivs) {
        Value id = buildBucketOf(nested, loc, ivs[0], ivs[1], ivs[2]);
        memref::StoreOp::create(nested, loc, id, getBucketIds(), ivs);
      });
  erase();
}
