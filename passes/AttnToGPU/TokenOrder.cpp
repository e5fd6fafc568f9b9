//===- TokenOrder.cpp - GPU kernels of hash and drop preprocessing -*- C++ -*-//
//
// See TokenOrder.h for the algorithms.
//
//===----------------------------------------------------------------------===//

#include "TokenOrder.h"
#include "KernelBuilder.h"
#include "SharedMemory.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace attn;

/// Threads of the one-thread-per-item launches (LSH tokens, tile summaries
/// and lists).
static constexpr int64_t kItemThreads = 128;

/// The extents [B, H, N] of a per-token buffer of the same shape as
/// `like`'s first three extents (an activation or a scratch order).
static SmallVector<Value, 3> tokenExtents(ImplicitLocOpBuilder &b, Value like) {
  SmallVector<Value, 3> extents;
  for (unsigned dim = 0; dim < 3; ++dim)
    extents.push_back(memref::DimOp::create(b, like, dim));
  return extents;
}

/// The name attn-tile gave the scratch buffer `value` (kScratchAttrName),
/// or null when `value` is no such buffer.
static StringAttr scratchNameOf(Value value) {
  auto alloc = value.getDefiningOp<memref::AllocOp>();
  return alloc ? alloc->getAttrOfType<StringAttr>(kScratchAttrName) : nullptr;
}

/// Creates a launch of one thread per item of a [z, y, items] grid (items
/// in blocks of kItemThreads) and calls `body(kernel, z, y, item)` in it
/// for the items that exist.
static FailureOr<gpu::LaunchOp>
launchPerItem(ImplicitLocOpBuilder &b, LaunchFacts &facts, Value items, Value y,
              Value z,
              function_ref<void(KernelBuilder &, Value, Value, Value)> body) {
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Value blocks = arith::CeilDivUIOp::create(b, items, index(kItemThreads));
  FailureOr<gpu::LaunchOp> created =
      facts.createLaunch(b, {blocks, y, z}, kItemThreads, 0);
  if (failed(created))
    return failure();
  gpu::LaunchOp launch = *created;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value thread = launch.getThreadIds().x;
  KernelBuilder kernel(b, thread, index(kItemThreads));
  Value item = arith::AddIOp::create(
      b, arith::MulIOp::create(b, launch.getBlockIds().x, index(kItemThreads)),
      thread);
  auto ifExists = scf::IfOp::create(
      b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, item, items),
      /*withElseRegion=*/false);
  b.setInsertionPointToStart(ifExists.thenBlock());
  body(kernel, launch.getBlockIds().z, launch.getBlockIds().y, item);
  b.setInsertionPointAfter(ifExists);
  gpu::TerminatorOp::create(b);
  return launch;
}

FailureOr<gpu::LaunchOp> attn::convertGatherRows(GatherRowsOp op,
                                                 LaunchFacts &facts) {
  ImplicitLocOpBuilder b(op.getLoc(), op);
  auto type = cast<MemRefType>(op.getSource().getType());
  int64_t elementBytes = type.getElementTypeBitWidth() / 8;
  int64_t width = type.getDimSize(3);
  constexpr int64_t kChunkBytes = 16;
  if (ShapedType::isDynamic(width) || (width * elementBytes) % kChunkBytes)
    return op.emitOpError() << "attn-to-gpu: rows of " << type
                            << " are not a whole number of 16-byte chunks";
  int64_t chunkElements = kChunkBytes / elementBytes;
  int64_t chunksPerRow = width / chunkElements;
  SmallVector<Value, 3> extents = tokenExtents(b, op.getSource());
  Value items = arith::MulIOp::create(
      b, extents[2], arith::ConstantIndexOp::create(b, chunksPerRow));
  auto chunkType = VectorType::get({chunkElements}, type.getElementType());
  FailureOr<gpu::LaunchOp> launch = launchPerItem(
      b, facts, items, extents[1], extents[0],
      [&](KernelBuilder &kernel, Value batch, Value head, Value item) {
        Value sorted =
            arith::DivUIOp::create(b, item, kernel.index(chunksPerRow));
        Value col = arith::MulIOp::create(
            b, arith::RemUIOp::create(b, item, kernel.index(chunksPerRow)),
            kernel.index(chunkElements));
        Value row =
            buildOriginalRow(b, b.getLoc(), op.getOrder(), batch, head, sorted);
        Value chunk = vector::LoadOp::create(
            b, chunkType, op.getSource(), ValueRange{batch, head, row, col},
            /*nontemporal=*/false, llvm::MaybeAlign(kChunkBytes));
        vector::StoreOp::create(
            b, chunk, op.getTarget(), ValueRange{batch, head, sorted, col},
            /*nontemporal=*/false, llvm::MaybeAlign(kChunkBytes));
      });
  if (failed(launch))
    return failure();
  op.erase();
  return launch;
}

