//===- AttnToCPU.cpp - attn.tile ops to loops -------------------*- C++ -*-===//
//
// attn-to-cpu lowers the L2 tile ops to scalar loops so that the tiled
// FlashAttention form runs on the CPU (through the LLVM dialect and the
// ExecutionEngine), as the executable definition of every structure.
//
// Strategy:
//   - Every attn.fused.forward is first replaced by its decomposition
//     (FusedForwardOp::decompose): the kv loop of attn.tile.* ops that
//     states the numerics the GPU emitters implement as a unit; every
//     attn.tile_lists, attn.flood_fill, attn.lsh, attn.token_order and
//     attn.ordered_tile_lists by its scalar loops (the ops' decompose).
//   - A tile load or store with a token order reads or writes the rows the
//     order names (attn::buildOriginalRow); a tile mask with orders tests
//     original positions (TileMaskOp::buildAllowedAt).
//   - Every attn.tile.* op becomes a nest of scf.for loops over its static
//     tile extents with memref.load / memref.store on the tiles and buffers
//     and arith / math ops for the arithmetic, exactly as the op's
//     description in AttnTileOps.td states. One OpRewritePattern per op
//     (populateAttnToCPUPatterns), applied once to the existing tile ops.
//   - All arithmetic is in f32: bf16/f16 tile elements are widened with
//     arith.extf when read and narrowed with arith.truncf when stored to a
//     narrower buffer.
//   - Row bounds of load/store are hoisted out of the loops: a tile of R rows
//     starting at `row` of a buffer with N rows has
//     `valid = clamp(N - row, 0, R)` existing rows; load copies those and
//     zero-fills the rest, store writes only those.
//   - The -inf guards of online_softmax and finalize are arith.cmpf +
//     arith.select on the row state, so no NaN is ever stored (see the
//     patterns).
//   - Mask predicates are inlined: the predicate region's body is cloned into
//     the innermost loop with its block arguments mapped to (b, h, i, j).
//   - Finally the body of every scf.forall that allocates (memref.alloca, the
//     tiler's tile buffers) is wrapped in memref.alloca_scope, so that once
//     the forall becomes a sequential loop the stack does not grow per
//     iteration. (MLIR 22 also marks scf.forall/scf.for as allocation
//     scopes, so canonicalize folds this scope again; the pipeline must then
//     keep the tiles off the loop's stack itself: docs/CPULowering.md.)
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Dialect/Attn/LinearDecay.h"
#include "attn/Dialect/Attn/SoftmaxNumerics.h"
#include "attn/Passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

namespace attn {
#define GEN_PASS_DEF_ATTNTOCPU
#include "attn/Passes/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static Value indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

static Value f32Constant(OpBuilder &b, Location loc, float value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

static Value negInfF32(OpBuilder &b, Location loc) {
  return f32Constant(b, loc, -std::numeric_limits<float>::infinity());
}

/// Converts a float value to `to` (extf to a wider type, truncf to a narrower
/// one; identity when the types match).
static Value convertFloat(OpBuilder &b, Location loc, Value value, Type to) {
  Type from = value.getType();
  if (from == to)
    return value;
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, to, value);
  return arith::TruncFOp::create(b, loc, to, value);
}

/// Loads `memref[indices]` and widens it to f32.
static Value loadF32(OpBuilder &b, Location loc, Value memref,
                     ValueRange indices) {
  Value value = memref::LoadOp::create(b, loc, memref, indices);
  return convertFloat(b, loc, value, b.getF32Type());
}

/// Builds a loop nest `for ivs in [lbs, ubs)` (unit steps) and calls `body`
/// with the induction variables in the innermost loop.
static void
buildLoops(OpBuilder &b, Location loc, ArrayRef<Value> lbs, ArrayRef<Value> ubs,
           function_ref<void(OpBuilder &, Location, ValueRange)> body) {
  SmallVector<Value> steps(lbs.size(), indexConstant(b, loc, 1));
  scf::buildLoopNest(b, loc, lbs, ubs, steps, body);
}

/// Builds a loop nest over the whole static `shape`.
static void
buildTileLoops(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
               function_ref<void(OpBuilder &, Location, ValueRange)> body) {
  SmallVector<Value> lbs, ubs;
  for (int64_t extent : shape) {
    lbs.push_back(indexConstant(b, loc, 0));
    ubs.push_back(indexConstant(b, loc, extent));
  }
  buildLoops(b, loc, lbs, ubs, body);
}

/// Emits `for iv in [0, ub) iter_args(acc = init) { acc = step(iv, acc) }` and
/// returns the final accumulator.
static Value
buildReduction(OpBuilder &b, Location loc, int64_t ub, Value init,
               function_ref<Value(OpBuilder &, Location, Value, Value)> step) {
  auto loop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, ub),
      indexConstant(b, loc, 1), ValueRange{init},
      [&](OpBuilder &nested, Location nestedLoc, Value iv, ValueRange args) {
        Value next = step(nested, nestedLoc, iv, args.front());
        scf::YieldOp::create(nested, nestedLoc, next);
      });
  return loop.getResult(0);
}

