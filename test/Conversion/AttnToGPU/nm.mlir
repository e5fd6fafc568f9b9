// RUN: attn-opt %s --split-input-file --attn-plan --attn-tile --attn-to-gpu 2>&1 | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-plan --attn-tile --attn-to-gpu="chip=sm_90a" 2>&1 | FileCheck %s --check-prefix=SM90
// RUN: attn-opt %s --split-input-file --attn-plan --attn-tile --attn-to-gpu="mma=false" 2>&1 | FileCheck %s --check-prefix=PEROP
// RUN: attn-opt %s --split-input-file --attn-plan --attn-tile="block-k=16" --attn-to-gpu 2>&1 | FileCheck %s --check-prefix=SMALLK

// A key tile the prune's layout cannot take (16 keys) runs per op, and
// says why.
// SMALLK: remark: attn-to-gpu: the fused step runs as per-op loops on sm_80 because an N:M prune needs block-k a multiple of 32 and a value head dimension a multiple of 16

// 2:4 over causal: the sm_80 emitter takes the step (no remark) and runs
// P V on the sparse tensor cores, one mma.sp m16n8k32 per (row tile,
// 32-key chunk, value slice): 1 x 2 x 8 with attn-tile's 64 x 64 tiles
// at D = 64 (16 rows per warp); the
// metadata words meet over the quad by two xor shuffles each. QK stays
// dense (mma.sync m16n8k16). sm_90a takes the ordered-metadata form.
!t = memref<?x?x?x64xbf16>
// CHECK-NOT: remark
// CHECK-LABEL: func.func @causal_2_4
// CHECK: gpu.launch
// CHECK: nvvm.mma.sync
// CHECK: gpu.shuffle  xor
// CHECK-COUNT-16: nvvm.mma.sp.sync
// CHECK-NOT: nvvm.mma.sp.sync
// CHECK: return
// SM90-LABEL: func.func @causal_2_4
// SM90: nvvm.mma.sp.sync {{.*}}orderedMetadata
// PEROP-LABEL: func.func @causal_2_4
// PEROP-NOT: nvvm.mma.sp.sync
// PEROP: return
func.func @causal_2_4(%q: !t, %k: !t, %v: !t, %o: !t) {
  %c = attn.mask.causal
  %p = attn.mask.nm 2 of 4 base(%c)
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%p)
  return
}

// -----

// 1:2 is a 2:4 pattern for the sparse tensor cores: same mma.sp count.
!t = memref<?x?x?x64xf16>
// CHECK-LABEL: func.func @full_1_2
// CHECK-COUNT-16: nvvm.mma.sp.sync
// CHECK-NOT: nvvm.mma.sp.sync
// CHECK: return
func.func @full_1_2(%q: !t, %k: !t, %v: !t, %o: !t) {
  %p = attn.mask.nm 1 of 2
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%p)
  return
}

// -----

// Other patterns prune in registers and keep the dense P V.
!t = memref<?x?x?x64xbf16>
// CHECK-LABEL: func.func @full_2_8
// CHECK-NOT: nvvm.mma.sp.sync
// CHECK: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sp.sync
// CHECK: return
func.func @full_2_8(%q: !t, %k: !t, %v: !t, %o: !t) {
  %p = attn.mask.nm 2 of 8
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%p)
  return
}

