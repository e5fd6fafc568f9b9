//===- Bundle.cpp - Validate tensors and launch bundle kernels --*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// validate() binds every shape symbol from the first argument that uses it,
// checks all other uses against that binding, checks contiguity and
// constraints, and evaluates each launch grid. launch() adds what needs the
// driver: the pointer checks, the module (loaded once per driver and
// context, under a mutex), the kernel parameters and cuLaunchKernel.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"
#include "Internal.h"
#include "Manifest.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <mutex>

namespace attn {
namespace runtime {

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

const char *dtypeName(DType type) {
  switch (type) {
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::F32:
    return "f32";
  case DType::I32:
    return "i32";
  case DType::I8:
    return "i8";
  case DType::I1:
    return "i1";
  }
  return "<invalid dtype>";
}

size_t dtypeSize(DType type) {
  switch (type) {
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::I8:
  case DType::I1:
    return 1;
  }
  return 0;
}

std::optional<DType> parseDType(std::string_view name) {
  for (DType type :
       {DType::F16, DType::BF16, DType::F32, DType::I32, DType::I8, DType::I1})
    if (name == dtypeName(type))
      return type;
  return std::nullopt;
}

std::optional<DType> dtypeFromCode(int32_t code) {
  if (code < static_cast<int32_t>(DType::F16) ||
      code > static_cast<int32_t>(DType::I1))
    return std::nullopt;
  return static_cast<DType>(code);
}

std::optional<int64_t> LaunchPlan::symbol(std::string_view name) const {
  for (const auto &entry : symbols)
    if (entry.first == name)
      return entry.second;
  return std::nullopt;
}

std::string formatList(const std::vector<int64_t> &values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i)
    text += (i ? ", " : "") + std::to_string(values[i]);
  return text + "]";
}

namespace {

/// Alignment every tensor's data pointer must have.
constexpr uintptr_t kDataAlignment = 16;
/// Alignment of a workspace and of each scratch buffer in it.
constexpr uint64_t kScratchAlignment = 256;

std::string formatShape(const std::vector<Dim> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + (shape[i].isSymbol() ? shape[i].symbol
                               : shape[i].isExpression()
                                   ? shape[i].expression
                                   : std::to_string(shape[i].value));
  return text + "]";
}

std::string formatPointer(const void *pointer) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "0x%" PRIxPTR,
                reinterpret_cast<uintptr_t>(pointer));
  return buffer;
}

/// CUDA's grid limits per dimension.
constexpr int64_t kGridLimits[3] = {2147483647, 65535, 65535};
constexpr char kAxes[3] = {'x', 'y', 'z'};

/// The kernels of one bundle loaded into one context of one driver.
struct LoadedModule {
  std::shared_ptr<Driver> driver;
  CUcontext context = nullptr;
  CUmodule module = nullptr;
  std::vector<CUfunction> functions; ///< One per launch.
};

} // namespace

struct Bundle::Impl {
  std::string directory;
  Manifest manifest;
  /// Bundle::setReadInputChecks.
  std::atomic<bool> readChecks{true};

  std::mutex mutex;
  /// A deque: pointers to loaded modules stay valid as others are added.
  std::deque<LoadedModule> modules;

  /// The workspaces the bundle owns, one per (driver, context, stream).
  struct Workspace {
    std::shared_ptr<Driver> driver;
    CUcontext context = nullptr;
    CUstream stream = nullptr;
    CUdeviceptr pointer = 0;
    uint64_t bytes = 0;
  };
  std::deque<Workspace> workspaces;

  /// The module for (driver, context), loading it on first use. Callers
  /// hold `mutex`.
  Result<const LoadedModule *> getModule(const std::shared_ptr<Driver> &driver,
                                         CUcontext context);

  /// The owned workspace of (driver, context, stream) with at least `bytes`
  /// bytes: allocated on first need; when too small, the stream is
  /// synchronized (earlier launches may still use it) and it is replaced.
  /// Callers hold `mutex`.
  Result<CUdeviceptr> ownedWorkspace(const std::shared_ptr<Driver> &driver,
                                     CUcontext context, CUstream stream,
                                     uint64_t bytes);

