//===- FusedForward.cpp - the sm_80 emitter of attn.fused.forward -*- C++ -*-//
//
// The block of one (batch, head, q-tile) runs the step's kv-tiles
// FlashAttention-2 style, with 16, 32 or 64 query rows per warp:
//   - each warp owns 1, 2 or 4 row tiles of 16 query rows; its Q fragments
//     are loaded once, straight from global memory, unless they would take
//     more than kMaxQueryFragmentRegisters (FusedForwardPlan.cpp)
//     registers: then the Q tile is copied to shared memory with the first
//     K/V tile and the fragments of each k-step are read by ldmatrix.x4
//     inside the loop;
//   - S = scale Q Kᵀ is a set of mma.sync m16n8k16 accumulator fragments,
//     emitted k-step outer so that consecutive mma are independent;
//     thread (g = lane / 4, t = lane % 4) holds rows g and g + 8 and, in
//     each 8-column slice, columns 2t and 2t + 1;
//   - partial tiles are masked on the fragments: per row, the allowed key
//     columns form one range (TileMaskOp::buildColumnBounds) compared as
//     i32 with each fragment's constant column, only in warps where some
//     lane has a disallowed key; a predicate region over (b, h, i, j) is
//     evaluated per element;
//   - the softmax works in the log2 domain (log2(e) folded into the scale,
//     the scale folded into the exponent's fma) so that it uses exp2, as
//     ex2.approx.ftz (one MUFU instruction; the non-ftz form adds a
//     compare and two multiplies for subnormal results);
//   - the online softmax runs on the fragments: row max (a balanced tree,
//     then two xor shuffles over the quad); the running max moves only when
//     a warp vote sees some row exceed it by the step's rescale_threshold, so
//     acc is rescaled only in those iterations; the running sum stays a
//     per-thread partial until the end;
//   - K fragments come from ldmatrix.x4, V fragments from ldmatrix.x4.trans,
//     each requested one step ahead of its mma; K and V go through 4 (two
//     tiles ahead) or 2 (one tile ahead) shared-memory stages filled by
//     cp.async, with one barrier per iteration (KeyValuePipeline); a tile
//     wholly inside the tensor is copied from
//     one strided view per thread (addresses = base + constants), only the
//     last one with clamped rows and zero fill;
//   - P is rounded to the input type in pairs (cvt.rn.bf16x2.f32) and used
//     directly as the A operand of P V (the accumulator layout of an m16n8
//     pair is the A layout of one m16k16 chunk); acc stays in registers as
//     loop-carried values;
//   - after the loop acc is divided by l and stored from the fragments,
//     LSE = m + log l by one thread per quad.
//
// With an N:M prune (nm(n of m)), between the mask step and the softmax:
//   - the key layout changes: in every 32-key chunk, column 2t + j of
//     slice k (k = 0 .. 3) holds key 8t + 2k + j, so each lane's 8 columns
//     of a chunk are 8 consecutive keys and every group of 2, 4 or 8 lies
//     in one lane. Only the ldmatrix row addresses of K (and of V for the
//     dense P V, whose A fragment pairs slices 2kc and 2kc + 1) change;
//     the K and V stages are swizzled by row block (rowBlockSwizzle) so
//     that the 8 rows one ldmatrix names fall on 8 bank groups;
//   - each group is pruned in registers with ScorePrune.h's rule;
//   - 2:4 and 1:2 (sparse tensor cores): the two kept scores of each group
//     of four are the compressed A operand of mma.sp m16n8k32 (logical
//     group t = this lane's keys 8t .. 8t + 3, group t + 4 its keys
//     8t + 4 .. 8t + 7; V's rows are read in that order), only they go
//     through the softmax's exponentials, and the metadata is built in
//     registers (lanes t = 0 and 1 of a quad supply it, selector 0);
//     other patterns set pruned scores to -inf and keep the dense P V.
//
// The row arithmetic of the softmax is SoftmaxNumerics.h's (shared with the
// CPU decomposition), the length/band/predicate conditions TileMask's, the
// N:M selection ScorePrune.h's.
//
//===----------------------------------------------------------------------===//

#include "FusedForward.h"
#include "FragmentMask.h"
#include "OrderedMask.h"
#include "PrunedScores.h"

#include "attn/Dialect/Attn/ScorePrune.h"
#include "attn/Dialect/Attn/SoftmaxNumerics.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace attn;

namespace {
/// Emits FlashAttention-2 with S, P, the row statistics and the output
/// accumulator in registers (see the file comment). Each warp owns
/// `rowTiles` consecutive 16-row tiles of the q-tile; in row tile r,
/// thread (g = lane / 4, t = lane % 4) holds rows 16r + g and 16r + g + 8
/// and, in each 8-column slice, columns 2t and 2t + 1. Every K and V
/// fragment read from shared memory feeds one mma per row tile.
class FlashEmitter {
public:
  FlashEmitter(ImplicitLocOpBuilder &b, KernelBuilder &tiles, int64_t headDim,
               int64_t valueDim, int64_t blockK, int64_t rowTiles, bool isBF16,
               Type elementType, float rescaleThreshold)
      : b(b), tiles(tiles), headDim(headDim), valueDim(valueDim),
        blockK(blockK), rowTiles(rowTiles), isBF16(isBF16),
        elementType(elementType), rescaleThreshold(rescaleThreshold) {}

