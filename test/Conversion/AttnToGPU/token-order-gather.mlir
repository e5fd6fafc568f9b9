// RUN: attn-opt %s --attn-plan --attn-tile="gather-rows=true" --attn-to-gpu 2>&1 | FileCheck %s

// Q, K and V copied into sorted order first: after the two sorts, one
// gather launch per tensor (a thread per 16-byte chunk: one 16-byte load
// through the order, one 16-byte store at the sorted row), the sorted rows
// as scratch buffers of the activations' shapes; the attention kernel
// loads them without the orders (cp.async of whole rows) and still runs
// with the sm_80 emitter (no remark).
// CHECK-NOT: remark
// CHECK-LABEL: func.func @gathered
// CHECK-SAME: {block = [128, 1, 1], grid = ["ceildiv((Nq * 8), 128)", "Hq", "B"], kernel = "gathered_kernel_2"
// CHECK-SAME: {block = [128, 1, 1], grid = ["ceildiv((Nk * 8), 128)", "Hk", "B"], kernel = "gathered_kernel_3"
// CHECK-SAME: {block = [128, 1, 1], grid = ["ceildiv((Nk * 8), 128)", "Hk", "B"], kernel = "gathered_kernel_4"
// CHECK-SAME: {dtype = "bf16", name = "sorted_queries", shape = ["B", "Hq", "Nq", 64]}
// CHECK-SAME: {dtype = "bf16", name = "sorted_keys", shape = ["B", "Hk", "Nk", 64]}
// CHECK-SAME: {dtype = "bf16", name = "sorted_values", shape = ["B", "Hk", "Nk", 64]}
// CHECK: gpu.launch
// CHECK: gpu.launch
// CHECK: gpu.launch
// CHECK: %[[ROW:.*]] = memref.load %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : memref<?x?x?xi32>
// CHECK: %[[CHUNK:.*]] = vector.load %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<?x?x?x64xbf16>, vector<8xbf16>
// CHECK: vector.store %[[CHUNK]], %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<?x?x?x64xbf16>, vector<8xbf16>
!t = memref<?x?x?x64xbf16>
func.func @gathered(%q: !t, %k: !t, %v: !t, %o: !t,
                    %qb: memref<?x?x?xi32>, %kb: memref<?x?x?xi32>) {
  %causal = attn.mask.causal
  %hash = attn.mask.hash %qb, %kb buckets(8)
      : memref<?x?x?xi32>, memref<?x?x?xi32>
  %mask = attn.mask.and %causal, %hash
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%mask)
  return
}