  /// Launches the validated `plan` of `args` with `driver` (or the
  /// system's when null): in the caller's workspace when
  /// `callerWorkspace` (checked against the plan first), else an owned one.
  Status launch(const LaunchPlan &plan, const std::vector<TensorRef> &args,
                CUstream stream, bool callerWorkspace, void *workspace,
                uint64_t workspaceBytes, const std::shared_ptr<Driver> *driver);

  /// Checks the pointers of `args`, finds the workspace and launches `plan`
  /// on `stream`.
  Status launchOn(const LaunchPlan &plan, const std::vector<TensorRef> &args,
                  CUstream stream, const std::shared_ptr<Driver> &driver,
                  bool callerWorkspace, void *workspace);

  /// After the launches: reads the count of every input check
  /// (`countAddresses[i]` is manifest.inputChecks[i]'s), synchronizing
  /// `stream`, and fails naming the first argument whose count is not 0.
  Status readInputChecks(Driver &cu, CUstream stream,
                         const std::vector<CUdeviceptr> &countAddresses);
};

Status checkArgumentCount(const Bundle &bundle, size_t got) {
  const std::vector<ArgumentSpec> &arguments = bundle.arguments();
  if (got == arguments.size())
    return Status::success();
  std::string names;
  for (const ArgumentSpec &argument : arguments)
    names += (names.empty() ? "" : ", ") + argument.name;
  return Error("expected " + std::to_string(arguments.size()) + " argument" +
               (arguments.size() == 1 ? "" : "s") + " (" + names + "), got " +
               std::to_string(got));
}

Bundle::Bundle(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}

Bundle::~Bundle() {
  // Free each owned workspace and unload each module in its own context,
  // then restore the caller's.
  for (Impl::Workspace &owned : impl->workspaces) {
    Driver &driver = *owned.driver;
    CUcontext previous = nullptr;
    if (driver.cuCtxGetCurrent(&previous) != CUDA_SUCCESS)
      continue;
    if (driver.cuCtxSetCurrent(owned.context) != CUDA_SUCCESS)
      continue;
    driver.cuMemFree(owned.pointer);
    driver.cuCtxSetCurrent(previous);
  }
  for (LoadedModule &loaded : impl->modules) {
    Driver &driver = *loaded.driver;
    CUcontext previous = nullptr;
    if (driver.cuCtxGetCurrent(&previous) != CUDA_SUCCESS)
      continue;
    if (driver.cuCtxSetCurrent(loaded.context) != CUDA_SUCCESS)
      continue;
    driver.cuModuleUnload(loaded.module);
    driver.cuCtxSetCurrent(previous);
  }
}

Result<std::unique_ptr<Bundle>> Bundle::load(const std::string &directory) {
  Result<Manifest> manifest = parseManifest(directory);
  if (!manifest)
    return manifest.error();
  auto impl = std::make_unique<Impl>();
  impl->directory = directory;
  impl->manifest = std::move(*manifest);
  return std::unique_ptr<Bundle>(new Bundle(std::move(impl)));
}

const std::string &Bundle::directory() const { return impl->directory; }
const std::string &Bundle::name() const { return impl->manifest.name; }
const std::string &Bundle::target() const { return impl->manifest.target; }
const std::string &Bundle::ptxFile() const { return impl->manifest.ptxFile; }
const std::string &Bundle::ptx() const { return impl->manifest.ptx; }
const std::vector<ArgumentSpec> &Bundle::arguments() const {
  return impl->manifest.arguments;
}
const std::vector<std::string> &Bundle::constraints() const {
  return impl->manifest.constraintTexts;
}
const std::vector<LaunchSpec> &Bundle::launches() const {
  return impl->manifest.launches;
}
const std::vector<ArgumentSpec> &Bundle::scratch() const {
  return impl->manifest.scratch;
}
const std::vector<InputCheckSpec> &Bundle::inputChecks() const {
  return impl->manifest.inputChecks;
}
void Bundle::setReadInputChecks(bool read) { impl->readChecks = read; }
bool Bundle::readsInputChecks() const { return impl->readChecks; }
const std::vector<std::string> &Bundle::symbols() const {
  return impl->manifest.symbols;
}

