//===- TileMask.h - the allowed pairs of a tile -----------------*- C++ -*-===//
//
// The one definition of which (batch, head, query, key) pairs a tile-level
// mask allows: a band on delta = j - (i + Nk - Nq) and an optional
// predicate region over (b, h, i, j). attn.tile.mask and attn.fused.forward
// carry the same two parts; every lowering (CPU, per-op GPU, the fused GPU
// emitters) builds its conditions through this class.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_TILEMASK_H
#define ATTN_DIALECT_ATTN_TILEMASK_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include <optional>

namespace attn {

/// The largest magnitude of a band bound. A bound is added to index values
/// (row, column and the diagonal offset Nk - Nq, each below 2^62 for any
/// buffer that can exist), so bounds within +-2^62 keep that arithmetic
/// exact in 64 bits; a wider bound excludes no pair any problem has, and the
/// planner clamps mask bounds (a window of 2^63 - 1) to this limit. The
/// verifier rejects wider bounds written at L1/L2.
inline constexpr int64_t kBandLimit = int64_t{1} << 62;

class TileMask {
public:
  TileMask(std::optional<int64_t> bandLower, std::optional<int64_t> bandUpper,
           mlir::Region *predicate)
      : bandLower(bandLower), bandUpper(bandUpper), predicate(predicate) {}

  std::optional<int64_t> getBandLower() const { return bandLower; }
  std::optional<int64_t> getBandUpper() const { return bandUpper; }
  bool hasBand() const { return bandLower || bandUpper; }
  bool hasPredicate() const { return predicate && !predicate->empty(); }

  /// The allowed key columns of query `i` in a row of keys starting at
  /// `jBase`: key j = jBase + c passes the key length and the band iff
  /// `first <= c <= last` (`first` is null without a lower band bound).
  /// Both are index values; `last` may be below `first` (no key).
  struct ColumnBounds {
    mlir::Value first, last;
  };
  /// Builds the ColumnBounds at the insertion point of `b`: the one
  /// definition of the length and band conditions,
  ///   c <= keyLen - 1 - jBase,
  ///   c <= band_upper + (i + diagonalOffset) - jBase,
  ///   c >= band_lower + (i + diagonalOffset) - jBase,
  /// in signed index arithmetic. `diagonalOffset` is keyLen - queryLen,
  /// computed once by the caller outside its loops.
  ColumnBounds buildColumnBounds(mlir::OpBuilder &b, mlir::Location loc,
                                 mlir::Value i, mlir::Value jBase,
                                 mlir::Value keyLen,
                                 mlir::Value diagonalOffset) const;

  /// Builds the i1 result of the predicate region for (batch, head, i, j):
  /// its body cloned with `mapping` extended by the block arguments (values
  /// it uses from above go through `mapping` too). Null without a
  /// predicate.
  mlir::Value buildPredicate(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value batch, mlir::Value head,
                             mlir::Value i, mlir::Value j,
                             mlir::IRMapping mapping = {}) const;

  /// Builds the i1 "pair (i, j) is allowed": the column bounds at
  /// jBase = j hold c = 0, and the predicate holds.
  mlir::Value buildAllowed(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value batch, mlir::Value head, mlir::Value i,
                           mlir::Value j, mlir::Value keyLen,
                           mlir::Value diagonalOffset,
                           mlir::IRMapping mapping = {}) const;

private:
  std::optional<int64_t> bandLower, bandUpper;
  mlir::Region *predicate;
};

} // namespace attn

#endif // ATTN_DIALECT_ATTN_TILEMASK_H