  /// Computes the lane coordinates and, unless `sharedQueryTile` (the Q
  /// tile in shared memory, filled by the caller) is given, loads this
  /// warp's Q fragments straight from global memory (they are read once
  /// per block): rows q0 + 16 (rowTiles warp + r) + g and + 8 of
  /// query[batch, head], zero past the end.
  void loadQueryFragments(Value query, Value batch, Value head, Value q0,
                          Value sharedQueryTile) {
    KernelBuilder::LaneCoords coords = tiles.laneCoords();
    Value lane = coords.lane;
    g = coords.g;
    twoT = coords.twoT;
    isQuadLeader = arith::CmpIOp::create(
        b, arith::CmpIPredicate::eq,
        arith::RemUIOp::create(b, lane, tiles.index(4)), tiles.index(0));
    warpRowBase =
        arith::MulIOp::create(b, coords.warp, tiles.index(16 * rowTiles));
    Value warpRow0 = arith::AddIOp::create(b, warpRowBase, g);
    for (int64_t r = 0; r < rowTiles; ++r)
      for (int64_t half = 0; half < 2; ++half)
        rows.push_back(
            arith::AddIOp::create(b, warpRow0, tiles.index(16 * r + 8 * half)));
    // ldmatrix.x4: lane l gives row l % 8 of matrix l / 8. Matrix bit 0
    // and bit 1 select +8 rows or +8 columns, depending on the operand.
    Value laneRow = arith::RemUIOp::create(b, lane, tiles.index(8));
    Value laneMatrix = arith::DivUIOp::create(b, lane, tiles.index(8));
    Value bit0Offset = arith::MulIOp::create(
        b, arith::RemUIOp::create(b, laneMatrix, tiles.index(2)),
        tiles.index(8));
    Value bit1Offset = arith::MulIOp::create(
        b, arith::DivUIOp::create(b, laneMatrix, tiles.index(2)),
        tiles.index(8));
    keyLaneRow = arith::AddIOp::create(b, laneRow, bit1Offset);
    keyLaneCol = bit0Offset;
    valueLaneRow = arith::AddIOp::create(b, laneRow, bit0Offset);
    valueLaneCol = bit1Offset;
    queryLaneRow = valueLaneRow;
    laneKeyOffset = twoT;
    if (prune) {
      // The prune's key layout (file comment): column 2t + j of slice k of
      // a 32-key chunk is key 8t + 2k + j, so the lane giving row x of an
      // ldmatrix names key 8 (x / 2) + x % 2, plus 2 for the second slice
      // of the pair (K: matrix bit 1; V, whose A fragment pairs slices 2kc
      // and 2kc + 1: matrix bit 0).
      Value spread = arith::AddIOp::create(
          b,
          arith::MulIOp::create(
              b, arith::DivUIOp::create(b, laneRow, tiles.index(2)),
              tiles.index(8)),
          arith::RemUIOp::create(b, laneRow, tiles.index(2)));
      keyLaneRow = arith::AddIOp::create(
          b, spread, arith::DivUIOp::create(b, bit1Offset, tiles.index(4)));
      valueLaneRow = arith::AddIOp::create(
          b, spread, arith::DivUIOp::create(b, bit0Offset, tiles.index(4)));
      laneKeyOffset = arith::MulIOp::create(b, twoT, tiles.index(4));
      // K and V rows of one lane lie in one row block of the swizzle
      // (rowBlockSwizzle) at every offset the reads add.
      if (swizzledKeyValue) {
        keySwizzle = rowBlockSwizzle(tiles, keyLaneRow);
        valueSwizzle = rowBlockSwizzle(tiles, valueLaneRow);
      }
    }
    queryTile = sharedQueryTile;
    // Over sorted tokens: each row's original position, class and band
    // bounds, read once for every partial tile of the loop.
    if (orders)
      orderedRows = prepareOrderedRows(tiles, *orders, rows, batch, head, q0,
                                       *orderMask, orderDiagonalOffset);
    if (queryTile)
      return;
    Value queryLen = memref::DimOp::create(b, query, 2);
    Value lastRow = arith::SubIOp::create(b, queryLen, tiles.index(1));
    Type pairType = VectorType::get({2}, elementType);
    Value zeroPair = arith::ConstantOp::create(
        b, DenseElementsAttr::get(cast<ShapedType>(pairType),
                                  b.getZeroAttr(elementType)));
    for (int64_t r = 0; r < rowTiles; ++r) {
      SmallVector<std::pair<Value, Value>, 2> clamped; // (row, in range)
      for (int64_t half = 0; half < 2; ++half) {
        Value absolute = arith::AddIOp::create(b, q0, rowOf(r, half));
        Value row = queryRowsThroughOrder
                        ? orderedRows[2 * r + half].position
                        : Value(arith::MinUIOp::create(b, absolute, lastRow));
        clamped.push_back(
            {row, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, absolute,
                                        queryLen)});
      }
      auto loadPair = [&](int64_t half, Value col) -> Value {
        auto [row, inRange] = clamped[half];
        Value pair = vector::LoadOp::create(
            b, pairType, query, ValueRange{batch, head, row, col},
            /*nontemporal=*/false, llvm::MaybeAlign(4));
        pair = arith::SelectOp::create(b, inRange, pair, zeroPair);
        return tiles.pairOperand(pair);
      };
      SmallVector<SmallVector<Value>> fragments;
      for (int64_t k0 = 0; k0 < headDim; k0 += 16) {
        Value col = arith::AddIOp::create(b, twoT, tiles.index(k0));
        Value col8 = arith::AddIOp::create(b, col, tiles.index(8));
        fragments.push_back({loadPair(0, col), loadPair(1, col),
                             loadPair(0, col8), loadPair(1, col8)});
      }
      queryFragments.push_back(std::move(fragments));
    }
  }

