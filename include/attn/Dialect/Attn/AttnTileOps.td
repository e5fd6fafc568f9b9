//===- AttnTileOps.td - attn level L2: tile ops -----------*- tablegen -*-===//
//
// Level L2: the contract between the mask passes and code generation. The
// tiler (attn-tile) writes FlashAttention-2 as loops over these ops; attn-to-
// cpu and attn-to-gpu lower each of them. Tiles are small static memrefs
// (allocated once per q-tile) updated in place: on a GPU each one is a
// register fragment or a shared-memory buffer, on the CPU a stack buffer.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_ATTNTILEOPS_TD
#define ATTN_DIALECT_ATTN_ATTNTILEOPS_TD

/// A tile: a static 1-D or 2-D memref.
def Attn_TileMemRef : MemRefRankOf<[F16, BF16, F32], [1, 2]>;
/// A tile of f32 accumulators or softmax state.
def Attn_F32Tile : MemRefRankOf<[F32], [1, 2]>;

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
    from `[B, H, N]`) and its element type.

    ```mlir
    attn.tile.load %k[%b, %hk, %k0] into %k_tile
        : memref<?x?x?x64xbf16>, memref<64x64xbf16>
    ```
  }];
  let arguments = (ins
    Arg<AnyMemRef, "source", [MemRead]>:$source,
    Index:$batch, Index:$head, Index:$row,
    Arg<Attn_TileMemRef, "tile", [MemWrite]>:$tile);
  let assemblyFormat = [{
    $source `[` $batch `,` $head `,` $row `]` `into` $tile attr-dict `:`
    type($source) `,` type($tile)
  }];
}

