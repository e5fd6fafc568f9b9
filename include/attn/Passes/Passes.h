//===- Passes.h - attn passes -----------------------------------*- C++ -*-===//

#ifndef ATTN_PASSES_PASSES_H
#define ATTN_PASSES_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
} // namespace mlir

namespace attn {

#define GEN_PASS_DECL
#include "attn/Passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "attn/Passes/Passes.h.inc"

/// Adds the patterns that lower attn.tile.* ops to scf/arith/math/memref
/// loops (attn-to-cpu).
void populateAttnToCPUPatterns(mlir::RewritePatternSet &patterns);

/// Options of the named pipelines.
struct LoweringPipelineOptions
    : public mlir::PassPipelineOptions<LoweringPipelineOptions> {
  Option<int64_t> blockQ{*this, "block-q",
                         llvm::cl::desc("Query rows per tile"),
                         llvm::cl::init(64)};
  Option<int64_t> blockK{*this, "block-k", llvm::cl::desc("Key rows per tile"),
                         llvm::cl::init(64)};
};

/// attn-lower-to-cpu: attn-plan, attn-tile, attn-to-cpu, then the upstream
/// conversions to the LLVM dialect, ending with attn-check-form{form=llvm}.
void buildLowerToCPUPipeline(mlir::OpPassManager &pm,
                             const LoweringPipelineOptions &options);

/// Registers the named pipelines.
void registerAttnPipelines();

} // namespace attn

#endif // ATTN_PASSES_PASSES_H
