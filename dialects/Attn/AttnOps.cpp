//===- AttnOps.cpp - attn dialect operations --------------------*- C++ -*-===//
//
// Verifiers, custom assembly and interfaces of the attn ops. Shape checks
// follow one rule: two extents agree when they are equal or when either is
// dynamic; a static disagreement is reported with the operand, the
// dimension, its meaning and both extents.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Dialect/Attn/MaskAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/CallInterfaces.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <sstream>

using namespace mlir;
using namespace attn;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

bool attn::isSupportedHeadDim(int64_t headDim) {
  return llvm::is_contained({16, 32, 64, 128, 256}, headDim);
}

void attn::walkMaskTree(Value mask,
                        llvm::function_ref<void(Operation *)> fn) {
  (void)visitMaskTree(mask, [&](MaskOpInterface maskOp) {
    fn(maskOp);
    return success();
  });
}

/// Formats a floating-point attribute value the way a user wrote it
/// ("0.5", "inf"), for diagnostics.
static std::string formatValue(double value) {
  std::ostringstream os;
  os << value;
  return os.str();
}

static int64_t ceilDivExtent(int64_t extent, int64_t divisor) {
  if (ShapedType::isDynamic(extent))
    return ShapedType::kDynamic;
  return llvm::divideCeil(extent, divisor);
}

/// Checks that dimension `dim` of the memref `operandName` agrees with
/// `expected`. Emits the error through `emitError` on mismatch.
static LogicalResult
checkExtent(llvm::function_ref<InFlightDiagnostic()> emitError,
            StringRef operandName, Type type, unsigned dim, StringRef meaning,
            Extent expected) {
  // A mask op used before its definition (invalid dominance, reported after
  // the op verifiers) is checked against the problem before its own operand
  // types are: a dimension its type lacks is left to that op's verifier.
  auto shaped = dyn_cast<ShapedType>(type);
  if (!shaped || !shaped.hasRank() || dim >= shaped.getRank())
    return success();
  int64_t actual = shaped.getDimSize(dim);
  if (ShapedType::isDynamic(actual) || ShapedType::isDynamic(expected.value) ||
      actual == expected.value)
    return success();
  return emitError() << operandName << " dimension " << dim << " (" << meaning
                     << ") is " << actual << " but " << expected.source
                     << " has " << expected.value;
}

/// Returns the extent of dimension `dim` of `type`, tagged with `source`.
static Extent extentOf(Type type, unsigned dim, StringRef source) {
  return {cast<ShapedType>(type).getDimSize(dim), source};
}

/// Verifies that `elementType` of `operandName` equals that of `reference`.
static LogicalResult
checkSameElementType(llvm::function_ref<InFlightDiagnostic()> emitError,
                     StringRef operandName, Type type, StringRef referenceName,
                     Type reference) {
  Type actual = cast<ShapedType>(type).getElementType();
  Type expected = cast<ShapedType>(reference).getElementType();
  if (actual == expected)
    return success();
  return emitError() << operandName << " element type " << actual
                     << " differs from " << referenceName << " element type "
                     << expected;
}

/// Verifies that dimension `dim` of `type` is a static, supported head
/// dimension.
static LogicalResult
checkHeadDim(llvm::function_ref<InFlightDiagnostic()> emitError,
             StringRef operandName, Type type, unsigned dim) {
  int64_t headDim = cast<ShapedType>(type).getDimSize(dim);
  if (ShapedType::isDynamic(headDim))
    return emitError() << operandName << " head dimension (dimension " << dim
                       << ") must be static";
  if (!isSupportedHeadDim(headDim))
    return emitError() << operandName << " head dimension " << headDim
                       << " is not supported (expected 16, 32, 64, 128 or 256)";
  return success();
}

/// Verifies an optional scale attribute: finite and positive.
static LogicalResult
checkScale(llvm::function_ref<InFlightDiagnostic()> emitError,
           std::optional<APFloat> scale) {
  if (!scale)
    return success();
  double value = scale->convertToDouble();
  if (!std::isfinite(value) || value <= 0.0)
    return emitError() << "scale must be finite and positive, got " << formatValue(value);
  return success();
}

/// Verifies `[B, H, N]` of a per-token mask operand against the problem.
static LogicalResult
checkTokenOperand(llvm::function_ref<InFlightDiagnostic()> emitError,
                  StringRef name, Type type, const Extent &batch,
                  const Extent &heads, const Extent &seq) {
  return success(
      succeeded(checkExtent(emitError, name, type, 0, "batch", batch)) &&
      succeeded(checkExtent(emitError, name, type, 1, "heads", heads)) &&
      succeeded(checkExtent(emitError, name, type, 2, "sequence length", seq)));
}