/// The number of rows of a `tileRows`-row tile starting at `row` that exist
/// in a (batch, head)-indexed buffer: clamp(dim(buffer, 2) - row, 0,
/// tileRows).
static Value existingRows(OpBuilder &b, Location loc, Value buffer, Value row,
                          int64_t tileRows) {
  Value rows = memref::DimOp::create(b, loc, buffer, 2);
  Value remaining = arith::SubIOp::create(b, loc, rows, row);
  Value capped = arith::MinSIOp::create(b, loc, remaining,
                                        indexConstant(b, loc, tileRows));
  return arith::MaxSIOp::create(b, loc, capped, indexConstant(b, loc, 0));
}

/// Returns the buffer indices [batch, head, row + ivs[0], ivs[1:]...] of the
/// tile element at `ivs`; with a token order the row is order[batch, head,
/// row + ivs[0]].
static SmallVector<Value> bufferIndices(OpBuilder &b, Location loc, Value batch,
                                        Value head, Value row, ValueRange ivs,
                                        Value order) {
  Value tileRow = arith::AddIOp::create(b, loc, row, ivs[0]);
  if (order)
    tileRow = buildOriginalRow(b, loc, order, batch, head, tileRow);
  SmallVector<Value> indices = {batch, head, tileRow};
  llvm::append_range(indices, ivs.drop_front());
  return indices;
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

namespace {

/// attn.tile.load: with `valid = clamp(dim(source, 2) - row, 0, R)`,
///   tile[r, ...] = source[batch, head, row + r, ...]   for r < valid
///   tile[r, ...] = 0                                   for valid <= r < R
/// as two loop nests (copy, then zero fill).
struct TileLoadLowering : OpRewritePattern<TileLoadOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TileLoadOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MemRefType tileType = op.getTile().getType();
    ArrayRef<int64_t> shape = tileType.getShape();
    Value valid =
        existingRows(rewriter, loc, op.getSource(), op.getRow(), shape[0]);

    Value zero = indexConstant(rewriter, loc, 0);
    SmallVector<Value> copyLbs(shape.size(), zero), copyUbs = {valid};
    for (int64_t extent : shape.drop_front())
      copyUbs.push_back(indexConstant(rewriter, loc, extent));
    buildLoops(rewriter, loc, copyLbs, copyUbs,
               [&](OpBuilder &b, Location loc, ValueRange ivs) {
                 Value value = memref::LoadOp::create(
                     b, loc, op.getSource(),
                     bufferIndices(b, loc, op.getBatch(), op.getHead(),
                                   op.getRow(), ivs, op.getOrder()));
                 memref::StoreOp::create(b, loc, value, op.getTile(), ivs);
               });

    SmallVector<Value> fillLbs = copyLbs, fillUbs = copyUbs;
    fillLbs[0] = valid;
    fillUbs[0] = indexConstant(rewriter, loc, shape[0]);
    Value elementZero = arith::ConstantOp::create(
        rewriter, loc, rewriter.getZeroAttr(tileType.getElementType()));
    buildLoops(rewriter, loc, fillLbs, fillUbs,
               [&](OpBuilder &b, Location loc, ValueRange ivs) {
                 memref::StoreOp::create(b, loc, elementZero, op.getTile(),
                                         ivs);
               });
    rewriter.eraseOp(op);
    return success();
  }
};

