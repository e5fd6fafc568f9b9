//===- Passes.h - attn passes -----------------------------------*- C++ -*-===//

#ifndef ATTN_PASSES_PASSES_H
#define ATTN_PASSES_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
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
  Option<bool> gatherRows{
      *this, "gather-rows",
      llvm::cl::desc("Over sorted tokens: copy Q, K and V into sorted order "
                     "first instead of loading through the orders"),
      llvm::cl::init(false)};
  Option<int64_t> linearBlock{
      *this, "linear-block",
      llvm::cl::desc("Linear attention: tokens per chunk"), llvm::cl::init(64)};
  Option<int64_t> linearSegment{
      *this, "linear-segment",
      llvm::cl::desc("Linear attention: tokens per segment of the "
                     "two-phase scheme (0 = chosen at run time)"),
      llvm::cl::init(0)};
  Option<int64_t> linearUnits{
      *this, "linear-units",
      llvm::cl::desc("Linear attention: the (batch, head, segment) units "
                     "to aim for when linear-segment = 0"),
      llvm::cl::init(128)};
};

/// attn-lower-to-cpu: attn-plan, attn-tile, attn-to-cpu, then the upstream
/// conversions to the LLVM dialect, ending with attn-check-form{form=llvm}.
void buildLowerToCPUPipeline(mlir::OpPassManager &pm,
                             const LoweringPipelineOptions &options);

/// Options of attn-lower-to-ptx.
struct PTXPipelineOptions
    : public mlir::PassPipelineOptions<PTXPipelineOptions> {
  /// 128 query rows = two 16-row tiles for each of the 4 warps of 128
  /// threads: every K/V fragment read from shared memory feeds two mma
  /// (FlashAttention-2's shape; measured in bench/NOTES.md, v10).
  Option<int64_t> blockQ{*this, "block-q",
                         llvm::cl::desc("Query rows per tile"),
                         llvm::cl::init(128)};
  Option<int64_t> blockK{
      *this, "block-k",
      llvm::cl::desc("Key rows per tile (0 = by head dim)"),
      llvm::cl::init(0)};
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("Target GPU: sm_80 or sm_90a"),
                           llvm::cl::init("sm_80")};
  Option<int64_t> threads{*this, "block-threads",
                          llvm::cl::desc("Threads per block"),
                          llvm::cl::init(128)};
  Option<bool> mma{*this, "mma",
                   llvm::cl::desc("Use tensor cores for Q K^T and P V"),
                   llvm::cl::init(true)};
  Option<bool> gatherRows{
      *this, "gather-rows",
      llvm::cl::desc("Over sorted tokens: copy Q, K and V into sorted order "
                     "first instead of loading through the orders"),
      llvm::cl::init(false)};
  Option<int64_t> linearBlock{
      *this, "linear-block",
      llvm::cl::desc("Linear attention: tokens per chunk"), llvm::cl::init(64)};
  Option<int64_t> linearSegment{
      *this, "linear-segment",
      llvm::cl::desc("Linear attention: tokens per segment of the "
                     "two-phase scheme (0 = chosen at run time)"),
      llvm::cl::init(0)};
  Option<int64_t> linearUnits{
      *this, "linear-units",
      llvm::cl::desc("Linear attention: the (batch, head, segment) units "
                     "to aim for when linear-segment = 0"),
      llvm::cl::init(128)};
};

/// attn-lower-to-ptx: attn-plan, attn-tile, attn-to-gpu, then upstream
/// gpu-lower-to-nvvm-pipeline with PTX output (format=isa), ending with
/// attn-check-form{form=ptx}.
void buildLowerToPTXPipeline(mlir::OpPassManager &pm,
                             const PTXPipelineOptions &options);

/// Registers the named pipelines.
void registerAttnPipelines();

} // namespace attn

#endif // ATTN_PASSES_PASSES_H
