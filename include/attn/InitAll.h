//===- InitAll.h - register every attn dialect and pass ---------*- C++ -*-===//
//
// The one registration point shared by attn-opt, attn-compile, the mlir-opt
// plugin and the C API.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_INITALL_H
#define ATTN_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace attn {

/// Adds the attn dialects to `registry`.
void registerAttnDialects(mlir::DialectRegistry &registry);

/// Adds the attn dialects and the upstream dialects and extensions a user of
/// attn-opt needs (func, arith, math, memref, scf, vector, gpu, nvvm, nvgpu,
/// llvm, ...) to `registry`.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers the attn passes and named pipelines with the global pass
/// registry.
void registerAttnPassesAndPipelines();

/// Registers the attn passes and the upstream passes with the global pass
/// registry.
void registerAllPasses();

} // namespace attn

#endif // ATTN_INITALL_H
