// Causal attention, aligned bottom-right: with Nq queries and Nk keys, query
// i sees key j iff j <= i + (Nk - Nq). The scale defaults to 1/sqrt(128).
func.func @causal(%q: memref<?x?x?x128xbf16>, %k: memref<?x?x?x128xbf16>,
                  %v: memref<?x?x?x128xbf16>, %o: memref<?x?x?x128xbf16>,
                  %lse: memref<?x?x?xf32>) {
  %causal = attn.mask.causal
  attn.attention ins(%q, %k, %v : memref<?x?x?x128xbf16>,
                     memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>)
                 outs(%o : memref<?x?x?x128xbf16>)
                 lse(%lse : memref<?x?x?xf32>) mask(%causal)
  return
}
