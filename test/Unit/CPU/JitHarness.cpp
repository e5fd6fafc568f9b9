//===- JitHarness.cpp - compile and run attn kernels on the CPU -*- C++ -*-===//

#include "JitHarness.h"

#include "attn/InitAll.h"
#include "attn/Passes/Passes.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <array>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <sstream>

using namespace attn;
using namespace attn::cputest;

//===----------------------------------------------------------------------===//
// Problem description
//===----------------------------------------------------------------------===//

static const char *dtypeName(DType dtype) {
  return dtype == DType::F32 ? "f32" : "bf16";
}

static std::string maskName(const Problem &p) {
  switch (p.mask) {
  case MaskKind::None:
    return "nomask";
  case MaskKind::Causal:
    return "causal";
  case MaskKind::Window:
    return "window" + std::to_string(p.window);
  case MaskKind::PrefixLM:
    return "prefixlm" + std::to_string(p.prefix);
  case MaskKind::EvenKeys:
    return "evenkeys";
  case MaskKind::OddQueries:
    return "oddqueries";
  case MaskKind::CausalEvenKeys:
    return "causal_and_evenkeys";
  case MaskKind::WindowPrefixLM:
    return "window" + std::to_string(p.window) + "_and_prefixlm" +
           std::to_string(p.prefix);
  case MaskKind::RowLimit:
    return "causal_and_rowlimit";
  }
  return "unknown";
}

std::string cputest::problemName(const Problem &p) {
  std::ostringstream os;
  os << dtypeName(p.dtype) << "_d" << p.headDim << "_b" << p.batch << "_hq"
     << p.queryHeads << "_hk" << p.kvHeads << "_nq" << p.queryLen << "_nk"
     << p.keyLen << "_" << maskName(p) << (p.withLse ? "_lse" : "_nolse")
     << "_bq" << p.blockQ << "_bk" << p.blockK;
  return os.str();
}

/// The body of a custom predicate over (%i, %j) yielding %ok.
static std::string predicateBody(MaskKind kind, int64_t prefix) {
  std::ostringstream os;
  switch (kind) {
  case MaskKind::PrefixLM:
  case MaskKind::WindowPrefixLM:
    os << "    %p = arith.constant " << prefix << " : index\n"
       << "    %in_prefix = arith.cmpi ult, %j, %p : index\n"
       << "    %past = arith.cmpi ule, %j, %i : index\n"
       << "    %ok = arith.ori %in_prefix, %past : i1\n";
    break;
  case MaskKind::EvenKeys:
  case MaskKind::CausalEvenKeys:
    os << "    %two = arith.constant 2 : index\n"
       << "    %zero = arith.constant 0 : index\n"
       << "    %r = arith.remui %j, %two : index\n"
       << "    %ok = arith.cmpi eq, %r, %zero : index\n";
    break;
  case MaskKind::OddQueries:
    os << "    %two = arith.constant 2 : index\n"
       << "    %one = arith.constant 1 : index\n"
       << "    %r = arith.remui %i, %two : index\n"
       << "    %ok = arith.cmpi eq, %r, %one : index\n";
    break;
  default:
    return "";
  }
  os << "    attn.yield %ok : i1\n";
  return os.str();
}

/// The attn.mask.* ops of the problem, defining %mask; empty for no mask.
static std::string maskOps(const Problem &p) {
  std::ostringstream os;
  auto custom = [&](const std::string &result) {
    os << "  " << result << " = attn.mask.custom (%i, %j) {\n"
       << predicateBody(p.mask, p.prefix) << "  }\n";
  };
  switch (p.mask) {
  case MaskKind::None:
    break;
  case MaskKind::Causal:
    os << "  %mask = attn.mask.causal\n";
    break;
  case MaskKind::Window:
    os << "  %mask = attn.mask.window " << p.window << "\n";
    break;
  case MaskKind::PrefixLM:
  case MaskKind::EvenKeys:
  case MaskKind::OddQueries:
    custom("%mask");
    break;
  case MaskKind::CausalEvenKeys:
    os << "  %band = attn.mask.causal\n";
    custom("%pred");
    os << "  %mask = attn.mask.and %band, %pred\n";
    break;
  case MaskKind::WindowPrefixLM:
    os << "  %band = attn.mask.window " << p.window << "\n";
    custom("%pred");
    os << "  %mask = attn.mask.and %band, %pred\n";
    break;
  case MaskKind::RowLimit:
    os << "  %band = attn.mask.causal\n"
       << "  %pred = attn.mask.custom (%b, %h, %i, %j) {\n"
       << "    %n = memref.load %limits[%b, %h, %i] : memref<?x?x?xi32>\n"
       << "    %limit = arith.index_cast %n : i32 to index\n"
       << "    %ok = arith.cmpi slt, %j, %limit : index\n"
       << "    attn.yield %ok : i1\n  }\n"
       << "  %mask = attn.mask.and %band, %pred\n";
    break;
  }
  return os.str();
}

