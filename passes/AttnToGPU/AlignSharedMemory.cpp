//===- AlignSharedMemory.cpp - align workgroup buffers ----------*- C++ -*-===//
//
// attn-align-shared-memory: sets `llvm.align` on every workgroup
// attribution of the outlined kernels. gpu.launch has no way to carry an
// alignment, and the GPU-to-NVVM lowering otherwise aligns each buffer only
// to its element type, while the kernels attn-to-gpu writes use 16-byte
// cp.async copies and 4-byte vector accesses into these buffers.
//
//===----------------------------------------------------------------------===//

#include "attn/Passes/Passes.h"

#include "llvm/Support/MathExtras.h"

namespace attn {
#define GEN_PASS_DEF_ATTNALIGNSHAREDMEMORY
#include "attn/Passes/Passes.h.inc"
} // namespace attn

using namespace mlir;

namespace {
struct AttnAlignSharedMemoryPass
    : public attn::impl::AttnAlignSharedMemoryBase<AttnAlignSharedMemoryPass> {
  using Base::Base;

  void runOnOperation() override {
    if (alignment < 1 || !llvm::isPowerOf2_64(alignment)) {
      getOperation().emitError()
          << "attn-align-shared-memory: alignment = " << alignment.getValue()
          << " must be a power of two";
      return signalPassFailure();
    }
    Builder builder(&getContext());
    getOperation().walk([&](gpu::GPUFuncOp func) {
      for (unsigned i = 0, e = func.getNumWorkgroupAttributions(); i < e; ++i)
        func.setWorkgroupAttributionAttr(
            i, LLVM::LLVMDialect::getAlignAttrName(),
            builder.getI64IntegerAttr(alignment));
    });
  }
};
} // namespace
