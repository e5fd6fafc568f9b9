// QK-sparse causal attention (Sparse Causal Flash Attention): per-token keep
// flags drop queries and keys. A dropped query row gets O = 0, LSE = -inf.
func.func @drop_causal(%q: memref<?x?x?x64xbf16>, %k: memref<?x?x?x64xbf16>,
                       %v: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>,
                       %lse: memref<?x?x?xf32>,
                       %keep_q: memref<?x?x?xi1>, %keep_k: memref<?x?x?xi1>) {
  %causal = attn.mask.causal
  %kept = attn.mask.drop %keep_q, %keep_k : memref<?x?x?xi1>, memref<?x?x?xi1>
  %mask = attn.mask.and %causal, %kept
  attn.attention ins(%q, %k, %v : memref<?x?x?x64xbf16>,
                     memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>)
                 outs(%o : memref<?x?x?x64xbf16>)
                 lse(%lse : memref<?x?x?xf32>) mask(%mask)
  return
}
