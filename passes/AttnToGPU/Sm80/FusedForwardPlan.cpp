//===- FusedForwardPlan.cpp - whether and how the sm_80 emitter runs a step -===//
//
// planSm80FusedForward (FusedForward.h): the warp shape (16, 32 or 64 query
// rows per warp), where Q lives, the K/V cp.async pipeline and the
// shared-memory buffers of one fused step, or why the emitter declines it.
//
//===----------------------------------------------------------------------===//

#include "FusedForward.h"

#include "attn/Dialect/Attn/ScorePrune.h"

using namespace mlir;
using namespace attn;

/// Registers per thread the emitter may spend on Q fragments held for the
/// whole kv loop; above it (e.g. 32 rows per warp at D = 128: 64
/// registers) Q stays in shared memory and its fragments are read per
/// k-step, which leaves room for S and acc without spills.
static constexpr int64_t kMaxQueryFragmentRegisters = 32;

/// Whether `tile` can be copied by cp.async with `threads` threads: every
/// thread copies whole 16-byte chunks, the same number of them.
static bool copiesEvenly(MemRefType tile, int64_t threads) {
  return tile.getDimSize(1) % 8 == 0 &&
         (tile.getDimSize(0) * tile.getDimSize(1) / 8) % threads == 0;
}

FailureOr<Sm80FusedForwardPlan>
attn::planSm80FusedForward(FusedForwardOp step, const TargetInfo &target,
                           int64_t threads, std::string &whyNot) {
  auto queryType = cast<MemRefType>(step.getQuery().getType());
  Type element = queryType.getElementType();
  int64_t warps = threads / 32, blockQ = step.getBlockQ();
  int64_t blockK = step.getBlockK();
  int64_t headDim = step.getHeadDim(), valueDim = step.getValueDim();
  if (!element.isBF16() && !element.isF16()) {
    whyNot = "its inputs are not bf16 or f16";
    return failure();
  }
  int64_t warpRows = blockQ / warps;
  if (blockQ % warps != 0 || !llvm::is_contained({16, 32, 64}, warpRows)) {
    whyNot = "block-q / warps = " + std::to_string(blockQ) + " / " +
             std::to_string(warps) + " is not 16, 32 or 64 query rows per warp";
    return failure();
  }
  if (headDim % 16 != 0 || valueDim % 8 != 0 || blockK % 16 != 0) {
    whyNot = "the head dimensions or block-k do not fit mma.sync m16n8k16";
    return failure();
  }
  // The prune's key layout puts 8 consecutive keys of every 32 in one
  // lane (FusedForward.cpp), and P V reads V rows in 16-key blocks.
  std::optional<int64_t> pruneKeep = step.getNmKeep();
  if (pruneKeep && (blockK % 32 != 0 || valueDim % 16 != 0)) {
    whyNot = "an N:M prune needs block-k a multiple of 32 and a value head "
             "dimension a multiple of 16";
    return failure();
  }
  MemRefType queryTile = MemRefType::get({blockQ, headDim}, element);
  MemRefType keyTile = MemRefType::get({blockK, headDim}, element);
  MemRefType valueTile = MemRefType::get({blockK, valueDim}, element);
  // Each 16x16 A fragment is 4 registers per lane.
  bool queryPrefersShared =
      warpRows / 16 * headDim / 16 * 4 > kMaxQueryFragmentRegisters &&
      copiesEvenly(queryTile, threads);

  // The pipeline: 4 stages, 2 tiles ahead, issued before the wait, when
  // they fit half of the block's shared memory (two blocks of 255-register
  // threads still share an SM; D = 64); otherwise 2 stages, 1 tile ahead,
  // issued after the barrier, when they fit with the Q tile (if Q prefers
  // shared memory). At D = 64 on an H100 the first is 3-9% faster than the
  // second, and faster than 3 stages either way (bench/NOTES.md, v11).
  Sm80FusedForwardPlan plan;
  plan.rowTiles = warpRows / 16;
  if (pruneKeep && isSparseTensorCorePattern(*pruneKeep, *step.getNmGroup())) {
    plan.sparseValueProduct = target.hasSparseMma;
    plan.orderedSparseMetadata = target.orderedSparseMetadata;
    if (!target.hasSparseMma)
      plan.remark = "attn-to-gpu: " + target.chip.str() +
                    " has no sparse tensor cores: the N:M prune's P V runs "
                    "as dense mma on the pruned probabilities";
  }
  if (copiesEvenly(keyTile, threads) && copiesEvenly(valueTile, threads)) {
    int64_t elementBytes = keyTile.getElementTypeBitWidth() / 8;
    auto bytes = [&](int64_t stages) {
      int64_t elements = stages * (paddedType(keyTile).getNumElements() +
                                   paddedType(valueTile).getNumElements());
      if (queryPrefersShared)
        elements += paddedType(queryTile).getNumElements();
      return elements * elementBytes;
    };
    if (bytes(4) <= target.maxSharedMemoryBytes / 2)
      plan.pipeline = {/*stages=*/4, /*ahead=*/2, /*issueBeforeWait=*/true};
    else if (bytes(2) <= target.maxSharedMemoryBytes)
      plan.pipeline = {/*stages=*/2, /*ahead=*/1, /*issueBeforeWait=*/false};
  }
  bool pipelined = plan.pipeline.stages > 0;
  // Q fragments too large for registers need the pipelined shared Q tile.
  if (!pipelined && queryPrefersShared) {
    whyNot = "the Q tile needs shared memory but K and V cannot be "
             "pipelined next to it";
    return failure();
  }
  plan.sharedQuery = pipelined && queryPrefersShared;
  if (plan.sharedQuery)
    plan.sharedMemory.add(paddedType(queryTile));
  plan.sharedMemory.add(paddedType(keyTile, plan.pipeline.stages));
  plan.sharedMemory.add(paddedType(valueTile, plan.pipeline.stages));
  if (plan.sharedMemory.getBytes() > target.maxSharedMemoryBytes) {
    whyNot = "its tiles need " + std::to_string(plan.sharedMemory.getBytes()) +
             " bytes of shared memory";
    return failure();
  }
  return plan;
}

