// RUN: attn-opt %s --split-input-file --attn-tile --attn-to-gpu | FileCheck %s

// Launch facts: attn-to-gpu names each kernel (a PTX identifier made from
// the function name; one gpu.module per function) and records the bundle
// facts on the function (passes/AttnToGPU/LaunchFacts.h).

// CHECK-LABEL: func.func @"my-attn"
// CHECK-SAME: attn.bundle = {arguments = [{dtype = "f16", name = "q", shape = ["B", "Hq", "Nq", 64]}, {dtype = "f16", name = "k", shape = ["B", "Hk", "Nk", 64]}, {dtype = "f16", name = "v", shape = ["B", "Hk", "Nk", 64]}, {dtype = "f16", name = "o", shape = ["B", "Hq", "Nq", 64], writes}], constraints = ["Hq % Hk == 0"], launches = [{block = [128, 1, 1], grid = ["ceildiv(Nq, 64)", "Hq", "B"], kernel = "my_attn_kernel", shared_bytes = 73728 : i64}], module = "my_attn_kernel", target = "sm_80"}
// CHECK: gpu.launch {{.*}} module(@my_attn_kernel) function(@my_attn_kernel)
!t = memref<?x?x?x64xf16>
func.func @"my-attn"(%q: !t, %k: !t, %v: !t, %o: !t) {
  attn.plan ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) scale(0.125) schedule(dense)
  return
}


// -----

// Two steps: one module, two kernels, the second's names and symbols
// suffixed _1.
!t = memref<?x?x?x64xf16>
// CHECK-LABEL: func.func @two
// CHECK-SAME: {dtype = "f16", name = "q_1", shape = ["B_1", "Hq_1", "Nq_1", 64]}
// CHECK-SAME: constraints = ["Hq % Hk == 0", "Hq_1 % Hk_1 == 0"]
// CHECK-SAME: kernel = "two_kernel"
// CHECK-SAME: grid = ["ceildiv(Nq_1, 64)", "Hq_1", "B_1"], kernel = "two_kernel_1"
// CHECK: gpu.launch {{.*}} module(@two_kernel) function(@two_kernel)
// CHECK: gpu.launch {{.*}} module(@two_kernel) function(@two_kernel_1)
func.func @two(%q1: !t, %k1: !t, %v1: !t, %o1: !t, %q2: !t, %k2: !t, %v2: !t, %o2: !t) {
  attn.plan ins(%q1, %k1, %v1 : !t, !t, !t) outs(%o1 : !t) scale(0.125) schedule(dense)
  attn.plan ins(%q2, %k2, %v2 : !t, !t, !t) outs(%o2 : !t) scale(0.125) schedule(dense)
  return
}


// -----

// Memrefs a predicate reads are kernel arguments too: named and shaped by
// their attn.name / attn.shape attributes, or argN with symbols argN_dK.
!t = memref<?x?x?x64xf16>
// CHECK-LABEL: func.func @rows
// CHECK-SAME: {dtype = "i32", name = "limits", shape = ["B", "Hq", "Nq"]}, {dtype = "i32", name = "arg5", shape = ["arg5_d0"]}
// CHECK: gpu.launch
// CHECK: memref.load %arg4
// CHECK: memref.load %arg5
func.func @rows(%q: !t, %k: !t, %v: !t, %o: !t,
                %limits: memref<?x?x?xi32> {attn.name = "limits", attn.shape = ["B", "Hq", "Nq"]},
                %cols: memref<?xi32>) {
  attn.plan ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) scale(0.125) schedule(dense) predicate {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %n = memref.load %limits[%b, %h, %i] : memref<?x?x?xi32>
    %c = memref.load %cols[%j] : memref<?xi32>
    %ok = arith.cmpi slt, %c, %n : i32
    attn.yield %ok : i1
  }
  return
}
