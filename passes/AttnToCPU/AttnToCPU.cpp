//===- AttnToCPU.cpp - attn.tile ops to loops -------------------*- C++ -*-===//
// Placeholder: being written.

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Passes/Passes.h"

namespace attn {
#define GEN_PASS_DEF_ATTNTOCPU
#include "attn/Passes/Passes.h.inc"
} // namespace attn

using namespace mlir;

void attn::populateAttnToCPUPatterns(RewritePatternSet &patterns) {}

namespace {
struct AttnToCPUPass : public attn::impl::AttnToCPUBase<AttnToCPUPass> {
  void runOnOperation() override { signalPassFailure(); }
};
} // namespace
