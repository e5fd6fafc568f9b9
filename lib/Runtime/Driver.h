//===- Driver.h - The CUDA driver API, loaded with dlopen -------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// The runtime never links libcuda: it dlopens the driver and dlsyms the few
// entry points it needs, so that it builds and loads on machines without a
// GPU and reports a missing driver as an ordinary error. Entry point names
// are taken from <cuda.h> after macro expansion, so versioned names such as
// cuDevicePrimaryCtxRelease_v2 are looked up exactly as a direct call to the
// API would bind them.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_RUNTIME_DRIVER_H
#define ATTN_LIB_RUNTIME_DRIVER_H

#include "attn/Runtime/Runtime.h"

#include <cuda.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace attn {
namespace runtime {

/// Applies X to every driver entry point the runtime uses.
#define ATTN_CUDA_ENTRY_POINTS(X)                                              \
  X(cuInit)                                                                    \
  X(cuGetErrorName)                                                            \
  X(cuGetErrorString)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetAttribute)                                                      \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuDevicePrimaryCtxRelease)                                                 \
  X(cuCtxGetCurrent)                                                           \
  X(cuCtxSetCurrent)                                                           \
  X(cuCtxGetDevice)                                                            \
  X(cuModuleLoadDataEx)                                                        \
  X(cuModuleGetFunction)                                                       \
  X(cuModuleUnload)                                                            \
  X(cuFuncSetAttribute)                                                        \
  X(cuLaunchKernel)                                                            \
  X(cuPointerGetAttribute)                                                     \
  X(cuMemAlloc)                                                                \
  X(cuMemFree)                                                                 \
  X(cuMemsetD32Async)                                                          \
  X(cuMemcpyDtoHAsync)                                                         \
  X(cuStreamSynchronize)

/// A loaded CUDA driver library. Each entry point is a member function
/// pointer of the same name (e.g. driver.cuLaunchKernel(...)).
class Driver {
public:
  /// dlopens `library`, resolves every entry point and calls cuInit(0).
  static Result<std::shared_ptr<Driver>> open(const std::string &library);

  /// Releases the primary contexts this driver retained and dlcloses it.
  ~Driver();
  Driver(const Driver &) = delete;
  Driver &operator=(const Driver &) = delete;

#define ATTN_DECLARE_ENTRY_POINT(name) decltype(&::name) name = nullptr;
  ATTN_CUDA_ENTRY_POINTS(ATTN_DECLARE_ENTRY_POINT)
#undef ATTN_DECLARE_ENTRY_POINT

  /// "CUDA_ERROR_NAME (description)" for `result`.
  std::string describe(CUresult result) const;

  /// The current context; with none, retains device 0's primary context
  /// (once per driver object) and makes it current.
  Result<CUcontext> currentContext();

private:
  Driver() = default;

  void *handle = nullptr;
  std::mutex mutex;
  std::map<CUdevice, CUcontext> retained;
};

} // namespace runtime
} // namespace attn

#endif // ATTN_LIB_RUNTIME_DRIVER_H
