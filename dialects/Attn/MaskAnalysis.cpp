//===- MaskAnalysis.cpp - MaskOpInterface and the mask walk -----*- C++ -*-===//
//
// The generated MaskOpInterface definitions, the mask plan's band algebra,
// each mask family's contributeToPlan (what it tells attn-plan) and
// attn::visitMaskTree, the one walker over mask trees that the verifier, the
// memory-effects query, the planner and dead-mask cleanup share.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/MaskAnalysis.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <algorithm>

using namespace mlir;
using namespace attn;

#include "attn/Dialect/Attn/AttnInterfaces.cpp.inc"

void MaskPlan::intersectBand(std::optional<int64_t> lower,
                             std::optional<int64_t> upper) {
  // Bounds past kBandLimit exclude nothing more: clamped, they keep the
  // band arithmetic exact.
  if (lower)
    lower = std::clamp(*lower, -kBandLimit, kBandLimit);
  if (upper)
    upper = std::clamp(*upper, -kBandLimit, kBandLimit);
  if (lower)
    bandLower = bandLower ? std::max(*bandLower, *lower) : *lower;
  if (upper)
    bandUpper = bandUpper ? std::min(*bandUpper, *upper) : *upper;
}

LogicalResult
attn::visitMaskTree(Value root,
                    llvm::function_ref<LogicalResult(MaskOpInterface)> fn) {
  auto rootOp = root.getDefiningOp<MaskOpInterface>();
  if (!rootOp)
    return success();

  // One frame per op on the current DFS path: the op and the child masks
  // not explored yet, consumed from the back (right to left).
  struct Frame {
    MaskOpInterface op;
    SmallVector<Value> unexplored;
  };
  llvm::SmallPtrSet<Operation *, 8> visited;
  SmallVector<MaskOpInterface> postOrder;
  SmallVector<Frame> stack;
  visited.insert(rootOp);
  stack.push_back({rootOp, rootOp.getChildMasks()});
  while (!stack.empty()) {
    if (stack.back().unexplored.empty()) {
      postOrder.push_back(stack.back().op);
      stack.pop_back();
      continue;
    }
    Value child = stack.back().unexplored.pop_back_val();
    auto childOp = child.getDefiningOp<MaskOpInterface>();
    if (!childOp || !visited.insert(childOp).second)
      continue;
    stack.push_back({childOp, childOp.getChildMasks()});
  }

  for (MaskOpInterface op : llvm::reverse(postOrder))
    if (failed(fn(op)))
      return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// MaskOpInterface::contributeToPlan
//
// What each mask family tells attn-plan: a band, a predicate, a block mask,
// a token order or an N:M prune (MaskPlan).
//===----------------------------------------------------------------------===//

LogicalResult
MaskCausalOp::contributeToPlan(MaskPlan &plan,
                               llvm::function_ref<InFlightDiagnostic()>) {
  // j <= i + (Nk - Nq): delta <= 0.
  plan.intersectBand(std::nullopt, 0);
  return success();
}

LogicalResult
MaskWindowOp::contributeToPlan(MaskPlan &plan,
                               llvm::function_ref<InFlightDiagnostic()>) {
  // 0 <= (i + Nk - Nq) - j < size: -(size - 1) <= delta <= 0. The verifier
  // guarantees size >= 1, so the negation cannot overflow; intersectBand
  // clamps a window wider than kBandLimit.
  plan.intersectBand(-(getSize() - 1), 0);
  return success();
}

/// Records `order` in `plan`, or fails when a token order is there already
/// (one sort per attention).
static LogicalResult
addTokenOrder(MaskPlan &plan, MaskPlan::TokenOrder order,
              llvm::function_ref<InFlightDiagnostic()> emitError) {
  if (plan.order) {
    InFlightDiagnostic diag =
        emitError() << "an 'and' of two token orders (hash buckets, keep "
                       "flags) is not supported yet; combine them into one "
                       "mask";
    diag.attachNote(plan.order->source->getLoc()) << "the other one";
    return diag;
  }
  plan.order = order;
  return success();
}

LogicalResult MaskHashOp::contributeToPlan(
    MaskPlan &plan, llvm::function_ref<InFlightDiagnostic()> emitError) {
  Value queryBuckets = getQueryBuckets(), keyBuckets = getKeyBuckets();
  int64_t buckets = getBuckets();
  if (buckets > kMaxOrderClasses)
    return emitError() << "hash masks of more than " << kMaxOrderClasses
                       << " buckets are not supported, got " << buckets;
  return addTokenOrder(plan,
                       MaskPlan::TokenOrder{queryBuckets, keyBuckets, buckets,
                                            /*keepFlags=*/false, *this},
                       emitError);
}

LogicalResult MaskDropOp::contributeToPlan(
    MaskPlan &plan, llvm::function_ref<InFlightDiagnostic()> emitError) {
  Value queryKeep = getQueryKeep(), keyKeep = getKeyKeep();
  return addTokenOrder(plan,
                       MaskPlan::TokenOrder{queryKeep, keyKeep, /*classes=*/1,
                                            /*keepFlags=*/true, *this},
                       emitError);
}

LogicalResult
MaskNMOp::contributeToPlan(MaskPlan &plan,
                           llvm::function_ref<InFlightDiagnostic()> emitError) {
  if (plan.prune)
    return emitError() << "two N:M prunes in one mask are not supported";
  plan.prune = MaskPlan::Prune{static_cast<int64_t>(getN()),
                               static_cast<int64_t>(getM())};
  return success();
}

LogicalResult MaskBlockOp::contributeToPlan(
    MaskPlan &plan, llvm::function_ref<InFlightDiagnostic()> emitError) {
  if (plan.blockMask)
    return emitError() << "an 'and' of two block masks is not supported yet "
                          "(combine them into one block mask)";
  plan.blockMask =
      MaskPlan::BlockMask{getBlockMask(), static_cast<int64_t>(getSize())};
  return success();
}

LogicalResult
MaskCustomOp::contributeToPlan(MaskPlan &plan,
                               llvm::function_ref<InFlightDiagnostic()>) {
  // Opaque to the planner: conjoined into the plan's predicate region.
  plan.predicates.push_back(*this);
  return success();
}

LogicalResult
MaskAndOp::contributeToPlan(MaskPlan &,
                            llvm::function_ref<InFlightDiagnostic()>) {
  // A conjunction adds nothing of its own: the walk folds every operand.
  return success();
}