/// attn.tile.store: with `valid = clamp(dim(dest, 2) - row, 0, R)`,
///   dest[batch, head, row + r, ...] = convert(tile[r, ...])   for r < valid
/// where convert is arith.truncf when the tile is f32 and the destination
/// narrower, else the identity. Rows past the end are not written.
struct TileStoreLowering : OpRewritePattern<TileStoreOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TileStoreOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> shape = op.getTile().getType().getShape();
    Type destElement = op.getDest().getType().getElementType();
    Value valid =
        existingRows(rewriter, loc, op.getDest(), op.getRow(), shape[0]);
    Value zero = indexConstant(rewriter, loc, 0);
    SmallVector<Value> lbs(shape.size(), zero), ubs = {valid};
    for (int64_t extent : shape.drop_front())
      ubs.push_back(indexConstant(rewriter, loc, extent));
    buildLoops(rewriter, loc, lbs, ubs,
               [&](OpBuilder &b, Location loc, ValueRange ivs) {
                 Value value =
                     memref::LoadOp::create(b, loc, op.getTile(), ivs);
                 value = convertFloat(b, loc, value, destElement);
                 memref::StoreOp::create(
                     b, loc, value, op.getDest(),
                     bufferIndices(b, loc, op.getBatch(), op.getHead(),
                                   op.getRow(), ivs, op.getOrder()));
               });
    rewriter.eraseOp(op);
    return success();
  }
};

/// attn.tile.fill: tile[...] = value over the whole tile.
struct TileFillLowering : OpRewritePattern<TileFillOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TileFillOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value value = arith::ConstantOp::create(rewriter, loc, op.getValueAttr());
    buildTileLoops(rewriter, loc, op.getTile().getType().getShape(),
                   [&](OpBuilder &b, Location loc, ValueRange ivs) {
                     memref::StoreOp::create(b, loc, value, op.getTile(), ivs);
                   });
    rewriter.eraseOp(op);
    return success();
  }
};

/// attn.tile.qk: for r < Bq, c < Bk:
///   scores[r, c] = scale * sum_{d < D} f32(query[r, d]) * f32(key[c, d])
/// with the sum a loop-carried f32 accumulator over d.
struct TileQKLowering : OpRewritePattern<TileQKOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TileQKOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> scoresShape = op.getScores().getType().getShape();
    int64_t headDim = op.getQuery().getType().getShape()[1];
    Value scale = arith::ConstantOp::create(rewriter, loc, op.getScaleAttr());
    Value zero = f32Constant(rewriter, loc, 0.0f);
    buildTileLoops(rewriter, loc, scoresShape,
                   [&](OpBuilder &b, Location loc, ValueRange ivs) {
                     Value r = ivs[0], c = ivs[1];
                     Value dot = buildReduction(
                         b, loc, headDim, zero,
                         [&](OpBuilder &b, Location loc, Value d, Value sum) {
                           Value q = loadF32(b, loc, op.getQuery(), {r, d});
                           Value k = loadF32(b, loc, op.getKey(), {c, d});
                           Value product = arith::MulFOp::create(b, loc, q, k);
                           return arith::AddFOp::create(b, loc, sum, product);
                         });
                     Value scaled = arith::MulFOp::create(b, loc, dot, scale);
                     memref::StoreOp::create(b, loc, scaled, op.getScores(),
                                             ivs);
                   });
    rewriter.eraseOp(op);
    return success();
  }
};

