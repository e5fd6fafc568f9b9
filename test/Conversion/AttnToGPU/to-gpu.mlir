// RUN: attn-opt %s --attn-tile="block-q=64 block-k=32" --attn-to-gpu | FileCheck %s
// RUN: attn-opt %s --attn-tile="block-q=32 block-k=32" --attn-to-gpu="mma=false" 2>&1 | FileCheck %s --check-prefix=SIMT

!qkv = memref<?x?x?x64xbf16>

// The fused step of each nest is lowered by the sm_80 emitter inside one
// named gpu.launch; the function records its bundle facts.
// CHECK-LABEL: func.func @causal
// CHECK-SAME: attn.bundle = {arguments = [{dtype = "bf16", name = "q", shape = ["B", "Hq", "Nq", 64]}, {dtype = "bf16", name = "k", shape = ["B", "Hk", "Nk", 64]}, {dtype = "bf16", name = "v", shape = ["B", "Hk", "Nk", 64]}, {dtype = "bf16", name = "o", shape = ["B", "Hq", "Nq", 64], writes}, {dtype = "f32", name = "lse", shape = ["B", "Hq", "Nq"], writes}], constraints = ["Hq % Hk == 0"], launches = [{block = [128, 1, 1], grid = ["ceildiv(Nq, 64)", "Hq", "B"], kernel = "causal_kernel", shared_bytes = 36864 : i64}], module = "causal_kernel", target = "sm_80"}
// CHECK: gpu.launch
// CHECK-DAG: nvvm.cp.async.commit.group
// CHECK-DAG: nvvm.mma.sync
// CHECK-DAG: ex2.approx.ftz
// CHECK-DAG: vote.sync
// CHECK-DAG: gpu.shuffle
// CHECK: gpu.terminator
// CHECK-NOT: attn.fused.forward
func.func @causal(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv, %lse: memref<?x?x?xf32>) {
  attn.plan ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) lse(%lse : memref<?x?x?xf32>)
            scale(0.125) schedule(range) band_upper(0)
  return
}

// Without tensor cores the step is decomposed and lowered per op, with a
// remark that says why.
// SIMT: remark: attn-to-gpu: the fused step runs as per-op loops on sm_80 because tensor cores are off (mma=false)
// SIMT-NOT: nvvm.mma.sync
// SIMT: llvm.intr.fma
