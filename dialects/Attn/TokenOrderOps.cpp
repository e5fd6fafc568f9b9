//===- TokenOrderOps.cpp - sorted tokens for hash and drop masks -*- C++
//-*-===//
//
// attn.token_order and attn.ordered_tile_lists: verifiers, the builders
// every lowering shares (the class of a key, tile summaries, the binary
// search, the walks that append visited kv-tiles) and the CPU lowerings
// (decompose).
//
// A hash-bucket or keep-flag attention runs over tokens sorted by class
// (stable, so positions ascend within a class). Sorting makes the allowed
// pairs cluster: a q-tile of one class needs only the kv-tiles of that
// class whose positions are not all in its future, so the list schedule
// visits about 1/nb of the causal tiles, and most of them are full.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

using namespace mlir;
using namespace attn;

Value attn::buildOriginalRow(OpBuilder &b, Location loc, Value order,
                             Value batch, Value head, Value sortedRow) {
  Value rows = memref::DimOp::create(b, loc, order, 2);
  Value last = arith::SubIOp::create(b, loc, rows,
                                     arith::ConstantIndexOp::create(b, loc, 1));
  Value clamped = arith::MinSIOp::create(b, loc, sortedRow, last);
  Value row =
      memref::LoadOp::create(b, loc, order, ValueRange{batch, head, clamped});
  return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), row);
}

/// Builds `for i in [0, upper) { body(i) }` at the insertion point of `b`
/// (the scalar loops of the CPU lowerings).
static void forEachIndex(ImplicitLocOpBuilder &b, Value upper,
                         function_ref<void(Value)> body) {
  auto loop = scf::ForOp::create(b, arith::ConstantIndexOp::create(b, 0), upper,
                                 arith::ConstantIndexOp::create(b, 1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  body(loop.getInductionVar());
}

//===----------------------------------------------------------------------===//
// TokenOrderOp
//===----------------------------------------------------------------------===//

/// Checks that `order` has the static extents of `keys`.
static LogicalResult checkLikeKeys(Operation *op, StringRef name, Type order,
                                   Type keys) {
  auto orderType = cast<MemRefType>(order);
  auto keysType = cast<MemRefType>(keys);
  for (unsigned dim = 0; dim < 3; ++dim)
    if (!orderType.isDynamicDim(dim) && !keysType.isDynamicDim(dim) &&
        orderType.getDimSize(dim) != keysType.getDimSize(dim))
      return op->emitOpError() << name << " must have the extents of keys ("
                               << keys << "), got " << order;
  return success();
}

LogicalResult TokenOrderOp::verify() {
  int64_t classes = getClasses();
  if (classes < 1 || classes > kMaxOrderClasses)
    return emitOpError() << "classes must lie in [1, " << kMaxOrderClasses
                         << "], got " << classes;
  if (getKeepFlags() && classes != 1)
    return emitOpError() << "keep_flags needs classes(1), got " << classes;
  if (getKeepFlags() && getInvalidCount())
    return emitOpError() << "count_invalid needs bucket ids: every keep flag "
                            "is valid";
  if (failed(checkLikeKeys(*this, "order", getOrder().getType(),
                           getKeys().getType())) ||
      failed(checkLikeKeys(*this, "sorted_classes",
                           getSortedClasses().getType(), getKeys().getType())))
    return failure();
  return success();
}

Value TokenOrderOp::buildClassOf(OpBuilder &b, Location loc, Value key) {
  return buildTokenClass(b, loc, key, getClasses(), getKeepFlags());
}

Value attn::buildTokenClass(OpBuilder &builder, Location loc, Value key,
                            int64_t classCount, bool keepFlags) {
  ImplicitLocOpBuilder b(loc, builder);
  Type i64 = b.getI64Type(), i32 = b.getI32Type();
  Value wide = key;
  if (key.getType().isInteger(1))
    wide = arith::ExtUIOp::create(b, i64, key);
  else if (!key.getType().isInteger(64))
    wide = arith::ExtSIOp::create(b, i64, key);
  if (keepFlags) {
    // Kept (non-zero) tokens are class 0, dropped ones class 1.
    Value dropped =
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, wide,
                              arith::ConstantIntOp::create(b, i64, 0));
    return arith::ExtUIOp::create(b, i32, dropped);
  }
  // An id outside [0, classes) (one unsigned compare) is class `classes`.
  Value classes = arith::ConstantIntOp::create(b, i64, classCount);
  Value inRange =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, wide, classes);
  return arith::TruncIOp::create(
      b, i32, arith::SelectOp::create(b, inRange, wide, classes));
}

