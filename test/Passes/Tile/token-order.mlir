// RUN: attn-opt %s --split-input-file --attn-tile="block-q=64 block-k=32" | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-tile="block-q=64 block-k=32 gather-rows=true" | FileCheck %s --check-prefix=GATHER

// A plan over sorted tokens: attn-tile sorts both sides by class into
// scratch orders sized like Q and K (attn.token_order, counting the bucket
// ids out of range in one word per side), builds the kv-tile
// summaries and the lists (attn.ordered_tile_lists, full tiles allowed
// since the plan has no predicate of its own), runs one list-scheduled
// fused step per q-tile with the orders and sorted classes (the class
// condition is the step's own: no predicate), and frees all scratch after
// the q-tiles.
// CHECK-LABEL: func.func @hash
// CHECK-SAME: %[[Q:[a-z0-9]+]]: memref<?x?x?x64xbf16>, %[[K:[a-z0-9]+]]: memref<?x?x?x64xbf16>, %{{.*}}: memref<?x?x?x64xbf16>, %[[QB:[a-z0-9]+]]: memref<?x?x?xi32>, %[[KB:[a-z0-9]+]]: memref<?x?x?xi32>
// CHECK: %[[QO:.*]] = memref.alloc({{.*}}) {attn.scratch = "query_order"} : memref<?x?x?xi32>
// CHECK: %[[QC:.*]] = memref.alloc({{.*}}) {attn.scratch = "query_classes"} : memref<?x?x?xi32>
// CHECK: %[[QE:.*]] = memref.alloc() {attn.scratch = "query_invalid_ids"} : memref<1xi32>
// CHECK: attn.token_order %[[QB]] into(%[[QO]], %[[QC]] : memref<?x?x?xi32>, memref<?x?x?xi32>) count_invalid(%[[QE]] : memref<1xi32>) classes(8) : memref<?x?x?xi32>
// CHECK: %[[KO:.*]] = memref.alloc({{.*}}) {attn.scratch = "key_order"}
// CHECK: %[[KC:.*]] = memref.alloc({{.*}}) {attn.scratch = "key_classes"}
// CHECK: %[[KE:.*]] = memref.alloc() {attn.scratch = "key_invalid_ids"} : memref<1xi32>
// CHECK: attn.token_order %[[KB]] into(%[[KO]], %[[KC]] : memref<?x?x?xi32>, memref<?x?x?xi32>) count_invalid(%[[KE]] : memref<1xi32>) classes(8) : memref<?x?x?xi32>
// CHECK: %[[SUM:.*]] = memref.alloc({{.*}}) {attn.scratch = "key_tile_summaries"} : memref<?x?x?x4xi32>
// CHECK: %[[COUNTS:.*]] = memref.alloc({{.*}}) {attn.scratch = "tile_counts"} : memref<?x?x?x2xi32>
// CHECK: %[[INDICES:.*]] = memref.alloc({{.*}}) {attn.scratch = "tile_indices"} : memref<?x?x?x?xi32>
// CHECK: attn.ordered_tile_lists queries(%[[QO]], %[[QC]]) keys(%[[KO]], %[[KC]]) summaries(%[[SUM]]) into(%[[COUNTS]], %[[INDICES]]) classes(8) tiles(64, 32) band_upper(0) :
// CHECK-NOT: partial_only
// CHECK: scf.forall
// CHECK: attn.fused.forward {{.*}} kv_list(%[[COUNTS]], %[[INDICES]] : {{.*}}) orders(%[[QO]], %[[KO]] : memref<?x?x?xi32>, memref<?x?x?xi32>) classes(%[[QC]], %[[KC]] : memref<?x?x?xi32>, memref<?x?x?xi32>) order_classes(8) unless_invalid(%[[QE]], %[[KE]] : memref<1xi32>, memref<1xi32>) block(64, 32) {{.*}} schedule(list) band_upper(0)
// CHECK-NOT: predicate
// CHECK: memref.dealloc %[[QO]]
// CHECK: memref.dealloc %[[INDICES]]
// With gather-rows, Q (by the query order), K and V (by the key order)
// are copied into sorted scratch rows after the sorts, and the steps read
// those (sorted_inputs); the orders still place O and LSE.
// GATHER-LABEL: func.func @hash
// GATHER-SAME: %[[Q:[a-z0-9]+]]: memref<?x?x?x64xbf16>, %[[K:[a-z0-9]+]]: memref<?x?x?x64xbf16>
// GATHER: %[[QO:.*]] = memref.alloc({{.*}}) {attn.scratch = "query_order"}
// GATHER: %[[KO:.*]] = memref.alloc({{.*}}) {attn.scratch = "key_order"}
// GATHER: %[[SQ:.*]] = memref.alloc({{.*}}) {attn.scratch = "sorted_queries"} : memref<?x?x?x64xbf16>
// GATHER: attn.gather_rows %[[Q]] by %[[QO]] into %[[SQ]] : memref<?x?x?x64xbf16>, memref<?x?x?xi32>, memref<?x?x?x64xbf16>
// GATHER: %[[SK:.*]] = memref.alloc({{.*}}) {attn.scratch = "sorted_keys"}
// GATHER: attn.gather_rows %[[K]] by %[[KO]] into %[[SK]]
// GATHER: %[[SV:.*]] = memref.alloc({{.*}}) {attn.scratch = "sorted_values"}
// GATHER: attn.gather_rows %[[K]] by %[[KO]] into %[[SV]]
// GATHER: attn.fused.forward ins(%[[SQ]], %[[SK]], %[[SV]] : {{.*}}) {{.*}} orders(%[[QO]], %[[KO]] : {{.*}} sorted_inputs block(64, 32)
// GATHER: memref.dealloc %[[SQ]]
!t = memref<?x?x?x64xbf16>
func.func @hash(%q: !t, %k: !t, %o: !t, %qb: memref<?x?x?xi32>,
                %kb: memref<?x?x?xi32>) {
  attn.plan ins(%q, %k, %k : !t, !t, !t) outs(%o : !t) scale(0.125)
      schedule(list) band_upper(0)
      order(%qb, %kb : memref<?x?x?xi32>, memref<?x?x?xi32>) classes(8)
  return
}

