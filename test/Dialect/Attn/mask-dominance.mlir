// RUN: attn-opt %s --split-input-file --verify-diagnostics

// Regressions: the attention's verifier walks its mask tree before
// dominance is checked, and before the verifiers of mask ops defined after
// it have run. A mask that uses its own result is a dominance error,
// reported as such (the walk used to recurse around the cycle until the
// stack overflowed); a mask defined after its use is reported by its own
// verifier (its operands' ranks are not assumed).

// From /work/shared/repro/mask_cycle_verifier_overflow.mlir.
!t = memref<?x?x?x64xf16>
func.func @cycle(%q: !t, %k: !t, %v: !t, %o: !t) {
  // expected-error@+2 {{operand #0 does not dominate this use}}
  // expected-note@+1 {{operand defined here (op in the same block)}}
  %a = attn.mask.nm 2 of 4 base(%a)
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%a)
  return
}

// -----

// A longer cycle through attn.mask.and.
!t = memref<?x?x?x64xf16>
func.func @and_cycle(%q: !t, %k: !t, %v: !t, %o: !t) {
  %c = attn.mask.causal
  // expected-error@+1 {{operand #1 does not dominate this use}}
  %a = attn.mask.and %c, %b
  // expected-note@+1 {{operand defined here (op in the same block)}}
  %b = attn.mask.and %a, %c
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%b)
  return
}

// -----

// The attention is verified before the hash op below it: the per-query
// buffer's missing dimensions are left to the hash op's own verifier.
!t = memref<1x4x128x64xf16>
func.func @use_before_def(%q: !t, %qb: memref<1xi32>) {
  attn.attention ins(%q, %q, %q : !t, !t, !t) outs(%q : !t) mask(%b)
  // expected-error@+1 {{'attn.mask.hash' op operand #0 must be 3D memref of signless integer values, but got 'memref<1xi32>'}}
  %b = attn.mask.hash %qb, %qb buckets(4) : memref<1xi32>, memref<1xi32>
  return
}
