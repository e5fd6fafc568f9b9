// RUN: attn-opt %s --attn-plan --attn-tile --attn-to-gpu 2>&1 | FileCheck %s

// Linear attention becomes three launches in program order: the
// per-segment state increments (phase 1), the scan (a thread per state
// element; it also counts invalid decay rates), and the outputs (phase 3),
// which runs only when that count is zero. The bundle describes the
// arguments by role, the scratch states by the run-time segment count,
// and the decay check.
// CHECK-LABEL: func.func @lightning
// CHECK-SAME: %{{.*}}: memref<1xi32>, %{{.*}}: memref<?x?x?x128xf32>
// CHECK-SAME: {dtype = "bf16", name = "q", shape = ["B", "H", "N", 128]}, {dtype = "bf16", name = "k", shape = ["B", "H", "N", 128]}, {dtype = "bf16", name = "v", shape = ["B", "H", "N", 128]}, {dtype = "bf16", name = "o", shape = ["B", "H", "N", 128], writes}, {dtype = "f32", name = "decay", shape = ["H"]}, {dtype = "f32", name = "initial_state", shape = ["B", "H", 128, 128]}, {dtype = "f32", name = "final_state", shape = ["B", "H", 128, 128], writes}
// CHECK-SAME: input_checks = [{argument = "decay", message = "negative, NaN or infinite decay rates", scratch = "linear_invalid_decay"}]
// Eight warps per block for E = 128 (one block per segment).
// CHECK-SAME: launches = [{block = [256, 1, 1], grid = ["ceildiv(N, (64 * ceildiv((((ceildiv(N, 64) * B) * H) + 1), 128)))", "H", "B"], kernel = "lightning_kernel"
// CHECK-SAME: {block = [128, 1, 1], grid = ["128", "H", "B"], kernel = "lightning_kernel_1"
// CHECK-SAME: {block = [256, 1, 1], grid = ["ceildiv(N, (64 * ceildiv((((ceildiv(N, 64) * B) * H) + 1), 128)))", "H", "B"], kernel = "lightning_kernel_2"
// CHECK-SAME: scratch = [{dtype = "i32", name = "linear_invalid_decay", shape = [1]}, {dtype = "f32", name = "linear_states", shape = ["B", "H", "(ceildiv(N, (64 * ceildiv((((ceildiv(N, 64) * B) * H) + 1), 128))) * 128)", 128]}]

// Phase 1: the decay table, K and V by cp.async, the state update on
// tensor cores, no output.
// CHECK: gpu.launch
// CHECK-SAME: function(@lightning_kernel)
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz"
// CHECK: memref.store {{.*}} : memref<129xf32, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_copy
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// CHECK: nvvm.mma.sync
// CHECK-NOT: vector.store {{.*}} : memref<?x?x?x128xbf16>
// CHECK: gpu.terminator

// The scan: invalid rates counted (NaN fails both compares).
// CHECK: gpu.launch
// CHECK-SAME: function(@lightning_kernel_1)
// CHECK-DAG: arith.cmpf oge
// CHECK-DAG: arith.cmpf olt
// CHECK: memref.atomic_rmw addi %{{.*}}, %[[COUNT:arg[0-9]+]][%{{.*}}] : (i32, memref<1xi32>) -> i32
// CHECK: gpu.terminator

// Phase 3: everything under the count's branch; O stored from fragments.
// CHECK: gpu.launch
// CHECK-SAME: function(@lightning_kernel_2)
// CHECK: %[[N:.*]] = memref.load %[[COUNT]][%{{.*}}] : memref<1xi32>
// CHECK: %[[OK:.*]] = arith.cmpi eq, %[[N]], %{{.*}} : i32
// CHECK: scf.if %[[OK]] {
// CHECK: nvvm.mma.sync
// CHECK: vector.store {{.*}} : memref<?x?x?x128xbf16>, vector<2xbf16>
// CHECK: gpu.terminator
func.func @lightning(%q: memref<?x?x?x128xbf16>, %k: memref<?x?x?x128xbf16>,
                     %v: memref<?x?x?x128xbf16>, %o: memref<?x?x?x128xbf16>,
                     %s: memref<?xf32>, %init: memref<?x?x128x128xf32>,
                     %final: memref<?x?x128x128xf32>) {
  attn.linear_attention ins(%q, %k, %v : memref<?x?x?x128xbf16>,
                            memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>)
                        outs(%o : memref<?x?x?x128xbf16>)
                        decay(%s : memref<?xf32>)
                        initial_state(%init : memref<?x?x128x128xf32>)
                        final_state(%final : memref<?x?x128x128xf32>)
  return
}
