// RUN: attn-opt %s --split-input-file --attn-tile="block-q=48" --verify-diagnostics
// RUN: not attn-opt %s --split-input-file --attn-tile="block-k=512" 2>&1 | FileCheck %s --check-prefix=BIGK
// RUN: not attn-opt %s --split-input-file --attn-tile="block-q=256 block-k=256" 2>&1 | FileCheck %s --check-prefix=FIT

// BIGK: block-k = 512 must be a power of two between 16 and 256
// FIT: error: 'attn.plan' op attn-tile: Q, K and V tiles need 786432 bytes, more than the 232448 bytes of shared memory of the largest target; use smaller block-q/block-k

func.func @tile_options(%q: memref<?x?x?x256xf32>) {
  // expected-error@+1 {{attn-tile: block-q = 48 must be a power of two between 16 and 256}}
  attn.plan ins(%q, %q, %q : memref<?x?x?x256xf32>, memref<?x?x?x256xf32>, memref<?x?x?x256xf32>) outs(%q : memref<?x?x?x256xf32>) scale(0.125) schedule(dense)
  return
}
