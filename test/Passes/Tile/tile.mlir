// RUN: attn-opt %s --split-input-file --attn-tile | FileCheck %s
// RUN: attn-opt %s --split-input-file --attn-tile="block-q=32 block-k=16" | FileCheck %s --check-prefix=SMALL

!qkv = memref<?x?x?x64xbf16>

// Causal: the kv loop stops at the tile holding the last key the q-tile's
// last row may see; full tiles skip the mask step.
// CHECK-LABEL: func.func @causal
// CHECK-SAME: (%[[Q:[^:]*]]: memref<?x?x?x64xbf16>, %[[K:[^:]*]]: memref<?x?x?x64xbf16>, %[[V:[^:]*]]: memref<?x?x?x64xbf16>, %[[O:[^:]*]]: memref<?x?x?x64xbf16>, %[[LSE:[^:]*]]: memref<?x?x?xf32>)
// CHECK: %[[B:.*]] = memref.dim %[[Q]], %{{.*}} : memref<?x?x?x64xbf16>
// CHECK: %[[HQ:.*]] = memref.dim %[[Q]], %{{.*}} : memref<?x?x?x64xbf16>
// CHECK: %[[NQ:.*]] = memref.dim %[[Q]], %{{.*}} : memref<?x?x?x64xbf16>
// CHECK: %[[HK:.*]] = memref.dim %[[K]], %{{.*}} : memref<?x?x?x64xbf16>
// CHECK: %[[NK:.*]] = memref.dim %[[K]], %{{.*}} : memref<?x?x?x64xbf16>
// CHECK: %[[BQ:.*]] = arith.constant 64 : index
// CHECK: %[[NQT:.*]] = arith.ceildivui %[[NQ]], %[[BQ]] : index
// CHECK: %[[NKT:.*]] = arith.ceildivui %[[NK]], %{{.*}} : index
// CHECK: %[[GROUP:.*]] = arith.divui %[[HQ]], %[[HK]] : index
// CHECK: scf.forall (%[[BI:.*]], %[[HI:.*]], %[[QT:.*]]) in (%[[B]], %[[HQ]], %[[NQT]]) {
// CHECK: %[[Q0:.*]] = arith.muli %[[QT]], %[[BQ]] : index
// CHECK: %[[QEND_RAW:.*]] = arith.addi %[[Q0]], %[[BQ]] : index
// CHECK: %[[QEND:.*]] = arith.minui %[[QEND_RAW]], %[[NQ]] : index
// CHECK: %[[HKI:.*]] = arith.divui %[[HI]], %[[GROUP]] : index
// CHECK: %[[QTILE:.*]] = memref.alloca() : memref<64x64xbf16>
// CHECK: %[[KTILE:.*]] = memref.alloca() : memref<64x64xbf16>
// CHECK: %[[VTILE:.*]] = memref.alloca() : memref<64x64xbf16>
// CHECK: %[[S:.*]] = memref.alloca() : memref<64x64xf32>
// CHECK: %[[M:.*]] = memref.alloca() : memref<64xf32>
// CHECK: %[[L:.*]] = memref.alloca() : memref<64xf32>
// CHECK: %[[ACC:.*]] = memref.alloca() : memref<64x64xf32>
// CHECK: attn.tile.load %[[Q]][%[[BI]], %[[HI]], %[[Q0]]] into %[[QTILE]]
// CHECK: attn.tile.fill %[[M]], 0xFF800000
// CHECK: attn.tile.fill %[[L]], 0.000000e+00
// CHECK: attn.tile.fill %[[ACC]], 0.000000e+00
// Schedule: hi = clamp(floor((qEnd - 1 + Nk - Nq) / Bk) + 1, 0, nK), lo = 0.
// CHECK: %[[OFF:.*]] = arith.subi %[[NK]], %[[NQ]] : index
// CHECK: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK: %[[ONE:.*]] = arith.constant 1 : index
// CHECK: %[[LAST:.*]] = arith.subi %[[QEND]], %[[ONE]] : index
// CHECK: %[[MAXKEY:.*]] = arith.addi %[[LAST]], %[[OFF]] : index
// CHECK: %[[TILE:.*]] = arith.floordivsi %[[MAXKEY]], %{{.*}} : index
// CHECK: %[[HI1:.*]] = arith.addi %[[TILE]], %[[ONE]] : index
// CHECK: %[[HI2:.*]] = arith.maxsi %[[HI1]], %[[ZERO]] : index
// CHECK: %[[HIGH:.*]] = arith.minsi %[[HI2]], %[[NKT]] : index
// CHECK: scf.for %[[KT:.*]] = %[[ZERO]] to %[[HIGH]] step %[[ONE]] {
// CHECK: %[[K0:.*]] = arith.muli %[[KT]], %{{.*}} : index
// CHECK: attn.tile.load %[[K]][%[[BI]], %[[HKI]], %[[K0]]] into %[[KTILE]]
// CHECK: attn.tile.load %[[V]][%[[BI]], %[[HKI]], %[[K0]]] into %[[VTILE]]
// CHECK: attn.tile.qk %[[QTILE]], %[[KTILE]] into %[[S]] scale(1.250000e-01)
// CHECK: %[[PARTIAL:.*]] = arith.ori
// CHECK: scf.if %[[PARTIAL]] {
// CHECK-NEXT: attn.tile.mask %[[S]] at(%[[Q0]], %[[K0]]) extents(%[[NQ]], %[[NK]]) band_upper(0) : memref<64x64xf32>
// CHECK-NEXT: }
// CHECK: attn.tile.online_softmax %[[S]], %[[M]], %[[L]], %[[ACC]]
// CHECK: attn.tile.pv %[[S]], %[[VTILE]] into %[[ACC]]
// CHECK: }
// CHECK: attn.tile.finalize %[[ACC]], %[[M]], %[[L]]
// CHECK: attn.tile.store %[[ACC]] into %[[O]][%[[BI]], %[[HI]], %[[Q0]]]
// CHECK: attn.tile.store %[[M]] into %[[LSE]][%[[BI]], %[[HI]], %[[Q0]]] : memref<64xf32>, memref<?x?x?xf32>
// CHECK-NOT: attn.plan

