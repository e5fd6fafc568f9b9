//===- AttnTile.cpp - FlashAttention tiling ---------------------*- C++ -*-===//
// Placeholder: being written.

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Passes/Passes.h"

namespace attn {
#define GEN_PASS_DEF_ATTNTILE
#include "attn/Passes/Passes.h.inc"
} // namespace attn

namespace {
struct AttnTilePass : public attn::impl::AttnTileBase<AttnTilePass> {
  using Base::Base;
  void runOnOperation() override { signalPassFailure(); }
};
} // namespace
