//===- AttnLinearOps.td - attn level L2: linear attention -*- tablegen -*-===//
//
// Level L2 of linear attention (Lightning Attention-2, SEMANTICS.md "Linear
// tiles"): attn-tile writes attn.linear_attention as a two-phase scheme of
// attn.fused.linear steps around an attn.linear_scan
// (passes/Tile/LinearTile.cpp). attn.fused.linear is the fused step of this
// family, the unit its GPU emitter implements (Sm80/FusedLinear); its
// decomposition uses the tile ops of AttnTileOps.td and the two defined
// here. Included by AttnOps.td after AttnTileOps.td, whose tile classes it
// uses.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_ATTNLINEAROPS_TD
#define ATTN_DIALECT_ATTN_ATTNLINEAROPS_TD

/// A KV state buffer: rows `[row, row + D)` of a [B, H, rows, E] f32 memref.
def Attn_LinearStateMemRef : MemRefRankOf<[F32], [4]>;

def Attn_FusedLinearOp : Attn_Op<"fused.linear", [AttrSizedOperandSegments]> {
  let summary = "Linear attention over one token range of one (batch, head)";
  let description = [{
    The fused step of `attn.linear_attention` (SEMANTICS.md, "Linear
    tiles"): the unit a GPU emitter implements. For batch `b`, head `h` and
    the tokens `[token_begin, token_end)` (`token_end <= N`), in chunks of
    `block` tokens from `token_begin`, with `λ = exp(-s)`, `s =
    decay[h]` (0 without `decay`) and the state `KV: [D, E]` in f32:

    ```
    KV = state_in[b, h, row_in .. row_in + D)   (0 without state_in)
    for each chunk c (tokens c .. c + r, r = min(block, token_end - c)):
      O[c + a] = Σ_{b' <= a} λ^(a - b') <q_a, k_b'> v_b'   (intra: tiles)
               + λ^(a + 1) q_a KV                          (inter)
      KV = λ^r KV + Σ_{b' < r} λ^(r - 1 - b') k_b'ᵀ v_b'
    state_out[b, h, row_out .. row_out + D) = KV          (if given)
    final_state[b, h] = KV           (if given, only when token_end = N)
    ```

    `output` (`[B, H, N, E]`) is written for the rows of the range when
    given; without it the step only computes the state (the first phase of
    the two-phase scheme attn-tile writes). Token ranges must start at
    multiples of `block` (attn-tile's segments do), so only the chunk that
    ends at N is partial. Decomposition (`decompose`) writes the chunk loop
    as attn.tile.* ops (load, qk, decay_scores, scale_rows, pv, store)
    with the same numerics.

    ```mlir
    attn.fused.linear ins(%q, %k, %v : !t, !t, !t) outs(%o : !t)
        decay(%s : memref<?xf32>) state_in(%states [%row] : !s)
        at(%b, %h) tokens(%t0, %t1) block(64)
    ```
  }];
  let arguments = (ins
    Arg<Attn_ActivationMemRef, "queries", [MemRead]>:$query,
    Arg<Attn_ActivationMemRef, "keys", [MemRead]>:$key,
    Arg<Attn_ActivationMemRef, "values", [MemRead]>:$value,
    Arg<Optional<Attn_ActivationMemRef>, "output", [MemWrite]>:$output,
    Arg<Optional<MemRefRankOf<[F32], [1]>>, "per-head decay rates",
        [MemRead]>:$decay,
    Arg<Optional<Attn_LinearStateMemRef>, "state before the range",
        [MemRead]>:$state_in,
    Optional<Index>:$state_in_row,
    Arg<Optional<Attn_LinearStateMemRef>, "state after the range",
        [MemWrite]>:$state_out,
    Optional<Index>:$state_out_row,
    Arg<Optional<Attn_LinearStateMemRef>, "final state of the sequence",
        [MemWrite]>:$final_state,
    Index:$batch, Index:$head, Index:$token_begin, Index:$token_end,
    I64Attr:$block);
  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,`
              type($value) `)`
    (`outs` `(` $output^ `:` type($output) `)`)?
    (`decay` `(` $decay^ `:` type($decay) `)`)?
    (`state_in` `(` $state_in^ `[` $state_in_row `]` `:` type($state_in)
                `)`)?
    (`state_out` `(` $state_out^ `[` $state_out_row `]` `:`
                 type($state_out) `)`)?
    (`final_state` `(` $final_state^ `:` type($final_state) `)`)?
    `at` `(` $batch `,` $head `)`
    `tokens` `(` $token_begin `,` $token_end `)`
    `block` `(` $block `)`
    attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getHeadDim() {
      return ::llvm::cast<::mlir::MemRefType>(getQuery().getType())
          .getDimSize(3);
    }
    int64_t getValueDim() {
      return ::llvm::cast<::mlir::MemRefType>(getValue().getType())
          .getDimSize(3);
    }
    /// Builds the decay rate s of this step's head (f32; 0 without
    /// `decay`) at the insertion point of `b`, reading the operands
    /// through `mapping`.
    ::mlir::Value buildRate(::mlir::OpBuilder &b, ::mlir::Location loc,
                            const ::mlir::IRMapping &mapping = {});
    /// Replaces this op by its chunk loop of attn.tile.* ops (tiles
    /// allocated with memref.alloca): the state load or fill, an scf.for
    /// over the chunks (loads, qk, decay_scores, the inter term through
    /// scale_rows and pv, the intra term by pv, the store, the state
    /// update through scale_rows and pv), then the state stores.
    void decompose(::mlir::OpBuilder &b);
  }];
}

def Attn_LinearScanOp : Attn_Op<"linear_scan", [AttrSizedOperandSegments]> {
  let summary = "Turns per-segment state increments into segment start states";
  let description = [{
    The middle phase of linear attention's two-phase scheme. `states`
    (`[B, H, S·D, E]` f32) holds, in rows `[s·D, (s + 1)·D)` of each
    (b, h), the state increment Δ_s of segment s (the state a segment of
    `segment_length` tokens leaves when it starts from 0, attn.fused.
    linear's `state_out`) for s < S - 1; the scan overwrites row block s
    with the state before segment s, for every s < S:

    ```
    carry = initial[b, h] (0 without `initial`), λ = exp(-decay[h])
    for s in 0 .. S - 1:
      Δ = s < S - 1 ? states[s] : 0
      states[s] = carry
      carry = λ^segment_length · carry + Δ
    ```

    S is the states' row extent divided by D (the `initial`-like extent
    `head_dim`).

    ```mlir
    attn.linear_scan %states decay(%s : memref<?xf32>) segment(%length)
        head_dim(128) : memref<?x?x?x128xf32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_LinearStateMemRef, "increments, then start states",
        [MemRead, MemWrite]>:$states,
    Arg<Optional<MemRefRankOf<[F32], [1]>>, "per-head decay rates",
        [MemRead]>:$decay,
    Arg<Optional<Attn_LinearStateMemRef>, "initial state", [MemRead]>:
        $initial,
    Index:$segment_length, I64Attr:$head_dim);
  let assemblyFormat = [{
    $states (`decay` `(` $decay^ `:` type($decay) `)`)?
    (`initial` `(` $initial^ `:` type($initial) `)`)?
    `segment` `(` $segment_length `)` `head_dim` `(` $head_dim `)` attr-dict
    `:` type($states)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Builds the scan of one state element (b, h, d, e) at the insertion
    /// point of `b`: the loop over segments of the description, reading
    /// the operands through `mapping`. The body of both lowerings (the
    /// CPU loops over elements, a GPU thread per element).
    void buildElementScan(::mlir::OpBuilder &b, ::mlir::Location loc,
                          ::mlir::Value batch, ::mlir::Value head,
                          ::mlir::Value row, ::mlir::Value col,
                          const ::mlir::IRMapping &mapping = {});
    /// Replaces this op by loops over (b, h, d, e) of buildElementScan.
    void decompose(::mlir::OpBuilder &b);
  }];
}

