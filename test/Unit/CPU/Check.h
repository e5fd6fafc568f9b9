//===- Check.h - compare kernel outputs with the reference ------*- C++ -*-===//
//
// The comparison used by every CPU-JIT numerics test:
//
//   - no NaN anywhere in O or LSE (the outputs are poisoned with NaN before
//     the call, so this also checks that every element was written);
//   - rows with no allowed key (reference LSE = -inf): O == 0 exactly and
//     LSE == -inf;
//   - other rows: max |O - O_ref| <= tol_O and |LSE - LSE_ref| <= tol_LSE with
//       f32 inputs:  tol_O = 1e-4 * max|O_ref| + 1e-6,        tol_LSE = 1e-5
//       bf16 inputs: tol_O = 2^-7 * max|O_ref| + 1e-3,        tol_LSE = 1e-3
//     (bf16: the output rounding, 2^-9 relative, dominates; the reference
//     gets the bf16-rounded inputs, so input rounding is not an error).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TEST_UNIT_CPU_CHECK_H
#define ATTN_TEST_UNIT_CPU_CHECK_H

#include "JitHarness.h"

#include "attn/Reference/Reference.h"

#include "gtest/gtest.h"

#include <cmath>
#include <sstream>

namespace attn {
namespace cputest {

/// Tolerances of the comparison (see the file comment).
struct Tolerance {
  double outRelative;
  double outAbsolute;
  double lse;
};

inline Tolerance toleranceFor(DType dtype) {
  if (dtype == DType::F32)
    return {1e-4, 1e-6, 1e-5};
  return {std::ldexp(1.0, -7), 1e-3, 1e-3};
}

/// Compares `run` with `expected` for the problem `p`; returns a gtest
/// assertion result naming the first offending element.
inline ::testing::AssertionResult
matchesReference(const Problem &p, const RunBuffers &run,
                 const reference::AttentionResult &expected) {
  const std::vector<double> &refOut = expected.out.data();
  const std::vector<double> &refLse = expected.lse.data();
  if (run.out.size() != refOut.size())
    return ::testing::AssertionFailure()
           << "O has " << run.out.size() << " elements, expected "
           << refOut.size();
  if (p.withLse && run.lse.size() != refLse.size())
    return ::testing::AssertionFailure()
           << "LSE has " << run.lse.size() << " elements, expected "
           << refLse.size();

  double maxRef = 0;
  for (double x : refOut)
    maxRef = std::max(maxRef, std::abs(x));
  Tolerance tol = toleranceFor(p.dtype);
  double outTol = tol.outRelative * maxRef + tol.outAbsolute;

  int64_t d = p.headDim;
  int64_t rows = p.batch * p.queryHeads * p.queryLen;
  double maxErr = 0, maxLseErr = 0;
  int64_t emptyRows = 0;
  auto where = [&](int64_t row) {
    std::ostringstream os;
    int64_t i = row % p.queryLen, bh = row / p.queryLen;
    os << "(b=" << bh / p.queryHeads << ", h=" << bh % p.queryHeads
       << ", i=" << i << ")";
    return os.str();
  };
  for (int64_t row = 0; row < rows; ++row) {
    bool empty = std::isinf(refLse[row]) && refLse[row] < 0;
    emptyRows += empty;
    for (int64_t e = 0; e < d; ++e) {
      float got = run.out[row * d + e];
      double want = refOut[row * d + e];
      if (std::isnan(got))
        return ::testing::AssertionFailure()
               << "O" << where(row) << "[" << e
               << "] is NaN (never written, or computed as NaN)";
      if (empty) {
        if (got != 0.0f)
          return ::testing::AssertionFailure()
                 << "row " << where(row) << " has no allowed key but O[" << e
                 << "] = " << got << " (expected exactly 0)";
        continue;
      }
      double err = std::abs(static_cast<double>(got) - want);
      if (!(err <= outTol))
        return ::testing::AssertionFailure()
               << "O" << where(row) << "[" << e << "] = " << got
               << ", reference " << want << ", |error| " << err
               << " > tolerance " << outTol << " (max|O_ref| " << maxRef << ")";
      maxErr = std::max(maxErr, err);
    }
    if (!p.withLse)
      continue;
    float got = run.lse[row];
    if (std::isnan(got))
      return ::testing::AssertionFailure()
             << "LSE" << where(row) << " is NaN (never written, or computed "
             << "as NaN)";
    if (empty) {
      if (!(std::isinf(got) && got < 0))
        return ::testing::AssertionFailure()
               << "row " << where(row)
               << " has no allowed key but LSE = " << got << " (expected -inf)";
      continue;
    }
    double err = std::abs(static_cast<double>(got) - refLse[row]);
    if (!(err <= tol.lse))
      return ::testing::AssertionFailure()
             << "LSE" << where(row) << " = " << got << ", reference "
             << refLse[row] << ", |error| " << err << " > tolerance "
             << tol.lse;
    maxLseErr = std::max(maxLseErr, err);
  }
  return ::testing::AssertionSuccess()
         << "max |O error| " << maxErr << " (tolerance " << outTol
         << "), max |LSE error| " << maxLseErr << ", " << emptyRows
         << " empty rows";
}

/// The reference result of the run's inputs for the problem (the kernel's
/// scale is 1/sqrt(D) rounded to f32, as attn-plan stores it).
/// `mask` replaces the problem's own (e.g. a block mask a test builds).
inline reference::AttentionResult referenceResult(const Problem &p,
                                                  const RunBuffers &run,
                                                  const reference::Mask &mask) {
  double scale = static_cast<float>(1.0 / std::sqrt(double(p.headDim)));
  return reference::attention(run.q, run.k, run.v, mask, scale);
}
inline reference::AttentionResult referenceResult(const Problem &p,
                                                  const RunBuffers &run) {
  return referenceResult(p, run, referenceMask(p));
}

} // namespace cputest
} // namespace attn

#endif // ATTN_TEST_UNIT_CPU_CHECK_H
