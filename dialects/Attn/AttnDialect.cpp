//===- AttnDialect.cpp - attn dialect ---------------------------*- C++ -*-===//

#include "attn/Dialect/Attn/AttnDialect.h"
#include "attn/Dialect/Attn/AttnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace attn;

#include "attn/Dialect/Attn/AttnOpsDialect.cpp.inc"
#include "attn/Dialect/Attn/AttnOpsEnums.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "attn/Dialect/Attn/AttnOpsTypes.cpp.inc"

void AttnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "attn/Dialect/Attn/AttnOps.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "attn/Dialect/Attn/AttnOpsTypes.cpp.inc"
      >();
}