/// Verifies a per-query operand ([B, Hq, Nq]) and a per-key operand
/// ([B, Hk, Nk]) of a mask against the problem.
static LogicalResult
checkQueryKeyTokens(llvm::function_ref<InFlightDiagnostic()> emitError,
                    StringRef queryName, Type query, StringRef keyName,
                    Type key, const ProblemExtents &problem) {
  return success(
      succeeded(checkTokenOperand(emitError, queryName, query, problem.batch,
                                  problem.queryHeads, problem.querySeq)) &&
      succeeded(checkTokenOperand(emitError, keyName, key, problem.batch,
                                  problem.kvHeads, problem.keySeq)));
}

/// Verifies every mask op in the tree rooted at `mask` against the extents
/// of the attention problem that uses it: the root and every child mask
/// must come from an attn.mask.* op (MaskOpInterface), and each mask op
/// checks its own operands (MaskOpInterface::verifyAgainstProblem). The
/// walk visits each mask op once, so a shared mask is checked once and a
/// cyclic use (reported later by the dominance check) cannot recurse.
/// Errors are emitted on `user` with a note at the offending mask op.
static LogicalResult verifyMaskAgainstProblem(Operation *user, Value mask,
                                              const ProblemExtents &problem) {
  if (!mask.getDefiningOp<MaskOpInterface>())
    return user->emitOpError()
           << "mask must be produced by an attn.mask.* op, so that its "
              "structure can be analysed";

  return visitMaskTree(mask, [&](MaskOpInterface maskOp) -> LogicalResult {
    auto emitError = [&]() {
      InFlightDiagnostic diag = user->emitOpError();
      diag.attachNote(maskOp->getLoc()) << "mask defined here";
      return diag;
    };
    for (Value child : maskOp.getChildMasks())
      if (!child.getDefiningOp<MaskOpInterface>())
        return emitError() << "mask must be produced by attn.mask.* ops, "
                              "so that its structure can be analysed";
    return maskOp.verifyAgainstProblem(problem, emitError);
  });
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

double AttentionOp::getEffectiveScale() {
  if (std::optional<APFloat> scale = getScale())
    return scale->convertToDouble();
  int64_t headDim = getQuery().getType().getDimSize(3);
  return 1.0 / std::sqrt(static_cast<double>(headDim));
}

/// Verifies the Q, K, V, O and optional LSE operands of a softmax attention
/// op (attn.attention, attn.plan) and returns the problem extents.
static LogicalResult
verifySoftmaxAttentionOperands(llvm::function_ref<InFlightDiagnostic()> emitError,
                               Type q, Type k, Type v, Type o, Value lse,
                               ProblemExtents &problem) {
  if (failed(checkSameElementType(emitError, "key", k, "query", q)) ||
      failed(checkSameElementType(emitError, "value", v, "query", q)) ||
      failed(checkSameElementType(emitError, "output", o, "query", q)))
    return failure();

  if (failed(checkHeadDim(emitError, "query", q, 3)) ||
      failed(checkExtent(emitError, "key", k, 3, "head dimension",
                         extentOf(q, 3, "query"))) ||
      failed(checkHeadDim(emitError, "value", v, 3)) ||
      failed(checkExtent(emitError, "output", o, 3, "value head dimension",
                         extentOf(v, 3, "value"))))
    return failure();

  problem = {extentOf(q, 0, "query"), extentOf(q, 1, "query"),
             extentOf(k, 1, "key"), extentOf(q, 2, "query"),
             extentOf(k, 2, "key")};
  if (failed(checkExtent(emitError, "key", k, 0, "batch", problem.batch)) ||
      failed(checkExtent(emitError, "value", v, 0, "batch", problem.batch)) ||
      failed(checkExtent(emitError, "value", v, 1, "heads", problem.kvHeads)) ||
      failed(checkExtent(emitError, "value", v, 2, "sequence length",
                         problem.keySeq)) ||
      failed(checkExtent(emitError, "output", o, 0, "batch", problem.batch)) ||
      failed(checkExtent(emitError, "output", o, 1, "heads",
                         problem.queryHeads)) ||
      failed(checkExtent(emitError, "output", o, 2, "sequence length",
                         problem.querySeq)))
    return failure();

  int64_t queryHeads = problem.queryHeads.value;
  int64_t kvHeads = problem.kvHeads.value;
  if (!ShapedType::isDynamic(queryHeads) && !ShapedType::isDynamic(kvHeads) &&
      (kvHeads == 0 || queryHeads % kvHeads != 0))
    return emitError() << "query heads (" << queryHeads
                       << ") must be a multiple of key/value heads ("
                       << kvHeads << ")";

  if (lse) {
    Type l = lse.getType();
    if (failed(checkExtent(emitError, "lse", l, 0, "batch", problem.batch)) ||
        failed(checkExtent(emitError, "lse", l, 1, "heads",
                           problem.queryHeads)) ||
        failed(checkExtent(emitError, "lse", l, 2, "sequence length",
                           problem.querySeq)))
      return failure();
  }
  return success();
}

/// The checks attn.attention and attn.plan share: operands and scale.
template <typename OpTy>
static LogicalResult verifySoftmaxAttention(OpTy op, ProblemExtents &problem,
                                            std::optional<APFloat> scale) {
  auto emitError = [&]() { return op.emitOpError(); };
  return success(
      succeeded(verifySoftmaxAttentionOperands(
          emitError, op.getQuery().getType(), op.getKey().getType(),
          op.getValue().getType(), op.getOutput().getType(), op.getLse(),
          problem)) &&
      succeeded(checkScale(emitError, scale)));
}

LogicalResult AttentionOp::verify() {
  ProblemExtents problem;
  if (failed(verifySoftmaxAttention(*this, problem, getScale())))
    return failure();
  if (Value mask = getMask())
    return verifyMaskAgainstProblem(*this, mask, problem);
  return success();
}

void AttentionOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  for (OpOperand *operand :
       {&getQueryMutable(), &getKeyMutable(), &getValueMutable()})
    effects.emplace_back(MemoryEffects::Read::get(), operand);
  effects.emplace_back(MemoryEffects::Write::get(), &getOutputMutable());
  for (OpOperand &lse : getLseMutable())
    effects.emplace_back(MemoryEffects::Write::get(), &lse);
  if (!getMask())
    return;
  // The mask is a description; the buffers it refers to are read here.
  (void)visitMaskTree(getMask(), [&](MaskOpInterface maskOp) {
    for (Value buffer : maskOp.getReadBuffers()) {
      if (auto result = dyn_cast<OpResult>(buffer))
        effects.emplace_back(MemoryEffects::Read::get(), result);
      else
        effects.emplace_back(MemoryEffects::Read::get(),
                             cast<BlockArgument>(buffer));
    }
    return success();
  });
}

