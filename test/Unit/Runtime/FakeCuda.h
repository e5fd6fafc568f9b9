//===- FakeCuda.h - A scriptable stand-in for libcuda -----------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// libAttnFakeCuda.so exports the driver entry points the runtime dlsyms and
// records what they were asked to do, so that the launch path (contexts,
// pointer checks, module loading, kernel parameters, error reporting) is
// tested on machines without a GPU. Tests reach the state through
// attnFakeCudaState(), looked up with dlsym on the same library.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TEST_UNIT_RUNTIME_FAKECUDA_H
#define ATTN_TEST_UNIT_RUNTIME_FAKECUDA_H

#include <cuda.h>

#include <cstdint>
#include <string>
#include <vector>

namespace attn {
namespace fakecuda {

/// One recorded cuLaunchKernel call.
struct Launch {
  std::string kernel;
  unsigned grid[3];
  unsigned block[3];
  unsigned sharedBytes;
  CUstream stream;
  /// The kernel parameters, read as 8-byte values; the count comes from the
  /// kernel's .param list in the loaded PTX.
  std::vector<uint64_t> params;
};

/// A range of fake memory [begin, end).
struct Allocation {
  uint64_t begin, end;
  int device;  ///< Device ordinal.
  bool onHost; ///< Pinned host memory rather than device memory.
};

struct State {
  // Configuration.
  int deviceCount = 2;
  int computeMajor = 8, computeMinor = 0;
  std::vector<Allocation> allocations;
  /// cuLaunchKernel of this kernel fails with CUDA_ERROR_INVALID_VALUE.
  std::string failLaunchOf;
  /// cuModuleLoadDataEx fails with this result (and writes moduleLoadLog
  /// into the error log buffer) unless CUDA_SUCCESS.
  CUresult moduleLoadResult = CUDA_SUCCESS;
  std::string moduleLoadLog;
  /// cuMemcpyDtoHAsync of 4 bytes from this device address reads this
  /// value (what a kernel would have written there); other reads read 0.
  std::vector<std::pair<uint64_t, uint32_t>> deviceWords;

  // Observations.
  CUcontext current = nullptr;
  int initCalls = 0;
  int primaryRetains = 0;
  int moduleLoads = 0;
  int moduleUnloads = 0;
  /// (kernel, bytes) per cuFuncSetAttribute of the dynamic shared size.
  std::vector<std::pair<std::string, int>> sharedAttributes;
  std::vector<Launch> launches;
  /// cuMemAlloc: the blocks handed out (256-aligned, from a range of its
  /// own, recorded in `allocations` on the current context's device);
  /// cuMemFree: the pointers freed; cuStreamSynchronize: the streams.
  std::vector<std::pair<uint64_t, size_t>> memAllocs;
  std::vector<uint64_t> memFrees;
  std::vector<CUstream> synchronizedStreams;
  /// cuMemsetD32Async: (address, value, count, stream); cuMemcpyDtoHAsync:
  /// (device address, bytes, stream). In call order, with the launches'
  /// position: `launchesBefore` is launches.size() at the call.
  struct MemOp {
    uint64_t address;
    size_t bytes;
    uint32_t value;
    CUstream stream;
    size_t launchesBefore;
  };
  std::vector<MemOp> memsets, copiesToHost;

  /// The context handle of device `ordinal`'s primary context.
  CUcontext primaryContext(int ordinal) {
    return reinterpret_cast<CUcontext>(&contexts[ordinal]);
  }
  /// The device of a context made by primaryContext.
  int deviceOf(CUcontext context) {
    return static_cast<int>(reinterpret_cast<char *>(context) - contexts);
  }

private:
  char contexts[8] = {};
};

} // namespace fakecuda
} // namespace attn

extern "C" attn::fakecuda::State *attnFakeCudaState();

#endif // ATTN_TEST_UNIT_RUNTIME_FAKECUDA_H
