//===- FragmentMask.h - the sm_80 mask of a partial tile --------*- C++ -*-===//
//
// The sm_80 emitter masks a partial tile on its S fragments (positions in
// original order; a step over sorted tokens uses OrderedMask.h). Each of a
// thread's rows gets the range of key columns the length and band allow,
// once per tile, as i32 bounds relative to the lane's first key
// (buildFragmentRowBounds); each element is then a compare of its constant
// column with the bounds, and the predicate region where there is one
// (maskFragmentScores). The conditions are TileMask's.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_SM80_FRAGMENTMASK_H
#define ATTN_PASSES_ATTNTOGPU_SM80_FRAGMENTMASK_H

#include "../KernelBuilder.h"

#include "attn/Dialect/Attn/AttnOps.h"

namespace attn {

/// One of a thread's rows in a partial tile: its query position, the
/// lane's first key (keyBase) and the i32 column bounds: the keys
/// keyBase + c pass the length and band conditions iff first <= c <= last
/// (no `first` without a lower band bound). The bounds are clamped to
/// [-1, blockK], so that each element costs a compare with a constant
/// instead of 64-bit index arithmetic.
struct FragmentRowBounds {
  Value query, keyBase, first, last;
};

/// The bounds of each row `rows[i]` (q-tile rows, q0 added) of a tile whose
/// lane keys start at `keyBase`.
SmallVector<FragmentRowBounds>
buildFragmentRowBounds(KernelBuilder &kernel, const TileMask &mask,
                       const FusedForwardOp::Problem &problem,
                       ArrayRef<Value> rows, Value q0, Value keyBase,
                       int64_t blockK);

/// The masked copy of one row tile's S fragments `scores` (element i in
/// column columnOf(i) relative to keyBase, row half (i % 4) / 2), given
/// its two rows' bounds: -inf where the key does not exist, lies outside
/// the band or fails the predicate (read through `valueMapping`).
SmallVector<Value> maskFragmentScores(
    KernelBuilder &kernel, ArrayRef<Value> scores, const TileMask &mask,
    Value batch, Value head, ArrayRef<FragmentRowBounds> rows,
    function_ref<int64_t(int64_t)> columnOf, const IRMapping &valueMapping);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_SM80_FRAGMENTMASK_H
