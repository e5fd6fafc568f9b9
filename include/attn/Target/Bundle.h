//===- Bundle.h - write a kernel bundle from lowered IR ---------*- C++ -*-===//
//
// The bundle writer: from a module lowered by attn-lower-to-ptx it builds
// the bundle of one function (docs/Runtime.md, format v1): the PTX of the
// function's gpu.binary and a manifest stating its arguments, constraints
// and launches. It reads only the function's `attn.bundle` attribute
// (written by attn-to-gpu, passes/AttnToGPU/LaunchFacts.h), the binary, and
// the kernel parameter order of each gpu.launch_func, so it describes any
// number of kernels of any op family that records its launches that way.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TARGET_BUNDLE_H
#define ATTN_TARGET_BUNDLE_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace attn {

/// The two files of a bundle.
struct BundleFiles {
  std::string manifest; ///< manifest.json
  std::string ptx;      ///< kernels.ptx
};

/// Builds the bundle of function `name` of `module` (lowered to PTX).
/// Errors go to the module's diagnostic handler.
mlir::FailureOr<BundleFiles> buildBundle(mlir::ModuleOp module,
                                         llvm::StringRef name);

/// Writes `files` as the bundle directory `directory`, atomically: into a
/// new sibling directory, renamed into place only when complete. An
/// existing `directory` is replaced only when it is empty or holds a
/// previous bundle (a manifest.json of format "attn-bundle"), or when
/// `force` is set; anything else is refused and left untouched. `check`,
/// when given, runs on the complete new directory before it replaces
/// anything (a failure sets `error`). On failure `error` says why and
/// nothing is left behind.
mlir::LogicalResult writeBundleDirectory(
    const BundleFiles &files, llvm::StringRef directory, bool force,
    std::string &error,
    llvm::function_ref<mlir::LogicalResult(llvm::StringRef directory,
                                           std::string &error)>
        check = {});

} // namespace attn

#endif // ATTN_TARGET_BUNDLE_H