//===----------------------------------------------------------------------===//
// PlanOp
//===----------------------------------------------------------------------===//

LogicalResult
attn::verifyBlockSize(llvm::function_ref<InFlightDiagnostic()> emitError,
                      StringRef name, int64_t size) {
  if (size < 1 || !llvm::isPowerOf2_64(size) || size > kMaxPatternExtent)
    return emitError() << name << " must be a power of two of at most "
                       << kMaxPatternExtent << ", got " << size;
  return success();
}

LogicalResult attn::verifyBand(Operation *op, std::optional<int64_t> lower,
                               std::optional<int64_t> upper) {
  for (auto [name, bound] :
       {std::pair{"band_lower", lower}, std::pair{"band_upper", upper}})
    if (bound && (*bound < -kBandLimit || *bound > kBandLimit))
      return op->emitOpError()
             << name << " (" << *bound
             << ") is outside [-2^62, 2^62], the range in which band "
                "arithmetic is exact; a wider bound excludes nothing: omit it";
  if (lower && upper && *lower > *upper)
    return op->emitOpError() << "band_lower (" << *lower
                             << ") must not exceed band_upper (" << *upper
                             << ")";
  return success();
}

LogicalResult attn::verifyBandSchedule(Operation *op, ScheduleKind schedule,
                                       std::optional<int64_t> lower,
                                       std::optional<int64_t> upper) {
  if (failed(verifyBand(op, lower, upper)))
    return failure();
  switch (schedule) {
  case ScheduleKind::Dense:
    if (lower || upper)
      return op->emitOpError()
             << "schedule 'dense' takes no band; use 'range'";
    break;
  case ScheduleKind::Range:
    if (!lower && !upper)
      return op->emitOpError()
             << "schedule 'range' needs band_lower or band_upper";
    break;
  case ScheduleKind::List:
    break;
  }
  return success();
}