int32_t cputest::rowLimit(int64_t keyLen, int64_t b, int64_t h, int64_t i) {
  return static_cast<int32_t>((i * 7 + b * 13 + h * 5) % (keyLen + 6)) - 3;
}

std::string cputest::kernelIR(const Problem &p) {
  std::string act = "memref<?x?x?x" + std::to_string(p.headDim) + "x" +
                    dtypeName(p.dtype) + ">";
  std::string lseType = "memref<?x?x?xf32>";
  std::ostringstream os;
  os << "func.func @attn_kernel(%q: " << act << ", %k: " << act
     << ", %v: " << act << ", %o: " << act;
  if (p.withLse)
    os << ", %lse: " << lseType;
  if (p.mask == MaskKind::RowLimit)
    os << ", %limits: memref<?x?x?xi32>";
  os << ") attributes {llvm.emit_c_interface} {\n" << maskOps(p);
  os << "  attn.attention ins(%q, %k, %v : " << act << ", " << act << ", "
     << act << ") outs(%o : " << act << ")";
  if (p.withLse)
    os << " lse(%lse : " << lseType << ")";
  if (p.mask != MaskKind::None)
    os << " mask(%mask)";
  os << "\n  return\n}\n";
  return os.str();
}

std::string cputest::pipelineOptions(const Problem &p) {
  return "block-q=" + std::to_string(p.blockQ) +
         " block-k=" + std::to_string(p.blockK);
}

reference::Mask cputest::referenceMask(const Problem &p) {
  using namespace reference;
  int64_t prefix = p.prefix;
  Custom prefixLM{
      [prefix](int64_t i, int64_t j) { return j < prefix || j <= i; }};
  Custom evenKeys{[](int64_t, int64_t j) { return j % 2 == 0; }};
  switch (p.mask) {
  case MaskKind::None:
    return Mask();
  case MaskKind::Causal:
    return Causal{};
  case MaskKind::Window:
    return Window{p.window};
  case MaskKind::PrefixLM:
    return prefixLM;
  case MaskKind::EvenKeys:
    return evenKeys;
  case MaskKind::OddQueries:
    return Custom{[](int64_t i, int64_t) { return i % 2 == 1; }};
  case MaskKind::CausalEvenKeys:
    return And{{Causal{}, evenKeys}};
  case MaskKind::WindowPrefixLM:
    return And{{Window{p.window}, prefixLM}};
  case MaskKind::RowLimit: {
    Custom rows;
    int64_t keyLen = p.keyLen;
    rows.allowedAt = [keyLen](int64_t b, int64_t h, int64_t i, int64_t j) {
      return j < rowLimit(keyLen, b, h, i);
    };
    return And{{Causal{}, rows}};
  }
  }
  return Mask();
}

//===----------------------------------------------------------------------===//
// Compilation
//===----------------------------------------------------------------------===//

Kernel::Kernel(std::unique_ptr<mlir::ExecutionEngine> engine, std::string name)
    : engine(std::move(engine)), name(std::move(name)) {}

Kernel::~Kernel() = default;

std::string Kernel::invoke(std::vector<void *> descriptors) const {
  // invokePacked takes a pointer to each argument; every argument of the C
  // interface is itself a pointer to a descriptor.
  std::vector<void *> args;
  args.reserve(descriptors.size());
  for (void *&descriptor : descriptors)
    args.push_back(&descriptor);
  llvm::Error error = engine->invokePacked("_mlir_ciface_" + name, args);
  if (!error)
    return "";
  std::string message;
  llvm::raw_string_ostream os(message);
  os << error;
  llvm::consumeError(std::move(error));
  return message;
}

