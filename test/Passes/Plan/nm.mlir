// RUN: attn-opt %s --split-input-file --attn-plan | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-plan --attn-tile | FileCheck %s --check-prefix=TILE

// An N:M prune over a causal base: the base plans as usual (a range
// schedule with band_upper(0)) and the prune becomes nm(2 of 4), which
// attn-tile hands to the fused step; the mask ops are gone.
!t = memref<?x?x?x64xbf16>
// CHECK-LABEL: func.func @causal_2_4
// CHECK-NOT: attn.mask
// CHECK: attn.plan
// CHECK-SAME: schedule(range)
// CHECK-SAME: band_upper(0)
// CHECK-SAME: nm(2 of 4)
// TILE-LABEL: func.func @causal_2_4
// TILE: attn.fused.forward
// TILE-SAME: schedule(range)
// TILE-SAME: band_upper(0)
// TILE-SAME: nm(2 of 4)
func.func @causal_2_4(%q: !t, %k: !t, %v: !t, %o: !t) {
  %c = attn.mask.causal
  %p = attn.mask.nm 2 of 4 base(%c)
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%p)
  return
}

// -----

// No base: every key is a candidate (dense schedule).
!t = memref<?x?x?x64xbf16>
// CHECK-LABEL: func.func @full_1_4
// CHECK: attn.plan
// CHECK-SAME: schedule(dense)
// CHECK-SAME: nm(1 of 4)
func.func @full_1_4(%q: !t, %k: !t, %v: !t, %o: !t) {
  %p = attn.mask.nm 1 of 4
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%p)
  return
}

// -----

// A composed base (window and a block mask): the list schedule of the
// block mask, the window's band, and the prune on top.
!t = memref<?x?x?x64xbf16>
// CHECK-LABEL: func.func @block_window_4_8
// CHECK: attn.plan
// CHECK-SAME: schedule(list)
// CHECK-SAME: band_lower(-255)
// CHECK-SAME: block_mask(
// CHECK-SAME: nm(4 of 8)
func.func @block_window_4_8(%q: !t, %k: !t, %v: !t, %o: !t, %bm: memref<?x?xi1>) {
  %w = attn.mask.window 256
  %b = attn.mask.block %bm size(64) : memref<?x?xi1>
  %a = attn.mask.and %w, %b
  %p = attn.mask.nm 4 of 8 base(%a)
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%p)
  return
}
