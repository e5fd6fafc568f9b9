//===- Runtime.h - Load and launch attn kernel bundles ----------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// The C++ interface of the attn GPU runtime. A *bundle* is a directory that
// the compiler writes: `manifest.json` (format "attn-bundle", version 1; see
// docs/Runtime.md) and a PTX file. Bundle::load parses and checks the
// manifest, Bundle::validate checks a caller's tensors against it and
// evaluates the launch grids without touching a GPU, and Bundle::launch loads
// the PTX (lazily, once per CUDA context) and launches every kernel on the
// caller's stream.
//
// The runtime depends only on the CUDA driver API, which it loads at run time
// with dlopen("libcuda.so.1"); <cuda.h> is used for types and constants only.
// No function here throws: failures are returned as Error values whose
// message says exactly what is wrong.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_RUNTIME_RUNTIME_H
#define ATTN_RUNTIME_RUNTIME_H

#include <cuda.h>

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace attn {
namespace runtime {

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

/// A failure, described by a human-readable message.
class Error {
public:
  explicit Error(std::string message) : text(std::move(message)) {}
  const std::string &message() const { return text; }

private:
  std::string text;
};

/// Either a value of type T or an Error. Converts to true on success.
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : storage(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : storage(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return storage.index() == 0; }
  explicit operator bool() const { return ok(); }

  /// The value; only valid when ok().
  T &value() {
    assert(ok() && "value() of a failed Result");
    return std::get<0>(storage);
  }
  const T &value() const {
    assert(ok() && "value() of a failed Result");
    return std::get<0>(storage);
  }
  T &operator*() { return value(); }
  const T &operator*() const { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

  /// The error; only valid when !ok().
  const Error &error() const {
    assert(!ok() && "error() of a successful Result");
    return std::get<1>(storage);
  }

private:
  std::variant<T, Error> storage;
};

/// Success, or an Error. Converts to true on success.
class [[nodiscard]] Status {
public:
  Status() = default;
  Status(Error error) : failure(std::move(error)) {}
  static Status success() { return Status(); }

  bool ok() const { return !failure.has_value(); }
  explicit operator bool() const { return ok(); }

  /// The error; only valid when !ok().
  const Error &error() const {
    assert(!ok() && "error() of a successful Status");
    return *failure;
  }

private:
  std::optional<Error> failure;
};

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

/// Element types of bundle arguments. The numeric values equal the C ABI's
/// attn_dtype constants.
enum class DType : int32_t {
  F16 = 1,
  BF16 = 2,
  F32 = 3,
  I32 = 4,
  I8 = 5,
  I1 = 6, ///< One byte per element.
};

/// The manifest spelling of `type`: "f16", "bf16", "f32", "i32", "i8", "i1".
const char *dtypeName(DType type);

/// Bytes per element of `type` (i1 is stored as one byte).
size_t dtypeSize(DType type);

/// Parses a manifest dtype spelling; nullopt if it is not one of dtypeName's.
std::optional<DType> parseDType(std::string_view name);

/// Maps a C ABI attn_dtype code to a DType; nullopt if out of range.
std::optional<DType> dtypeFromCode(int32_t code);

//===----------------------------------------------------------------------===//
// Manifest model
//===----------------------------------------------------------------------===//

/// One entry of an argument's or scratch buffer's shape: a static extent,
/// a symbol bound from the caller's tensors, or an expression of symbols
/// (checked against, not binding, a caller's extent).
struct Dim {
  int64_t value = 0;      ///< The extent when static.
  std::string symbol;     ///< The symbol name; empty otherwise.
  std::string expression; ///< The expression text; empty otherwise.

  bool isSymbol() const { return !symbol.empty(); }
  bool isExpression() const { return !expression.empty(); }
};

/// One tensor argument of a bundle.
struct ArgumentSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<Dim> shape;
  /// The kernels write it (manifest `"writes": true`): its memory must not
  /// overlap any other argument's.
  bool writes = false;
};

/// How tensor arguments become kernel parameters.
enum class KernelAbi {
  /// Per tensor: allocated ptr, aligned ptr, int64 offset (0), int64
  /// sizes[rank], int64 strides[rank] (row-major, in elements).
  MemRef,
  /// Per tensor: one pointer.
  Bare,
};

/// One kernel launch of a bundle, in launch order.
struct LaunchSpec {
  std::string kernel;              ///< PTX entry name.
  std::array<std::string, 3> grid; ///< Grid expressions, as written.
  std::array<uint32_t, 3> block{}; ///< Threads per block.
  uint32_t sharedBytes = 0;        ///< Dynamic shared memory in bytes.
  /// Indices into Bundle::arguments(), then (from arguments().size() on)
  /// into Bundle::scratch().
  std::vector<size_t> args;
  KernelAbi abi = KernelAbi::MemRef;
};

/// A check of an argument's data that only the kernels can make (e.g.
/// bucket ids in range): they count the invalid values in a scratch buffer
/// of one i32, which launch() zeroes before the kernels and reads after
/// them; a non-zero count fails the launch with an error naming the
/// argument (the kernels then write no output).
struct InputCheckSpec {
  size_t scratch = 0;  ///< Index into Bundle::scratch().
  size_t argument = 0; ///< Index into Bundle::arguments().
  std::string message; ///< What is invalid, e.g. "bucket ids outside [0, 8)".
};

//===----------------------------------------------------------------------===//
// Caller tensors and launch plans
//===----------------------------------------------------------------------===//

/// A caller's tensor: a device pointer with its dtype, shape and strides (in
/// elements). Empty `strides` means contiguous row-major.
struct TensorRef {
  void *data = nullptr;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
};

/// One launch after validation.
struct PlannedLaunch {
  size_t launch = 0;              ///< Index into Bundle::launches().
  std::array<uint32_t, 3> grid{}; ///< Evaluated grid.
  bool skipped = false;           ///< Some grid extent is 0: not launched.
};

/// One scratch buffer after validation: its place in the workspace.
struct PlannedScratch {
  std::vector<int64_t> shape;
  uint64_t offset = 0; ///< Bytes from the workspace's start (256-aligned).
  uint64_t bytes = 0;
};

/// What validate() derives from the caller's tensors: the value of every
/// shape symbol, the evaluated grid of every launch and the layout of the
/// scratch buffers in one workspace.
struct LaunchPlan {
  /// (symbol, value) in order of first appearance in the manifest.
  std::vector<std::pair<std::string, int64_t>> symbols;
  std::vector<PlannedLaunch> launches;
  std::vector<PlannedScratch> scratch;
  /// The workspace the scratch buffers need (0 without scratch).
  uint64_t workspaceBytes = 0;

  /// The value bound to `name`; nullopt if the bundle has no such symbol.
  std::optional<int64_t> symbol(std::string_view name) const;
};

//===----------------------------------------------------------------------===//
// CUDA driver
//===----------------------------------------------------------------------===//

/// The CUDA driver library, loaded with dlopen; opaque to users.
class Driver;

/// The process-wide driver, dlopen("libcuda.so.1"), loaded on first use and
/// kept for the life of the process. Fails with "CUDA driver libcuda.so.1 not
/// found: <dlerror>" when the library is absent, or with the failing entry
/// point or cuInit error otherwise. Thread-safe.
Result<std::shared_ptr<Driver>> systemDriver();

/// Loads a driver from `library` (a path or soname); for tests and unusual
/// installations. Each call returns a new Driver object.
Result<std::shared_ptr<Driver>> openDriver(const std::string &library);

//===----------------------------------------------------------------------===//
// Bundle
//===----------------------------------------------------------------------===//

/// A loaded bundle. Loading reads and checks the manifest and reads the PTX
/// text; nothing touches a GPU until the first launch(). validate() is
/// thread-safe; launch() may be called from several threads.
class Bundle {
public:
  /// Loads the bundle in `directory`. Errors name the manifest file, the
  /// line and column, and the field (e.g. "launches[0].grid[1]").
  static Result<std::unique_ptr<Bundle>> load(const std::string &directory);

  ~Bundle();
  Bundle(const Bundle &) = delete;
  Bundle &operator=(const Bundle &) = delete;

  const std::string &directory() const;
  const std::string &name() const;
  const std::string &target() const;
  /// The PTX file name, relative to directory().
  const std::string &ptxFile() const;
  /// The PTX text.
  const std::string &ptx() const;
  const std::vector<ArgumentSpec> &arguments() const;
  /// Constraint expressions, as written.
  const std::vector<std::string> &constraints() const;
  const std::vector<LaunchSpec> &launches() const;
  /// Scratch buffers: memory the kernels share within one call, laid out in
  /// one workspace (LaunchPlan::scratch).
  const std::vector<ArgumentSpec> &scratch() const;
  /// The checks of argument data the kernels make (InputCheckSpec).
  const std::vector<InputCheckSpec> &inputChecks() const;
  /// Whether launch() reads the input checks' counts back (the default):
  /// one stream synchronization per call of a bundle with input checks.
  /// Off, launch() stays asynchronous (e.g. under CUDA graph capture): the
  /// kernels still write nothing on bad data, but no error reports it.
  void setReadInputChecks(bool read);
  bool readsInputChecks() const;
  /// Every shape symbol, in order of first appearance.
  const std::vector<std::string> &symbols() const;

  /// Checks `args` (matched by position) against the manifest: count, dtype,
  /// rank, static extents, symbol agreement, row-major contiguity, non-null
  /// data, constraints; then evaluates every grid. Needs no GPU.
  Result<LaunchPlan> validate(const std::vector<TensorRef> &args) const;

  /// Validates `args`, checks that every non-empty tensor is device memory
  /// on the current context's device, loads the PTX module for the current
  /// context if needed, and launches every non-skipped kernel in order on
  /// `stream`. With no current context the primary context of device 0 is
  /// retained and made current on the calling thread. Uses systemDriver().
  /// On a validation error nothing is launched; when every launch has an
  /// empty grid, it succeeds without touching the driver.
  Status launch(const std::vector<TensorRef> &args, CUstream stream);

  /// As launch(args, stream), with an explicit driver.
  Status launch(const std::vector<TensorRef> &args, CUstream stream,
                const std::shared_ptr<Driver> &driver);

  /// As launch(args, stream), with the scratch buffers in the caller's
  /// device memory `workspace` of `workspaceBytes` bytes (256-byte
  /// aligned, at least validate(args)->workspaceBytes), e.g. from a
  /// framework's caching allocator; the caller keeps it alive until the
  /// stream has run the kernels. Without it (the overloads above) the
  /// bundle owns one workspace per (context, stream), allocated on first
  /// need, grown (after synchronizing that stream) when a call needs more,
  /// and freed with the bundle: no allocation per call in steady state.
  Status launch(const std::vector<TensorRef> &args, CUstream stream,
                void *workspace, uint64_t workspaceBytes);
  Status launch(const std::vector<TensorRef> &args, CUstream stream,
                void *workspace, uint64_t workspaceBytes,
                const std::shared_ptr<Driver> &driver);

  struct Impl;

private:
  explicit Bundle(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace runtime
} // namespace attn

#endif // ATTN_RUNTIME_RUNTIME_H
