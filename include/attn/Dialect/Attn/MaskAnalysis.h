//===- MaskAnalysis.h - what mask ops say about a problem -------*- C++ -*-===//
//
// The data the attn.mask.* ops exchange with their consumers through
// MaskOpInterface: the extents of the attention problem a mask is checked
// against, the plan the planner folds the masks into, and the one walker
// that visits a mask tree.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_MASKANALYSIS_H
#define ATTN_DIALECT_ATTN_MASKANALYSIS_H

#include "attn/Dialect/Attn/AttnOps.h"

#include "llvm/ADT/StringRef.h"

#include <optional>

namespace attn {

/// One named extent of the attention problem, with where it came from, so
/// that a mismatch can say "but query has 8". Dynamic extents are
/// `ShapedType::kDynamic` and agree with anything.
struct Extent {
  int64_t value = mlir::ShapedType::kDynamic;
  llvm::StringRef source;
};

/// The extents of a softmax attention problem that the mask operands are
/// checked against: Q is [batch, queryHeads, querySeq, D] and K is
/// [batch, kvHeads, keySeq, D].
struct ProblemExtents {
  Extent batch, queryHeads, kvHeads, querySeq, keySeq;
};

/// Checks a block mask of type `type` with blocks of `size` against
/// `problem`: `[ceil(Nq / size), ceil(Nk / size)]`, or `[B, Hq, ceil(Nq /
/// size), ceil(Nk / size)]` (attn.mask.block and attn.plan).
mlir::LogicalResult
verifyBlockMaskExtents(llvm::function_ref<mlir::InFlightDiagnostic()> emitError,
                       mlir::Type type, int64_t size,
                       const ProblemExtents &problem);

/// What attn-plan learned from a mask tree: the conjunction of every mask's
/// contribution (MaskOpInterface::contributeToPlan).
struct MaskPlan {
  /// Inclusive bounds on delta = j - (i + Nk - Nq), the key position relative
  /// to the bottom-right diagonal; a missing bound is unbounded.
  std::optional<int64_t> bandLower, bandUpper;
  /// Opaque predicates (attn.mask.custom regions) to be conjoined, in the
  /// order the mask tree visits them.
  llvm::SmallVector<MaskCustomOp> predicates;
  /// A block mask (attn.mask.block): the plan's schedule becomes `list`.
  struct BlockMask {
    mlir::Value mask;
    int64_t size = 0;
  };
  std::optional<BlockMask> blockMask;
  /// A token order (hash buckets, keep flags): the schedule becomes `list`
  /// over tokens sorted by class (attn.plan's `order`). Query token i has
  /// class c(queryKeys[b, h, i]) and key token j class c(keyKeys[b, hk, j]);
  /// with keep flags c = 0 for a kept token and 1 for a dropped one
  /// (`classes` = 1), with bucket ids c = the id when it lies in
  /// [0, classes) and `classes` otherwise. A pair is allowed only if its
  /// classes are equal and below `classes` (attn::buildTokenClass).
  struct TokenOrder {
    mlir::Value queryKeys, keyKeys;
    int64_t classes = 0;
    bool keepFlags = false;
    /// The mask op that asked for the order, for diagnostics.
    mlir::Operation *source = nullptr;
  };
  std::optional<TokenOrder> order;
  /// An N:M prune (attn.mask.nm): per row and key group of `group`, the
  /// `keep` largest scores among the pairs the rest of the plan allows (the
  /// prune's base; the verifiers keep a prune out of 'and' and out of
  /// another prune's base, so the rest of the plan is exactly its base).
  struct Prune {
    int64_t keep = 0, group = 0;
  };
  std::optional<Prune> prune;

  /// Intersects the band with [lower, upper] (a missing bound adds nothing):
  /// the maximum of the lower bounds and the minimum of the upper bounds.
  void intersectBand(std::optional<int64_t> lower,
                     std::optional<int64_t> upper);

  /// Whether any band bound is known.
  bool hasBand() const { return bandLower || bandUpper; }
};

/// Visits every distinct mask op reachable from `root` through
/// MaskOpInterface::getChildMasks exactly once, in a topological order: a
/// mask op comes before every mask op it uses. For a tree this is the
/// pre-order with children left to right. Values not produced by a mask op
/// (block arguments, other ops) are not visited; nor is anything when `root`
/// is such a value. Stops at, and returns, the first failure of `fn`.
///
/// Algorithm: an iterative depth-first search with an explicit stack and a
/// visited set computes the post-order with children taken right to left;
/// its reverse is the visit order. A mask DAG (one value used twice) is thus
/// visited once per op, and a cycle (invalid IR that the verifier sees
/// before dominance is checked) terminates without recursion; `fn` runs
/// only after the whole order is known, so it may erase the op it is given.
mlir::LogicalResult
visitMaskTree(mlir::Value root,
              llvm::function_ref<mlir::LogicalResult(MaskOpInterface)> fn);

} // namespace attn

#endif // ATTN_DIALECT_ATTN_MASKANALYSIS_H
