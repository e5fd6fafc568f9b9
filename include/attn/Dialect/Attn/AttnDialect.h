//===- AttnDialect.h - attn dialect -----------------------------*- C++ -*-===//
//
// The attn dialect, its types and enums.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_ATTNDIALECT_H
#define ATTN_DIALECT_ATTN_ATTNDIALECT_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

#include "attn/Dialect/Attn/AttnOpsDialect.h.inc"
#include "attn/Dialect/Attn/AttnOpsEnums.h.inc"

#define GET_TYPEDEF_CLASSES
#include "attn/Dialect/Attn/AttnOpsTypes.h.inc"

#endif // ATTN_DIALECT_ATTN_ATTNDIALECT_H