LogicalResult attn::verifyRescaleThreshold(Operation *op,
                                           FloatAttr threshold) {
  float value = threshold.getValue().convertToFloat();
  if (!(value >= 0.0f) || std::isinf(value))
    return op->emitOpError() << "rescale_threshold must be finite and "
                                "non-negative, got "
                             << value;
  return success();
}

LogicalResult PlanOp::verify() {
  ProblemExtents problem;
  if (failed(verifySoftmaxAttention(*this, problem, getScale())))
    return failure();
  bool isList = getSchedule() == ScheduleKind::List;
  bool hasOrder = static_cast<bool>(getQueryOrderKeys());
  if (getBlockMask() && hasOrder)
    return emitOpError() << "a block_mask and a token order together are not "
                            "supported";
  if (isList != (getBlockMask() || hasOrder))
    return emitOpError() << (isList ? "schedule 'list' needs a block_mask or "
                                      "a token order"
                                    : "a block_mask or a token order needs "
                                      "schedule 'list'");
  if (hasOrder != getOrderClasses().has_value())
    return emitOpError() << "order(...) and classes(...) go together";
  if (getKeepFlags() && !hasOrder)
    return emitOpError() << "keep_flags needs order(...)";
  if (hasOrder) {
    int64_t classes = *getOrderClasses();
    if (classes < 1 || classes > kMaxOrderClasses)
      return emitOpError() << "classes must lie in [1, " << kMaxOrderClasses
                           << "], got " << classes;
    if (getKeepFlags() && classes != 1)
      return emitOpError() << "keep_flags needs classes(1), got " << classes;
    if (failed(checkQueryKeyTokens(
            [&] { return emitOpError(); }, "query order keys",
            getQueryOrderKeys().getType(), "key order keys",
            getKeyOrderKeys().getType(), problem)))
      return failure();
  }
  if (failed(verifyOptionalPrune(*this, getNmKeep(), getNmGroup())))
    return failure();
  if (getNmKeep() && hasOrder)
    return emitOpError() << "an N:M prune over a token order (hash buckets, "
                            "keep flags) is not supported yet";
  if (static_cast<bool>(getBlockMask()) != getBlockSize().has_value())
    return emitOpError() << "block_mask and block_size go together";
  if (getBlockMask()) {
    if (failed(verifyBlockSize([&] { return emitOpError(); }, "block size",
                               *getBlockSize())))
      return failure();
    if (failed(verifyBlockMaskExtents([&] { return emitOpError(); },
                                      getBlockMask().getType(), *getBlockSize(),
                                      problem)))
      return failure();
  }
  return verifyBandSchedule(*this, getSchedule(), getBandLower(),
                            getBandUpper());
}

LogicalResult PlanOp::verifyRegions() {
  return verifyPredicateRegion(*this, getPredicate(),
                               /*allowIndexPair=*/false);
}

//===----------------------------------------------------------------------===//
// LinearAttentionOp and ConvAttentionOp
//===----------------------------------------------------------------------===//

/// Verifies Q, K, V, O of the causal non-GQA ops (linear and conv attention):
/// same element type, same batch, heads and sequence, static supported head
/// dimensions, O shaped like V.
static LogicalResult
verifyCausalSelfAttentionShapes(llvm::function_ref<InFlightDiagnostic()> emitError,
                                Type q, Type k, Type v, Type o) {
  if (failed(checkSameElementType(emitError, "key", k, "query", q)) ||
      failed(checkSameElementType(emitError, "value", v, "query", q)) ||
      failed(checkSameElementType(emitError, "output", o, "query", q)))
    return failure();
  if (failed(checkHeadDim(emitError, "query", q, 3)) ||
      failed(checkExtent(emitError, "key", k, 3, "head dimension",
                         extentOf(q, 3, "query"))) ||
      failed(checkHeadDim(emitError, "value", v, 3)))
    return failure();
  static constexpr StringLiteral kMeanings[] = {"batch", "heads",
                                                "sequence length"};
  for (unsigned dim = 0; dim < 3; ++dim) {
    Extent expected = extentOf(q, dim, "query");
    if (failed(checkExtent(emitError, "key", k, dim, kMeanings[dim],
                           expected)) ||
        failed(checkExtent(emitError, "value", v, dim, kMeanings[dim],
                           expected)) ||
        failed(checkExtent(emitError, "output", o, dim, kMeanings[dim],
                           expected)))
      return failure();
  }
  return checkExtent(emitError, "output", o, 3, "value head dimension",
                     extentOf(v, 3, "value"));
}

