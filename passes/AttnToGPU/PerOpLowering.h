//===- PerOpLowering.h - each attn.tile op on its own -----------*- C++ -*-===//
//
// The per-op GPU lowering: every attn.tile.* op becomes a loop over its
// elements (or rows, for the row-wise softmax steps) distributed over the
// block's threads, `for (e = tid; e < count; e += nthreads)`, followed by a
// barrier so that the next op sees the whole tile; all tiles live in shared
// memory. Q Kᵀ and P V use mma.sync where `useMma` and the tile shapes
// allow. It runs what no fused emitter takes: hand-written L2 tile loops and
// the decomposition of a fused step the chip's emitter declines (with a
// remark), so it is the slow but general path.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_PEROPLOWERING_H
#define ATTN_PASSES_ATTNTOGPU_PEROPLOWERING_H

#include "KernelBuilder.h"

namespace attn {

/// Lowers `op`, an attn.tile.* op inside a gpu.launch body, at its place
/// and erases it.
void lowerTileOpPerOp(KernelBuilder &kernel, Operation *op, bool useMma);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_PEROPLOWERING_H
