// Hash-sparse causal attention (Sparse Causal Flash Attention): bucket ids
// come from angular LSH with a random rotation R: [64, 4] (8 buckets); query
// i attends to key j iff j is not in its future and both hash to the same
// bucket.
func.func @hash_causal(%q: memref<?x?x?x64xbf16>, %k: memref<?x?x?x64xbf16>,
                       %v: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>,
                       %rotation: memref<64x4xf32>,
                       %q_buckets: memref<?x?x?xi32>,
                       %k_buckets: memref<?x?x?xi32>) {
  attn.lsh ins(%q, %rotation : memref<?x?x?x64xbf16>, memref<64x4xf32>)
           outs(%q_buckets : memref<?x?x?xi32>)
  attn.lsh ins(%k, %rotation : memref<?x?x?x64xbf16>, memref<64x4xf32>)
           outs(%k_buckets : memref<?x?x?xi32>)
  %causal = attn.mask.causal
  %same_bucket = attn.mask.hash %q_buckets, %k_buckets buckets(8)
      : memref<?x?x?xi32>, memref<?x?x?xi32>
  %mask = attn.mask.and %causal, %same_bucket
  attn.attention ins(%q, %k, %v : memref<?x?x?x64xbf16>,
                     memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>)
                 outs(%o : memref<?x?x?x64xbf16>) mask(%mask)
  return
}
