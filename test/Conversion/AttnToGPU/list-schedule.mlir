// RUN: attn-opt %s --attn-to-gpu 2>&1 | FileCheck %s

// The sm_80 emitter takes a list-scheduled step (no remark of the per-op
// fallback): the counts are read once per block, the kv loop runs over
// the list's positions [0, F + P), and each iteration reads the tile index
// of the position it prefetches (cp.async, two ahead) and of the position
// it computes. The lists are described in the bundle like any argument.
// CHECK-NOT: remark
// CHECK-LABEL: func.func @list
// CHECK-SAME: {dtype = "i32", name = "counts", shape = [1, 1, "QT", 2]}, {dtype = "i32", name = "indices", shape = [1, 1, "QT", "KT"]}
// CHECK: gpu.launch
// CHECK: %[[F32:.*]] = memref.load %[[COUNTS:.*]][%{{.*}}, %{{.*}}, %{{.*}}, %c0{{.*}}] : memref<1x1x?x2xi32>
// CHECK: %[[F:.*]] = arith.index_cast %[[F32]]
// CHECK: %[[P32:.*]] = memref.load %[[COUNTS]][%{{.*}}, %{{.*}}, %{{.*}}, %c1{{.*}}] : memref<1x1x?x2xi32>
// CHECK: %[[P:.*]] = arith.index_cast %[[P32]]
// CHECK: %[[END:.*]] = arith.addi %[[F]], %[[P]]
// CHECK: scf.for %[[POS:.*]] = %c0{{.*}} to %[[END]] step %c1{{.*}} iter_args
// CHECK:   memref.load %[[INDICES:.*]][{{.*}}] : memref<1x1x?x?xi32>
// CHECK:   nvvm.cp.async.commit.group
// CHECK:   nvvm.cp.async.wait.group 2
// CHECK:   memref.load %[[INDICES]][{{.*}}] : memref<1x1x?x?xi32>
// CHECK:   arith.cmpi uge, %[[POS]], %[[F]]
!t = memref<?x?x?x64xbf16>
func.func @list(
    %q: !t, %k: !t, %v: !t, %o: !t, %lse: memref<?x?x?xf32>,
    %counts: memref<1x1x?x2xi32>
        {attn.name = "counts", attn.shape = [1, 1, "QT", 2]},
    %indices: memref<1x1x?x?xi32>
        {attn.name = "indices", attn.shape = [1, 1, "QT", "KT"]}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %bq = arith.constant 128 : index
  %nb = memref.dim %q, %c0 : !t
  %hq = memref.dim %q, %c1 : !t
  %nq = memref.dim %q, %c2 : !t
  %qtiles = arith.ceildivui %nq, %bq : index
  scf.forall (%b, %h, %t) in (%nb, %hq, %qtiles) {
    %q0 = arith.muli %t, %bq : index
    attn.fused.forward ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
        lse(%lse : memref<?x?x?xf32>) at(%b, %h, %q0) kv_head(%h)
        kv_list(%counts, %indices : memref<1x1x?x2xi32>, memref<1x1x?x?xi32>)
        block(128, 64) scale(0.125) schedule(list) band_upper(0)
  }
  return
}
