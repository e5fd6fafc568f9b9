// Dense (unmasked) attention with grouped-query heads: 32 query heads share
// 8 key/value heads. Batch, heads and sequence lengths are dynamic; the head
// dimension is static. The output's log-sum-exp is written too.
func.func @dense_gqa(%q: memref<?x?x?x128xbf16>, %k: memref<?x?x?x128xbf16>,
                     %v: memref<?x?x?x128xbf16>, %o: memref<?x?x?x128xbf16>,
                     %lse: memref<?x?x?xf32>) {
  attn.attention ins(%q, %k, %v : memref<?x?x?x128xbf16>,
                     memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>)
                 outs(%o : memref<?x?x?x128xbf16>)
                 lse(%lse : memref<?x?x?xf32>)
  return
}
