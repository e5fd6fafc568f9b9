//===- TileLists.h - the GPU kernel of attn.tile_lists ----------*- C++ -*-===//
//
// Lowers attn.tile_lists (the lists of a block-sparse schedule) to a launch
// of its own, before the attention's: one warp per (list, q-tile), which
// classifies 32 kv-tiles at a time (TileListsOp::buildTileClass, one tile
// per lane) and appends the chosen ones in order by a warp ballot: lane l
// writes at base + popc(ballot & ((1 << l) - 1)), and the base grows by
// popc(ballot). A first pass appends the full tiles, a second the partial
// ones after them; lane 0 writes the counts.
//
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