def Attn_TileStoreOp : Attn_TileOp<"store"> {
  let summary = "Writes the existing rows of a tile to one (batch, head)";
  let description = [{
    `dest[batch, head, row + r, ...] = tile[r, ...]` for the rows that exist
    (`row + r < dim(dest, 2)`), converting f32 to the destination's element
    type. Rows past the end are not written.

    ```mlir
    attn.tile.store %acc into %o[%b, %h, %q0]
        : memref<64x64xf32>, memref<?x?x?x64xbf16>
    ```
  }];
  let arguments = (ins
    Arg<Attn_TileMemRef, "tile", [MemRead]>:$tile,
    Arg<AnyMemRef, "destination", [MemWrite]>:$dest,
    Index:$batch, Index:$head, Index:$row);
  let assemblyFormat = [{
    $tile `into` $dest `[` $batch `,` $head `,` $row `]` attr-dict `:`
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
    f32. `query: [Bq, D]`, `key: [Bk, D]`, `scores: [Bq, Bk]`.

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

def Attn_TileMaskOp : Attn_TileOp<"mask", [RecursiveMemoryEffects]> {
  let summary = "Sets disallowed scores of a partial tile to -inf";
  let description = [{
    For the score tile whose element `[r, c]` is the pair (query
    `i = query_start + r`, key `j = key_start + c`) of a problem with
    `query_len` queries and `key_len` keys, sets `scores[r, c] = -inf` unless
    `j < key_len`, `j - (i + key_len - query_len)` lies in the band
    `[band_lower, band_upper]` (missing bounds are unbounded) and the
    optional predicate region yields true for `(i, j)`.

    ```mlir
    attn.tile.mask %s at(%q0, %k0) extents(%nq, %nk) band_upper(0)
        : memref<64x64xf32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "scores", [MemRead, MemWrite]>:$scores,
    Index:$query_start, Index:$key_start, Index:$query_len, Index:$key_len,
    OptionalAttr<I64Attr>:$band_lower,
    OptionalAttr<I64Attr>:$band_upper);
  let regions = (region MaxSizedRegion<1>:$predicate);
  let assemblyFormat = [{
    $scores `at` `(` $query_start `,` $key_start `)`
    `extents` `(` $query_len `,` $key_len `)`
    (`band_lower` `(` $band_lower^ `)`)?
    (`band_upper` `(` $band_upper^ `)`)?
    (`predicate` $predicate^)?
    attr-dict `:` type($scores)
  }];
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The allowed key columns of query `i` in a row of keys starting at
    /// `jBase`: key j = jBase + c passes the key length and the band iff
    /// `first <= c <= last` (`first` is null without a lower band bound).
    /// Both are index values; `last` may be below `first` (no key).
    struct ColumnBounds {
      ::mlir::Value first, last;
    };
    /// Builds the ColumnBounds of this mask at the insertion point of `b`.
    /// The one definition of the length and band conditions:
    ///   c <= keyLen - 1 - jBase,
    ///   c <= band_upper + (i + diagonalOffset) - jBase,
    ///   c >= band_lower + (i + diagonalOffset) - jBase.
    /// `diagonalOffset` is keyLen - queryLen, computed once by the caller
    /// outside its loops.
    ColumnBounds buildColumnBounds(::mlir::OpBuilder &b, ::mlir::Location loc,
                                   ::mlir::Value i, ::mlir::Value jBase,
                                   ::mlir::Value keyLen,
                                   ::mlir::Value diagonalOffset);
    /// Builds the i1 result of the predicate region for (i, j) (its body
    /// cloned with `mapping` extended by (i, j); values it uses from above
    /// go through `mapping` too), or returns null without a predicate.
    ::mlir::Value buildPredicate(::mlir::OpBuilder &b, ::mlir::Location loc,
                                 ::mlir::Value i, ::mlir::Value j,
                                 ::mlir::IRMapping mapping = {});
    /// Builds the i1 "pair (i, j) is allowed" of this mask: the column
    /// bounds at jBase = j hold c = 0, and the predicate holds.
    ::mlir::Value buildAllowed(::mlir::OpBuilder &b, ::mlir::Location loc,
                               ::mlir::Value i, ::mlir::Value j,
                               ::mlir::Value keyLen,
                               ::mlir::Value diagonalOffset,
                               ::mlir::IRMapping mapping = {});
  }];
}

def Attn_TileOnlineSoftmaxOp : Attn_TileOp<"online_softmax"> {
  let summary = "One online-softmax step over a score tile";
  let description = [{
    With `S = scores` (`[Bq, Bk]`), running row maxima `m`, row sums `l`
    (`[Bq]`) and the output accumulator `acc` (`[Bq, Dv]`), per row r:

    ```
    m' = max(m, max_c S[r, c])
    α  = exp(m - m')                 (1 when m' = -inf)
    S[r, c] = exp(S[r, c] - m')      (0 when m' = -inf)
    l  = α · l + Σ_c S[r, c]
    acc[r, :] = α · acc[r, :]
    m  = m'
    ```

    so `scores` holds the unnormalised probabilities P afterwards. A row with
    no allowed key so far keeps `m = -inf`, `l = 0` and never produces NaN.

    ```mlir
    attn.tile.online_softmax %s, %m, %l, %acc
        : memref<64x64xf32>, memref<64xf32>, memref<64xf32>, memref<64x64xf32>
    ```
  }];
  let arguments = (ins
    Arg<Attn_F32Tile, "scores, then probabilities", [MemRead, MemWrite]>:$scores,
    Arg<Attn_F32Tile, "row maxima", [MemRead, MemWrite]>:$row_max,
    Arg<Attn_F32Tile, "row sums", [MemRead, MemWrite]>:$row_sum,
    Arg<Attn_F32Tile, "accumulator", [MemRead, MemWrite]>:$acc);
  let assemblyFormat = [{
    $scores `,` $row_max `,` $row_sum `,` $acc attr-dict `:` type($scores)
    `,` type($row_max) `,` type($row_sum) `,` type($acc)
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
    Per row r: `acc[r, :] = acc[r, :] / l[r]` and `m[r] = m[r] + log(l[r])`,
    except for rows with `l[r] = 0` (no allowed key), which get
    `acc[r, :] = 0` and `m[r] = -inf`.

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
