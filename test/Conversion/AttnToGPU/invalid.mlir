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
func.func @conv(%q: memref<?x?x?x64xbf16>) {
  // expected-error@+1 {{'attn.conv_attention' op attn-to-gpu: 'attn.conv_attention' has no GPU lowering yet}}
  attn.conv_attention ins(%q, %q, %q : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>) outs(%q : memref<?x?x?x64xbf16>) bases(16) window(1) delta(1.0e-4)
  return
}

// -----

// Linear attention: an output that is also an input is refused by name.
func.func @linear_aliased(%q: memref<?x?x?x64xbf16>) {
  // expected-error@+1 {{attn-to-gpu: function argument #0 is used both as 'q' and as 'o'; pass separate buffers}}
  attn.linear_attention ins(%q, %q, %q : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>) outs(%q : memref<?x?x?x64xbf16>)
  return
}

// -----

// The GPU lowering of linear attention takes bf16: f16's range is too
// small for the 16-bit copy of the state.
func.func @linear_f16(%q: memref<?x?x?x64xf16>, %o: memref<?x?x?x64xf16>) {
  // expected-error@+1 {{attn-to-gpu: linear attention has no GPU lowering on sm_80 here because its inputs are f16; the GPU lowering of linear attention takes bf16}}
  attn.linear_attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%o : memref<?x?x?x64xf16>)
  return
}

// -----

// Value head dimensions are split into blocks of 64 columns.
func.func @linear_value_dim(%q: memref<?x?x?x64xbf16>, %v: memref<?x?x?x32xbf16>, %o: memref<?x?x?x32xbf16>) {
  // expected-error@+1 {{attn-to-gpu: linear attention has no GPU lowering on sm_80 here because the value head dimension E = 32 is not a multiple of 64 up to 512}}
  attn.linear_attention ins(%q, %q, %v : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x32xbf16>) outs(%o : memref<?x?x?x32xbf16>)
  return
}

// -----

// Head dimensions up to 128 (the state lives in registers).
func.func @linear_head_dim(%q: memref<?x?x?x256xbf16>, %v: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>) {
  // expected-error@+1 {{attn-to-gpu: linear attention has no GPU lowering on sm_80 here because the head dimension D = 256 is not a multiple of 16 between 16 and 128}}
  attn.linear_attention ins(%q, %q, %v : memref<?x?x?x256xbf16>, memref<?x?x?x256xbf16>, memref<?x?x?x64xbf16>) outs(%o : memref<?x?x?x64xbf16>)
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
