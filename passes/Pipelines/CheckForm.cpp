//===- CheckForm.cpp - check that IR is in a promised form ------*- C++ -*-===//
//
// attn-check-form: the last pass of each named pipeline. It walks the module
// and reports every op outside the promised form with a located error.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace attn {
#define GEN_PASS_DEF_ATTNCHECKFORM
#include "attn/Passes/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

namespace {
struct AttnCheckFormPass
    : public attn::impl::AttnCheckFormBase<AttnCheckFormPass> {
  using Base::Base;

  void runOnOperation() override {
    std::function<bool(Operation *)> allowed;
    if (form == "llvm") {
      allowed = [](Operation *op) {
        return isa<ModuleOp>(op) || isa<LLVM::LLVMDialect>(op->getDialect());
      };
    } else if (form == "ptx") {
      allowed = [](Operation *op) {
        return isa<ModuleOp, gpu::BinaryOp, gpu::LaunchFuncOp>(op) ||
               isa<LLVM::LLVMDialect>(op->getDialect());
      };
    } else if (form == "tile") {
      allowed = [](Operation *op) {
        if (!isa_and_nonnull<AttnDialect>(op->getDialect()))
          return true;
        return op->getName().getStringRef().starts_with("attn.tile.") ||
               isa<YieldOp>(op);
      };
    } else {
      getOperation().emitError()
          << "attn-check-form: unknown form '" << form
          << "' (expected llvm, ptx or tile)";
      return signalPassFailure();
    }
    bool failedCheck = false;
    getOperation().walk([&](Operation *op) {
      if (op == getOperation().getOperation() || allowed(op))
        return;
      op->emitError() << "op '" << op->getName()
                      << "' is not in the promised '" << form
                      << "' form after the pipeline";
      failedCheck = true;
    });
    if (failedCheck)
      signalPassFailure();
  }
};
} // namespace
