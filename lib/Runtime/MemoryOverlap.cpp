//===- MemoryOverlap.cpp - arguments that must not share bytes -*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// What the kernels write must not share memory with anything else a call
// passes: a written argument with another argument (validate), a caller's
// workspace with any argument (launch). The tensors are checked contiguous
// before this, so each occupies [data, data + elements x element size); an
// empty tensor occupies nothing. All pairs are compared (a bundle has a
// handful of arguments).
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include "Manifest.h"

#include <cstdint>
#include <utility>

namespace attn {
namespace runtime {

namespace {
using ByteRange = std::pair<uintptr_t, uintptr_t>;

/// The bytes [begin, end) of `bytes` bytes at `data`; an end past the
/// address space saturates (no wrap-around).
ByteRange byteRange(const void *data, uintptr_t bytes) {
  auto begin = reinterpret_cast<uintptr_t>(data);
  uintptr_t end = 0;
  if (__builtin_add_overflow(begin, bytes, &end))
    end = UINTPTR_MAX;
  return {begin, end};
}

/// The bytes of a contiguous tensor; a size that does not fit in an
/// address saturates.
ByteRange byteRange(const TensorRef &tensor) {
  uintptr_t bytes = dtypeSize(tensor.dtype);
  for (int64_t extent : tensor.shape)
    if (__builtin_mul_overflow(bytes, static_cast<uintptr_t>(extent), &bytes))
      bytes = UINTPTR_MAX;
  return byteRange(tensor.data, bytes);
}

/// Whether two non-empty byte ranges share a byte.
bool overlaps(ByteRange first, ByteRange second) {
  return first.first < first.second && second.first < second.second &&
         first.first < second.second && second.first < first.second;
}
} // namespace

Status checkWrittenDisjoint(const Manifest &manifest,
                            const std::vector<TensorRef> &args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (!manifest.arguments[i].writes)
      continue;
    ByteRange written = byteRange(args[i]);
    for (size_t j = 0; j < args.size(); ++j) {
      if (j == i || (manifest.arguments[j].writes && j < i))
        continue; // Each written pair once.
      if (overlaps(written, byteRange(args[j])))
        return Error("argument '" + manifest.arguments[i].name +
                     "' overlaps argument '" + manifest.arguments[j].name +
                     "' in memory; the kernels write '" +
                     manifest.arguments[i].name +
                     "', so it must not share memory with another argument");
    }
  }
  return Status::success();
}

Status checkWorkspaceDisjoint(const Manifest &manifest,
                              const std::vector<TensorRef> &args,
                              const void *workspace, uint64_t bytes) {
  ByteRange used = byteRange(workspace, bytes);
  for (size_t i = 0; i < args.size(); ++i)
    if (overlaps(used, byteRange(args[i])))
      return Error("the workspace overlaps argument '" +
                   manifest.arguments[i].name +
                   "' in memory; the kernels write their scratch buffers "
                   "there, so it must not share memory with an argument");
  return Status::success();
}

} // namespace runtime
} // namespace attn
