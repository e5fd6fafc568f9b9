// RUN: attn-opt %s --split-input-file --attn-plan | FileCheck %s
// RUN: attn-opt %s --split-input-file --canonicalize --attn-plan | FileCheck %s --check-prefix=CANON

// Regressions: a predicate may yield a value defined above its region (the
// planner used to segfault building the plan's attn.yield).

!t = memref<?x?x?x64xf16>

// From /work/shared/repro/custom_yield_outer_value.mlir.
// CHECK-LABEL: func.func @outer_yield
// CHECK: %[[F:.*]] = arith.constant false
// CHECK: attn.plan {{.*}} schedule(dense) predicate {
// CHECK-NEXT: ^bb0(%{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK-NEXT: attn.yield %[[F]] : i1
// CHECK-NOT: attn.mask
func.func @outer_yield(%q: !t, %k: !t, %v: !t, %o: !t) {
  %f = arith.constant false
  %m = attn.mask.custom (%i, %j) {
    attn.yield %f : i1
  }
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%m)
  return
}

// -----

!t = memref<?x?x?x64xf16>

// The same form produced by folding: canonicalization hoists the constant
// out of the region. Two predicates conjoin an outer value with a cloned one.
// CANON-LABEL: func.func @folded
// CANON: %[[T:.*]] = arith.constant true
// CANON: attn.plan {{.*}} schedule(range) band_upper(0) predicate {
// CANON-NEXT: ^bb0(%{{[^:]*}}: index, %{{[^:]*}}: index, %[[I:[^:]*]]: index, %[[J:[^:]*]]: index):
// CANON-NEXT: %[[NE:.*]] = arith.cmpi ne, %[[I]], %[[J]] : index
// CANON-NEXT: %[[ALL:.*]] = arith.andi %[[T]], %[[NE]] : i1
// CANON-NEXT: attn.yield %[[ALL]] : i1
// CANON-NOT: attn.mask
// CHECK-LABEL: func.func @folded
// CHECK: attn.plan {{.*}} schedule(range) band_upper(0) predicate {
func.func @folded(%q: !t, %k: !t, %v: !t, %o: !t) {
  %c = attn.mask.causal
  %all = attn.mask.custom (%i, %j) {
    %t = arith.constant true
    attn.yield %t : i1
  }
  %not_self = attn.mask.custom (%i, %j) {
    %ok = arith.cmpi ne, %i, %j : index
    attn.yield %ok : i1
  }
  %a = attn.mask.and %all, %c, %not_self
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%a)
  return
}

// -----

!t = memref<?x?x?x64xf16>

// A predicate may read per-row values from a memref defined above it.
// CHECK-LABEL: func.func @reads_row_data
// CHECK-SAME: %[[LIMITS:[^:]*]]: memref<?xindex>
// CHECK: attn.plan {{.*}} schedule(dense) predicate {
// CHECK-NEXT: ^bb0(%{{[^:]*}}: index, %{{[^:]*}}: index, %[[I:[^:]*]]: index, %[[J:[^:]*]]: index):
// CHECK-NEXT: %[[L:.*]] = memref.load %[[LIMITS]][%[[I]]] : memref<?xindex>
// CHECK-NEXT: %[[OK:.*]] = arith.cmpi ult, %[[J]], %[[L]] : index
// CHECK-NEXT: attn.yield %[[OK]] : i1
func.func @reads_row_data(%q: !t, %k: !t, %v: !t, %o: !t,
                          %limits: memref<?xindex>) {
  %m = attn.mask.custom (%i, %j) {
    %l = memref.load %limits[%i] : memref<?xindex>
    %ok = arith.cmpi ult, %j, %l : index
    attn.yield %ok : i1
  }
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%m)
  return
}
