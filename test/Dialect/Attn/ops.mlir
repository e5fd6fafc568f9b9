// RUN: attn-opt %s --split-input-file | FileCheck %s
// RUN: attn-opt %s --split-input-file --mlir-print-op-generic | attn-opt --split-input-file | FileCheck %s
// RUN: attn-opt %s --split-input-file --verify-roundtrip > /dev/null

// Round-trip of every attn op and every optional clause.

!qkv = memref<?x?x?x128xbf16>

// CHECK-LABEL: func.func @dense
// CHECK-SAME: (%[[Q:.*]]: memref<?x?x?x128xbf16>, %[[K:.*]]: memref<?x?x?x128xbf16>, %[[V:.*]]: memref<?x?x?x128xbf16>, %[[O:.*]]: memref<?x?x?x128xbf16>)
// CHECK: attn.attention ins(%[[Q]], %[[K]], %[[V]] : memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>) outs(%[[O]] : memref<?x?x?x128xbf16>)
// CHECK-NOT: mask
// CHECK-NEXT: return
func.func @dense(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
  return
}

// -----

!qkv = memref<?x?x?x64xf16>

// CHECK-LABEL: func.func @causal_lse_scale
// CHECK: %[[C:.*]] = attn.mask.causal
// CHECK: attn.attention ins({{.*}}) outs({{.*}}) lse(%{{.*}} : memref<?x?x?xf32>) mask(%[[C]]) scale(1.250000e-01)
func.func @causal_lse_scale(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv,
                            %lse: memref<?x?x?xf32>) {
  %c = attn.mask.causal
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
      lse(%lse : memref<?x?x?xf32>) mask(%c) scale(0.125)
  return
}

// -----

// GQA with static shapes: 8 query heads read 2 kv heads; Dv != D.
// CHECK-LABEL: func.func @gqa_window
// CHECK: %[[W:.*]] = attn.mask.window 1024
// CHECK: attn.attention {{.*}} mask(%[[W]])
func.func @gqa_window(%q: memref<2x8x100x64xf32>, %k: memref<2x2x90x64xf32>,
                      %v: memref<2x2x90x32xf32>, %o: memref<2x8x100x32xf32>) {
  %w = attn.mask.window 1024
  attn.attention ins(%q, %k, %v : memref<2x8x100x64xf32>, memref<2x2x90x64xf32>,
                     memref<2x2x90x32xf32>) outs(%o : memref<2x8x100x32xf32>)
      mask(%w)
  return
}

// -----

!qkv = memref<?x?x?x64xbf16>
!ids = memref<?x?x?xi32>

// CHECK-LABEL: func.func @hash
// CHECK: attn.lsh ins(%{{.*}}, %{{.*}} : memref<?x?x?x64xbf16>, memref<64x4xf32>) outs(%{{.*}} : memref<?x?x?xi32>)
// CHECK: %[[C:.*]] = attn.mask.causal
// CHECK: %[[H:.*]] = attn.mask.hash %{{.*}}, %{{.*}} buckets(8) : memref<?x?x?xi32>, memref<?x?x?xi32>
// CHECK: %[[A:.*]] = attn.mask.and %[[C]], %[[H]]
// CHECK: mask(%[[A]])
func.func @hash(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv, %rot: memref<64x4xf32>,
                %qb: !ids, %kb: !ids) {
  attn.lsh ins(%q, %rot : !qkv, memref<64x4xf32>) outs(%qb : !ids)
  attn.lsh ins(%k, %rot : !qkv, memref<64x4xf32>) outs(%kb : !ids)
  %c = attn.mask.causal
  %h = attn.mask.hash %qb, %kb buckets(8) : !ids, !ids
  %m = attn.mask.and %c, %h
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) mask(%m)
  return
}

// -----

!qkv = memref<?x?x?x64xbf16>

// CHECK-LABEL: func.func @drop
// CHECK: attn.mask.drop %{{.*}}, %{{.*}} : memref<?x?x?xi1>, memref<?x?x?xi8>
func.func @drop(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv,
                %kq: memref<?x?x?xi1>, %kk: memref<?x?x?xi8>) {
  %c = attn.mask.causal
  %d = attn.mask.drop %kq, %kk : memref<?x?x?xi1>, memref<?x?x?xi8>
  %m = attn.mask.and %c, %d
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) mask(%m)
  return
}

