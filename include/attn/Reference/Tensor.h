//===- Tensor.h - Dense row-major tensors for the reference -----*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// A deliberately simple dense tensor: a shape and a row-major std::vector of
// elements. The reference semantics use Tensor (double) for data and IntTensor
// (int64_t) for bucket ids, keep flags and block masks.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_REFERENCE_TENSOR_H
#define ATTN_REFERENCE_TENSOR_H

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace attn {
namespace reference {

/// Returns the product of the extents of `shape`; throws
/// std::invalid_argument naming `what` if an extent is negative.
int64_t numElements(const std::vector<int64_t> &shape,
                    const std::string &what = "shape");

/// Formats a shape as "[a, b, c]" for diagnostics.
std::string formatShape(const std::vector<int64_t> &shape);

/// A dense row-major tensor of T. Element (i0, ..., ir-1) lives at
/// data()[((i0 * d1 + i1) * d2 + i2) ...].
template <typename T> class TensorOf {
public:
  TensorOf() = default;

  /// A tensor of the given shape with every element equal to `fill`.
  explicit TensorOf(std::vector<int64_t> shape, T fill = T())
      : dims(std::move(shape)), elements(numElements(dims), fill) {}

  /// A tensor of the given shape holding `values` (row-major); throws
  /// std::invalid_argument if the element count does not match.
  TensorOf(std::vector<int64_t> shape, std::vector<T> values)
      : dims(std::move(shape)), elements(std::move(values)) {
    if (static_cast<int64_t>(elements.size()) != numElements(dims))
      throw std::invalid_argument("Tensor: " + std::to_string(elements.size()) +
                                  " values do not fill shape " +
                                  formatShape(dims));
  }

  const std::vector<int64_t> &shape() const { return dims; }
  int64_t rank() const { return static_cast<int64_t>(dims.size()); }
  int64_t dim(int64_t i) const { return dims.at(i); }
  int64_t numel() const { return static_cast<int64_t>(elements.size()); }
  bool empty() const { return elements.empty(); }

  std::vector<T> &data() { return elements; }
  const std::vector<T> &data() const { return elements; }

  /// Row-major linear offset of an index; bounds-checked (std::out_of_range).
  int64_t offset(std::initializer_list<int64_t> index) const {
    if (static_cast<int64_t>(index.size()) != rank())
      throw std::out_of_range(
          "Tensor::at: index rank " + std::to_string(index.size()) +
          " does not match tensor rank " + std::to_string(rank()));
    int64_t linear = 0, axis = 0;
    for (int64_t i : index) {
      if (i < 0 || i >= dims[axis])
        throw std::out_of_range("Tensor::at: index " + std::to_string(i) +
                                " out of range on axis " +
                                std::to_string(axis) + " of shape " +
                                formatShape(dims));
      linear = linear * dims[axis++] + i;
    }
    return linear;
  }

  T &at(std::initializer_list<int64_t> index) {
    return elements[offset(index)];
  }
  const T &at(std::initializer_list<int64_t> index) const {
    return elements[offset(index)];
  }

private:
  std::vector<int64_t> dims;
  std::vector<T> elements;
};

using Tensor = TensorOf<double>;
using IntTensor = TensorOf<int64_t>;

/// A tensor with independent uniform samples in [lo, hi) drawn from
/// std::mt19937_64 seeded with `seed` (53-bit mantissa mapping, so the values
/// are the same with every standard library).
Tensor randomTensor(const std::vector<int64_t> &shape, uint64_t seed,
                    double lo = -1.0, double hi = 1.0);

/// A tensor of integers uniform in [lo, hi) (hi > lo) from std::mt19937_64
/// seeded with `seed`.
IntTensor randomIntTensor(const std::vector<int64_t> &shape, uint64_t seed,
                          int64_t lo, int64_t hi);

/// Throws std::invalid_argument with the message
/// "<function>: argument '<name>' <message>".
[[noreturn]] void throwInvalid(const std::string &function,
                               const std::string &name,
                               const std::string &message);

/// Throws (see throwInvalid) unless `t` has rank `rank`.
template <typename T>
void requireRank(const TensorOf<T> &t, int64_t rank,
                 const std::string &function, const std::string &name) {
  if (t.rank() != rank)
    throwInvalid(function, name,
                 "must have rank " + std::to_string(rank) + ", got shape " +
                     formatShape(t.shape()));
}

/// Throws (see throwInvalid) unless `t` has exactly the shape `shape`.
template <typename T>
void requireShape(const TensorOf<T> &t, const std::vector<int64_t> &shape,
                  const std::string &function, const std::string &name) {
  if (t.shape() != shape)
    throwInvalid(function, name,
                 "must have shape " + formatShape(shape) + ", got " +
                     formatShape(t.shape()));
}

/// Throws (see throwInvalid) if an element of `t` is NaN or infinite.
void requireFinite(const Tensor &t, const std::string &function,
                   const std::string &name);

/// Largest |a - b| over all elements; throws std::invalid_argument if the
/// shapes differ. Infinities of equal sign compare as distance 0.
double maxAbsDiff(const Tensor &a, const Tensor &b);

} // namespace reference
} // namespace attn

#endif // ATTN_REFERENCE_TENSOR_H
