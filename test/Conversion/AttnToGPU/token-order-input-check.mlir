// RUN: attn-opt %s --attn-plan --attn-tile --attn-to-gpu 2>&1 | FileCheck %s

// Bucket ids from the caller may lie outside [0, nb), which only the data
// shows. Each sort kernel counts them (thread 0 of each (b, h) block adds
// its block's count atomically to a one-word scratch buffer), the bundle
// names the count and the ids it checks (input_checks, which the runtime
// zeroes before the launches and reads after them), and the attention
// kernel runs only when both counts are zero: bad ids leave O untouched.
// CHECK-LABEL: func.func @checked
// CHECK-SAME: {dtype = "i32", name = "query_bucket_ids", shape = ["B", "Hq", "Nq"]}, {dtype = "i32", name = "key_bucket_ids", shape = ["B", "Hk", "Nk"]}
// CHECK-SAME: input_checks = [{argument = "query_bucket_ids", message = "bucket ids outside [0, 8)", scratch = "query_invalid_ids"}, {argument = "key_bucket_ids", message = "bucket ids outside [0, 8)", scratch = "key_invalid_ids"}]
// CHECK-SAME: {dtype = "i32", name = "query_invalid_ids", shape = [1]}
// CHECK-SAME: {dtype = "i32", name = "key_invalid_ids", shape = [1]}
// CHECK: gpu.launch
// CHECK: memref.atomic_rmw addi %{{.*}}, %[[QE:arg[0-9]+]][%{{.*}}] : (i32, memref<1xi32>) -> i32
// CHECK: gpu.launch
// CHECK: memref.atomic_rmw addi %{{.*}}, %[[KE:arg[0-9]+]][%{{.*}}] : (i32, memref<1xi32>) -> i32
// CHECK: gpu.launch
// CHECK: gpu.launch
// The attention kernel: both counts read, the whole step under one branch.
// CHECK: gpu.launch
// CHECK: %[[QN:.*]] = memref.load %[[QE]][%{{.*}}] : memref<1xi32>
// CHECK: %[[QOK:.*]] = arith.cmpi eq, %[[QN]], %{{.*}} : i32
// CHECK: %[[KN:.*]] = memref.load %[[KE]][%{{.*}}] : memref<1xi32>
// CHECK: %[[KOK:.*]] = arith.cmpi eq, %[[KN]], %{{.*}} : i32
// CHECK: %[[OK:.*]] = arith.andi %[[QOK]], %[[KOK]] : i1
// CHECK: scf.if %[[OK]] {
// CHECK: nvgpu.device_async_copy
// CHECK: gpu.terminator
!t = memref<?x?x?x64xbf16>
func.func @checked(%q: !t, %k: !t, %v: !t, %o: !t,
                   %qb: memref<?x?x?xi32>, %kb: memref<?x?x?xi32>) {
  %causal = attn.mask.causal
  %hash = attn.mask.hash %qb, %kb buckets(8)
      : memref<?x?x?xi32>, memref<?x?x?xi32>
  %mask = attn.mask.and %causal, %hash
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%mask)
  return
}