def Attn_TileDecayScoresOp : Attn_TileOp<"decay_scores"> {
  let summary = "Causal decay of a diagonal score tile (linear attention)";
  let description = [{
    For a square score tile whose rows and columns are the same tokens
    (`scores: [Bt, Bt]`, attn.fused.linear's chunk): `scores[a, c] =
    exp(-rate · (a - c)) · scores[a, c]` for `c <= a`, else 0. `rate` is
    the head's decay rate s >= 0 (f32).

    ```mlir
    attn.tile.decay_scores %s rate(%rate) : memref<64x64xf32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "scores", [MemRead, MemWrite]>:$scores, F32:$rate);
  let assemblyFormat = [{
    $scores `rate` `(` $rate `)` attr-dict `:` type($scores)
  }];
}

def Attn_TileScaleRowsOp : Attn_TileOp<"scale_rows"> {
  let summary = "Multiplies each row of a tile by a power of the decay";
  let description = [{
    `dest[r, c] = w_r · source[r, c]` (with `transpose`: `dest[c, r] = w_r
    · source[r, c]`), in f32, where `w_r = exp(-rate · (first + step · r))`
    when `first + step · r >= 0`, else 0. `first` is an index, `step` a
    constant (linear attention: λ^(a+1) for queries is first 1, step 1;
    λ^(r-1-b) for keys is first r - 1, step -1; the state's λ^r is first
    r, step 0). `source` and `dest` may be the same tile (not with
    `transpose`).

    ```mlir
    attn.tile.scale_rows %q_tile into %q_decayed rate(%rate) first(%one)
        step(1) : memref<64x128xbf16>, memref<64x128xf32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_TileMemRef, "source", [MemRead]>:$source,
    Arg<Attn_F32Tile, "destination", [MemWrite]>:$dest,
    F32:$rate, Index:$first, I64Attr:$step, UnitAttr:$transpose);
  let assemblyFormat = [{
    $source `into` $dest `rate` `(` $rate `)` `first` `(` $first `)`
    `step` `(` $step `)` (`transpose` $transpose^)? attr-dict `:`
    type($source) `,` type($dest)
  }];
}

#endif // ATTN_DIALECT_ATTN_ATTNLINEAROPS_TD
