//===- AttnTileOps.td - attn level L2: tile ops -----------*- tablegen -*-===//
//
// Level L2: the contract between the mask passes and code generation.
//
// attn-tile writes one attn.fused.forward per (batch, head, q-tile): the
// fused attention step, the unit that every GPU emitter implements as a
// whole. Its one decomposition (FusedForwardOp::decompose) writes the same
// computation as a kv loop over the small attn.tile.* ops; attn-to-cpu runs
// that form, and so does the per-op GPU fallback, so the CPU-executable L2
// checks the numerics the GPU emitters implement. Tiles are small static
// memrefs (allocated once per q-tile) updated in place: on a GPU each one is
// a register fragment or a shared-memory buffer, on the CPU a stack buffer.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_ATTNTILEOPS_TD
#define ATTN_DIALECT_ATTN_ATTNTILEOPS_TD

/// A tile: a static 1-D or 2-D memref.
def Attn_TileMemRef : MemRefRankOf<[F16, BF16, F32], [1, 2]>;
/// A tile of f32 accumulators or softmax state.
def Attn_F32Tile : MemRefRankOf<[F32], [1, 2]>;

//===----------------------------------------------------------------------===//
// The fused step
//===----------------------------------------------------------------------===//

/// Per-q-tile kv-tile counts of a list schedule: [B', H', q-tiles, 2] i32.
def Attn_TileCountsMemRef : MemRefRankOf<[I32], [4]>;
/// Per-q-tile kv-tile indices of a list schedule: [B', H', q-tiles, n] i32.
def Attn_TileIndicesMemRef : MemRefRankOf<[I32], [4]>;
/// A token order or the sorted classes: [B, H, N] i32.
def Attn_TokenOrderMemRef : MemRefRankOf<[I32], [3]>;
/// A count of invalid input values (e.g. bucket ids out of range): one i32.
def Attn_InvalidCountMemRef : Type<
    And<[MemRefRankOf<[I32], [1]>.predicate,
         CPred<"::llvm::cast<::mlir::MemRefType>($_self).getShape()[0] == 1">]>,
    "memref<1xi32>", "::mlir::MemRefType">;