void TokenOrderOp::decompose(OpBuilder &builder) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(*this);
  ImplicitLocOpBuilder b(getLoc(), builder);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Value zero = index(0), one = index(1);
  Value keys = getKeys(), order = getOrder(), sorted = getSortedClasses();
  Value batches = memref::DimOp::create(b, keys, 0);
  Value heads = memref::DimOp::create(b, keys, 1);
  Value tokens = memref::DimOp::create(b, keys, 2);
  int64_t slots = getClasses() + 1;
  // The class counts, then each class's next slot: on the heap, since a
  // hash mask may have many buckets.
  Value counts =
      memref::AllocOp::create(b, MemRefType::get({slots}, b.getIndexType()));
  auto classAt = [&](Value batch, Value head, Value token) -> Value {
    Value key = memref::LoadOp::create(b, keys, ValueRange{batch, head, token});
    return buildClassOf(b, getLoc(), key);
  };
  // The count of invalid ids: the tokens of class `classes`, summed over
  // every (b, h).
  Value invalidCount = getInvalidCount();
  if (invalidCount)
    memref::StoreOp::create(b,
                            arith::ConstantIntOp::create(b, b.getI32Type(), 0),
                            invalidCount, zero);
  forEachIndex(b, batches, [&](Value batch) {
    forEachIndex(b, heads, [&](Value head) {
      forEachIndex(b, index(slots), [&](Value slot) {
        memref::StoreOp::create(b, zero, counts, slot);
      });
      forEachIndex(b, tokens, [&](Value token) {
        Value slot = arith::IndexCastUIOp::create(b, b.getIndexType(),
                                                  classAt(batch, head, token));
        Value count = memref::LoadOp::create(b, counts, slot);
        memref::StoreOp::create(b, arith::AddIOp::create(b, count, one), counts,
                                slot);
      });
      if (invalidCount) {
        Value invalid = memref::LoadOp::create(b, counts, index(getClasses()));
        Value total = memref::LoadOp::create(b, invalidCount, zero);
        memref::StoreOp::create(
            b,
            arith::AddIOp::create(
                b, total,
                arith::IndexCastOp::create(b, b.getI32Type(), invalid)),
            invalidCount, zero);
      }
      // Exclusive prefix sums: the first sorted position of each class.
      auto scan = scf::ForOp::create(b, zero, index(slots), one, zero);
      {
        OpBuilder::InsertionGuard loopGuard(b);
        b.setInsertionPointToStart(scan.getBody());
        Value slot = scan.getInductionVar();
        Value running = scan.getRegionIterArg(0);
        Value count = memref::LoadOp::create(b, counts, slot);
        memref::StoreOp::create(b, running, counts, slot);
        scf::YieldOp::create(
            b, ValueRange{arith::AddIOp::create(b, running, count)});
      }
      // In position order, each token takes its class's next slot.
      forEachIndex(b, tokens, [&](Value token) {
        Value tokenClass = classAt(batch, head, token);
        Value slot =
            arith::IndexCastUIOp::create(b, b.getIndexType(), tokenClass);
        Value position = memref::LoadOp::create(b, counts, slot);
        memref::StoreOp::create(
            b, arith::IndexCastOp::create(b, b.getI32Type(), token), order,
            ValueRange{batch, head, position});
        memref::StoreOp::create(b, tokenClass, sorted,
                                ValueRange{batch, head, position});
        memref::StoreOp::create(b, arith::AddIOp::create(b, position, one),
                                counts, slot);
      });
    });
  });
  memref::DeallocOp::create(b, counts);
  erase();
}

//===----------------------------------------------------------------------===//
// GatherRowsOp
//===----------------------------------------------------------------------===//

LogicalResult GatherRowsOp::verify() {
  auto source = cast<MemRefType>(getSource().getType());
  auto order = cast<MemRefType>(getOrder().getType());
  for (unsigned dim = 0; dim < 3; ++dim)
    if (!ShapedType::isDynamic(source.getDimSize(dim)) &&
        !ShapedType::isDynamic(order.getDimSize(dim)) &&
        source.getDimSize(dim) != order.getDimSize(dim))
      return emitOpError() << "order must have the extents [B, H, N] of the "
                              "rows, got "
                           << order << " for " << source;
  return success();
}

