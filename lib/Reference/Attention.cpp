//===- Attention.cpp - Reference masked softmax attention -------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// Masked softmax attention in double, one query row at a time:
//   S[j] = scale <q_i, k_j>;  M = mask row (may read S, for N:M);
//   m = max_{M[j]} S[j];  l = sum_{M[j]} exp(S[j] - m);
//   O[i] = sum_{M[j]} exp(S[j] - m) v_j / l;  LSE[i] = m + log l.
// Rows without an allowed key produce O = 0, LSE = -inf.
//
//===----------------------------------------------------------------------===//

#include "attn/Reference/Reference.h"

#include <cmath>
#include <limits>

namespace attn {
namespace reference {

AttentionShape attentionShape(const Tensor &q, const Tensor &k, const Tensor &v,
                              const std::string &function) {
  AttentionShape s = queryKeyShape(q, k, function);
  requireRank(v, 4, function, "v");
  if (v.dim(0) != k.dim(0) || v.dim(1) != k.dim(1) || v.dim(2) != k.dim(2))
    throwInvalid(function, "v",
                 "shape " + formatShape(v.shape()) +
                     " must match k's batch, heads and length (k is " +
                     formatShape(k.shape()) + ")");
  requireFinite(v, function, "v");
  return s;
}

AttentionResult attention(const Tensor &q, const Tensor &k, const Tensor &v,
                          const Mask &mask, std::optional<double> scale) {
  const std::string fn = "attention";
  AttentionShape s = attentionShape(q, k, v, fn);
  double sc = resolveScale(scale, q.dim(3), fn);
  validateMask(mask, s, fn);

  const int64_t d = q.dim(3), dv = v.dim(3), nq = s.queryLen, nk = s.keyLen;
  const int64_t group = s.queryHeads / s.kvHeads;
  AttentionResult result{Tensor({s.batch, s.queryHeads, nq, dv}),
                         Tensor({s.batch, s.queryHeads, nq})};
  std::vector<double> scores(nk);
  std::vector<char> allowed;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.queryHeads; ++h) {
      const int64_t kvh = h / group;
      const double *kBase = k.data().data() + ((b * s.kvHeads + kvh) * nk) * d;
      const double *vBase = v.data().data() + ((b * s.kvHeads + kvh) * nk) * dv;
      for (int64_t i = 0; i < nq; ++i) {
        const double *qRow =
            q.data().data() + ((b * s.queryHeads + h) * nq + i) * d;
        double *oRow =
            result.out.data().data() + ((b * s.queryHeads + h) * nq + i) * dv;
        double &lse = result.lse.data()[(b * s.queryHeads + h) * nq + i];

        for (int64_t j = 0; j < nk; ++j) {
          double dot = 0.0;
          for (int64_t x = 0; x < d; ++x)
            dot += qRow[x] * kBase[j * d + x];
          scores[j] = sc * dot;
        }
        evaluateMaskRow(mask, s, b, h, i, scores.data(), allowed);

        double rowMax = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < nk; ++j)
          if (allowed[j])
            rowMax = std::max(rowMax, scores[j]);
        if (rowMax == -std::numeric_limits<double>::infinity()) {
          lse = rowMax; // No allowed key: O stays 0.
          continue;
        }
        double rowSum = 0.0;
        for (int64_t j = 0; j < nk; ++j) {
          if (!allowed[j])
            continue;
          double p = std::exp(scores[j] - rowMax);
          rowSum += p;
          for (int64_t x = 0; x < dv; ++x)
            oRow[x] += p * vBase[j * dv + x];
        }
        for (int64_t x = 0; x < dv; ++x)
          oRow[x] /= rowSum;
        lse = rowMax + std::log(rowSum);
      }
    }
  return result;
}

IntTensor lshBucketIds(const Tensor &x, const Tensor &rotation) {
  const std::string fn = "lshBucketIds";
  requireRank(x, 4, fn, "x");
  requireRank(rotation, 2, fn, "rotation");
  if (rotation.dim(0) != x.dim(3))
    throwInvalid(fn, "rotation",
                 "must have D = " + std::to_string(x.dim(3)) +
                     " rows, got shape " + formatShape(rotation.shape()));
  if (rotation.dim(1) < 1)
    throwInvalid(fn, "rotation", "must have at least one column (nb / 2)");
  requireFinite(x, fn, "x");
  requireFinite(rotation, fn, "rotation");

  const int64_t rows = x.dim(0) * x.dim(1) * x.dim(2), d = x.dim(3);
  const int64_t half = rotation.dim(1);
  IntTensor ids({x.dim(0), x.dim(1), x.dim(2)});
  std::vector<double> projected(2 * half);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < half; ++c) {
      double dot = 0.0;
      for (int64_t t = 0; t < d; ++t)
        dot += x.data()[r * d + t] * rotation.data()[t * half + c];
      projected[c] = dot;
      projected[half + c] = -dot;
    }
    int64_t best = 0; // First maximum: only a strictly larger value wins.
    for (int64_t c = 1; c < 2 * half; ++c)
      if (projected[c] > projected[best])
        best = c;
    ids.data()[r] = best;
  }
  return ids;
}

} // namespace reference
} // namespace attn
