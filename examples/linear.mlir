// Lightning Attention-2 linear attention with per-head exponential decay
// (O = ((Q K^T) ⊙ M) V, M[h,i,j] = exp(-s_h (i - j)) for j <= i), continuing
// from an initial KV state and returning the final one.
func.func @lightning(%q: memref<?x?x?x64xbf16>, %k: memref<?x?x?x64xbf16>,
                     %v: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>,
                     %slopes: memref<?xf32>,
                     %state_in: memref<?x?x64x64xf32>,
                     %state_out: memref<?x?x64x64xf32>) {
  attn.linear_attention ins(%q, %k, %v : memref<?x?x?x64xbf16>,
                            memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>)
                        outs(%o : memref<?x?x?x64xbf16>)
                        decay(%slopes : memref<?xf32>)
                        initial_state(%state_in : memref<?x?x64x64xf32>)
                        final_state(%state_out : memref<?x?x64x64xf32>)
  return
}
