// Conv-Basis attention: causal softmax attention approximated by a 16-term
// conv basis recovered with search window T = 1 and threshold delta = 1e-4.
func.func @conv_basis(%q: memref<?x?x?x64xf16>, %k: memref<?x?x?x64xf16>,
                      %v: memref<?x?x?x64xf16>, %o: memref<?x?x?x64xf16>) {
  attn.conv_attention ins(%q, %k, %v : memref<?x?x?x64xf16>,
                          memref<?x?x?x64xf16>, memref<?x?x?x64xf16>)
                      outs(%o : memref<?x?x?x64xf16>)
                      bases(16) window(1) delta(1.0e-4)
  return
}
