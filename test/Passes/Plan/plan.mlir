// RUN: attn-opt %s --split-input-file --attn-plan | FileCheck %s

!qkv = memref<?x?x?x64xbf16>

// No mask: dense schedule, no band, no predicate; default scale resolved.
// CHECK-LABEL: func.func @dense
// CHECK: attn.plan ins({{.*}}) outs({{.*}}) scale(1.250000e-01) schedule(dense){{$}}
func.func @dense(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
  return
}

// -----

!qkv = memref<?x?x?x64xbf16>

// Causal: band delta <= 0; the mask op is erased; LSE and scale carried over.
// CHECK-LABEL: func.func @causal
// CHECK-NOT: attn.mask
// CHECK: attn.plan ins({{.*}}) outs({{.*}}) lse(%{{.*}} : memref<?x?x?xf32>) scale(5.000000e-01) schedule(range) band_upper(0){{$}}
// CHECK-NOT: attn.attention
func.func @causal(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv, %lse: memref<?x?x?xf32>) {
  %c = attn.mask.causal
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv)
      lse(%lse : memref<?x?x?xf32>) mask(%c) scale(0.5)
  return
}

// -----

!qkv = memref<?x?x?x64xbf16>

// Window of 128 keys: -127 <= delta <= 0.
// CHECK-LABEL: func.func @window
// CHECK: schedule(range) band_lower(-127) band_upper(0){{$}}
func.func @window(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  %w = attn.mask.window 128
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) mask(%w)
  return
}

// -----

!qkv = memref<?x?x?x64xbf16>

// A window wider than any sequence (2^63 - 1): the band is clamped to
// -2^62, where band arithmetic stays exact (kBandLimit), and keeps every
// causal pair.
// CHECK-LABEL: func.func @window_int64_max
// CHECK: schedule(range) band_lower(-4611686018427387904) band_upper(0){{$}}
func.func @window_int64_max(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  %w = attn.mask.window 9223372036854775807
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) mask(%w)
  return
}

// -----

!qkv = memref<?x?x?x64xbf16>

// and intersects bands: the narrower window wins, causal adds nothing new.
// CHECK-LABEL: func.func @and_bands
// CHECK: schedule(range) band_lower(-15) band_upper(0){{$}}
func.func @and_bands(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  %c = attn.mask.causal
  %w1 = attn.mask.window 128
  %w2 = attn.mask.window 16
  %a = attn.mask.and %w1, %c
  %m = attn.mask.and %a, %w2
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) mask(%m)
  return
}

// -----

!qkv = memref<?x?x?x64xbf16>

// Custom predicates are conjoined into the plan's region; with causal the
// schedule is still a range. The captured constant from above stays in use.
// CHECK-LABEL: func.func @custom_and_causal
// CHECK: %[[LIMIT:.*]] = arith.constant 100 : index
// CHECK: attn.plan {{.*}} schedule(range) band_upper(0) predicate {
// CHECK-NEXT: ^bb0(%{{[^:]*}}: index, %{{[^:]*}}: index, %[[I:[^:]*]]: index, %[[J:[^:]*]]: index):
// CHECK-NEXT: %[[A:.*]] = arith.cmpi ult, %[[J]], %[[LIMIT]] : index
// CHECK-NEXT: %[[D:.*]] = arith.subi %[[I]], %[[J]] : index
// CHECK-NEXT: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[E:.*]] = arith.cmpi ne, %[[D]], %[[ZERO]] : index
// CHECK-NEXT: %[[ALL:.*]] = arith.andi %[[A]], %[[E]] : i1
// CHECK-NEXT: attn.yield %[[ALL]] : i1
// CHECK-NOT: attn.mask
func.func @custom_and_causal(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  %limit = arith.constant 100 : index
  %c = attn.mask.causal
  %below = attn.mask.custom (%i, %j) {
    %ok = arith.cmpi ult, %j, %limit : index
    attn.yield %ok : i1
  }
  %not_self = attn.mask.custom (%i, %j) {
    %d = arith.subi %i, %j : index
    %zero = arith.constant 0 : index
    %ok = arith.cmpi ne, %d, %zero : index
    attn.yield %ok : i1
  }
  %a = attn.mask.and %below, %c
  %m = attn.mask.and %a, %not_self
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) mask(%m)
  return
}

