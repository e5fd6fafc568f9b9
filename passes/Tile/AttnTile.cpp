//===- AttnTile.cpp - FlashAttention-2 tiling: attn.plan -> L2 --*- C++ -*-===//
//
// attn-tile rewrites each attn.plan into one fused FlashAttention-2 step per
// (batch, head, q-tile) (level L2). With Bq = block-q, Bk = block-k,
// off = Nk - Nq and the plan's band [L, U] on delta = j - (i + off):
//
//   scf.forall (b, h, t) in (B, Hq, ceil(Nq / Bq)):
//     q0 = t·Bq, qEnd = min(q0 + Bq, Nq), hk = h / (Hq / Hk)   // GQA
//     // schedule: only kv-tiles that intersect the band of rows [q0, qEnd)
//     lo = clamp(floor((q0 + off + L) / Bk), 0, nK)   // nK = ceil(Nk / Bk)
//     hi = clamp(floor((qEnd - 1 + off + U) / Bk) + 1, 0, nK)
//     attn.fused.forward at(b, h, q0) kv_head(hk) kv_tiles(lo, hi) block(Bq, Bk)
//         band [L, U], predicate (b, h, i, j), rescale_threshold
//
// (lo = 0 without L, hi = nK without U.) What the step computes, the
// partial-tile test and its decomposition into attn.tile.* ops are stated
// in dialects/Attn/FusedForwardOp.cpp; each GPU chip lowers the step as a
// unit. Tiles outside [lo, hi) are never loaded.
//
//===----------------------------------------------------------------------===//

#include "LinearTile.h"

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Passes/Passes.h"
#include "attn/Target/TargetInfo.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>

namespace attn {
#define GEN_PASS_DEF_ATTNTILE
#include "attn/Passes/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

namespace {

struct AttnTilePass : public attn::impl::AttnTileBase<AttnTilePass> {
  using Base::Base;

  /// The key tile of the plan being tiled (block-k, or its auto value).
  int64_t keyBlock = 0;

  void runOnOperation() override {
    SmallVector<PlanOp> plans;
    getOperation()->walk([&](PlanOp op) { plans.push_back(op); });
    bool anyFailed = false;
    for (PlanOp plan : plans) {
      int64_t headDim = cast<MemRefType>(plan.getQuery().getType()).getDimSize(3);
      keyBlock = blockK != 0 ? blockK : defaultKeyBlock(headDim);
      if (failed(checkOptions(plan)) || failed(tilePlan(plan)))
        anyFailed = true;
    }
    SmallVector<LinearAttentionOp> linearOps;
    getOperation()->walk(
        [&](LinearAttentionOp op) { linearOps.push_back(op); });
    for (LinearAttentionOp op : linearOps)
      if (failed(
              tileLinearAttention(op, linearBlock, linearSegment, linearUnits)))
        anyFailed = true;
    if (anyFailed)
      signalPassFailure();
  }

  /// The key tile when block-k is 0 (auto): 64 keys for head dims up to
  /// 128, 32 above. With 128-row q-tiles on the GPU, D = 128 and 64-key
  /// tiles fit 255 registers per thread without spills on sm_80 and sm_90a
  /// since the kv loop's shared addresses are 32-bit and its mask bounds
  /// i32 (bench/NOTES.md, v11), and run 3-6% faster than 32-key tiles.
  static int64_t defaultKeyBlock(int64_t headDim) {
    return headDim <= 128 ? 64 : 32;
  }

