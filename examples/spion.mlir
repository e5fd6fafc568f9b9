// SPION block-sparse attention: a 64x64-block pattern is derived from a
// score map (e.g. a layer's averaged attention probabilities) by diagonal
// convolution, pooling, a 0.9-quantile threshold and flood fill, then used
// as a block mask shared by every batch and head. The bundle runs it all:
// the block map (a kernel reading the scores once, a kernel gathering each
// block's partial sums), the threshold and the flood fill (one kernel),
// the tile lists, then the block-sparse attention; the block map, its
// partial sums and the lists live in scratch memory the runtime provides.
func.func @spion(%q: memref<?x16x4096x64xbf16>, %k: memref<?x16x4096x64xbf16>,
                 %v: memref<?x16x4096x64xbf16>, %o: memref<?x16x4096x64xbf16>,
                 %scores: memref<4096x4096xf32> {attn.name = "scores"},
                 %blocks: memref<64x64xi1> {attn.name = "blocks"}) {
  attn.flood_fill ins(%scores : memref<4096x4096xf32>)
                  outs(%blocks : memref<64x64xi1>)
                  conv_size(31) block_size(64) quantile(0.9)
  %mask = attn.mask.block %blocks size(64) : memref<64x64xi1>
  attn.attention ins(%q, %k, %v : memref<?x16x4096x64xbf16>,
                     memref<?x16x4096x64xbf16>, memref<?x16x4096x64xbf16>)
                 outs(%o : memref<?x16x4096x64xbf16>) mask(%mask)
  return
}