Result<LaunchPlan> Bundle::validate(const std::vector<TensorRef> &args) const {
  const Manifest &manifest = impl->manifest;
  if (Status count = checkArgumentCount(*this, args.size()); !count)
    return count.error();

  // bindings[s] is the value of symbol s; binder[s] the argument that bound
  // it.
  std::vector<int64_t> bindings(manifest.symbols.size(), -1);
  std::vector<size_t> binder(manifest.symbols.size(), 0);
  for (size_t i = 0; i < args.size(); ++i) {
    const ArgumentSpec &spec = manifest.arguments[i];
    const TensorRef &tensor = args[i];
    const std::string quoted = "argument '" + spec.name + "'";
    if (tensor.dtype != spec.dtype)
      return Error(quoted + ": dtype is " + dtypeName(tensor.dtype) +
                   " but the bundle expects " + dtypeName(spec.dtype));
    if (tensor.shape.size() != spec.shape.size())
      return Error(quoted + ": rank is " + std::to_string(tensor.shape.size()) +
                   " but the bundle expects " +
                   std::to_string(spec.shape.size()) + " (shape " +
                   formatShape(spec.shape) + ")");
    int64_t elements = 1;
    for (size_t d = 0; d < spec.shape.size(); ++d) {
      int64_t extent = tensor.shape[d];
      if (extent < 0)
        return Error(quoted + " dimension " + std::to_string(d) +
                     " is negative (" + std::to_string(extent) + ")");
      if (__builtin_mul_overflow(elements, extent, &elements))
        return Error(quoted + ": shape " + formatList(tensor.shape) +
                     " has more than 2^63 elements");
      const Dim &dim = spec.shape[d];
      if (dim.isExpression())
        continue; // Checked once every symbol is bound.
      if (!dim.isSymbol()) {
        if (extent != dim.value)
          return Error(quoted + " dimension " + std::to_string(d) + " is " +
                       std::to_string(extent) + " but the bundle expects " +
                       std::to_string(dim.value));
        continue;
      }
      size_t s = std::find(manifest.symbols.begin(), manifest.symbols.end(),
                           dim.symbol) -
                 manifest.symbols.begin();
      if (bindings[s] < 0) {
        bindings[s] = extent;
        binder[s] = i;
      } else if (bindings[s] != extent) {
        return Error(quoted + " dimension " + std::to_string(d) + " (" +
                     dim.symbol + ") is " + std::to_string(extent) +
                     " but argument '" + manifest.arguments[binder[s]].name +
                     "' bound " + dim.symbol + " = " +
                     std::to_string(bindings[s]));
      }
    }
    // Contiguity, in torch's sense: a dimension of extent 1 may have any
    // stride, and an empty tensor any strides.
    if (!tensor.strides.empty()) {
      if (tensor.strides.size() != tensor.shape.size())
        return Error(quoted + ": " + std::to_string(tensor.strides.size()) +
                     " strides for rank " +
                     std::to_string(tensor.shape.size()));
      if (elements != 0) {
        std::vector<int64_t> expected(tensor.shape.size());
        int64_t stride = 1;
        bool contiguous = true;
        for (size_t d = tensor.shape.size(); d-- > 0;) {
          expected[d] = stride;
          if (tensor.shape[d] != 1 && tensor.strides[d] != stride)
            contiguous = false;
          stride *= tensor.shape[d];
        }
        if (!contiguous)
          return Error(quoted + ": strides " + formatList(tensor.strides) +
                       " are not contiguous row-major " + formatList(expected) +
                       " (shape " + formatList(tensor.shape) + ")");
      }
    }
    if (!tensor.data && elements != 0)
      return Error(quoted + ": data pointer is null");
    // The kernels read and write whole rows with 16-byte vector accesses.
    if (elements != 0 &&
        reinterpret_cast<uintptr_t>(tensor.data) % kDataAlignment != 0)
      return Error(quoted + ": data pointer is not " +
                   std::to_string(kDataAlignment) +
                   "-byte aligned (the kernels use 16-byte vector accesses)");
  }
  if (Status disjoint = checkWrittenDisjoint(manifest, args); !disjoint)
    return disjoint.error();

  auto describeSymbols = [&](const std::vector<int64_t> &symbols) {
    std::string text;
    for (int64_t s : symbols)
      text += (text.empty() ? "" : ", ") + manifest.symbols[s] + " = " +
              std::to_string(bindings[s]);
    return text;
  };

  // Extents given as expressions of the symbols.
  for (size_t i = 0; i < args.size(); ++i) {
    const ArgumentSpec &spec = manifest.arguments[i];
    for (size_t d = 0; d < spec.shape.size(); ++d) {
      const Dim &dim = spec.shape[d];
      if (!dim.isExpression())
        continue;
      const Expr &expr = manifest.argumentExprs[i][d];
      std::vector<int64_t> used;
      expr.collectSymbols(used);
      std::string where = "argument '" + spec.name + "' dimension " +
                          std::to_string(d) + " (" + dim.expression + ")";
      std::string values =
          used.empty() ? "" : " (" + describeSymbols(used) + ")";
      Result<int64_t> expected = expr.evaluate(bindings);
      if (!expected)
        return Error(where + ": " + expected.error().message() + values);
      if (args[i].shape[d] != *expected)
        return Error("argument '" + spec.name + "' dimension " +
                     std::to_string(d) + " is " +
                     std::to_string(args[i].shape[d]) +
                     " but the bundle expects " + dim.expression + " = " +
                     std::to_string(*expected) + values);
    }
  }

  for (size_t c = 0; c < manifest.constraints.size(); ++c) {
    const Constraint &constraint = manifest.constraints[c];
    std::vector<int64_t> used;
    constraint.lhs.collectSymbols(used);
    constraint.rhs.collectSymbols(used);
    std::string where = "constraint '" + manifest.constraintTexts[c] + "'";
    std::string values = used.empty() ? "" : " (" + describeSymbols(used) + ")";
    Result<int64_t> lhs = constraint.lhs.evaluate(bindings);
    if (!lhs)
      return Error(where + ": " + lhs.error().message() + values);
    Result<int64_t> rhs = constraint.rhs.evaluate(bindings);
    if (!rhs)
      return Error(where + ": " + rhs.error().message() + values);
    if (*rhs == 0)
      return Error(where + " cannot hold: the divisor is 0" + values);
    if (*lhs % *rhs != 0)
      return Error(where + " is violated: " + std::to_string(*lhs) + " % " +
                   std::to_string(*rhs) + " = " + std::to_string(*lhs % *rhs) +
                   values);
  }

  LaunchPlan plan;
  for (size_t s = 0; s < manifest.symbols.size(); ++s)
    plan.symbols.emplace_back(manifest.symbols[s], bindings[s]);
  for (size_t l = 0; l < manifest.launches.size(); ++l) {
    const LaunchSpec &launch = manifest.launches[l];
    PlannedLaunch planned;
    planned.launch = l;
    for (size_t d = 0; d < 3; ++d) {
      std::string where = "launch " + std::to_string(l) + " (kernel '" +
                          launch.kernel + "'): grid " + kAxes[d] + " '" +
                          launch.grid[d] + "'";
      const Expr &expr = manifest.grids[l][d];
      std::vector<int64_t> used;
      expr.collectSymbols(used);
      std::string values =
          used.empty() ? "" : " (" + describeSymbols(used) + ")";
      Result<int64_t> extent = expr.evaluate(bindings);
      if (!extent)
        return Error(where + ": " + extent.error().message() + values);
      if (*extent > kGridLimits[d])
        return Error(where + " is " + std::to_string(*extent) + values +
                     ", above the CUDA limit " +
                     std::to_string(kGridLimits[d]));
      planned.grid[d] = static_cast<uint32_t>(*extent);
      if (*extent == 0)
        planned.skipped = true;
    }
    plan.launches.push_back(planned);
  }

  // Scratch buffers, one after the other in the workspace.
  for (size_t i = 0; i < manifest.scratch.size(); ++i) {
    const ArgumentSpec &spec = manifest.scratch[i];
    PlannedScratch buffer;
    uint64_t elements = 1;
    for (size_t d = 0; d < spec.shape.size(); ++d) {
      const Expr &expr = manifest.scratchExprs[i][d];
      std::vector<int64_t> used;
      expr.collectSymbols(used);
      std::string values =
          used.empty() ? "" : " (" + describeSymbols(used) + ")";
      Result<int64_t> extent = expr.evaluate(bindings);
      if (!extent)
        return Error("scratch buffer '" + spec.name + "' dimension " +
                     std::to_string(d) + ": " + extent.error().message() +
                     values);
      buffer.shape.push_back(*extent);
      if (__builtin_mul_overflow(elements, static_cast<uint64_t>(*extent),
                                 &elements))
        return Error("scratch buffer '" + spec.name +
                     "' is larger than "
                     "2^64 elements" +
                     values);
    }
    uint64_t offset = (plan.workspaceBytes + kScratchAlignment - 1) /
                      kScratchAlignment * kScratchAlignment;
    if (__builtin_mul_overflow(elements, dtypeSize(spec.dtype),
                               &buffer.bytes) ||
        __builtin_add_overflow(offset, buffer.bytes, &plan.workspaceBytes))
      return Error("scratch buffer '" + spec.name +
                   "' is larger than 2^64 "
                   "bytes");
    buffer.offset = offset;
    plan.scratch.push_back(std::move(buffer));
  }
  return plan;
}

