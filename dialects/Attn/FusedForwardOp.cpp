//===- FusedForwardOp.cpp - the fused attention step ------------*- C++ -*-===//
//
// attn.fused.forward: verifier, the values every lowering shares (problem
// extents, the partial-tile test) and its one decomposition into
// attn.tile.* ops, FlashAttention-2 over the scheduled kv-tiles:
//
//   Qt = load Q[b, h, q0 : q0 + Bq]                  (rows >= Nq are zero)
//        (with orders: rows qo[b, h, q0 ..], keys ko[b, hk, k0 ..], and the
//        mask on those original positions)
//   m = -inf, l = 0, acc = 0
//   for each position p of the schedule:            (buildProblem)
//     kt = the kv-tile at p                         (buildTileAt)
//     k0 = kt · Bk
//     Kt = load K[b, hk, k0 :], Vt = load V[b, hk, k0 :]   (hk = kv_head)
//     S = (scale · log2 e) · Qt Ktᵀ
//     if buildIsPartialTile(p, k0): S[r, c] = -inf where
//                                   (b, h, q0 + r, k0 + c) is not allowed
//     with nm(n of m): in each row's key groups of m, all but the n
//                      largest scores become -inf     (attn.tile.prune)
//     online softmax (log2 domain, rescale_threshold); acc += P Vt
//   acc = acc / l, lse = m ln 2 + ln l               (0 and -inf if l = 0)
//   store acc -> O[b, h, q0 :], lse -> LSE[b, h, q0 :]   (rows < Nq)
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Dialect/Attn/InputChecks.h"
#include "attn/Dialect/Attn/SoftmaxNumerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace attn;

LogicalResult FusedForwardOp::verify() {
  for (auto [name, size] : {std::pair<StringRef, int64_t>{"block_q",
                                                          getBlockQ()},
                            {"block_k", getBlockK()}})
    if (size < 1 || size > 1024 || !llvm::isPowerOf2_64(size))
      return emitOpError() << name << " = " << size
                           << " must be a power of two between 1 and 1024";
  double scale = getScale().convertToDouble();
  if (!std::isfinite(scale) || scale <= 0.0)
    return emitOpError() << "scale must be finite and positive";
  if (failed(verifyRescaleThreshold(*this, getRescaleThresholdAttr())))
    return failure();
  auto query = cast<MemRefType>(getQuery().getType());
  for (Value operand : {getKey(), getValue(), getOutput()})
    if (cast<MemRefType>(operand.getType()).getElementType() !=
        query.getElementType())
      return emitOpError() << "query, key, value and output must share one "
                              "element type";
  if (ShapedType::isDynamic(getHeadDim()) ||
      ShapedType::isDynamic(getValueDim()))
    return emitOpError() << "head dimensions must be static";
  if (cast<MemRefType>(getKey().getType()).getDimSize(3) != getHeadDim() ||
      cast<MemRefType>(getOutput().getType()).getDimSize(3) != getValueDim())
    return emitOpError() << "key must have the query's head dimension and "
                            "output the value's";
  if (failed(verifyBandSchedule(*this, getSchedule(), getBandLower(),
                                getBandUpper())))
    return failure();
  bool isList = getSchedule() == ScheduleKind::List;
  if (isList != static_cast<bool>(getTileCounts()))
    return emitOpError() << (isList ? "schedule 'list' needs kv_list(counts, "
                                      "indices)"
                                    : "kv_list needs schedule 'list'");
  if (isList == static_cast<bool>(getKvBegin()))
    return emitOpError() << (isList ? "schedule 'list' takes no kv_tiles"
                                    : "schedules 'dense' and 'range' need "
                                      "kv_tiles(begin, end)");
  if (getQueryOrder() && !isList)
    return emitOpError() << "orders(...) need schedule 'list'";
  if (getSortedInputs() && !getQueryOrder())
    return emitOpError() << "sorted_inputs needs orders(...)";
  if (static_cast<bool>(getQueryClasses()) != getOrderClasses().has_value() ||
      (getQueryClasses() && !getQueryOrder()))
    return emitOpError() << "classes(...) need orders(...) and "
                            "order_classes(...)";
  if (failed(verifyOptionalPrune(*this, getNmKeep(), getNmGroup())))
    return failure();
  if (getNmKeep()) {
    if (getBlockK() % *getNmGroup() != 0)
      return emitOpError() << "block_k = " << getBlockK()
                           << " must be a multiple of the N:M group size "
                           << *getNmGroup()
                           << ", so that no group spans two kv-tiles";
    if (getQueryOrder())
      return emitOpError() << "an N:M prune over sorted tokens (orders(...)) "
                              "is not supported: its groups are of original "
                              "key positions";
  }
  if (isList && cast<MemRefType>(getTileCounts().getType()).getDimSize(3) != 2)
    return emitOpError() << "kv_list counts must have a last extent of 2 "
                            "(full and partial tiles), got "
                         << getTileCounts().getType();
  return success();
}