// SMALL-LABEL: func.func @causal
// SMALL-DAG: arith.constant 32 : index
// SMALL-DAG: arith.constant 16 : index
// SMALL: memref.alloca() : memref<32x64xbf16>
// SMALL: memref.alloca() : memref<16x64xbf16>
// SMALL: memref.alloca() : memref<32x16xf32>
func.func @causal(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv, %lse: memref<?x?x?xf32>) {
  attn.plan ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
      lse(%lse : memref<?x?x?xf32>) scale(0.125) schedule(range) band_upper(0)
  return
}

// -----

!qkv = memref<?x?x?x64xf32>

// Window: the loop starts at the tile holding the first key the q-tile's
// first row may see: lo = clamp(floor((q0 + Nk - Nq - 127) / Bk), 0, nK).
// CHECK-LABEL: func.func @window
// CHECK: memref.dim
// CHECK: memref.dim
// CHECK: %[[NQ:.*]] = memref.dim
// CHECK: memref.dim
// CHECK: %[[NK:.*]] = memref.dim
// CHECK: %[[NKT:.*]] = arith.ceildivui %[[NK]]
// CHECK: scf.forall
// CHECK: %[[Q0:.*]] = arith.muli
// CHECK: %[[OFF:.*]] = arith.subi %[[NK]], %[[NQ]] : index
// CHECK: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK: %[[FIRST:.*]] = arith.addi %[[Q0]], %[[OFF]] : index
// CHECK: %[[W:.*]] = arith.constant -127 : index
// CHECK: %[[MINKEY:.*]] = arith.addi %[[FIRST]], %[[W]] : index
// CHECK: %[[TILE:.*]] = arith.floordivsi %[[MINKEY]], %{{.*}} : index
// CHECK: %[[LO1:.*]] = arith.maxsi %[[TILE]], %[[ZERO]] : index
// CHECK: %[[LOW:.*]] = arith.minsi %[[LO1]], %[[NKT]] : index
// CHECK: %[[HIGH:.*]] = arith.minsi
// CHECK: scf.for %{{.*}} = %[[LOW]] to %[[HIGH]]
// CHECK: attn.tile.mask {{.*}} band_lower(-127) band_upper(0)
func.func @window(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  attn.plan ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
      scale(0.125) schedule(range) band_lower(-127) band_upper(0)
  return
}

// -----

!qkv = memref<?x?x?x128xf32>

// Dense without predicate: all kv-tiles; only the tile past the last key is
// partial. No LSE store without an LSE operand. With D = 128 the default
// key tile is 64 rows.
// CHECK-LABEL: func.func @dense
// CHECK: arith.ceildivui
// CHECK: %[[NKT:.*]] = arith.ceildivui
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[NKT]] step
// CHECK: %[[KEND:.*]] = arith.addi
// CHECK: %[[PARTIAL:.*]] = arith.cmpi sgt, %[[KEND]], %{{.*}} : index
// CHECK-NEXT: scf.if %[[PARTIAL]] {
// CHECK-NEXT: attn.tile.mask %{{.*}} at(%{{.*}}) extents(%{{.*}}) : memref<64x64xf32>
// CHECK: attn.tile.store %{{.*}} : memref<64x128xf32>, memref<?x?x?x128xf32>
// CHECK-NOT: attn.tile.store
func.func @dense(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  attn.plan ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
      scale(0.088) schedule(dense)
  return
}

// -----

!qkv = memref<?x?x?x64xbf16>

// A predicate makes every tile partial and is cloned into the mask step.
// CHECK-LABEL: func.func @predicate
// CHECK: %[[LIMIT:.*]] = arith.constant 100 : index
// CHECK: scf.for
// CHECK: %[[TRUE:.*]] = arith.constant true
// CHECK-NEXT: scf.if %[[TRUE]] {
// CHECK-NEXT: attn.tile.mask {{.*}} predicate {
// CHECK-NEXT: ^bb0(%{{.*}}: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[OK:.*]] = arith.cmpi ult, %[[J]], %[[LIMIT]] : index
// CHECK-NEXT: attn.yield %[[OK]] : i1
func.func @predicate(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  %limit = arith.constant 100 : index
  attn.plan ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
      scale(0.125) schedule(dense) predicate {
  ^bb0(%i: index, %j: index):
    %ok = arith.cmpi ult, %j, %limit : index
    attn.yield %ok : i1
  }
  return
}