  /// Loop-carried state, per row tile r: m (2) and l (2) at 4r, and acc
  /// (valueDim / 8 slices of 4) at accIndex(r, 0).
  SmallVector<Value> initialState() {
    SmallVector<Value> state;
    for (int64_t r = 0; r < rowTiles; ++r)
      state.append({tiles.f32(-std::numeric_limits<float>::infinity()),
                    tiles.f32(-std::numeric_limits<float>::infinity()),
                    tiles.f32(0.0f), tiles.f32(0.0f)});
    state.append(rowTiles * valueDim / 2, tiles.f32(0.0f));
    return state;
  }

  /// One kv tile: S = scale Q Kᵀ, mask when `partial`, online softmax,
  /// acc += P V. Returns the new state. `batch` and `head` feed the
  /// predicate, `problem` the length and band conditions.
  SmallVector<Value> step(ValueRange state, Value keyTile, Value valueTile,
                          FloatAttr scale, Value partial, const TileMask &mask,
                          const FusedForwardOp::Problem &problem, Value batch,
                          Value head, Value q0, Value k0) {
    // S fragments per row tile: blockK / 8 slices of 4 values. The softmax
    // works in the log2 domain, s' = scale · log2(e) · s, so that
    // exp(s - m) = exp2(s' - m'). With a positive scale the fragments stay
    // unscaled (masking with -inf and the row max commute with the scaling)
    // and the scale is folded into the exponent's fma.
    double log2Scale = scale.getValueAsDouble() * softmax::kLog2E;
    bool foldScale = log2Scale > 0;
    Value scaleValue =
        arith::ConstantOp::create(b, b.getF32FloatAttr(log2Scale));
    SmallVector<SmallVector<Value>> scores(rowTiles);
    // k-step outer, key slices inner: the blockK / 8 · rowTiles
    // accumulators of a k-step are independent mmas, and the K fragments of
    // step kStep + 1 are requested (ldmatrix) before the mmas of step kStep
    // so that their shared-memory latency overlaps tensor work. One
    // ldmatrix.x4 covers two key slices of one k-step: matrices (keys
    // n0, n0 + 8) x (dims 16 kStep, 16 kStep + 8) are b0, b1 of slice n0
    // and b0, b1 of slice n0 + 8.
    // With Q in shared memory its A fragments of the step (one ldmatrix.x4
    // per row tile: rows +0/+8 x dims +0/+8) come along with K's.
    int64_t kSteps = headDim / 16, slices = blockK / 8;
    struct StepFragments {
      SmallVector<SmallVector<Value>> key, query;
    };
    // This lane's row of the Q tile, through an opaque copy: the kSteps ·
    // rowTiles Q fragment reads of the body then share one register and
    // differ by constants (see KernelBuilder::opaque).
    Value queryRow;
    if (queryTile)
      queryRow = tiles.opaque(
          arith::AddIOp::create(b, warpRowBase, this->queryLaneRow));
    // The lane's swizzle masks. Up to D = 64 the few swizzled columns (one
    // per 16 dims) are left to be hoisted out of the loop, a register each;
    // above, through opaque copies, so that they are recomputed in the body
    // (D = 128 has no registers to spare).
    Value keyMask, valueMask;
    if (swizzledKeyValue) {
      bool hoist = headDim <= 64 && valueDim <= 64;
      keyMask = hoist ? keySwizzle : tiles.opaque(keySwizzle);
      valueMask = hoist ? valueSwizzle : tiles.opaque(valueSwizzle);
    }
    auto swizzle = [&](Value col, Value mask) -> Value {
      return mask ? Value(arith::XOrIOp::create(b, col, mask)) : col;
    };
    auto loadKeyStep = [&](int64_t kStep) {
      StepFragments fragments;
      Value col =
          swizzle(arith::AddIOp::create(b, keyLaneCol, tiles.index(16 * kStep)),
                  keyMask);
      for (int64_t pair = 0; pair < blockK / 16; ++pair)
        fragments.key.push_back(tiles.loadMatrices(
            keyTile,
            arith::AddIOp::create(b, keyLaneRow,
                                  tiles.index(slicePairOffset(pair))),
            col,
            /*transpose=*/false));
      for (int64_t r = 0; r < rowTiles; ++r)
        fragments.query.push_back(
            queryTile
                ? tiles.loadMatrices(
                      queryTile,
                      arith::AddIOp::create(b, queryRow, tiles.index(16 * r)),
                      arith::AddIOp::create(b, valueLaneCol,
                                            tiles.index(16 * kStep)),
                      /*transpose=*/false)
                : queryFragments[r][kStep]);
      return fragments;
    };
    SmallVector<SmallVector<SmallVector<Value>>> c(
        rowTiles, SmallVector<SmallVector<Value>>(
                      slices, SmallVector<Value>(4, tiles.f32(0.0f))));
    StepFragments next = loadKeyStep(0);
    for (int64_t kStep = 0; kStep < kSteps; ++kStep) {
      StepFragments current = std::move(next);
      if (kStep + 1 < kSteps)
        next = loadKeyStep(kStep + 1);
      for (int64_t slice = 0; slice < slices; ++slice) {
        ArrayRef<Value> pair = current.key[slice / 2];
        SmallVector<Value, 2> fragment{pair[2 * (slice % 2)],
                                       pair[2 * (slice % 2) + 1]};
        for (int64_t r = 0; r < rowTiles; ++r)
          c[r][slice] =
              tiles.mma(current.query[r], fragment, c[r][slice], isBF16);
      }
    }
    for (int64_t r = 0; r < rowTiles; ++r)
      for (ArrayRef<Value> slice : c[r])
        for (Value v : slice)
          scores[r].push_back(
              foldScale ? v : arith::MulFOp::create(b, v, scaleValue));

    // Mask partial tiles.
    SmallVector<Value> flat;
    for (ArrayRef<Value> rowScores : scores)
      flat.append(rowScores.begin(), rowScores.end());
    // Within a partial tile a warp whose rows all allow every key of the
    // tile (below the causal diagonal) keeps its scores; without a
    // predicate the bounds alone tell.
    SmallVector<Value> maybeMasked = updateIf(partial, flat, [&] {
      if (orders)
        return maskOrderedScores(tiles, *orders, orderedRows, flat, blockK,
                                 twoT, mask, problem, batch, head, k0,
                                 valueMapping);
      SmallVector<FragmentRowBounds> bounds = buildFragmentRowBounds(
          tiles, mask, problem, rows, q0,
          arith::AddIOp::create(b, k0, laneKeyOffset), blockK);
      auto masked = [&] {
        SmallVector<Value> result;
        for (int64_t r = 0; r < rowTiles; ++r)
          llvm::append_range(result, maskFragmentScores(
                                         tiles, scores[r], mask, batch, head,
                                         {bounds[2 * r], bounds[2 * r + 1]},
                                         [&](int64_t i) { return columnOf(i); },
                                         valueMapping));
        return result;
      };
      if (mask.hasPredicate())
        return masked();
      Value lastColumn = arith::ConstantIntOp::create(b, b.getI32Type(),
                                                      columnOf(blockK / 2 - 3));
      Value zero = arith::ConstantIntOp::create(b, b.getI32Type(), 0);
      Value anyDisallowed;
      for (const FragmentRowBounds &row : bounds) {
        Value some = arith::CmpIOp::create(b, arith::CmpIPredicate::slt,
                                           row.last, lastColumn);
        if (row.first)
          some = arith::OrIOp::create(
              b, some,
              arith::CmpIOp::create(b, arith::CmpIPredicate::sgt, row.first,
                                    zero));
        anyDisallowed =
            anyDisallowed ? Value(arith::OrIOp::create(b, anyDisallowed, some))
                          : some;
      }
      return updateIf(warpVote(anyDisallowed, NVVM::VoteSyncKind::any), flat,
                      masked);
    });
    int64_t perRowTile = blockK / 2;
    for (int64_t r = 0; r < rowTiles; ++r)
      scores[r].assign(maybeMasked.begin() + r * perRowTile,
                       maybeMasked.begin() + (r + 1) * perRowTile);

    // The N:M prune, in registers (PrunedScores.h).
    // The lane, read in the loop body; above D = 64 through an opaque copy,
    // so that what the sparse P V derives from it (V rows, swizzled
    // columns, metadata shifts) is recomputed per iteration instead of
    // taking registers across the loop (D = 128 is at 255 registers).
    Value lane;
    if (sparseValueProduct) {
      lane = tiles.lane();
      if (headDim > 64 || valueDim > 64)
        lane = tiles.opaque(lane);
    }
    PrunedScores pruned;
    if (prune)
      pruned = pruneScoreFragments(tiles, scores, prune->first, prune->second,
                                   blockK, sparseValueProduct, lane);
    SmallVector<SmallVector<KeptPair>> &kept = pruned.kept;
    // The scores each row's softmax sees (row 2r + half): its fragment
    // elements, or with the sparse P V only the kept ones.
    SmallVector<SmallVector<Value *>> rowValues(2 * rowTiles);
    for (int64_t r = 0; r < rowTiles; ++r)
      for (int64_t half = 0; half < 2; ++half) {
        SmallVector<Value *> &values = rowValues[2 * r + half];
        if (sparseValueProduct) {
          for (KeptPair &pair : kept[2 * r + half])
            values.append({&pair.firstValue, &pair.secondValue});
          continue;
        }
        for (size_t i = 0; i < scores[r].size(); i += 4)
          for (int64_t j = 0; j < 2; ++j)
            values.push_back(&scores[r][i + 2 * half + j]);
      }

    // Online softmax on the fragments (rows g and g + 8 of each row tile),
    // with the running max raised lazily: a row's max m' moves only when
    // the warp votes that some row's tile max exceeds its m' by more than
    // kRescaleThreshold; otherwise m' stays, P = exp2(s' - m') is at most
    // 2^kRescaleThreshold, and the rescaling of acc (valueDim / 2 products
    // per row tile) is skipped. O = acc / l and LSE = m' ln 2 + ln l hold
    // for any m' used consistently, so the result is unchanged.
    SmallVector<Value> tileMax(2 * rowTiles), oldMax(2 * rowTiles);
    Value anyRowRises;
    for (int64_t r = 0; r < rowTiles; ++r)
      for (int64_t half = 0; half < 2; ++half) {
        SmallVector<Value> rowScores;
        for (Value *score : rowValues[2 * r + half])
          rowScores.push_back(*score);
        Value rowMax = quadReduce(treeReduce(rowScores, /*isMax=*/true),
                                  /*isMax=*/true);
        if (foldScale)
          rowMax = arith::MulFOp::create(b, rowMax, scaleValue);
        int64_t row = 2 * r + half;
        tileMax[row] = rowMax;
        oldMax[row] = state[4 * r + half];
        Value rises = softmax::buildRises(b, b.getLoc(), oldMax[row], rowMax,
                                          rescaleThreshold);
        anyRowRises = anyRowRises
                          ? Value(arith::OrIOp::create(b, anyRowRises, rises))
                          : rises;
      }
    Value rescale = warpVote(anyRowRises, NVVM::VoteSyncKind::any);
    SmallVector<Value> newState(state.begin(), state.end());
    SmallVector<Value> alpha(2 * rowTiles);
    for (int64_t r = 0; r < rowTiles; ++r)
      for (int64_t half = 0; half < 2; ++half) {
        int64_t row = 2 * r + half;
        softmax::RowUpdate update = softmax::buildRowUpdate(
            b, b.getLoc(), oldMax[row], tileMax[row], rescale,
            [&](Value x) { return tiles.exp2FlushToZero(x); });
        Value newMax = update.newMax, shift = update.shift;
        alpha[row] = update.alpha;
        Value negShift = arith::NegFOp::create(b, shift);
        SmallVector<Value> probs;
        for (Value *score : rowValues[row]) {
          Value &s = *score;
          Value exponent =
              foldScale ? Value(math::FmaOp::create(b, s, scaleValue, negShift))
                        : Value(arith::AddFOp::create(b, s, negShift));
          s = tiles.exp2FlushToZero(exponent);
          probs.push_back(s);
        }
        Value partialSum = treeReduce(probs, /*isMax=*/false);
        // l stays a per-thread partial sum; the quad is summed at the end.
        newState[4 * r + half] = newMax;
        newState[4 * r + 2 + half] = math::FmaOp::create(
            b, alpha[row], state[4 * r + 2 + half], partialSum);
      }
    // acc *= alpha, only in the iterations where some row's max moved.
    int64_t accBegin = accIndex(0, 0);
    SmallVector<Value> acc(newState.begin() + accBegin, newState.end());
    SmallVector<Value> rescaled = updateIf(rescale, acc, [&] {
      SmallVector<Value> scaled;
      for (int64_t r = 0; r < rowTiles; ++r)
        for (int64_t i = 0; i < valueDim / 2; ++i)
          scaled.push_back(arith::MulFOp::create(b, acc[r * (valueDim / 2) + i],
                                                 alpha[2 * r + (i % 4) / 2]));
      return scaled;
    });
    std::copy(rescaled.begin(), rescaled.end(), newState.begin() + accBegin);

    if (sparseValueProduct) {
      SparseValueProduct product{rowTiles,        blockK, valueDim,
                                 elementType,     isBF16, orderedSparseMetadata,
                                 swizzledKeyValue};
      accumulateSparseValueProduct(
          tiles, product, newState,
          [&](int64_t r, int64_t e) { return accIndex(r, e); }, kept,
          pruned.metadata, valueTile, lane);
      return newState;
    }
    // acc += P V: P's accumulator layout is the A-operand layout.
    SmallVector<SmallVector<SmallVector<Value>>> pFragments(rowTiles);
    for (int64_t r = 0; r < rowTiles; ++r)
      for (int64_t kc = 0; kc < blockK / 16; ++kc) {
        ArrayRef<Value> p(scores[r].data() + 8 * kc, 8);
        pFragments[r].push_back({tiles.roundPair(p[0], p[1], elementType),
                                 tiles.roundPair(p[2], p[3], elementType),
                                 tiles.roundPair(p[4], p[5], elementType),
                                 tiles.roundPair(p[6], p[7], elementType)});
      }
    // acc slice e of every row tile += P(kc) · valueFragment.
    auto accumulate = [&](int64_t kc, int64_t e,
                          ArrayRef<Value> valueFragment) {
      for (int64_t r = 0; r < rowTiles; ++r) {
        int64_t index = accIndex(r, e);
        ArrayRef<Value> acc(newState.data() + index, 4);
        SmallVector<Value> updated =
            tiles.mma(pFragments[r][kc], valueFragment, acc, isBF16);
        std::copy(updated.begin(), updated.end(), newState.begin() + index);
      }
    };
    if (valueDim % 16 == 0) {
      // One ldmatrix.x4.trans covers two value slices: matrices (keys
      // 16kc, 16kc+8) x (values 16ep, 16ep+8), transposed, are b0, b1 of
      // slice 2ep and of slice 2ep + 1. Blocks are walked kc-major, each
      // requested one block ahead of its mmas.
      int64_t valuePairs = valueDim / 16;
      auto loadValueBlock = [&](int64_t block) {
        int64_t kc = block / valuePairs, ep = block % valuePairs;
        return tiles.loadMatrices(
            valueTile,
            arith::AddIOp::create(b, valueLaneRow,
                                  tiles.index(slicePairOffset(kc))),
            swizzle(
                arith::AddIOp::create(b, valueLaneCol, tiles.index(16 * ep)),
                valueMask),
            /*transpose=*/true);
      };
      int64_t blocks = blockK / 16 * valuePairs;
      SmallVector<Value> next = loadValueBlock(0);
      for (int64_t block = 0; block < blocks; ++block) {
        SmallVector<Value> v = std::move(next);
        if (block + 1 < blocks)
          next = loadValueBlock(block + 1);
        int64_t kc = block / valuePairs, ep = block % valuePairs;
        accumulate(kc, 2 * ep, {v[0], v[1]});
        accumulate(kc, 2 * ep + 1, {v[2], v[3]});
      }
      return newState;
    }
    for (int64_t kc = 0; kc < blockK / 16; ++kc) {
      Value k = arith::AddIOp::create(b, twoT, tiles.index(16 * kc));
      Value k1 = arith::AddIOp::create(b, k, tiles.index(1));
      Value k8 = arith::AddIOp::create(b, k, tiles.index(8));
      Value k9 = arith::AddIOp::create(b, k, tiles.index(9));
      for (int64_t e = 0; e < valueDim / 8; ++e) {
        Value col = arith::AddIOp::create(b, g, tiles.index(8 * e));
        auto load = [&](Value row) {
          return memref::LoadOp::create(b, valueTile, ValueRange{row, col});
        };
        accumulate(kc, e,
                   {tiles.packPair(load(k), load(k1)),
                    tiles.packPair(load(k8), load(k9))});
      }
    }
    return newState;
  }

