//===- ConvBasis.cpp - Conv-basis attention ---------------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// Conv-Basis (Liang et al., arXiv 2405.05219): the causal score matrix H is
// written as a sum of k sub-convolution (lower-triangular Toeplitz) matrices
// recovered from k of its columns; exponentiated term by term through prefix
// sums, the basis gives causal o exp(H) and thus attention as k causal 1-D
// convolutions. Here every convolution is evaluated directly in double.
//
//===----------------------------------------------------------------------===//

#include "attn/Reference/Reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attn {
namespace reference {

namespace {
void validateRecoveryParams(int64_t n, int64_t k, int64_t window, double delta,
                            double eps, const std::string &fn,
                            const std::string &prefix) {
  if (k < 1)
    throwInvalid(fn, prefix + "k", "must be >= 1, got " + std::to_string(k));
  if (window < 1 || window > n)
    throwInvalid(fn, prefix + "window",
                 "(T) must be in [1, n = " + std::to_string(n) + "], got " +
                     std::to_string(window));
  if (!(delta > 0.0) || !std::isfinite(delta))
    throwInvalid(fn, prefix + "delta", "must be finite and > 0");
  if (!(eps >= 0.0) || !std::isfinite(eps))
    throwInvalid(fn, prefix + "eps", "must be finite and >= 0");
}
} // namespace

Tensor subConvMatrix(const std::vector<double> &a, int64_t m) {
  const int64_t n = static_cast<int64_t>(a.size());
  if (m < 1 || m > n)
    throwInvalid("subConvMatrix", "m",
                 "must be in [1, " + std::to_string(n) + "], got " +
                     std::to_string(m));
  Tensor result({n, n});
  for (int64_t c = n - m; c < n; ++c)
    for (int64_t r = c; r < n; ++r)
      result.at({r, c}) = a[r - c];
  return result;
}

Tensor convMatrix(const std::vector<double> &a) {
  if (a.empty())
    throwInvalid("convMatrix", "a", "must not be empty");
  return subConvMatrix(a, static_cast<int64_t>(a.size()));
}

Tensor convBasisMatrix(const std::vector<ConvTerm> &terms, int64_t n) {
  const std::string fn = "convBasisMatrix";
  if (n < 1)
    throwInvalid(fn, "n", "must be >= 1");
  Tensor sum({n, n});
  for (size_t i = 0; i < terms.size(); ++i) {
    const ConvTerm &term = terms[i];
    if (term.m < 1 || term.m > n ||
        static_cast<int64_t>(term.b.size()) != term.m)
      throwInvalid(fn, "terms[" + std::to_string(i) + "]",
                   "must have 1 <= m <= n and b of length m");
    std::vector<double> padded(term.b);
    padded.resize(n, 0.0);
    Tensor part = subConvMatrix(padded, term.m);
    for (int64_t x = 0; x < n * n; ++x)
      sum.data()[x] += part.data()[x];
  }
  return sum;
}

std::vector<ConvTerm> recoverConvBasis(const Tensor &h, int64_t k,
                                       int64_t window, double delta,
                                       double eps) {
  const std::string fn = "recoverConvBasis";
  requireRank(h, 2, fn, "h");
  const int64_t n = h.dim(0);
  if (n < 1 || h.dim(1) != n)
    throwInvalid(fn, "h",
                 "must be square and non-empty, got " + formatShape(h.shape()));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c <= r; ++c)
      if (!std::isfinite(h.at({r, c})))
        throwInvalid(fn, "h",
                     "has a NaN or infinite value in its lower "
                     "triangle");
  validateRecoveryParams(n, k, window, delta, eps, fn, "");

  const int64_t t = n - window;
  const double threshold = delta - 2.0 * static_cast<double>(window) * eps;
  std::vector<double> v(window, 0.0), u(n, 0.0);
  // ||H[j:j+T, j] - v||_1 >= delta - 2 T eps: column j is not explained yet.
  auto differs = [&](int64_t j) {
    double norm = 0.0;
    for (int64_t r = 0; r < window; ++r)
      norm += std::fabs(h.at({j + r, j}) - v[r]);
    return norm >= threshold;
  };
  // BS(lo, hi) of SEMANTICS.md, written as a loop.
  auto search = [&](int64_t lo, int64_t hi) {
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (differs(mid))
        hi = mid;
      else
        lo = mid + 1;
    }
    return hi;
  };
  auto addTerm = [&](int64_t column, std::vector<ConvTerm> &terms) {
    ConvTerm term{std::vector<double>(n - column), n - column};
    for (int64_t r = 0; r < term.m; ++r)
      term.b[r] = h.at({column + r, column}) - u[r];
    for (int64_t r = 0; r < window; ++r)
      v[r] += term.b[r];
    for (int64_t r = 0; r < term.m; ++r)
      u[r] += term.b[r];
    terms.push_back(std::move(term));
  };

  std::vector<ConvTerm> terms;
  addTerm(0, terms); // b_0 = H[:, 0] (u = 0), m_0 = n.
  int64_t s = 0;
  for (int64_t i = 1; i < k; ++i) {
    s = search(s + 1, t);
    addTerm(s, terms);
  }
  return terms;
}

