// RUN: attn-opt %attn_src_root/examples/causal.mlir --attn-lower-to-ptx | FileCheck %s
// RUN: attn-opt %attn_src_root/examples/sliding_window.mlir --attn-lower-to-ptx="chip=sm_90a block-q=16 block-k=16 threads=64" | FileCheck %s --check-prefix=SM90

// The module holds the PTX and LLVM host code; the kernel takes exactly the
// five memrefs (descriptors of 11 or 9 scalars each).
// CHECK-NOT: attn.
// CHECK: llvm.func @causal(
// CHECK: gpu.launch_func @causal_kernel::@causal_kernel blocks in
// CHECK-SAME: args(%arg0 : !llvm.ptr, %arg1 : !llvm.ptr, %arg2 : i64,
// CHECK-SAME: %arg52 : i64)
// CHECK: gpu.binary @causal_kernel  [#gpu.object<#nvvm.target<chip = "sm_80", features = "+ptx80">, properties = {{.*}}.entry causal_kernel(
// Shared buffers are 16-byte aligned (cp.async destinations).
// CHECK-SAME: .shared .align 16 .b8 __wg_causal_kernel_0

// SM90: gpu.binary @sliding_window_kernel  [#gpu.object<#nvvm.target<chip = "sm_90a", features = "+ptx80">