  /// Diagnoses tile sizes that are not powers of two in [16, 256], a
  /// negative rescale threshold and tiles whose operands would not fit in
  /// shared memory.
  LogicalResult checkOptions(PlanOp plan) {
    if (!(rescaleThreshold >= 0.0f) || std::isinf(rescaleThreshold))
      return plan.emitOpError()
             << "attn-tile: rescale-threshold = " << rescaleThreshold
             << " must be finite and non-negative";
    for (auto [name, size] :
         {std::pair<StringRef, int64_t>{"block-q", blockQ}, {"block-k", keyBlock}})
      if (size < 16 || size > 256 || !llvm::isPowerOf2_64(size))
        return plan.emitOpError()
               << "attn-tile: " << name << " = " << size
               << " must be a power of two between 16 and 256";
    auto q = cast<MemRefType>(plan.getQuery().getType());
    auto v = cast<MemRefType>(plan.getValue().getType());
    int64_t elementBytes = q.getElementTypeBitWidth() / 8;
    int64_t bytes = (blockQ * q.getDimSize(3) + keyBlock * q.getDimSize(3) +
                     keyBlock * v.getDimSize(3)) *
                    elementBytes;
    int64_t limit = TargetInfo::largestSharedMemoryBytes();
    if (bytes > limit)
      return plan.emitOpError()
             << "attn-tile: Q, K and V tiles need " << bytes
             << " bytes, more than the " << limit
             << " bytes of shared memory of the largest target; use smaller "
                "block-q/block-k";
    return success();
  }

  LogicalResult tilePlan(PlanOp plan) {
    ImplicitLocOpBuilder b(plan.getLoc(), plan);
    Value q = plan.getQuery(), k = plan.getKey();

    Value batch = memref::DimOp::create(b, q, 0);
    Value queryHeads = memref::DimOp::create(b, q, 1);
    Value queryLen = memref::DimOp::create(b, q, 2);
    Value kvHeads = memref::DimOp::create(b, k, 1);
    Value keyLen = memref::DimOp::create(b, k, 2);
    Value blockQValue = arith::ConstantIndexOp::create(b, blockQ);
    Value blockKValue = arith::ConstantIndexOp::create(b, keyBlock);
    Value numQTiles = arith::CeilDivUIOp::create(b, queryLen, blockQValue);
    Value numKTiles = arith::CeilDivUIOp::create(b, keyLen, blockKValue);
    Value groupSize = arith::DivUIOp::create(b, queryHeads, kvHeads);

    // A list schedule: the lists, built before the q-tiles run (scratch
    // memory, freed after them).
    Value tileCounts, tileIndices;
    SmallVector<Value> scratch;
    TokenOrders orders;
    Value stepQuery = q, stepKey = k, stepValue = plan.getValue();
    bool sortedInputs = false;
    if (plan.getQueryOrderKeys()) {
      orders = buildTokenOrders(b, plan, scratch);
      if (gatherRows) {
        // Q, K and V copied into sorted order, so that the steps load
        // them contiguously (bench/NOTES.md measures both ways).
        stepQuery = buildGatheredRows(b, q, orders.queryOrder, "sorted_queries",
                                      scratch);
        stepKey =
            buildGatheredRows(b, k, orders.keyOrder, "sorted_keys", scratch);
        stepValue = buildGatheredRows(b, plan.getValue(), orders.keyOrder,
                                      "sorted_values", scratch);
        sortedInputs = true;
      }
      std::tie(tileCounts, tileIndices) = buildOrderedTileLists(
          b, plan, orders, batch, queryHeads, numQTiles, numKTiles, scratch);
    } else if (plan.getSchedule() == ScheduleKind::List) {
      std::tie(tileCounts, tileIndices) = buildTileLists(
          b, plan, batch, queryHeads, queryLen, keyLen, numQTiles, numKTiles);
      scratch = {tileCounts, tileIndices};
    }

    auto forall = scf::ForallOp::create(
        b, ArrayRef<OpFoldResult>{batch, queryHeads, numQTiles}, ValueRange{},
        std::nullopt);
    b.setInsertionPointToStart(forall.getBody());
    Value bIdx = forall.getInductionVar(0), hIdx = forall.getInductionVar(1),
          qTileIdx = forall.getInductionVar(2);
    Value q0 = arith::MulIOp::create(b, qTileIdx, blockQValue);

    // The schedule: only kv-tiles that intersect the band of rows
    // [q0, qEnd). This arithmetic is in the order the emitters' instruction
    // schedules were measured with (bench/NOTES.md, fused step): q0, qEnd,
    // the kv head, then the range.
    std::optional<int64_t> lower = plan.getBandLower();
    std::optional<int64_t> upper = plan.getBandUpper();
    bool banded = lower || upper;
    Value qEnd;
    if (banded)
      qEnd = arith::MinUIOp::create(
          b, arith::AddIOp::create(b, q0, blockQValue), queryLen);
    // GQA: query head h reads kv head h / (Hq / Hk).
    Value kvHead = arith::DivUIOp::create(b, hIdx, groupSize);
    Value zero = arith::ConstantIndexOp::create(b, 0);
    Value kvBegin = zero, kvEnd = numKTiles;
    if (tileCounts) {
      kvBegin = kvEnd = Value();
    } else if (banded) {
      Value off = arith::SubIOp::create(b, keyLen, queryLen);
      Value one = arith::ConstantIndexOp::create(b, 1);
      Value lastRow = arith::SubIOp::create(b, qEnd, one);
      auto clampTiles = [&](Value tile) {
        return arith::MinSIOp::create(
            b, arith::MaxSIOp::create(b, tile, zero), numKTiles);
      };
      auto plusConstant = [&](Value value, int64_t constant) -> Value {
        if (constant == 0)
          return value;
        return arith::AddIOp::create(
            b, value, arith::ConstantIndexOp::create(b, constant));
      };
      if (lower) {
        Value minKey = plusConstant(arith::AddIOp::create(b, q0, off), *lower);
        kvBegin =
            clampTiles(arith::FloorDivSIOp::create(b, minKey, blockKValue));
      }
      if (upper) {
        Value maxKey =
            plusConstant(arith::AddIOp::create(b, lastRow, off), *upper);
        kvEnd = clampTiles(arith::AddIOp::create(
            b, arith::FloorDivSIOp::create(b, maxKey, blockKValue), one));
      }
    }

    auto step = FusedForwardOp::create(
        b, stepQuery, stepKey, stepValue, plan.getOutput(), plan.getLse(), bIdx,
        hIdx, q0, kvHead, kvBegin, kvEnd, tileCounts, tileIndices,
        orders.queryOrder, orders.keyOrder, orders.queryClasses,
        orders.keyClasses, orders.invalidCounts, b.getI64IntegerAttr(blockQ),
        b.getI64IntegerAttr(keyBlock), plan.getScaleAttr(),
        plan.getScheduleAttr(), plan.getBandLowerAttr(),
        plan.getBandUpperAttr(), b.getF32FloatAttr(rescaleThreshold),
        plan.getOrderClassesAttr(), sortedInputs ? b.getUnitAttr() : UnitAttr(),
        plan.getNmKeepAttr(), plan.getNmGroupAttr());
    if (Value blockMask = plan.getBlockMask())
      buildBlockMaskPredicate(b, step, plan, blockMask);
    else {
      IRMapping mapping;
      plan.getPredicate().cloneInto(&step.getPredicate(), mapping);
    }
    b.setInsertionPointAfter(forall);
    for (Value buffer : scratch)
      memref::DeallocOp::create(b, buffer);
    plan.erase();
    return success();
  }