ExpConvBasis expSpaceBasis(const std::vector<ConvTerm> &basis) {
  const std::string fn = "expSpaceBasis";
  if (basis.empty())
    throwInvalid(fn, "basis", "must not be empty");
  for (size_t i = 0; i < basis.size(); ++i) {
    const ConvTerm &term = basis[i];
    if (term.m < 1 || static_cast<int64_t>(term.b.size()) != term.m ||
        (i > 0 && term.m > basis[i - 1].m))
      throwInvalid(fn, "basis[" + std::to_string(i) + "]",
                   "must have b of length m >= 1, m not above the previous");
    for (double x : term.b)
      if (!std::isfinite(x))
        throwInvalid(fn, "basis[" + std::to_string(i) + "]",
                     "has a NaN or infinite value");
  }
  // Prefix sums c_i = sum_{r <= i} b_r on [0, m_i), and their maximum.
  std::vector<std::vector<double>> prefix(basis.size());
  double shift = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < basis.size(); ++i) {
    prefix[i] = basis[i].b;
    for (int64_t r = 0; r < basis[i].m; ++r) {
      if (i > 0)
        prefix[i][r] += prefix[i - 1][r];
      shift = std::max(shift, prefix[i][r]);
    }
  }
  ExpConvBasis result{{}, shift};
  for (size_t i = 0; i < basis.size(); ++i) {
    ConvTerm term{std::vector<double>(basis[i].m), basis[i].m};
    for (int64_t r = 0; r < term.m; ++r) {
      term.b[r] = std::exp(prefix[i][r] - shift);
      if (i > 0)
        term.b[r] -= std::exp(prefix[i - 1][r] - shift);
    }
    result.terms.push_back(std::move(term));
  }
  return result;
}

AttentionResult convAttention(const Tensor &q, const Tensor &k, const Tensor &v,
                              const ConvBasisParams &params) {
  const std::string fn = "convAttention";
  AttentionShape s = attentionShape(q, k, v, fn);
  if (s.queryLen != s.keyLen)
    throwInvalid(fn, "k",
                 "must have as many positions as q (" +
                     std::to_string(s.queryLen) + "), got " +
                     std::to_string(s.keyLen));
  const int64_t n = s.queryLen, d = q.dim(3), dv = v.dim(3);
  double sc = resolveScale(params.scale, d, fn);
  AttentionResult result{Tensor({s.batch, s.queryHeads, n, dv}),
                         Tensor({s.batch, s.queryHeads, n})};
  if (n == 0)
    return result;
  validateRecoveryParams(n, params.k, params.window, params.delta, params.eps,
                         fn, "params.");

  const int64_t group = s.queryHeads / s.kvHeads;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.queryHeads; ++h) {
      const int64_t kvh = h / group;
      const double *qBase = q.data().data() + (b * s.queryHeads + h) * n * d;
      const double *kBase = k.data().data() + (b * s.kvHeads + kvh) * n * d;
      const double *vBase = v.data().data() + (b * s.kvHeads + kvh) * n * dv;
      // H = causal o (scale Q K^T); only the lower triangle matters.
      Tensor scores({n, n});
      for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c <= r; ++c) {
          double dot = 0.0;
          for (int64_t x = 0; x < d; ++x)
            dot += qBase[r * d + x] * kBase[c * d + x];
          scores.data()[r * n + c] = sc * dot;
        }
      ExpConvBasis basis = expSpaceBasis(recoverConvBasis(
          scores, params.k, params.window, params.delta, params.eps));

      // Y = sum_i conv(bt_i, m_i) V and Dn = sum_i conv(bt_i, m_i) 1: each
      // term is the causal convolution of bt_i with rows n - m_i .. n - 1.
      std::vector<double> y(n * dv, 0.0), denom(n, 0.0);
      for (const ConvTerm &term : basis.terms)
        for (int64_t r = n - term.m; r < n; ++r)
          for (int64_t c = n - term.m; c <= r; ++c) {
            double w = term.b[r - c];
            denom[r] += w;
            for (int64_t x = 0; x < dv; ++x)
              y[r * dv + x] += w * vBase[c * dv + x];
          }
      for (int64_t r = 0; r < n; ++r) {
        double &lse = result.lse.at({b, h, r});
        if (!(denom[r] > 0.0)) {
          lse = -std::numeric_limits<double>::infinity();
          continue;
        }
        for (int64_t x = 0; x < dv; ++x)
          result.out.at({b, h, r, x}) = y[r * dv + x] / denom[r];
        lse = basis.shift + std::log(denom[r]);
      }
    }
  return result;
}

} // namespace reference
} // namespace attn
