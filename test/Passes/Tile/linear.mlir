// RUN: attn-opt %s --attn-tile | FileCheck %s
// RUN: attn-opt %s --attn-tile="linear-block=32 linear-segment=4096" | FileCheck %s --check-prefix=FIXED
// RUN: not attn-opt %s --attn-tile="linear-block=48" 2>&1 | FileCheck %s --check-prefix=BLOCK
// RUN: not attn-opt %s --attn-tile="linear-segment=100" 2>&1 | FileCheck %s --check-prefix=SEGMENT
// RUN: not attn-opt %s --attn-tile="linear-units=0" 2>&1 | FileCheck %s --check-prefix=UNITS

// attn-tile writes attn.linear_attention as the two-phase scheme of
// passes/Tile/LinearTile.cpp: a scratch buffer of per-segment states, a
// forall over (b, h, segment) whose steps write each segment's state
// increment, the scan, then a forall whose steps write O from each
// segment's start state (the last one also the final state).

// By default the segment length is chosen at run time: L = 64 ·
// ceildiv(ceildiv(N, 64) · B · H + 1, 128), S = ceildiv(N, L).
// CHECK-LABEL: func.func @lightning
// CHECK-DAG: %[[B:.*]] = memref.dim %arg0, %c0
// CHECK-DAG: %[[H:.*]] = memref.dim %arg0, %c1
// CHECK-DAG: %[[N:.*]] = memref.dim %arg0, %c2
// CHECK: %[[CHUNKS:.*]] = arith.ceildivui %[[N]], %c64
// CHECK: %[[CB:.*]] = arith.muli %[[CHUNKS]], %[[B]]
// CHECK: %[[CBH:.*]] = arith.muli %[[CB]], %[[H]]
// CHECK: %[[WORK:.*]] = arith.addi %[[CBH]], %c1
// CHECK: %[[PER:.*]] = arith.ceildivui %[[WORK]], %c128
// CHECK: %[[L:.*]] = arith.muli %c64{{.*}}, %[[PER]]
// CHECK: %[[S:.*]] = arith.ceildivui %[[N]], %[[L]]
// CHECK: %[[ROWS:.*]] = arith.muli %[[S]], %c64
// CHECK: %[[STATES:.*]] = memref.alloc(%[[B]], %[[H]], %[[ROWS]]) {attn.scratch = "linear_states"} : memref<?x?x?x64xf32>
// CHECK: scf.forall (%[[b:.*]], %[[h:.*]], %[[s:.*]]) in (%[[B]], %[[H]], %[[S]])
// CHECK: attn.fused.linear ins(%arg0, %arg1, %arg2 : {{.*}}) decay(%arg4 : memref<?xf32>) state_out(%[[STATES]][%{{.*}}] : memref<?x?x?x64xf32>) at(%[[b]], %[[h]]) tokens(%{{.*}}, %{{.*}}) block(64)
// CHECK: attn.linear_scan %[[STATES]] decay(%arg4 : memref<?xf32>) initial(%arg5 : memref<?x?x64x64xf32>) segment(%[[L]]) head_dim(64)
// CHECK: scf.forall
// CHECK: attn.fused.linear ins(%arg0, %arg1, %arg2 : {{.*}}) outs(%arg3 : memref<?x?x?x64xbf16>) decay(%arg4 : memref<?xf32>) state_in(%[[STATES]][%{{.*}}] : memref<?x?x?x64xf32>) final_state(%arg6 : memref<?x?x64x64xf32>) at(%{{.*}}, %{{.*}}) tokens(%{{.*}}, %{{.*}}) block(64)
// CHECK: memref.dealloc %[[STATES]]

// A fixed segment length: S = ceildiv(N, 4096), chunks of 32.
// FIXED-LABEL: func.func @lightning
// FIXED: %[[S:.*]] = arith.ceildivui %{{.*}}, %c4096
// FIXED: attn.fused.linear {{.*}} block(32)
// FIXED: attn.linear_scan {{.*}} segment(%c4096{{.*}}) head_dim(64)

// BLOCK: error: 'attn.linear_attention' op attn-tile: linear-block = 48 must be a power of two between 16 and 256
// SEGMENT: error: 'attn.linear_attention' op attn-tile: linear-segment = 100 must be 0 (chosen at run time) or a positive multiple of linear-block (64)
// UNITS: error: 'attn.linear_attention' op attn-tile: linear-units = 0 must be between 1 and 2^24

func.func @lightning(%q: memref<?x?x?x64xbf16>, %k: memref<?x?x?x64xbf16>,
                     %v: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>,
                     %s: memref<?xf32>, %init: memref<?x?x64x64xf32>,
                     %final: memref<?x?x64x64xf32>) {
  attn.linear_attention ins(%q, %k, %v : memref<?x?x?x64xbf16>,
                            memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>)
                        outs(%o : memref<?x?x?x64xbf16>)
                        decay(%s : memref<?xf32>)
                        initial_state(%init : memref<?x?x64x64xf32>)
                        final_state(%final : memref<?x?x64x64xf32>)
  return
}
