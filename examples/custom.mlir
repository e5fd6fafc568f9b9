// A user predicate (the IR form of a FlexAttention mask_mod): prefix-LM
// attention, where the first 256 positions see each other bidirectionally and
// the rest is causal. Composed with nothing else, the predicate alone decides.
func.func @prefix_lm(%q: memref<?x?x?x64xbf16>, %k: memref<?x?x?x64xbf16>,
                     %v: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>) {
  %prefix_lm = attn.mask.custom (%qi, %kj) {
    %prefix = arith.constant 256 : index
    %in_prefix = arith.cmpi ult, %kj, %prefix : index
    %not_future = arith.cmpi ule, %kj, %qi : index
    %allowed = arith.ori %in_prefix, %not_future : i1
    attn.yield %allowed : i1
  }
  attn.attention ins(%q, %k, %v : memref<?x?x?x64xbf16>,
                     memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>)
                 outs(%o : memref<?x?x?x64xbf16>) mask(%prefix_lm)
  return
}
