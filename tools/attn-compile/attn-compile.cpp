//===- attn-compile.cpp - attn IR file to a GPU bundle ----------*- C++ -*-===//
//
// attn-compile INPUT.mlir -o BUNDLE_DIR compiles the attention ops of one
// function with the attn-lower-to-ptx pipeline and writes its bundle
// (BUNDLE_DIR/kernels.ptx and manifest.json, docs/Runtime.md) through the
// bundle writer (lib/Target), which reads the launch facts the pipeline
// recorded in the IR. The options are the pipeline's, by the same names.
// Before the bundle replaces anything it is checked as a user would load
// it: the manifest and the PTX entries through the runtime's loader
// (attn::runtime::Bundle::load, no GPU needed), and the PTX through ptxas
// when ptxas is on the PATH (or in $CUDA_HOME/bin, /usr/local/cuda/bin).
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/InitAll.h"
#include "attn/Passes/Passes.h"
#include "attn/Runtime/Runtime.h"
#include "attn/Target/Bundle.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
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
static llvm::cl::opt<bool> gatherRows(
    "gather-rows",
    llvm::cl::desc("Hash/drop attention: copy Q, K and V into sorted order "
                   "first instead of loading through the orders"),
    llvm::cl::init(defaults.gatherRows.getValue()));
static llvm::cl::opt<int64_t>
    linearBlock("linear-block",
                llvm::cl::desc("Linear attention: tokens per chunk"),
                llvm::cl::init(defaults.linearBlock.getValue()));
static llvm::cl::opt<int64_t> linearSegment(
    "linear-segment",
    llvm::cl::desc("Linear attention: tokens per segment of the two-phase "
                   "scheme (0 = chosen at run time from --linear-units)"),
    llvm::cl::init(defaults.linearSegment.getValue()));
static llvm::cl::opt<int64_t> linearUnits(
    "linear-units",
    llvm::cl::desc("Linear attention: the (batch, head, segment) units to "
                   "aim for when --linear-segment=0"),
    llvm::cl::init(defaults.linearUnits.getValue()));
static llvm::cl::opt<bool>
    mma("mma", llvm::cl::desc("Use tensor cores for Q K^T and P V"),
        llvm::cl::init(defaults.mma.getValue()));

static llvm::cl::opt<bool> checkWithPtxas(
    "ptxas-check",
    llvm::cl::desc("Assemble the PTX with ptxas (when it is found) before "
                   "writing the bundle (default on)"),
    llvm::cl::init(true));

/// The ptxas executable: on the PATH, else under $CUDA_HOME/bin or
/// /usr/local/cuda/bin; empty when there is none.
static std::string findPtxas() {
  if (llvm::ErrorOr<std::string> found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  SmallVector<std::string, 2> folders;
  if (const char *home = std::getenv("CUDA_HOME"))
    folders.push_back((llvm::Twine(home) + "/bin").str());
  folders.push_back("/usr/local/cuda/bin");
  for (const std::string &folder : folders)
    if (llvm::ErrorOr<std::string> found =
            llvm::sys::findProgramByName("ptxas", {folder}))
      return *found;
  return {};
}

/// Checks the bundle written to `directory` as a user would load it: the
/// runtime's loader, then ptxas for the chip (errors in `error`).
static LogicalResult checkBundle(StringRef directory, std::string &error) {
  runtime::Result<std::unique_ptr<runtime::Bundle>> loaded =
      runtime::Bundle::load(directory.str());
  if (!loaded.ok()) {
    error = "the bundle fails the runtime's checks (" +
            loaded.error().message() + "); this is a compiler bug";
    return failure();
  }
  if (!checkWithPtxas)
    return success();
  std::string ptxas = findPtxas();
  if (ptxas.empty())
    return success();
  SmallString<128> ptxPath(directory), log;
  llvm::sys::path::append(ptxPath, "kernels.ptx");
  if (llvm::sys::fs::createTemporaryFile("attn-compile-ptxas", "log", log)) {
    error = "cannot create a temporary file for ptxas's messages";
    return failure();
  }
  std::string arch = "-arch=" + chip.getValue();
  SmallVector<StringRef> command{ptxas, arch, ptxPath, "-o", "/dev/null"};
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(log),
                                          StringRef(log)};
  std::string runError;
  int status = llvm::sys::ExecuteAndWait(ptxas, command, std::nullopt,
                                         redirects, /*SecondsToWait=*/0,
                                         /*MemoryLimit=*/0, &runError);
  std::string messages;
  if (llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
          llvm::MemoryBuffer::getFile(log))
    messages = (*buffer)->getBuffer().trim().str();
  llvm::sys::fs::remove(log);
  if (status != 0) {
    error = "ptxas (" + ptxas + " " + arch + ") rejects the PTX" +
            (runError.empty() ? "" : " (" + runError + ")") +
            (messages.empty() ? "" : ":\n" + messages) +
            "\n(--ptxas-check=false skips this check)";
    return failure();
  }
  return success();
}

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
              return isa<AttentionOp, PlanOp, FusedForwardOp, FloodFillOp,
                         LinearAttentionOp, FusedLinearOp>(op)
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
                                 "attn.attention, attn.linear_attention, "
                                 "attn.plan, attn.fused.forward, "
                                 "attn.fused.linear or attn.flood_fill op")
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
  options.gatherRows = gatherRows;
  options.linearBlock = linearBlock;
  options.linearSegment = linearSegment;
  options.linearUnits = linearUnits;
  buildLowerToPTXPipeline(pm, options);
  if (failed(pm.run(*module)))
    return failure();

  FailureOr<BundleFiles> bundle = buildBundle(*module, name);
  if (failed(bundle))
    return failure();
  if (failed(writeBundleDirectory(*bundle, outputDir, force, error,
                                  checkBundle))) {
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