def Attn_FusedForwardOp : Attn_Op<"fused.forward", [
    RecursiveMemoryEffects, AttrSizedOperandSegments]> {
  let summary = "Forward attention of one q-tile over its scheduled kv-tiles";
  let description = [{
    The fused attention step: the unit a GPU emitter implements. For batch
    `b`, query head `h`, the kv head `kv_head` that `h` reads (GQA:
    `h / (Hq / Hk)`, computed by the tiler) and the `block_q` query rows
    from `query_start`, it runs FlashAttention-2 over the kv-tiles of
    its schedule and writes those rows of `output` (and `lse`):

    ```
    m = -inf, l = 0, acc = 0                       (per query row, f32)
    for each scheduled kv-tile kt (keys k0 = kt · block_k ..):
      S = scale · log2(e) · Q Kᵀ                   (log2-domain scores)
      if the tile is partial: S = -inf where (b, h, i, j) is not allowed
      online softmax step with rescale_threshold   (attn.tile.online_softmax)
      acc += P V                                   (P rounded to the input type
                                                    on tensor cores)
    O = acc / l, LSE = m ln 2 + ln l               (0 and -inf without keys)
    ```

    A pair (i, j) is allowed iff `j < Nk`, `j - (i + Nk - Nq)` lies in the
    band `[band_lower, band_upper]` (missing bounds are unbounded) and the
    predicate region, if any, yields true for `(b, h, i, j)`. The predicate
    may read per-row or per-column values from memrefs defined above (e.g.
    `memref.load %limits[%b, %h, %i]`); it must not write memory.

    The schedule says which kv-tiles are visited, in which order:
    - `dense` and `range`: the tiles `[kv_begin, kv_end)` of `kv_tiles`. A
      tile is full (the mask step is skipped) when there is no predicate,
      all its keys exist and every pair of it lies in the band
      (FusedForwardOp::buildIsPartialTile).
    - `list` (block-sparse): the tiles named by `kv_list(counts, indices)`
      for q-tile t = query_start / block_q. With F = counts[b', h', t, 0]
      and P = counts[b', h', t, 1], the step visits indices[b', h', t, p]
      for p in [0, F + P): the first F tiles are full (every pair of them
      is allowed; no mask step), the next P partial (band, key length and
      predicate applied). b' is `batch` when the lists' batch extent is not
      1, else 0 (lists shared by all batches); h' likewise for `head`.
      Every index lies in [0, ceil(Nk / block_k)), F + P <= the lists'
      last extent, and no tile appears twice; whoever writes the lists
      (a preprocessing kernel of the same bundle) guarantees it.

    With `orders(%qo, %ko)` (a token order, list schedule only) the step
    works on tokens in sorted order: its query rows are the sorted
    positions s in [query_start, query_start + block_q), each the original
    query row `qo[b, h, s]`, and kv-tile kt holds the sorted key positions
    [kt · block_k, (kt + 1) · block_k), each the original key
    `ko[b, kv_head, s']`. Q, K and V rows are read, and O and LSE rows
    written, at original rows; the band and the predicate see original
    positions (b, h, i, j) and key existence is `s' < Nk`; with
    `classes(%qc, %kc) order_classes(n)` (the sorted classes) a pair is
    allowed only if `qc[b, h, s] = kc[b, kv_head, s'] < n`. The orders are
    permutations of [0, Nq) and [0, Nk) (attn.token_order writes them).
    With `sorted_inputs` as well, Q, K and V are already in sorted order
    (attn.gather_rows): their rows are read at sorted positions, and only
    O and LSE go through the orders.

    With `unless_invalid(%counts...)` (one-element i32 memrefs, e.g. the
    invalid bucket ids attn.token_order counted) the step does nothing, and
    writes neither O nor LSE, when any count is non-zero: bad data is
    reported (by the runtime, which reads the counts after the launches),
    never half-computed.

    With `nm(n of m)` (an N:M prune, from attn.mask.nm) the scores of each
    tile, once masked, are pruned before the softmax: per row and per key
    group `[g·m, (g+1)·m)` (m divides block_k, so a group never spans two
    tiles) only the `n` largest stay, ties to the lower key
    (attn.tile.prune). Disallowed pairs are -inf and never displace an
    allowed one, so the prune chooses among the pairs the mask allows.

    Rows past `Nq` are computed on zeros and never stored. The softmax form
    is fixed: log2 domain with the scale folded into the exponent, and a
    lazy running max that moves only when a row's tile max exceeds it by
    more than `rescale_threshold` (0: always); O and LSE do not depend on
    the threshold beyond rounding. Decomposition (`decompose`) writes this
    op as allocas and a kv loop of attn.tile.* ops with the same numerics;
    a score transform (the N:M prune) is an attribute here and a step
    between the mask and the softmax in the decomposition and in each
    emitter.

    ```mlir
    attn.fused.forward ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
        lse(%lse : memref<?x?x?xf32>) at(%b, %h, %q0) kv_head(%hk)
        kv_tiles(%lo, %hi)
        block(128, 64) scale(0.0883883461) schedule(range) band_upper(0)
        rescale_threshold(8.0)
    ```
  }];
  let arguments = (ins
    Arg<Attn_ActivationMemRef, "queries", [MemRead]>:$query,
    Arg<Attn_ActivationMemRef, "keys", [MemRead]>:$key,
    Arg<Attn_ActivationMemRef, "values", [MemRead]>:$value,
    Arg<Attn_ActivationMemRef, "output", [MemWrite]>:$output,
    Arg<Optional<Attn_LseMemRef>, "log-sum-exp", [MemWrite]>:$lse,
    Index:$batch, Index:$head, Index:$query_start, Index:$kv_head,
    Optional<Index>:$kv_begin, Optional<Index>:$kv_end,
    Arg<Optional<Attn_TileCountsMemRef>, "list counts", [MemRead]>:
        $tile_counts,
    Arg<Optional<Attn_TileIndicesMemRef>, "list indices", [MemRead]>:
        $tile_indices,
    Arg<Optional<Attn_TokenOrderMemRef>, "query order", [MemRead]>:
        $query_order,
    Arg<Optional<Attn_TokenOrderMemRef>, "key order", [MemRead]>:$key_order,
    Arg<Optional<Attn_TokenOrderMemRef>, "sorted query classes", [MemRead]>:
        $query_classes,
    Arg<Optional<Attn_TokenOrderMemRef>, "sorted key classes", [MemRead]>:
        $key_classes,
    Arg<Variadic<Attn_InvalidCountMemRef>, "invalid input counts",
        [MemRead]>:$invalid_counts,
    I64Attr:$block_q, I64Attr:$block_k,
    F32Attr:$scale,
    Attn_ScheduleKindAttr:$schedule,
    OptionalAttr<I64Attr>:$band_lower,
    OptionalAttr<I64Attr>:$band_upper,
    DefaultValuedAttr<F32Attr, "0.0f">:$rescale_threshold,
    OptionalAttr<I64Attr>:$order_classes,
    UnitAttr:$sorted_inputs,
    OptionalAttr<I64Attr>:$nm_keep,
    OptionalAttr<I64Attr>:$nm_group);
  let regions = (region MaxSizedRegion<1>:$predicate);
  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,`
              type($value) `)`
    `outs` `(` $output `:` type($output) `)`
    (`lse` `(` $lse^ `:` type($lse) `)`)?
    `at` `(` $batch `,` $head `,` $query_start `)`
    `kv_head` `(` $kv_head `)`
    (`kv_tiles` `(` $kv_begin^ `,` $kv_end `)`)?
    (`kv_list` `(` $tile_counts^ `,` $tile_indices `:` type($tile_counts)
                `,` type($tile_indices) `)`)?
    (`orders` `(` $query_order^ `,` $key_order `:` type($query_order) `,`
                type($key_order) `)`)?
    (`classes` `(` $query_classes^ `,` $key_classes `:` type($query_classes)
                 `,` type($key_classes) `)`)?
    (`order_classes` `(` $order_classes^ `)`)?
    (`unless_invalid` `(` $invalid_counts^ `:` type($invalid_counts) `)`)?
    (`sorted_inputs` $sorted_inputs^)?
    `block` `(` $block_q `,` $block_k `)`
    `scale` `(` $scale `)`
    `schedule` `(` $schedule `)`
    (`band_lower` `(` $band_lower^ `)`)?
    (`band_upper` `(` $band_upper^ `)`)?
    (`rescale_threshold` `(` $rescale_threshold^ `)`)?
    (`nm` `(` $nm_keep^ `of` $nm_group `)`)?
    (`predicate` $predicate^)?
    attr-dict
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The band and predicate (TileMask.h).
    ::attn::TileMask getMask() {
      return ::attn::TileMask(getBandLower(), getBandUpper(),
                              &getPredicate());
    }
    /// The query and key head dimensions D and Dv.
    int64_t getHeadDim() {
      return ::llvm::cast<::mlir::MemRefType>(getQuery().getType())
          .getDimSize(3);
    }
    int64_t getValueDim() {
      return ::llvm::cast<::mlir::MemRefType>(getValue().getType())
          .getDimSize(3);
    }
    /// Values every lowering of this op computes the same way.
    struct Problem {
      ::mlir::Value queryLen, keyLen;
      /// The kv_head operand.
      ::mlir::Value kvHead;
      /// Nk - Nq: the bottom-right diagonal.
      ::mlir::Value diagonalOffset;
      /// The last query row of this q-tile, min(q0 + block_q, Nq) - 1.
      ::mlir::Value lastRow;
      /// The schedule as positions [positionBegin, positionEnd): kv_tiles
      /// for dense and range (position = kv-tile), [0, F + P) for list.
      ::mlir::Value positionBegin, positionEnd;
      /// list only: the indices memref, the list coordinates (b', h', t)
      /// and F, the number of full tiles.
      ::mlir::Value tileIndices, listBatch, listHead, listQueryTile,
          fullCount;
    };
    /// With `unless_invalid`: builds "every invalid-input count is 0" and
    /// an scf.if on it at the insertion point of `b`, and moves `b` into
    /// its then-block, where the step is built. Without: does nothing.
    void enterIfInputsValid(::mlir::OpBuilder &b, ::mlir::Location loc,
                            const ::mlir::IRMapping &mapping = {});
    /// The orders Q rows and K/V rows are loaded through: the orders, or
    /// none with `sorted_inputs` (only the mask and the stores use them).
    ::mlir::Value getQueryLoadOrder() {
      return getSortedInputs() ? ::mlir::Value() : getQueryOrder();
    }
    ::mlir::Value getKeyLoadOrder() {
      return getSortedInputs() ? ::mlir::Value() : getKeyOrder();
    }
    /// Builds the Problem at the insertion point of `b`, reading the
    /// operands through `mapping`.
    Problem buildProblem(::mlir::OpBuilder &b, ::mlir::Location loc,
                         const ::mlir::IRMapping &mapping = {});
    /// Builds the kv-tile index at schedule position `position` (>=
    /// positionBegin): the position itself for dense and range, the list
    /// entry for list. A list position past the end reads the last entry,
    /// so that a pipeline may look ahead without a branch (the schedule
    /// must not be empty).
    ::mlir::Value buildTileAt(::mlir::OpBuilder &b, ::mlir::Location loc,
                              const Problem &problem, ::mlir::Value position);
    /// Builds the i1 "the kv-tile at schedule position `position`, keys
    /// from `keyStart`, needs the mask step". list: the position is past
    /// the full tiles. dense and range: the op has a predicate, the tile
    /// runs past the last key, or some pair of the tile lies outside the
    /// band (tested at the tile's corners).
    ::mlir::Value buildIsPartialTile(::mlir::OpBuilder &b,
                                     ::mlir::Location loc,
                                     const Problem &problem,
                                     ::mlir::Value position,
                                     ::mlir::Value queryStart,
                                     ::mlir::Value keyStart);
    /// Replaces this op by its decomposition into attn.tile.* ops: tiles
    /// allocated with memref.alloca, the Q load and state fills, an scf.for
    /// over the schedule's positions with the tile of each (buildTileAt),
    /// K/V loads, qk, the mask step under scf.if on buildIsPartialTile,
    /// online_softmax and pv, then finalize and the stores; with
    /// `unless_invalid`, all but the allocas inside enterIfInputsValid's
    /// branch. Returns the kv loop.
    ::mlir::scf::ForOp decompose(::mlir::OpBuilder &b);
  }];
}

def Attn_TileListsOp : Attn_Op<"tile_lists"> {
  let summary = "Builds the per-q-tile kv-tile lists of a block mask";
  let description = [{
    Writes the `list` schedule of a block-sparse attention (the operands
    `kv_list(counts, indices)` of attn.fused.forward) for q-tiles of
    `block_q` rows and kv-tiles of `block_k` keys, from a block mask of
    blocks of `size` x `size` (`[QB, KB]`, shared: lists `[1, 1, T, 2]`
    and `[1, 1, T, n]`; or `[B, Hq, QB, KB]`: lists per batch and query
    head) and the band `[band_lower, band_upper]` on
    `delta = j - (i + Nk - Nq)` (missing bounds are unbounded).

    For q-tile t (rows R = [t · block_q, min((t + 1) · block_q, Nq))) and
    kv-tile kt (keys K = [kt · block_k, (kt + 1) · block_k)):
    - the tile is *visited* when some block meeting R x (K ∩ [0, Nk)) is
      on (non-zero) and the band meets R x (K ∩ [0, Nk));
    - a visited tile is *full* when `partial_only` is absent, K lies in
      [0, Nk), every block meeting R x K is on and every pair of R x K lies
      in the band; otherwise it is *partial*.
    `counts[b', h', t] = (F, P)`, the numbers of full and partial tiles;
    `indices[b', h', t, 0 .. F)` are the full tiles and `[F, F + P)` the
    partial ones, each in ascending order; later entries are unspecified.
    Every tile with an allowed pair is visited, and every pair of a full
    tile is allowed by the block mask, the band and the key length, so the
    lists are exact for the fused step when the step's predicate is the
    block mask alone (`partial_only` marks a step with a further
    predicate, whose tiles are never known full). `counts` must be `[B',
    H', ceil(Nq / block_q), 2]` and `indices` `[B', H', ceil(Nq /
    block_q), ceil(Nk / block_k)]` with (B', H') the block mask's leading
    extents or (1, 1).

    ```mlir
    attn.tile_lists %blocks size(64)
        into(%counts, %indices : memref<1x1x?x2xi32>, memref<1x1x?x?xi32>)
        extents(%nq, %nk) tiles(128, 64) band_upper(0) : memref<?x?xi8>
    ```
  }];
  let arguments = (ins
    Arg<Attn_BlockMaskMemRef, "block mask", [MemRead]>:$block_mask,
    Arg<Attn_TileCountsMemRef, "list counts", [MemWrite]>:$tile_counts,
    Arg<Attn_TileIndicesMemRef, "list indices", [MemWrite]>:$tile_indices,
    Index:$query_len, Index:$key_len,
    I64Attr:$size, I64Attr:$block_q, I64Attr:$block_k,
    OptionalAttr<I64Attr>:$band_lower,
    OptionalAttr<I64Attr>:$band_upper,
    UnitAttr:$partial_only);
  let assemblyFormat = [{
    $block_mask `size` `(` $size `)`
    `into` `(` $tile_counts `,` $tile_indices `:` type($tile_counts) `,`
               type($tile_indices) `)`
    `extents` `(` $query_len `,` $key_len `)`
    `tiles` `(` $block_q `,` $block_k `)`
    (`band_lower` `(` $band_lower^ `)`)?
    (`band_upper` `(` $band_upper^ `)`)?
    (`partial_only` $partial_only^)?
    attr-dict `:` type($block_mask)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Whether the block mask (and so the lists) is given per batch and
    /// query head.
    bool isPerHead() {
      return ::llvm::cast<::mlir::MemRefType>(getBlockMask().getType())
                 .getRank() == 4;
    }
    /// The classification of one (list, q-tile, kv-tile): `visited` and
    /// `full` (i1) as the op's description defines them.
    struct TileClass {
      ::mlir::Value visited, full;
    };
    /// Builds the classification of q-tile `queryTile`, kv-tile `keyTile`
    /// of list (listBatch, listHead) at the insertion point of `b`, with
    /// the operands read through `mapping`: loops over the blocks that
    /// meet the tile, and the band's corner tests.
    TileClass buildTileClass(::mlir::OpBuilder &b, ::mlir::Location loc,
                             ::mlir::Value listBatch, ::mlir::Value listHead,
                             ::mlir::Value queryTile, ::mlir::Value keyTile,
                             const ::mlir::IRMapping &mapping = {});
    /// Replaces this op by scalar loops (the CPU lowering): per list and
    /// q-tile, one pass over the kv-tiles appending the full ones, one
    /// appending the partial ones, then the counts.
    void decompose(::mlir::OpBuilder &b);
  }];
}

def Attn_TokenOrderOp : Attn_Op<"token_order"> {
  let summary = "Stable sort of each (batch, head)'s tokens by class";
  let description = [{
    The token order of a hash-bucket or keep-flag attention (attn.plan's
    `order`). For each (b, h) of `keys: [B, H, N]`, token n has class
    c(keys[b, h, n]): with bucket ids, the id when it lies in
    `[0, classes)` and `classes` otherwise; with `keep_flags`
    (`classes(1)`), 0 for a non-zero (kept) flag and 1 for a dropped
    token. Writes the stable counting sort by class: `order[b, h, s]` is
    the original position of the token at sorted position s (ascending
    positions within a class) and `sorted_classes[b, h, s]` its class.

    With `count_invalid(%count)` (bucket ids only) it also writes
    `count[0]`: the number of ids outside `[0, classes)` over all (b, h),
    which the attention's step reads (`unless_invalid`) and the runtime
    reports.

    ```mlir
    attn.token_order %qb into(%order, %classes
        : memref<?x?x?xi32>, memref<?x?x?xi32>) classes(8)
        : memref<?x?x?xi32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_TokenIdMemRef, "per-token keys", [MemRead]>:$keys,
    Arg<Attn_TokenOrderMemRef, "order", [MemWrite]>:$order,
    Arg<Attn_TokenOrderMemRef, "sorted classes", [MemWrite]>:$sorted_classes,
    Arg<Optional<Attn_InvalidCountMemRef>, "count of invalid ids",
        [MemWrite]>:$invalid_count,
    I64Attr:$classes,
    UnitAttr:$keep_flags);
  let assemblyFormat = [{
    $keys `into` `(` $order `,` $sorted_classes `:` type($order) `,`
                     type($sorted_classes) `)`
    (`count_invalid` `(` $invalid_count^ `:` type($invalid_count) `)`)?
    `classes` `(` $classes `)` (`keep_flags` $keep_flags^)?
    attr-dict `:` type($keys)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Builds the i32 class of key value `key` (an element of `keys`).
    ::mlir::Value buildClassOf(::mlir::OpBuilder &b, ::mlir::Location loc,
                               ::mlir::Value key);
    /// Replaces this op by scalar loops (the CPU lowering): per (b, h),
    /// class counts in a heap buffer of classes + 1 entries, their
    /// exclusive prefix sums, and one pass in position order that writes
    /// each token at its class's next slot.
    void decompose(::mlir::OpBuilder &b);
  }];
}