// -----

!qkv = memref<?x?x?x64xbf16>

// A custom predicate alone: dense schedule with a predicate. A mask value
// shared by two attentions survives until its last user is planned.
// CHECK-LABEL: func.func @custom_shared
// CHECK: attn.plan {{.*}} schedule(dense) predicate {
// CHECK: attn.plan {{.*}} schedule(dense) predicate {
// CHECK-NOT: attn.mask
func.func @custom_shared(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv) {
  %m = attn.mask.custom (%i, %j) {
    %t = arith.constant true
    attn.yield %t : i1
  }
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) mask(%m)
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) mask(%m)
  return
}

// -----

// A predicate over (b, h, i, j) keeps its four arguments in the plan, next
// to an (i, j) predicate that takes the last two.
// CHECK-LABEL: func.func @batch_head_predicate
// CHECK-SAME: %[[LIMITS:[^:]*]]: memref<?x?x?xi32>
// CHECK: attn.plan {{.*}} schedule(range) band_upper(0) predicate {
// CHECK-NEXT: ^bb0(%[[B:[^:]*]]: index, %[[H:[^:]*]]: index, %[[I:[^:]*]]: index, %[[J:[^:]*]]: index):
// CHECK-NEXT: %[[N:.*]] = memref.load %[[LIMITS]][%[[B]], %[[H]], %[[I]]] : memref<?x?x?xi32>
// CHECK-NEXT: %[[L:.*]] = arith.index_cast %[[N]] : i32 to index
// CHECK-NEXT: %[[OK:.*]] = arith.cmpi slt, %[[J]], %[[L]] : index
// CHECK-NEXT: %[[EVEN:.*]] = arith.constant 2 : index
// CHECK-NEXT: %[[R:.*]] = arith.remui %[[J]], %[[EVEN]] : index
func.func @batch_head_predicate(%q: memref<?x?x?x64xbf16>, %k: memref<?x?x?x64xbf16>,
                                %v: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>,
                                %limits: memref<?x?x?xi32>) {
  %causal = attn.mask.causal
  %rows = attn.mask.custom (%b, %h, %i, %j) {
    %n = memref.load %limits[%b, %h, %i] : memref<?x?x?xi32>
    %limit = arith.index_cast %n : i32 to index
    %ok = arith.cmpi slt, %j, %limit : index
    attn.yield %ok : i1
  }
  %even = attn.mask.custom (%i, %j) {
    %two = arith.constant 2 : index
    %r = arith.remui %j, %two : index
    %zero = arith.constant 0 : index
    %ok = arith.cmpi eq, %r, %zero : index
    attn.yield %ok : i1
  }
  %m = attn.mask.and %causal, %rows, %even
  attn.attention ins(%q, %k, %v : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>,
                     memref<?x?x?x64xbf16>) outs(%o : memref<?x?x?x64xbf16>)
                 mask(%m)
  return
}

// -----

!qkv = memref<?x?x?x64xbf16>

// A block mask and causal: a list schedule with the band, the block mask
// carried as an operand with its size; a custom predicate stays a region.
// CHECK-LABEL: func.func @block_causal
// CHECK-NOT: attn.mask
// CHECK: attn.plan ins({{.*}}) outs({{.*}}) scale(1.250000e-01) schedule(list) band_upper(0) block_mask(%[[BM:.*]] : memref<?x?x?x?xi8>) block_size(64) predicate {
// CHECK: ^bb0(%{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %[[J:.*]]: index):
// CHECK: arith.remui %[[J]]
func.func @block_causal(%q: !qkv, %k: !qkv, %v: !qkv, %o: !qkv,
                        %bm: memref<?x?x?x?xi8>) {
  %c = attn.mask.causal
  %b = attn.mask.block %bm size(64) : memref<?x?x?x?xi8>
  %e = attn.mask.custom (%i, %j) {
    %two = arith.constant 2 : index
    %r = arith.remui %j, %two : index
    %zero = arith.constant 0 : index
    %ok = arith.cmpi eq, %r, %zero : index
    attn.yield %ok : i1
  }
  %m = attn.mask.and %c, %b, %e
  attn.attention ins(%q, %k, %v : !qkv, !qkv, !qkv) outs(%o : !qkv) mask(%m)
  return
}
