// A predicate that reads a per-row value from memory: query i of batch b and
// head h sees only the keys j < limits[b, h, i] (a limit of 0 or less allows
// none: the row gets O = 0 and LSE = -inf), within the causal band. The
// `attn.name`/`attn.shape` argument attributes name the extra argument in the
// bundle and tie its extents to the query's, so that the runtime checks its
// shape.
func.func @row_limit(%q: memref<?x?x?x64xbf16>, %k: memref<?x?x?x64xbf16>,
                     %v: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>,
                     %lse: memref<?x?x?xf32>,
                     %limits: memref<?x?x?xi32>
                         {attn.name = "limits", attn.shape = ["B", "Hq", "Nq"]}) {
  %causal = attn.mask.causal
  %row_limit = attn.mask.custom (%b, %h, %i, %j) {
    %n = memref.load %limits[%b, %h, %i] : memref<?x?x?xi32>
    %limit = arith.index_cast %n : i32 to index
    %allowed = arith.cmpi slt, %j, %limit : index
    attn.yield %allowed : i1
  }
  %mask = attn.mask.and %causal, %row_limit
  attn.attention ins(%q, %k, %v : memref<?x?x?x64xbf16>,
                     memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>)
                 outs(%o : memref<?x?x?x64xbf16>)
                 lse(%lse : memref<?x?x?xf32>) mask(%mask)
  return
}
