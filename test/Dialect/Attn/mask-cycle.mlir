// RUN: attn-opt %s --split-input-file --verify-diagnostics

// Regressions: a mask that uses its own result is a dominance error, reported
// as such. The attention's verifier walks the mask tree before dominance is
// checked; it used to recurse around the cycle until the stack overflowed.

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
