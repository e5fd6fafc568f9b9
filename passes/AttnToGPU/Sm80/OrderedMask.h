//===- OrderedMask.h - the sm_80 mask of a step over sorted tokens -*- C++ -*-//
//
// A fused step with token orders (hash buckets, keep flags) masks its
// partial tiles on original positions: each of a thread's rows is read once
// before the kv loop (prepareOrderedRows), each of its key columns once per
// partial tile, and the elements are decided in i32 arithmetic
// (maskOrderedScores). The conditions are attn.fused.forward's: equal
// classes below the class count, the band on original positions, the
// predicate (b, h, i, j) on original positions, the key below Nk.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_SM80_ORDEREDMASK_H
#define ATTN_PASSES_ATTNTOGPU_SM80_ORDEREDMASK_H

#include "../KernelBuilder.h"

#include "attn/Dialect/Attn/AttnOps.h"

#include <optional>

namespace attn {

/// The token orders of a step over sorted tokens and, when it has them,
/// its sorted classes and class count.
struct SortedTokens {
  Value query, key;
  Value queryClasses, keyClasses;
  int64_t classes = 0;
};

/// One of a thread's rows, prepared once before the kv loop: its original
/// position (index), its class (i32; -1 when not below the class count,
/// so that it equals no key's) and the i32 bounds of the keys its band
/// allows, i + off + lower <= j <= i + off + upper (clamped to the i32
/// range; null without that band bound).
struct OrderedRow {
  Value position, rowClass, lower, upper;
};

/// The OrderedRow of each sorted row q0 + rows[k] of (batch, head).
SmallVector<OrderedRow>
prepareOrderedRows(KernelBuilder &tiles, const SortedTokens &tokens,
                   ArrayRef<Value> rows, Value batch, Value head, Value q0,
                   const TileMask &mask, Value diagonalOffset);

/// The masked copy of a thread's S fragments (all row tiles flattened, in
/// the sm_80 accumulator layout: element i of row tile i / (blockK / 2) is
/// key column 8 ((i mod blockK / 2) / 4) + i mod 2 from k0 + twoT, row half
/// (i mod 4) / 2): per key column one read of the key order and one of the
/// sorted classes (class -2 for a key past Nk), then per element the class
/// equality, the row's band bounds and the predicate (if any), which reads
/// the values above the step through `mapping`.
SmallVector<Value>
maskOrderedScores(KernelBuilder &tiles, const SortedTokens &tokens,
                  ArrayRef<OrderedRow> rows, ArrayRef<Value> flat,
                  int64_t blockK, Value twoT, const TileMask &mask,
                  const FusedForwardOp::Problem &problem, Value batch,
                  Value head, Value k0, const IRMapping &mapping);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_SM80_ORDEREDMASK_H
