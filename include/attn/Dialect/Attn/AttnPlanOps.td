//===- AttnPlanOps.td - attn level L1: planned attention --*- tablegen -*-===//
//
// Level L1: the output of mask analysis (attn-plan). An attn.plan op is an
// attention whose mask has been reduced to a block schedule over kv-tiles
// and an in-tile predicate.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_ATTNPLANOPS_TD
#define ATTN_DIALECT_ATTN_ATTNPLANOPS_TD

def Attn_ScheduleKindAttr : I32EnumAttr<"ScheduleKind",
    "which kv-tiles a q-tile visits", [
      // Every kv-tile.
      I32EnumAttrCase<"Dense", 0, "dense">,
      // A contiguous range of kv-tiles per q-tile, from the band bounds.
      I32EnumAttrCase<"Range", 1, "range">,
      // A per-q-tile list of kv-tiles (block-sparse), computed beforehand.
      I32EnumAttrCase<"List", 2, "list">
    ]> {
  let cppNamespace = "::attn";
}

def Attn_PlanOp : Attn_Op<"plan", [RecursiveMemoryEffects]> {
  let summary = "Attention with an analysed mask: block schedule + predicate";
  let description = [{
    Masked softmax attention (as `attn.attention`) whose mask is given in the
    form the tiler consumes:

    - a **band** relative to the bottom-right diagonal: with
      `delta = j - (i + Nk - Nq)`, a pair is inside the band iff
      `band_lower <= delta <= band_upper` (a missing bound is unbounded).
      Causal is `band_upper = 0`; a window of `w` keys adds
      `band_lower = -(w - 1)`.
    - an optional **predicate** region over (batch, query head, query
      index, key index) yielding
      `i1`, for conditions the band cannot express (user predicates). A pair
      is allowed iff it is inside the band and the predicate (if any) holds.
    - the **schedule**: `dense` visits every kv-tile, `range` only the
      kv-tiles that intersect the band; `list` (block-sparse) needs tile
      lists that attn.plan cannot carry yet, so its verifier refuses it
      (attn.fused.forward takes them as `kv_list`).

    The scale is explicit (the default `1/sqrt(D)` has been resolved).

    ```mlir
    attn.plan ins(%q, %k, %v : memref<?x?x?x64xf32>, memref<?x?x?x64xf32>,
                  memref<?x?x?x64xf32>)
              outs(%o : memref<?x?x?x64xf32>) scale(1.250000e-01)
              schedule(range) band_lower(-127) band_upper(0)
    ```
  }];
  let arguments = (ins
    Arg<Attn_ActivationMemRef, "queries", [MemRead]>:$query,
    Arg<Attn_ActivationMemRef, "keys", [MemRead]>:$key,
    Arg<Attn_ActivationMemRef, "values", [MemRead]>:$value,
    Arg<Attn_ActivationMemRef, "output", [MemWrite]>:$output,
    Arg<Optional<Attn_LseMemRef>, "log-sum-exp", [MemWrite]>:$lse,
    F32Attr:$scale,
    Attn_ScheduleKindAttr:$schedule,
    OptionalAttr<I64Attr>:$band_lower,
    OptionalAttr<I64Attr>:$band_upper);
  let regions = (region MaxSizedRegion<1>:$predicate);
  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,`
              type($value) `)`
    `outs` `(` $output `:` type($output) `)`
    (`lse` `(` $lse^ `:` type($lse) `)`)?
    `scale` `(` $scale `)`
    `schedule` `(` $schedule `)`
    (`band_lower` `(` $band_lower^ `)`)?
    (`band_upper` `(` $band_upper^ `)`)?
    (`predicate` $predicate^)?
    attr-dict
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

#endif // ATTN_DIALECT_ATTN_ATTNPLANOPS_TD
