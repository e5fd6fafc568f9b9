//===- FusedForward.h - the sm_80 emitter of attn.fused.forward -*- C++ -*-===//
//
// Lowers one attn.fused.forward as a unit, FlashAttention-2 style, with
// mma.sync m16n8k16, ldmatrix and cp.async (sm_80; the same code runs on
// sm_90a). The algorithm is stated in FusedForward.cpp's header comment.
// planSm80FusedForward says whether the emitter takes a step and how
// (warp shape, K/V pipeline, where Q lives, the shared-memory buffers);
// emitSm80FusedForward writes the kernel body for it.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_SM80_FUSEDFORWARD_H
#define ATTN_PASSES_ATTNTOGPU_SM80_FUSEDFORWARD_H

#include "../SharedMemory.h"

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Target/TargetInfo.h"

#include <string>

namespace attn {

/// How the K/V tiles are pipelined through shared memory: `stages` buffers
/// per tile, the tile of schedule position p in stage p mod stages;
/// iteration p issues the cp.async group of position p + ahead and waits
/// for position p's group, around the iteration's one barrier.
///  - issued after the barrier, the copy may overwrite the stage of
///    iteration p - 1 (every warp is past it), so stages >= ahead + 1;
///  - issued before the wait, it is in flight during the wait, but some
///    warp may still compute on iteration p - 1, so stages >= ahead + 2.
/// stages = 0: no pipeline (K and V are loaded by each iteration, one
/// barrier before the next).
struct KeyValuePipeline {
  int64_t stages = 0, ahead = 0;
  bool issueBeforeWait = false;
};

/// The emitter's decisions for one step.
struct Sm80FusedForwardPlan {
  /// 16-row mma tiles per warp (1, 2 or 4).
  int64_t rowTiles = 0;
  KeyValuePipeline pipeline;
  /// Whether the Q tile lives in shared memory (else Q fragments are
  /// registers loaded once from global memory).
  bool sharedQuery = false;
  /// The shared-memory buffers, in this order: the Q tile (if shared), K,
  /// V (staged when pipelined).
  SharedMemoryLayout sharedMemory;
  /// With an N:M prune: whether P V runs on the sparse tensor cores
  /// (mma.sp m16n8k32, for 2:4 and 1:2), else as dense mma on the pruned P.
  bool sparseValueProduct = false;
  /// The target's mma.sp form (TargetInfo::orderedSparseMetadata).
  bool orderedSparseMetadata = false;
  /// A note for the caller to emit as a remark (e.g. why an N:M prune's
  /// P V stays dense), empty if none.
  std::string remark;
};

/// Whether the sm_80 emitter takes `step` with `threads` threads per block
/// on `target`; on failure `whyNot` says why (for the remark that sends the
/// step to the per-op fallback).
mlir::FailureOr<Sm80FusedForwardPlan>
planSm80FusedForward(FusedForwardOp step, const TargetInfo &target,
                     int64_t threads, std::string &whyNot);

/// Emits `step` at the insertion point of `kernel.b` inside a gpu.launch,
/// with its operands read through `mapping` (values above the launch to
/// values inside) and the shared buffers `buffers` (materialized from
/// plan.sharedMemory). Leaves attn.tile.load ops on the K/V buffers for the
/// per-op lowering when the plan has no pipeline.
void emitSm80FusedForward(KernelBuilder &kernel, FusedForwardOp step,
                          IRMapping &mapping, const Sm80FusedForwardPlan &plan,
                          ArrayRef<Value> buffers, int64_t threads);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_SM80_FUSEDFORWARD_H
