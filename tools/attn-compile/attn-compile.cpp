//===- attn-compile.cpp - attn IR file to a GPU bundle ----------*- C++ -*-===//
//
// attn-compile INPUT.mlir -o BUNDLE_DIR compiles the attention ops of one
// function with the attn-lower-to-ptx pipeline and writes its bundle
// (BUNDLE_DIR/kernels.ptx and manifest.json, docs/Runtime.md) through the
// bundle writer (lib/Target), which reads the launch facts the pipeline
// recorded in the IR. The options are the pipeline's, by the same names.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/InitAll.h"
#include "attn/Passes/Passes.h"
#include "attn/Target/Bundle.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using namespace attn;

static llvm::cl::opt<std::string> inputFile(llvm::cl::Positional,
                                            llvm::cl::desc("<input.mlir>"),
                                            llvm::cl::init("-"));
static llvm::cl::opt<std::string>
    outputDir("o", llvm::cl::desc("Bundle directory to write"),
              llvm::cl::value_desc("directory"), llvm::cl::Required);
static llvm::cl::opt<std::string>
    functionName("function",
                 llvm::cl::desc("Function to compile (default: the only one "
                                "with attention ops)"));
static llvm::cl::opt<bool>
    force("force", llvm::cl::desc("Replace BUNDLE_DIR even when it is not "
                                  "empty and holds no bundle"),
          llvm::cl::init(false));

/// The attn-lower-to-ptx options, spelled as the pipeline spells them.
static PTXPipelineOptions defaults;
static llvm::cl::opt<std::string>
    chip("chip", llvm::cl::desc("Target GPU: sm_80 or sm_90a"),
         llvm::cl::init(defaults.chip.getValue()));
static llvm::cl::opt<int64_t>
    blockQ("block-q", llvm::cl::desc("Query rows per tile"),
           llvm::cl::init(defaults.blockQ.getValue()));
static llvm::cl::opt<int64_t>
    blockK("block-k", llvm::cl::desc("Key rows per tile (0 = by head dim)"),
           llvm::cl::init(defaults.blockK.getValue()));
static llvm::cl::opt<int64_t>
    threads("block-threads", llvm::cl::desc("Threads per block"),
            llvm::cl::init(defaults.threads.getValue()));
static llvm::cl::opt<bool>
    mma("mma", llvm::cl::desc("Use tensor cores for Q K^T and P V"),
        llvm::cl::init(defaults.mma.getValue()));

static LogicalResult compile(MLIRContext &context) {
  llvm::SourceMgr sourceMgr;
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input = openInputFile(inputFile, &error);
  if (!input) {
    llvm::errs() << "attn-compile: " << error << "\n";
    return failure();
  }
  sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return failure();

  // Pick the function and lower it alone.
  func::FuncOp func;
  for (auto candidate : module->getOps<func::FuncOp>()) {
    // Attention at any level the pipeline takes (L0, L1 or L2), or a
    // preprocessing op that compiles on its own (SPION's derivation).
    bool hasAttention =
        candidate
            .walk([](Operation *op) {
              return isa<AttentionOp, PlanOp, FusedForwardOp, FloodFillOp>(
                         op)
                         ? WalkResult::interrupt()
                         : WalkResult::advance();
            })
            .wasInterrupted();
    if (!functionName.empty() ? candidate.getName() == functionName
                              : hasAttention) {
      if (func)
        return mlir::emitError(module->getLoc())
               << "attn-compile: several functions hold attention ops; pick "
                  "one with --function";
      func = candidate;
    }
  }
  if (!func)
    return mlir::emitError(module->getLoc())
           << (functionName.empty()
                   ? std::string("attn-compile: no function holds an "
                                 "attn.attention, attn.plan, "
                                 "attn.fused.forward or attn.flood_fill op")
                   : "attn-compile: no function named '" + functionName + "'");
  std::string name = func.getName().str();
  for (auto other : llvm::make_early_inc_range(module->getOps<func::FuncOp>()))
    if (other != func && !other.isDeclaration())
      other.erase();

  PassManager pm(&context);
  PTXPipelineOptions options;
  options.chip = chip;
  options.blockQ = blockQ;
  options.blockK = blockK;
  options.threads = threads;
  options.mma = mma;
  buildLowerToPTXPipeline(pm, options);
  if (failed(pm.run(*module)))
    return failure();

  FailureOr<BundleFiles> bundle = buildBundle(*module, name);
  if (failed(bundle))
    return failure();
  if (failed(writeBundleDirectory(*bundle, outputDir, force, error))) {
    llvm::errs() << "attn-compile: " << error << "\n";
    return failure();
  }
  return success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  attn::registerAllPasses();
  llvm::cl::ParseCommandLineOptions(
      argc, argv, "attn-compile: attn IR file -> GPU bundle (PTX + manifest)\n");
  DialectRegistry registry;
  attn::registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Diagnostics point at the source; dumping whole ops would bury them.
  context.printOpOnDiagnostic(false);
  return failed(compile(context)) ? 1 : 0;
}
