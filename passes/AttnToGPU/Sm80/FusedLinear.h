//===- FusedLinear.h - the sm_80 emitter of attn.fused.linear ---*- C++ -*-===//
//
// Lowers one attn.fused.linear (linear attention over one token range of
// one (batch, head), Lightning Attention-2's chunk loop) as a unit with
// mma.sync m16n8k16, ldmatrix and cp.async (sm_80; the same code runs on
// sm_90a). The algorithm is stated in FusedLinear.cpp's header comment.
// planSm80FusedLinear checks the shapes and lays out shared memory;
// emitSm80FusedLinear writes the kernel body of one block, which handles
// `valueSlice` value columns of the step.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_SM80_FUSEDLINEAR_H
#define ATTN_PASSES_ATTNTOGPU_SM80_FUSEDLINEAR_H

#include "../SharedMemory.h"

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Target/TargetInfo.h"

#include <string>

namespace attn {

/// The emitter's decisions for one step.
struct Sm80FusedLinearPlan {
  /// Value columns per block (Ev: 128, or 64 when E is not a multiple of
  /// 128) and threads per block (two per value column: 8 or 4 warps); the
  /// launch runs E / Ev blocks per token range (`slices`).
  int64_t valueSlice = 64;
  int64_t threads = 128;
  int64_t slices = 1;
  /// The shared-memory buffers, in this order: with an output, the Q
  /// chunk (two stages); K and the V slice (two stages each); with an
  /// output, the 16-bit copy of the state, transposed ([Ev, D]).
  SharedMemoryLayout sharedMemory;
};

/// Whether the sm_80 emitter takes `step` on `target`; on failure `whyNot`
/// says why (linear attention has no per-op GPU fallback: the caller
/// reports it as an error).
mlir::FailureOr<Sm80FusedLinearPlan>
planSm80FusedLinear(FusedLinearOp step, const TargetInfo &target,
                    std::string &whyNot);

/// Emits `step` at the insertion point of `kernel.b` inside a gpu.launch of
/// plan.threads threads, for value columns [slice · Ev,
/// (slice + 1) · Ev), with its operands read through `mapping` and the
/// shared buffers `buffers` (materialized from plan.sharedMemory).
void emitSm80FusedLinear(KernelBuilder &kernel, FusedLinearOp step,
                         IRMapping &mapping, const Sm80FusedLinearPlan &plan,
                         ArrayRef<Value> buffers, Value slice);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_SM80_FUSEDLINEAR_H
