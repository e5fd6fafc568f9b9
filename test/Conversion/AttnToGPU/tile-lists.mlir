// RUN: attn-opt %s --attn-tile="block-q=128 block-k=64" --attn-to-gpu | FileCheck %s

// A list-scheduled attention: the lists' kernel comes first (a block of 8
// warps per q-tile, ballot ranks, the warps' counts in shared memory
// between two barriers, one pass for full tiles and one for partial ones),
// then the attention. The list buffers become scratch buffers the bundle
// describes (function arguments after the caller's), the deallocations go,
// and the block mask is described by its expected extents.
// CHECK-LABEL: func.func @shared
// CHECK-SAME: %[[BM:[a-z0-9]+]]: memref<?x?xi8>, %[[COUNTS:[a-z0-9]+]]: memref<1x1x?x2xi32>, %[[INDICES:[a-z0-9]+]]: memref<1x1x?x?xi32>)
// CHECK-SAME: {dtype = "i8", name = "block_mask", shape = ["ceildiv(Nq, 128)", "ceildiv(Nk, 128)"]}
// CHECK-SAME: launches = [{block = [256, 1, 1], grid = ["ceildiv(Nq, 128)", "1", "1"], kernel = "shared_kernel", shared_bytes = 32 : i64}, {block = [128, 1, 1], grid = ["ceildiv(Nq, 128)", "Hq", "B"], kernel = "shared_kernel_1"
// CHECK-SAME: scratch = [{dtype = "i32", name = "tile_counts", shape = [1, 1, "ceildiv(Nq, 128)", 2]}, {dtype = "i32", name = "tile_indices", shape = [1, 1, "ceildiv(Nq, 128)", "ceildiv(Nk, 64)"]}]
// CHECK-NOT: memref.alloc
// CHECK: gpu.launch {{.*}} function(@shared_kernel)
// CHECK: scf.for
// CHECK:   nvvm.vote.sync ballot
// CHECK:   math.ctpop
// CHECK:   gpu.barrier
// CHECK:   gpu.barrier
// CHECK:   memref.store %{{.*}}, %[[INDICES]]
// CHECK: scf.for
// CHECK:   nvvm.vote.sync ballot
// CHECK: memref.store %{{.*}}, %[[COUNTS]]
// CHECK: gpu.launch {{.*}} function(@shared_kernel_1)
// CHECK: memref.load %[[COUNTS]]
// CHECK-NOT: memref.dealloc
!t = memref<?x?x?x64xbf16>
func.func @shared(%q: !t, %k: !t, %v: !t, %o: !t, %bm: memref<?x?xi8>) {
  attn.plan ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) scale(0.125)
      schedule(list) band_upper(0) block_mask(%bm : memref<?x?xi8>)
      block_size(128)
  return
}