/// attn.tile.mask: for r < Bq, c < Bk, with i = query_start + r,
/// j = key_start + c and delta = j - (i + key_len - query_len) (signed index
/// arithmetic, so delta may be negative):
///   allowed = j < key_len && band_lower <= delta <= band_upper
///             && predicate(b, h, i, j)
///   scores[r, c] = allowed ? scores[r, c] : -inf
/// (TileMask::buildAllowed). Absent band bounds are not tested; the
/// predicate region's body is cloned into the loop with its arguments
/// mapped to (b, h, i, j).
struct TileMaskLowering : OpRewritePattern<TileMaskOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TileMaskOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value negInf = negInfF32(rewriter, loc);
    // The diagonal offset key_len - query_len, hoisted out of the loops.
    Value offset =
        arith::SubIOp::create(rewriter, loc, op.getKeyLen(), op.getQueryLen());
    buildTileLoops(
        rewriter, loc, op.getScores().getType().getShape(),
        [&](OpBuilder &b, Location loc, ValueRange ivs) {
          Value allowed = op.buildAllowedAt(b, loc, ivs[0], ivs[1], offset);
          Value score = memref::LoadOp::create(b, loc, op.getScores(), ivs);
          Value masked =
              arith::SelectOp::create(b, loc, allowed, score, negInf);
          memref::StoreOp::create(b, loc, masked, op.getScores(), ivs);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

/// attn.tile.prune: for r < Bq and each group g < Bk / m, the group's m
/// scores are read, attn::buildKeptFlags (ScorePrune.h) decides, and the
/// pruned ones are stored as -inf (TilePruneOp::buildPruneGroup).
struct TilePruneLowering : OpRewritePattern<TilePruneOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TilePruneOp op,
                                PatternRewriter &rewriter) const override {
    ArrayRef<int64_t> shape = op.getScores().getType().getShape();
    buildTileLoops(rewriter, op.getLoc(),
                   {shape[0], shape[1] / static_cast<int64_t>(op.getGroup())},
                   [&](OpBuilder &b, Location loc, ValueRange ivs) {
                     op.buildPruneGroup(b, loc, ivs[0], ivs[1]);
                   });
    rewriter.eraseOp(op);
    return success();
  }
};