  /// Normalises and writes O (and LSE) rows that exist (at the rows the
  /// query order names, with orders).
  void finish(ValueRange state, Value output, Value lse, Value batch,
              Value head, Value q0) {
    Value queryLen = memref::DimOp::create(b, output, 2);
    Type outType = cast<MemRefType>(output.getType()).getElementType();
    for (int64_t r = 0; r < rowTiles; ++r)
      for (int64_t half = 0; half < 2; ++half) {
        Value sum = quadReduce(state[4 * r + 2 + half], /*isMax=*/false);
        Value inverse = softmax::buildInverseSum(b, b.getLoc(), sum);
        Value row = arith::AddIOp::create(b, q0, rowOf(r, half));
        Value inRange =
            arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, queryLen);
        auto ifOp = scf::IfOp::create(b, inRange, /*withElseRegion=*/false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifOp.thenBlock());
        if (orders)
          row = buildOriginalRow(b, b.getLoc(), orders->query, batch, head,
                                 row);
        for (int64_t e = 0; e < valueDim / 8; ++e) {
          Value col = arith::AddIOp::create(b, twoT, tiles.index(8 * e));
          SmallVector<Value, 2> pair;
          for (int64_t j = 0; j < 2; ++j)
            pair.push_back(tiles.fromF32(
                arith::MulFOp::create(b, state[accIndex(r, e) + 2 * half + j],
                                      inverse),
                outType));
          Value vector = vector::FromElementsOp::create(
              b, VectorType::get({2}, outType), pair);
          vector::StoreOp::create(
              b, vector, output, ValueRange{batch, head, row, col},
              /*nontemporal=*/false,
              llvm::MaybeAlign(2 * outType.getIntOrFloatBitWidth() / 8));
        }
        if (lse) {
          // m is in the log2 domain: LSE = m · ln 2 + ln l.
          Value value =
              softmax::buildLogSumExp(b, b.getLoc(), state[4 * r + half], sum);
          auto leader = scf::IfOp::create(b, isQuadLeader, false);
          b.setInsertionPointToStart(leader.thenBlock());
          memref::StoreOp::create(b, value, lse, ValueRange{batch, head, row});
        }
      }
  }

