//===- TileListsOp.cpp - the per-q-tile kv-tile lists of a block mask -----===//
//
// attn.tile_lists: verifier, the tile classification every lowering shares
// (buildTileClass) and the CPU lowering (decompose). A tile meets the block
// mask when one of the blocks under it is on; it meets the band when the
// smallest and largest delta = j - (i + Nk - Nq) of its pairs straddle the
// band's bounds; it lies wholly inside when both do (the corner tests of
// FusedForwardOp::buildIsPartialTile).
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace attn;

LogicalResult TileListsOp::verify() {
  for (auto [name, size] : {std::pair<StringRef, int64_t>{"size", getSize()},
                            {"block_q", getBlockQ()},
                            {"block_k", getBlockK()}})
    if (size < 1 || size > (int64_t{1} << 30) || !llvm::isPowerOf2_64(size))
      return emitOpError() << name << " = " << size
                           << " must be a power of two";
  if (failed(verifyBand(*this, getBandLower(), getBandUpper())))
    return failure();
  auto counts = cast<MemRefType>(getTileCounts().getType());
  auto indices = cast<MemRefType>(getTileIndices().getType());
  if (counts.getDimSize(3) != 2)
    return emitOpError() << "counts must have a last extent of 2 (full and "
                            "partial tiles), got "
                         << counts;
  if (!isPerHead())
    for (MemRefType list : {counts, indices})
      for (unsigned dim : {0u, 1u})
        if (!list.isDynamicDim(dim) && list.getDimSize(dim) != 1)
          return emitOpError()
                 << "a shared block mask takes lists of batch and head "
                    "extent 1, got "
                 << list;
  return success();
}

TileListsOp::TileClass
TileListsOp::buildTileClass(OpBuilder &builder, Location loc, Value listBatch,
                            Value listHead, Value queryTile, Value keyTile,
                            const IRMapping &mapping) {
  ImplicitLocOpBuilder b(loc, builder);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  auto operand = [&](Value value) { return mapping.lookupOrDefault(value); };
  Value queryLen = operand(getQueryLen()), keyLen = operand(getKeyLen());
  Value mask = operand(getBlockMask());
  Value size = index(getSize()), one = index(1);

  Value rowBegin = arith::MulIOp::create(b, queryTile, index(getBlockQ()));
  Value lastRow = arith::SubIOp::create(
      b,
      arith::MinSIOp::create(
          b, arith::AddIOp::create(b, rowBegin, index(getBlockQ())), queryLen),
      one);
  Value keyBegin = arith::MulIOp::create(b, keyTile, index(getBlockK()));
  Value keyEnd = arith::AddIOp::create(b, keyBegin, index(getBlockK()));
  Value lastKey =
      arith::SubIOp::create(b, arith::MinSIOp::create(b, keyEnd, keyLen), one);

  // The blocks under R x (K ∩ [0, Nk)): any on, all on.
  Value trueValue = arith::ConstantIntOp::create(b, 1, 1);
  Value falseValue = arith::ConstantIntOp::create(b, 0, 1);
  Type element = cast<MemRefType>(mask.getType()).getElementType();
  Value zero = arith::ConstantOp::create(b, b.getZeroAttr(element));
  auto rows = scf::ForOp::create(
      b, arith::DivUIOp::create(b, rowBegin, size),
      arith::AddIOp::create(b, arith::DivUIOp::create(b, lastRow, size), one),
      one, ValueRange{falseValue, trueValue});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(rows.getBody());
    Value blockRow = rows.getInductionVar();
    auto columns = scf::ForOp::create(
        b, arith::DivUIOp::create(b, keyBegin, size),
        arith::AddIOp::create(b, arith::DivUIOp::create(b, lastKey, size), one),
        one, rows.getRegionIterArgs());
    b.setInsertionPointToStart(columns.getBody());
    SmallVector<Value, 4> position;
    if (isPerHead())
      position.append({listBatch, listHead});
    position.append({blockRow, columns.getInductionVar()});
    Value on =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ne,
                              memref::LoadOp::create(b, mask, position), zero);
    scf::YieldOp::create(
        b,
        ValueRange{arith::OrIOp::create(b, columns.getRegionIterArg(0), on),
                   arith::AndIOp::create(b, columns.getRegionIterArg(1), on)});
    b.setInsertionPointAfter(columns);
    scf::YieldOp::create(b, columns.getResults());
  }
  Value anyOn = rows.getResult(0), allOn = rows.getResult(1);

  // The band: delta of the tile's pairs ranges over [minDelta, maxDelta]
  // (keys that exist) or up to maxDeltaAll (every key of K).
  Value offset = arith::SubIOp::create(b, keyLen, queryLen);
  Value minDelta = arith::SubIOp::create(
      b, keyBegin, arith::AddIOp::create(b, lastRow, offset));
  Value rowDiagonal = arith::AddIOp::create(b, rowBegin, offset);
  Value maxDelta = arith::SubIOp::create(b, lastKey, rowDiagonal);
  Value maxDeltaAll = arith::SubIOp::create(
      b, arith::SubIOp::create(b, keyEnd, one), rowDiagonal);
  Value meetsBand = trueValue, insideBand = trueValue;
  auto andWith = [&](Value &accumulated, arith::CmpIPredicate predicate,
                     Value lhs, int64_t rhs) {
    accumulated = arith::AndIOp::create(
        b, accumulated, arith::CmpIOp::create(b, predicate, lhs, index(rhs)));
  };
  if (std::optional<int64_t> upper = getBandUpper()) {
    andWith(meetsBand, arith::CmpIPredicate::sle, minDelta, *upper);
    andWith(insideBand, arith::CmpIPredicate::sle, maxDeltaAll, *upper);
  }
  if (std::optional<int64_t> lower = getBandLower()) {
    andWith(meetsBand, arith::CmpIPredicate::sge, maxDelta, *lower);
    andWith(insideBand, arith::CmpIPredicate::sge, minDelta, *lower);
  }

  TileClass result;
  result.visited = arith::AndIOp::create(b, anyOn, meetsBand);
  if (getPartialOnly()) {
    result.full = falseValue;
    return result;
  }
  Value keysExist =
      arith::CmpIOp::create(b, arith::CmpIPredicate::sle, keyEnd, keyLen);
  result.full = arith::AndIOp::create(
      b, arith::AndIOp::create(b, allOn, insideBand),
      arith::AndIOp::create(b, keysExist, result.visited));
  return result;
}

