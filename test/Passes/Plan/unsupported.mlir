// RUN: attn-opt %s --split-input-file --attn-plan --verify-diagnostics

// Structures and combinations the planner does not handle are located
// errors, not crashes.

func.func @two_orders(%q: memref<?x?x?x64xf16>, %qb: memref<?x?x?xi32>, %kq: memref<?x?x?xi1>) {
  // expected-note@+1 {{the other one}}
  %h = attn.mask.hash %qb, %qb buckets(4) : memref<?x?x?xi32>, memref<?x?x?xi32>
  // expected-note@+1 {{mask defined here}}
  %d = attn.mask.drop %kq, %kq : memref<?x?x?xi1>, memref<?x?x?xi1>
  %m = attn.mask.and %h, %d
  // expected-error@+1 {{attn-plan: an 'and' of two token orders (hash buckets, keep flags) is not supported yet; combine them into one mask}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) mask(%m)
  return
}

// -----

func.func @nm_over_hash(%q: memref<?x?x?x64xf16>, %qb: memref<?x?x?xi32>) {
  // expected-note@+1 {{token order from here}}
  %h = attn.mask.hash %qb, %qb buckets(4) : memref<?x?x?xi32>, memref<?x?x?xi32>
  %p = attn.mask.nm 2 of 4 base(%h)
  // expected-error@+1 {{attn-plan: an N:M prune over hash buckets or dropped tokens is not supported yet}}
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

func.func @block_and_order(%q: memref<?x?x?x64xf16>, %bm: memref<?x?xi1>, %qb: memref<?x?x?xi32>) {
  %b = attn.mask.block %bm size(64) : memref<?x?xi1>
  // expected-note@+1 {{token order from here}}
  %h = attn.mask.hash %qb, %qb buckets(4) : memref<?x?x?xi32>, memref<?x?x?xi32>
  %m = attn.mask.and %b, %h
  // expected-error@+1 {{attn-plan: a block mask and a token order (hash buckets, keep flags) together are not supported yet}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) mask(%m)
  return
}

// -----

func.func @too_many_buckets(%q: memref<?x?x?x64xf16>, %qb: memref<?x?x?xi32>) {
  // expected-note@+1 {{mask defined here}}
  %h = attn.mask.hash %qb, %qb buckets(65537) : memref<?x?x?xi32>, memref<?x?x?xi32>
  // expected-error@+1 {{hash masks of more than 65536 buckets are not supported, got 65537}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) mask(%h)
  return
}
