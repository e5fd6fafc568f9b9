//===- InitAll.cpp - register every attn dialect and pass -------*- C++ -*-===//

#include "attn/InitAll.h"

#include "attn/Dialect/Attn/AttnDialect.h"
#include "attn/Passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void attn::registerAttnDialects(mlir::DialectRegistry &registry) {
  registry.insert<AttnDialect>();
}

void attn::registerAllDialects(mlir::DialectRegistry &registry) {
  registerAttnDialects(registry);
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary and the JIT translate to LLVM IR.
  mlir::registerAllToLLVMIRTranslations(registry);
}

void attn::registerAttnPassesAndPipelines() {
  registerAttnPasses();
  registerAttnPipelines();
}

void attn::registerAllPasses() {
  registerAttnPassesAndPipelines();
  mlir::registerAllPasses();
}
