// RUN: attn-opt %s --split-input-file --attn-tile="block-q=32 block-k=32" --attn-to-gpu --verify-diagnostics
// RUN: not attn-opt %s --split-input-file --attn-to-gpu="chip=sm_70" 2>&1 | FileCheck %s --check-prefix=CHIP
// RUN: not attn-opt %s --split-input-file --attn-to-gpu="threads=100" 2>&1 | FileCheck %s --check-prefix=THREADS

// CHIP: error: attn-to-gpu: unknown chip 'sm_70' (supported: sm_80, sm_90a)
// THREADS: error: attn-to-gpu: threads = 100 must be a multiple of 32 between 32 and 1024

func.func @f32_inputs(%q: memref<?x?x?x64xf32>) {
  // expected-error@+1 {{attn-to-gpu: element type f32 is not supported on sm_80 (use f16 or bf16)}}
  attn.plan ins(%q, %q, %q : memref<?x?x?x64xf32>, memref<?x?x?x64xf32>, memref<?x?x?x64xf32>) outs(%q : memref<?x?x?x64xf32>) scale(0.125) schedule(dense)
  return
}

// -----

func.func @too_much_shared(%q: memref<?x?x?x256xbf16>) {
  // expected-error@+1 {{'scf.forall' op attn-to-gpu: tiles need 88064 bytes of shared memory, more than the 49152 static bytes this lowering uses; use smaller block-q/block-k (e.g. 32) or a smaller head dimension}}
  attn.plan ins(%q, %q, %q : memref<?x?x?x256xbf16>, memref<?x?x?x256xbf16>, memref<?x?x?x256xbf16>) outs(%q : memref<?x?x?x256xbf16>) scale(0.125) schedule(dense)
  return
}