LogicalResult LinearAttentionOp::verify() {
  auto emitError = [&]() { return emitOpError(); };
  Type q = getQuery().getType(), k = getKey().getType(),
       v = getValue().getType();
  if (failed(verifyCausalSelfAttentionShapes(emitError, q, k, v,
                                             getOutput().getType())))
    return failure();
  if (Value decay = getDecay())
    if (failed(checkExtent(emitError, "decay", decay.getType(), 0, "heads",
                           extentOf(q, 1, "query"))))
      return failure();
  for (auto [name, state] : {std::pair<StringRef, Value>{"initial_state",
                                                         getInitialState()},
                             {"final_state", getFinalState()}}) {
    if (!state)
      continue;
    Type s = state.getType();
    if (failed(checkExtent(emitError, name, s, 0, "batch",
                           extentOf(q, 0, "query"))) ||
        failed(checkExtent(emitError, name, s, 1, "heads",
                           extentOf(q, 1, "query"))) ||
        failed(checkExtent(emitError, name, s, 2, "key head dimension",
                           extentOf(k, 3, "key"))) ||
        failed(checkExtent(emitError, name, s, 3, "value head dimension",
                           extentOf(v, 3, "value"))))
      return failure();
  }
  return success();
}

LogicalResult ConvAttentionOp::verify() {
  auto emitError = [&]() { return emitOpError(); };
  Type q = getQuery().getType();
  if (failed(verifyCausalSelfAttentionShapes(emitError, q, getKey().getType(),
                                             getValue().getType(),
                                             getOutput().getType())))
    return failure();
  int64_t bases = getBases(), window = getWindow();
  double delta = getDelta().convertToDouble();
  double epsilon = getEpsilon().convertToDouble();
  if (bases < 1)
    return emitOpError() << "bases must be at least 1, got " << bases;
  if (window < 1)
    return emitOpError() << "window must be at least 1, got " << window;
  if (!std::isfinite(delta) || delta <= 0.0)
    return emitOpError() << "delta must be finite and positive, got " << formatValue(delta);
  if (!std::isfinite(epsilon) || epsilon < 0.0)
    return emitOpError() << "epsilon must be finite and non-negative, got "
                         << formatValue(epsilon);
  int64_t seq = cast<ShapedType>(q).getDimSize(2);
  if (!ShapedType::isDynamic(seq) && (bases > seq || window > seq))
    return emitOpError() << "bases (" << bases << ") and window (" << window
                         << ") must not exceed the sequence length (" << seq
                         << ")";
  return checkScale(emitError, getScale());
}

//===----------------------------------------------------------------------===//
// Preprocessing ops
//===----------------------------------------------------------------------===//

LogicalResult LshOp::verify() {
  auto emitError = [&]() { return emitOpError(); };
  Type input = getInput().getType(), rotation = getRotation().getType(),
       ids = getBucketIds().getType();
  if (failed(checkExtent(emitError, "rotation", rotation, 0,
                         "input head dimension", extentOf(input, 3, "input"))))
    return failure();
  int64_t columns = cast<ShapedType>(rotation).getDimSize(1);
  if (columns == 0)
    return emitOpError() << "rotation must have at least one column (buckets "
                            "= 2 x columns)";
  for (unsigned dim = 0; dim < 3; ++dim)
    if (failed(checkExtent(emitError, "bucket_ids", ids, dim,
                           dim == 0   ? "batch"
                           : dim == 1 ? "heads"
                                      : "sequence length",
                           extentOf(input, dim, "input"))))
      return failure();
  return success();
}

