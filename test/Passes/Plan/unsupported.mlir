// RUN: attn-opt %s --split-input-file --attn-plan --verify-diagnostics

// Structures whose analysis has not landed are located errors, not crashes.

func.func @hash(%q: memref<?x?x?x64xf16>, %qb: memref<?x?x?xi32>) {
  %c = attn.mask.causal
  // expected-note@+1 {{mask defined here}}
  %h = attn.mask.hash %qb, %qb buckets(4) : memref<?x?x?xi32>, memref<?x?x?xi32>
  %m = attn.mask.and %c, %h
  // expected-error@+1 {{attn-plan: mask 'attn.mask.hash' is not supported by the planner yet (supported: causal, window, block, custom and their 'and')}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) mask(%m)
  return
}

// -----

func.func @nm(%q: memref<?x?x?x64xf16>) {
  // expected-note@+1 {{mask defined here}}
  %p = attn.mask.nm 2 of 4
  // expected-error@+1 {{mask 'attn.mask.nm' is not supported by the planner yet}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) mask(%p)
  return
}

// -----

func.func @two_blocks(%q: memref<?x?x?x64xf16>, %bm: memref<?x?xi1>) {
  %b = attn.mask.block %bm size(64) : memref<?x?xi1>
  // expected-note@+1 {{mask defined here}}
  %c = attn.mask.block %bm size(32) : memref<?x?xi1>
  %m = attn.mask.and %b, %c
  // expected-error@+1 {{an 'and' of two block masks is not supported yet (combine them into one block mask)}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) mask(%m)
  return
}

// -----

func.func @drop(%q: memref<?x?x?x64xf16>, %kq: memref<?x?x?xi1>) {
  // expected-note@+1 {{mask defined here}}
  %d = attn.mask.drop %kq, %kq : memref<?x?x?xi1>, memref<?x?x?xi1>
  // expected-error@+1 {{mask 'attn.mask.drop' is not supported by the planner yet}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) mask(%d)
  return
}
