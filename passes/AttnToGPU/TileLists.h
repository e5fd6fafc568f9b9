//===- TileLists.h - the GPU kernel of attn.tile_lists ----------*- C++ -*-===//
//
// Lowers attn.tile_lists (the lists of a block-sparse schedule) to a launch
// of its own, before the attention's: one block of 8 warps per (list,
// q-tile). Each step classifies 256 kv-tiles at once, one per thread
// (TileListsOp::buildTileClass), and appends the chosen ones in order: a
// warp ballot gives each lane its rank among its warp's takers
// (popc(ballot & ((1 << lane) - 1))), the warps' counts meet in shared
// memory, and a taker writes at base + (takers of earlier warps) + rank;
// the base grows by the step's takers. A first pass appends the full
// tiles, a second the partial ones after them; thread 0 writes the counts.
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_TILELISTS_H
#define ATTN_PASSES_ATTNTOGPU_TILELISTS_H

#include "LaunchFacts.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace attn {

/// Replaces `op` by its gpu.launch (grid: q-tiles x list heads x list
/// batches, one warp per block), recorded in `facts`, which also describes
/// the block mask argument's extents. Returns the launch, whose body still
/// uses the scalars it captures.
mlir::FailureOr<mlir::gpu::LaunchOp> convertTileLists(TileListsOp op,
                                                      LaunchFacts &facts);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_TILELISTS_H