LogicalResult FusedForwardOp::verifyRegions() {
  return verifyPredicateRegion(*this, getPredicate(),
                               /*allowIndexPair=*/false);
}

FusedForwardOp::Problem FusedForwardOp::buildProblem(OpBuilder &b,
                                                     Location loc,
                                                     const IRMapping &mapping) {
  auto operand = [&](Value value) { return mapping.lookupOrDefault(value); };
  Value query = operand(getQuery()), key = operand(getKey());
  Problem problem;
  problem.queryLen = memref::DimOp::create(b, loc, query, 2);
  problem.keyLen = memref::DimOp::create(b, loc, key, 2);
  problem.kvHead = operand(getKvHead());
  problem.diagonalOffset =
      arith::SubIOp::create(b, loc, problem.keyLen, problem.queryLen);
  Value queryEnd = arith::MinUIOp::create(
      b, loc,
      arith::AddIOp::create(
          b, loc, operand(getQueryStart()),
          arith::ConstantIndexOp::create(b, loc, getBlockQ())),
      problem.queryLen);
  problem.lastRow = arith::SubIOp::create(
      b, loc, queryEnd, arith::ConstantIndexOp::create(b, loc, 1));
  if (getSchedule() != ScheduleKind::List) {
    problem.positionBegin = operand(getKvBegin());
    problem.positionEnd = operand(getKvEnd());
    return problem;
  }
  // The list coordinates: an extent of 1 shares the lists along its axis.
  Value counts = operand(getTileCounts());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  auto listCoordinate = [&](unsigned dim, Value coordinate) -> Value {
    Value shared =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                              memref::DimOp::create(b, loc, counts, dim),
                              arith::ConstantIndexOp::create(b, loc, 1));
    return arith::SelectOp::create(b, loc, shared, zero, coordinate);
  };
  problem.tileIndices = operand(getTileIndices());
  problem.listBatch = listCoordinate(0, operand(getBatch()));
  problem.listHead = listCoordinate(1, operand(getHead()));
  problem.listQueryTile = arith::DivUIOp::create(
      b, loc, operand(getQueryStart()),
      arith::ConstantIndexOp::create(b, loc, getBlockQ()));
  auto count = [&](int64_t which) -> Value {
    Value loaded = memref::LoadOp::create(
        b, loc, counts,
        ValueRange{problem.listBatch, problem.listHead, problem.listQueryTile,
                   arith::ConstantIndexOp::create(b, loc, which)});
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), loaded);
  };
  problem.fullCount = count(0);
  problem.positionBegin = zero;
  problem.positionEnd =
      arith::AddIOp::create(b, loc, problem.fullCount, count(1));
  return problem;
}

Value FusedForwardOp::buildTileAt(OpBuilder &b, Location loc,
                                  const Problem &problem, Value position) {
  if (getSchedule() != ScheduleKind::List)
    return position;
  Value last = arith::SubIOp::create(b, loc, problem.positionEnd,
                                     arith::ConstantIndexOp::create(b, loc, 1));
  Value entry = memref::LoadOp::create(
      b, loc, problem.tileIndices,
      ValueRange{problem.listBatch, problem.listHead, problem.listQueryTile,
                 arith::MinUIOp::create(b, loc, position, last)});
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), entry);
}

Value FusedForwardOp::buildIsPartialTile(OpBuilder &b, Location loc,
                                         const Problem &problem, Value position,
                                         Value queryStart, Value keyStart) {
  if (getSchedule() == ScheduleKind::List)
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, position,
                                 problem.fullCount);
  if (getMask().hasPredicate())
    return arith::ConstantIntOp::create(b, loc, 1, 1);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  Value keyEnd = arith::AddIOp::create(b, loc, keyStart, index(getBlockK()));
  Value partial = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt,
                                        keyEnd, problem.keyLen);
  if (std::optional<int64_t> upper = getBandUpper()) {
    // The largest key of the tile against the tightest upper bound (the
    // first row).
    Value lastKey = arith::SubIOp::create(b, loc, keyEnd, index(1));
    Value bound = arith::AddIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, queryStart, problem.diagonalOffset),
        index(*upper));
    partial = arith::OrIOp::create(
        b, loc, partial,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, lastKey,
                              bound));
  }
  if (std::optional<int64_t> lower = getBandLower()) {
    // The smallest key of the tile against the tightest lower bound (the
    // last row).
    Value bound = arith::AddIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, problem.lastRow, problem.diagonalOffset),
        index(*lower));
    partial = arith::OrIOp::create(
        b, loc, partial,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, keyStart,
                              bound));
  }
  return partial;
}