namespace {
/// The process-wide MLIR state of the harness: one context with every
/// dialect the pipeline needs, and the kernel cache.
struct JitState {
  JitState() : context(makeRegistry()) {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    attn::registerAllPasses();
    context.loadAllAvailableDialects();
    context.disableMultithreading();
  }

  static mlir::DialectRegistry makeRegistry() {
    mlir::DialectRegistry registry;
    attn::registerAllDialects(registry);
    mlir::registerBuiltinDialectTranslation(registry);
    mlir::registerLLVMDialectTranslation(registry);
    return registry;
  }

  struct Entry {
    std::unique_ptr<Kernel> kernel;
    std::string error;
  };

  mlir::MLIRContext context;
  std::map<std::string, Entry> cache;
  std::mutex mutex;
};
} // namespace

/// The state is deliberately never destroyed: destroying ExecutionEngines
/// during static destruction runs JIT deinitialisation (and may compile)
/// after libLLVM's own globals are gone, which crashes or hangs at exit.
static JitState &jitState() {
  static JitState *state = new JitState;
  return *state;
}

/// Parses `ir`, runs the pass manager `buildPipeline` fills, and JIT-compiles
/// the result; cached under `key`.
static const Kernel *compileCached(
    const std::string &ir, const std::string &key, const std::string &function,
    const std::function<mlir::LogicalResult(mlir::PassManager &, std::string &)>
        &buildPipeline,
    std::string &error) {
  JitState &state = jitState();
  std::lock_guard<std::mutex> lock(state.mutex);
  auto found = state.cache.find(key);
  if (found != state.cache.end()) {
    error = found->second.error;
    return found->second.kernel.get();
  }
  JitState::Entry &entry = state.cache[key];

  std::string diagnostics;
  llvm::raw_string_ostream diagStream(diagnostics);
  mlir::ScopedDiagnosticHandler handler(
      &state.context, [&](mlir::Diagnostic &diag) {
        diagStream << diag.getLocation() << ": " << diag << "\n";
        for (mlir::Diagnostic &note : diag.getNotes())
          diagStream << "  note: " << note.getLocation() << ": " << note
                     << "\n";
        return mlir::success();
      });

  // ATTN_TEST_DUMP_IR=1 prints each kernel's IR before it is compiled.
  if (const char *dump = std::getenv("ATTN_TEST_DUMP_IR"); dump && *dump)
    llvm::errs() << "// ----- " << key.substr(0, key.find('\n')) << "\n" << ir;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(ir, &state.context);
  if (!module) {
    entry.error = "failed to parse the kernel IR:\n" + diagnostics + ir;
    error = entry.error;
    return nullptr;
  }
  mlir::PassManager pm(&state.context);
  std::string pipelineError;
  if (mlir::failed(buildPipeline(pm, pipelineError))) {
    entry.error = "failed to build the pipeline: " + pipelineError;
    error = entry.error;
    return nullptr;
  }
  if (mlir::failed(pm.run(*module))) {
    entry.error = "the pipeline failed:\n" + diagnostics + "on the IR:\n" + ir;
    error = entry.error;
    return nullptr;
  }

  // Optimise for the host (the cost models of the vectorisers need the
  // target machine).
  auto targetBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!targetBuilder) {
    llvm::raw_string_ostream os(entry.error);
    os << "cannot detect the host target: " << targetBuilder.takeError();
    error = entry.error;
    return nullptr;
  }
  auto targetMachine = targetBuilder->createTargetMachine();
  if (!targetMachine) {
    llvm::raw_string_ostream os(entry.error);
    os << "cannot create the host target machine: "
       << targetMachine.takeError();
    error = entry.error;
    return nullptr;
  }
  auto transformer = mlir::makeOptimizingTransformer(
      /*optLevel=*/2, /*sizeLevel=*/0, targetMachine->get());
  mlir::ExecutionEngineOptions options;
  options.transformer = transformer;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Default;
  options.enableGDBNotificationListener = false;
  options.enablePerfNotificationListener = false;
  auto engine = mlir::ExecutionEngine::create(*module, options,
                                              std::move(*targetMachine));
  if (!engine) {
    llvm::raw_string_ostream os(entry.error);
    os << "failed to create the ExecutionEngine: " << engine.takeError() << "\n"
       << diagnostics;
    error = entry.error;
    return nullptr;
  }
  entry.kernel = std::make_unique<Kernel>(std::move(*engine), function);
  error.clear();
  return entry.kernel.get();
}

