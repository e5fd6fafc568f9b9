//===- FloodFill.h - the GPU kernels of attn.flood_fill ---------*- C++ -*-===//
//
// Lowers SPION's pattern derivation (attn.flood_fill, variants CF and F) to
// two launches:
//  1. the block map: one block of 256 threads per (x, y), each summing a
//     strided share of the block's neighbourhood with the filter's tap
//     weights (FloodFillOp::buildBlockSum), a warp-shuffle and
//     shared-memory reduction, thread 0 writing the average into a scratch
//     map and clearing the mask cell;
//  2. one block of 1024 threads: the quantile's two order statistics by a
//     radix select over the map's order-preserving 32-bit keys (4 passes
//     of 8 bits, a 256-bin shared histogram each, thread 0 finding the
//     bin of the rank), the interpolation, the 2 nb walks spread over the
//     threads (FloodFillOp::buildWalk; they only ever write 1, so they
//     need no order), and the diagonal.
// SPION-C (top-k) has no GPU lowering yet.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_FLOODFILL_H
#define ATTN_PASSES_ATTNTOGPU_FLOODFILL_H

#include "LaunchFacts.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace attn {

/// Replaces `op` by its two launches, recorded in `facts`, and a scratch
/// block map. Returns the launches, whose bodies still use the scalars
/// they capture.
mlir::FailureOr<llvm::SmallVector<mlir::gpu::LaunchOp, 2>>
convertFloodFill(FloodFillOp op, LaunchFacts &facts);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_FLOODFILL_H
