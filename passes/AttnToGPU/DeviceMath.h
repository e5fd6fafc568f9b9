//===- DeviceMath.h - math ops in kernels, without libdevice ----*- C++ -*-===//
//
// The upstream NVVM lowering turns math.fma, math.floor, math.ceil,
// math.trunc and math.log into calls to libdevice (__nv_fmaf, __nv_logf,
// ...), which gpu-module-to-binary links only when it finds the CUDA
// toolkit through the environment (CUDA_HOME and the like). Without it the
// PTX keeps unresolved extern calls that ptxas and the driver reject, so a
// bundle would depend on the environment it was compiled in. attn-to-gpu
// therefore rewrites these ops in its launches to what the NVPTX backend
// selects directly:
//   fma, trunc              -> the LLVM intrinsics (fma.rn, cvt.rzi)
//   floor, ceil             -> trunc, a compare and a select (upstream
//                              sends llvm.floor and llvm.ceil to libdevice)
//   log(x) (f32)            -> lg2.approx.f32(x) * ln 2 (relative error
//                              below 2^-22, used for the LSE's log(sum))
// Any other math op with a libdevice lowering is diagnosed, so that a new
// one cannot slip through.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_DEVICEMATH_H
#define ATTN_PASSES_ATTNTOGPU_DEVICEMATH_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Support/LogicalResult.h"

namespace attn {

/// Rewrites the math ops in `launch`'s body as the file comment says;
/// fails (with a diagnostic) on a math op it has no rewrite for.
mlir::LogicalResult lowerDeviceMath(mlir::gpu::LaunchOp launch);

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_DEVICEMATH_H