  /// The token orders of a plan with `order`: per side, the order and the
  /// sorted classes (attn.token_order).
  struct TokenOrders {
    Value queryOrder, queryClasses, keyOrder, keyClasses;
    /// With bucket ids: per side, the count of ids out of range
    /// (memref<1xi32>), which the steps read (`unless_invalid`).
    SmallVector<Value, 2> invalidCounts;
  };

  /// Allocates an i32 scratch buffer `name` of `shape` (dynamic extents
  /// from `sizes`) and records it in `scratch`.
  Value allocScratch(ImplicitLocOpBuilder &b, StringRef name,
                     ArrayRef<int64_t> shape, ValueRange sizes,
                     SmallVectorImpl<Value> &scratch) {
    auto alloc = memref::AllocOp::create(
        b, MemRefType::get(shape, b.getI32Type()), sizes);
    // Scratch memory: the attribute names it for the GPU lowering, which
    // makes it a buffer the runtime allocates (LaunchFacts::addScratch).
    alloc->setAttr(kScratchAttrName, b.getStringAttr(name));
    scratch.push_back(alloc);
    return alloc;
  }

  /// Allocates scratch rows like `rows` ([B, H, N, D]), named `name`, and
  /// fills them with `rows` in token order `order` (attn.gather_rows).
  Value buildGatheredRows(ImplicitLocOpBuilder &b, Value rows, Value order,
                          StringRef name, SmallVectorImpl<Value> &scratch) {
    auto type = cast<MemRefType>(rows.getType());
    SmallVector<Value> sizes;
    for (unsigned dim = 0; dim < 4; ++dim)
      if (type.isDynamicDim(dim))
        sizes.push_back(memref::DimOp::create(b, rows, dim));
    auto alloc = memref::AllocOp::create(b, type, sizes);
    alloc->setAttr(kScratchAttrName, b.getStringAttr(name));
    scratch.push_back(alloc);
    GatherRowsOp::create(b, rows, order, alloc);
    return alloc;
  }

