//===- AttnTile.cpp - FlashAttention-2 tiling: attn.plan -> L2 --*- C++ -*-===//
//
// attn-tile rewrites each attn.plan into FlashAttention-2 with online
// softmax over attn.tile.* ops (level L2). With Bq = block-q, Bk = block-k,
// off = Nk - Nq and the plan's band [L, U] on delta = j - (i + off):
//
//   scf.forall (b, h, t) in (B, Hq, ceil(Nq / Bq)):
//     q0 = t·Bq, qEnd = min(q0 + Bq, Nq), hk = h / (Hq / Hk)   // GQA
//     Qt = load Q[b, h, q0 : q0 + Bq]                // rows >= Nq are zero
//     m = -inf, l = 0, acc = 0                        // per-row state
//     // schedule: only kv-tiles that intersect the band of rows [q0, qEnd)
//     lo = clamp(floor((q0 + off + L) / Bk), 0, nK)   // nK = ceil(Nk / Bk)
//     hi = clamp(floor((qEnd - 1 + off + U) / Bk) + 1, 0, nK)
//     for kt in [lo, hi):
//       k0 = kt·Bk
//       Kt = load K[b, hk, k0 : k0 + Bk], Vt = load V[b, hk, k0 : k0 + Bk]
//       S = scale · Qt Ktᵀ
//       if the tile is partial:                       // see below
//         S[r, c] = -inf where (q0 + r, k0 + c) is not allowed
//       online softmax: m' = max(m, rowmax S); P = exp(S - m');
//                       l = exp(m - m')·l + rowsum P; acc = exp(m - m')·acc
//       acc += P Vt
//     acc = acc / l, lse = m + log l                  // l = 0: 0 and -inf
//     store acc -> O[b, h, q0 : qEnd], lse -> LSE[b, h, q0 : qEnd]
//
// A kv-tile is full (the mask step is skipped) when the plan has no
// predicate, all its keys exist (k0 + Bk <= Nk), and every pair of the tile
// lies in the band: k0 + Bk - 1 <= q0 + off + U and k0 >= qEnd - 1 + off + L.
// Tiles outside [lo, hi) are never loaded. Query rows past Nq compute on
// zeros and are never stored.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

namespace attn {
#define GEN_PASS_DEF_ATTNTILE
#include "attn/Passes/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

/// Shared memory of the largest supported target (sm_90: 227 KiB per block).
static constexpr int64_t kMaxTileBytes = 227 * 1024;

namespace {
/// The tiles of one (batch, head, q-tile) iteration.
struct Tiles {
  Value query, key, value, scores, rowMax, rowSum, acc;
};

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

  /// Diagnoses tile sizes that are not powers of two in [16, 256] and tiles
  /// whose operands would not fit in shared memory.
  LogicalResult checkOptions(PlanOp plan) {
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
    if (bytes > kMaxTileBytes)
      return plan.emitOpError()
             << "attn-tile: Q, K and V tiles need " << bytes
             << " bytes, more than the " << kMaxTileBytes
             << " bytes of shared memory of the largest target; use smaller "
                "block-q/block-k";
    return success();
  }

  LogicalResult tilePlan(PlanOp plan) {
    ImplicitLocOpBuilder b(plan.getLoc(), plan);
    Value q = plan.getQuery(), k = plan.getKey(), v = plan.getValue();
    auto qType = cast<MemRefType>(q.getType());
    auto vType = cast<MemRefType>(v.getType());
    Type elementType = qType.getElementType();
    int64_t headDim = qType.getDimSize(3), valueDim = vType.getDimSize(3);

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

    auto forall = scf::ForallOp::create(
        b, ArrayRef<OpFoldResult>{batch, queryHeads, numQTiles}, ValueRange{},
        std::nullopt);
    b.setInsertionPointToStart(forall.getBody());
    Value bIdx = forall.getInductionVar(0), hIdx = forall.getInductionVar(1),
          qTileIdx = forall.getInductionVar(2);
    Value q0 = arith::MulIOp::create(b, qTileIdx, blockQValue);
    Value qEnd = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, q0, blockQValue), queryLen);
    Value kvHead = arith::DivUIOp::create(b, hIdx, groupSize);

