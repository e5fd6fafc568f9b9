// RUN: attn-opt %s --split-input-file --attn-tile="block-q=64 block-k=32" | FileCheck %s

// A list-scheduled plan: attn-tile allocates the lists ([1, 1, T, *] for a
// shared block mask), fills them with attn.tile_lists for its tiles, runs
// one list-scheduled fused step per q-tile whose predicate reads the block
// mask, and frees the lists after the q-tiles.
// CHECK-LABEL: func.func @shared
// CHECK-SAME: %[[BM:[a-z0-9]+]]: memref<?x?xi8>
// CHECK: %[[NQ:.*]] = memref.dim %{{.*}}, %c2
// CHECK: %[[NK:.*]] = memref.dim %{{.*}}, %c2
// CHECK: %[[T:.*]] = arith.ceildivui %[[NQ]]
// CHECK: %[[KT:.*]] = arith.ceildivui %[[NK]]
// CHECK: %[[COUNTS:.*]] = memref.alloc(%[[T]]) {attn.scratch = "tile_counts"} : memref<1x1x?x2xi32>
// CHECK: %[[INDICES:.*]] = memref.alloc(%[[T]], %[[KT]]) {attn.scratch = "tile_indices"} : memref<1x1x?x?xi32>
// CHECK: attn.tile_lists %[[BM]] size(128) into(%[[COUNTS]], %[[INDICES]] : memref<1x1x?x2xi32>, memref<1x1x?x?xi32>) extents(%[[NQ]], %[[NK]]) tiles(64, 32) band_upper(0) : memref<?x?xi8>
// CHECK: scf.forall
// CHECK: attn.fused.forward {{.*}} kv_list(%[[COUNTS]], %[[INDICES]] : memref<1x1x?x2xi32>, memref<1x1x?x?xi32>) block(64, 32) scale(1.250000e-01) schedule(list) band_upper(0)
// CHECK-SAME: predicate {
// CHECK: ^bb0(%{{.*}}: index, %{{.*}}: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK: %[[BI:.*]] = arith.divui %[[I]], %c128
// CHECK: %[[BJ:.*]] = arith.divui %[[J]], %c128
// CHECK: memref.load %[[BM]][%[[BI]], %[[BJ]]] : memref<?x?xi8>
// CHECK: }
// CHECK: memref.dealloc %[[COUNTS]]
// CHECK: memref.dealloc %[[INDICES]]
!t = memref<?x?x?x64xbf16>
func.func @shared(%q: !t, %o: !t, %bm: memref<?x?xi8>) {
  attn.plan ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) scale(0.125)
      schedule(list) band_upper(0) block_mask(%bm : memref<?x?xi8>)
      block_size(128)
  return
}

// -----

// A per-head block mask: lists per (batch, query head); with a further
// predicate the lists hold no full tile (partial_only) and the step's
// predicate is the block mask's and the plan's.
// CHECK-LABEL: func.func @per_head
// CHECK: %[[B:.*]] = memref.dim %{{.*}}, %c0
// CHECK: %[[H:.*]] = memref.dim %{{.*}}, %c1
// CHECK: memref.alloc(%[[B]], %[[H]], %{{.*}}) {attn.scratch = "tile_counts"} : memref<?x?x?x2xi32>
// CHECK: memref.alloc(%[[B]], %[[H]], %{{.*}}, %{{.*}}) {attn.scratch = "tile_indices"} : memref<?x?x?x?xi32>
// CHECK: attn.tile_lists {{.*}} partial_only : memref<?x?x?x?xi1>
// CHECK: attn.fused.forward
// CHECK: ^bb0(%[[PB:.*]]: index, %[[PH:.*]]: index, %{{.*}}: index, %[[J:.*]]: index):
// CHECK: %[[ON:.*]] = arith.cmpi ne
// CHECK: %[[EVEN:.*]] = arith.cmpi eq
// CHECK: %[[BOTH:.*]] = arith.andi %[[ON]], %[[EVEN]]
// CHECK: attn.yield %[[BOTH]]
!t = memref<?x?x?x64xbf16>
func.func @per_head(%q: !t, %o: !t, %bm: memref<?x?x?x?xi1>) {
  attn.plan ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) scale(0.125)
      schedule(list) block_mask(%bm : memref<?x?x?x?xi1>) block_size(32)
      predicate {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %two = arith.constant 2 : index
    %r = arith.remui %j, %two : index
    %zero = arith.constant 0 : index
    %ok = arith.cmpi eq, %r, %zero : index
    attn.yield %ok : i1
  }
  return
}
