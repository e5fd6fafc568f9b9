// RUN: attn-opt %s --attn-tile="block-q=128 block-k=32" --attn-to-gpu | FileCheck %s
// RUN: attn-opt %s --attn-tile="block-q=128 block-k=64" --attn-to-gpu | FileCheck %s --check-prefix=D64

// 128 query rows with 4 warps: two 16-row tiles per warp. At D = 128 the Q
// fragments of 32 rows would take 64 registers, so the Q tile goes to
// shared memory: it is copied by cp.async in the prologue's group (before
// the first K/V tile), and each k-step reads its A fragments by ldmatrix.
// The buffers: Q 128 x 136, K and V 2 x 32 x 136 (two stages), bf16.
// CHECK-LABEL: func.func @shared_query
// CHECK: %[[SHARED:.*]] = arith.constant 69632 : i32
// CHECK: gpu.launch
// CHECK-SAME: dynamic_shared_memory_size %[[SHARED]]
// CHECK: %[[QBUF:.*]] = memref.view %{{.*}} to memref<128x136xbf16, #gpu.address_space<workgroup>>
// CHECK: %[[QTILE:.*]] = memref.subview %[[QBUF]][0, 0] [128, 128] [1, 1]
// CHECK-NOT: vector.load %{{.*}} : memref<?x?x?x128xbf16>, vector<2xbf16>
// Prologue: Q, then the first K and V tile, one commit group.
// CHECK: scf.if
// CHECK: nvgpu.device_async_copy %{{.*}}, %[[QBUF]][%{{.*}}, %{{.*}}], 8 {bypassL1}
// CHECK: nvgpu.device_async_copy %{{.*}}, %[[QBUF]][%{{.*}}, %{{.*}}], 8, %{{.*}} {bypassL1}
// CHECK: nvgpu.device_async_copy
// CHECK: nvvm.cp.async.commit.group
// Two stages (four would not fit twice per SM): wait for tile kt, one
// barrier, then tile kt + 1 into the stage iteration kt - 1 read.
// CHECK: scf.for
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NEXT: gpu.barrier
// CHECK: scf.if
// CHECK: nvgpu.device_async_copy
// CHECK: nvvm.cp.async.commit.group
// Q Kᵀ: Q fragments from the shared tile, two independent mma per K
// fragment (one per row tile); the lane's Q row goes through an opaque copy
// so that the fragment addresses differ by constants.
// CHECK: %[[QROW:.*]] = llvm.inline_asm has_side_effects "mov.b64 $0, $1;", "=l,l"
// CHECK: %[[QROWINDEX:.*]] = arith.index_castui %[[QROW]] : i64 to index
// CHECK: %[[ROW1:.*]] = arith.addi %[[QROWINDEX]], %{{.*}} : index
// CHECK: nvgpu.ldmatrix %[[QTILE]][%[[ROW1]]
// CHECK: nvvm.mma.sync
// CHECK-NEXT: llvm.extractvalue
// CHECK: nvvm.mma.sync
// The last key tile may end past Nk: its scores are masked if some lane of
// the warp has such a key.
// CHECK: nvvm.vote.sync any
// CHECK: arith.select
// Softmax: the scale is folded into the exponent's fma; acc is rescaled
// only when the warp votes that some row max moved by more than 8.
// CHECK: %[[RISES:.*]] = nvvm.vote.sync any %{{.*}}, %{{.*}} -> i1
// CHECK: %[[EXPONENT:.*]] = llvm.intr.fma(%{{.*}}, %{{.*}}, %{{.*}}) : (f32, f32, f32) -> f32
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz"(%[[EXPONENT]])
// CHECK: scf.if %[[RISES]] -> (f32,
// CHECK: arith.mulf
// P is rounded in pairs.
// CHECK: arith.truncf %{{.*}} : vector<2xf32> to vector<2xbf16>
// CHECK: nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = true}
// CHECK: nvvm.mma.sync
func.func @shared_query(%q: memref<?x?x?x128xbf16>, %k: memref<?x?x?x128xbf16>,
                        %v: memref<?x?x?x128xbf16>, %o: memref<?x?x?x128xbf16>) {
  attn.plan ins(%q, %k, %v : memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>)
      outs(%o : memref<?x?x?x128xbf16>) scale(0.088) schedule(dense)
  return
}

// At D = 64 the fragments of 32 rows take 32 registers: Q stays in
// registers (loaded from global memory), only K and V are shared, in four
// stages (two tiles in flight): 4 x 2 x 64 x 72 x 2 = 73728 bytes.
// D64-LABEL: func.func @register_query
// D64: arith.constant 73728 : i32
// D64: vector.load %{{.*}} {alignment = 4 : i64} : memref<?x?x?x64xbf16>, vector<2xbf16>
// D64-NOT: memref.subview %{{.*}}[0, 0] [128, 64]
// D64: scf.for
func.func @register_query(%q: memref<?x?x?x64xbf16>, %k: memref<?x?x?x64xbf16>,
                          %v: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>) {
  attn.plan ins(%q, %k, %v : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>)
      outs(%o : memref<?x?x?x64xbf16>) scale(0.125) schedule(dense)
  return
}
