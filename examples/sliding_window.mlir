// Causal sliding-window attention: each query sees its 1024 most recent keys
// (itself included).
func.func @sliding_window(%q: memref<?x?x?x64xf16>, %k: memref<?x?x?x64xf16>,
                          %v: memref<?x?x?x64xf16>, %o: memref<?x?x?x64xf16>) {
  %window = attn.mask.window 1024
  attn.attention ins(%q, %k, %v : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>,
                     memref<?x?x?x64xf16>)
                 outs(%o : memref<?x?x?x64xf16>) mask(%window)
  return
}
