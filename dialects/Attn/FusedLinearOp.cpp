//===- FusedLinearOp.cpp - linear attention's fused step and scan -*- C++ -*-//
//
// attn.fused.linear (one token range of one (batch, head) of linear
// attention with decay), its decomposition into attn.tile.* ops, the two
// tile ops it adds (decay_scores, scale_rows) and attn.linear_scan (the
// middle phase of the two-phase scheme). The chunked algorithm is
// Lightning Attention-2's (SEMANTICS.md, "Linear tiles"): per chunk of Bt
// tokens, with λ = exp(-s) and a, b' positions inside the chunk,
//   O_c  = ((Q_c K_cᵀ) ⊙ Dλ) V_c + diag(λ^(a+1)) Q_c KV,  Dλ[a,b'] = λ^(a-b')
//   KV  <- λ^r KV + (diag(λ^(r-1-b')) K_c)ᵀ V_c,           r = chunk length.
// Every factor is a non-negative power of λ <= 1, so nothing overflows for
// any s >= 0; a large s only underflows to 0.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Dialect/Attn/LinearDecay.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace attn;

/// Checks that `type` (a state buffer) has the static last extent
/// `valueDim`; `name` names the operand in the message.
static LogicalResult checkStateColumns(Operation *op, StringRef name, Type type,
                                       int64_t valueDim) {
  auto memref = cast<MemRefType>(type);
  if (memref.getDimSize(3) == valueDim)
    return success();
  return op->emitOpError() << name << " must have the value head dimension "
                           << valueDim << " as its static last extent, got "
                           << type;
}

LogicalResult FusedLinearOp::verify() {
  int64_t headDim = getHeadDim(), valueDim = getValueDim();
  if (ShapedType::isDynamic(headDim) || ShapedType::isDynamic(valueDim))
    return emitOpError() << "head dimensions must be static";
  if (cast<MemRefType>(getKey().getType()).getDimSize(3) != headDim)
    return emitOpError() << "key head dimension must equal the query's ("
                         << headDim << ")";
  if (Value output = getOutput();
      output && cast<MemRefType>(output.getType()).getDimSize(3) != valueDim)
    return emitOpError() << "output head dimension must equal the value's ("
                         << valueDim << ")";
  int64_t block = getBlock();
  if (block < 16 || block > 256 || !llvm::isPowerOf2_64(block))
    return emitOpError() << "block = " << block
                         << " must be a power of two between 16 and 256";
  for (auto [name, state] :
       {std::pair<StringRef, Value>{"state_in", getStateIn()},
        {"state_out", getStateOut()},
        {"final_state", getFinalState()}})
    if (state &&
        failed(checkStateColumns(*this, name, state.getType(), valueDim)))
      return failure();
  if (!getOutput() && !getStateOut() && !getFinalState())
    return emitOpError() << "writes nothing: give an output, state_out or "
                            "final_state";
  return success();
}

Value FusedLinearOp::buildRate(OpBuilder &builder, Location loc,
                               const IRMapping &mapping) {
  ImplicitLocOpBuilder b(loc, builder);
  if (Value decay = getDecay())
    return memref::LoadOp::create(
        b, mapping.lookupOrDefault(decay),
        ValueRange{mapping.lookupOrDefault(getHead())});
  return arith::ConstantFloatOp::create(b, b.getF32Type(), APFloat(0.0f));
}

