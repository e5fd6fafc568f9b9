//===- MaskAnalysis.cpp - MaskOpInterface and the mask walk -----*- C++ -*-===//
//
// The generated MaskOpInterface definitions, the mask plan's band algebra and
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
