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

def Attn_PlanOp : Attn_Op<"plan", [RecursiveMemoryEffects,
                                    AttrSizedOperandSegments]> {
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
    - an optional **block mask** (`block_mask(%bm : type) block_size(s)`,
      from attn.mask.block): a pair is allowed only if
      `bm[(b, h,) i / s, j / s]` is non-zero; `bm` is `[ceil(Nq / s),
      ceil(Nk / s)]` (shared) or `[B, Hq, ceil(Nq / s), ceil(Nk / s)]`.
    - an optional **token order** (`order(%qk, %kk : ...) classes(n)
      [keep_flags]`, from attn.mask.hash and attn.mask.drop): per (b, h),
      query tokens are taken in the stable order of their class
      c(qk[b, h, i]) and key tokens in that of c(kk[b, hk, j]), where
      c(x) = x for x in [0, n) and n otherwise (bucket ids), or c(x) = 0
      for a kept token and 1 for a dropped one (`keep_flags`, n = 1).
      A pair is allowed only if its two classes are equal and below n
      (on original positions: the order only groups tokens into tiles).
    - an optional **N:M prune** (`nm(n of m)`, from attn.mask.nm): per
      query row and per key group `[g·m, (g+1)·m)`, only the `n` allowed
      pairs with the largest scores stay allowed (ties: lower key index);
      everything above defines the pairs the prune chooses among.
    - the **schedule**: `dense` visits every kv-tile, `range` only the
      kv-tiles that intersect the band, `list` (exactly when there is a
      block mask or a token order) per-q-tile lists of the kv-tiles the
      block mask (or the classes) and the band leave, which attn-tile
      builds (attn.tile_lists, attn.ordered_tile_lists) for its tile
      sizes.

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
    Arg<Optional<Attn_BlockMaskMemRef>, "block mask", [MemRead]>:$block_mask,
    Arg<Optional<Attn_TokenIdMemRef>, "query order keys", [MemRead]>:
        $query_order_keys,
    Arg<Optional<Attn_TokenIdMemRef>, "key order keys", [MemRead]>:
        $key_order_keys,
    F32Attr:$scale,
    Attn_ScheduleKindAttr:$schedule,
    OptionalAttr<I64Attr>:$band_lower,
    OptionalAttr<I64Attr>:$band_upper,
    OptionalAttr<I64Attr>:$block_size,
    OptionalAttr<I64Attr>:$order_classes,
    UnitAttr:$keep_flags,
    OptionalAttr<I64Attr>:$nm_keep,
    OptionalAttr<I64Attr>:$nm_group);
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
    (`block_mask` `(` $block_mask^ `:` type($block_mask) `)`)?
    (`block_size` `(` $block_size^ `)`)?
    (`order` `(` $query_order_keys^ `,` $key_order_keys `:`
        type($query_order_keys) `,` type($key_order_keys) `)`)?
    (`classes` `(` $order_classes^ `)`)?
    (`keep_flags` $keep_flags^)?
    (`nm` `(` $nm_keep^ `of` $nm_group `)`)?
    (`predicate` $predicate^)?
    attr-dict
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

#endif // ATTN_DIALECT_ATTN_ATTNPLANOPS_TD