// -----

!qkv = memref<?x?x?x64xf16>

// CHECK-LABEL: func.func @nm
// CHECK: %[[C:.*]] = attn.mask.causal
// CHECK: attn.mask.nm 2 of 4 base(%[[C]])
// CHECK: attn.mask.nm 1 of 2{{$}}
func.func @nm(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  %c = attn.mask.causal
  %p = attn.mask.nm 2 of 4 base(%c)
  %u = attn.mask.nm 1 of 2
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) mask(%p)
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) mask(%u)
  return
}

// -----

// CHECK-LABEL: func.func @spion
// CHECK: attn.flood_fill ins(%{{.*}} : memref<1024x1024xf32>) outs(%{{.*}} : memref<16x16xi1>) conv_size(31) block_size(64) quantile(9.000000e-01)
// CHECK-NOT: variant
// CHECK: attn.flood_fill {{.*}} variant(flood_fill)
// CHECK: attn.flood_fill {{.*}} variant(conv_topk) density(2.500000e-01)
// CHECK: %[[B:.*]] = attn.mask.block %{{.*}} size(64) : memref<16x16xi1>
// CHECK: attn.mask.block %{{.*}} size(64) : memref<2x4x16x16xi8>
func.func @spion(%q: memref<2x4x1024x64xbf16>, %o: memref<2x4x1024x64xbf16>,
                 %scores: memref<1024x1024xf32>, %blocks: memref<16x16xi1>,
                 %per_head: memref<2x4x16x16xi8>) {
  attn.flood_fill ins(%scores : memref<1024x1024xf32>)
      outs(%blocks : memref<16x16xi1>) conv_size(31) block_size(64) quantile(0.9)
  attn.flood_fill ins(%scores : memref<1024x1024xf32>)
      outs(%blocks : memref<16x16xi1>) conv_size(1) block_size(64) quantile(0.5)
      variant(flood_fill)
  attn.flood_fill ins(%scores : memref<1024x1024xf32>)
      outs(%blocks : memref<16x16xi1>) conv_size(31) block_size(64) quantile(0.9)
      variant(conv_topk) density(0.25)
  %b = attn.mask.block %blocks size(64) : memref<16x16xi1>
  %p = attn.mask.block %per_head size(64) : memref<2x4x16x16xi8>
  attn.attention ins(%q, %q, %q : memref<2x4x1024x64xbf16>,
      memref<2x4x1024x64xbf16>, memref<2x4x1024x64xbf16>)
      outs(%o : memref<2x4x1024x64xbf16>) mask(%b)
  attn.attention ins(%q, %q, %q : memref<2x4x1024x64xbf16>,
      memref<2x4x1024x64xbf16>, memref<2x4x1024x64xbf16>)
      outs(%o : memref<2x4x1024x64xbf16>) mask(%p)
  return
}

// -----

!qkv = memref<?x?x?x64xbf16>

// CHECK-LABEL: func.func @custom
// CHECK: %[[M:.*]] = attn.mask.custom (%[[I:.*]], %[[J:.*]]) {
// CHECK-NEXT: %[[D:.*]] = arith.subi %[[I]], %[[J]] : index
// CHECK: attn.yield %{{.*}} : i1
// CHECK-NEXT: }
// CHECK: mask(%[[M]])
func.func @custom(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  %m = attn.mask.custom (%i, %j) {
    %d = arith.subi %i, %j : index
    %c128 = arith.constant 128 : index
    %ok = arith.cmpi ult, %d, %c128 : index
    attn.yield %ok : i1
  }
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) mask(%m)
  return
}

// -----

!qk = memref<?x?x?x64xbf16>
!ve = memref<?x?x?x128xbf16>
!state = memref<?x?x64x128xf32>

