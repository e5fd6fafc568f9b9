// RUN: attn-opt %s --attn-plan --attn-tile --attn-to-gpu 2>&1 | FileCheck %s

// A hash attention with LSH bucket ids becomes, in program order: one LSH
// launch per side (a thread per token), one counting-sort launch per side
// (a block per (b, h), class counts in shared memory, a block-wide scan),
// the kv-tile summaries, the per-q-tile lists, then the sm_80 emitter's
// attention (no per-op fallback remark). The bucket ids are described by
// the activations' extents, the orders, classes, summaries and lists are
// scratch buffers sized in the attention's symbols.
// CHECK-NOT: remark
// CHECK-LABEL: func.func @hash
// CHECK: attn.bundle
// CHECK-SAME: {dtype = "i32", name = "q_bucket_ids", shape = ["B", "Hq", "Nq"], writes}
// CHECK-SAME: {dtype = "i32", name = "k_bucket_ids", shape = ["B", "Hk", "Nk"], writes}
// CHECK-SAME: launches = [{block = [128, 1, 1], grid = ["ceildiv(Nq, 128)", "Hq", "B"], kernel = "hash_kernel", shared_bytes = 0 : i64}
// CHECK-SAME: {block = [128, 1, 1], grid = ["ceildiv(Nk, 128)", "Hk", "B"], kernel = "hash_kernel_1", shared_bytes = 0 : i64}
// CHECK-SAME: {block = [1024, 1, 1], grid = ["Hq", "B", "1"], kernel = "hash_kernel_2"
// CHECK-SAME: {block = [1024, 1, 1], grid = ["Hk", "B", "1"], kernel = "hash_kernel_3"
// CHECK-SAME: {block = [128, 1, 1], grid = ["ceildiv(ceildiv(Nk, 64), 128)", "Hk", "B"], kernel = "hash_kernel_4"
// CHECK-SAME: {block = [128, 1, 1], grid = ["ceildiv(ceildiv(Nq, 64), 128)", "Hq", "B"], kernel = "hash_kernel_5"
// CHECK-SAME: kernel = "hash_kernel_6"
// CHECK-SAME: scratch = [{dtype = "i32", name = "query_order", shape = ["B", "Hq", "Nq"]}, {dtype = "i32", name = "query_classes", shape = ["B", "Hq", "Nq"]}, {dtype = "i32", name = "key_order", shape = ["B", "Hk", "Nk"]}, {dtype = "i32", name = "key_classes", shape = ["B", "Hk", "Nk"]}, {dtype = "i32", name = "key_tile_summaries", shape = ["B", "Hk", "ceildiv(Nk, 64)", 4]}
// The counting sort: counts per (class, thread), a block-wide scan
// (shuffles up, warp totals in shared memory), the stable scatter.
// CHECK: gpu.launch
// CHECK: gpu.launch
// CHECK: gpu.launch
// CHECK: gpu.shuffle up
// CHECK: gpu.barrier
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : memref<?x?x?xi32>
// The attention gathers K and V rows through the key order (cp.async
// with a source size, zero past Nk).
// CHECK: gpu.launch
// CHECK: gpu.launch
// CHECK: gpu.launch
// CHECK: gpu.launch
// CHECK: nvgpu.device_async_copy
!t = memref<?x?x?x64xbf16>
func.func @hash(%q: !t, %k: !t, %v: !t, %o: !t,
                %rotation: memref<64x4xf32>, %qb: memref<?x?x?xi32>,
                %kb: memref<?x?x?xi32>) {
  attn.lsh ins(%q, %rotation : !t, memref<64x4xf32>)
           outs(%qb : memref<?x?x?xi32>)
  attn.lsh ins(%k, %rotation : !t, memref<64x4xf32>)
           outs(%kb : memref<?x?x?xi32>)
  %causal = attn.mask.causal
  %hash = attn.mask.hash %qb, %kb buckets(8)
      : memref<?x?x?xi32>, memref<?x?x?xi32>
  %mask = attn.mask.and %causal, %hash
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%mask)
  return
}
