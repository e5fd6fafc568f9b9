// RUN: attn-opt %s --split-input-file --verify-diagnostics

// What a predicate region (attn.mask.custom, attn.plan) may contain: reads
// yes; writes, allocations, frees and attn compute ops no.

!t = memref<?x?x?x64xf16>

// From /work/shared/repro/pred_side_effect_accepted.mlir.
func.func @pred_store(%q: !t, %k: !t, %v: !t, %o: !t, %log: memref<?xi1>) {
  // expected-error@+1 {{'attn.mask.custom' op predicate must not write, allocate or free memory, but 'memref.store' writes memory}}
  %m = attn.mask.custom (%i, %j) {
    %ok = arith.cmpi ule, %j, %i : index
    // expected-note@+1 {{side effect here}}
    memref.store %ok, %log[%i] : memref<?xi1>
    attn.yield %ok : i1
  }
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%m)
  return
}

// -----

!t = memref<?x?x?x64xf16>

// From /work/shared/repro/attention_inside_predicate.mlir.
func.func @na(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error@+1 {{'attn.mask.custom' op predicate must not contain 'attn.attention': attn compute ops cannot run inside a mask predicate}}
  %m = attn.mask.custom (%i, %j) {
    %c = attn.mask.causal
    // expected-note@+1 {{nested op here}}
    attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%c)
    %t = arith.constant true
    attn.yield %t : i1
  }
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%m)
  return
}

// -----

func.func @pred_alloc() {
  // expected-error@+1 {{predicate must not write, allocate or free memory, but 'memref.alloca' allocates memory}}
  %m = attn.mask.custom (%i, %j) {
    // expected-note@+1 {{side effect here}}
    %buf = memref.alloca() : memref<4xi1>
    %t = arith.constant true
    attn.yield %t : i1
  }
  return
}

// -----

func.func @pred_free(%buf: memref<4xi1>) {
  // expected-error@+1 {{predicate must not write, allocate or free memory, but 'memref.dealloc' frees memory}}
  %m = attn.mask.custom (%i, %j) {
    // expected-note@+1 {{side effect here}}
    memref.dealloc %buf : memref<4xi1>
    %t = arith.constant true
    attn.yield %t : i1
  }
  return
}

// -----

// A write nested in a region inside the predicate is found too.
func.func @pred_nested_store(%log: memref<?xi1>) {
  // expected-error@+1 {{predicate must not write, allocate or free memory, but 'memref.store' writes memory}}
  %m = attn.mask.custom (%i, %j) {
    %ok = arith.cmpi ule, %j, %i : index
    scf.if %ok {
      // expected-note@+1 {{side effect here}}
      memref.store %ok, %log[%i] : memref<?xi1>
    }
    attn.yield %ok : i1
  }
  return
}

// -----

// An attn preprocessing op is a compute op too.
func.func @pred_lsh(%x: memref<?x?x?x64xf16>, %r: memref<64x4xf32>,
                    %ids: memref<?x?x?xi32>) {
  // expected-error@+1 {{predicate must not contain 'attn.lsh'}}
  %m = attn.mask.custom (%i, %j) {
    // expected-note@+1 {{nested op here}}
    attn.lsh ins(%x, %r : memref<?x?x?x64xf16>, memref<64x4xf32>) outs(%ids : memref<?x?x?xi32>)
    %t = arith.constant true
    attn.yield %t : i1
  }
  return
}

// -----

// The same rules hold for attn.plan's predicate.
func.func @plan_store(%q: memref<?x?x?x64xf16>, %log: memref<?xi1>) {
  // expected-error@+1 {{'attn.plan' op predicate must not write, allocate or free memory, but 'memref.store' writes memory}}
  attn.plan ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) scale(1.0) schedule(dense) predicate {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %ok = arith.cmpi ule, %j, %i : index
    // expected-note@+1 {{side effect here}}
    memref.store %ok, %log[%i] : memref<?xi1>
    attn.yield %ok : i1
  }
  return
}

// -----

// From /work/shared/repro/pred_call_decl_erased.mlir: a call's effects are
// unknown (and the GPU kernel could not reach an external callee: ptxas
// reported an unresolved extern function).
!t = memref<?x?x?x64xf16>
func.func private @ext(index, index) -> i1
func.func @pred_call(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error@+1 {{'attn.mask.custom' op predicate must be pure, but the effects of 'func.call' are unknown: inline the callee into the predicate}}
  %m = attn.mask.custom (%i, %j) {
    // expected-note@+1 {{op here}}
    %ok = func.call @ext(%i, %j) : (index, index) -> i1
    attn.yield %ok : i1
  }
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%m)
  return
}

// -----

// Control flow is walked into: an scf.if whose branches only compute is
// fine.
!t = memref<?x?x?x64xf16>
func.func @pred_if(%q: !t, %k: !t, %v: !t, %o: !t) {
  %m = attn.mask.custom (%i, %j) {
    %c = arith.cmpi ule, %j, %i : index
    %ok = scf.if %c -> (i1) {
      %t = arith.constant true
      scf.yield %t : i1
    } else {
      %f = arith.constant false
      scf.yield %f : i1
    }
    attn.yield %ok : i1
  }
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%m)
  return
}