private:
  /// The q-tile row of this thread in row tile r, half 0 (g) or 1 (g + 8).
  Value rowOf(int64_t r, int64_t half) const { return rows[2 * r + half]; }

  /// The key column, relative to this lane's first key (k0 +
  /// laneKeyOffset), of element i of a row tile's S fragments (slice i / 4,
  /// column i % 2 of the lane's pair): 8 (i / 4) + i % 2, or with the
  /// prune's layout 32 (s / 4) + 2 (s % 4) + i % 2 for slice s = i / 4.
  int64_t columnOf(int64_t i) const {
    int64_t slice = i / 4;
    if (!prune)
      return 8 * slice + i % 2;
    return 32 * (slice / 4) + 2 * (slice % 4) + i % 2;
  }

  /// The first key row of slice pair `pair` (slices 2 pair and 2 pair + 1,
  /// one ldmatrix.x4 of K, or the k16 block `pair` of P V): 16 pair, or
  /// with the prune's layout 32 (pair / 2) + 4 (pair % 2).
  int64_t slicePairOffset(int64_t pair) const {
    return prune ? 32 * (pair / 2) + 4 * (pair % 2) : 16 * pair;
  }

  /// Index in the state of acc slice e (4 values) of row tile r.
  int64_t accIndex(int64_t r, int64_t e) const {
    return 4 * rowTiles + r * (valueDim / 2) + 4 * e;
  }

  /// `update()` (the same number of f32 values) where `condition` holds,
  /// `values` unchanged otherwise: an scf.if whose then-branch computes the
  /// update, so that its work runs only when needed.
  SmallVector<Value> updateIf(Value condition, ArrayRef<Value> values,
                              function_ref<SmallVector<Value>()> update) {
    auto ifOp = scf::IfOp::create(
        b, SmallVector<Type>(values.size(), b.getF32Type()), condition,
        /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    scf::YieldOp::create(b, update());
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, values);
    return SmallVector<Value>(ifOp.getResults());
  }

  /// The max or sum of `values` as a balanced tree (depth log2 n instead of
  /// a chain of n dependent operations).
  Value treeReduce(ArrayRef<Value> values, bool isMax) {
    SmallVector<Value> level(values);
    while (level.size() > 1) {
      SmallVector<Value> next;
      for (size_t i = 0; i + 1 < level.size(); i += 2)
        next.push_back(
            isMax ? Value(arith::MaxNumFOp::create(b, level[i], level[i + 1]))
                  : Value(arith::AddFOp::create(b, level[i], level[i + 1])));
      if (level.size() % 2)
        next.push_back(level.back());
      level = std::move(next);
    }
    return level.front();
  }

  /// Reduces `value` over the 4 threads of a quad (lanes that share g).
  Value quadReduce(Value value, bool isMax) {
    for (int32_t offset : {1, 2}) {
      Value other =
          gpu::ShuffleOp::create(b, value, offset, 32, gpu::ShuffleMode::XOR)
              .getShuffleResult();
      value = isMax ? Value(arith::MaxNumFOp::create(b, value, other))
                    : Value(arith::AddFOp::create(b, value, other));
    }
    return value;
  }

  /// The vote of this warp's lanes on `predicate`.
  Value warpVote(Value predicate, NVVM::VoteSyncKind kind) {
    return NVVM::VoteSyncOp::create(
        b, b.getI1Type(), arith::ConstantIntOp::create(b, b.getI32Type(), -1),
        predicate, kind);
  }