// -----

// Keep flags with a further predicate: classes(1) keep_flags on both
// sorts (no count: every flag is valid), lists without full tiles
// (partial_only), and the step's predicate is the class condition and the
// plan's.
// CHECK-LABEL: func.func @drop_custom
// CHECK-NOT: count_invalid
// CHECK: attn.token_order {{.*}}) classes(1) keep_flags : memref<?x?x?xi1>
// CHECK: attn.token_order {{.*}}) classes(1) keep_flags : memref<?x?x?xi1>
// CHECK-NOT: unless_invalid
// CHECK: attn.ordered_tile_lists {{.*}} classes(1) tiles(64, 32) band_upper(0) partial_only
// CHECK: attn.fused.forward {{.*}} order_classes(1) {{.*}} predicate {
// CHECK: ^bb0(%{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %[[J:.*]]: index):
// CHECK: %[[EVEN:.*]] = arith.cmpi eq, %{{.*}}, %c0
// CHECK: attn.yield %[[EVEN]]
!t = memref<?x?x?x64xbf16>
func.func @drop_custom(%q: !t, %o: !t, %kq: memref<?x?x?xi1>) {
  attn.plan ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) scale(0.125)
      schedule(list) band_upper(0)
      order(%kq, %kq : memref<?x?x?xi1>, memref<?x?x?xi1>) classes(1)
      keep_flags predicate {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %two = arith.constant 2 : index
    %zero = arith.constant 0 : index
    %r = arith.remui %j, %two : index
    %ok = arith.cmpi eq, %r, %zero : index
    attn.yield %ok : i1
  }
  return
}
