// RUN: attn-opt %s --attn-tile="block-q=64 block-k=32" | FileCheck %s

// attn-tile writes one scf.forall over (batch, head, q-tile) whose body
// computes the q-tile's kv-tile range from the band and runs one fused step.
// CHECK-LABEL: func.func @causal
// CHECK: %[[NK:.*]] = arith.ceildivui
// CHECK: %[[GROUP:.*]] = arith.divui
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]], %[[T:.*]]) in
// CHECK: %[[Q0:.*]] = arith.muli %[[T]]
// CHECK: %[[HK:.*]] = arith.divui %[[H]], %[[GROUP]]
// CHECK: %[[HI:.*]] = arith.minsi
// CHECK: attn.fused.forward ins({{.*}}) outs({{.*}}) lse({{.*}}) at(%[[B]], %[[H]], %[[Q0]]) kv_head(%[[HK]]) kv_tiles(%{{.*}}, %[[HI]]) block(64, 32) scale(1.250000e-01) schedule(range) band_upper(0) rescale_threshold(8.000000e+00)
// CHECK-NOT: attn.plan
func.func @causal(%q: memref<?x?x?x64xbf16>, %k: memref<?x?x?x64xbf16>,
                  %v: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>,
                  %lse: memref<?x?x?xf32>) {
  attn.plan ins(%q, %k, %v : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>)
            outs(%o : memref<?x?x?x64xbf16>) lse(%lse : memref<?x?x?xf32>)
            scale(0.125) schedule(range) band_upper(0)
  return
}
