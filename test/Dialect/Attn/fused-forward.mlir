// RUN: attn-opt %s --split-input-file | attn-opt --split-input-file | FileCheck %s

// The fused step round-trips with its schedule, band, threshold and a
// (b, h, i, j) predicate that reads a per-row value from memory.
!t = memref<?x?x?x64xbf16>
// CHECK-LABEL: func.func @step
// CHECK: attn.fused.forward ins(%{{.*}}, %{{.*}}, %{{.*}} : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>) outs(%{{.*}} : memref<?x?x?x64xbf16>) lse(%{{.*}} : memref<?x?x?xf32>) at(%{{.*}}, %{{.*}}, %{{.*}}) kv_head(%{{.*}}) kv_tiles(%{{.*}}, %{{.*}}) block(128, 64) scale(1.250000e-01) schedule(range) band_lower(-31) band_upper(0) rescale_threshold(8.000000e+00) predicate {
// CHECK-NEXT: ^bb0(%[[B:.*]]: index, %[[H:.*]]: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: memref.load %{{.*}}[%[[B]], %[[H]], %[[I]]] : memref<?x?x?xi32>
func.func @step(%q: !t, %k: !t, %v: !t, %o: !t, %lse: memref<?x?x?xf32>,
                %limits: memref<?x?x?xi32>, %b: index, %h: index, %q0: index,
                %hk: index, %lo: index, %hi: index) {
  attn.fused.forward ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
      lse(%lse : memref<?x?x?xf32>) at(%b, %h, %q0) kv_head(%hk) kv_tiles(%lo, %hi)
      block(128, 64) scale(0.125) schedule(range) band_lower(-31)
      band_upper(0) rescale_threshold(8.0) predicate {
  ^bb0(%pb: index, %ph: index, %i: index, %j: index):
    %n = memref.load %limits[%pb, %ph, %i] : memref<?x?x?xi32>
    %c = arith.index_cast %n : i32 to index
    %ok = arith.cmpi slt, %j, %c : index
    attn.yield %ok : i1
  }
  return
}

// -----

// The list schedule: per-q-tile counts and indices, lists shared by every
// batch (extent 1) and given per head, with a causal band.
// CHECK-LABEL: func.func @list_step
// CHECK: attn.fused.forward {{.*}} kv_head(%{{.*}}) kv_list(%{{.*}}, %{{.*}} : memref<1x?x?x2xi32>, memref<1x?x?x?xi32>) block(64, 64) scale(1.250000e-01) schedule(list) band_upper(0)
// CHECK-NOT: kv_tiles
!t = memref<?x?x?x64xbf16>
func.func @list_step(%q: !t, %o: !t, %b: index, %h: index, %q0: index,
                     %counts: memref<1x?x?x2xi32>,
                     %indices: memref<1x?x?x?xi32>) {
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t)
      at(%b, %h, %q0) kv_head(%h)
      kv_list(%counts, %indices : memref<1x?x?x2xi32>, memref<1x?x?x?xi32>)
      block(64, 64) scale(0.125) schedule(list) band_upper(0)
  return
}
