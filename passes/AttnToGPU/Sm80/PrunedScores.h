//===- PrunedScores.h - the sm_80 N:M prune and sparse P V ------*- C++ -*-===//
//
// The sm_80 emitter's N:M step (FusedForward.cpp's header comment gives
// the key layout): the prune of a tile's S fragments in registers
// (pruneScoreFragments) and, for 2:4 and 1:2, P V on the sparse tensor
// cores (accumulateSparseValueProduct) with the metadata built in
// registers (buildSparseMetadata). The selection rule is ScorePrune.h's.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_SM80_PRUNEDSCORES_H
#define ATTN_PASSES_ATTNTOGPU_SM80_PRUNEDSCORES_H

#include "../KernelBuilder.h"

#include "attn/Dialect/Attn/ScorePrune.h"

namespace attn {

/// What the prune leaves for the sparse P V (empty otherwise):
/// kept[2r + half][2c + G] is the kept pair of row tile r, row half
/// (g or g + 8), 32-key chunk c and quarter G (this lane's keys
/// 8t + 4G .. 8t + 4G + 3 of the chunk); metadata[r][c] the metadata
/// register of (r, c).
struct PrunedScores {
  SmallVector<SmallVector<KeptPair>> kept;
  SmallVector<SmallVector<Value>> metadata;
};

/// Prunes the S fragments `scores[r]` (per row tile: blockK / 8 slices of
/// 4 values, in the prune's key layout, so that each lane holds 8
/// consecutive keys of every 32 and a group of 2, 4 or 8 never crosses
/// lanes) to `keep` of every `group` keys. With `sparse` (2:4 or 1:2) the
/// kept pairs are returned as they are, with the metadata built right
/// away (so that the kept indices die before the softmax; `lane` is this
/// thread's lane); otherwise the pruned scores become -inf in place.
PrunedScores pruneScoreFragments(
    KernelBuilder &kernel, mlir::SmallVectorImpl<SmallVector<Value>> &scores,
    int64_t keep, int64_t group, int64_t blockK, bool sparse, Value lane);

/// The metadata register of one (row tile, 32-key chunk) for sparsity
/// selector 0, from this lane's kept pairs of row g (`upper`) and row
/// g + 8 (`lower`), quarters G = 0, 1 (logical groups t and t + 4). Lane
/// t = 0 of each quad supplies logical groups 0 .. 3 (bits 4q of row g,
/// 16 + 4q of row g + 8), lane t = 1 groups 4 .. 7 the same way: each lane
/// places its nibbles at 4t and 16 + 4t of one word per quarter, the quad
/// ORs the words (two xor shuffles each), and lane t keeps word t (lanes 2
/// and 3 are not read).
Value buildSparseMetadata(KernelBuilder &kernel, ArrayRef<KeptPair> upper,
                          ArrayRef<KeptPair> lower, Value lane);

/// The shape of the sparse P V of one step.
struct SparseValueProduct {
  int64_t rowTiles, blockK, valueDim;
  Type elementType;
  bool isBF16, orderedMetadata;
  /// The V stages are swizzled by row block (rowBlockSwizzle).
  bool swizzled;
};

/// acc += P V on the sparse tensor cores: per 32-key chunk c, row tile r
/// and value slice e, one mma.sp m16n8k32 whose compressed A is this
/// lane's kept pairs (logical group t = its keys 8t .. 8t + 3, group
/// t + 4 its keys 8t + 4 .. 8t + 7) and whose B is one ldmatrix.x4.trans
/// of V rows in that logical order: lane l names logical k = l of the
/// chunk, key 8 (L % 4) + 4 (L / 4) + i for group L = l / 4 and
/// i = l % 4. The metadata of a (row tile, chunk) serves every value
/// slice. acc slice e of row tile r is state[accIndex(r, e)] and the next
/// three values.
void accumulateSparseValueProduct(
    KernelBuilder &kernel, const SparseValueProduct &shape,
    SmallVector<Value> &state,
    function_ref<int64_t(int64_t r, int64_t e)> accIndex,
    ArrayRef<SmallVector<KeptPair>> kept, ArrayRef<SmallVector<Value>> metadata,
    Value valueTile, Value lane);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_SM80_PRUNEDSCORES_H
