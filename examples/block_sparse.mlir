// Block-sparse causal attention: query i sees key j when j <= i (bottom-right
// aligned) and block (i / 128, j / 128) of the block mask is on. The block
// mask, [ceil(Nq / 128), ceil(Nk / 128)] booleans, is shared by every batch
// and head (a [B, Hq, ., .] mask gives each (batch, head) its own).
//
// The compiler plans a `list` schedule: a first kernel of the bundle writes,
// per q-tile, the kv-tiles to visit (full ones, which need no mask, then
// partial ones) into scratch memory the runtime provides; the attention
// kernel visits only those. The bundle states the block mask's expected
// extents, so a mask of the wrong shape is refused before any launch.
func.func @block_sparse(%q: memref<?x?x?x128xbf16>, %k: memref<?x?x?x128xbf16>,
                        %v: memref<?x?x?x128xbf16>, %o: memref<?x?x?x128xbf16>,
                        %lse: memref<?x?x?xf32>, %blocks: memref<?x?xi1>) {
  %causal = attn.mask.causal
  %sparse = attn.mask.block %blocks size(128) : memref<?x?xi1>
  %mask = attn.mask.and %causal, %sparse
  attn.attention ins(%q, %k, %v : memref<?x?x?x128xbf16>,
                     memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>)
                 outs(%o : memref<?x?x?x128xbf16>)
                 lse(%lse : memref<?x?x?xf32>) mask(%mask)
  return
}