Result<const LoadedModule *>
Bundle::Impl::getModule(const std::shared_ptr<Driver> &driver,
                        CUcontext context) {
  for (const LoadedModule &loaded : modules)
    if (loaded.driver == driver && loaded.context == context)
      return &loaded;

  Driver &cu = *driver;
  // The device must be able to run the target.
  CUdevice device;
  if (CUresult result = cu.cuCtxGetDevice(&device); result != CUDA_SUCCESS)
    return Error("cuCtxGetDevice failed: " + cu.describe(result));
  int major = 0, minor = 0;
  if (CUresult result = cu.cuDeviceGetAttribute(
          &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
      result != CUDA_SUCCESS)
    return Error("querying the compute capability failed: " +
                 cu.describe(result));
  if (CUresult result = cu.cuDeviceGetAttribute(
          &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
      result != CUDA_SUCCESS)
    return Error("querying the compute capability failed: " +
                 cu.describe(result));
  const std::string &target = manifest.target;
  char suffix =
      target.back() >= '0' && target.back() <= '9' ? 0 : target.back();
  int wanted =
      std::stoi(target.substr(3, target.size() - 3 - (suffix ? 1 : 0)));
  int have = major * 10 + minor;
  bool runs = suffix == 'a'   ? have == wanted
              : suffix == 'f' ? major == wanted / 10 && have >= wanted
                              : have >= wanted;
  if (!runs)
    return Error("bundle '" + manifest.name + "' targets " + target +
                 " but the current device is sm_" + std::to_string(have));

  char log[8192] = {0};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {
      log, reinterpret_cast<void *>(static_cast<uintptr_t>(sizeof(log) - 1))};
  LoadedModule loaded;
  loaded.driver = driver;
  loaded.context = context;
  if (CUresult result = cu.cuModuleLoadDataEx(
          &loaded.module, manifest.ptx.c_str(), 2, options, values);
      result != CUDA_SUCCESS) {
    std::string message = "loading " + manifest.ptxFile + " of bundle '" +
                          manifest.name + "' failed: " + cu.describe(result);
    if (log[0])
      message += ": " + std::string(log);
    return Error(message);
  }
  auto unload = [&]() { cu.cuModuleUnload(loaded.module); };

  for (const LaunchSpec &launch : manifest.launches) {
    CUfunction function = nullptr;
    if (CUresult result = cu.cuModuleGetFunction(&function, loaded.module,
                                                 launch.kernel.c_str());
        result != CUDA_SUCCESS) {
      unload();
      return Error("kernel '" + launch.kernel + "' not found in " +
                   manifest.ptxFile + ": " + cu.describe(result));
    }
    loaded.functions.push_back(function);
  }
  // Above 48 KiB, dynamic shared memory must be opted into per function.
  for (size_t l = 0; l < manifest.launches.size(); ++l) {
    uint32_t bytes = 0;
    for (size_t o = 0; o < manifest.launches.size(); ++o)
      if (manifest.launches[o].kernel == manifest.launches[l].kernel)
        bytes = std::max(bytes, manifest.launches[o].sharedBytes);
    if (bytes <= 48 * 1024)
      continue;
    if (CUresult result = cu.cuFuncSetAttribute(
            loaded.functions[l],
            CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            static_cast<int>(bytes));
        result != CUDA_SUCCESS) {
      unload();
      return Error("allowing " + std::to_string(bytes) +
                   " bytes of dynamic shared memory for kernel '" +
                   manifest.launches[l].kernel +
                   "' failed: " + cu.describe(result));
    }
  }
  modules.push_back(std::move(loaded));
  return &modules.back();
}

namespace {

bool nothingToLaunch(const LaunchPlan &plan) {
  return std::all_of(plan.launches.begin(), plan.launches.end(),
                     [](const PlannedLaunch &l) { return l.skipped; });
}

} // namespace

Status Bundle::launch(const std::vector<TensorRef> &args, CUstream stream) {
  Result<LaunchPlan> plan = validate(args);
  if (!plan)
    return plan.error();
  return impl->launch(*plan, args, stream, /*callerWorkspace=*/false, nullptr,
                      0, nullptr);
}

Status Bundle::launch(const std::vector<TensorRef> &args, CUstream stream,
                      const std::shared_ptr<Driver> &driver) {
  Result<LaunchPlan> plan = validate(args);
  if (!plan)
    return plan.error();
  return impl->launch(*plan, args, stream, /*callerWorkspace=*/false, nullptr,
                      0, &driver);
}

Status Bundle::launch(const std::vector<TensorRef> &args, CUstream stream,
                      void *workspace, uint64_t workspaceBytes) {
  Result<LaunchPlan> plan = validate(args);
  if (!plan)
    return plan.error();
  return impl->launch(*plan, args, stream, /*callerWorkspace=*/true, workspace,
                      workspaceBytes, nullptr);
}

Status Bundle::launch(const std::vector<TensorRef> &args, CUstream stream,
                      void *workspace, uint64_t workspaceBytes,
                      const std::shared_ptr<Driver> &driver) {
  Result<LaunchPlan> plan = validate(args);
  if (!plan)
    return plan.error();
  return impl->launch(*plan, args, stream, /*callerWorkspace=*/true, workspace,
                      workspaceBytes, &driver);
}

Status Bundle::Impl::launch(const LaunchPlan &plan,
                            const std::vector<TensorRef> &args, CUstream stream,
                            bool callerWorkspace, void *workspace,
                            uint64_t workspaceBytes,
                            const std::shared_ptr<Driver> *driver) {
  if (callerWorkspace && plan.workspaceBytes > 0) {
    if (workspaceBytes < plan.workspaceBytes)
      return Error("the workspace of " + std::to_string(workspaceBytes) +
                   " bytes is smaller than the " +
                   std::to_string(plan.workspaceBytes) +
                   " bytes this call needs");
    if (reinterpret_cast<uintptr_t>(workspace) % kScratchAlignment != 0)
      return Error("the workspace " + formatPointer(workspace) + " is not " +
                   std::to_string(kScratchAlignment) + "-byte aligned");
    if (Status disjoint = checkWorkspaceDisjoint(manifest, args, workspace,
                                                 plan.workspaceBytes);
        !disjoint)
      return disjoint;
  }
  // An empty problem launches nothing and needs no GPU.
  if (nothingToLaunch(plan))
    return Status::success();
  if (driver) {
    if (!*driver)
      return Error("no CUDA driver given");
    return launchOn(plan, args, stream, *driver, callerWorkspace, workspace);
  }
  Result<std::shared_ptr<Driver>> system = systemDriver();
  if (!system)
    return system.error();
  return launchOn(plan, args, stream, *system, callerWorkspace, workspace);
}

Result<CUdeviceptr>
Bundle::Impl::ownedWorkspace(const std::shared_ptr<Driver> &driver,
                             CUcontext context, CUstream stream,
                             uint64_t bytes) {
  Driver &cu = *driver;
  Workspace *owned = nullptr;
  for (Workspace &candidate : workspaces)
    if (candidate.driver == driver && candidate.context == context &&
        candidate.stream == stream)
      owned = &candidate;
  if (!owned) {
    workspaces.push_back({driver, context, stream, 0, 0});
    owned = &workspaces.back();
  }
  if (owned->bytes >= bytes)
    return owned->pointer;
  if (owned->pointer) {
    if (CUresult result = cu.cuStreamSynchronize(stream);
        result != CUDA_SUCCESS)
      return Error("synchronizing the stream before growing the workspace "
                   "failed: " +
                   cu.describe(result));
    cu.cuMemFree(owned->pointer);
    owned->pointer = 0;
    owned->bytes = 0;
  }
  CUdeviceptr pointer = 0;
  if (CUresult result = cu.cuMemAlloc(&pointer, static_cast<size_t>(bytes));
      result != CUDA_SUCCESS)
    return Error(
        "allocating a workspace of " + std::to_string(bytes) +
        " bytes for the scratch buffers failed: " + cu.describe(result));
  owned->pointer = pointer;
  owned->bytes = bytes;
  return pointer;
}

Status Bundle::Impl::launchOn(const LaunchPlan &plan,
                              const std::vector<TensorRef> &args,
                              CUstream stream,
                              const std::shared_ptr<Driver> &driver,
                              bool callerWorkspace, void *workspace) {
  Driver &cu = *driver;

  Result<CUcontext> context = cu.currentContext();
  if (!context)
    return context.error();
  CUdevice contextDevice;
  if (CUresult result = cu.cuCtxGetDevice(&contextDevice);
      result != CUDA_SUCCESS)
    return Error("cuCtxGetDevice failed: " + cu.describe(result));

  // Every non-empty tensor, and a caller's workspace, must be device
  // memory of the context's device.
  auto checkDeviceMemory = [&](const std::string &quoted,
                               void *data) -> Status {
    CUdeviceptr address =
        static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(data));
    unsigned int memoryType = 0;
    if (CUresult result = cu.cuPointerGetAttribute(
            &memoryType, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, address);
        result != CUDA_SUCCESS) {
      if (result == CUDA_ERROR_INVALID_VALUE)
        return Error(quoted + ": " + formatPointer(data) +
                     " is not CUDA device memory (unknown to the driver; "
                     "host memory?)");
      return Error(quoted +
                   ": cuPointerGetAttribute failed: " + cu.describe(result));
    }
    if (memoryType != CU_MEMORYTYPE_DEVICE)
      return Error(quoted + ": " + formatPointer(data) +
                   " is host memory, not CUDA device memory");
    int ordinal = -1;
    if (CUresult result = cu.cuPointerGetAttribute(
            &ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, address);
        result != CUDA_SUCCESS)
      return Error(quoted +
                   ": cuPointerGetAttribute failed: " + cu.describe(result));
    CUdevice pointerDevice;
    if (cu.cuDeviceGet(&pointerDevice, ordinal) != CUDA_SUCCESS ||
        pointerDevice != contextDevice)
      return Error(quoted + " is on device " + std::to_string(ordinal) +
                   " but the current CUDA context is on device " +
                   std::to_string(static_cast<int>(contextDevice)));
    return Status::success();
  };
  for (size_t i = 0; i < args.size(); ++i) {
    if (!args[i].data)
      continue; // Empty: validate() rejected null data otherwise.
    if (Status device = checkDeviceMemory(
            "argument '" + manifest.arguments[i].name + "'", args[i].data);
        !device)
      return device;
  }
  if (callerWorkspace && plan.workspaceBytes > 0)
    if (Status device = checkDeviceMemory("the workspace", workspace); !device)
      return device;

  const LoadedModule *loaded;
  uint64_t workspaceBase = reinterpret_cast<uintptr_t>(workspace);
  {
    std::lock_guard<std::mutex> lock(mutex);
    Result<const LoadedModule *> module = getModule(driver, *context);
    if (!module)
      return module.error();
    loaded = *module;
    if (plan.workspaceBytes > 0 && !callerWorkspace) {
      Result<CUdeviceptr> owned =
          ownedWorkspace(driver, *context, stream, plan.workspaceBytes);
      if (!owned)
        return owned.error();
      workspaceBase = static_cast<uint64_t>(*owned);
    }
  }

  // Input checks: their counts start at zero on the stream.
  std::vector<CUdeviceptr> countAddresses;
  for (const InputCheckSpec &check : manifest.inputChecks) {
    countAddresses.push_back(static_cast<CUdeviceptr>(
        workspaceBase + plan.scratch[check.scratch].offset));
    if (CUresult result =
            cu.cuMemsetD32Async(countAddresses.back(), 0, 1, stream);
        result != CUDA_SUCCESS)
      return Error("zeroing the count of input check '" +
                   manifest.scratch[check.scratch].name +
                   "' failed: " + cu.describe(result));
  }

  // Every kernel parameter is 8 bytes: pointers and int64 descriptor fields.
  std::vector<uint64_t> slots;
  std::vector<void *> params;
  for (const PlannedLaunch &planned : plan.launches) {
    if (planned.skipped)
      continue;
    const LaunchSpec &launch = manifest.launches[planned.launch];
    slots.clear();
    for (size_t arg : launch.args) {
      // A caller's tensor, or a scratch buffer in the workspace.
      uint64_t pointer;
      const std::vector<int64_t> *shape;
      if (arg < args.size()) {
        pointer = reinterpret_cast<uintptr_t>(args[arg].data);
        shape = &args[arg].shape;
      } else {
        const PlannedScratch &buffer = plan.scratch[arg - args.size()];
        pointer = workspaceBase + buffer.offset;
        shape = &buffer.shape;
      }
      if (launch.abi == KernelAbi::Bare) {
        slots.push_back(pointer);
        continue;
      }
      size_t rank = shape->size();
      slots.push_back(pointer); // allocated
      slots.push_back(pointer); // aligned
      slots.push_back(0);       // offset
      for (size_t d = 0; d < rank; ++d)
        slots.push_back(static_cast<uint64_t>((*shape)[d]));
      size_t stridesAt = slots.size();
      slots.resize(stridesAt + rank);
      uint64_t stride = 1;
      for (size_t d = rank; d-- > 0;) {
        slots[stridesAt + d] = stride;
        stride *= static_cast<uint64_t>((*shape)[d]);
      }
    }
    params.resize(slots.size());
    for (size_t p = 0; p < slots.size(); ++p)
      params[p] = &slots[p];
    if (CUresult result = cu.cuLaunchKernel(
            loaded->functions[planned.launch], planned.grid[0], planned.grid[1],
            planned.grid[2], launch.block[0], launch.block[1], launch.block[2],
            launch.sharedBytes, stream,
            params.empty() ? nullptr : params.data(), nullptr);
        result != CUDA_SUCCESS)
      return Error("launch of kernel '" + launch.kernel +
                   "' failed: " + cu.describe(result));
  }
  return readInputChecks(cu, stream, countAddresses);
}

Status
Bundle::Impl::readInputChecks(Driver &cu, CUstream stream,
                              const std::vector<CUdeviceptr> &countAddresses) {
  const std::vector<InputCheckSpec> &checks = manifest.inputChecks;
  if (checks.empty() || !readChecks)
    return Status::success();
  std::vector<uint32_t> counts(checks.size(), 0);
  for (size_t i = 0; i < checks.size(); ++i)
    if (CUresult result = cu.cuMemcpyDtoHAsync(&counts[i], countAddresses[i],
                                               sizeof(uint32_t), stream);
        result != CUDA_SUCCESS)
      return Error("reading the count of input check '" +
                   manifest.scratch[checks[i].scratch].name +
                   "' failed: " + cu.describe(result));
  if (CUresult result = cu.cuStreamSynchronize(stream); result != CUDA_SUCCESS)
    return Error("synchronizing the stream to read the input checks failed: " +
                 cu.describe(result));
  for (size_t i = 0; i < checks.size(); ++i)
    if (counts[i] != 0)
      return Error("argument '" + manifest.arguments[checks[i].argument].name +
                   "': " + std::to_string(counts[i]) + " of its values are " +
                   checks[i].message +
                   "; the kernels wrote nothing to the outputs");
  return Status::success();
}

} // namespace runtime
} // namespace attn