void GatherRowsOp::decompose(OpBuilder &builder) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(*this);
  ImplicitLocOpBuilder b(getLoc(), builder);
  Value source = getSource(), target = getTarget();
  SmallVector<Value, 4> extents;
  for (unsigned dim = 0; dim < 4; ++dim)
    extents.push_back(memref::DimOp::create(b, source, dim));
  forEachIndex(b, extents[0], [&](Value batch) {
    forEachIndex(b, extents[1], [&](Value head) {
      forEachIndex(b, extents[2], [&](Value sorted) {
        Value row = arith::IndexCastUIOp::create(
            b, b.getIndexType(),
            memref::LoadOp::create(b, getOrder(),
                                   ValueRange{batch, head, sorted}));
        forEachIndex(b, extents[3], [&](Value col) {
          Value element = memref::LoadOp::create(
              b, source, ValueRange{batch, head, row, col});
          memref::StoreOp::create(b, element, target,
                                  ValueRange{batch, head, sorted, col});
        });
      });
    });
  });
  erase();
}

//===----------------------------------------------------------------------===//
// OrderedTileListsOp
//===----------------------------------------------------------------------===//

LogicalResult OrderedTileListsOp::verify() {
  int64_t classes = getClasses();
  if (classes < 1 || classes > kMaxOrderClasses)
    return emitOpError() << "classes must lie in [1, " << kMaxOrderClasses
                         << "], got " << classes;
  for (auto [name, size] :
       {std::pair<StringRef, int64_t>{"block_q", getBlockQ()},
        {"block_k", getBlockK()}})
    if (size < 1 || size > 1024 || !llvm::isPowerOf2_64(size))
      return emitOpError() << name << " = " << size
                           << " must be a power of two between 1 and 1024";
  if (failed(verifyBand(*this, getBandLower(), getBandUpper())))
    return failure();
  auto extentOf = [](Value value, unsigned dim) {
    return cast<MemRefType>(value.getType()).getDimSize(dim);
  };
  if (extentOf(getTileCounts(), 3) != 2)
    return emitOpError() << "counts must have a last extent of 2 (full and "
                            "partial tiles), got "
                         << getTileCounts().getType();
  if (extentOf(getKeyTiles(), 3) != 4)
    return emitOpError() << "summaries must have a last extent of 4 (class "
                            "and position ranges), got "
                         << getKeyTiles().getType();
  return success();
}

OrderedTileListsOp::TileSummary
OrderedTileListsOp::buildSummary(OpBuilder &builder, Location loc, Value order,
                                 Value classes, Value batch, Value head,
                                 Value begin, Value end) {
  ImplicitLocOpBuilder b(loc, builder);
  Type i64 = b.getI64Type();
  auto classAt = [&](Value token) -> Value {
    return arith::ExtUIOp::create(
        b, i64,
        memref::LoadOp::create(b, classes, ValueRange{batch, head, token}));
  };
  Value one = arith::ConstantIndexOp::create(b, 1);
  TileSummary summary;
  // Classes are sorted: the first and last token hold the extremes.
  summary.minClass = classAt(begin);
  summary.maxClass = classAt(arith::SubIOp::create(b, end, one));
  // Positions ascend only within a class: a loop.
  auto loop = scf::ForOp::create(
      b, begin, end, one,
      ValueRange{arith::ConstantIntOp::create(
                     b, i64, std::numeric_limits<int64_t>::max()),
                 arith::ConstantIntOp::create(b, i64, -1)});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value position = arith::ExtUIOp::create(
        b, i64,
        memref::LoadOp::create(
            b, order, ValueRange{batch, head, loop.getInductionVar()}));
    scf::YieldOp::create(
        b, ValueRange{
               arith::MinSIOp::create(b, loop.getRegionIterArg(0), position),
               arith::MaxSIOp::create(b, loop.getRegionIterArg(1), position)});
  }
  summary.minPosition = loop.getResult(0);
  summary.maxPosition = loop.getResult(1);
  return summary;
}