  /// Sorts the query and key tokens of a plan with `order` by class
  /// (attn.token_order into scratch orders and sorted classes).
  TokenOrders buildTokenOrders(ImplicitLocOpBuilder &b, PlanOp plan,
                               SmallVectorImpl<Value> &scratch) {
    TokenOrders orders;
    int64_t dynamic = ShapedType::kDynamic;
    // Sized like the activations (the keys have the same extents, which
    // the plan's verifier checked), so that a bundle states the sizes in
    // the attention's own symbols.
    auto sort = [&](Value keys, Value activations, StringRef side, Value &order,
                    Value &classes) {
      SmallVector<Value> sizes;
      for (unsigned dim = 0; dim < 3; ++dim)
        sizes.push_back(memref::DimOp::create(b, activations, dim));
      order = allocScratch(b, (side + "_order").str(),
                           {dynamic, dynamic, dynamic}, sizes, scratch);
      classes = allocScratch(b, (side + "_classes").str(),
                             {dynamic, dynamic, dynamic}, sizes, scratch);
      // A caller's bucket ids may lie out of range, which only the data
      // shows: the sort counts them, the steps run only when no count is
      // non-zero, and the runtime reports one. Ids from attn.lsh are in
      // range by construction.
      Value invalidCount;
      bool fromLsh = llvm::any_of(keys.getUsers(), [&](Operation *user) {
        auto lsh = dyn_cast<LshOp>(user);
        return lsh && lsh.getBucketIds() == keys;
      });
      if (!plan.getKeepFlags() && !fromLsh) {
        invalidCount = allocScratch(b, (side + "_invalid_ids").str(), {1},
                                    ValueRange{}, scratch);
        orders.invalidCounts.push_back(invalidCount);
      }
      TokenOrderOp::create(b, keys, order, classes, invalidCount,
                           *plan.getOrderClasses(), plan.getKeepFlags());
    };
    sort(plan.getQueryOrderKeys(), plan.getQuery(), "query", orders.queryOrder,
         orders.queryClasses);
    sort(plan.getKeyOrderKeys(), plan.getKey(), "key", orders.keyOrder,
         orders.keyClasses);
    return orders;
  }

  /// Allocates the lists of a plan with `order` ([B, Hq, T, *]) and the
  /// kv-tile summaries ([B, Hk, ceil(Nk / block-k), 4]) and fills them
  /// with attn.ordered_tile_lists. A further predicate leaves no tile
  /// known to be full.
  std::pair<Value, Value>
  buildOrderedTileLists(ImplicitLocOpBuilder &b, PlanOp plan,
                        const TokenOrders &orders, Value batch,
                        Value queryHeads, Value numQTiles, Value numKTiles,
                        SmallVectorImpl<Value> &scratch) {
    int64_t dynamic = ShapedType::kDynamic;
    Value kvHeads = memref::DimOp::create(b, plan.getKey(), 1);
    Value summaries =
        allocScratch(b, "key_tile_summaries", {dynamic, dynamic, dynamic, 4},
                     {batch, kvHeads, numKTiles}, scratch);
    Value counts =
        allocScratch(b, "tile_counts", {dynamic, dynamic, dynamic, 2},
                     {batch, queryHeads, numQTiles}, scratch);
    Value indices =
        allocScratch(b, "tile_indices", {dynamic, dynamic, dynamic, dynamic},
                     {batch, queryHeads, numQTiles, numKTiles}, scratch);
    OrderedTileListsOp::create(
        b, orders.queryOrder, orders.queryClasses, orders.keyOrder,
        orders.keyClasses, summaries, counts, indices, *plan.getOrderClasses(),
        blockQ, keyBlock, plan.getBandLowerAttr(), plan.getBandUpperAttr(),
        /*partial_only=*/!plan.getPredicate().empty());
    return {counts, indices};
  }

