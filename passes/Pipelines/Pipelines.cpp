//===- Pipelines.cpp - attn named pipelines ---------------------*- C++ -*-===//

#include "attn/Passes/Passes.h"
#include "attn/Target/TargetInfo.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

/// The upstream passes that take the CPU lowering of L2 (scf.forall, scf,
/// arith, math, memref, func) to the LLVM dialect. bf16 conversions are
/// expanded to integer arithmetic so that the JIT needs no runtime helpers.
/// scf.for and scf.forall are allocation scopes, so canonicalization drops
/// the memref.alloca_scope attn-to-cpu puts around each q-tile body, and
/// convert-scf-to-cf does not release the stack per iteration: hoisting the
/// tile allocas to the function entry keeps the stack constant.
static constexpr llvm::StringLiteral kCPUToLLVM =
    "scf-forall-to-for,canonicalize,func.func(buffer-loop-hoisting),cse,"
    "arith-expand{include-bf16=true},"
    "expand-strided-metadata,lower-affine,convert-scf-to-cf,convert-to-llvm,"
    "reconcile-unrealized-casts";

/// attn-tile's options from a pipeline's (both pipelines name them alike).
template <typename PipelineOptions>
static attn::AttnTileOptions tileOptionsOf(const PipelineOptions &options) {
  attn::AttnTileOptions tile;
  tile.blockQ = options.blockQ.getValue();
  tile.blockK = options.blockK.getValue();
  tile.gatherRows = options.gatherRows.getValue();
  tile.linearBlock = options.linearBlock.getValue();
  tile.linearSegment = options.linearSegment.getValue();
  tile.linearUnits = options.linearUnits.getValue();
  return tile;
}

void attn::buildLowerToCPUPipeline(OpPassManager &pm,
                                   const LoweringPipelineOptions &options) {
  pm.addPass(createAttnPlan());
  pm.addPass(createAttnTile(tileOptionsOf(options)));
  pm.addPass(createAttnToCPU());
  std::string errors;
  llvm::raw_string_ostream errorStream(errors);
  if (failed(parsePassPipeline(kCPUToLLVM, pm, errorStream)))
    llvm::report_fatal_error(
        llvm::Twine("attn-lower-to-cpu: upstream passes are not registered: ") +
        errors);
  pm.addPass(createAttnCheckForm(AttnCheckFormOptions{"llvm"}));
}

/// Makes the NVPTX backend address shared memory with 32-bit registers
/// (LLVM's `nvptx-short-ptr`), unless the process set that option itself.
/// Shared-memory addresses are below 2^32, and 64-bit ones cost the fused
/// kernels two registers and two instructions per address: with a few
/// dozen fragment addresses live in the kv loop, that is the difference
/// between spilling and not. The option is process-wide and read when the
/// NVPTX target machine is created, so it is set before any pipeline that
/// creates one runs.
static void useShortSharedPointers() {
  llvm::DenseMap<llvm::StringRef, llvm::cl::Option *> &options =
      llvm::cl::getRegisteredOptions();
  auto it = options.find("nvptx-short-ptr");
  if (it == options.end() || it->second->getNumOccurrences() > 0)
    return;
  // An unregistered or user-set option leaves the 64-bit default.
  (void)it->second->addOccurrence(/*pos=*/0, "nvptx-short-ptr", "true");
}

void attn::buildLowerToPTXPipeline(OpPassManager &pm,
                                   const PTXPipelineOptions &options) {
  useShortSharedPointers();
  pm.addPass(createAttnPlan());
  pm.addPass(createAttnTile(tileOptionsOf(options)));
  pm.addPass(createAttnToGPU(AttnToGPUOptions{options.chip.getValue(),
                                              options.threads.getValue(),
                                              options.mma.getValue()}));
  // Outline first, with no canonicalization before it: canonicalization
  // would hoist the constants attn-to-gpu rematerialized inside the launch
  // back out of it, and the upstream pipeline converts nvgpu ops (cp.async)
  // before its own outlining, materializing memref descriptor casts outside
  // the launch. Either would add kernel parameters beyond the memrefs.
  // sm_90a needs PTX ISA 8.0, and LLVM's default PTX version is too old for
  // sm_80 as well. The tiles live in dynamic shared memory, whose base the
  // NVVM lowering aligns to 16 bytes.
  // An unknown chip is diagnosed by attn-to-gpu, before the NVVM pipeline
  // would need its features.
  std::optional<TargetInfo> target = TargetInfo::lookup(options.chip);
  std::string upstream =
      "gpu-kernel-outlining,"
      "gpu-lower-to-nvvm-pipeline{cubin-chip=" +
      options.chip.getValue() + " cubin-features=" +
      (target ? target->ptxFeatures : llvm::StringRef("+ptx80")).str() +
      " cubin-format=isa}";
  std::string errors;
  llvm::raw_string_ostream errorStream(errors);
  if (failed(parsePassPipeline(upstream, pm, errorStream)))
    llvm::report_fatal_error(
        llvm::Twine("attn-lower-to-ptx: upstream passes are not registered: ") +
        errors);
  pm.addPass(createAttnCheckForm(AttnCheckFormOptions{"ptx"}));
}

void attn::registerAttnPipelines() {
  PassPipelineRegistration<LoweringPipelineOptions>(
      "attn-lower-to-cpu",
      "Lower attn ops to the LLVM dialect for CPU execution (attn-plan, "
      "attn-tile, attn-to-cpu, upstream conversions, form check)",
      buildLowerToCPUPipeline);
  PassPipelineRegistration<PTXPipelineOptions>(
      "attn-lower-to-ptx",
      "Lower attn ops to PTX (attn-plan, attn-tile, attn-to-gpu, upstream "
      "gpu-lower-to-nvvm-pipeline with format=isa, form check)",
      buildLowerToPTXPipeline);
}
