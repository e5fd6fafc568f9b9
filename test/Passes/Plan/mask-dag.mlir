// RUN: attn-opt %s --split-input-file --attn-plan | FileCheck %s
// RUN: attn-opt %s --split-input-file --cse --attn-plan | FileCheck %s --check-prefix=CSE

// Regressions: a mask tree is a DAG once one value is used twice. The
// planner folds and erases each mask op once (these used to segfault: the
// shared mask was erased twice).

!t = memref<?x?x?x64xf16>

// From /work/shared/repro/and_same_mask_twice.mlir.
// CHECK-LABEL: func.func @selfand
// CHECK-NOT: attn.mask
// CHECK: attn.plan {{.*}} schedule(range) band_upper(0){{$}}
// CHECK-NOT: attn.mask
func.func @selfand(%q: !t, %k: !t, %v: !t, %o: !t) {
  %c = attn.mask.causal
  %a = attn.mask.and %c, %c
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%a)
  return
}

// -----

!t = memref<?x?x?x64xf16>

// From /work/shared/repro/and_two_causal_after_cse.mlir: valid IR that
// --cse turns into the case above.
// CHECK-LABEL: func.func @cse
// CHECK: attn.plan {{.*}} schedule(range) band_upper(0){{$}}
// CHECK-NOT: attn.mask
// CSE-LABEL: func.func @cse
// CSE-NOT: attn.mask
// CSE: attn.plan {{.*}} schedule(range) band_upper(0){{$}}
// CSE-NOT: attn.mask
func.func @cse(%q: !t, %k: !t, %v: !t, %o: !t) {
  %c1 = attn.mask.causal
  %c2 = attn.mask.causal
  %a = attn.mask.and %c1, %c2
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%a)
  return
}

// -----

!t = memref<?x?x?x64xf16>

// A diamond: the window is reached through two paths, the custom predicate
// too; each is folded once (one predicate in the region) and every mask op
// dies, whatever the order of the and's operands.
// CHECK-LABEL: func.func @diamond
// CHECK-NOT: attn.mask
// CHECK: attn.plan {{.*}} schedule(range) band_lower(-7) band_upper(0) predicate {
// CHECK-NEXT: ^bb0(%{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK-NEXT: %[[OK:.*]] = arith.cmpi ne
// CHECK-NEXT: attn.yield %[[OK]] : i1
// CHECK-NEXT: }
// CHECK-NOT: attn.mask
func.func @diamond(%q: !t, %k: !t, %v: !t, %o: !t) {
  %w = attn.mask.window 8
  %p = attn.mask.custom (%i, %j) {
    %ok = arith.cmpi ne, %i, %j : index
    attn.yield %ok : i1
  }
  %c = attn.mask.causal
  %a = attn.mask.and %p, %w
  %b = attn.mask.and %w, %a, %c, %p
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%b)
  return
}

// -----

!t = memref<?x?x?x64xf16>

// A sub-tree shared by two attentions survives the first plan and dies with
// the second.
// CHECK-LABEL: func.func @shared_subtree
// CHECK: attn.plan {{.*}} schedule(range) band_upper(0){{$}}
// CHECK: attn.plan {{.*}} schedule(range) band_lower(-3) band_upper(0){{$}}
// CHECK-NOT: attn.mask
func.func @shared_subtree(%q: !t, %k: !t, %v: !t, %o: !t) {
  %c = attn.mask.causal
  %a = attn.mask.and %c, %c
  %w = attn.mask.window 4
  %b = attn.mask.and %a, %w
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%a)
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%b)
  return
}