void FusedLinearOp::decompose(OpBuilder &builder) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(*this);
  ImplicitLocOpBuilder b(getLoc(), builder);
  auto queryType = cast<MemRefType>(getQuery().getType());
  Type element = queryType.getElementType(), f32 = b.getF32Type();
  int64_t block = getBlock(), headDim = getHeadDim(), valueDim = getValueDim();
  auto alloc = [&](ArrayRef<int64_t> shape, Type type) -> Value {
    return memref::AllocaOp::create(b, MemRefType::get(shape, type));
  };
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Value queryTile = alloc({block, headDim}, element);
  Value keyTile = alloc({block, headDim}, element);
  Value valueTile = alloc({block, valueDim}, element);
  Value scores = alloc({block, block}, f32);
  Value decayedQuery = alloc({block, headDim}, f32);
  Value decayedKeysT = alloc({headDim, block}, f32);
  Value acc = alloc({block, valueDim}, f32);
  Value state = alloc({headDim, valueDim}, f32);

  Value batch = getBatch(), head = getHead();
  // Decay rates of any head negative, NaN or infinite: the step writes
  // nothing, as the GPU lowering's input check makes its output kernel do
  // (the compiled CPU function has no error channel).
  if (Value decay = getDecay()) {
    Value heads = memref::DimOp::create(b, decay, 0);
    auto check = scf::ForOp::create(
        b, index(0), heads, index(1),
        ValueRange{arith::ConstantIntOp::create(b, b.getI1Type(), 1)});
    {
      OpBuilder::InsertionGuard checkGuard(b);
      b.setInsertionPointToStart(check.getBody());
      Value valid = buildIsValidDecayRate(
          b, getLoc(),
          memref::LoadOp::create(b, decay, check.getInductionVar()));
      scf::YieldOp::create(b, ValueRange{arith::AndIOp::create(
                                  b, check.getRegionIterArg(0), valid)});
    }
    auto ifValid =
        scf::IfOp::create(b, check.getResult(0), /*withElseRegion=*/false);
    b.setInsertionPoint(ifValid.thenBlock()->getTerminator());
  }
  Value rate = buildRate(b, getLoc());
  if (Value stateIn = getStateIn())
    TileLoadOp::create(b, stateIn, batch, head, getStateInRow(), state,
                       Value());
  else
    TileFillOp::create(b, state, b.getF32FloatAttr(0.0f));

  Value tokenEnd = getTokenEnd();
  auto loop = scf::ForOp::create(b, getTokenBegin(), tokenEnd, index(block));
  {
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value chunk = loop.getInductionVar();
    Value length = arith::MinSIOp::create(
        b, index(block), arith::SubIOp::create(b, tokenEnd, chunk));
    TileLoadOp::create(b, getQuery(), batch, head, chunk, queryTile, Value());
    TileLoadOp::create(b, getKey(), batch, head, chunk, keyTile, Value());
    TileLoadOp::create(b, getValue(), batch, head, chunk, valueTile, Value());
    if (Value output = getOutput()) {
      // Inter-chunk term diag(λ^(a+1)) Q KV, then the intra-chunk tiles.
      TileFillOp::create(b, acc, b.getF32FloatAttr(0.0f));
      TileScaleRowsOp::create(b, queryTile, decayedQuery, rate, index(1),
                              b.getI64IntegerAttr(1), UnitAttr());
      TilePVOp::create(b, decayedQuery, state, acc);
      TileQKOp::create(b, queryTile, keyTile, scores, b.getF32FloatAttr(1.0f));
      TileDecayScoresOp::create(b, scores, rate);
      TilePVOp::create(b, scores, valueTile, acc);
      TileStoreOp::create(b, acc, output, batch, head, chunk, Value());
    }
    // KV <- λ^r KV + (diag(λ^(r-1-b')) K)ᵀ V.
    TileScaleRowsOp::create(b, state, state, rate, length,
                            b.getI64IntegerAttr(0), UnitAttr());
    TileScaleRowsOp::create(b, keyTile, decayedKeysT, rate,
                            arith::SubIOp::create(b, length, index(1)),
                            b.getI64IntegerAttr(-1), b.getUnitAttr());
    TilePVOp::create(b, decayedKeysT, valueTile, state);
  }
  if (Value stateOut = getStateOut())
    TileStoreOp::create(b, state, stateOut, batch, head, getStateOutRow(),
                        Value());
  if (Value finalState = getFinalState()) {
    Value atEnd =
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tokenEnd,
                              memref::DimOp::create(b, getQuery(), 2));
    auto ifAtEnd = scf::IfOp::create(b, atEnd, /*withElseRegion=*/false);
    b.setInsertionPointToStart(ifAtEnd.thenBlock());
    TileStoreOp::create(b, state, finalState, batch, head, index(0), Value());
  }
  erase();
}

//===----------------------------------------------------------------------===//
// attn.linear_scan
//===----------------------------------------------------------------------===//

LogicalResult LinearScanOp::verify() {
  if (std::optional<int64_t> length = getConstantIntValue(getSegmentLength());
      length && *length < 1)
    return emitOpError() << "segment length " << *length << " must be positive";
  if (getHeadDim() < 1)
    return emitOpError() << "head_dim = " << getHeadDim()
                         << " must be positive";
  auto states = cast<MemRefType>(getStates().getType());
  if (Value initial = getInitial()) {
    auto initialType = cast<MemRefType>(initial.getType());
    if (initialType.getDimSize(3) != states.getDimSize(3))
      return emitOpError() << "initial state and states must have the same "
                              "last extent";
  }
  return success();
}