OrderedTileListsOp::TileClass OrderedTileListsOp::buildTileClass(
    OpBuilder &builder, Location loc, const TileSummary &query,
    const TileSummary &key, Value keyTileWhole, Value diagonalOffset) {
  ImplicitLocOpBuilder b(loc, builder);
  Type i64 = b.getI64Type();
  auto constant = [&](int64_t value) -> Value {
    return arith::ConstantIntOp::create(b, i64, value);
  };
  auto compare = [&](arith::CmpIPredicate predicate, Value lhs, Value rhs) {
    return arith::CmpIOp::create(b, predicate, lhs, rhs).getResult();
  };
  auto both = [&](Value lhs, Value rhs) {
    return arith::AndIOp::create(b, lhs, rhs).getResult();
  };
  // A shared class below `classes`.
  Value low = arith::MaxSIOp::create(b, query.minClass, key.minClass);
  Value high = arith::MinSIOp::create(b, query.maxClass, key.maxClass);
  Value sharesClass =
      both(compare(arith::CmpIPredicate::sle, low, high),
           compare(arith::CmpIPredicate::slt, low, constant(getClasses())));
  // The deltas j - (i + off) of the tile's pairs lie in [minDelta, maxDelta].
  Value offset = arith::IndexCastOp::create(b, i64, diagonalOffset);
  Value minDelta = arith::SubIOp::create(
      b, key.minPosition, arith::AddIOp::create(b, query.maxPosition, offset));
  Value maxDelta = arith::SubIOp::create(
      b, key.maxPosition, arith::AddIOp::create(b, query.minPosition, offset));
  Value trueValue = arith::ConstantIntOp::create(b, 1, 1);
  Value meetsBand = trueValue, insideBand = trueValue;
  if (std::optional<int64_t> upper = getBandUpper()) {
    meetsBand = both(meetsBand, compare(arith::CmpIPredicate::sle, minDelta,
                                        constant(*upper)));
    insideBand = both(insideBand, compare(arith::CmpIPredicate::sle, maxDelta,
                                          constant(*upper)));
  }
  if (std::optional<int64_t> lower = getBandLower()) {
    meetsBand = both(meetsBand, compare(arith::CmpIPredicate::sge, maxDelta,
                                        constant(*lower)));
    insideBand = both(insideBand, compare(arith::CmpIPredicate::sge, minDelta,
                                          constant(*lower)));
  }
  TileClass result;
  result.visited = both(sharesClass, meetsBand);
  if (getPartialOnly()) {
    result.full = arith::ConstantIntOp::create(b, 0, 1);
    return result;
  }
  // One class on both sides, the same.
  Value oneClass = both(
      both(compare(arith::CmpIPredicate::eq, query.minClass, query.maxClass),
           compare(arith::CmpIPredicate::eq, key.minClass, key.maxClass)),
      compare(arith::CmpIPredicate::eq, query.minClass, key.minClass));
  result.full =
      both(both(result.visited, oneClass), both(insideBand, keyTileWhole));
  return result;
}

Value OrderedTileListsOp::buildFirstKeyTile(OpBuilder &builder, Location loc,
                                            Value batch, Value kvHead,
                                            Value keyTiles, Value minClass,
                                            const IRMapping &mapping) {
  ImplicitLocOpBuilder b(loc, builder);
  Value summaries = mapping.lookupOrDefault(getKeyTiles());
  Value one = arith::ConstantIndexOp::create(b, 1);
  Value maxClassSlot = one;
  // [low, high) holds the answer; halve it until it is empty.
  Type indexType = b.getIndexType();
  auto search = scf::WhileOp::create(
      b, TypeRange{indexType, indexType},
      ValueRange{arith::ConstantIndexOp::create(b, 0), keyTiles});
  {
    OpBuilder::InsertionGuard guard(b);
    Block *before = b.createBlock(&search.getBefore(), {},
                                  {indexType, indexType}, {loc, loc});
    b.setInsertionPointToStart(before);
    scf::ConditionOp::create(b,
                             arith::CmpIOp::create(b, arith::CmpIPredicate::ult,
                                                   before->getArgument(0),
                                                   before->getArgument(1)),
                             before->getArguments());
    Block *after = b.createBlock(&search.getAfter(), {}, {indexType, indexType},
                                 {loc, loc});
    b.setInsertionPointToStart(after);
    Value low = after->getArgument(0), high = after->getArgument(1);
    Value middle =
        arith::ShRUIOp::create(b, arith::AddIOp::create(b, low, high), one);
    Value maxClass = arith::ExtUIOp::create(
        b, b.getI64Type(),
        memref::LoadOp::create(
            b, summaries, ValueRange{batch, kvHead, middle, maxClassSlot}));
    Value below =
        arith::CmpIOp::create(b, arith::CmpIPredicate::slt, maxClass, minClass);
    scf::YieldOp::create(
        b, ValueRange{arith::SelectOp::create(
                          b, below, arith::AddIOp::create(b, middle, one), low),
                      arith::SelectOp::create(b, below, high, middle)});
  }
  return search.getResult(0);
}

