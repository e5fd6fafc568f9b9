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

/// Fails with "expected N arguments (a, b, ...), got M" unless `got` equals
/// the bundle's argument count.
Status checkArgumentCount(const Bundle &bundle, size_t got);

} // namespace runtime
} // namespace attn

#endif // ATTN_LIB_RUNTIME_INTERNAL_H