void attn::enterIfCountsZero(OpBuilder &builder, Location loc,
                             ValueRange counts) {
  ImplicitLocOpBuilder b(loc, builder);
  Value valid;
  for (Value count : counts) {
    Value value = memref::LoadOp::create(
        b, count, ValueRange{arith::ConstantIndexOp::create(b, 0)});
    Value zero = arith::CmpIOp::create(
        b, arith::CmpIPredicate::eq, value,
        arith::ConstantIntOp::create(b, b.getI32Type(), 0));
    valid = valid ? arith::AndIOp::create(b, valid, zero) : zero;
  }
  if (!valid)
    return;
  auto ifValid = scf::IfOp::create(b, valid, /*withElseRegion=*/false);
  builder.setInsertionPoint(ifValid.thenBlock()->getTerminator());
}

void FusedForwardOp::enterIfInputsValid(OpBuilder &builder, Location loc,
                                        const IRMapping &mapping) {
  SmallVector<Value> counts;
  for (Value count : getInvalidCounts())
    counts.push_back(mapping.lookupOrDefault(count));
  enterIfCountsZero(builder, loc, counts);
}

scf::ForOp FusedForwardOp::decompose(OpBuilder &builder) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(*this);
  ImplicitLocOpBuilder b(getLoc(), builder);
  auto queryType = cast<MemRefType>(getQuery().getType());
  Type element = queryType.getElementType(), f32 = b.getF32Type();
  int64_t blockQ = getBlockQ(), blockK = getBlockK();
  int64_t headDim = getHeadDim(), valueDim = getValueDim();
  auto alloc = [&](ArrayRef<int64_t> shape, Type type) -> Value {
    return memref::AllocaOp::create(b, MemRefType::get(shape, type));
  };
  Value queryTile = alloc({blockQ, headDim}, element);
  Value keyTile = alloc({blockK, headDim}, element);
  Value valueTile = alloc({blockK, valueDim}, element);
  Value scores = alloc({blockQ, blockK}, f32);
  Value rowMax = alloc({blockQ}, f32);
  Value rowSum = alloc({blockQ}, f32);
  Value acc = alloc({blockQ, valueDim}, f32);

  // With invalid-input counts, everything below runs only when all are 0.
  enterIfInputsValid(b, getLoc());
  Problem problem = buildProblem(b, getLoc());
  Value batch = getBatch(), head = getHead(), queryStart = getQueryStart();
  Value queryOrder = getQueryOrder(), keyOrder = getKeyOrder();
  Value queryLoadOrder = getQueryLoadOrder(), keyLoadOrder = getKeyLoadOrder();
  TileLoadOp::create(b, getQuery(), batch, head, queryStart, queryTile,
                     queryLoadOrder);
  TileFillOp::create(
      b, rowMax, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  TileFillOp::create(b, rowSum, b.getF32FloatAttr(0.0f));
  TileFillOp::create(b, acc, b.getF32FloatAttr(0.0f));

  auto loop = scf::ForOp::create(b, problem.positionBegin, problem.positionEnd,
                                 arith::ConstantIndexOp::create(b, 1));
  {
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value position = loop.getInductionVar();
    Value keyStart =
        arith::MulIOp::create(b, buildTileAt(b, getLoc(), problem, position),
                              arith::ConstantIndexOp::create(b, blockK));
    TileLoadOp::create(b, getKey(), batch, problem.kvHead, keyStart, keyTile,
                       keyLoadOrder);
    TileLoadOp::create(b, getValue(), batch, problem.kvHead, keyStart,
                       valueTile, keyLoadOrder);
    TileQKOp::create(b, queryTile, keyTile, scores,
                     b.getF32FloatAttr(static_cast<float>(
                         getScale().convertToDouble() * softmax::kLog2E)));
    Value partial = buildIsPartialTile(b, getLoc(), problem, position,
                                       queryStart, keyStart);
    auto ifPartial = scf::IfOp::create(b, partial, /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard ifGuard(b);
      b.setInsertionPointToStart(ifPartial.thenBlock());
      auto mask = TileMaskOp::create(b, scores, batch, head, queryStart,
                                     keyStart, problem.queryLen, problem.keyLen,
                                     queryOrder, keyOrder, getQueryClasses(),
                                     getKeyClasses(), getBandLowerAttr(),
                                     getBandUpperAttr(), getOrderClassesAttr());
      IRMapping mapping;
      getPredicate().cloneInto(&mask.getPredicate(), mapping);
    }
    if (getNmKeep())
      TilePruneOp::create(b, scores, getNmKeepAttr(), getNmGroupAttr());
    TileOnlineSoftmaxOp::create(b, scores, rowMax, rowSum, acc,
                                getRescaleThresholdAttr());
    TilePVOp::create(b, scores, valueTile, acc);
  }
  TileFinalizeOp::create(b, acc, rowMax, rowSum);
  TileStoreOp::create(b, acc, getOutput(), batch, head, queryStart, queryOrder);
  if (Value lse = getLse())
    TileStoreOp::create(b, rowMax, lse, batch, head, queryStart, queryOrder);
  erase();
  return loop;
}