/// attn.tile.online_softmax: per row r < Bq, in the log2 domain
/// (softmax::buildRises / buildRowUpdate, the formulas the GPU emitters
/// share):
///   T     = max_c S[r, c]
///   m'    = T > m[r] + threshold ? max(m[r], T) : m[r]
///   shift = m' = -inf ? 0 : m';  α = m' = -inf ? 1 : exp2(m[r] - shift)
///   S[r, c] = exp2(S[r, c] - shift)       (0 when m' = -inf: every S[r, c]
///                                          is -inf and exp2(-inf) = 0)
///   l[r] = α · l[r] + Σ_c S[r, c]
///   acc[r, e] = α · acc[r, e]
///   m[r] = m'
/// Subtracting `shift` instead of m' keeps -inf - -inf (NaN) out of every
/// computation, so a row with no allowed key keeps m = -inf, l = 0.
struct TileOnlineSoftmaxLowering : OpRewritePattern<TileOnlineSoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TileOnlineSoftmaxOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> scoresShape = op.getScores().getType().getShape();
    int64_t rows = scoresShape[0], cols = scoresShape[1];
    int64_t accCols = op.getAcc().getType().getShape()[1];
    float threshold = op.getRescaleThreshold().convertToFloat();
    Value negInf = negInfF32(rewriter, loc);
    Value zero = f32Constant(rewriter, loc, 0.0f);
    buildTileLoops(
        rewriter, loc, {rows}, [&](OpBuilder &b, Location loc, ValueRange ivs) {
          Value r = ivs[0];
          Value oldMax = memref::LoadOp::create(b, loc, op.getRowMax(), r);
          Value tileMax = buildReduction(
              b, loc, cols, negInf,
              [&](OpBuilder &b, Location loc, Value c, Value running) {
                Value s = memref::LoadOp::create(b, loc, op.getScores(),
                                                 ValueRange{r, c});
                return arith::MaximumFOp::create(b, loc, running, s);
              });
          auto exp2 = [&](Value x) -> Value {
            return math::Exp2Op::create(b, loc, x);
          };
          softmax::RowUpdate update = softmax::buildRowUpdate(
              b, loc, oldMax, tileMax,
              softmax::buildRises(b, loc, oldMax, tileMax, threshold), exp2);
          Value tileSum = buildReduction(
              b, loc, cols, zero,
              [&](OpBuilder &b, Location loc, Value c, Value sum) {
                Value s = memref::LoadOp::create(b, loc, op.getScores(),
                                                 ValueRange{r, c});
                Value shifted = arith::SubFOp::create(b, loc, s, update.shift);
                Value p = math::Exp2Op::create(b, loc, shifted);
                memref::StoreOp::create(b, loc, p, op.getScores(),
                                        ValueRange{r, c});
                return arith::AddFOp::create(b, loc, sum, p);
              });
          Value oldSum = memref::LoadOp::create(b, loc, op.getRowSum(), r);
          Value newSum =
              math::FmaOp::create(b, loc, update.alpha, oldSum, tileSum);
          memref::StoreOp::create(b, loc, newSum, op.getRowSum(), r);
          buildTileLoops(
              b, loc, {accCols},
              [&](OpBuilder &b, Location loc, ValueRange inner) {
                SmallVector<Value> index = {r, inner[0]};
                Value a = memref::LoadOp::create(b, loc, op.getAcc(), index);
                Value scaled = arith::MulFOp::create(b, loc, a, update.alpha);
                memref::StoreOp::create(b, loc, scaled, op.getAcc(), index);
              });
          memref::StoreOp::create(b, loc, update.newMax, op.getRowMax(), r);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

/// attn.tile.pv: for r < Bq, c < Bk, e < Dv:
///   acc[r, e] += probs[r, c] · f32(value[c, e])
/// (c outside e, so the innermost loop runs along rows of value and acc).
struct TilePVLowering : OpRewritePattern<TilePVOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TilePVOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t rows = op.getProbs().getType().getShape()[0];
    int64_t cols = op.getProbs().getType().getShape()[1];
    int64_t valueCols = op.getValue().getType().getShape()[1];
    buildTileLoops(
        rewriter, loc, {rows, cols, valueCols},
        [&](OpBuilder &b, Location loc, ValueRange ivs) {
          Value r = ivs[0], c = ivs[1], e = ivs[2];
          Value p =
              memref::LoadOp::create(b, loc, op.getProbs(), ValueRange{r, c});
          Value v = loadF32(b, loc, op.getValue(), {c, e});
          Value a =
              memref::LoadOp::create(b, loc, op.getAcc(), ValueRange{r, e});
          Value product = arith::MulFOp::create(b, loc, p, v);
          Value sum = arith::AddFOp::create(b, loc, a, product);
          memref::StoreOp::create(b, loc, sum, op.getAcc(), ValueRange{r, e});
        });
    rewriter.eraseOp(op);
    return success();
  }
};

/// attn.tile.decay_scores: scores[a, c] = w(a - c) · scores[a, c] with
/// LinearDecay.h's weight (0 above the diagonal).
struct TileDecayScoresLowering : OpRewritePattern<TileDecayScoresOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TileDecayScoresOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> shape = op.getScores().getType().getShape();
    buildTileLoops(
        rewriter, loc, shape, [&](OpBuilder &b, Location loc, ValueRange ivs) {
          Value a = ivs[0], c = ivs[1];
          Value weight = buildDecayWeight(b, loc, op.getRate(),
                                          arith::SubIOp::create(b, loc, a, c));
          Value s =
              memref::LoadOp::create(b, loc, op.getScores(), ValueRange{a, c});
          memref::StoreOp::create(b, loc,
                                  arith::MulFOp::create(b, loc, weight, s),
                                  op.getScores(), ValueRange{a, c});
        });
    rewriter.eraseOp(op);
    return success();
  }
};

