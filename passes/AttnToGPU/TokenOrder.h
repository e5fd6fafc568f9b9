//===- TokenOrder.h - GPU kernels of hash and drop preprocessing -*- C++
//-*-===//
//
// Lowers the preprocessing ops of attentions over sorted tokens to launches
// of their own, before the attention's, in program order:
//
//   - attn.lsh: one thread per token (grid ceil(N / 256) x H x B), the
//     projections and first maximum of LshOp::buildBucketOf.
//   - attn.token_order: one block per (b, h) of T threads (T the largest
//     power of two <= 1024 whose class counts, (classes + 1) x T i32, fit
//     in 48 KiB). Thread t owns the tokens [t·c, (t+1)·c), c = ceil(N /
//     T): it counts its tokens' classes into column t of the counts; the
//     counts, read class-major (class k, thread t at k·T + t), get their
//     exclusive prefix sums (each thread sums a contiguous segment of
//     classes + 1 entries, KernelBuilder::scanBlock across the block, then
//     rewrites its segment); each thread then walks its tokens again in
//     position order and writes each at its (class, thread) slot, which
//     it increments. Class-major, then thread, then position order is the
//     stable order.
//   - attn.ordered_tile_lists: one thread per kv-tile of each (b, hk)
//     writing its summary (buildKeyTileSummary), then one thread per
//     q-tile of each (b, h) writing its list (buildQueryTileLists):
//     the same builders as the CPU loops.
//
// Each launch describes the per-token arguments it reads or writes (keys,
// bucket ids) by the activations' extents, so that the runtime checks
// them.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_TOKENORDER_H
#define ATTN_PASSES_ATTNTOGPU_TOKENORDER_H

#include "LaunchFacts.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace attn {

/// The most classes a token order may have on the GPU: the counts of 32
/// threads must fit in 48 KiB.
inline constexpr int64_t kMaxGpuOrderClasses = 48 * 1024 / (4 * 32) - 1;

/// Replaces `op` by its launch, recorded in `facts`. Return the launches,
/// whose bodies still use the scalars they capture.
mlir::FailureOr<mlir::gpu::LaunchOp> convertLsh(LshOp op, LaunchFacts &facts);
/// attn.gather_rows: a thread per 16-byte chunk of a row (D a multiple of
/// 8 for 2-byte elements), one 16-byte load through the order and one
/// store.
mlir::FailureOr<mlir::gpu::LaunchOp> convertGatherRows(GatherRowsOp op,
                                                       LaunchFacts &facts);
mlir::FailureOr<mlir::gpu::LaunchOp> convertTokenOrder(TokenOrderOp op,
                                                       LaunchFacts &facts);
mlir::FailureOr<llvm::SmallVector<mlir::gpu::LaunchOp, 2>>
convertOrderedTileLists(OrderedTileListsOp op, LaunchFacts &facts);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_TOKENORDER_H