void LinearScanOp::buildElementScan(OpBuilder &builder, Location loc,
                                    Value batch, Value head, Value row,
                                    Value col, const IRMapping &mapping) {
  ImplicitLocOpBuilder b(loc, builder);
  Type f32 = b.getF32Type();
  Value states = mapping.lookupOrDefault(getStates());
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  auto f32Constant = [&](float value) -> Value {
    return arith::ConstantFloatOp::create(b, cast<FloatType>(f32),
                                          APFloat(value));
  };
  Value headDim = index(getHeadDim());
  Value segments =
      arith::DivUIOp::create(b, memref::DimOp::create(b, states, 2), headDim);
  Value carry = f32Constant(0.0f);
  if (Value initial = getInitial())
    carry = memref::LoadOp::create(b, mapping.lookupOrDefault(initial),
                                   ValueRange{batch, head, row, col});
  // λ^L = exp(-s · L), L the segment length.
  Value segmentDecay = f32Constant(1.0f);
  if (Value decay = getDecay()) {
    Value rate =
        memref::LoadOp::create(b, mapping.lookupOrDefault(decay), head);
    Value length = arith::SIToFPOp::create(
        b, f32,
        arith::IndexCastOp::create(
            b, b.getI64Type(), mapping.lookupOrDefault(getSegmentLength())));
    segmentDecay = math::ExpOp::create(
        b, arith::MulFOp::create(b, arith::NegFOp::create(b, rate), length));
  }
  Value last = arith::SubIOp::create(b, segments, index(1));
  auto loop =
      scf::ForOp::create(b, index(0), segments, index(1), ValueRange{carry});
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value segment = loop.getInductionVar();
  Value current = loop.getRegionIterArg(0);
  Value stateRow =
      arith::AddIOp::create(b, arith::MulIOp::create(b, segment, headDim), row);
  SmallVector<Value, 4> at{batch, head, stateRow, col};
  // The last segment's slot holds no increment (nothing wrote it).
  Value increment = arith::SelectOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, segment, last),
      memref::LoadOp::create(b, states, at), f32Constant(0.0f));
  memref::StoreOp::create(b, current, states, at);
  Value next = arith::AddFOp::create(
      b, arith::MulFOp::create(b, segmentDecay, current), increment);
  scf::YieldOp::create(b, next);
}

void LinearScanOp::decompose(OpBuilder &builder) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(*this);
  ImplicitLocOpBuilder b(getLoc(), builder);
  Value states = getStates();
  Value zero = arith::ConstantIndexOp::create(b, 0);
  Value one = arith::ConstantIndexOp::create(b, 1);
  SmallVector<Value> upper{memref::DimOp::create(b, states, 0),
                           memref::DimOp::create(b, states, 1),
                           arith::ConstantIndexOp::create(b, getHeadDim()),
                           memref::DimOp::create(b, states, 3)};
  SmallVector<Value> ivs;
  for (Value bound : upper) {
    auto loop = scf::ForOp::create(b, zero, bound, one);
    b.setInsertionPointToStart(loop.getBody());
    ivs.push_back(loop.getInductionVar());
  }
  buildElementScan(b, getLoc(), ivs[0], ivs[1], ivs[2], ivs[3]);
  erase();
}

//===----------------------------------------------------------------------===//
// attn.tile.decay_scores and attn.tile.scale_rows
//===----------------------------------------------------------------------===//

LogicalResult TileDecayScoresOp::verify() {
  auto type = cast<MemRefType>(getScores().getType());
  if (type.getRank() != 2 || !type.hasStaticShape() ||
      type.getDimSize(0) != type.getDimSize(1))
    return emitOpError() << "scores must be a static square 2-D tile, got "
                         << type;
  return success();
}

LogicalResult TileScaleRowsOp::verify() {
  auto source = cast<MemRefType>(getSource().getType());
  auto dest = cast<MemRefType>(getDest().getType());
  if (source.getRank() != 2 || dest.getRank() != 2 ||
      !source.hasStaticShape() || !dest.hasStaticShape())
    return emitOpError() << "source and dest must be static 2-D tiles";
  SmallVector<int64_t> expected(source.getShape());
  if (getTranspose()) {
    std::swap(expected[0], expected[1]);
    if (getSource() == getDest())
      return emitOpError() << "a transposed scale needs a separate dest";
  }
  if (dest.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError() << "dest must be [" << expected[0] << ", "
                         << expected[1] << "], got " << dest;
  return success();
}
