// RUN: attn-opt %s --split-input-file --attn-tile="block-q=32 block-k=32" --attn-to-gpu | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-tile="block-q=32 block-k=32" --attn-to-gpu="mma=false" | FileCheck %s --check-prefix=SIMT
// RUN: attn-opt %s --split-input-file --attn-tile="block-q=64 block-k=32" --attn-to-gpu | FileCheck %s --check-prefix=REG

!qkv = memref<?x?x?x64xbf16>

// One launch per q-tile nest: grid (q-tiles, heads, batch), 128 threads,
// q-tiles longest-first (block x runs q-tile tiles - 1 - x), tiles in
// padded buffers of the block's dynamic shared memory viewed at their tile
// shape, every tile op a thread-distributed loop followed by a barrier, and
// nothing but the memrefs captured from outside the launch.
// CHECK-LABEL: func.func @causal
// CHECK-SAME: (%[[Q:[^:]*]]: memref<?x?x?x64xbf16>, %[[K:[^:]*]]: memref<?x?x?x64xbf16>, %[[V:[^:]*]]: memref<?x?x?x64xbf16>, %[[O:[^:]*]]: memref<?x?x?x64xbf16>
// CHECK: %[[B:.*]] = memref.dim %[[Q]]
// CHECK: %[[HQ:.*]] = memref.dim %[[Q]]
// CHECK: %[[QT:.*]] = arith.ceildivui
// CHECK: %[[THREADS:.*]] = arith.constant 128 : index
// Q, K, V: 32 x 72 x 2 = 4608 bytes each; S 32 x 33 x 4 = 4224; m, l 128
// each; acc 32 x 65 x 4 = 8320: 26624 bytes in all.
// CHECK: %[[SHARED:.*]] = arith.constant 26624 : i32
// CHECK: gpu.launch blocks(%[[BX:[^,]*]], %[[BY:[^,]*]], %[[BZ:[^)]*]]) in (%[[GX:[^ ]*]] = %[[QT]], %{{[^ ]*}} = %[[HQ]], %{{[^ ]*}} = %[[B]]) threads(%[[TX:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%[[NT:[^ ]*]] = %[[THREADS]], %{{[^)]*}}) dynamic_shared_memory_size %[[SHARED]]
// CHECK: %[[LAST:.*]] = arith.subi %[[GX]], %{{.*}} : index
// CHECK: arith.subi %[[LAST]], %[[BX]] : index
// CHECK: %[[BASE:.*]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK: %[[WQ:.*]] = memref.view %[[BASE]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<32x72xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.subview %[[WQ]][0, 0] [32, 64] [1, 1] : memref<32x72xbf16, #gpu.address_space<workgroup>> to memref<32x64xbf16, strided<[72, 1]>, #gpu.address_space<workgroup>>
// Load of the Q tile: 16-byte chunks distributed over threads, zero past
// the last row.
// CHECK: scf.for %[[E:.*]] = %[[TX]] to %{{.*}} step %[[NT]] {
// CHECK: scf.if %{{.*}} -> (vector<8xbf16>) {
// CHECK: vector.load %[[Q]][%[[BZ]], %[[BY]], %{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<?x?x?x64xbf16>, vector<8xbf16>
// CHECK: } else {
// CHECK: arith.constant dense<0.000000e+00> : vector<8xbf16>
// CHECK: vector.store
// CHECK: gpu.barrier
// The kv loop: Q Kᵀ on tensor cores (one warp per 16x8 tile), the mask and
// the online softmax with its -inf guard, then P V on tensor cores.
// CHECK: scf.for
// CHECK: nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK: math.exp
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: nvvm.mma.sync
// CHECK: gpu.barrier

// Without tensor cores the products are per-element fma loops.
// SIMT-LABEL: func.func @causal
// SIMT-NOT: nvvm.mma.sync
// SIMT: math.fma
// SIMT: math.exp
// SIMT-NOT: nvvm.mma.sync
// SIMT-LABEL: func.func @predicate

// -----

!qkv = memref<?x?x?x64xbf16>