  /// Allocates the lists of a list-scheduled plan ([1, 1, T, *] for a
  /// shared block mask, [B, Hq, T, *] for a per-head one) and fills them
  /// with attn.tile_lists for this pass's tiles. A further predicate
  /// leaves no tile known to be full.
  std::pair<Value, Value> buildTileLists(ImplicitLocOpBuilder &b, PlanOp plan,
                                         Value batch, Value queryHeads,
                                         Value queryLen, Value keyLen,
                                         Value numQTiles, Value numKTiles) {
    Value blockMask = plan.getBlockMask();
    bool perHead = cast<MemRefType>(blockMask.getType()).getRank() == 4;
    int64_t listExtent = perHead ? ShapedType::kDynamic : 1;
    Type i32 = b.getI32Type();
    auto countsType =
        MemRefType::get({listExtent, listExtent, ShapedType::kDynamic, 2}, i32);
    auto indicesType = MemRefType::get(
        {listExtent, listExtent, ShapedType::kDynamic, ShapedType::kDynamic},
        i32);
    SmallVector<Value> leading;
    if (perHead)
      leading = {batch, queryHeads};
    SmallVector<Value> countsSizes(leading), indicesSizes(leading);
    countsSizes.push_back(numQTiles);
    indicesSizes.append({numQTiles, numKTiles});
    // Scratch memory: the attribute names it for the GPU lowering, which
    // makes it a buffer the runtime allocates (LaunchFacts::addScratch).
    auto counts = memref::AllocOp::create(b, countsType, countsSizes);
    auto indices = memref::AllocOp::create(b, indicesType, indicesSizes);
    counts->setAttr(kScratchAttrName, b.getStringAttr("tile_counts"));
    indices->setAttr(kScratchAttrName, b.getStringAttr("tile_indices"));
    TileListsOp::create(b, blockMask, counts, indices, queryLen, keyLen,
                        *plan.getBlockSize(), blockQ, keyBlock,
                        plan.getBandLowerAttr(), plan.getBandUpperAttr(),
                        /*partial_only=*/!plan.getPredicate().empty());
    return {counts, indices};
  }

  /// The predicate of a block-sparse step: the block mask's entry at
  /// ((b, h,) i / size, j / size) is non-zero, and the plan's predicate
  /// (if any) holds.
  void buildBlockMaskPredicate(ImplicitLocOpBuilder &outer, FusedForwardOp step,
                               PlanOp plan, Value blockMask) {
    OpBuilder::InsertionGuard guard(outer);
    Type indexType = outer.getIndexType();
    Location loc = plan.getLoc();
    Block *body = outer.createBlock(&step.getPredicate(), {},
                                    SmallVector<Type>(4, indexType),
                                    SmallVector<Location>(4, loc));
    ImplicitLocOpBuilder b(loc, outer);
    b.setInsertionPointToStart(body);
    Value size = arith::ConstantIndexOp::create(b, *plan.getBlockSize());
    SmallVector<Value, 4> position;
    if (cast<MemRefType>(blockMask.getType()).getRank() == 4)
      position.append({body->getArgument(0), body->getArgument(1)});
    position.append({arith::DivUIOp::create(b, body->getArgument(2), size),
                     arith::DivUIOp::create(b, body->getArgument(3), size)});
    Type element = cast<MemRefType>(blockMask.getType()).getElementType();
    Value allowed = arith::CmpIOp::create(
        b, arith::CmpIPredicate::ne,
        memref::LoadOp::create(b, blockMask, position),
        arith::ConstantOp::create(b, b.getZeroAttr(element)));
    if (!plan.getPredicate().empty()) {
      Block &planBody = plan.getPredicate().front();
      IRMapping mapping;
      mapping.map(planBody.getArguments(), body->getArguments());
      for (Operation &op : planBody.without_terminator())
        b.clone(op, mapping);
      allowed = arith::AndIOp::create(
          b, allowed,
          mapping.lookupOrDefault(
              cast<YieldOp>(planBody.getTerminator()).getValue()));
    }
    YieldOp::create(b, allowed);
  }
};
} // namespace
