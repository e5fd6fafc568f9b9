//===- AttnInterfaces.h - attn dialect interfaces ---------------*- C++ -*-===//
//
// The op interfaces of the attn dialect (AttnInterfaces.td). The types their
// methods take (ProblemExtents, MaskPlan) are defined in MaskAnalysis.h.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_ATTNINTERFACES_H
#define ATTN_DIALECT_ATTN_ATTNINTERFACES_H

#include "attn/Dialect/Attn/AttnDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpDefinition.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"

namespace attn {
struct ProblemExtents;
struct MaskPlan;
} // namespace attn

#include "attn/Dialect/Attn/AttnInterfaces.h.inc"

#endif // ATTN_DIALECT_ATTN_ATTNINTERFACES_H