const Kernel *cputest::compileKernel(const std::string &ir,
                                     const std::string &pipeline,
                                     const std::string &function,
                                     std::string &error) {
  return compileCached(
      ir, "pipeline:" + pipeline + "\n" + ir, function,
      [&](mlir::PassManager &pm, std::string &message) {
        llvm::raw_string_ostream os(message);
        return mlir::parsePassPipeline(pipeline, pm, os);
      },
      error);
}

const Kernel *cputest::compileProblem(const Problem &problem,
                                      std::string &error) {
  std::string ir = kernelIR(problem);
  return compileCached(
      ir, "attn-lower-to-cpu:" + pipelineOptions(problem) + "\n" + ir,
      "attn_kernel",
      [&](mlir::PassManager &pm, std::string &) {
        attn::LoweringPipelineOptions options;
        options.blockQ = problem.blockQ;
        options.blockK = problem.blockK;
        attn::buildLowerToCPUPipeline(pm, options);
        return mlir::success();
      },
      error);
}

//===----------------------------------------------------------------------===//
// Execution
//===----------------------------------------------------------------------===//

namespace {
/// Row-major descriptor of a host buffer.
template <typename T, int N>
StridedMemRefType<T, N> makeDescriptor(T *data,
                                       const std::array<int64_t, N> &sizes) {
  StridedMemRefType<T, N> descriptor;
  descriptor.basePtr = data;
  descriptor.data = data;
  descriptor.offset = 0;
  int64_t stride = 1;
  for (int i = N - 1; i >= 0; --i) {
    descriptor.sizes[i] = sizes[i];
    descriptor.strides[i] = stride;
    stride *= sizes[i];
  }
  return descriptor;
}

/// Runs the kernel on element type T (float or uint16_t for bf16).
template <typename T>
std::string runTyped(const Kernel &kernel, const Problem &p,
                     RunBuffers &buffers, const std::vector<IntArgument> &extra,
                     T poison, const std::function<T(double)> &toStorage,
                     const std::function<float(T)> &fromStorage) {
  auto toDevice = [&](const reference::Tensor &t) {
    std::vector<T> data;
    data.reserve(t.numel());
    for (double x : t.data())
      data.push_back(toStorage(x));
    return data;
  };
  std::vector<T> q = toDevice(buffers.q), k = toDevice(buffers.k),
                 v = toDevice(buffers.v);
  int64_t d = p.headDim;
  std::vector<T> o(p.batch * p.queryHeads * p.queryLen * d, poison);
  std::vector<float> lse(p.withLse ? p.batch * p.queryHeads * p.queryLen : 0,
                         std::numeric_limits<float>::quiet_NaN());

  auto qDesc =
      makeDescriptor<T, 4>(q.data(), {p.batch, p.queryHeads, p.queryLen, d});
  auto kDesc =
      makeDescriptor<T, 4>(k.data(), {p.batch, p.kvHeads, p.keyLen, d});
  auto vDesc =
      makeDescriptor<T, 4>(v.data(), {p.batch, p.kvHeads, p.keyLen, d});
  auto oDesc =
      makeDescriptor<T, 4>(o.data(), {p.batch, p.queryHeads, p.queryLen, d});
  auto lseDesc =
      makeDescriptor<float, 3>(lse.data(), {p.batch, p.queryHeads, p.queryLen});
  std::vector<void *> descriptors = {&qDesc, &kDesc, &vDesc, &oDesc};
  if (p.withLse)
    descriptors.push_back(&lseDesc);
  std::vector<int32_t> limits;
  if (p.mask == MaskKind::RowLimit)
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.queryHeads; ++h)
        for (int64_t i = 0; i < p.queryLen; ++i)
          limits.push_back(rowLimit(p.keyLen, b, h, i));
  auto limitsDesc = makeDescriptor<int32_t, 3>(
      limits.data(), {p.batch, p.queryHeads, p.queryLen});
  if (p.mask == MaskKind::RowLimit)
    descriptors.push_back(&limitsDesc);
  // The extra arguments' descriptors, one deque per rank (a deque does not
  // move its elements as it grows).
  std::deque<StridedMemRefType<int32_t, 1>> rank1;
  std::deque<StridedMemRefType<int32_t, 2>> rank2;
  std::deque<StridedMemRefType<int32_t, 3>> rank3;
  std::deque<StridedMemRefType<int32_t, 4>> rank4;
  std::deque<std::vector<int8_t>> byteData;
  for (const IntArgument &argument : extra) {
    // The descriptor's element type only sets the strides' unit, which
    // the kernel reads as elements: a byte argument gets an int32_t
    // descriptor over its bytes.
    int32_t *data = const_cast<int32_t *>(argument.data.data());
    if (argument.bytes)
      data = reinterpret_cast<int32_t *>(
          byteData.emplace_back(argument.data.begin(), argument.data.end())
              .data());
    const std::vector<int64_t> &shape = argument.shape;
    switch (shape.size()) {
    case 1:
      descriptors.push_back(
          &rank1.emplace_back(makeDescriptor<int32_t, 1>(data, {shape[0]})));
      break;
    case 2:
      descriptors.push_back(&rank2.emplace_back(
          makeDescriptor<int32_t, 2>(data, {shape[0], shape[1]})));
      break;
    case 3:
      descriptors.push_back(&rank3.emplace_back(
          makeDescriptor<int32_t, 3>(data, {shape[0], shape[1], shape[2]})));
      break;
    case 4:
      descriptors.push_back(&rank4.emplace_back(makeDescriptor<int32_t, 4>(
          data, {shape[0], shape[1], shape[2], shape[3]})));
      break;
    default:
      return "an extra argument has rank " + std::to_string(shape.size()) +
             ", not 1 to 4";
    }
  }
  std::string error = kernel.invoke(descriptors);
  if (!error.empty())
    return error;

