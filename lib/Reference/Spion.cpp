//===- Spion.cpp - SPION block-pattern derivation ---------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// SPION (Yoon et al., arXiv 2309.12578) derives a block-sparse pattern from a
// score map A [N, N]: a diagonal convolution filter, block average pooling, a
// quantile threshold and a greedy flood fill from the top and left edges
// (SPION-CF); SPION-F skips the filter, SPION-C replaces the flood fill by a
// top-k block selection. The diagonal is always forced on.
//
//===----------------------------------------------------------------------===//

#include "attn/Reference/Reference.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace attn {
namespace reference {

namespace {
void requireSquareMap(const Tensor &t, const std::string &fn,
                      const std::string &name) {
  requireRank(t, 2, fn, name);
  if (t.dim(0) != t.dim(1))
    throwInvalid(fn, name, "must be square, got " + formatShape(t.shape()));
  requireFinite(t, fn, name);
}

void requireConvSize(int64_t convSize, const std::string &fn) {
  if (convSize < 1 || convSize % 2 == 0)
    throwInvalid(fn, "convSize",
                 "must be odd and >= 1, got " + std::to_string(convSize));
}
} // namespace

Tensor spionDiagonalFilter(const Tensor &scores, int64_t convSize) {
  const std::string fn = "spionDiagonalFilter";
  requireSquareMap(scores, fn, "scores");
  requireConvSize(convSize, fn);
  const int64_t n = scores.dim(0), half = (convSize - 1) / 2;
  Tensor filtered({n, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int64_t t = -half; t <= half; ++t)
        if (i + t >= 0 && i + t < n && j + t >= 0 && j + t < n)
          sum += scores.at({i + t, j + t});
      filtered.at({i, j}) = sum;
    }
  return filtered;
}

Tensor spionBlockAverage(const Tensor &map, int64_t blockSize) {
  const std::string fn = "spionBlockAverage";
  requireSquareMap(map, fn, "map");
  if (blockSize < 1 || map.dim(0) % blockSize != 0)
    throwInvalid(fn, "blockSize",
                 "must be >= 1 and divide N = " + std::to_string(map.dim(0)) +
                     ", got " + std::to_string(blockSize));
  const int64_t nb = map.dim(0) / blockSize;
  Tensor pooled({nb, nb});
  for (int64_t x = 0; x < nb; ++x)
    for (int64_t y = 0; y < nb; ++y) {
      double sum = 0.0;
      for (int64_t r = 0; r < blockSize; ++r)
        for (int64_t c = 0; c < blockSize; ++c)
          sum += map.at({x * blockSize + r, y * blockSize + c});
      pooled.at({x, y}) = sum / static_cast<double>(blockSize * blockSize);
    }
  return pooled;
}

double quantileLinear(std::vector<double> values, double q) {
  const std::string fn = "quantileLinear";
  if (values.empty())
    throwInvalid(fn, "values", "must not be empty");
  if (!(q >= 0.0 && q <= 1.0))
    throwInvalid(fn, "q", "must be in [0, 1], got " + std::to_string(q));
  for (double x : values)
    if (std::isnan(x))
      throwInvalid(fn, "values", "contains NaN");
  std::sort(values.begin(), values.end());
  double rank = q * static_cast<double>(values.size() - 1);
  size_t below = static_cast<size_t>(std::floor(rank));
  size_t above = static_cast<size_t>(std::ceil(rank));
  double lo = values[below], hi = values[above], w = rank - std::floor(rank);
  // The two-sided lerp torch uses (ATen's lerp), so results agree to the ulp.
  return w < 0.5 ? lo + w * (hi - lo) : hi - (hi - lo) * (1.0 - w);
}

IntTensor spionFloodFill(const Tensor &blockMap, double threshold) {
  const std::string fn = "spionFloodFill";
  requireSquareMap(blockMap, fn, "blockMap");
  if (std::isnan(threshold))
    throwInvalid(fn, "threshold", "is NaN");
  const int64_t nb = blockMap.dim(0);
  // One padding row and column of zeros.
  auto padded = [&](int64_t x, int64_t y) {
    return x < nb && y < nb ? blockMap.at({x, y}) : 0.0;
  };
  IntTensor mask({nb, nb});
  auto walk = [&](int64_t x, int64_t y) {
    while (x < nb && y < nb) {
      double down = padded(x + 1, y), right = padded(x, y + 1),
             diag = padded(x + 1, y + 1);
      int64_t nx, ny;
      if (down > right) {
        nx = x + 1;
        ny = down > diag ? y : y + 1;
      } else {
        nx = right > diag ? x : x + 1;
        ny = y + 1;
      }
      if (nx < nb && ny < nb && padded(nx, ny) > threshold)
        mask.at({nx, ny}) = 1;
      x = nx; // The walk goes on below the threshold too.
      y = ny;
    }
  };
  for (int64_t c = 0; c < nb; ++c)
    walk(0, c);
  for (int64_t r = 0; r < nb; ++r)
    walk(r, 0);
  for (int64_t d = 0; d < nb; ++d)
    mask.at({d, d}) = 1;
  return mask;
}

IntTensor spionTopKBlocks(const Tensor &blockMap, int64_t count) {
  const std::string fn = "spionTopKBlocks";
  requireSquareMap(blockMap, fn, "blockMap");
  const int64_t nb = blockMap.dim(0);
  count = std::max<int64_t>(0, std::min(count, nb * nb));
  std::vector<int64_t> order(nb * nb);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return blockMap.data()[a] > blockMap.data()[b];
  });
  IntTensor mask({nb, nb});
  for (int64_t c = 0; c < count; ++c)
    mask.data()[order[c]] = 1;
  for (int64_t d = 0; d < nb; ++d)
    mask.at({d, d}) = 1;
  return mask;
}

IntTensor spionBlockMask(const Tensor &scores, const SpionParams &params) {
  const std::string fn = "spionBlockMask";
  requireSquareMap(scores, fn, "scores");
  const int64_t n = scores.dim(0);
  if (n < 1)
    throwInvalid(fn, "scores", "must not be empty");
  if (params.blockSize < 1 || n % params.blockSize != 0)
    throwInvalid(fn, "blockSize",
                 "must be >= 1 and divide N = " + std::to_string(n) + ", got " +
                     std::to_string(params.blockSize));
  bool filter = params.variant != SpionVariant::F;
  if (filter)
    requireConvSize(params.convSize, fn);

  Tensor map = filter ? spionDiagonalFilter(scores, params.convSize) : scores;
  Tensor pooled = spionBlockAverage(map, params.blockSize);
  const int64_t nb = pooled.dim(0);

  if (params.variant == SpionVariant::C) {
    if (!(params.density >= 0.0 && params.density <= 1.0))
      throwInvalid(fn, "density",
                   "must be in [0, 1], got " + std::to_string(params.density));
    // SPION-C keeps int(density * nb^2 - nb) blocks (Python int truncates).
    double count =
        std::trunc(static_cast<double>(nb * nb) * params.density - nb);
    return spionTopKBlocks(pooled, static_cast<int64_t>(count));
  }
  if (!(params.quantile >= 0.0 && params.quantile <= 1.0))
    throwInvalid(fn, "quantile",
                 "must be in [0, 1], got " + std::to_string(params.quantile));
  double threshold = quantileLinear(pooled.data(), params.quantile);
  return spionFloodFill(pooled, threshold);
}

} // namespace reference
} // namespace attn
