//===- AttnTileOps.cpp - attn level L2 tile ops -----------------*- C++ -*-===//
//
// Verifiers of the attn.tile.* ops. Tiles are static memrefs; each op checks
// that its tiles' extents fit together (Bq, Bk, D, Dv).
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Dialect/Attn/ScorePrune.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace attn;

/// Verifies that `type` is a static tile whose shape equals `expected`.
/// Reports "<name> must be a static tile of shape [a, b], got memref<...>".
static LogicalResult checkTile(Operation *op, StringRef name, Type type,
                               ArrayRef<int64_t> expected) {
  auto memref = cast<MemRefType>(type);
  if (memref.hasStaticShape() && memref.getShape() == expected)
    return success();
  InFlightDiagnostic diag = op->emitOpError()
                            << name << " must be a static tile of shape [";
  llvm::interleaveComma(expected, diag);
  return diag << "], got " << type;
}

/// Returns the shape of a tile operand if it is static, else fails with a
/// message naming it.
static FailureOr<ArrayRef<int64_t>> staticTileShape(Operation *op,
                                                    StringRef name, Type type) {
  auto memref = cast<MemRefType>(type);
  if (!memref.hasStaticShape()) {
    op->emitOpError() << name << " must have a static shape, got " << type;
    return failure();
  }
  return memref.getShape();
}

/// Verifies the tile of a load or store against the (batch, head)-indexed
/// buffer it moves rows of: rank two less, same trailing extents.
static LogicalResult checkTileAgainstBuffer(Operation *op, Type tileType,
                                            Type bufferType) {
  FailureOr<ArrayRef<int64_t>> tile = staticTileShape(op, "tile", tileType);
  if (failed(tile))
    return failure();
  auto buffer = cast<MemRefType>(bufferType);
  if (buffer.getRank() != static_cast<int64_t>(tile->size()) + 2)
    return op->emitOpError()
           << "buffer rank " << buffer.getRank() << " must be the tile rank ("
           << tile->size() << ") plus 2 (batch, head)";
  for (auto [dim, extent] : llvm::enumerate(tile->drop_front())) {
    int64_t bufferExtent = buffer.getDimSize(dim + 3);
    if (ShapedType::isDynamic(bufferExtent) || bufferExtent != extent)
      return op->emitOpError()
             << "tile dimension " << dim + 1 << " is " << extent
             << " but buffer dimension " << dim + 3 << " is "
             << (ShapedType::isDynamic(bufferExtent)
                     ? std::string("dynamic")
                     : std::to_string(bufferExtent));
  }
  return success();
}

LogicalResult TileLoadOp::verify() {
  if (failed(checkTileAgainstBuffer(*this, getTile().getType(),
                                    getSource().getType())))
    return failure();
  if (getTile().getType().getElementType() !=
      cast<MemRefType>(getSource().getType()).getElementType())
    return emitOpError() << "tile and source must have the same element type";
  return success();
}

LogicalResult TileStoreOp::verify() {
  if (failed(checkTileAgainstBuffer(*this, getTile().getType(),
                                    getDest().getType())))
    return failure();
  Type tileElement = getTile().getType().getElementType();
  if (!tileElement.isF32() &&
      tileElement != cast<MemRefType>(getDest().getType()).getElementType())
    return emitOpError() << "tile element type must be f32 or the "
                            "destination's element type";
  return success();
}

LogicalResult TileFillOp::verify() {
  return staticTileShape(*this, "tile", getTile().getType());
}

LogicalResult TileQKOp::verify() {
  FailureOr<ArrayRef<int64_t>> query =
      staticTileShape(*this, "query", getQuery().getType());
  FailureOr<ArrayRef<int64_t>> key =
      staticTileShape(*this, "key", getKey().getType());
  if (failed(query) || failed(key))
    return failure();
  if (query->size() != 2 || key->size() != 2)
    return emitOpError() << "query and key must be 2-D tiles";
  if (getQuery().getType().getElementType() !=
      getKey().getType().getElementType())
    return emitOpError() << "query and key tiles must have the same element "
                            "type";
  return failure(
      failed(checkTile(*this, "key", getKey().getType(),
                       {(*key)[0], (*query)[1]})) ||
      failed(checkTile(*this, "scores", getScores().getType(),
                       {(*query)[0], (*key)[0]})));
}

LogicalResult TileMaskOp::verify() {
  FailureOr<ArrayRef<int64_t>> scores =
      staticTileShape(*this, "scores", getScores().getType());
  if (failed(scores))
    return failure();
  if (scores->size() != 2)
    return emitOpError() << "scores must be a 2-D tile";
  return verifyBand(*this, getBandLower(), getBandUpper());
}

LogicalResult TileMaskOp::verifyRegions() {
  return verifyPredicateRegion(*this, getPredicate(),
                               /*allowIndexPair=*/false);
}

LogicalResult TilePruneOp::verify() {
  FailureOr<ArrayRef<int64_t>> scores =
      staticTileShape(*this, "scores", getScores().getType());
  if (failed(scores))
    return failure();
  if (scores->size() != 2)
    return emitOpError() << "scores must be a 2-D tile";
  if (failed(verifyPrunePattern([&] { return emitOpError(); }, getKeep(),
                                getGroup())))
    return failure();
  if ((*scores)[1] % getGroup() != 0)
    return emitOpError() << "the tile's " << (*scores)[1]
                         << " columns must be a multiple of the group size "
                         << getGroup();
  return success();
}

