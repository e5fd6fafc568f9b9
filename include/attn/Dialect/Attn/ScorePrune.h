//===- ScorePrune.h - the N:M selection rule of a score group ---*- C++ -*-===//
//
// The one definition of which scores an N:M prune keeps (attn.mask.nm,
// SEMANTICS.md "N:M"). In a group of m scores s_0 .. s_{m-1} (consecutive
// keys, lower index = lower key), s_j beats s_i when s_j > s_i, or
// s_j = s_i and j < i; s_i is kept iff fewer than n scores beat it. "Beats"
// is a strict total order on (score, index), so exactly n scores of each
// group are kept, and a -inf score (a disallowed pair) never beats a finite
// one. The CPU lowering of attn.tile.prune, its per-op GPU lowering and the
// sm_80 emitter all build the rule through this header:
//  - 2:4 and 1:2 (the patterns of the sparse tensor cores) as a
//    tournament that yields the kept indices and values directly (what
//    mma.sp needs: two values and their positions per group of four);
//  - every other n:m by counting beaters (m(m-1)/2 comparisons).
// Both formulations give the same kept set for every input without NaN.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_SCOREPRUNE_H
#define ATTN_DIALECT_ATTN_SCOREPRUNE_H

#include "mlir/IR/Builders.h"

namespace attn {

/// The two scores a group of four keeps under 2:4 (or two pairs under
/// 1:2): values and i32 indices in [0, 4), first.index < second.index.
struct KeptPair {
  mlir::Value firstValue, firstIndex, secondValue, secondIndex;
  /// The sparse tensor cores' metadata of the group (i32): firstIndex |
  /// secondIndex << 2, built from the comparisons directly.
  mlir::Value nibble;
};

/// The 2:4 tournament over the f32 scores `s` (four values): the winners
/// of (s0, s1) and (s2, s3) meet; the overall winner is kept, and the
/// runner-up is the better of the final's loser and the loser of the
/// winner's first match (ties to the lower index throughout). The kept
/// pair is then both scores of one first match (when that match's loser
/// is the runner-up) or the two winners, so it comes out in index order
/// without a sort.
KeptPair buildKeepTwoOfFour(mlir::OpBuilder &b, mlir::Location loc,
                            llvm::ArrayRef<mlir::Value> s);

/// 1:2 over the pairs (s0, s1) and (s2, s3) of four f32 scores: the larger
/// of each pair, the first on a tie.
KeptPair buildKeepOneOfTwoPairs(mlir::OpBuilder &b, mlir::Location loc,
                                llvm::ArrayRef<mlir::Value> s);

/// The i1 "kept" flag of each of the f32 scores `group` (m values) under
/// `keep`:m: the kept pair's indices for 2:4 and 1:2 (m = 4 or 2, as two
/// pairs or one), counted beaters otherwise.
llvm::SmallVector<mlir::Value> buildKeptFlags(mlir::OpBuilder &b,
                                              mlir::Location loc,
                                              llvm::ArrayRef<mlir::Value> group,
                                              int64_t keep);

/// Whether `keep`:`group` fits the sparse tensor cores' 2:4 pattern (2:4, or
/// 1:2 taken as two pairs of a group of four).
inline bool isSparseTensorCorePattern(int64_t keep, int64_t group) {
  return (keep == 2 && group == 4) || (keep == 1 && group == 2);
}

} // namespace attn

#endif // ATTN_DIALECT_ATTN_SCOREPRUNE_H
