//===- Internal.h - Helpers shared by the runtime's sources -----*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_RUNTIME_INTERNAL_H
#define ATTN_LIB_RUNTIME_INTERNAL_H

#include "attn/Runtime/Runtime.h"

#include <string>
#include <vector>

namespace attn {
namespace runtime {

/// Formats integers as "[a, b, c]".
std::string formatList(const std::vector<int64_t> &values);

struct Manifest;

/// Refuses an argument the kernels write (ArgumentSpec::writes) whose bytes
/// overlap another argument's: the kernels would read what they have
/// already overwritten, or two outputs would race (MemoryOverlap.cpp).
Status checkWrittenDisjoint(const Manifest &manifest,
                            const std::vector<TensorRef> &args);

/// Refuses a caller's workspace whose first `bytes` bytes (what the call
/// uses) overlap an argument: the kernels write their scratch buffers
/// there.
Status checkWorkspaceDisjoint(const Manifest &manifest,
                              const std::vector<TensorRef> &args,
                              const void *workspace, uint64_t bytes);

/// Fails with "expected N arguments (a, b, ...), got M" unless `got` equals
/// the bundle's argument count.
Status checkArgumentCount(const Bundle &bundle, size_t got);

} // namespace runtime
} // namespace attn

#endif // ATTN_LIB_RUNTIME_INTERNAL_H