FailureOr<gpu::LaunchOp> attn::convertLsh(LshOp op, LaunchFacts &facts) {
  ImplicitLocOpBuilder b(op.getLoc(), op);
  SmallVector<Value, 3> extents = tokenExtents(b, op.getInput());
  std::string input = facts.nameOf(op.getInput());
  if (failed(facts.describeLike(op.getLoc(), op.getBucketIds(), extents,
                                (input.empty() ? "" : input + "_") +
                                    "bucket_ids")))
    return failure();
  FailureOr<gpu::LaunchOp> launch = launchPerItem(
      b, facts, extents[2], extents[1], extents[0],
      [&](KernelBuilder &kernel, Value batch, Value head, Value token) {
        Value id = op.buildBucketOf(kernel.b, op.getLoc(), batch, head, token);
        memref::StoreOp::create(kernel.b, id, op.getBucketIds(),
                                ValueRange{batch, head, token});
      });
  if (succeeded(launch))
    op.erase();
  return launch;
}

FailureOr<gpu::LaunchOp> attn::convertTokenOrder(TokenOrderOp op,
                                                 LaunchFacts &facts) {
  int64_t slots = op.getClasses() + 1;
  if (slots > kMaxGpuOrderClasses + 1)
    return op.emitOpError()
           << "attn-to-gpu: token orders of more than " << kMaxGpuOrderClasses
           << " classes (hash buckets) are not supported on the GPU yet, got "
           << op.getClasses();
  ImplicitLocOpBuilder b(op.getLoc(), op);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  SmallVector<Value, 3> extents = tokenExtents(b, op.getOrder());
  // attn-tile names the scratch order by its side ("query_order"); the
  // keys are named after it and what they are ("query_bucket_ids").
  std::string keysName = "order";
  if (StringAttr scratch = scratchNameOf(op.getOrder()))
    keysName = scratch.getValue().rsplit("_order").first.str();
  keysName += op.getKeepFlags() ? "_keep_flags" : "_bucket_ids";
  if (failed(facts.describeLike(op.getLoc(), op.getKeys(), extents, keysName)))
    return failure();
  if (Value invalidCount = op.getInvalidCount()) {
    StringAttr scratch = scratchNameOf(invalidCount);
    if (!scratch)
      return op.emitOpError() << "attn-to-gpu: count_invalid must be a "
                                 "scratch buffer of the function ("
                              << kScratchAttrName << ")";
    std::string message;
    llvm::raw_string_ostream(message)
        << "bucket ids outside [0, " << op.getClasses() << ")";
    if (failed(facts.addInputCheck(op.getLoc(), scratch.getValue(),
                                   op.getKeys(), message)))
      return failure();
  }
  // The largest power of two <= 1024 whose counts fit in 48 KiB: more
  // threads, shorter serial chunks (at N = 16384 and 8 classes, 1024
  // threads take 16 tokens each).
  int64_t threads = 1024;
  while (threads > 32 && slots * threads * 4 > 48 * 1024)
    threads /= 2;
  int64_t warps = threads / kWarpSize;
  Type i32 = b.getI32Type();
  SharedMemoryLayout layout;
  layout.add(paddedType(MemRefType::get({slots * threads}, i32)));
  layout.add(paddedType(MemRefType::get({warps}, i32)));
  FailureOr<gpu::LaunchOp> created = facts.createLaunch(
      b, {extents[1], extents[0], index(1)}, threads, layout.getBytes());
  if (failed(created))
    return failure();
  gpu::LaunchOp launch = *created;
  b.setInsertionPointToStart(&launch.getBody().front());
  SmallVector<Value> buffers = layout.materialize(b);
  Value counts = buffers[0], warpTotals = buffers[1];
  Value head = launch.getBlockIds().x, batch = launch.getBlockIds().y;
  Value thread = launch.getThreadIds().x;
  KernelBuilder kernel(b, thread, index(threads));
  Value tokens = extents[2];
  Value chunk = arith::CeilDivUIOp::create(b, tokens, index(threads));
  Value begin = arith::MinUIOp::create(
      b, arith::MulIOp::create(b, thread, chunk), tokens);
  Value end =
      arith::MinUIOp::create(b, arith::AddIOp::create(b, begin, chunk), tokens);
  Value zero32 = kernel.i32Constant(0), one32 = kernel.i32Constant(1);
  // Count slot of class k for this thread: k · T + t.
  auto slotOf = [&](Value tokenClass) -> Value {
    return arith::AddIOp::create(
        b,
        arith::MulIOp::create(
            b, arith::IndexCastUIOp::create(b, b.getIndexType(), tokenClass),
            index(threads)),
        thread);
  };
  auto classAt = [&](Value token) -> Value {
    Value key =
        memref::LoadOp::create(b, op.getKeys(), ValueRange{batch, head, token});
    return op.buildClassOf(b, op.getLoc(), key);
  };
  auto forTokens = [&](function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, begin, end, index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar());
  };
  {
    auto loop = scf::ForOp::create(b, index(0), index(slots), index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    memref::StoreOp::create(
        b, zero32, counts,
        ValueRange{arith::AddIOp::create(
            b, arith::MulIOp::create(b, loop.getInductionVar(), index(threads)),
            thread)});
  }
  forTokens([&](Value token) {
    Value slot = slotOf(classAt(token));
    Value count = memref::LoadOp::create(b, counts, slot);
    memref::StoreOp::create(b, arith::AddIOp::create(b, count, one32), counts,
                            slot);
  });
  gpu::BarrierOp::create(b);
  // Exclusive prefix sums of the counts in class-major order: this
  // thread's segment [t · slots, (t + 1) · slots).
  Value segment = arith::MulIOp::create(b, thread, index(slots));
  auto segmentSum = scf::ForOp::create(b, index(0), index(slots), index(1),
                                       ValueRange{zero32});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(segmentSum.getBody());
    Value count =
        memref::LoadOp::create(b, counts,
                               ValueRange{arith::AddIOp::create(
                                   b, segment, segmentSum.getInductionVar())});
    scf::YieldOp::create(b, ValueRange{arith::AddIOp::create(
                                b, segmentSum.getRegionIterArg(0), count)});
  }
  KernelBuilder::FlagCount prefix =
      kernel.scanBlock(segmentSum.getResult(0), warpTotals, warps);
  auto rewrite = scf::ForOp::create(b, index(0), index(slots), index(1),
                                    ValueRange{prefix.before});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(rewrite.getBody());
    Value slot = arith::AddIOp::create(b, segment, rewrite.getInductionVar());
    Value count = memref::LoadOp::create(b, counts, slot);
    Value running = rewrite.getRegionIterArg(0);
    memref::StoreOp::create(b, running, counts, slot);
    scf::YieldOp::create(b,
                         ValueRange{arith::AddIOp::create(b, running, count)});
  }
  gpu::BarrierOp::create(b);
  if (Value invalidCount = op.getInvalidCount()) {
    // The counts are exclusive prefix sums in class-major order now, so
    // the tokens of class `classes` (ids out of range) are those from the
    // first slot of that class on. Thread 0 adds them to the count, which
    // the runtime zeroes before the launches and reads after them.
    Value validTokens = memref::LoadOp::create(
        b, counts, ValueRange{index(op.getClasses() * threads)});
    Value invalid = arith::SubIOp::create(
        b, arith::IndexCastOp::create(b, i32, tokens), validTokens);
    Value add = arith::AndIOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, thread, index(0)),
        arith::CmpIOp::create(b, arith::CmpIPredicate::ne, invalid, zero32));
    auto ifAdd = scf::IfOp::create(b, add, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifAdd.thenBlock()->getTerminator());
    memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addi, invalid,
                                invalidCount, ValueRange{index(0)});
  }
  forTokens([&](Value token) {
    Value tokenClass = classAt(token);
    Value slot = slotOf(tokenClass);
    Value position = memref::LoadOp::create(b, counts, slot);
    memref::StoreOp::create(b, arith::AddIOp::create(b, position, one32),
                            counts, slot);
    Value sorted = arith::IndexCastUIOp::create(b, b.getIndexType(), position);
    memref::StoreOp::create(b, arith::IndexCastOp::create(b, i32, token),
                            op.getOrder(), ValueRange{batch, head, sorted});
    memref::StoreOp::create(b, tokenClass, op.getSortedClasses(),
                            ValueRange{batch, head, sorted});
  });
  gpu::TerminatorOp::create(b);
  op.erase();
  return launch;
}

