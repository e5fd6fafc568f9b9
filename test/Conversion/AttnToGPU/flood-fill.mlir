// RUN: attn-opt %s --attn-to-gpu | FileCheck %s

// SPION's derivation: a block-map kernel (a block of 256 threads per cell,
// a shuffle reduction, thread 0 writing the average and clearing the mask
// cell), then one block of 1024 threads for the radix-select threshold
// (atomic histogram in shared memory), the walks and the diagonal. The map
// is square with one symbol for both extents, a multiple of the block size;
// the mask and the scratch block map have its block extents.
// CHECK-LABEL: func.func @derive
// CHECK-SAME: %[[SCORES:[a-z0-9]+]]: memref<?x?xf32> {attn.name = "scores"}, %[[MASK:[a-z0-9]+]]: memref<?x?xi8>, %[[MAP:[a-z0-9]+]]: memref<?x?xf32>)
// CHECK-SAME: arguments = [{dtype = "f32", name = "scores", shape = ["scores_n", "scores_n"]}, {dtype = "i8", name = "block_mask", shape = ["ceildiv(scores_n, 64)", "ceildiv(scores_n, 64)"]}], constraints = ["scores_n % 64 == 0"]
// CHECK-SAME: launches = [{block = [256, 1, 1], grid = ["ceildiv(scores_n, 64)", "ceildiv(scores_n, 64)", "1"], kernel = "derive_kernel", shared_bytes = 32 : i64}, {block = [1024, 1, 1], grid = ["1", "1", "1"], kernel = "derive_kernel_1", shared_bytes = 1040 : i64}]
// CHECK-SAME: scratch = [{dtype = "f32", name = "spion_block_map", shape = ["ceildiv(scores_n, 64)", "ceildiv(scores_n, 64)"]}]
// CHECK: gpu.launch {{.*}} function(@derive_kernel)
// CHECK: gpu.shuffle xor
// CHECK: gpu.barrier
// CHECK: memref.store %{{.*}}, %[[MAP]]
// CHECK: gpu.launch {{.*}} function(@derive_kernel_1)
// CHECK: memref.atomic_rmw addi
// CHECK: scf.while
// CHECK-NOT: attn.flood_fill
func.func @derive(%scores: memref<?x?xf32> {attn.name = "scores"},
                  %blocks: memref<?x?xi8>) {
  attn.flood_fill ins(%scores : memref<?x?xf32>) outs(%blocks : memref<?x?xi8>)
                  conv_size(31) block_size(64) quantile(0.9)
  return
}