def Attn_GatherRowsOp : Attn_Op<"gather_rows", [
    AllTypesMatch<["source", "target"]>]> {
  let summary = "Copies the rows of activations into a token order";
  let description = [{
    For each (b, h) and sorted position s < N of `source: [B, H, N, D]`,
    `target[b, h, s, :] = source[b, h, order[b, h, s], :]`, with `order:
    [B, H, N]` a permutation of [0, N) (attn.token_order writes it). The
    copy of Q, K and V into sorted order that a step with `sorted_inputs`
    reads (attn-tile's `gather-rows`), instead of loading each row through
    the order.

    ```mlir
    attn.gather_rows %k by %key_order into %sorted_k
        : memref<?x?x?x64xbf16>, memref<?x?x?xi32>, memref<?x?x?x64xbf16>
    ```
  }];
  let arguments = (ins
    Arg<Attn_ActivationMemRef, "rows", [MemRead]>:$source,
    Arg<Attn_TokenOrderMemRef, "order", [MemRead]>:$order,
    Arg<Attn_ActivationMemRef, "rows in sorted order", [MemWrite]>:$target);
  let assemblyFormat = [{
    $source `by` $order `into` $target attr-dict `:` type($source) `,`
    type($order) `,` type($target)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Replaces this op by scalar loops (the CPU lowering).
    void decompose(::mlir::OpBuilder &b);
  }];
}

def Attn_OrderedTileListsOp : Attn_Op<"ordered_tile_lists", [
    AllTypesMatch<["query_order", "query_classes"]>,
    AllTypesMatch<["key_order", "key_classes"]>]> {
  let summary = "Builds the per-q-tile kv-tile lists of a token order";
  let description = [{
    Writes the `list` schedule of an attention over sorted tokens (the
    operands `kv_list(counts, indices)` of attn.fused.forward with
    `orders`), for q-tiles of `block_q` sorted query positions and
    kv-tiles of `block_k` sorted key positions, from the token orders and
    sorted classes (attn.token_order) and the band `[band_lower,
    band_upper]` on `delta = j - (i + Nk - Nq)` over original positions.

    First, per (b, hk) and kv-tile kt (keys below Nk only), the summary
    `key_tiles[b, hk, kt] = (cmin, cmax, jmin, jmax)`: the smallest and
    largest class and original position. Then per (b, h) and q-tile t
    (rows below Nq), the same summary (qcmin, qcmax, imin, imax), and for
    each kv-tile kt with hk = h / (Hq / Hk):
    - kt is *visited* when the class ranges share a class below `classes`
      (max(qcmin, cmin) <= min(qcmax, cmax) and max(qcmin, cmin) <
      classes) and the band meets the delta range [jmin - imax - off,
      jmax - imin - off];
    - a visited kt is *full* when `partial_only` is absent, all its keys
      exist, both tiles have one class, the same, and the band holds the
      whole delta range.
    Since classes are sorted, the visited tiles lie between the first kt
    with cmax >= qcmin (a binary search) and the last with cmin <= qcmax.
    `counts[b, h, t] = (F, P)`; `indices[b, h, t, 0 .. F)` are the full
    tiles and `[F, F + P)` the partial ones, each ascending. Every pair
    whose classes are equal and below `classes` and whose delta lies in
    the band is in a visited tile; every pair of a full tile is such a
    pair. `counts` is `[B, Hq, ceil(Nq / block_q), 2]`, `indices`
    `[B, Hq, ceil(Nq / block_q), ceil(Nk / block_k)]`, `key_tiles`
    `[B, Hk, ceil(Nk / block_k), 4]`.

    ```mlir
    attn.ordered_tile_lists queries(%qo, %qc) keys(%ko, %kc)
        summaries(%key_tiles) into(%counts, %indices) classes(8)
        tiles(128, 64) band_upper(0)
        : memref<?x?x?xi32>, memref<?x?x?xi32>, memref<?x?x?x4xi32>,
          memref<?x?x?x2xi32>, memref<?x?x?x?xi32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_TokenOrderMemRef, "query order", [MemRead]>:$query_order,
    Arg<Attn_TokenOrderMemRef, "sorted query classes", [MemRead]>:
        $query_classes,
    Arg<Attn_TokenOrderMemRef, "key order", [MemRead]>:$key_order,
    Arg<Attn_TokenOrderMemRef, "sorted key classes", [MemRead]>:$key_classes,
    Arg<Attn_TileCountsMemRef, "kv-tile summaries", [MemRead, MemWrite]>:
        $key_tiles,
    Arg<Attn_TileCountsMemRef, "list counts", [MemWrite]>:$tile_counts,
    Arg<Attn_TileIndicesMemRef, "list indices", [MemWrite]>:$tile_indices,
    I64Attr:$classes, I64Attr:$block_q, I64Attr:$block_k,
    OptionalAttr<I64Attr>:$band_lower,
    OptionalAttr<I64Attr>:$band_upper,
    UnitAttr:$partial_only);
  let assemblyFormat = [{
    `queries` `(` $query_order `,` $query_classes `)`
    `keys` `(` $key_order `,` $key_classes `)`
    `summaries` `(` $key_tiles `)`
    `into` `(` $tile_counts `,` $tile_indices `)`
    `classes` `(` $classes `)`
    `tiles` `(` $block_q `,` $block_k `)`
    (`band_lower` `(` $band_lower^ `)`)?
    (`band_upper` `(` $band_upper^ `)`)?
    (`partial_only` $partial_only^)?
    attr-dict `:` type($query_order) `,` type($key_order) `,`
    type($key_tiles) `,` type($tile_counts) `,` type($tile_indices)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The summary of the tokens [begin, end) of one (b, h) of an order and
    /// its sorted classes: i64 values (cmin, cmax, pmin, pmax). Built as
    /// an scf.for over the tokens at the insertion point of `b`, reading
    /// the operands through `mapping`.
    struct TileSummary {
      ::mlir::Value minClass, maxClass, minPosition, maxPosition;
    };
    static TileSummary buildSummary(::mlir::OpBuilder &b,
                                    ::mlir::Location loc, ::mlir::Value order,
                                    ::mlir::Value classes, ::mlir::Value batch,
                                    ::mlir::Value head, ::mlir::Value begin,
                                    ::mlir::Value end);
    /// The classification of q-tile summary `query` against kv-tile
    /// summary `key` (kv-tile `keyTile`, whose keys all exist iff
    /// `keyTileWhole`): `visited` and `full` (i1) as the description
    /// defines them; `diagonalOffset` is Nk - Nq.
    struct TileClass {
      ::mlir::Value visited, full;
    };
    TileClass buildTileClass(::mlir::OpBuilder &b, ::mlir::Location loc,
                             const TileSummary &query, const TileSummary &key,
                             ::mlir::Value keyTileWhole,
                             ::mlir::Value diagonalOffset);
    /// The first kv-tile of (b, hk) in [0, keyTiles) whose largest class
    /// is at least `minClass` (keyTiles if none): a binary search over
    /// `key_tiles` at the insertion point of `b`.
    ::mlir::Value buildFirstKeyTile(::mlir::OpBuilder &b, ::mlir::Location loc,
                                    ::mlir::Value batch, ::mlir::Value kvHead,
                                    ::mlir::Value keyTiles,
                                    ::mlir::Value minClass,
                                    const ::mlir::IRMapping &mapping = {});
    /// Replaces this op by scalar loops (the CPU lowering): the kv-tile
    /// summaries, then per (b, h, q-tile) its summary, the binary search,
    /// one walk appending the full tiles and one the partial ones, and the
    /// counts.
    void decompose(::mlir::OpBuilder &b);
  }];
}

class Attn_TileOp<string mnemonic, list<Trait> traits = []>
    : Attn_Op<"tile." # mnemonic, traits> {
  let hasVerifier = 1;
}

def Attn_TileLoadOp : Attn_TileOp<"load"> {
  let summary = "Copies a block of rows of one (batch, head) into a tile";
  let description = [{
    `tile[r, ...] = source[batch, head, row + r, ...]` for the rows that
    exist (`row + r < dim(source, 2)`); rows past the end are zero. The tile
    has the source's trailing extents (`[R, D]` from `[B, H, N, D]`, or `[R]`
    from `[B, H, N]`) and its element type. With `order(%o)` (`[B, H, N]`
    i32, a permutation of each (batch, head)'s rows) the rows are gathered:
    tile row r is `source[batch, head, o[batch, head, row + r], ...]`.

    ```mlir
    attn.tile.load %k[%b, %hk, %k0] into %k_tile
        : memref<?x?x?x64xbf16>, memref<64x64xbf16>
    ```
  }];
  let arguments = (ins
    Arg<AnyMemRef, "source", [MemRead]>:$source,
    Index:$batch, Index:$head, Index:$row,
    Arg<Attn_TileMemRef, "tile", [MemWrite]>:$tile,
    Arg<Optional<Attn_TokenOrderMemRef>, "row order", [MemRead]>:$order);
  let assemblyFormat = [{
    $source `[` $batch `,` $head `,` $row `]` `into` $tile
    (`order` `(` $order^ `:` type($order) `)`)? attr-dict `:`
    type($source) `,` type($tile)
  }];
}

def Attn_TileStoreOp : Attn_TileOp<"store"> {
  let summary = "Writes the existing rows of a tile to one (batch, head)";
  let description = [{
    `dest[batch, head, row + r, ...] = tile[r, ...]` for the rows that exist
    (`row + r < dim(dest, 2)`), converting f32 to the destination's element
    type. Rows past the end are not written. With `order(%o)` the rows are
    scattered: tile row r goes to `dest[batch, head, o[batch, head, row +
    r], ...]`.

    ```mlir
    attn.tile.store %acc into %o[%b, %h, %q0]
        : memref<64x64xf32>, memref<?x?x?x64xbf16>
    ```
  }];
  let arguments = (ins
    Arg<Attn_TileMemRef, "tile", [MemRead]>:$tile,
    Arg<AnyMemRef, "destination", [MemWrite]>:$dest,
    Index:$batch, Index:$head, Index:$row,
    Arg<Optional<Attn_TokenOrderMemRef>, "row order", [MemRead]>:$order);
  let assemblyFormat = [{
    $tile `into` $dest `[` $batch `,` $head `,` $row `]`
    (`order` `(` $order^ `:` type($order) `)`)? attr-dict `:`
    type($tile) `,` type($dest)
  }];
}

def Attn_TileFillOp : Attn_TileOp<"fill"> {
  let summary = "Sets every element of an f32 tile";
  let description = [{
    ```mlir
    attn.tile.fill %row_max, 0xFF800000 : memref<64xf32>
    ```
  }];
  let arguments = (ins Arg<Attn_F32Tile, "tile", [MemWrite]>:$tile,
                       F32Attr:$value);
  let assemblyFormat = "$tile `,` $value attr-dict `:` type($tile)";
}

def Attn_TileQKOp : Attn_TileOp<"qk"> {
  let summary = "Scaled score tile S = scale · Q Kᵀ";
  let description = [{
    `scores[r, c] = scale · Σ_d query[r, d] · key[c, d]`, accumulated in
    f32. `query: [Bq, D]`, `key: [Bk, D]`, `scores: [Bq, Bk]`. Before
    attn.tile.online_softmax the scale includes the factor log2(e) of the
    log2-domain softmax.

    ```mlir
    attn.tile.qk %q_tile, %k_tile into %s scale(1.250000e-01)
        : memref<64x64xbf16>, memref<64x64xbf16>, memref<64x64xf32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_TileMemRef, "query tile", [MemRead]>:$query,
    Arg<Attn_TileMemRef, "key tile", [MemRead]>:$key,
    Arg<Attn_F32Tile, "scores", [MemWrite]>:$scores,
    F32Attr:$scale);
  let assemblyFormat = [{
    $query `,` $key `into` $scores `scale` `(` $scale `)` attr-dict `:`
    type($query) `,` type($key) `,` type($scores)
  }];
}

def Attn_TileMaskOp : Attn_TileOp<"mask", [RecursiveMemoryEffects,
                                           AttrSizedOperandSegments]> {
  let summary = "Sets disallowed scores of a partial tile to -inf";
  let description = [{
    For the score tile of (batch `b`, query head `h`) whose element `[r, c]`
    is the pair (query `i = query_start + r`, key `j = key_start + c`) of a
    problem with `query_len` queries and `key_len` keys, sets
    `scores[r, c] = -inf` unless `j < key_len`, `j - (i + key_len -
    query_len)` lies in the band `[band_lower, band_upper]` (missing bounds
    are unbounded) and the optional predicate region yields true for
    `(b, h, i, j)`. With `orders(%qo, %ko)` (sorted tokens, as in
    attn.fused.forward) the element `[r, c]` is sorted query position
    `s = query_start + r` and sorted key position `s' = key_start + c`:
    the pair is (i = qo[b, h, s], j = ko[b, hk, s']) with hk = h / (Hq /
    Hk) from the orders' head extents, and the key exists iff
    `s' < key_len`; with `classes(%qc, %kc) order_classes(n)` the pair
    also needs `qc[b, h, s] = kc[b, hk, s'] < n`.

    ```mlir
    attn.tile.mask %s at(%b, %h, %q0, %k0) extents(%nq, %nk) band_upper(0)
        : memref<64x64xf32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "scores", [MemRead, MemWrite]>:$scores,
    Index:$batch, Index:$head,
    Index:$query_start, Index:$key_start, Index:$query_len, Index:$key_len,
    Arg<Optional<Attn_TokenOrderMemRef>, "query order", [MemRead]>:
        $query_order,
    Arg<Optional<Attn_TokenOrderMemRef>, "key order", [MemRead]>:$key_order,
    Arg<Optional<Attn_TokenOrderMemRef>, "sorted query classes", [MemRead]>:
        $query_classes,
    Arg<Optional<Attn_TokenOrderMemRef>, "sorted key classes", [MemRead]>:
        $key_classes,
    OptionalAttr<I64Attr>:$band_lower,
    OptionalAttr<I64Attr>:$band_upper,
    OptionalAttr<I64Attr>:$order_classes);
  let regions = (region MaxSizedRegion<1>:$predicate);
  let assemblyFormat = [{
    $scores `at` `(` $batch `,` $head `,` $query_start `,` $key_start `)`
    `extents` `(` $query_len `,` $key_len `)`
    (`orders` `(` $query_order^ `,` $key_order `:` type($query_order) `,`
                type($key_order) `)`)?
    (`classes` `(` $query_classes^ `,` $key_classes `:` type($query_classes)
                 `,` type($key_classes) `)`)?
    (`order_classes` `(` $order_classes^ `)`)?
    (`band_lower` `(` $band_lower^ `)`)?
    (`band_upper` `(` $band_upper^ `)`)?
    (`predicate` $predicate^)?
    attr-dict `:` type($scores)
  }];
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The band and predicate of this mask (TileMask.h), the one place
    /// where its conditions are built.
    ::attn::TileMask getMask() {
      return ::attn::TileMask(getBandLower(), getBandUpper(),
                              &getPredicate());
    }
    /// Builds the i1 "element [r, c] is allowed" at the insertion point of
    /// `b`: the positions of the element (through the orders, if any), key
    /// existence and getMask().buildAllowed. `diagonalOffset` is key_len -
    /// query_len, hoisted by the caller; the operands are read through
    /// `mapping`.
    ::mlir::Value buildAllowedAt(::mlir::OpBuilder &b, ::mlir::Location loc,
                                 ::mlir::Value r, ::mlir::Value c,
                                 ::mlir::Value diagonalOffset,
                                 const ::mlir::IRMapping &mapping = {});
  }];
}

def Attn_TilePruneOp : Attn_TileOp<"prune"> {
  let summary = "N:M prune of a score tile: the n largest of each group of m";
  let description = [{
    Per row r and per column group `[g·m, (g+1)·m)` of `scores` (`[Bq, Bk]`,
    m divides Bk): the element `[r, c]` stays iff fewer than `n` elements of
    its group beat it, where `[r, c']` beats `[r, c]` when `S[r, c'] >
    S[r, c]`, or `S[r, c'] = S[r, c]` and `c' < c` (ties: lower column);
    every other element becomes -inf. Exactly `n` elements of each group
    stay; a -inf (disallowed) element never beats a finite one, so a group
    with at most `n` allowed elements keeps them all. The tile's first
    column must lie on a group boundary of the key positions (attn.fused.
    forward's tiles start at multiples of block_k).

    ```mlir
    attn.tile.prune %s keep(2) group(4) : memref<64x64xf32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "scores", [MemRead, MemWrite]>:$scores,
    I64Attr:$keep, I64Attr:$group);
  let assemblyFormat = [{
    $scores `keep` `(` $keep `)` `group` `(` $group `)` attr-dict `:`
    type($scores)
  }];
  let extraClassDeclaration = [{
    /// Prunes group `groupIndex` of row `row` in place at the insertion
    /// point of `b` (scalar loads and stores; attn::buildKeptFlags
    /// decides): the body of every lowering's loop over (row, group).
    void buildPruneGroup(::mlir::OpBuilder &b, ::mlir::Location loc,
                         ::mlir::Value row, ::mlir::Value groupIndex,
                         const ::mlir::IRMapping &mapping = {});
  }];
}

def Attn_TileOnlineSoftmaxOp : Attn_TileOp<"online_softmax"> {
  let summary = "One online-softmax step over a score tile";
  let description = [{
    Works in the log2 domain: `S = scores` (`[Bq, Bk]`) holds scores
    already multiplied by `scale · log2(e)` (attn.tile.qk does that), the
    running row maxima `m` (`[Bq]`) are in the same units, `l` (`[Bq]`) are
    the row sums and `acc` (`[Bq, Dv]`) the output accumulator. With
    `t = rescale_threshold` (>= 0), per row r:

    ```
    T  = max_c S[r, c]
    m' = T > m + t ? max(m, T) : m        (lazy: m moves only by more than t)
    α  = exp2(m - m')                     (1 when m' = -inf)
    S[r, c] = exp2(S[r, c] - m')          (0 when m' = -inf)
    l  = α · l + Σ_c S[r, c]
    acc[r, :] = α · acc[r, :]
    m  = m'
    ```

    so `scores` holds the unnormalised probabilities P afterwards, each at
    most `2^t`. Any m' used consistently gives the same O = acc / l and
    LSE = (m ln 2) + ln l; with `t = 0` (the default) m' is the running max.
    A row with no allowed key so far keeps `m = -inf`, `l = 0` and never
    produces NaN. The scalar formulas are SoftmaxNumerics.h's, shared with
    the GPU emitters.

    ```mlir
    attn.tile.online_softmax %s, %m, %l, %acc rescale_threshold(8.0)
        : memref<64x64xf32>, memref<64xf32>, memref<64xf32>, memref<64x64xf32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "scores, then probabilities", [MemRead, MemWrite]>:$scores,
    Arg<Attn_F32Tile, "row maxima", [MemRead, MemWrite]>:$row_max,
    Arg<Attn_F32Tile, "row sums", [MemRead, MemWrite]>:$row_sum,
    Arg<Attn_F32Tile, "accumulator", [MemRead, MemWrite]>:$acc,
    DefaultValuedAttr<F32Attr, "0.0f">:$rescale_threshold);
  let assemblyFormat = [{
    $scores `,` $row_max `,` $row_sum `,` $acc
    (`rescale_threshold` `(` $rescale_threshold^ `)`)? attr-dict `:`
    type($scores) `,` type($row_max) `,` type($row_sum) `,` type($acc)
  }];
}

def Attn_TilePVOp : Attn_TileOp<"pv"> {
  let summary = "Accumulates P V into the output tile";
  let description = [{
    `acc[r, e] += Σ_c probs[r, c] · value[c, e]`, in f32.
    `probs: [Bq, Bk]`, `value: [Bk, Dv]`, `acc: [Bq, Dv]`.

    ```mlir
    attn.tile.pv %s, %v_tile into %acc
        : memref<64x64xf32>, memref<64x64xbf16>, memref<64x64xf32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "probabilities", [MemRead]>:$probs,
    Arg<Attn_TileMemRef, "value tile", [MemRead]>:$value,
    Arg<Attn_F32Tile, "accumulator", [MemRead, MemWrite]>:$acc);
  let assemblyFormat = [{
    $probs `,` $value `into` $acc attr-dict `:` type($probs) `,` type($value)
    `,` type($acc)
  }];
}

def Attn_TileFinalizeOp : Attn_TileOp<"finalize"> {
  let summary = "Normalises the output tile and turns the row max into LSE";
  let description = [{
    Per row r: `acc[r, :] = acc[r, :] / l[r]` and, since the row maxima
    are in the log2 domain (attn.tile.online_softmax), `m[r] = m[r] · ln 2 +
    ln l[r]`, the natural-log LSE; rows with `l[r] = 0` (no allowed key)
    get `acc[r, :] = 0` and `m[r] = -inf`.

    ```mlir
    attn.tile.finalize %acc, %m, %l
        : memref<64x64xf32>, memref<64xf32>, memref<64xf32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "accumulator", [MemRead, MemWrite]>:$acc,
    Arg<Attn_F32Tile, "row max, then LSE", [MemRead, MemWrite]>:$row_max,
    Arg<Attn_F32Tile, "row sums", [MemRead]>:$row_sum);
  let assemblyFormat = [{
    $acc `,` $row_max `,` $row_sum attr-dict `:` type($acc) `,`
    type($row_max) `,` type($row_sum)
  }];
}

#endif // ATTN_DIALECT_ATTN_ATTNTILEOPS_TD
