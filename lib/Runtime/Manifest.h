//===- Manifest.h - Read and check a bundle's manifest.json -----*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_RUNTIME_MANIFEST_H
#define ATTN_LIB_RUNTIME_MANIFEST_H

#include "Expr.h"

#include "attn/Runtime/Runtime.h"

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace attn {
namespace runtime {

/// A checked manifest with its PTX text.
struct Manifest {
  std::string name;
  std::string target;
  std::string ptxFile;
  std::string ptx;
  std::vector<ArgumentSpec> arguments;
  /// argumentExprs[i][d] is the parsed expression of arguments[i].shape[d]
  /// when it is one (empty Expr otherwise).
  std::vector<std::vector<Expr>> argumentExprs;
  std::vector<ArgumentSpec> scratch;
  /// scratchExprs[i][d]: the extent of scratch[i].shape[d] (a constant for
  /// a static extent).
  std::vector<std::vector<Expr>> scratchExprs;
  std::vector<InputCheckSpec> inputChecks;
  /// Shape symbols in order of first appearance; grid and constraint
  /// expressions refer to them by index.
  std::vector<std::string> symbols;
  std::vector<std::string> constraintTexts;
  std::vector<Constraint> constraints;
  std::vector<LaunchSpec> launches;
  /// grids[i][d] is dimension d of launches[i]'s grid.
  std::vector<std::array<Expr, 3>> grids;
};

/// Reads `directory`/manifest.json and the PTX file it names, and checks
/// them (see docs/Runtime.md for every rule).
Result<Manifest> parseManifest(const std::string &directory);

/// As parseManifest, with the manifest's text given (the PTX file is still
/// read from `directory`); errors still name `directory`/manifest.json.
Result<Manifest> parseManifestText(std::string_view text,
                                   const std::string &directory);

/// The largest PTX file a bundle may have.
constexpr int64_t kMaxPtxBytes = int64_t{1} << 30;
/// The largest manifest: a real one is a few KiB; the bound keeps a hostile
/// one from costing seconds and gigabytes before it is refused.
constexpr int64_t kMaxManifestBytes = int64_t{16} << 20;

/// Reads a whole regular file of at most `maxBytes`, not through a
/// symbolic link and without blocking on a FIFO; the error message is
/// strerror(errno) or says which of these it is not.
Result<std::string> readFile(const std::string &path, int64_t maxBytes);

} // namespace runtime
} // namespace attn

#endif // ATTN_LIB_RUNTIME_MANIFEST_H