void TilePruneOp::buildPruneGroup(OpBuilder &b, Location loc, Value row,
                                  Value groupIndex, const IRMapping &mapping) {
  Value scores = mapping.lookupOrDefault(getScores());
  int64_t group = getGroup();
  Value first = arith::MulIOp::create(
      b, loc, groupIndex, arith::ConstantIndexOp::create(b, loc, group));
  SmallVector<Value> columns, values;
  for (int64_t i = 0; i < group; ++i) {
    columns.push_back(arith::AddIOp::create(
        b, loc, first, arith::ConstantIndexOp::create(b, loc, i)));
    values.push_back(
        memref::LoadOp::create(b, loc, scores, ValueRange{row, columns[i]}));
  }
  SmallVector<Value> kept = buildKeptFlags(b, loc, values, getKeep());
  Value negInf = arith::ConstantOp::create(
      b, loc, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  for (int64_t i = 0; i < group; ++i)
    memref::StoreOp::create(
        b, loc, arith::SelectOp::create(b, loc, kept[i], values[i], negInf),
        scores, ValueRange{row, columns[i]});
}

/// Verifies the row-state tiles of the softmax ops: `[Bq]` each.
static LogicalResult checkRowState(Operation *op, int64_t rows, Type rowMax,
                                   Type rowSum) {
  return failure(failed(checkTile(op, "row_max", rowMax, {rows})) ||
                 failed(checkTile(op, "row_sum", rowSum, {rows})));
}

LogicalResult TileOnlineSoftmaxOp::verify() {
  FailureOr<ArrayRef<int64_t>> scores =
      staticTileShape(*this, "scores", getScores().getType());
  FailureOr<ArrayRef<int64_t>> acc =
      staticTileShape(*this, "acc", getAcc().getType());
  if (failed(scores) || failed(acc))
    return failure();
  if (scores->size() != 2 || acc->size() != 2)
    return emitOpError() << "scores and acc must be 2-D tiles";
  if (failed(verifyRescaleThreshold(*this, getRescaleThresholdAttr())))
    return failure();
  return failure(
      failed(checkRowState(*this, (*scores)[0], getRowMax().getType(),
                           getRowSum().getType())) ||
      failed(checkTile(*this, "acc", getAcc().getType(),
                       {(*scores)[0], (*acc)[1]})));
}

LogicalResult TilePVOp::verify() {
  FailureOr<ArrayRef<int64_t>> probs =
      staticTileShape(*this, "probs", getProbs().getType());
  FailureOr<ArrayRef<int64_t>> value =
      staticTileShape(*this, "value", getValue().getType());
  if (failed(probs) || failed(value))
    return failure();
  if (probs->size() != 2 || value->size() != 2)
    return emitOpError() << "probs and value must be 2-D tiles";
  return failure(
      failed(checkTile(*this, "value", getValue().getType(),
                       {(*probs)[1], (*value)[1]})) ||
      failed(checkTile(*this, "acc", getAcc().getType(),
                       {(*probs)[0], (*value)[1]})));
}

LogicalResult TileFinalizeOp::verify() {
  FailureOr<ArrayRef<int64_t>> acc =
      staticTileShape(*this, "acc", getAcc().getType());
  if (failed(acc))
    return failure();
  if (acc->size() != 2)
    return emitOpError() << "acc must be a 2-D tile";
  return checkRowState(*this, (*acc)[0], getRowMax().getType(),
                       getRowSum().getType());
}

Value TileMaskOp::buildAllowedAt(OpBuilder &b, Location loc, Value r, Value c,
                                 Value diagonalOffset,
                                 const IRMapping &mapping) {
  auto operand = [&](Value value) { return mapping.lookupOrDefault(value); };
  Value batch = operand(getBatch()), head = operand(getHead());
  Value keyLen = operand(getKeyLen());
  Value i = arith::AddIOp::create(b, loc, operand(getQueryStart()), r);
  Value j = arith::AddIOp::create(b, loc, operand(getKeyStart()), c);
  if (!getQueryOrder())
    return getMask().buildAllowed(b, loc, batch, head, i, j, keyLen,
                                  diagonalOffset, mapping);
  // Sorted positions (i, j) -> original ones; the key exists iff j < Nk.
  Value queryOrder = operand(getQueryOrder());
  Value keyOrder = operand(getKeyOrder());
  Value kvHead = arith::DivUIOp::create(
      b, loc, head,
      arith::DivUIOp::create(b, loc,
                             memref::DimOp::create(b, loc, queryOrder, 1),
                             memref::DimOp::create(b, loc, keyOrder, 1)));
  Value exists =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, j, keyLen);
  Value allowed = getMask().buildAllowed(
      b, loc, batch, head, buildOriginalRow(b, loc, queryOrder, batch, head, i),
      buildOriginalRow(b, loc, keyOrder, batch, kvHead, j), keyLen,
      diagonalOffset, mapping);
  allowed = arith::AndIOp::create(b, loc, exists, allowed);
  if (!getQueryClasses())
    return allowed;
  // qc[b, h, i] = kc[b, hk, j] < classes (positions clamped like the
  // orders', a missing key is excluded above).
  Value queryClass =
      buildOriginalRow(b, loc, operand(getQueryClasses()), batch, head, i);
  Value keyClass =
      buildOriginalRow(b, loc, operand(getKeyClasses()), batch, kvHead, j);
  Value sameClass = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                          queryClass, keyClass);
  Value matchable = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ult, queryClass,
      arith::ConstantIndexOp::create(b, loc, *getOrderClasses()));
  return arith::AndIOp::create(
      b, loc, allowed, arith::AndIOp::create(b, loc, sameClass, matchable));
}
