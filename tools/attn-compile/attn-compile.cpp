//===- attn-compile.cpp - attn IR file to a GPU bundle ----------*- C++ -*-===//
//
// attn-compile INPUT.mlir -o BUNDLE_DIR compiles the attention ops of one
// function to PTX with the attn-lower-to-ptx pipeline and writes a bundle:
//
//   BUNDLE_DIR/kernels.ptx     the PTX of every kernel
//   BUNDLE_DIR/manifest.json   bundle format v1 (docs/Runtime.md): the
//                              function's arguments with dtypes and symbolic
//                              shapes, and one launch per attention op with
//                              its grid as a function of B/H/N.
//
// The argument description comes from the L0 attention op (which operand is
// Q, K, V, O or LSE names the dimensions); the kernel names and parameter
// order come from the lowered IR. The bundle is written to a temporary
// directory and renamed into place, so a failure never leaves a partial
// bundle behind.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/InitAll.h"
#include "attn/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

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
static llvm::cl::opt<std::string>
    chip("target-chip", llvm::cl::desc("Target GPU: sm_80 or sm_90a"),
         llvm::cl::init("sm_80"));
static llvm::cl::opt<int64_t> blockQ("tile-q",
                                     llvm::cl::desc("Query rows per tile"),
                                     llvm::cl::init(128));
static llvm::cl::opt<int64_t>
    blockK("tile-k", llvm::cl::desc("Key rows per tile (0 = by head dim)"),
           llvm::cl::init(0));
static llvm::cl::opt<bool>
    tensorCores("tensor-cores",
                llvm::cl::desc("Use mma.sync for Q K^T and P V (default on)"),
                llvm::cl::init(true));
static llvm::cl::opt<int64_t> threads("block-threads",
                                      llvm::cl::desc("Threads per block"),
                                      llvm::cl::init(128));

namespace {
/// What the manifest says of one function argument.
struct ArgumentInfo {
  std::string name;
  std::string dtype;
  SmallVector<std::string> shape; // symbol or decimal integer per dimension
};

/// One kernel launch of the bundle.
struct LaunchInfo {
  std::string kernel;
  SmallVector<std::string> grid;
  SmallVector<std::string> args;
  uint64_t sharedBytes = 0; ///< Dynamic shared memory of one block.
};
} // namespace

static std::string dtypeName(Type type) {
  if (type.isF16())
    return "f16";
  if (type.isBF16())
    return "bf16";
  if (type.isF32())
    return "f32";
  if (type.isInteger(32))
    return "i32";
  if (type.isInteger(8))
    return "i8";
  if (type.isInteger(1))
    return "i1";
  return "";
}

/// Describes `value`'s dimensions: static extents as numbers, dynamic ones by
/// the symbol of `symbols` at the same position.
static SmallVector<std::string> describeShape(Value value,
                                              ArrayRef<StringRef> symbols) {
  SmallVector<std::string> shape;
  for (auto [extent, symbol] :
       llvm::zip(cast<MemRefType>(value.getType()).getShape(), symbols))
    shape.push_back(ShapedType::isDynamic(extent) ? symbol.str()
                                                  : std::to_string(extent));
  return shape;
}

/// Fills the description of the function arguments `op` uses and returns the
/// symbolic grid of its kernel: (ceil(Nq / block-q), Hq, B).
static FailureOr<SmallVector<std::string>>
describeAttention(AttentionOp op, func::FuncOp func,
                  SmallVectorImpl<std::optional<ArgumentInfo>> &arguments) {
  struct Role {
    Value value;
    StringRef name;
    SmallVector<StringRef> symbols;
  };
  SmallVector<Role> roles = {
      {op.getQuery(), "q", {"B", "Hq", "Nq", "D"}},
      {op.getKey(), "k", {"B", "Hk", "Nk", "D"}},
      {op.getValue(), "v", {"B", "Hk", "Nk", "Dv"}},
      {op.getOutput(), "o", {"B", "Hq", "Nq", "Dv"}}};
  if (op.getLse())
    roles.push_back({op.getLse(), "lse", {"B", "Hq", "Nq"}});
  for (Role &role : roles) {
    auto arg = dyn_cast<BlockArgument>(role.value);
    if (!arg || arg.getOwner() != &func.getBody().front())
      return op.emitOpError() << "attn-compile: operand '" << role.name
                              << "' must be an argument of the function";
    std::optional<ArgumentInfo> &info = arguments[arg.getArgNumber()];
    if (info && info->name != role.name)
      return op.emitOpError()
             << "attn-compile: function argument #" << arg.getArgNumber()
             << " is used both as '" << info->name << "' and as '"
             << role.name << "'; pass separate buffers";
    ArgumentInfo described;
    described.name = role.name.str();
    described.dtype =
        dtypeName(cast<MemRefType>(role.value.getType()).getElementType());
    described.shape = describeShape(role.value, role.symbols);
    info = described;
  }
  SmallVector<std::string> queryShape =
      describeShape(op.getQuery(), {"B", "Hq", "Nq", "D"});
  return SmallVector<std::string>{
      "ceildiv(" + queryShape[2] + ", " + std::to_string(blockQ) + ")",
      queryShape[1], queryShape[0]};
}

