//===- FloodFill.h - the GPU kernels of attn.flood_fill ---------*- C++ -*-===//
//
// Lowers SPION's pattern derivation (attn.flood_fill, variants CF, F and
// C) to two or three launches:
//  1. the block map. With a filter narrower than the block (h < bs) one
//     block of 256 threads per cell reads its own bs x bs scores once, 16
//     bytes per load, and adds each with its tap counts to seven partial
//     sums (its own cell and the six its diagonal reaches); a gather kernel
//     (a thread per cell) adds each cell's seven terms in a fixed order.
//     With h = 0 (SPION-F) the map kernel writes the averages itself. A
//     filter as wide as the block or wider sums each cell's neighbourhood
//     (FloodFillOp::buildBlockSum), a warp per row. Every cell of the mask
//     is cleared here;
//  2. one block of 1024 threads: order statistics by a radix select over
//     the map's order-preserving 32-bit keys (4 passes of 8 bits, a shared
//     histogram with one atomic per distinct digit per warp, match.sync),
//     then for CF and F the quantile's interpolation, the 2 nb walks over
//     stripes of the padded map held in shared memory
//     (FloodFillOp::buildWalk; global memory when two rows do not fit) and
//     the diagonal; for C the keep-th largest key and a block-wide count of
//     its ties in row-major order (ties: lower index first), the diagonal
//     kept.
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_FLOODFILL_H
#define ATTN_PASSES_ATTNTOGPU_FLOODFILL_H

#include "LaunchFacts.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace attn {

/// Replaces `op` by its launches, recorded in `facts`, and its scratch
/// buffers (the block map; the partial sums of the one-read map). Returns
/// the launches, whose bodies still use the scalars they capture.
mlir::FailureOr<llvm::SmallVector<mlir::gpu::LaunchOp, 2>>
convertFloodFill(FloodFillOp op, LaunchFacts &facts);

/// Emits the selection kernel (the second bullet above) at the insertion
/// point of `b`, which it leaves after the launch: one block reading the
/// flattened f32 `blockMap` of `blocks` x `blocks` cells and writing the
/// mask. FloodFillSelection.cpp.
mlir::FailureOr<mlir::gpu::LaunchOp>
emitFloodFillSelection(mlir::ImplicitLocOpBuilder &b, FloodFillOp op,
                       LaunchFacts &facts, mlir::Value blocks,
                       mlir::Value blockMap);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_FLOODFILL_H