    Tiles tiles = allocateTiles(b, elementType, headDim, valueDim);
    TileLoadOp::create(b, q, bIdx, hIdx, q0, tiles.query);
    TileFillOp::create(
        b, tiles.rowMax,
        b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
    TileFillOp::create(b, tiles.rowSum, b.getF32FloatAttr(0.0f));
    TileFillOp::create(b, tiles.acc, b.getF32FloatAttr(0.0f));

    // Position of the bottom-right diagonal: delta = j - (i + off).
    Value off = arith::SubIOp::create(b, keyLen, queryLen);
    std::optional<int64_t> lower = plan.getBandLower();
    std::optional<int64_t> upper = plan.getBandUpper();
    Value zero = arith::ConstantIndexOp::create(b, 0);
    Value one = arith::ConstantIndexOp::create(b, 1);
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
    Value lastRow = arith::SubIOp::create(b, qEnd, one);
    Value kvBegin = zero, kvEnd = numKTiles;
    if (lower) {
      Value minKey = plusConstant(arith::AddIOp::create(b, q0, off), *lower);
      kvBegin = clampTiles(arith::FloorDivSIOp::create(b, minKey, blockKValue));
    }
    if (upper) {
      Value maxKey =
          plusConstant(arith::AddIOp::create(b, lastRow, off), *upper);
      kvEnd = clampTiles(arith::AddIOp::create(
          b, arith::FloorDivSIOp::create(b, maxKey, blockKValue), one));
    }

    auto kvLoop = scf::ForOp::create(b, kvBegin, kvEnd, one);
    b.setInsertionPointToStart(kvLoop.getBody());
    Value k0 = arith::MulIOp::create(b, kvLoop.getInductionVar(), blockKValue);
    TileLoadOp::create(b, k, bIdx, kvHead, k0, tiles.key);
    TileLoadOp::create(b, v, bIdx, kvHead, k0, tiles.value);
    TileQKOp::create(b, tiles.query, tiles.key, tiles.scores,
                     plan.getScaleAttr());

    Value partial = isPartialTile(b, plan, q0, lastRow, k0, off, keyLen,
                                  blockKValue, lower, upper);
    auto ifPartial = scf::IfOp::create(b, partial, /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifPartial.thenBlock());
      auto mask = TileMaskOp::create(b, tiles.scores, q0, k0, queryLen, keyLen,
                                     plan.getBandLowerAttr(),
                                     plan.getBandUpperAttr());
      IRMapping mapping;
      plan.getPredicate().cloneInto(&mask.getPredicate(), mapping);
    }
    TileOnlineSoftmaxOp::create(b, tiles.scores, tiles.rowMax, tiles.rowSum,
                                tiles.acc);
    TilePVOp::create(b, tiles.scores, tiles.value, tiles.acc);

    b.setInsertionPointAfter(kvLoop);
    TileFinalizeOp::create(b, tiles.acc, tiles.rowMax, tiles.rowSum);
    TileStoreOp::create(b, tiles.acc, plan.getOutput(), bIdx, hIdx, q0);
    if (Value lse = plan.getLse())
      TileStoreOp::create(b, tiles.rowMax, lse, bIdx, hIdx, q0);

    plan.erase();
    return success();
  }

  /// Allocates the tiles of one q-tile iteration (on a GPU: registers and
  /// shared memory; on the CPU: stack buffers).
  Tiles allocateTiles(ImplicitLocOpBuilder &b, Type elementType,
                      int64_t headDim, int64_t valueDim) {
    Type f32 = b.getF32Type();
    auto alloc = [&](ArrayRef<int64_t> shape, Type type) -> Value {
      return memref::AllocaOp::create(b, MemRefType::get(shape, type));
    };
    Tiles tiles;
    tiles.query = alloc({blockQ, headDim}, elementType);
    tiles.key = alloc({keyBlock, headDim}, elementType);
    tiles.value = alloc({keyBlock, valueDim}, elementType);
    tiles.scores = alloc({blockQ, keyBlock}, f32);
    tiles.rowMax = alloc({blockQ}, f32);
    tiles.rowSum = alloc({blockQ}, f32);
    tiles.acc = alloc({blockQ, valueDim}, f32);
    return tiles;
  }

  /// Returns an i1 that is true when the kv-tile at k0 needs the mask step:
  /// the plan has a predicate, the tile runs past the last key, or some pair
  /// of the tile lies outside the band.
  Value isPartialTile(ImplicitLocOpBuilder &b, PlanOp plan, Value q0,
                      Value lastRow, Value k0, Value off, Value keyLen,
                      Value blockKValue, std::optional<int64_t> lower,
                      std::optional<int64_t> upper) {
    if (!plan.getPredicate().empty())
      return arith::ConstantIntOp::create(b, 1, 1);
    Value kEnd = arith::AddIOp::create(b, k0, blockKValue);
    Value partial =
        arith::CmpIOp::create(b, arith::CmpIPredicate::sgt, kEnd, keyLen);
    if (upper) {
      // Largest key of the tile vs. the tightest upper bound (first row).
      Value lastKey = arith::SubIOp::create(
          b, kEnd, arith::ConstantIndexOp::create(b, 1));
      Value bound = arith::AddIOp::create(
          b, arith::AddIOp::create(b, q0, off),
          arith::ConstantIndexOp::create(b, *upper));
      partial = arith::OrIOp::create(
          b, partial,
          arith::CmpIOp::create(b, arith::CmpIPredicate::sgt, lastKey, bound));
    }
    if (lower) {
      // Smallest key of the tile vs. the tightest lower bound (last row).
      Value bound = arith::AddIOp::create(
          b, arith::AddIOp::create(b, lastRow, off),
          arith::ConstantIndexOp::create(b, *lower));
      partial = arith::OrIOp::create(
          b, partial,
          arith::CmpIOp::create(b, arith::CmpIPredicate::slt, k0, bound));
    }
    return partial;
  }
};
} // namespace