/// Maps each LLVM argument of the lowered function back to the index of the
/// original memref argument it came from (memref descriptors expand to
/// 3 + 2 * rank scalars).
static SmallVector<unsigned> expandedArgumentOwners(ArrayRef<Type> original) {
  SmallVector<unsigned> owners;
  for (auto [index, type] : llvm::enumerate(original)) {
    int64_t count = 1;
    if (auto memref = dyn_cast<MemRefType>(type))
      count = 3 + 2 * memref.getRank();
    owners.append(count, index);
  }
  return owners;
}

/// Writes `contents` to `path`; reports failure with the path.
static LogicalResult writeFile(StringRef path, StringRef contents) {
  std::string error;
  std::unique_ptr<llvm::ToolOutputFile> file =
      openOutputFile(path, &error);
  if (!file) {
    llvm::errs() << "attn-compile: cannot write " << path << ": " << error
                 << "\n";
    return failure();
  }
  file->os() << contents;
  file->keep();
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

  // Pick the function.
  func::FuncOp func;
  for (auto candidate : module->getOps<func::FuncOp>()) {
    bool hasAttention = !candidate.getOps<AttentionOp>().empty();
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
                                 "attn.attention op")
                   : "attn-compile: no function named '" + functionName + "'");

  // Describe the arguments and launches from the L0 ops.
  SmallVector<std::optional<ArgumentInfo>> arguments(func.getNumArguments());
  SmallVector<SmallVector<std::string>> grids;
  for (AttentionOp op : func.getOps<AttentionOp>()) {
    FailureOr<SmallVector<std::string>> grid =
        describeAttention(op, func, arguments);
    if (failed(grid))
      return failure();
    grids.push_back(*grid);
  }
  SmallVector<Type> originalTypes(func.getArgumentTypes());
  std::string name = func.getName().str();
  Location funcLoc = func.getLoc();

  // Lower the chosen function only.
  for (auto other :
       llvm::make_early_inc_range(module->getOps<func::FuncOp>()))
    if (other != func)
      other.erase();

  // Lower to PTX.
  PassManager pm(&context);
  PTXPipelineOptions options;
  options.chip = chip;
  options.blockQ = blockQ;
  options.blockK = blockK;
  options.threads = threads;
  options.mma = tensorCores;
  buildLowerToPTXPipeline(pm, options);
  if (failed(pm.run(*module)))
    return failure();
  // Checked after lowering, so that a structure the compiler cannot lower
  // yet is reported as such first.
  for (auto [index, info] : llvm::enumerate(arguments))
    if (!info)
      return mlir::emitError(funcLoc)
             << "attn-compile: argument #" << index
             << " is not an operand of an attention op; the bundle cannot "
                "describe it";

  // Collect the PTX and the launches, in program order.
  std::string ptx;
  for (auto binary : module->getOps<gpu::BinaryOp>())
    for (Attribute object : binary.getObjects())
      ptx += cast<gpu::ObjectAttr>(object).getObject().getValue().str();
  auto lowered = module->lookupSymbol<LLVM::LLVMFuncOp>(name);
  if (ptx.empty() || !lowered)
    return module->emitError() << "attn-compile: the pipeline produced no "
                                  "PTX for '"
                               << name << "'";
  SmallVector<unsigned> owners = expandedArgumentOwners(originalTypes);
  SmallVector<LaunchInfo> launches;
  WalkResult walk = lowered.walk([&](gpu::LaunchFuncOp launch) {
    LaunchInfo info;
    info.kernel = launch.getKernelName().getValue().str();
    for (Value operand : launch.getKernelOperands()) {
      auto arg = dyn_cast<BlockArgument>(operand);
      if (!arg || arg.getOwner() != &lowered.getBody().front()) {
        launch.emitError() << "attn-compile: kernel '" << info.kernel
                           << "' takes a value that is not a function "
                              "argument";
        return WalkResult::interrupt();
      }
      const std::string &owner = arguments[owners[arg.getArgNumber()]]->name;
      if (info.args.empty() || info.args.back() != owner)
        info.args.push_back(owner);
    }
    if (launches.size() >= grids.size()) {
      launch.emitError() << "attn-compile: more kernels than attention ops";
      return WalkResult::interrupt();
    }
    if (Value bytes = launch.getDynamicSharedMemorySize()) {
      APInt value;
      if (!matchPattern(bytes, m_ConstantInt(&value))) {
        launch.emitError() << "attn-compile: kernel '" << info.kernel
                           << "' has a dynamic shared memory size that is "
                              "not a constant";
        return WalkResult::interrupt();
      }
      info.sharedBytes = value.getZExtValue();
    }
    info.grid = grids[launches.size()];
    launches.push_back(std::move(info));
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();

  // Write the manifest.
  std::string manifest;
  llvm::raw_string_ostream os(manifest);
  llvm::json::OStream json(os, /*IndentSize=*/2);
  json.object([&] {
    json.attribute("format", "attn-bundle");
    json.attribute("version", 1);
    json.attribute("name", name);
    json.attribute("target", chip.getValue());
    json.attribute("ptx", "kernels.ptx");
    json.attributeArray("arguments", [&] {
      for (const std::optional<ArgumentInfo> &arg : arguments)
        json.object([&] {
          json.attribute("name", arg->name);
          json.attribute("dtype", arg->dtype);
          json.attributeArray("shape", [&] {
            for (const std::string &extent : arg->shape) {
              if (!extent.empty() && llvm::all_of(extent, llvm::isDigit))
                json.value(std::stoll(extent));
              else
                json.value(extent);
            }
          });
        });
    });
    json.attributeArray("constraints", [&] { json.value("Hq % Hk == 0"); });
    json.attributeArray("launches", [&] {
      for (const LaunchInfo &launch : launches)
        json.object([&] {
          json.attribute("kernel", launch.kernel);
          json.attributeArray("grid", [&] {
            for (const std::string &extent : launch.grid)
              json.value(extent);
          });
          json.attributeArray("block", [&] {
            json.value(threads.getValue());
            json.value(1);
            json.value(1);
          });
          json.attribute("shared_bytes", launch.sharedBytes);
          json.attributeArray("args", [&] {
            for (const std::string &arg : launch.args)
              json.value(arg);
          });
          json.attribute("abi", "memref");
        });
    });
  });
  os << "\n";

  // Write into a temporary directory, then move it into place.
  SmallString<128> staging(outputDir);
  staging += ".partial";
  llvm::sys::fs::remove_directories(staging);
  if (std::error_code ec = llvm::sys::fs::create_directories(staging)) {
    llvm::errs() << "attn-compile: cannot create " << staging << ": "
                 << ec.message() << "\n";
    return failure();
  }
  SmallString<128> ptxPath(staging), manifestPath(staging);
  llvm::sys::path::append(ptxPath, "kernels.ptx");
  llvm::sys::path::append(manifestPath, "manifest.json");
  if (failed(writeFile(ptxPath, ptx)) ||
      failed(writeFile(manifestPath, manifest))) {
    llvm::sys::fs::remove_directories(staging);
    return failure();
  }
  llvm::sys::fs::remove_directories(outputDir);
  if (std::error_code ec = llvm::sys::fs::rename(staging, outputDir)) {
    llvm::errs() << "attn-compile: cannot move the bundle to " << outputDir
                 << ": " << ec.message() << "\n";
    llvm::sys::fs::remove_directories(staging);
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
