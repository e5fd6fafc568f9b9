// 2:4 fine-grained pruning of the causal scores (DFSS): in every group of 4
// consecutive keys, each query keeps the 2 allowed keys with the largest
// scores; softmax runs over the kept keys only.
func.func @nm_2_4(%q: memref<?x?x?x128xf16>, %k: memref<?x?x?x128xf16>,
                  %v: memref<?x?x?x128xf16>, %o: memref<?x?x?x128xf16>) {
  %causal = attn.mask.causal
  %pruned = attn.mask.nm 2 of 4 base(%causal)
  attn.attention ins(%q, %k, %v : memref<?x?x?x128xf16>,
                     memref<?x?x?x128xf16>, memref<?x?x?x128xf16>)
                 outs(%o : memref<?x?x?x128xf16>) mask(%pruned)
  return
}
