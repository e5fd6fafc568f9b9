// RUN: attn-opt %s --split-input-file --attn-to-gpu | FileCheck %s

// SPION-CF with a filter narrower than the block (h = 15 < 64): the block
// map in one read (a block of 256 threads per cell loads its own 64 x 64
// scores, 16 bytes at a time, and adds each with its tap counts to seven
// partial sums), a gather of each cell's seven terms, then one block of
// 1024 threads for the radix-select threshold (digits grouped by
// match.sync, one shared atomic per group), the walks over stripes of the
// map in shared memory (127 KiB of its 129 KiB) and the diagonal. The map
// is square with one symbol for both extents, a multiple of the block
// size; the mask and the scratch buffers have its block extents.
// CHECK-LABEL: func.func @derive
// CHECK-SAME: %[[SCORES:[a-z0-9]+]]: memref<?x?xf32> {attn.name = "scores"}, %[[MASK:[a-z0-9]+]]: memref<?x?xi8>, %[[MAP:[a-z0-9]+]]: memref<?xf32>, %[[PARTIALS:[a-z0-9]+]]: memref<7x?x?xf32>)
// CHECK-SAME: arguments = [{dtype = "f32", name = "scores", shape = ["scores_n", "scores_n"]}, {dtype = "i8", name = "block_mask", shape = ["ceildiv(scores_n, 64)", "ceildiv(scores_n, 64)"], writes}], constraints = ["scores_n % 64 == 0"]
// CHECK-SAME: launches = [{block = [256, 1, 1], grid = ["ceildiv(scores_n, 64)", "ceildiv(scores_n, 64)", "1"], kernel = "derive_kernel", shared_bytes = 224 : i64}, {block = [256, 1, 1], grid = ["ceildiv((ceildiv(scores_n, 64) * ceildiv(scores_n, 64)), 256)", "1", "1"], kernel = "derive_kernel_1", shared_bytes = 0 : i64}, {block = [1024, 1, 1], grid = ["1", "1", "1"], kernel = "derive_kernel_2", shared_bytes = 132240 : i64}]
// CHECK-SAME: scratch = [{dtype = "f32", name = "spion_block_map", shape = ["(ceildiv(scores_n, 64) * ceildiv(scores_n, 64))"]}, {dtype = "f32", name = "spion_partial_sums", shape = [7, "ceildiv(scores_n, 64)", "ceildiv(scores_n, 64)"]}]
// CHECK: gpu.launch {{.*}} function(@derive_kernel)
// CHECK-COUNT-4: vector.load %[[SCORES]]{{.*}} {alignment = 16 : i64} : memref<?x?xf32>, vector<4xf32>
// CHECK-COUNT-7: llvm.intr.fma
// CHECK: gpu.shuffle xor
// CHECK: memref.store %{{.*}}, %[[PARTIALS]]
// CHECK: gpu.launch {{.*}} function(@derive_kernel_1)
// CHECK-COUNT-7: memref.load %[[PARTIALS]]
// CHECK: memref.store %{{.*}}, %[[MAP]]
// CHECK: gpu.launch {{.*}} function(@derive_kernel_2)
// CHECK: nvvm.match.sync any
// CHECK: memref.atomic_rmw addi
// CHECK: gpu.shuffle up
// CHECK: memref.atomic_rmw minu
// CHECK: scf.while
// CHECK-NOT: attn.flood_fill
func.func @derive(%scores: memref<?x?xf32> {attn.name = "scores"},
                  %blocks: memref<?x?xi8>) {
  attn.flood_fill ins(%scores : memref<?x?xf32>) outs(%blocks : memref<?x?xi8>)
                  conv_size(31) block_size(64) quantile(0.9)
  return
}

// -----

// SPION-F (no filter): one term per score, the map kernel writes the
// averages itself; no partial sums, no gather.
// CHECK-LABEL: func.func @no_filter
// CHECK-SAME: %{{[a-z0-9]+}}: memref<?xf32>)
// CHECK-SAME: launches = [{block = [256, 1, 1], {{.*}} kernel = "no_filter_kernel", shared_bytes = 32 : i64}, {block = [1024, 1, 1], {{.*}} kernel = "no_filter_kernel_1"
// CHECK-NOT: llvm.intr.fma
// CHECK: gpu.launch {{.*}} function(@no_filter_kernel_1)
func.func @no_filter(%scores: memref<?x?xbf16> {attn.name = "scores"},
                     %blocks: memref<?x?xi1>) {
  attn.flood_fill ins(%scores : memref<?x?xbf16>) outs(%blocks : memref<?x?xi1>)
                  conv_size(31) block_size(32) quantile(0.5) variant(flood_fill)
  return
}

// -----

// SPION-C: the same block map, then the top keep = int(0.2 nb^2 - nb)
// blocks by value: a radix select of the keep-th largest, and a block-wide
// count (ballot) of the ties before each cell in row-major order.
// CHECK-LABEL: func.func @top_k
// CHECK: gpu.launch {{.*}} function(@top_k_kernel_2)
// CHECK: nvvm.match.sync any
// CHECK: nvvm.vote.sync ballot
// CHECK-NOT: scf.while
// CHECK: gpu.terminator
func.func @top_k(%scores: memref<256x256xf32>, %blocks: memref<4x4xi1>) {
  attn.flood_fill ins(%scores : memref<256x256xf32>) outs(%blocks : memref<4x4xi1>) conv_size(31) block_size(64) quantile(0.9) variant(conv_topk) density(0.2)
  return
}

// -----

// A filter as wide as the block or wider (h = 15 >= 8): a score reaches
// more than its neighbours, so each cell sums its whole neighbourhood with
// the tap weights (scalar loads), a warp per row.
// CHECK-LABEL: func.func @wide_filter
// CHECK-SAME: %{{[a-z0-9]+}}: memref<?xf32>)
// CHECK-NOT: spion_partial_sums
// CHECK: gpu.launch {{.*}} function(@wide_filter_kernel)
// CHECK-NOT: vector.load
// CHECK: scf.for
// CHECK: scf.for
// CHECK: memref.load %{{.*}} : memref<1024x1024xf32>
// CHECK: gpu.launch {{.*}} function(@wide_filter_kernel_1)
func.func @wide_filter(%scores: memref<1024x1024xf32>, %blocks: memref<128x128xi8>) {
  attn.flood_fill ins(%scores : memref<1024x1024xf32>) outs(%blocks : memref<128x128xi8>)
                  conv_size(31) block_size(8) quantile(0.9)
  return
}
