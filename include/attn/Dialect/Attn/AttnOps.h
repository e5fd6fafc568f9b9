//===- AttnOps.h - attn dialect operations ----------------------*- C++ -*-===//

#ifndef ATTN_DIALECT_ATTN_ATTNOPS_H
#define ATTN_DIALECT_ATTN_ATTNOPS_H

#include "attn/Dialect/Attn/AttnDialect.h"
#include "attn/Dialect/Attn/TileMask.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "attn/Dialect/Attn/AttnOps.h.inc"

namespace attn {

/// Head dimensions every target supports (multiples of the mma k = 16).
bool isSupportedHeadDim(int64_t headDim);

/// Verifies a predicate region (attn.mask.custom, attn.plan, attn.tile.mask):
/// empty, or one block with two `index` arguments (query index, key index)
/// ending in attn.yield.
mlir::LogicalResult verifyPredicateRegion(mlir::Operation *op,
                                          mlir::Region &predicate);

/// Calls `fn` on every mask op in the tree rooted at `mask`, parents before
/// children. Stops at values not produced by an attn.mask.* op.
void walkMaskTree(mlir::Value mask, llvm::function_ref<void(mlir::Operation *)> fn);

} // namespace attn

#endif // ATTN_DIALECT_ATTN_ATTNOPS_H
