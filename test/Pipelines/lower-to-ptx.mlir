// RUN: attn-opt %attn_src_root/examples/causal.mlir --attn-lower-to-ptx | FileCheck %s
// RUN: attn-opt %attn_src_root/examples/sliding_window.mlir --attn-lower-to-ptx="chip=sm_90a block-q=16 block-k=16 block-threads=64" | FileCheck %s --check-prefix=SM90

// The module holds the PTX and LLVM host code; the kernel takes exactly the
// five memrefs (descriptors of 11 or 9 scalars each).
// CHECK-NOT: attn.
// CHECK: llvm.func @causal(
// The tiles live in dynamic shared memory (rows padded to 136 elements):
// at D = 128 the 128-row Q tile (its fragments would take 64 registers) and
// two 64-row stages of K and V, (128 + 2 x 2 x 64) x 136 x 2 = 104448 bytes.
// CHECK: %[[SHARED:.*]] = llvm.mlir.constant(104448 : i32) : i32
// CHECK: gpu.launch_func @causal_kernel::@causal_kernel blocks in
// CHECK-SAME: dynamic_shared_memory_size %[[SHARED]]
// CHECK-SAME: args(%arg{{[0-9]+}} : !llvm.ptr, %arg{{[0-9]+}} : !llvm.ptr, %arg{{[0-9]+}} : i64,
// CHECK-SAME: %arg{{[0-9]+}} : i64)
// CHECK: gpu.binary @causal_kernel  [#gpu.object<#nvvm.target<chip = "sm_80", features = "+ptx80">, properties = {{.*}}.entry causal_kernel(
// The dynamic shared memory base is 16-byte aligned (cp.async destinations).
// CHECK-SAME: .shared .align 16 .b8 __dynamic_shmem__0
// Shared memory is addressed by 32-bit registers (nvptx-short-ptr), global
// memory by 64-bit ones; the softmax exponentials flush to zero.
// CHECK-SAME: cp.async.cg.shared.global [%r{{[0-9]+}}], [%rd{{[0-9]+}}], 16;
// CHECK-SAME: ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, [%r{{[0-9]+}}
// CHECK-SAME: ex2.approx.ftz.f32

// SM90: gpu.binary @sliding_window_kernel  [#gpu.object<#nvvm.target<chip = "sm_90a", features = "+ptx85">
