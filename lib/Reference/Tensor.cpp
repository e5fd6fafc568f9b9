//===- Tensor.cpp - Dense row-major tensors for the reference ---*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "attn/Reference/Tensor.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace attn {
namespace reference {

int64_t numElements(const std::vector<int64_t> &shape,
                    const std::string &what) {
  int64_t count = 1;
  for (int64_t extent : shape) {
    if (extent < 0)
      throw std::invalid_argument(what + " " + formatShape(shape) +
                                  " has a negative extent");
    count *= extent;
  }
  return count;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

void throwInvalid(const std::string &function, const std::string &name,
                  const std::string &message) {
  throw std::invalid_argument(function + ": argument '" + name + "' " +
                              message);
}

void requireFinite(const Tensor &t, const std::string &function,
                   const std::string &name) {
  for (double x : t.data())
    if (!std::isfinite(x))
      throwInvalid(function, name, "contains a NaN or infinite value");
}

Tensor randomTensor(const std::vector<int64_t> &shape, uint64_t seed, double lo,
                    double hi) {
  if (!(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi))
    throwInvalid("randomTensor", "lo", "must be finite and less than hi");
  std::mt19937_64 rng(seed);
  Tensor t(shape);
  for (double &x : t.data()) {
    // Top 53 bits as a double in [0, 1): identical on every standard library,
    // unlike std::uniform_real_distribution.
    double unit = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    x = lo + (hi - lo) * unit;
  }
  return t;
}

IntTensor randomIntTensor(const std::vector<int64_t> &shape, uint64_t seed,
                          int64_t lo, int64_t hi) {
  if (!(lo < hi))
    throwInvalid("randomIntTensor", "hi", "must be greater than lo");
  std::mt19937_64 rng(seed);
  IntTensor t(shape);
  uint64_t span = static_cast<uint64_t>(hi - lo);
  for (int64_t &x : t.data())
    x = lo + static_cast<int64_t>(rng() % span);
  return t;
}

double maxAbsDiff(const Tensor &a, const Tensor &b) {
  if (a.shape() != b.shape())
    throwInvalid("maxAbsDiff", "b",
                 "has shape " + formatShape(b.shape()) + ", expected " +
                     formatShape(a.shape()));
  double worst = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double x = a.data()[i], y = b.data()[i];
    if (x == y)
      continue; // Also equal infinities.
    double d = std::fabs(x - y);
    if (std::isnan(d))
      return d;
    worst = std::max(worst, d);
  }
  return worst;
}

} // namespace reference
} // namespace attn
