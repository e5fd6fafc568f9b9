// RUN: attn-opt %s --split-input-file --attn-tile="block-q=32 block-k=32" --attn-to-gpu --verify-diagnostics
// RUN: not attn-opt %s --split-input-file --attn-to-gpu="chip=sm_70" 2>&1 | FileCheck %s --check-prefix=CHIP
// RUN: not attn-opt %s --split-input-file --attn-to-gpu="block-threads=100" 2>&1 | FileCheck %s --check-prefix=THREADS

// CHIP: error: attn-to-gpu: unknown chip 'sm_70' (supported: sm_80, sm_90a)
// THREADS: error: attn-to-gpu: block-threads = 100 must be a multiple of 32 between 32 and 1024

func.func @f32_inputs(%q: memref<?x?x?x64xf32>, %o: memref<?x?x?x64xf32>) {
  // expected-error@+1 {{attn-to-gpu: element type f32 is not supported on sm_80 (use f16 or bf16)}}
  attn.plan ins(%q, %q, %q : memref<?x?x?x64xf32>, memref<?x?x?x64xf32>, memref<?x?x?x64xf32>) outs(%o : memref<?x?x?x64xf32>) scale(0.125) schedule(dense)
  return
}

// -----

// An attn op without a GPU lowering is named, not left to fail later.
func.func @linear(%q: memref<?x?x?x64xbf16>) {
  // expected-error@+1 {{'attn.linear_attention' op attn-to-gpu: 'attn.linear_attention' has no GPU lowering yet}}
  attn.linear_attention ins(%q, %q, %q : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>) outs(%q : memref<?x?x?x64xbf16>)
  return
}

// -----

// The GPU's counting sort takes at most 383 classes.
func.func @many_buckets(%q: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>, %qb: memref<?x?x?xi32>) {
  // expected-error@+1 {{'attn.token_order' op attn-to-gpu: token orders of more than 383 classes (hash buckets) are not supported on the GPU yet, got 1000}}
  attn.plan ins(%q, %q, %q : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>) outs(%o : memref<?x?x?x64xbf16>) scale(0.125) schedule(list) order(%qb, %qb : memref<?x?x?xi32>, memref<?x?x?xi32>) classes(1000)
  return
}

// -----

func.func @unplanned(%q: memref<?x?x?x64xbf16>) {
  // expected-error@+1 {{attn-to-gpu: run attn-plan and attn-tile first (attn-lower-to-ptx does)}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>) outs(%q : memref<?x?x?x64xbf16>)
  return
}
