// RUN: attn-opt %s --attn-to-cpu | FileCheck %s

// The list schedule's decomposition: the lists are indexed at (b', h', t)
// with b' = 0 when the lists' batch extent is 1 (here statically) and h'
// likewise, t = q0 / block_q; the kv loop runs over positions [0, F + P),
// loads the tile index of each (clamped to the last position) and masks
// only positions past the F full tiles.
!t = memref<?x?x?x64xf32>
// CHECK-LABEL: func.func @list_step
// CHECK-SAME: (%{{.*}}: memref<?x?x?x64xf32>, %{{.*}}: memref<?x?x?x64xf32>, %[[B:.*]]: index, %[[H:.*]]: index, %[[Q0:.*]]: index, %[[COUNTS:.*]]: memref<1x?x?x2xi32>, %[[INDICES:.*]]: memref<1x?x?x?xi32>)
// CHECK: %[[DB:.*]] = memref.dim %[[COUNTS]], %c0
// CHECK: %[[SB:.*]] = arith.cmpi eq, %[[DB]], %c1
// CHECK: %[[LB:.*]] = arith.select %[[SB]], %c0, %[[B]]
// CHECK: %[[DH:.*]] = memref.dim %[[COUNTS]], %c1
// CHECK: %[[SH:.*]] = arith.cmpi eq, %[[DH]], %c1
// CHECK: %[[LH:.*]] = arith.select %[[SH]], %c0, %[[H]]
// CHECK: %[[T:.*]] = arith.divui %[[Q0]], %c64
// CHECK: %[[F32:.*]] = memref.load %[[COUNTS]][%[[LB]], %[[LH]], %[[T]], %c0]
// CHECK: %[[F:.*]] = arith.index_cast %[[F32]]
// CHECK: %[[P32:.*]] = memref.load %[[COUNTS]][%[[LB]], %[[LH]], %[[T]], %c1]
// CHECK: %[[P:.*]] = arith.index_cast %[[P32]]
// CHECK: %[[END:.*]] = arith.addi %[[F]], %[[P]]
// CHECK: scf.for %[[POS:.*]] = %c0 to %[[END]] step %c1 {
// CHECK:   %[[LAST:.*]] = arith.subi %[[END]], %c1
// CHECK:   %[[CLAMPED:.*]] = arith.minui %[[POS]], %[[LAST]]
// CHECK:   %[[KT32:.*]] = memref.load %[[INDICES]][%[[LB]], %[[LH]], %[[T]], %[[CLAMPED]]]
// CHECK:   %[[KT:.*]] = arith.index_cast %[[KT32]]
// CHECK:   arith.muli %[[KT]], %c64
// CHECK:   %[[PARTIAL:.*]] = arith.cmpi uge, %[[POS]], %[[F]]
// CHECK:   scf.if %[[PARTIAL]] {
func.func @list_step(%q: !t, %o: !t, %b: index, %h: index, %q0: index,
                     %counts: memref<1x?x?x2xi32>,
                     %indices: memref<1x?x?x?xi32>) {
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t)
      at(%b, %h, %q0) kv_head(%h)
      kv_list(%counts, %indices : memref<1x?x?x2xi32>, memref<1x?x?x?xi32>)
      block(64, 64) scale(0.125) schedule(list) band_upper(0)
  return
}