// Register-resident FlashAttention: 64 query rows = 16 per warp of 128
// threads. Q fragments come straight from global memory; only K and V are
// in shared memory, four stages of each (4 x 32 rows: they fit twice per
// SM), filled by cp.async two tiles ahead; S, P, the row statistics and the
// accumulator are loop-carried registers; the softmax works in the log2
// domain and reduces over quads with xor shuffles; O is stored from the
// fragments in pairs.
// REG-LABEL: func.func @registers
// REG: gpu.launch
// REG-SAME: dynamic_shared_memory_size
// REG: %[[KBUF:.*]] = memref.view %{{.*}}[%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<4x32x72xbf16, #gpu.address_space<workgroup>>
// REG: memref.view %{{.*}}[%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<4x32x72xbf16, #gpu.address_space<workgroup>>
// REG: vector.load %{{.*}} {alignment = 4 : i64} : memref<?x?x?x64xbf16>, vector<2xbf16>
// Prologue, only if the loop runs: the first two tiles, one group each. A
// tile inside the tensor is copied from one strided view of this thread's
// chunks (rows 128 threads / 8 chunks = 16 apart), with no byte count; the
// last tile clamps its source rows and zero-fills the rows past the end.
// REG: scf.if
// REG: scf.if
// REG: %[[CHUNKS:.*]] = memref.subview %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] [1, 1, 2, 8] [1, 1, 16, 1] : memref<?x?x?x64xbf16> to memref<2x8xbf16, strided<[1024, 1], offset: ?>>
// REG: nvgpu.device_async_copy %[[CHUNKS]][%{{.*}}, %{{.*}}], %[[KBUF]][%{{.*}}, %{{.*}}, %{{.*}}], 8 {bypassL1}
// REG: } else {
// REG: arith.minsi
// REG: nvgpu.device_async_copy %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}], %[[KBUF]][%{{.*}}, %{{.*}}, %{{.*}}], 8, %{{.*}} {bypassL1}
// REG: nvvm.cp.async.commit.group
// REG: nvvm.cp.async.commit.group
// REG: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}},
// Tile kt + 2 (if it exists) into stage (kt + 2) mod 4, last read in
// iteration kt - 2, issued before the wait; two newer groups may stay in
// flight; one barrier per iteration.
// REG: scf.if
// REG: nvgpu.device_async_copy
// REG: nvvm.cp.async.commit.group
// REG-NEXT: nvvm.cp.async.wait.group 2
// REG-NEXT: gpu.barrier
// REG: memref.subview %[[KBUF]][%{{.*}}, 0, 0] [1, 32, 64] [1, 1, 1]
// K fragments by ldmatrix.x4, V fragments by ldmatrix.x4.trans.
// REG: nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = false}
// REG: nvvm.mma.sync
// Partial tiles: each row's allowed key columns as an i32 range (opaque to
// LLVM, so the compares stay 32-bit), and the per-element selects only if
// some lane of the warp has a disallowed key.
// REG: scf.if %{{.*}} -> (f32,
// REG: arith.minsi
// REG: %[[LAST:.*]] = llvm.inline_asm has_side_effects "mov.b32 $0, $1;", "=r,r" %{{.*}} : (i32) -> i32
// REG: %[[SOME:.*]] = nvvm.vote.sync any %{{.*}}, %{{.*}} -> i1
// REG: scf.if %[[SOME]] -> (f32,
// REG: arith.cmpi sle, %{{.*}}, %[[LAST]] : i32
// REG: arith.select
// REG: gpu.shuffle xor %{{.*}}, %{{.*}}, %{{.*}} : f32
// REG: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz"(%{{.*}}) : (f32) -> f32
// REG: nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = true}
// REG: nvvm.mma.sync
// REG-NOT: gpu.barrier
// REG: scf.yield
// REG: gpu.shuffle xor
// REG: math.log
// REG: vector.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] {alignment = 4 : i64} : memref<?x?x?x64xbf16>, vector<2xbf16>
// REG-NOT: attn.tile
func.func @registers(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv, %lse: memref<?x?x?xf32>) {
  attn.plan ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
      lse(%lse : memref<?x?x?xf32>) scale(0.125) schedule(range) band_upper(0)
  return
}
// Finalize: LSE = m + log(l), -inf for empty rows.
// CHECK: math.log
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: gpu.terminator
// CHECK-NOT: attn.tile
func.func @causal(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv, %lse: memref<?x?x?xf32>) {
  attn.plan ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
      lse(%lse : memref<?x?x?xf32>) scale(0.125) schedule(range) band_upper(0)
  return
}

// -----

!qkv = memref<?x?x?x64xf16>

// The predicate is cloned into the masking loop.
// CHECK-LABEL: func.func @predicate
// CHECK: gpu.launch
// CHECK: %[[LIMIT:.*]] = arith.constant 100 : index
// CHECK: arith.cmpi ult, %{{.*}}, %[[LIMIT]] : index
// CHECK: arith.constant 0xFF800000 : f32
func.func @predicate(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  %limit = arith.constant 100 : index
  attn.plan ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
      scale(0.125) schedule(dense) predicate {
  ^bb0(%i: index, %j: index):
    %ok = arith.cmpi ult, %j, %limit : index
    attn.yield %ok : i1
  }
  return
}