void attn::buildKeyTileSummary(OpBuilder &builder, Location loc,
                               OrderedTileListsOp op, Value batch, Value kvHead,
                               Value keyTile, const IRMapping &mapping) {
  ImplicitLocOpBuilder b(loc, builder);
  auto operand = [&](Value value) { return mapping.lookupOrDefault(value); };
  Value order = operand(op.getKeyOrder());
  Value keyLen = memref::DimOp::create(b, order, 2);
  Value blockK = arith::ConstantIndexOp::create(b, op.getBlockK());
  Value begin = arith::MulIOp::create(b, keyTile, blockK);
  Value end = arith::MinUIOp::create(b, arith::AddIOp::create(b, begin, blockK),
                                     keyLen);
  OrderedTileListsOp::TileSummary summary = OrderedTileListsOp::buildSummary(
      b, loc, order, operand(op.getKeyClasses()), batch, kvHead, begin, end);
  Value summaries = operand(op.getKeyTiles());
  SmallVector<Value, 4> values{summary.minClass, summary.maxClass,
                               summary.minPosition, summary.maxPosition};
  for (auto [slot, value] : llvm::enumerate(values))
    memref::StoreOp::create(
        b, arith::TruncIOp::create(b, b.getI32Type(), value), summaries,
        ValueRange{batch, kvHead, keyTile,
                   arith::ConstantIndexOp::create(b, slot)});
}

