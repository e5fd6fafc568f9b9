// RUN: attn-opt %s --split-input-file --attn-plan | FileCheck %s

// A hash mask with causal plans to a list schedule over tokens sorted by
// bucket: the band stays (on original positions), the order names the
// bucket ids and the bucket count, and no predicate region is needed (the
// order's class condition is part of the plan).
// CHECK-LABEL: func.func @hash_causal
// CHECK-SAME: %[[QB:[a-z0-9]+]]: memref<?x?x?xi32>, %[[KB:[a-z0-9]+]]: memref<?x?x?xi32>
// CHECK: attn.plan {{.*}} schedule(list) band_upper(0) order(%[[QB]], %[[KB]] : memref<?x?x?xi32>, memref<?x?x?xi32>) classes(8)
// CHECK-NOT: keep_flags
// CHECK-NOT: predicate
// CHECK-NOT: attn.mask
!t = memref<?x?x?x64xbf16>
func.func @hash_causal(%q: !t, %k: !t, %o: !t, %qb: memref<?x?x?xi32>,
                       %kb: memref<?x?x?xi32>) {
  %c = attn.mask.causal
  %h = attn.mask.hash %qb, %kb buckets(8) : memref<?x?x?xi32>, memref<?x?x?xi32>
  %m = attn.mask.and %c, %h
  attn.attention ins(%q, %k, %k : !t, !t, !t) outs(%o : !t) mask(%m)
  return
}

// -----

// Keep flags: classes(1) keep_flags; a custom predicate stays the plan's.
// CHECK-LABEL: func.func @drop_custom
// CHECK-SAME: %[[KQ:[a-z0-9]+]]: memref<?x?x?xi1>, %[[KK:[a-z0-9]+]]: memref<?x?x?xi8>
// CHECK: attn.plan {{.*}} schedule(list) band_lower(-63) band_upper(0) order(%[[KQ]], %[[KK]] : memref<?x?x?xi1>, memref<?x?x?xi8>) classes(1) keep_flags predicate {
// CHECK: arith.remui
// CHECK: attn.yield
!t = memref<?x?x?x64xbf16>
func.func @drop_custom(%q: !t, %o: !t, %kq: memref<?x?x?xi1>,
                       %kk: memref<?x?x?xi8>) {
  %w = attn.mask.window 64
  %d = attn.mask.drop %kq, %kk : memref<?x?x?xi1>, memref<?x?x?xi8>
  %even = attn.mask.custom (%i, %j) {
    %two = arith.constant 2 : index
    %zero = arith.constant 0 : index
    %r = arith.remui %j, %two : index
    %ok = arith.cmpi eq, %r, %zero : index
    attn.yield %ok : i1
  }
  %m = attn.mask.and %w, %d, %even
  attn.attention ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) mask(%m)
  return
}

// -----

// Without causal: a list schedule with no band.
// CHECK-LABEL: func.func @hash_full
// CHECK: attn.plan {{.*}} schedule(list) order({{.*}}) classes(2)
// CHECK-NOT: band_
!t = memref<?x?x?x64xf32>
func.func @hash_full(%q: !t, %o: !t, %qb: memref<?x?x?xi64>) {
  %h = attn.mask.hash %qb, %qb buckets(2) : memref<?x?x?xi64>, memref<?x?x?xi64>
  attn.attention ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) mask(%h)
  return
}
