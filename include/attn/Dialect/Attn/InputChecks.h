//===- InputChecks.h - steps that run only on valid inputs ------*- C++ -*-===//
//
// Bad input that only the data shows (bucket ids out of range, invalid
// decay rates) is counted by a kernel into one-word i32 scratch buffers;
// the step that would write outputs runs under one branch on "every count
// is 0", so bad input leaves the outputs untouched. attn.fused.forward's
// `unless_invalid` (FusedForwardOp::enterIfInputsValid) and linear
// attention's output kernel (attn-to-gpu) build that branch here.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_INPUTCHECKS_H
#define ATTN_DIALECT_ATTN_INPUTCHECKS_H

#include "mlir/IR/Builders.h"

namespace attn {

/// Builds "every count in `counts` (memref<1xi32> values) is 0" and an
/// scf.if on it at the insertion point of `b`, and moves `b` into its
/// then-block. Does nothing for no counts.
void enterIfCountsZero(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::ValueRange counts);

} // namespace attn

#endif // ATTN_DIALECT_ATTN_INPUTCHECKS_H
