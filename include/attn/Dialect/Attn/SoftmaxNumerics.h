//===- SoftmaxNumerics.h - the online softmax's scalar formulas -*- C++ -*-===//
//
// The one definition of the online softmax's per-row arithmetic, in the
// log2 domain (scores already multiplied by scale · log2(e)). The CPU
// lowering of attn.tile.online_softmax / attn.tile.finalize, their per-op
// GPU lowering and the fused GPU emitters all build these formulas through
// this header, each with its own exp2 (math.exp2 on the CPU,
// ex2.approx.ftz on NVIDIA GPUs):
//
//   rises  = T > m + threshold                     (T: the row's tile max)
//   m'     = rises ? max(m, T) : m                 (lazy running max)
//   shift  = m' = -inf ? 0 : m'                    (no -inf - -inf)
//   alpha  = m' = -inf ? 1 : exp2(m - shift)
//   p      = exp2(s - shift)
//   LSE    = l = 0 ? -inf : m ln 2 + ln l          (natural log)
//   1 / l  = l = 0 ? 0 : 1 / l                     (empty rows give O = 0)
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_SOFTMAXNUMERICS_H
#define ATTN_DIALECT_ATTN_SOFTMAXNUMERICS_H

#include "mlir/IR/Builders.h"

namespace attn {
namespace softmax {

/// log2(e): scores times scale · kLog2E are in the log2 domain.
constexpr double kLog2E = 1.44269504088896340736;
/// ln(2): a log2-domain max times kLn2 is in natural-log units.
constexpr double kLn2 = 0.693147180559945309417;

/// `rises`: whether the row's tile max `tileMax` exceeds the running max
/// `oldMax` by more than `threshold`.
mlir::Value buildRises(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::Value oldMax, mlir::Value tileMax,
                       float threshold);

/// The new running max of a row and the values derived from it.
struct RowUpdate {
  mlir::Value newMax, shift, alpha;
};

/// Builds m', shift and alpha (see the file comment) from the row's old
/// max, its tile max and the decision `rises` (an i1: a row's own
/// buildRises, or a vote over several rows, which may raise a max early but
/// never late). `exp2` builds 2^x for an f32 x.
RowUpdate buildRowUpdate(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::Value oldMax, mlir::Value tileMax,
                         mlir::Value rises,
                         llvm::function_ref<mlir::Value(mlir::Value)> exp2);

/// 1 / l, or 0 for an empty row (l = 0).
mlir::Value buildInverseSum(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::Value sum);

/// The natural-log LSE of a row from its log2-domain max and its sum, or
/// -inf for an empty row.
mlir::Value buildLogSumExp(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value max, mlir::Value sum);

} // namespace softmax
} // namespace attn

#endif // ATTN_DIALECT_ATTN_SOFTMAXNUMERICS_H