public:
  IRMapping valueMapping; // values above the step -> launch body values
  /// The step's N:M prune (keep, group), if any; set before
  /// loadQueryFragments, which picks the key layout.
  std::optional<std::pair<int64_t, int64_t>> prune;
  /// With a 2:4 or 1:2 prune: P V on the sparse tensor cores, in the
  /// `::ordered_metadata` form or not.
  bool sparseValueProduct = false, orderedSparseMetadata = false;
  /// Whether the K and V stages are swizzled (rowBlockSwizzle): with the
  /// prune's layout when both head dims are at least 64 and K/V are
  /// pipelined (the cp.async copies write the swizzle).
  bool swizzledKeyValue = false;
  /// The orders and classes of a step over sorted tokens (OrderedMask.h).
  std::optional<SortedTokens> orders;
  /// Q rows are loaded through the query order (orders without
  /// sorted_inputs: FusedForwardOp::getQueryLoadOrder).
  bool queryRowsThroughOrder = false;
  /// The step's mask and Nk - Nq, for the rows of a step over sorted
  /// tokens.
  std::optional<TileMask> orderMask;
  Value orderDiagonalOffset;
  /// This thread's rows of a step over sorted tokens, orderedRows[2r + half].
  SmallVector<OrderedRow> orderedRows;

