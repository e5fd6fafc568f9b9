//===- Linear.cpp - Linear attention with decay (Lightning-2) ---*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// Linear attention with per-head exponential decay (Lightning Attention-2,
// Qin et al., arXiv 2401.04658). Token-by-token it is the recurrence
//   KV_t = lambda KV_{t-1} + k_t^T v_t  (KV_{-1} = KV0),   O[t] = q_t KV_t,
// lambda = exp(-s_h). Unrolled over a sequence of N tokens:
//   O[i] = sum_{j <= i} lambda^(i-j) <q_i, k_j> v_j + lambda^(i+1) q_i KV0,
//   KV_{N-1} = lambda^N KV0 + sum_j lambda^(N-1-j) k_j^T v_j,
// which is the dense definition ((Q K^T) . M_lambda) V of SEMANTICS.md plus
// the initial-state terms. linearAttention evaluates this unrolled form;
// linearAttentionTiled evaluates the block recurrence independently.
//
//===----------------------------------------------------------------------===//

#include "attn/Reference/Reference.h"

#include <algorithm>
#include <cmath>

namespace attn {
namespace reference {

namespace {
struct LinearShape {
  int64_t batch, heads, len, d, e;
};

LinearShape validateLinear(const Tensor &q, const Tensor &k, const Tensor &v,
                           const std::vector<double> &decay,
                           const Tensor &initialState, const std::string &fn) {
  requireRank(q, 4, fn, "q");
  requireShape(k, q.shape(), fn, "k");
  requireRank(v, 4, fn, "v");
  if (v.dim(0) != q.dim(0) || v.dim(1) != q.dim(1) || v.dim(2) != q.dim(2))
    throwInvalid(fn, "v",
                 "shape " + formatShape(v.shape()) +
                     " must match q's batch, heads and length (q is " +
                     formatShape(q.shape()) + ")");
  LinearShape s{q.dim(0), q.dim(1), q.dim(2), q.dim(3), v.dim(3)};
  if (!decay.empty() && static_cast<int64_t>(decay.size()) != s.heads)
    throwInvalid(fn, "decay",
                 "must be empty or have one rate per head (" +
                     std::to_string(s.heads) + "), got " +
                     std::to_string(decay.size()));
  for (double rate : decay)
    if (!(rate >= 0.0) || !std::isfinite(rate))
      throwInvalid(fn, "decay", "rates must be finite and >= 0");
  if (initialState.rank() != 0 || !initialState.empty()) {
    requireShape(initialState, {s.batch, s.heads, s.d, s.e}, fn,
                 "initialState");
    requireFinite(initialState, fn, "initialState");
  }
  requireFinite(q, fn, "q");
  requireFinite(k, fn, "k");
  requireFinite(v, fn, "v");
  return s;
}

/// Pointer to row `row` of the [B, H, rows, cols] tensor t at (b, h).
template <typename P>
P *rowPtr(P *base, const LinearShape &s, int64_t b, int64_t h, int64_t rows,
          int64_t cols, int64_t row) {
  return base + ((b * s.heads + h) * rows + row) * cols;
}

/// out += factor * q KV for one query row q [D] and a state KV [D, E].
void addQueryTimesState(double *out, const double *q, const double *kv,
                        double factor, int64_t d, int64_t e) {
  for (int64_t x = 0; x < d; ++x)
    for (int64_t y = 0; y < e; ++y)
      out[y] += factor * q[x] * kv[x * e + y];
}
} // namespace

LinearAttentionResult linearAttention(const Tensor &q, const Tensor &k,
                                      const Tensor &v,
                                      const std::vector<double> &decay,
                                      const Tensor &initialState) {
  LinearShape s =
      validateLinear(q, k, v, decay, initialState, "linearAttention");
  const int64_t n = s.len, d = s.d, e = s.e;
  LinearAttentionResult result{Tensor({s.batch, s.heads, n, e}),
                               Tensor({s.batch, s.heads, d, e})};
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads; ++h) {
      const double rate = decay.empty() ? 0.0 : decay[h];
      const double *kv0 =
          initialState.empty()
              ? nullptr
              : rowPtr(initialState.data().data(), s, b, h, d, e, 0);
      for (int64_t i = 0; i < n; ++i) {
        const double *qi = rowPtr(q.data().data(), s, b, h, n, d, i);
        double *oi = rowPtr(result.out.data().data(), s, b, h, n, e, i);
        for (int64_t j = 0; j <= i; ++j) {
          const double *kj = rowPtr(k.data().data(), s, b, h, n, d, j);
          const double *vj = rowPtr(v.data().data(), s, b, h, n, e, j);
          double dot = 0.0;
          for (int64_t x = 0; x < d; ++x)
            dot += qi[x] * kj[x];
          double weight = std::exp(-rate * static_cast<double>(i - j)) * dot;
          for (int64_t y = 0; y < e; ++y)
            oi[y] += weight * vj[y];
        }
        if (kv0)
          addQueryTimesState(
              oi, qi, kv0, std::exp(-rate * static_cast<double>(i + 1)), d, e);
      }
      double *state = rowPtr(result.state.data().data(), s, b, h, d, e, 0);
      if (kv0)
        for (int64_t x = 0; x < d * e; ++x)
          state[x] = std::exp(-rate * static_cast<double>(n)) * kv0[x];
      for (int64_t j = 0; j < n; ++j) {
        const double *kj = rowPtr(k.data().data(), s, b, h, n, d, j);
        const double *vj = rowPtr(v.data().data(), s, b, h, n, e, j);
        double weight = std::exp(-rate * static_cast<double>(n - 1 - j));
        for (int64_t x = 0; x < d; ++x)
          for (int64_t y = 0; y < e; ++y)
            state[x * e + y] += weight * kj[x] * vj[y];
      }
    }
  return result;
}

LinearAttentionResult linearAttentionTiled(const Tensor &q, const Tensor &k,
                                           const Tensor &v, int64_t blockSize,
                                           const std::vector<double> &decay,
                                           const Tensor &initialState) {
  const std::string fn = "linearAttentionTiled";
  LinearShape s = validateLinear(q, k, v, decay, initialState, fn);
  if (blockSize < 1)
    throwInvalid(fn, "blockSize",
                 "must be >= 1, got " + std::to_string(blockSize));
  const int64_t n = s.len, d = s.d, e = s.e;
  LinearAttentionResult result{Tensor({s.batch, s.heads, n, e}),
                               Tensor({s.batch, s.heads, d, e})};
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads; ++h) {
      const double lambda = std::exp(-(decay.empty() ? 0.0 : decay[h]));
      double *kv = rowPtr(result.state.data().data(), s, b, h, d, e, 0);
      if (!initialState.empty()) {
        const double *kv0 =
            rowPtr(initialState.data().data(), s, b, h, d, e, 0);
        std::copy(kv0, kv0 + d * e, kv);
      }
      for (int64_t start = 0; start < n; start += blockSize) {
        const int64_t len = std::min(blockSize, n - start);
        // Output of the block: intra-block part plus the carried state.
        for (int64_t a = 0; a < len; ++a) {
          const double *qa = rowPtr(q.data().data(), s, b, h, n, d, start + a);
          double *oa =
              rowPtr(result.out.data().data(), s, b, h, n, e, start + a);
          for (int64_t c = 0; c <= a; ++c) {
            const double *kc =
                rowPtr(k.data().data(), s, b, h, n, d, start + c);
            const double *vc =
                rowPtr(v.data().data(), s, b, h, n, e, start + c);
            double dot = 0.0;
            for (int64_t x = 0; x < d; ++x)
              dot += qa[x] * kc[x];
            double weight = std::pow(lambda, static_cast<double>(a - c)) * dot;
            for (int64_t y = 0; y < e; ++y)
              oa[y] += weight * vc[y];
          }
          addQueryTimesState(
              oa, qa, kv, std::pow(lambda, static_cast<double>(a + 1)), d, e);
        }
        // State update: KV <- lambda^len KV + sum_c lambda^(len-1-c) k_c^T v_c.
        const double carry = std::pow(lambda, static_cast<double>(len));
        for (int64_t x = 0; x < d * e; ++x)
          kv[x] *= carry;
        for (int64_t c = 0; c < len; ++c) {
          const double *kc = rowPtr(k.data().data(), s, b, h, n, d, start + c);
          const double *vc = rowPtr(v.data().data(), s, b, h, n, e, start + c);
          double weight = std::pow(lambda, static_cast<double>(len - 1 - c));
          for (int64_t x = 0; x < d; ++x)
            for (int64_t y = 0; y < e; ++y)
              kv[x * e + y] += weight * kc[x] * vc[y];
        }
      }
    }
  return result;
}

std::vector<double> alibiSlopes(int64_t numHeads) {
  if (numHeads < 1 || (numHeads & (numHeads - 1)) != 0)
    throwInvalid("alibiSlopes", "numHeads",
                 "must be a power of two, got " + std::to_string(numHeads));
  std::vector<double> slopes(numHeads);
  for (int64_t i = 0; i < numHeads; ++i)
    slopes[i] = std::exp2(-8.0 * static_cast<double>(i + 1) /
                          static_cast<double>(numHeads));
  return slopes;
}

} // namespace reference
} // namespace attn