/// attn.tile.scale_rows: dest[r, c] (or dest[c, r]) = w(first + step · r) ·
/// source[r, c], the weight once per row.
struct TileScaleRowsLowering : OpRewritePattern<TileScaleRowsOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TileScaleRowsOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> shape =
        cast<MemRefType>(op.getSource().getType()).getShape();
    bool transpose = op.getTranspose();
    buildTileLoops(
        rewriter, loc, {shape[0]},
        [&](OpBuilder &b, Location loc, ValueRange rows) {
          Value r = rows[0];
          Value exponent = arith::AddIOp::create(
              b, loc, op.getFirst(),
              arith::MulIOp::create(b, loc, r,
                                    indexConstant(b, loc, op.getStep())));
          Value weight = buildDecayWeight(b, loc, op.getRate(), exponent);
          buildTileLoops(b, loc, {shape[1]},
                         [&](OpBuilder &b, Location loc, ValueRange cols) {
                           Value c = cols[0];
                           Value x = loadF32(b, loc, op.getSource(), {r, c});
                           Value scaled =
                               arith::MulFOp::create(b, loc, weight, x);
                           memref::StoreOp::create(
                               b, loc, scaled, op.getDest(),
                               transpose ? ValueRange{c, r} : ValueRange{r, c});
                         });
        });
    rewriter.eraseOp(op);
    return success();
  }
};

/// attn.tile.finalize: per row r (softmax::buildInverseSum and
/// buildLogSumExp, the formulas the GPU emitters share):
///   acc[r, e] = acc[r, e] · (l[r] = 0 ? 0 : 1 / l[r])
///   m[r]      = l[r] = 0 ? -inf : m[r] ln 2 + ln l[r]
/// so a row with no allowed key gets O = 0 and LSE = -inf, never NaN.
struct TileFinalizeLowering : OpRewritePattern<TileFinalizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TileFinalizeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> accShape = op.getAcc().getType().getShape();
    buildTileLoops(
        rewriter, loc, {accShape[0]},
        [&](OpBuilder &b, Location loc, ValueRange ivs) {
          Value r = ivs[0];
          Value sum = memref::LoadOp::create(b, loc, op.getRowSum(), r);
          Value inverse = softmax::buildInverseSum(b, loc, sum);
          buildTileLoops(
              b, loc, {accShape[1]},
              [&](OpBuilder &b, Location loc, ValueRange inner) {
                SmallVector<Value> index = {r, inner[0]};
                Value a = memref::LoadOp::create(b, loc, op.getAcc(), index);
                Value out = arith::MulFOp::create(b, loc, a, inverse);
                memref::StoreOp::create(b, loc, out, op.getAcc(), index);
              });
          Value max = memref::LoadOp::create(b, loc, op.getRowMax(), r);
          memref::StoreOp::create(b, loc,
                                  softmax::buildLogSumExp(b, loc, max, sum),
                                  op.getRowMax(), r);
        });
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void attn::populateAttnToCPUPatterns(RewritePatternSet &patterns) {
  patterns.add<TileLoadLowering, TileStoreLowering, TileFillLowering,
               TileQKLowering, TileMaskLowering, TilePruneLowering,
               TileOnlineSoftmaxLowering, TilePVLowering, TileFinalizeLowering,
               TileDecayScoresLowering, TileScaleRowsLowering>(
      patterns.getContext());
}

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

/// True if `op` is one of the L2 tile ops.
static bool isTileOp(Operation *op) {
  return isa<AttnDialect>(op->getDialect()) &&
         op->getName().getStringRef().starts_with("attn.tile.");
}

/// True if `forall` owns a memref.alloca: one whose nearest enclosing
/// allocation scope (memref.alloca_scope, an op with the
/// AutomaticAllocationScope trait, or an scf.forall) is `forall` itself.
static bool ownsAlloca(scf::ForallOp forall) {
  WalkResult result = forall.getBody()->walk([&](memref::AllocaOp alloca) {
    Operation *scope = alloca->getParentOp();
    while (scope && !isa<memref::AllocaScopeOp, scf::ForallOp>(scope) &&
           !scope->hasTrait<OpTrait::AutomaticAllocationScope>())
      scope = scope->getParentOp();
    return scope == forall.getOperation() ? WalkResult::interrupt()
                                          : WalkResult::advance();
  });
  return result.wasInterrupted();
}