FailureOr<SmallVector<gpu::LaunchOp, 2>>
attn::convertOrderedTileLists(OrderedTileListsOp op, LaunchFacts &facts) {
  ImplicitLocOpBuilder b(op.getLoc(), op);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  SmallVector<Value, 3> keyExtents = tokenExtents(b, op.getKeyOrder());
  SmallVector<Value, 3> queryExtents = tokenExtents(b, op.getQueryOrder());
  Value keyTiles =
      arith::CeilDivUIOp::create(b, keyExtents[2], index(op.getBlockK()));
  Value queryTiles =
      arith::CeilDivUIOp::create(b, queryExtents[2], index(op.getBlockQ()));
  SmallVector<gpu::LaunchOp, 2> launches;
  FailureOr<gpu::LaunchOp> summaries = launchPerItem(
      b, facts, keyTiles, keyExtents[1], keyExtents[0],
      [&](KernelBuilder &kernel, Value batch, Value kvHead, Value keyTile) {
        buildKeyTileSummary(kernel.b, op.getLoc(), op, batch, kvHead, keyTile);
      });
  if (failed(summaries))
    return failure();
  launches.push_back(*summaries);
  FailureOr<gpu::LaunchOp> lists = launchPerItem(
      b, facts, queryTiles, queryExtents[1], queryExtents[0],
      [&](KernelBuilder &kernel, Value batch, Value head, Value queryTile) {
        buildQueryTileLists(kernel.b, op.getLoc(), op, batch, head, queryTile);
      });
  if (failed(lists))
    return failure();
  launches.push_back(*lists);
  op.erase();
  return launches;
}
