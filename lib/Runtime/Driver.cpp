//===- Driver.cpp - The CUDA driver API, loaded with dlopen -----*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"

#include <dlfcn.h>

namespace attn {
namespace runtime {

#define ATTN_STRINGIFY_IMPL(x) #x
/// The linker-visible name of a driver function after <cuda.h>'s renaming
/// macros (cuDevicePrimaryCtxRelease -> "cuDevicePrimaryCtxRelease_v2").
#define ATTN_STRINGIFY(x) ATTN_STRINGIFY_IMPL(x)

Result<std::shared_ptr<Driver>> Driver::open(const std::string &library) {
  // Clear a stale dlerror() so that the message below is this call's.
  dlerror();
  void *handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *reason = dlerror();
    return Error("CUDA driver " + library +
                 " not found: " + (reason ? reason : "unknown dlopen error"));
  }
  std::shared_ptr<Driver> driver(new Driver());
  driver->handle = handle;

#define ATTN_RESOLVE_ENTRY_POINT(name)                                         \
  {                                                                            \
    dlerror();                                                                 \
    void *symbol = dlsym(handle, ATTN_STRINGIFY(name));                        \
    if (!symbol) {                                                             \
      const char *reason = dlerror();                                          \
      return Error("CUDA driver " + library + " lacks entry point " +          \
                   ATTN_STRINGIFY(name) + ": " +                               \
                   (reason ? reason : "null symbol"));                         \
    }                                                                          \
    driver->name = reinterpret_cast<decltype(driver->name)>(symbol);           \
  }
  ATTN_CUDA_ENTRY_POINTS(ATTN_RESOLVE_ENTRY_POINT)
#undef ATTN_RESOLVE_ENTRY_POINT

  if (CUresult result = driver->cuInit(0); result != CUDA_SUCCESS)
    return Error("cuInit failed: " + driver->describe(result));
  return driver;
}

Driver::~Driver() {
  if (cuDevicePrimaryCtxRelease)
    for (const auto &entry : retained)
      cuDevicePrimaryCtxRelease(entry.first);
  if (handle)
    dlclose(handle);
}

std::string Driver::describe(CUresult result) const {
  const char *name = nullptr;
  const char *text = nullptr;
  if (cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    return "CUDA error " + std::to_string(static_cast<int>(result));
  std::string message = name;
  if (cuGetErrorString(result, &text) == CUDA_SUCCESS && text)
    message += std::string(" (") + text + ")";
  return message;
}

Result<CUcontext> Driver::currentContext() {
  CUcontext context = nullptr;
  if (CUresult result = cuCtxGetCurrent(&context); result != CUDA_SUCCESS)
    return Error("cuCtxGetCurrent failed: " + describe(result));
  if (context)
    return context;

  std::lock_guard<std::mutex> lock(mutex);
  CUdevice device;
  if (CUresult result = cuDeviceGet(&device, 0); result != CUDA_SUCCESS)
    return Error("no current CUDA context, and cuDeviceGet(0) failed: " +
                 describe(result));
  auto it = retained.find(device);
  if (it == retained.end()) {
    if (CUresult result = cuDevicePrimaryCtxRetain(&context, device);
        result != CUDA_SUCCESS)
      return Error("no current CUDA context, and retaining the primary "
                   "context of device 0 failed: " +
                   describe(result));
    it = retained.emplace(device, context).first;
  }
  if (CUresult result = cuCtxSetCurrent(it->second); result != CUDA_SUCCESS)
    return Error("making the primary context of device 0 current failed: " +
                 describe(result));
  return it->second;
}

Result<std::shared_ptr<Driver>> systemDriver() {
  // Loaded once and never unloaded: kernels may still be running, and other
  // static destructors may still call into the driver at exit.
  static const auto *driver =
      new Result<std::shared_ptr<Driver>>(Driver::open("libcuda.so.1"));
  return *driver;
}

Result<std::shared_ptr<Driver>> openDriver(const std::string &library) {
  return Driver::open(library);
}

} // namespace runtime
} // namespace attn
