//===- TestUtil.h - Helpers for the reference-semantics tests ---*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TEST_UNIT_REFERENCE_TESTUTIL_H
#define ATTN_TEST_UNIT_REFERENCE_TESTUTIL_H

#include "attn/Reference/Reference.h"

#include "gtest/gtest.h"

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>

namespace attn {
namespace reference {
namespace test {

constexpr double kTol = 1e-10;
constexpr double kInf = std::numeric_limits<double>::infinity();

/// A fresh seed per call (std::random_device), so every run explores new
/// inputs; tests print it through SCOPED_TRACE.
inline uint64_t freshSeed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

#define ATTN_SEED_TRACE(seed) SCOPED_TRACE("seed = " + std::to_string(seed))

/// Elementwise |a - b| <= tol * max(1, |a|, |b|); equal infinities match.
template <typename T>
::testing::AssertionResult
tensorsNear(const TensorOf<T> &a, const TensorOf<T> &b, double tol = kTol) {
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shape " << formatShape(a.shape())
                                         << " vs " << formatShape(b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) {
    double x = static_cast<double>(a.data()[i]);
    double y = static_cast<double>(b.data()[i]);
    if (x == y)
      continue;
    double bound = tol * std::max({1.0, std::fabs(x), std::fabs(y)});
    if (std::isnan(x) || std::isnan(y) || !(std::fabs(x - y) <= bound))
      return ::testing::AssertionFailure()
             << "element " << i << " of " << formatShape(a.shape())
             << " differs: " << x << " vs " << y;
  }
  return ::testing::AssertionSuccess();
}

/// Fails unless `body` throws std::invalid_argument whose message contains
/// `name`.
template <typename F>
::testing::AssertionResult throwsNaming(F &&body, const std::string &name) {
  try {
    body();
  } catch (const std::invalid_argument &e) {
    if (std::string(e.what()).find(name) != std::string::npos)
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "message '" << e.what() << "' does not name '" << name << "'";
  } catch (...) {
    return ::testing::AssertionFailure() << "threw something else";
  }
  return ::testing::AssertionFailure() << "did not throw";
}

/// The [B, 1, N, D] slice of head h of a [B, H, N, D] tensor.
inline Tensor headSlice(const Tensor &t, int64_t h) {
  Tensor out({t.dim(0), 1, t.dim(2), t.dim(3)});
  for (int64_t b = 0; b < t.dim(0); ++b)
    for (int64_t i = 0; i < t.dim(2); ++i)
      for (int64_t x = 0; x < t.dim(3); ++x)
        out.at({b, 0, i, x}) = t.at({b, h, i, x});
  return out;
}

/// Same for a [B, H, N] tensor.
inline IntTensor headSlice3(const IntTensor &t, int64_t h) {
  IntTensor out({t.dim(0), 1, t.dim(2)});
  for (int64_t b = 0; b < t.dim(0); ++b)
    for (int64_t i = 0; i < t.dim(2); ++i)
      out.at({b, 0, i}) = t.at({b, h, i});
  return out;
}

/// Independent formulation of masked softmax attention from explicit 0/1
/// mask matrices, as matrix operations on the whole [Nq, Nk] problem:
/// P = M o exp(S - rowmax), O = diag(P 1)^-1 P V (rows with P 1 = 0 give
/// O = 0, LSE = -inf).
inline AttentionResult
attentionFromMatrices(const Tensor &q, const Tensor &k, const Tensor &v,
                      const std::function<IntTensor(int64_t, int64_t)> &masks,
                      std::optional<double> scale = std::nullopt) {
  int64_t batch = q.dim(0), hq = q.dim(1), nq = q.dim(2), nk = k.dim(2);
  int64_t dv = v.dim(3), group = q.dim(1) / k.dim(1);
  AttentionResult r{Tensor({batch, hq, nq, dv}), Tensor({batch, hq, nq})};
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < hq; ++h) {
      Tensor s = scoreMatrix(q, k, b, h, scale);
      IntTensor m = masks(b, h);
      for (int64_t i = 0; i < nq; ++i) {
        double rowMax = -kInf;
        for (int64_t j = 0; j < nk; ++j)
          if (m.at({i, j}))
            rowMax = std::max(rowMax, s.at({i, j}));
        double sum = 0.0;
        std::vector<double> acc(dv, 0.0);
        for (int64_t j = 0; j < nk; ++j) {
          double p = m.at({i, j}) ? std::exp(s.at({i, j}) - rowMax) : 0.0;
          sum += p;
          for (int64_t x = 0; x < dv; ++x)
            acc[x] += p * v.at({b, h / group, j, x});
        }
        r.lse.at({b, h, i}) = sum > 0 ? rowMax + std::log(sum) : -kInf;
        for (int64_t x = 0; x < dv; ++x)
          r.out.at({b, h, i, x}) = sum > 0 ? acc[x] / sum : 0.0;
      }
    }
  return r;
}

/// Online-softmax accumulator for one query row (FlashAttention style), used
/// by the tests' tiled and compacted formulations.
struct OnlineRow {
  double max = -kInf, sum = 0.0;
  std::vector<double> acc;
  explicit OnlineRow(int64_t dv) : acc(dv, 0.0) {}
  void add(double score, const std::function<double(int64_t)> &value) {
    double newMax = std::max(max, score);
    double rescale = std::exp(max - newMax); // exp(-inf) = 0 at the start.
    double p = std::exp(score - newMax);
    sum = sum * rescale + p;
    for (size_t x = 0; x < acc.size(); ++x)
      acc[x] = acc[x] * rescale + p * value(static_cast<int64_t>(x));
    max = newMax;
  }
  double lse() const { return sum > 0 ? max + std::log(sum) : -kInf; }
  double out(int64_t x) const { return sum > 0 ? acc[x] / sum : 0.0; }
};

} // namespace test
} // namespace reference
} // namespace attn

#endif // ATTN_TEST_UNIT_REFERENCE_TESTUTIL_H