void TileListsOp::decompose(OpBuilder &builder) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(*this);
  ImplicitLocOpBuilder b(getLoc(), builder);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Value zero = index(0), one = index(1);
  Value counts = getTileCounts(), indices = getTileIndices();
  Value mask = getBlockMask();
  Value listBatches =
      isPerHead() ? Value(memref::DimOp::create(b, mask, 0)) : one;
  Value listHeads =
      isPerHead() ? Value(memref::DimOp::create(b, mask, 1)) : one;
  Value queryTiles =
      arith::CeilDivUIOp::create(b, getQueryLen(), index(getBlockQ()));
  Value keyTiles =
      arith::CeilDivUIOp::create(b, getKeyLen(), index(getBlockK()));
  Type i32 = b.getI32Type();

  auto forEach = [&](Value upper, function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, zero, upper, one);
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar());
  };
  forEach(listBatches, [&](Value listBatch) {
    forEach(listHeads, [&](Value listHead) {
      forEach(queryTiles, [&](Value queryTile) {
        // Appends the kv-tiles whose class satisfies `take`, from `start`;
        // returns the new end.
        auto append = [&](Value start, bool full) -> Value {
          auto loop = scf::ForOp::create(b, zero, keyTiles, one, start);
          OpBuilder::InsertionGuard loopGuard(b);
          b.setInsertionPointToStart(loop.getBody());
          Value keyTile = loop.getInductionVar();
          TileClass tileClass = buildTileClass(b, getLoc(), listBatch, listHead,
                                               queryTile, keyTile);
          Value take = full ? tileClass.full
                            : arith::AndIOp::create(
                                  b, tileClass.visited,
                                  arith::XOrIOp::create(
                                      b, tileClass.full,
                                      arith::ConstantIntOp::create(b, 1, 1)));
          Value end = loop.getRegionIterArg(0);
          auto ifTake = scf::IfOp::create(b, take, /*withElseRegion=*/false);
          {
            OpBuilder::InsertionGuard ifGuard(b);
            b.setInsertionPointToStart(ifTake.thenBlock());
            memref::StoreOp::create(
                b, arith::IndexCastOp::create(b, i32, keyTile), indices,
                ValueRange{listBatch, listHead, queryTile, end});
          }
          Value next = arith::SelectOp::create(
              b, take, arith::AddIOp::create(b, end, one), end);
          scf::YieldOp::create(b, next);
          return loop.getResult(0);
        };
        Value fullEnd = append(zero, /*full=*/true);
        Value partialEnd = append(fullEnd, /*full=*/false);
        memref::StoreOp::create(
            b, arith::IndexCastOp::create(b, i32, fullEnd), counts,
            ValueRange{listBatch, listHead, queryTile, zero});
        memref::StoreOp::create(
            b,
            arith::IndexCastOp::create(
                b, i32, arith::SubIOp::create(b, partialEnd, fullEnd)),
            counts, ValueRange{listBatch, listHead, queryTile, one});
      });
    });
  });
  erase();
}
