//===- FakeCuda.cpp - A scriptable stand-in for libcuda ---------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// Definitions of the driver entry points declared by <cuda.h> (so that the
// exported names are exactly the ones the real driver exports), backed by
// one global State. Contexts are addresses inside a static array, one per
// device, inside State; modules and functions are heap objects.
//
//===----------------------------------------------------------------------===//

#include "FakeCuda.h"

#include <cstring>
#include <memory>

using attn::fakecuda::State;

namespace {

State &state() {
  static State instance;
  return instance;
}

struct FakeFunction {
  std::string name;
  size_t params = 0;
};

struct FakeModule {
  std::string ptx;
  std::vector<std::unique_ptr<FakeFunction>> functions;
};

} // namespace

extern "C" {

State *attnFakeCudaState() { return &state(); }

CUresult CUDAAPI cuInit(unsigned int) {
  ++state().initCalls;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case CUDA_SUCCESS:
    *name = "CUDA_SUCCESS";
    return CUDA_SUCCESS;
  case CUDA_ERROR_INVALID_VALUE:
    *name = "CUDA_ERROR_INVALID_VALUE";
    return CUDA_SUCCESS;
  case CUDA_ERROR_INVALID_PTX:
    *name = "CUDA_ERROR_INVALID_PTX";
    return CUDA_SUCCESS;
  case CUDA_ERROR_INVALID_DEVICE:
    *name = "CUDA_ERROR_INVALID_DEVICE";
    return CUDA_SUCCESS;
  default:
    *name = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult CUDAAPI cuGetErrorString(CUresult error, const char **text) {
  switch (error) {
  case CUDA_ERROR_INVALID_VALUE:
    *text = "invalid argument";
    return CUDA_SUCCESS;
  case CUDA_ERROR_INVALID_PTX:
    *text = "a PTX JIT compilation failed";
    return CUDA_SUCCESS;
  default:
    *text = "fake error";
    return CUDA_SUCCESS;
  }
}

CUresult CUDAAPI cuDeviceGet(CUdevice *device, int ordinal) {
  if (ordinal < 0 || ordinal >= state().deviceCount)
    return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetAttribute(int *value, CUdevice_attribute attribute,
                                      CUdevice) {
  if (attribute == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
    *value = state().computeMajor;
  else if (attribute == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
    *value = state().computeMinor;
  else
    return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice device) {
  ++state().primaryRetains;
  *context = state().primaryContext(device);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice) {
  --state().primaryRetains;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetCurrent(CUcontext *context) {
  *context = state().current;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetCurrent(CUcontext context) {
  state().current = context;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetDevice(CUdevice *device) {
  if (!state().current)
    return CUDA_ERROR_INVALID_CONTEXT;
  *device = state().deviceOf(state().current);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleLoadDataEx(CUmodule *module, const void *image,
                                    unsigned int numOptions,
                                    CUjit_option *options,
                                    void **optionValues) {
  if (state().moduleLoadResult != CUDA_SUCCESS) {
    char *log = nullptr;
    size_t size = 0;
    for (unsigned i = 0; i < numOptions; ++i) {
      if (options[i] == CU_JIT_ERROR_LOG_BUFFER)
        log = static_cast<char *>(optionValues[i]);
      if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
        size = reinterpret_cast<uintptr_t>(optionValues[i]);
    }
    if (log && size)
      std::strncpy(log, state().moduleLoadLog.c_str(), size);
    return state().moduleLoadResult;
  }
  ++state().moduleLoads;
  auto *loaded = new FakeModule();
  loaded->ptx = static_cast<const char *>(image);
  *module = reinterpret_cast<CUmodule>(loaded);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleGetFunction(CUfunction *function, CUmodule module,
                                     const char *name) {
  auto *loaded = reinterpret_cast<FakeModule *>(module);
  std::string entry = std::string(".entry ") + name + "(";
  size_t at = loaded->ptx.find(entry);
  if (at == std::string::npos)
    return CUDA_ERROR_NOT_FOUND;
  size_t close = loaded->ptx.find(')', at);
  auto fake = std::make_unique<FakeFunction>();
  fake->name = name;
  for (size_t p = loaded->ptx.find(".param", at); p < close;
       p = loaded->ptx.find(".param", p + 1))
    ++fake->params;
  *function = reinterpret_cast<CUfunction>(fake.get());
  loaded->functions.push_back(std::move(fake));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleUnload(CUmodule module) {
  ++state().moduleUnloads;
  delete reinterpret_cast<FakeModule *>(module);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncSetAttribute(CUfunction function,
                                    CUfunction_attribute attribute, int value) {
  if (attribute != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
    return CUDA_ERROR_INVALID_VALUE;
  state().sharedAttributes.emplace_back(
      reinterpret_cast<FakeFunction *>(function)->name, value);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLaunchKernel(CUfunction function, unsigned int gridX,
                                unsigned int gridY, unsigned int gridZ,
                                unsigned int blockX, unsigned int blockY,
                                unsigned int blockZ, unsigned int sharedBytes,
                                CUstream stream, void **kernelParams,
                                void **extra) {
  auto *fake = reinterpret_cast<FakeFunction *>(function);
  if (fake->name == state().failLaunchOf || extra)
    return CUDA_ERROR_INVALID_VALUE;
  attn::fakecuda::Launch launch;
  launch.kernel = fake->name;
  launch.grid[0] = gridX;
  launch.grid[1] = gridY;
  launch.grid[2] = gridZ;
  launch.block[0] = blockX;
  launch.block[1] = blockY;
  launch.block[2] = blockZ;
  launch.sharedBytes = sharedBytes;
  launch.stream = stream;
  for (size_t p = 0; p < fake->params; ++p) {
    uint64_t value;
    std::memcpy(&value, kernelParams[p], sizeof(value));
    launch.params.push_back(value);
  }
  state().launches.push_back(std::move(launch));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuPointerGetAttribute(void *data,
                                       CUpointer_attribute attribute,
                                       CUdeviceptr pointer) {
  for (const attn::fakecuda::Allocation &allocation : state().allocations) {
    if (pointer < allocation.begin || pointer >= allocation.end)
      continue;
    if (attribute == CU_POINTER_ATTRIBUTE_MEMORY_TYPE) {
      *static_cast<unsigned int *>(data) =
          allocation.onHost ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE;
      return CUDA_SUCCESS;
    }
    if (attribute == CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL) {
      *static_cast<int *>(data) = allocation.device;
      return CUDA_SUCCESS;
    }
    return CUDA_ERROR_INVALID_VALUE;
  }
  // Like pageable host memory: unknown to the driver.
  return CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuMemAlloc(CUdeviceptr *pointer, size_t bytes) {
  // Device memory from 0x7f0000000000 up, 256-aligned, never reused.
  static uint64_t next = 0x7f0000000000ull;
  if (bytes == 0)
    return CUDA_ERROR_INVALID_VALUE;
  *pointer = next;
  int device = state().current ? state().deviceOf(state().current) : 0;
  state().allocations.push_back({next, next + bytes, device, false});
  state().memAllocs.push_back({next, bytes});
  next += (bytes + 255) / 256 * 256;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree(CUdeviceptr pointer) {
  state().memFrees.push_back(pointer);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr address, unsigned int value,
                                  size_t count, CUstream stream) {
  state().memsets.push_back(
      {address, count * 4, value, stream, state().launches.size()});
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyDtoHAsync(void *host, CUdeviceptr address,
                                   size_t bytes, CUstream stream) {
  state().copiesToHost.push_back(
      {address, bytes, 0, stream, state().launches.size()});
  std::memset(host, 0, bytes);
  for (auto [word, value] : state().deviceWords)
    if (word == address && bytes == sizeof(value))
      std::memcpy(host, &value, sizeof(value));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamSynchronize(CUstream stream) {
  state().synchronizedStreams.push_back(stream);
  return CUDA_SUCCESS;
}

} // extern "C"