void attn::buildQueryTileLists(OpBuilder &builder, Location loc,
                               OrderedTileListsOp op, Value batch, Value head,
                               Value queryTile, const IRMapping &mapping) {
  ImplicitLocOpBuilder b(loc, builder);
  auto operand = [&](Value value) { return mapping.lookupOrDefault(value); };
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Type i64 = b.getI64Type(), i32 = b.getI32Type();
  Value queryOrder = operand(op.getQueryOrder());
  Value keyOrder = operand(op.getKeyOrder());
  Value summaries = operand(op.getKeyTiles());
  Value counts = operand(op.getTileCounts());
  Value indices = operand(op.getTileIndices());
  Value queryLen = memref::DimOp::create(b, queryOrder, 2);
  Value keyLen = memref::DimOp::create(b, keyOrder, 2);
  Value kvHead = arith::DivUIOp::create(
      b, head,
      arith::DivUIOp::create(b, memref::DimOp::create(b, queryOrder, 1),
                             memref::DimOp::create(b, keyOrder, 1)));
  Value blockQ = index(op.getBlockQ()), blockK = index(op.getBlockK());
  Value keyTiles = arith::CeilDivUIOp::create(b, keyLen, blockK);
  Value begin = arith::MulIOp::create(b, queryTile, blockQ);
  Value end = arith::MinUIOp::create(b, arith::AddIOp::create(b, begin, blockQ),
                                     queryLen);
  OrderedTileListsOp::TileSummary query = OrderedTileListsOp::buildSummary(
      b, loc, queryOrder, operand(op.getQueryClasses()), batch, head, begin,
      end);
  Value offset = arith::SubIOp::create(b, keyLen, queryLen);
  Value first = op.buildFirstKeyTile(b, loc, batch, kvHead, keyTiles,
                                     query.minClass, mapping);
  Value one = index(1);
  Value trueValue = arith::ConstantIntOp::create(b, 1, 1);
  Value falseValue = arith::ConstantIntOp::create(b, 0, 1);

  // Appends, from `start`, the kv-tiles from `first` on that are full (or
  // visited but partial) while their smallest class is at most the
  // q-tile's largest; returns the new end.
  auto append = [&](Value start, bool full) -> Value {
    Type indexType = b.getIndexType();
    auto walk = scf::WhileOp::create(b, TypeRange{indexType, indexType},
                                     ValueRange{first, start});
    OpBuilder::InsertionGuard guard(b);
    Block *before = b.createBlock(&walk.getBefore(), {}, {indexType, indexType},
                                  {loc, loc});
    b.setInsertionPointToStart(before);
    Value keyTile = before->getArgument(0);
    Value inRange =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, keyTile, keyTiles);
    auto ifInRange = scf::IfOp::create(b, TypeRange{b.getI1Type()}, inRange,
                                       /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard ifGuard(b);
      b.setInsertionPointToStart(ifInRange.thenBlock());
      Value minClass = arith::ExtUIOp::create(
          b, i64,
          memref::LoadOp::create(b, summaries,
                                 ValueRange{batch, kvHead, keyTile, index(0)}));
      scf::YieldOp::create(
          b, ValueRange{arith::CmpIOp::create(b, arith::CmpIPredicate::sle,
                                              minClass, query.maxClass)});
      b.setInsertionPointToStart(ifInRange.elseBlock());
      scf::YieldOp::create(b, ValueRange{falseValue});
    }
    scf::ConditionOp::create(b, ifInRange.getResult(0), before->getArguments());

    Block *after =
        b.createBlock(&walk.getAfter(), {}, {indexType, indexType}, {loc, loc});
    b.setInsertionPointToStart(after);
    keyTile = after->getArgument(0);
    Value listEnd = after->getArgument(1);
    auto slotValue = [&](int64_t slot) -> Value {
      return arith::ExtUIOp::create(
          b, i64,
          memref::LoadOp::create(
              b, summaries, ValueRange{batch, kvHead, keyTile, index(slot)}));
    };
    OrderedTileListsOp::TileSummary key{slotValue(0), slotValue(1),
                                        slotValue(2), slotValue(3)};
    Value whole = arith::CmpIOp::create(
        b, arith::CmpIPredicate::ule,
        arith::MulIOp::create(b, arith::AddIOp::create(b, keyTile, one),
                              blockK),
        keyLen);
    OrderedTileListsOp::TileClass tileClass =
        op.buildTileClass(b, loc, query, key, whole, offset);
    Value take = full
                     ? tileClass.full
                     : arith::AndIOp::create(
                           b, tileClass.visited,
                           arith::XOrIOp::create(b, tileClass.full, trueValue));
    auto ifTake = scf::IfOp::create(b, take, /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard ifGuard(b);
      b.setInsertionPointToStart(ifTake.thenBlock());
      memref::StoreOp::create(b, arith::IndexCastOp::create(b, i32, keyTile),
                              indices,
                              ValueRange{batch, head, queryTile, listEnd});
    }
    scf::YieldOp::create(
        b, ValueRange{
               arith::AddIOp::create(b, keyTile, one),
               arith::SelectOp::create(
                   b, take, arith::AddIOp::create(b, listEnd, one), listEnd)});
    return walk.getResult(1);
  };
  Value fullEnd = append(index(0), /*full=*/true);
  Value partialEnd = append(fullEnd, /*full=*/false);
  memref::StoreOp::create(b, arith::IndexCastOp::create(b, i32, fullEnd),
                          counts, ValueRange{batch, head, queryTile, index(0)});
  memref::StoreOp::create(
      b,
      arith::IndexCastOp::create(b, i32,
                                 arith::SubIOp::create(b, partialEnd, fullEnd)),
      counts, ValueRange{batch, head, queryTile, index(1)});
}

void OrderedTileListsOp::decompose(OpBuilder &builder) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(*this);
  ImplicitLocOpBuilder b(getLoc(), builder);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Value queryOrder = getQueryOrder(), keyOrder = getKeyOrder();
  Value batches = memref::DimOp::create(b, queryOrder, 0);
  Value keyTiles = arith::CeilDivUIOp::create(
      b, memref::DimOp::create(b, keyOrder, 2), index(getBlockK()));
  Value queryTiles = arith::CeilDivUIOp::create(
      b, memref::DimOp::create(b, queryOrder, 2), index(getBlockQ()));
  forEachIndex(b, batches, [&](Value batch) {
    forEachIndex(b, memref::DimOp::create(b, keyOrder, 1), [&](Value kvHead) {
      forEachIndex(b, keyTiles, [&](Value keyTile) {
        buildKeyTileSummary(b, getLoc(), *this, batch, kvHead, keyTile);
      });
    });
  });
  forEachIndex(b, batches, [&](Value batch) {
    forEachIndex(b, memref::DimOp::create(b, queryOrder, 1), [&](Value head) {
      forEachIndex(b, queryTiles, [&](Value queryTile) {
        buildQueryTileLists(b, getLoc(), *this, batch, head, queryTile);
      });
    });
  });
  erase();
}