private:
  ImplicitLocOpBuilder &b;
  KernelBuilder &tiles;
  int64_t headDim, valueDim, blockK, rowTiles;
  bool isBF16;
  Type elementType;
  /// The fused step's rescale_threshold (log2 units).
  float rescaleThreshold;
  Value g, twoT, isQuadLeader;
  /// The first q-tile row of this warp (16 rowTiles warp).
  Value warpRowBase;
  /// The Q tile in shared memory, or null when the Q fragments are
  /// registers (queryFragments).
  Value queryTile;
  /// This thread's q-tile rows, rowOf(r, half) = rows[2r + half].
  SmallVector<Value> rows;
  /// ldmatrix.x4 addressing of this lane: key row keyLaneRow and dim
  /// column keyLaneCol of a (16 keys x 16 dims) K block; row valueLaneRow
  /// and column valueLaneCol of a 16 x 16 block of V (transposed) or of Q
  /// (row queryLaneRow: V's rows follow the prune's key layout, Q's not)
  /// (an A operand: rows +8 in matrices 1 and 3, columns +8 in 2 and 3).
  Value keyLaneRow, keyLaneCol, valueLaneRow, valueLaneCol, queryLaneRow;
  /// The column XOR of this lane's K and V rows (swizzledKeyValue).
  Value keySwizzle, valueSwizzle;
  /// The first key of this lane's S columns in a tile: 2t, or 8t with the
  /// prune's layout.
  Value laneKeyOffset;

  /// queryFragments[r][kStep]: the A operand of row tile r, dims 16 kStep.
  SmallVector<SmallVector<SmallVector<Value>>> queryFragments;
};

} // namespace

