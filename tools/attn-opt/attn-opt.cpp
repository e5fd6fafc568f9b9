//===- attn-opt.cpp - attn optimizer driver ---------------------*- C++ -*-===//
//
// mlir-opt with the attn dialects and passes registered next to the upstream
// ones.
//
//===----------------------------------------------------------------------===//

#include "attn/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  attn::registerAllPasses();
  mlir::DialectRegistry registry;
  attn::registerAllDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "attn optimizer driver\n", registry));
}
