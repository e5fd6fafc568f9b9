//===- JitHarness.h - compile and run attn kernels on the CPU ---*- C++ -*-===//
//
// Test harness for the CPU-JIT numerics tests: generates the L0 IR of one
// attention configuration, lowers it with attn-lower-to-cpu, JIT-compiles it
// with the MLIR ExecutionEngine (compiled kernels are cached per IR text and
// pipeline options), runs it on host buffers and returns O and LSE as floats.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TEST_UNIT_CPU_JITHARNESS_H
#define ATTN_TEST_UNIT_CPU_JITHARNESS_H

#include "attn/Reference/Mask.h"
#include "attn/Reference/Tensor.h"

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace mlir {
class ExecutionEngine;
} // namespace mlir

namespace attn {
namespace cputest {

//===----------------------------------------------------------------------===//
// bf16 helpers
//===----------------------------------------------------------------------===//

/// f32 -> bf16 with round-to-nearest-even (NaN stays a quiet NaN).
inline uint16_t floatToBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

/// bf16 -> f32 (exact).
inline float bf16ToFloat(uint16_t value) {
  uint32_t bits = static_cast<uint32_t>(value) << 16;
  float result;
  std::memcpy(&result, &bits, sizeof(result));
  return result;
}

/// A quiet-NaN bf16 pattern used to poison output buffers.
constexpr uint16_t kBF16PoisonNaN = 0x7fc1;

//===----------------------------------------------------------------------===//
// Problem description
//===----------------------------------------------------------------------===//

enum class DType { F32, BF16 };

enum class MaskKind {
  None,           ///< every key allowed
  Causal,         ///< attn.mask.causal
  Window,         ///< attn.mask.window `window`
  PrefixLM,       ///< custom: j < prefix || j <= i
  EvenKeys,       ///< custom: j % 2 == 0
  OddQueries,     ///< custom: i % 2 == 1 (even rows have no allowed key)
  CausalEvenKeys, ///< attn.mask.and(causal, custom j % 2 == 0)
  WindowPrefixLM, ///< attn.mask.and(window, custom prefix-LM)
  RowLimit,       ///< attn.mask.and(causal, custom (b, h, i, j):
                  ///< j < limits[b, h, i]), limits an extra i32 argument
};

/// The per-row key limit of MaskKind::RowLimit at (b, h, i): a mix of
/// rows cut short, whole rows and rows with no key (limit <= 0).
int32_t rowLimit(int64_t keyLen, int64_t b, int64_t h, int64_t i);

/// One attention problem: shapes, dtype, mask, pipeline options.
struct Problem {
  DType dtype = DType::F32;
  int64_t headDim = 64;
  int64_t batch = 1;
  int64_t queryHeads = 1;
  int64_t kvHeads = 1;
  int64_t queryLen = 1;
  int64_t keyLen = 1;
  MaskKind mask = MaskKind::None;
  int64_t window = 16; ///< MaskKind::Window, WindowPrefixLM
  int64_t prefix = 8;  ///< MaskKind::PrefixLM, WindowPrefixLM
  bool withLse = true;
  int64_t blockQ = 64; ///< attn-lower-to-cpu block-q
  int64_t blockK = 64; ///< attn-lower-to-cpu block-k
};

/// A readable, gtest-safe name of a problem ([A-Za-z0-9_] only).
std::string problemName(const Problem &problem);

/// Prints the problem by name in gtest messages.
inline void PrintTo(const Problem &problem, std::ostream *os) {
  *os << problemName(problem);
}

/// The L0 IR (one func.func @attn_kernel with llvm.emit_c_interface) of the
/// problem. Shapes B, H, N are dynamic, so the text depends only on dtype,
/// head dim, mask and whether LSE is produced.
std::string kernelIR(const Problem &problem);

/// The attn-lower-to-cpu options string of the problem, e.g.
/// "block-q=64 block-k=64".
std::string pipelineOptions(const Problem &problem);

/// The reference mask of the problem (same predicate as the IR).
reference::Mask referenceMask(const Problem &problem);

//===----------------------------------------------------------------------===//
// Compilation and execution
//===----------------------------------------------------------------------===//

/// A JIT-compiled kernel.
class Kernel {
public:
  Kernel(std::unique_ptr<mlir::ExecutionEngine> engine, std::string name);
  ~Kernel();

  /// Calls `_mlir_ciface_<name>` with the given memref descriptors (each a
  /// pointer to a StridedMemRefType). Returns an error message, empty on
  /// success.
  std::string invoke(std::vector<void *> descriptors) const;

private:
  std::unique_ptr<mlir::ExecutionEngine> engine;
  std::string name;
};

/// Lowers `ir` (which must define `func.func @<function>` with
/// llvm.emit_c_interface) with `pipeline` (the textual passes to run on the
/// module, e.g. "attn-to-cpu,convert-to-llvm"),
/// then JIT-compiles it. Results are cached per (ir, pipeline) for the life
/// of the process. On failure returns null and sets `error` to the
/// diagnostics.
const Kernel *compileKernel(const std::string &ir, const std::string &pipeline,
                            const std::string &function, std::string &error);

/// Compiles the problem's kernel with attn::buildLowerToCPUPipeline (cached).
const Kernel *compileProblem(const Problem &problem, std::string &error);

/// Host buffers of one run and the kernel outputs converted to f32.
struct RunBuffers {
  /// Inputs as the kernel sees them (already rounded to the dtype), row-major
  /// Q [B, Hq, Nq, D], K [B, Hk, Nk, D], V [B, Hk, Nk, D].
  reference::Tensor q, k, v;
  /// Outputs: O [B, Hq, Nq, D] and LSE [B, Hq, Nq] (empty without LSE),
  /// converted to f32 (NaN where the kernel left the poison).
  std::vector<float> out, lse;
};

/// An extra integer argument of a kernel (e.g. a block mask or tile
/// lists): row-major data of rank 1 to 4, passed as i32 or as one byte per
/// element (i8, or i1 holding 0 or 1).
struct IntArgument {
  std::vector<int64_t> shape;
  std::vector<int32_t> data;
  bool bytes = false;
};

/// Draws random inputs from `seed` (Q, K uniform in [-2, 2), V in [-1, 1)),
/// rounds them to the problem's dtype, poisons O and LSE with NaN, runs the
/// kernel and returns the buffers. The kernel's arguments are Q, K, V, O,
/// LSE (if the problem has it), the limits of MaskKind::RowLimit, then
/// `extra` in order. `shapeInputs`, if set, may then rewrite Q, K and V
/// (values representable in the dtype, e.g. built from what was drawn)
/// before they reach the kernel. Returns an error message, empty on
/// success.
std::string
runProblem(const Kernel &kernel, const Problem &problem, uint64_t seed,
           RunBuffers &buffers, const std::vector<IntArgument> &extra = {},
           const std::function<void(RunBuffers &)> &shapeInputs = {});

/// The seed for a test: ATTN_TEST_SEED from the environment if set, else a
/// fresh value from std::random_device.
uint64_t testSeed();

} // namespace cputest
} // namespace attn

#endif // ATTN_TEST_UNIT_CPU_JITHARNESS_H