void attn::emitSm80FusedForward(KernelBuilder &kernel, FusedForwardOp step,
                                IRMapping &mapping,
                                const Sm80FusedForwardPlan &plan,
                                ArrayRef<Value> buffers, int64_t threads) {
  ImplicitLocOpBuilder &b = kernel.b;
  const KeyValuePipeline &pipeline = plan.pipeline;
  int64_t stages = pipeline.stages, ahead = pipeline.ahead;
  bool pipelined = stages > 0;
  auto operand = [&](Value value) { return mapping.lookupOrDefault(value); };
  auto queryType = cast<MemRefType>(step.getQuery().getType());
  Type element = queryType.getElementType();
  int64_t blockQ = step.getBlockQ(), blockK = step.getBlockK();
  int64_t headDim = step.getHeadDim(), valueDim = step.getValueDim();
  MemRefType queryTile = MemRefType::get({blockQ, headDim}, element);
  MemRefType keyTile = MemRefType::get({blockK, headDim}, element);
  MemRefType valueTile = MemRefType::get({blockK, valueDim}, element);
  Value queryBuffer = plan.sharedQuery ? buffers[0] : Value();
  Value keyBuffer = buffers[plan.sharedQuery ? 1 : 0];
  Value valueBuffer = buffers[plan.sharedQuery ? 2 : 1];

  Value query = operand(step.getQuery()), key = operand(step.getKey()),
        value = operand(step.getValue());
  Value batch = operand(step.getBatch()), head = operand(step.getHead());
  Value q0 = operand(step.getQueryStart());
  FusedForwardOp::Problem problem = step.buildProblem(b, b.getLoc(), mapping);

  FlashEmitter emitter(b, kernel, headDim, valueDim, blockK, plan.rowTiles,
                       element.isBF16(), element,
                       step.getRescaleThreshold().convertToFloat());
  if (std::optional<int64_t> keep = step.getNmKeep()) {
    emitter.prune = std::make_pair(*keep, *step.getNmGroup());
    emitter.sparseValueProduct = plan.sparseValueProduct;
    emitter.orderedSparseMetadata = plan.orderedSparseMetadata;
    emitter.swizzledKeyValue = pipelined && headDim >= 64 && valueDim >= 64;
  }
  Value queryOrder =
      step.getQueryOrder() ? operand(step.getQueryOrder()) : Value();
  Value keyOrder = step.getKeyOrder() ? operand(step.getKeyOrder()) : Value();
  if (queryOrder) {
    emitter.orders = SortedTokens{queryOrder, keyOrder};
    emitter.queryRowsThroughOrder = static_cast<bool>(step.getQueryLoadOrder());
    emitter.orderMask = step.getMask();
    emitter.orderDiagonalOffset = problem.diagonalOffset;
    if (step.getQueryClasses()) {
      emitter.orders->queryClasses = operand(step.getQueryClasses());
      emitter.orders->keyClasses = operand(step.getKeyClasses());
      emitter.orders->classes = *step.getOrderClasses();
    }
  }
  Value queryLoadOrder =
      step.getQueryLoadOrder() ? operand(step.getQueryLoadOrder()) : Value();
  Value keyLoadOrder =
      step.getKeyLoadOrder() ? operand(step.getKeyLoadOrder()) : Value();
  emitter.loadQueryFragments(
      query, batch, head, q0,
      queryBuffer ? tileView(b, queryBuffer, queryTile, Value()) : Value());
  // The schedule's positions; position p visits kv-tile
  // step.buildTileAt(p) (p itself for dense and range).
  Value lower = problem.positionBegin, upper = problem.positionEnd;
  auto tileAt = [&](Value position) {
    return step.buildTileAt(b, b.getLoc(), problem, position);
  };

  // Issues the kv-tile at `position` into stage `stage` as one cp.async
  // group.
  auto issue = [&](Value position, Value stage, Value enabled) {
    Value tile = tileAt(position);
    for (auto [source, buffer, tileType] :
         {std::tuple{key, keyBuffer, keyTile},
          std::tuple{value, valueBuffer, valueTile}}) {
      Value rows = kernel.index(tileType.getDimSize(0));
      issueTileCopy(kernel, threads, source, batch, problem.kvHead,
                    arith::MulIOp::create(b, tile, rows), buffer, stage,
                    tileType.getDimSize(0), tileType.getDimSize(1), enabled,
                    keyLoadOrder, emitter.swizzledKeyValue);
    }
    NVVM::CpAsyncCommitGroupOp::create(b);
  };
  // Position p lives in stage p mod `stages`.
  auto stageOf = [&](Value position) -> Value {
    return arith::RemUIOp::create(b, position, kernel.index(stages));
  };
  if (pipelined) {
    // Prologue, only if the loop runs: positions lower .. lower + ahead -
    // 1, one group each (empty past the last position); the Q tile, when Q
    // is shared, joins the first.
    Value any =
        arith::CmpIOp::create(b, arith::CmpIPredicate::slt, lower, upper);
    auto ifAny = scf::IfOp::create(b, any, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifAny.thenBlock());
    if (queryBuffer)
      issueTileCopy(kernel, threads, query, batch, head, q0, queryBuffer,
                    /*stage=*/Value(), blockQ, headDim,
                    /*enabled=*/Value(), queryLoadOrder);
    for (int64_t s = 0; s < ahead; ++s) {
      Value position = arith::AddIOp::create(b, lower, kernel.index(s));
      issue(position, stageOf(position),
            s == 0 ? Value()
                   : arith::CmpIOp::create(b, arith::CmpIPredicate::slt,
                                           position, upper));
    }
  }

  auto loop = scf::ForOp::create(b, lower, upper, kernel.index(1),
                                 emitter.initialState());
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value position = loop.getInductionVar();
    Value keys = keyBuffer, values = valueBuffer;
    if (pipelined) {
      Value stage = stageOf(position);
      // Position p + ahead, into a stage no warp reads any more (see
      // KeyValuePipeline); after the wait, position p's group has landed
      // for this thread (the newer groups, p + 1 .. p + ahead or
      // p + ahead - 1, may be in flight), and after the barrier for every
      // thread.
      Value next = arith::AddIOp::create(b, position, kernel.index(ahead));
      auto issueNext = [&] {
        issue(next, stageOf(next),
              arith::CmpIOp::create(b, arith::CmpIPredicate::slt, next, upper));
      };
      if (pipeline.issueBeforeWait)
        issueNext();
      NVVM::CpAsyncWaitGroupOp::create(b, pipeline.issueBeforeWait ? ahead
                                                                   : ahead - 1);
      gpu::BarrierOp::create(b);
      if (!pipeline.issueBeforeWait)
        issueNext();
      keys = tileView(b, keyBuffer, keyTile, stage);
      values = tileView(b, valueBuffer, valueTile, stage);
    } else {
      keys = tileView(b, keyBuffer, keyTile, Value());
      values = tileView(b, valueBuffer, valueTile, Value());
    }
    Value k0 = arith::MulIOp::create(b, tileAt(position), kernel.index(blockK));
    if (!pipelined) {
      // Loaded by the per-op lowering, barrier included.
      TileLoadOp::create(b, key, batch, problem.kvHead, k0, keys, keyLoadOrder);
      TileLoadOp::create(b, value, batch, problem.kvHead, k0, values,
                         keyLoadOrder);
    }
    Value partial =
        step.buildIsPartialTile(b, b.getLoc(), problem, position, q0, k0);
    emitter.valueMapping = mapping;
    SmallVector<Value> state = emitter.step(
        loop.getRegionIterArgs(), keys, values, step.getScaleAttr(), partial,
        step.getMask(), problem, batch, head, q0, k0);
    // Without pipelining the next iteration's loads overwrite the tiles
    // read here.
    if (!pipelined)
      gpu::BarrierOp::create(b);
    scf::YieldOp::create(b, state);
  }
  emitter.finish(loop.getResults(), operand(step.getOutput()),
                 step.getLse() ? operand(step.getLse()) : Value(), batch, head,
                 q0);
}
