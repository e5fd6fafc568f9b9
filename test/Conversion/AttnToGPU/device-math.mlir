// RUN: attn-opt %s --split-input-file --attn-plan --attn-tile --attn-to-gpu | FileCheck %s

// Math ops in kernels are lowered without libdevice (DeviceMath.h), so the
// PTX never depends on the environment's CUDA toolkit: the LSE's log(sum)
// as lg2.approx times ln 2, fma as the LLVM intrinsic.
// CHECK-LABEL: func.func @lse
// CHECK: gpu.launch
// CHECK-NOT: math.log
// CHECK-NOT: math.fma
// CHECK: llvm.call_intrinsic "llvm.nvvm.lg2.approx.f"
// CHECK: gpu.terminator
!t = memref<?x?x?x64xbf16>
func.func @lse(%q: !t, %k: !t, %v: !t, %o: !t, %lse: memref<?x?x?xf32>) {
  %c = attn.mask.causal
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
                 lse(%lse : memref<?x?x?xf32>) mask(%c)
  return
}

// -----

// SPION's quantile ranks: floor and ceil from trunc, a compare and a
// select (the NVVM lowering would send llvm.floor and llvm.ceil to
// libdevice).
// CHECK-LABEL: func.func @ranks
// CHECK-NOT: math.floor
// CHECK-NOT: math.ceil
// CHECK: llvm.intr.trunc
// CHECK: arith.cmpf ogt
// CHECK: llvm.intr.trunc
// CHECK: arith.cmpf olt
func.func @ranks(%scores: memref<?x?xf32>, %blocks: memref<?x?xi8>) {
  attn.flood_fill ins(%scores : memref<?x?xf32>) outs(%blocks : memref<?x?xi8>)
                  conv_size(31) block_size(64) quantile(0.9)
  return
}