  buffers.out.clear();
  buffers.out.reserve(o.size());
  for (T x : o)
    buffers.out.push_back(fromStorage(x));
  buffers.lse = std::move(lse);
  return "";
}
} // namespace

std::string
cputest::runProblem(const Kernel &kernel, const Problem &p, uint64_t seed,
                    RunBuffers &buffers, const std::vector<IntArgument> &extra,
                    const std::function<void(RunBuffers &)> &shapeInputs) {
  // Round the random inputs to the kernel's dtype first, so that the
  // reference sees exactly what the kernel sees.
  std::function<double(double)> round;
  if (p.dtype == DType::F32)
    round = [](double x) { return static_cast<double>(static_cast<float>(x)); };
  else
    round = [](double x) {
      return static_cast<double>(
          bf16ToFloat(floatToBF16(static_cast<float>(x))));
    };
  auto draw = [&](std::vector<int64_t> shape, uint64_t stream, double lo,
                  double hi) {
    reference::Tensor t = reference::randomTensor(
        shape, seed * 0x9e3779b97f4a7c15ull + stream, lo, hi);
    for (double &x : t.data())
      x = round(x);
    return t;
  };
  buffers.q = draw({p.batch, p.queryHeads, p.queryLen, p.headDim}, 1, -2, 2);
  buffers.k = draw({p.batch, p.kvHeads, p.keyLen, p.headDim}, 2, -2, 2);
  buffers.v = draw({p.batch, p.kvHeads, p.keyLen, p.headDim}, 3, -1, 1);
  if (shapeInputs) {
    shapeInputs(buffers);
    for (reference::Tensor *t : {&buffers.q, &buffers.k, &buffers.v})
      for (double &x : t->data())
        x = round(x);
  }

  if (p.dtype == DType::F32)
    return runTyped<float>(
        kernel, p, buffers, extra, std::numeric_limits<float>::quiet_NaN(),
        [](double x) { return static_cast<float>(x); },
        [](float x) { return x; });
  return runTyped<uint16_t>(
      kernel, p, buffers, extra, kBF16PoisonNaN,
      [](double x) { return floatToBF16(static_cast<float>(x)); },
      [](uint16_t x) { return bf16ToFloat(x); });
}

uint64_t cputest::testSeed() {
  if (const char *forced = std::getenv("ATTN_TEST_SEED"))
    return std::strtoull(forced, nullptr, 0);
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}