// CHECK-LABEL: func.func @linear
// CHECK: attn.linear_attention ins({{.*}}) outs(%{{.*}} : memref<?x?x?x128xbf16>){{$}}
// CHECK: attn.linear_attention ins({{.*}}) outs({{.*}}) decay(%{{.*}} : memref<?xf32>) initial_state(%{{.*}} : memref<?x?x64x128xf32>) final_state(%{{.*}} : memref<?x?x64x128xf32>)
func.func @linear(%q: !qk, %k: !qk, %v: !ve, %o: !ve, %s: memref<?xf32>,
                  %s0: !state, %s1: !state) {
  attn.linear_attention ins(%q, %k, %v : !qk, !qk, !ve) outs(%o : !ve)
  attn.linear_attention ins(%q, %k, %v : !qk, !qk, !ve) outs(%o : !ve)
      decay(%s : memref<?xf32>) initial_state(%s0 : !state)
      final_state(%s1 : !state)
  return
}

// -----

!qkv = memref<?x?x?x64xf16>

// CHECK-LABEL: func.func @conv
// CHECK: attn.conv_attention ins({{.*}}) outs({{.*}}) bases(16) delta(1.000000e-04){{$}}
// CHECK: attn.conv_attention ins({{.*}}) outs({{.*}}) bases(4) window(8) delta(5.000000e-01) epsilon(1.000000e-02) scale(2.500000e-01)
func.func @conv(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  attn.conv_attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
      bases(16) delta(1.0e-4)
  attn.conv_attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
      bases(4) window(8) delta(0.5) epsilon(0.01) scale(0.25)
  return
}

// -----

// Linear attention's L2 ops: the fused step with each optional clause, the
// scan, and the two tile ops the step's decomposition adds.
!lq = memref<?x?x?x64xbf16>
!ls = memref<?x?x?x64xf32>
// CHECK-LABEL: func.func @linear_l2
// CHECK: attn.fused.linear ins({{.*}}) decay(%{{.*}} : memref<?xf32>) state_out(%{{.*}}[%{{.*}}] : memref<?x?x?x64xf32>) at(%{{.*}}, %{{.*}}) tokens(%{{.*}}, %{{.*}}) block(64)
// CHECK: attn.fused.linear ins({{.*}}) outs(%{{.*}} : memref<?x?x?x64xbf16>) state_in(%{{.*}}[%{{.*}}] : memref<?x?x?x64xf32>) final_state(%{{.*}} : memref<?x?x64x64xf32>) at(%{{.*}}, %{{.*}}) tokens(%{{.*}}, %{{.*}}) block(32)
// CHECK: attn.linear_scan %{{.*}} decay(%{{.*}} : memref<?xf32>) initial(%{{.*}} : memref<?x?x64x64xf32>) segment(%{{.*}}) head_dim(64) : memref<?x?x?x64xf32>
// CHECK: attn.tile.decay_scores %{{.*}} rate(%{{.*}}) : memref<64x64xf32>
// CHECK: attn.tile.scale_rows %{{.*}} into %{{.*}} rate(%{{.*}}) first(%{{.*}}) step(-1) transpose : memref<64x64xbf16>, memref<64x64xf32>
func.func @linear_l2(%q: !lq, %o: !lq, %s: memref<?xf32>, %states: !ls,
                     %final: memref<?x?x64x64xf32>, %i: index, %rate: f32,
                     %scores: memref<64x64xf32>, %tile: memref<64x64xbf16>) {
  attn.fused.linear ins(%q, %q, %q : !lq, !lq, !lq) decay(%s : memref<?xf32>)
      state_out(%states [%i] : !ls) at(%i, %i) tokens(%i, %i) block(64)
  attn.fused.linear ins(%q, %q, %q : !lq, !lq, !lq) outs(%o : !lq)
      state_in(%states [%i] : !ls) final_state(%final : memref<?x?x64x64xf32>)
      at(%i, %i) tokens(%i, %i) block(32)
  attn.linear_scan %states decay(%s : memref<?xf32>)
      initial(%final : memref<?x?x64x64xf32>) segment(%i) head_dim(64) : !ls
  attn.tile.decay_scores %scores rate(%rate) : memref<64x64xf32>
  attn.tile.scale_rows %tile into %scores rate(%rate) first(%i) step(-1)
      transpose : memref<64x64xbf16>, memref<64x64xf32>
  return
}