LogicalResult FloodFillOp::verify() {
  auto emitError = [&]() { return emitOpError(); };
  int64_t convSize = getConvSize(), blockSize = getBlockSize();
  double quantile = getQuantile().convertToDouble();
  // Index arithmetic adds the block origin, the block size and the
  // filter's half width: bounded, they cannot overflow.
  if (convSize < 1 || convSize % 2 == 0 || convSize > kMaxPatternExtent)
    return emitOpError() << "conv_size must be odd, positive and at most "
                         << kMaxPatternExtent << ", got " << convSize;
  if (failed(verifyBlockSize(emitError, "block_size", blockSize)))
    return failure();
  if (!(quantile >= 0.0 && quantile <= 1.0))
    return emitOpError() << "quantile must be in [0, 1], got " << formatValue(quantile);
  std::optional<APFloat> density = getDensity();
  if (getVariant() == SpionVariant::ConvTopK) {
    if (!density)
      return emitOpError() << "variant conv_topk needs a density";
    double value = density->convertToDouble();
    if (!(value > 0.0 && value <= 1.0))
      return emitOpError() << "density must be in (0, 1], got " << formatValue(value);
  } else if (density) {
    return emitOpError() << "density is only meaningful for variant conv_topk";
  }

  Type scores = getScores().getType(), mask = getBlockMask().getType();
  if (failed(checkExtent(emitError, "scores", scores, 1, "keys",
                         extentOf(scores, 0, "scores dimension 0"))))
    return failure();
  int64_t seq = cast<ShapedType>(scores).getDimSize(0);
  if (ShapedType::isDynamic(seq))
    seq = cast<ShapedType>(scores).getDimSize(1);
  if (!ShapedType::isDynamic(seq) && seq % blockSize != 0)
    return emitOpError() << "score map size " << seq
                         << " is not a multiple of block_size " << blockSize;
  Extent blocks{ceilDivExtent(seq, blockSize), "scores / block_size"};
  if (failed(checkExtent(emitError, "block_mask", mask, 0, "query blocks",
                         blocks)) ||
      failed(checkExtent(emitError, "block_mask", mask, 1, "key blocks",
                         blocks)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Mask ops
//===----------------------------------------------------------------------===//

LogicalResult MaskWindowOp::verify() {
  if (getSize() < 1)
    return emitOpError() << "window size must be at least 1, got "
                         << getSize();
  return success();
}

/// Verifies that the two per-token operands of a mask agree on the batch.
static LogicalResult
checkTokenPair(llvm::function_ref<InFlightDiagnostic()> emitError,
               StringRef queryName, Type query, StringRef keyName, Type key) {
  return checkExtent(emitError, keyName, key, 0, "batch",
                     extentOf(query, 0, queryName));
}

LogicalResult MaskHashOp::verify() {
  if (getBuckets() < 1)
    return emitOpError() << "number of buckets must be at least 1, got "
                         << getBuckets();
  if (getQueryBuckets().getType().getElementType() !=
      getKeyBuckets().getType().getElementType())
    return emitOpError() << "query_buckets and key_buckets must have the "
                            "same element type";
  return checkTokenPair([&]() { return emitOpError(); }, "query_buckets",
                        getQueryBuckets().getType(), "key_buckets",
                        getKeyBuckets().getType());
}

LogicalResult MaskDropOp::verify() {
  return checkTokenPair([&]() { return emitOpError(); }, "query_keep",
                        getQueryKeep().getType(), "key_keep",
                        getKeyKeep().getType());
}

LogicalResult
attn::verifyPrunePattern(llvm::function_ref<InFlightDiagnostic()> emitError,
                         int64_t keep, int64_t group) {
  if (group != 2 && group != 4 && group != 8)
    return emitError() << "N:M group size m must be 2, 4 or 8, got " << group;
  if (keep < 1 || keep >= group)
    return emitError() << "N:M kept count n must satisfy 1 <= n < m, got "
                       << keep << " of " << group;
  return success();
}

LogicalResult attn::verifyOptionalPrune(Operation *op,
                                        std::optional<int64_t> keep,
                                        std::optional<int64_t> group) {
  if (keep.has_value() != group.has_value())
    return op->emitOpError() << "nm(n of m) needs both counts";
  if (!keep)
    return success();
  return verifyPrunePattern([&] { return op->emitOpError(); }, *keep, *group);
}

LogicalResult MaskNMOp::verify() {
  if (failed(verifyPrunePattern([&] { return emitOpError(); }, getN(), getM())))
    return failure();
  // (A prune that is its own base is a cycle, which the dominance check
  // reports.)
  if (Value base = getBase())
    if (auto inner = base.getDefiningOp<MaskNMOp>(); inner && inner != *this)
      return emitOpError()
             << "an N:M prune cannot be the base of another one: prune once, "
                "with the masks it chooses among in its base(...)";
  return success();
}

LogicalResult MaskBlockOp::verify() {
  if (failed(verifyBlockSize([&] { return emitOpError(); }, "block size",
                             getSize())))
    return failure();
  return success();
}

LogicalResult MaskAndOp::verify() {
  if (getMasks().size() < 2)
    return emitOpError() << "needs at least two masks, got "
                         << getMasks().size();
  // An N:M prune chooses among the pairs of its base; inside an 'and' it
  // would choose among all keys and the other masks would then remove some
  // of its choices, which is almost never meant.
  for (Value mask : getMasks())
    if (auto prune = mask.getDefiningOp<MaskNMOp>()) {
      InFlightDiagnostic diag =
          emitOpError()
          << "an N:M prune cannot be an operand of 'and': give it the other "
             "masks as its base, e.g. attn.mask.nm "
          << prune.getN() << " of " << prune.getM() << " base(%other)";
      diag.attachNote(prune.getLoc()) << "N:M prune defined here";
      return diag;
    }
  return success();
}

//===----------------------------------------------------------------------===//
// MaskOpInterface
//
// Each family states here what it checks against the problem and what it
// adds to attn-plan's MaskPlan; the walks over the mask tree live with their
// consumers and never name a family.
//===----------------------------------------------------------------------===//

LogicalResult MaskHashOp::verifyAgainstProblem(
    const ProblemExtents &problem,
    llvm::function_ref<InFlightDiagnostic()> emitError) {
  return checkQueryKeyTokens(emitError, "query_buckets",
                             getQueryBuckets().getType(), "key_buckets",
                             getKeyBuckets().getType(), problem);
}

LogicalResult MaskDropOp::verifyAgainstProblem(
    const ProblemExtents &problem,
    llvm::function_ref<InFlightDiagnostic()> emitError) {
  return checkQueryKeyTokens(emitError, "query_keep", getQueryKeep().getType(),
                             "key_keep", getKeyKeep().getType(), problem);
}

/// The block mask is [ceil(Nq / size), ceil(Nk / size)], or per batch and
/// query head [B, Hq, ceil(Nq / size), ceil(Nk / size)].
LogicalResult MaskBlockOp::verifyAgainstProblem(
    const ProblemExtents &problem,
    llvm::function_ref<InFlightDiagnostic()> emitError) {
  return verifyBlockMaskExtents(emitError, getBlockMask().getType(), getSize(),
                                problem);
}

LogicalResult
attn::verifyBlockMaskExtents(llvm::function_ref<InFlightDiagnostic()> emitError,
                             Type type, int64_t size,
                             const ProblemExtents &problem) {
  Extent qBlocks{ceilDivExtent(problem.querySeq.value, size),
                 "ceil(query sequence / block size)"};
  Extent kBlocks{ceilDivExtent(problem.keySeq.value, size),
                 "ceil(key sequence / block size)"};
  unsigned first = 0;
  if (cast<ShapedType>(type).getRank() == 4) {
    if (failed(checkExtent(emitError, "block_mask", type, 0, "batch",
                           problem.batch)) ||
        failed(checkExtent(emitError, "block_mask", type, 1, "heads",
                           problem.queryHeads)))
      return failure();
    first = 2;
  }
  return success(succeeded(checkExtent(emitError, "block_mask", type, first,
                                       "query blocks", qBlocks)) &&
                 succeeded(checkExtent(emitError, "block_mask", type, first + 1,
                                       "key blocks", kBlocks)));
}

/// The memrefs the predicate uses that are defined above it: what the
/// attention reads while evaluating the predicate (the region may read, but
/// not write, memory; see verifyPredicateBody).
SmallVector<Value> MaskCustomOp::getReadBuffers() {
  Region &predicate = getPredicate();
  llvm::SetVector<Value> buffers;
  predicate.walk([&](Operation *nested) {
    for (Value operand : nested->getOperands())
      if (isa<MemRefType>(operand.getType()) &&
          !predicate.isAncestor(operand.getParentRegion()))
        buffers.insert(operand);
  });
  return buffers.takeVector();
}

LogicalResult attn::verifyPredicateRegion(Operation *op, Region &predicate,
                                          bool allowIndexPair) {
  if (predicate.empty())
    return success();
  Block &body = predicate.front();
  unsigned count = body.getNumArguments();
  bool indexArguments = llvm::all_of(body.getArgumentTypes(),
                                     [](Type t) { return t.isIndex(); });
  if (!indexArguments || !(count == 4 || (allowIndexPair && count == 2)))
    return op->emitOpError()
           << "predicate must take "
           << (allowIndexPair ? "two index arguments (query index, key "
                                "index) or four "
                              : "four index arguments ")
           << "(batch, query head, query index, key index)";
  if (body.empty() || !isa<YieldOp>(body.back()))
    return op->emitOpError() << "predicate must end with attn.yield";
  return verifyPredicateBody(op, predicate);
}

/// The verb for a non-read memory effect in a diagnostic.
static StringRef describeEffect(MemoryEffects::Effect *effect) {
  if (isa<MemoryEffects::Write>(effect))
    return "writes";
  if (isa<MemoryEffects::Allocate>(effect))
    return "allocates";
  if (isa<MemoryEffects::Free>(effect))
    return "frees";
  return "has an effect on";
}

/// Walks the region pre-order and stops at the first op that is an attn op
/// other than a mask or attn.yield, or that declares a memory effect other
/// than a read (ops nested in such an op's regions are visited too, so an
/// scf.if holding a store is caught at the store).
LogicalResult attn::verifyPredicateBody(Operation *op, Region &predicate) {
  WalkResult result =
      predicate.walk<WalkOrder::PreOrder>([&](Operation *nested) -> WalkResult {
        if (isa_and_nonnull<AttnDialect>(nested->getDialect()) &&
            !isa<MaskOpInterface, YieldOp>(nested)) {
          InFlightDiagnostic diag =
              op->emitOpError()
              << "predicate must not contain '" << nested->getName()
              << "': attn compute ops cannot run inside a mask predicate";
          diag.attachNote(nested->getLoc()) << "nested op here";
          return WalkResult::interrupt();
        }
        auto effecting = dyn_cast<MemoryEffectOpInterface>(nested);
        if (!effecting) {
          // Regions of ops whose effects are those of their bodies (scf.if,
          // scf.for) are walked on; any other op declares nothing, so it
          // may do anything (a call may write memory, or name a function
          // the kernel cannot reach).
          if (nested->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
            return WalkResult::advance();
          InFlightDiagnostic diag =
              op->emitOpError()
              << "predicate must be pure, but the effects of '"
              << nested->getName() << "' are unknown"
              << (isa<CallOpInterface>(nested)
                      ? ": inline the callee into the predicate"
                      : "");
          diag.attachNote(nested->getLoc()) << "op here";
          return WalkResult::interrupt();
        }
        SmallVector<MemoryEffects::EffectInstance> effects;
        effecting.getEffects(effects);
        for (const MemoryEffects::EffectInstance &effect : effects) {
          MemoryEffects::Effect *kind = effect.getEffect();
          if (isa<MemoryEffects::Read>(kind))
            continue;
          InFlightDiagnostic diag =
              op->emitOpError()
              << "predicate must not write, allocate or free memory, but '"
              << nested->getName() << "' " << describeEffect(kind) << " memory";
          diag.attachNote(nested->getLoc()) << "side effect here";
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      });
  return failure(result.wasInterrupted());
}

LogicalResult MaskCustomOp::verifyRegions() {
  return verifyPredicateRegion(*this, getPredicate(), /*allowIndexPair=*/true);
}

/// Parses `(%i, %j) { region }`: the block arguments are both `index`.
ParseResult MaskCustomOp::parse(OpAsmParser &parser, OperationState &result) {
  SmallVector<OpAsmParser::Argument, 4> arguments;
  if (parser.parseArgumentList(arguments, OpAsmParser::Delimiter::Paren))
    return failure();
  if (arguments.size() != 2 && arguments.size() != 4)
    return parser.emitError(parser.getCurrentLocation(),
                            "expected two predicate arguments (query index, "
                            "key index) or four (batch, query head, query "
                            "index, key index), got ")
           << arguments.size();
  Type indexType = parser.getBuilder().getIndexType();
  for (OpAsmParser::Argument &argument : arguments)
    argument.type = indexType;
  Region *predicate = result.addRegion();
  if (parser.parseRegion(*predicate, arguments) ||
      parser.parseOptionalAttrDict(result.attributes))
    return failure();
  result.addTypes(MaskType::get(parser.getContext()));
  return success();
}

void MaskCustomOp::print(OpAsmPrinter &printer) {
  Block &body = getPredicate().front();
  printer << " (";
  llvm::interleaveComma(body.getArguments(), printer,
                        [&](BlockArgument arg) { printer.printOperand(arg); });
  printer << ") ";
  printer.printRegion(getPredicate(), /*printEntryBlockArgs=*/false);
  printer.printOptionalAttrDict((*this)->getAttrs());
}

#define GET_OP_CLASSES
#include "attn/Dialect/Attn/AttnOps.cpp.inc"