/// Moves the body of `forall` (all but its terminator) into a
/// memref.alloca_scope, so that the stack it allocates is released at the end
/// of every iteration. Bodies whose values are used by the terminator (tensor
/// results) are left alone: the tiler produces none.
static void wrapInAllocaScope(scf::ForallOp forall) {
  Block *body = forall.getBody();
  Operation *terminator = body->getTerminator();
  bool terminatorUsesBody = false;
  terminator->walk([&](Operation *nested) {
    for (Value operand : nested->getOperands())
      if (Operation *def = operand.getDefiningOp();
          def && def->getBlock() == body)
        terminatorUsesBody = true;
  });
  if (terminatorUsesBody || body->without_terminator().empty())
    return;

  OpBuilder builder(forall.getContext());
  builder.setInsertionPointToStart(body);
  auto scope =
      memref::AllocaScopeOp::create(builder, forall.getLoc(), TypeRange{});
  Block *scopeBody = builder.createBlock(&scope.getBodyRegion());
  scopeBody->getOperations().splice(scopeBody->end(), body->getOperations(),
                                    std::next(scope->getIterator()),
                                    terminator->getIterator());
  builder.setInsertionPointToEnd(scopeBody);
  memref::AllocaScopeReturnOp::create(builder, forall.getLoc(), ValueRange{});
}

namespace {
struct AttnToCPUPass : public attn::impl::AttnToCPUBase<AttnToCPUPass> {
  void runOnOperation() override {
    Operation *root = getOperation();
    // Fused steps first, into the tile ops their decomposition defines.
    SmallVector<FusedForwardOp> steps;
    root->walk([&](FusedForwardOp op) { steps.push_back(op); });
    OpBuilder builder(&getContext());
    for (FusedForwardOp step : steps)
      step.decompose(builder);
    // Tile lists (block-sparse preprocessing) into their scalar loops.
    SmallVector<TileListsOp> lists;
    root->walk([&](TileListsOp op) { lists.push_back(op); });
    for (TileListsOp op : lists)
      op.decompose(builder);
    SmallVector<LshOp> hashes;
    root->walk([&](LshOp op) { hashes.push_back(op); });
    for (LshOp op : hashes)
      op.decompose(builder);
    SmallVector<TokenOrderOp> orders;
    root->walk([&](TokenOrderOp op) { orders.push_back(op); });
    for (TokenOrderOp op : orders)
      op.decompose(builder);
    SmallVector<GatherRowsOp> gathers;
    root->walk([&](GatherRowsOp op) { gathers.push_back(op); });
    for (GatherRowsOp op : gathers)
      op.decompose(builder);
    SmallVector<OrderedTileListsOp> orderedLists;
    root->walk([&](OrderedTileListsOp op) { orderedLists.push_back(op); });
    for (OrderedTileListsOp op : orderedLists)
      op.decompose(builder);
    // SPION's block-pattern derivation into its scalar loops.
    SmallVector<FloodFillOp> floodFills;
    root->walk([&](FloodFillOp op) { floodFills.push_back(op); });
    for (FloodFillOp op : floodFills)
      op.decompose(builder);
    // Linear attention: the chunk loops of its steps and the state scans.
    SmallVector<FusedLinearOp> linearSteps;
    root->walk([&](FusedLinearOp op) { linearSteps.push_back(op); });
    for (FusedLinearOp op : linearSteps)
      op.decompose(builder);
    SmallVector<LinearScanOp> scans;
    root->walk([&](LinearScanOp op) { scans.push_back(op); });
    for (LinearScanOp op : scans)
      op.decompose(builder);

    RewritePatternSet patterns(&getContext());
    populateAttnToCPUPatterns(patterns);
    // Each pattern replaces one tile op by ops outside the attn dialect, so a
    // single pass over the existing ops suffices; no folding, so that the
    // rest of the IR is left as it was.
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingOps)
        .enableFolding(false)
        .setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
    (void)applyPatternsGreedily(root, std::move(patterns), config);

    bool remaining = false;
    root->walk([&](Operation *op) {
      if (!isTileOp(op))
        return;
      op->emitError() << "'" << op->getName()
                      << "' could not be lowered by attn-to-cpu";
      remaining = true;
    });
    if (remaining)
      return signalPassFailure();

    // Post-order: inner foralls are wrapped before the outer ones see their
    // allocas.
    root->walk([](scf::ForallOp forall) {
      if (ownsAlloca(forall))
        wrapInAllocaScope(forall);
    });
  }
};
} // namespace
