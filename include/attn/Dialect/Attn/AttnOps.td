//===- AttnOps.td - attn dialect operations ---------------*- tablegen -*-===//
//
// Level L0 of the attn pipeline: attention ops, mask values and the
// preprocessing ops that compute mask inputs (LSH bucket ids, SPION block
// masks). Every compute op is memref destination-passing.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTN_ATTNOPS_TD
#define ATTN_DIALECT_ATTN_ATTNOPS_TD

include "attn/Dialect/Attn/AttnDialect.td"
include "attn/Dialect/Attn/AttnAttrs.td"
include "attn/Dialect/Attn/AttnInterfaces.td"
include "attn/Dialect/Attn/AttnTypes.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpAsmInterface.td"

//===----------------------------------------------------------------------===//
// Operand constraints
//===----------------------------------------------------------------------===//

/// Q, K, V and O: [batch, heads, sequence, head dim].
def Attn_ActivationMemRef : MemRefRankOf<[F16, BF16, F32], [4]>;
/// Log-sum-exp output: [batch, query heads, query sequence], natural log.
def Attn_LseMemRef : MemRefRankOf<[F32], [3]>;
/// Per-token integers (bucket ids): [batch, heads, sequence].
def Attn_TokenIdMemRef : MemRefRankOf<[AnySignlessInteger], [3]>;
/// Per-token keep flags (0 or 1): [batch, heads, sequence].
def Attn_TokenFlagMemRef : MemRefRankOf<[I1, I8], [3]>;
/// Boolean block mask, shared [q-blocks, k-blocks] or per (batch, query head)
/// [batch, heads, q-blocks, k-blocks].
def Attn_BlockMaskMemRef : MemRefRankOf<[I1, I8], [2, 4]>;

//===----------------------------------------------------------------------===//
// Attention ops
//===----------------------------------------------------------------------===//

def Attn_AttentionOp : Attn_Op<"attention", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "Masked softmax attention";
  let description = [{
    Computes `O = softmax(scale * Q K^T, mask) V` and optionally the
    log-sum-exp of each row (natural log), as SEMANTICS.md defines it:
    masked-out pairs are excluded from the softmax, and a row with no allowed
    key gets `O = 0` and `LSE = -inf`.

    Shapes: `Q: [B, Hq, Nq, D]`, `K: [B, Hk, Nk, D]`, `V: [B, Hk, Nk, Dv]`,
    `O: [B, Hq, Nq, Dv]`, `LSE: [B, Hq, Nq]`. `B`, the head counts and the
    sequence lengths may be dynamic; `D` and `Dv` must be static. Grouped-query
    attention: `Hq` must be a multiple of `Hk`, and query head `h` reads kv head
    `h / (Hq / Hk)`. Q, K and V share one element type (f16, bf16 or f32); O
    has the same element type. Without a mask every pair is allowed. The scale
    defaults to `1/sqrt(D)`.

    The mask must be produced by `attn.mask.*` ops, so that the compiler can
    analyse its structure. The op reads Q, K, V and every buffer the mask
    refers to, and writes O and LSE.

    Example:

    ```mlir
    %causal = attn.mask.causal
    attn.attention ins(%q, %k, %v : memref<?x?x?x128xbf16>,
                       memref<?x?x?x128xbf16>, memref<?x?x?x128xbf16>)
                   outs(%o : memref<?x?x?x128xbf16>)
                   lse(%lse : memref<?x?x?xf32>) mask(%causal)
    ```
  }];
  let arguments = (ins
    Attn_ActivationMemRef:$query,
    Attn_ActivationMemRef:$key,
    Attn_ActivationMemRef:$value,
    Attn_ActivationMemRef:$output,
    Optional<Attn_LseMemRef>:$lse,
    Optional<Attn_MaskType>:$mask,
    OptionalAttr<F32Attr>:$scale);
  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,`
              type($value) `)`
    `outs` `(` $output `:` type($output) `)`
    (`lse` `(` $lse^ `:` type($lse) `)`)?
    (`mask` `(` $mask^ `)`)?
    (`scale` `(` $scale^ `)`)?
    attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale applied to Q K^T: the `scale` attribute or 1/sqrt(D).
    double getEffectiveScale();
  }];
}

def Attn_LinearAttentionOp : Attn_Op<"linear_attention", [
    AttrSizedOperandSegments]> {
  let summary = "Causal linear attention with per-head decay (Lightning-2)";
  let description = [{
    Computes `O = ((Q K^T) ⊙ M) V` with `M[h, i, j] = exp(-s_h (i - j))` for
    `j <= i` and 0 otherwise: no softmax, no scale, no normaliser
    (SEMANTICS.md, "Linear tiles"). `Q, K: [B, H, N, D]`, `V, O: [B, H, N, E]`;
    `D` and `E` static. The optional `decay` operand holds the per-head rates
    `s_h >= 0` (`[H]`, f32); without it there is no decay. An optional
    `initial_state` `[B, H, D, E]` (f32) continues a previous chunk; an
    optional `final_state` `[B, H, D, E]` receives the state after the last
    token, so a long sequence can be processed in chunks or continued by
    decoding.

    Example:

    ```mlir
    attn.linear_attention ins(%q, %k, %v : memref<?x?x?x64xbf16>,
                              memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>)
                          outs(%o : memref<?x?x?x64xbf16>)
                          decay(%slopes : memref<?xf32>)
    ```
  }];
  let arguments = (ins
    Arg<Attn_ActivationMemRef, "queries", [MemRead]>:$query,
    Arg<Attn_ActivationMemRef, "keys", [MemRead]>:$key,
    Arg<Attn_ActivationMemRef, "values", [MemRead]>:$value,
    Arg<Attn_ActivationMemRef, "output", [MemWrite]>:$output,
    Arg<Optional<MemRefRankOf<[F32], [1]>>, "per-head decay rates",
        [MemRead]>:$decay,
    Arg<Optional<MemRefRankOf<[F32], [4]>>, "initial KV state",
        [MemRead]>:$initial_state,
    Arg<Optional<MemRefRankOf<[F32], [4]>>, "final KV state",
        [MemWrite]>:$final_state);
  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,`
              type($value) `)`
    `outs` `(` $output `:` type($output) `)`
    (`decay` `(` $decay^ `:` type($decay) `)`)?
    (`initial_state` `(` $initial_state^ `:` type($initial_state) `)`)?
    (`final_state` `(` $final_state^ `:` type($final_state) `)`)?
    attr-dict
  }];
  let hasVerifier = 1;
}

def Attn_ConvAttentionOp : Attn_Op<"conv_attention"> {
  let summary = "Causal softmax attention approximated by a k-conv basis";
  let description = [{
    Conv-Basis attention (SEMANTICS.md, "Conv basis"): the causal
    unnormalised attention matrix `causal ∘ exp(scale · Q K^T)` is
    approximated by a sum of `bases` sub-convolution (Toeplitz) matrices
    recovered from a few of its columns, with search window `window` (T),
    threshold `delta` and tolerance `epsilon`; then `O = D^-1 H V` with
    `D = diag(H 1)`. `Q, K: [B, H, N, D]`, `V, O: [B, H, N, Dv]`. The scale
    defaults to `1/sqrt(D)`. With `bases` = N the result is exact causal
    softmax attention.

    Example:

    ```mlir
    attn.conv_attention ins(%q, %k, %v : memref<?x?x?x64xf16>,
                            memref<?x?x?x64xf16>, memref<?x?x?x64xf16>)
                        outs(%o : memref<?x?x?x64xf16>)
                        bases(16) window(1) delta(1.0e-04)
    ```
  }];
  let arguments = (ins
    Arg<Attn_ActivationMemRef, "queries", [MemRead]>:$query,
    Arg<Attn_ActivationMemRef, "keys", [MemRead]>:$key,
    Arg<Attn_ActivationMemRef, "values", [MemRead]>:$value,
    Arg<Attn_ActivationMemRef, "output", [MemWrite]>:$output,
    I64Attr:$bases,
    DefaultValuedAttr<I64Attr, "1">:$window,
    F64Attr:$delta,
    DefaultValuedAttr<F64Attr, "0.0">:$epsilon,
    OptionalAttr<F32Attr>:$scale);
  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,`
              type($value) `)`
    `outs` `(` $output `:` type($output) `)`
    `bases` `(` $bases `)`
    (`window` `(` $window^ `)`)?
    `delta` `(` $delta `)`
    (`epsilon` `(` $epsilon^ `)`)?
    (`scale` `(` $scale^ `)`)?
    attr-dict
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Preprocessing ops
//===----------------------------------------------------------------------===//

def Attn_LshOp : Attn_Op<"lsh"> {
  let summary = "Angular LSH bucket ids from a random rotation";
  let description = [{
    For each token vector `x` of `input: [B, H, N, D]` and a rotation
    `R: [D, nb/2]` with L2-normalised columns, writes
    `argmax(concat(x R, -x R))` (first maximum on ties) into
    `bucket_ids: [B, H, N]`. The number of buckets `nb` is twice the number
    of columns of `R`. The ids feed `attn.mask.hash`.

    Example:

    ```mlir
    attn.lsh ins(%q, %rot : memref<?x?x?x64xbf16>, memref<64x4xf32>)
             outs(%qb : memref<?x?x?xi32>)
    ```
  }];
  let arguments = (ins
    Arg<Attn_ActivationMemRef, "token vectors", [MemRead]>:$input,
    Arg<MemRefRankOf<[F16, BF16, F32], [2]>, "rotation", [MemRead]>:$rotation,
    Arg<Attn_TokenIdMemRef, "bucket ids", [MemWrite]>:$bucket_ids);
  let assemblyFormat = [{
    `ins` `(` $input `,` $rotation `:` type($input) `,` type($rotation) `)`
    `outs` `(` $bucket_ids `:` type($bucket_ids) `)` attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Builds the bucket id (of the bucket_ids element type) of token
    /// `token` of (batch, head) at the insertion point of `b`: the nb / 2
    /// projections x R[:, c] accumulated in f32 over d in order, then the
    /// first maximum of (x R, -x R) in index order. Operands are read
    /// through `mapping`. Shared by the CPU loops and the GPU kernel.
    ::mlir::Value buildBucketOf(::mlir::OpBuilder &b, ::mlir::Location loc,
                                ::mlir::Value batch, ::mlir::Value head,
                                ::mlir::Value token,
                                const ::mlir::IRMapping &mapping = {});
    /// Replaces this op by scalar loops over (b, h, n) (the CPU lowering).
    void decompose(::mlir::OpBuilder &b);
  }];
}

def Attn_FloodFillOp : Attn_Op<"flood_fill"> {
  let summary = "SPION block mask derived from a score map";
  let description = [{
    Derives a boolean block mask `[N / block_size, N / block_size]` from a
    score map `scores: [N, N]` (SPION; SEMANTICS.md, "Flood fill"): a
    diagonal convolution of size `conv_size` (odd), average pooling over
    `block_size` blocks, a threshold at the `quantile` of the pooled map, a
    greedy flood fill from the top and left edges, and the diagonal forced on.
    `variant` selects SPION-CF (`conv_flood_fill`, the default), SPION-F
    (`flood_fill`, no convolution) or SPION-C (`conv_topk`: the top
    `density · nb² − nb` blocks instead of the flood fill; needs `density`).
    `N` must be a multiple of `block_size`, itself a power of two.

    Example:

    ```mlir
    attn.flood_fill ins(%scores : memref<1024x1024xf32>)
                    outs(%blocks : memref<16x16xi1>)
                    conv_size(31) block_size(64) quantile(0.9)
    ```
  }];
  let arguments = (ins
    Arg<MemRefRankOf<[F16, BF16, F32], [2]>, "score map", [MemRead]>:$scores,
    Arg<MemRefRankOf<[I1, I8], [2]>, "block mask", [MemWrite]>:$block_mask,
    I64Attr:$conv_size,
    I64Attr:$block_size,
    F64Attr:$quantile,
    DefaultValuedAttr<Attn_SpionVariantAttr,
                      "::attn::SpionVariant::ConvFloodFill">:$variant,
    OptionalAttr<F64Attr>:$density);
  let assemblyFormat = [{
    `ins` `(` $scores `:` type($scores) `)`
    `outs` `(` $block_mask `:` type($block_mask) `)`
    `conv_size` `(` $conv_size `)` `block_size` `(` $block_size `)`
    `quantile` `(` $quantile `)`
    (`variant` `(` $variant^ `)`)?
    (`density` `(` $density^ `)`)?
    attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The half width of the diagonal filter: (conv_size - 1) / 2, or 0
    /// for the variant without it (flood_fill).
    int64_t getFilterHalfWidth();
    /// Builds the f32 sum of the (filtered) score map over block (x, y)
    /// at the insertion point of `b`, operands read through `mapping`:
    /// every score A[p, q] within `half` rows and columns of the block
    /// counts with the number of filter taps t in [-half, half] that carry
    /// it into the block ((p - t, q - t) in the block), i.e. the sum over
    /// the block of C[i, j] = sum_t A[i + t, j + t]. Only the rows
    /// firstRow, firstRow + rowStep, ... and the columns firstCol,
    /// firstCol + colStep, ... of the block's neighbourhood are summed, so
    /// that threads can share a block (0, 1, 0, 1 for all of it; a warp
    /// per row and a lane per column on a GPU). The average is the sum /
    /// getBlockArea().
    ::mlir::Value buildBlockSum(::mlir::OpBuilder &b, ::mlir::Location loc,
                                ::mlir::Value blockRow, ::mlir::Value blockCol,
                                ::mlir::Value firstRow, ::mlir::Value rowStep,
                                ::mlir::Value firstCol, ::mlir::Value colStep,
                                const ::mlir::IRMapping &mapping = {});
    int64_t getBlockArea() { return getBlockSize() * getBlockSize(); }
    /// The ranks of the quantile's two order statistics among `cells`
    /// values, floor and ceil of q (cells - 1), and the fraction between.
    struct QuantileRanks {
      ::mlir::Value low, high; // index
      ::mlir::Value fraction;  // f64
    };
    QuantileRanks buildQuantileRanks(::mlir::OpBuilder &b, ::mlir::Location loc,
                                     ::mlir::Value cells);
    /// The threshold from the two order statistics (f64), interpolated as
    /// torch.quantile does.
    ::mlir::Value buildInterpolation(::mlir::OpBuilder &b, ::mlir::Location loc,
                                     ::mlir::Value low, ::mlir::Value high,
                                     ::mlir::Value fraction);
    /// Builds the padded map's value Bp[x, y] for x, y in [0, blocks]:
    /// `read(b, row, col)` of the cell clamped into the map, or 0 in the
    /// padding row and column.
    ::mlir::Value buildPaddedValue(
        ::mlir::OpBuilder &b, ::mlir::Location loc, ::mlir::Value blocks,
        ::mlir::Value x, ::mlir::Value y,
        ::llvm::function_ref<::mlir::Value(::mlir::OpBuilder &, ::mlir::Value,
                                           ::mlir::Value)> read);
    /// Builds walk(startRow, startCol) of the flood fill, marking in
    /// `mask` the cells it reaches whose value exceeds `threshold` (f64).
    /// `paddedValue(b, x, y)` builds the f32 value of the padded map Bp at
    /// (x, y), x and y in [0, blocks] (0 in the padding row and column).
    /// The walk stops where it ends or where x reaches `rowLimit` (<=
    /// blocks), so that a caller holding only rows [r, rowLimit] of the map
    /// can continue it later from the returned position.
    std::pair<::mlir::Value, ::mlir::Value> buildWalk(
        ::mlir::OpBuilder &b, ::mlir::Location loc,
        ::llvm::function_ref<::mlir::Value(::mlir::OpBuilder &,
                                           ::mlir::Value, ::mlir::Value)>
            paddedValue,
        ::mlir::Value mask, ::mlir::Value blocks, ::mlir::Value rowLimit,
        ::mlir::Value threshold, ::mlir::Value startRow,
        ::mlir::Value startCol);
    /// Replaces this op by scalar loops (the CPU lowering): the block
    /// averages into a scratch map, the threshold (the quantile by rank
    /// counting, or SPION-C's top-k ranks), the flood-fill walks and the
    /// diagonal, as SEMANTICS.md's "Flood fill" states them.
    void decompose(::mlir::OpBuilder &b);
  }];
}

//===----------------------------------------------------------------------===//
// Mask ops
//===----------------------------------------------------------------------===//

/// An attn.mask.* op: produces one `!attn.mask` and implements
/// Attn_MaskOpInterface. `overrides` names the interface methods with a
/// default implementation that the op defines itself.
class Attn_MaskOp<string mnemonic, list<Trait> traits = [],
                  list<string> overrides = []>
    : Attn_Op<"mask." # mnemonic,
              !listconcat(traits, [DeclareOpInterfaceMethods<
                  Attn_MaskOpInterface, overrides>])> {
  let results = (outs Attn_MaskType:$result);
}

def Attn_MaskCausalOp : Attn_MaskOp<"causal", [Pure]> {
  let summary = "Causal mask, aligned bottom-right";
  let description = [{
    Allows key `j` for query `i` iff `j <= i + (Nk - Nq)`: for `Nq = Nk` the
    usual `j <= i`; otherwise the last query sees every key (FlashAttention
    >= 2.1 convention).

    ```mlir
    %m = attn.mask.causal
    ```
  }];
  let assemblyFormat = "attr-dict";
}

def Attn_MaskWindowOp : Attn_MaskOp<"window", [Pure]> {
  let summary = "Causal sliding-window mask";
  let description = [{
    Allows key `j` for query `i` iff `0 <= (i + Nk - Nq) - j < size`: the
    `size` most recent keys, the query's own position included. The window
    includes the causal condition.

    ```mlir
    %m = attn.mask.window 1024
    ```
  }];
  let arguments = (ins I64Attr:$size);
  let assemblyFormat = "$size attr-dict";
  let hasVerifier = 1;
}

def Attn_MaskHashOp : Attn_MaskOp<"hash", [Pure],
    ["verifyAgainstProblem"]> {
  let summary = "Hash-bucket mask";
  let description = [{
    Allows key `j` for query `i` iff their bucket ids are equal:
    `query_buckets: [B, Hq, Nq]` and `key_buckets: [B, Hk, Nk]`, integers in
    `[0, buckets)`. Positions are the original token positions. The hash
    attention of Sparse Causal Flash Attention is this mask combined with
    `attn.mask.causal` through `attn.mask.and`. The ids are read by the
    attention op that uses the mask.

    ```mlir
    %h = attn.mask.hash %qb, %kb buckets(8)
        : memref<?x?x?xi32>, memref<?x?x?xi32>
    ```
  }];
  let arguments = (ins Attn_TokenIdMemRef:$query_buckets,
                       Attn_TokenIdMemRef:$key_buckets,
                       I64Attr:$buckets);
  let assemblyFormat = [{
    $query_buckets `,` $key_buckets `buckets` `(` $buckets `)` attr-dict
    `:` type($query_buckets) `,` type($key_buckets)
  }];
  let hasVerifier = 1;
}

def Attn_MaskDropOp : Attn_MaskOp<"drop", [Pure],
    ["verifyAgainstProblem"]> {
  let summary = "Dropped queries and keys";
  let description = [{
    Allows key `j` for query `i` iff both are kept: `query_keep: [B, Hq, Nq]`
    and `key_keep: [B, Hk, Nk]` hold 0/1 flags. A dropped query has no allowed
    key (O = 0, LSE = -inf). The QK-sparse attention of Sparse Causal Flash
    Attention is this mask combined with `attn.mask.causal`.

    ```mlir
    %d = attn.mask.drop %kq, %kk : memref<?x?x?xi1>, memref<?x?x?xi1>
    ```
  }];
  let arguments = (ins Attn_TokenFlagMemRef:$query_keep,
                       Attn_TokenFlagMemRef:$key_keep);
  let assemblyFormat = [{
    $query_keep `,` $key_keep attr-dict `:` type($query_keep) `,`
    type($key_keep)
  }];
  let hasVerifier = 1;
}

def Attn_MaskNMOp : Attn_MaskOp<"nm", [Pure]> {
  let summary = "N:M fine-grained pruning of the scores (DFSS)";
  let description = [{
    For each query row, splits the key positions into groups
    `[g·m, (g+1)·m)` and keeps, among the positions the `base` mask allows
    (all when absent), the `n` with the largest score (ties: lower key index
    first); a group with at most `n` allowed positions keeps them all. Unlike
    the other masks this one depends on the scores. `n < m`, `m` in
    {2, 4, 8}.

    ```mlir
    %c = attn.mask.causal
    %p = attn.mask.nm 2 of 4 base(%c)
    ```
  }];
  let arguments = (ins I64Attr:$n, I64Attr:$m, Optional<Attn_MaskType>:$base);
  let assemblyFormat = "$n `of` $m (`base` `(` $base^ `)`)? attr-dict";
  let hasVerifier = 1;
}

def Attn_MaskBlockOp : Attn_MaskOp<"block", [Pure],
    ["verifyAgainstProblem"]> {
  let summary = "Block-sparse mask";
  let description = [{
    Allows key `j` for query `i` iff `block_mask[i / size][j / size]`. The
    block mask is shared by all batches and heads (`[ceil(Nq / size),
    ceil(Nk / size)]`) or given per batch and query head
    (`[B, Hq, ceil(Nq / size), ceil(Nk / size)]`). `size` is a power of two.
    Pruned entries are excluded from the softmax (SPION's own kernel counts
    them as logit 0; see SEMANTICS.md).

    ```mlir
    %b = attn.mask.block %blocks size(64) : memref<16x16xi1>
    ```
  }];
  let arguments = (ins Attn_BlockMaskMemRef:$block_mask, I64Attr:$size);
  let assemblyFormat = [{
    $block_mask `size` `(` $size `)` attr-dict `:` type($block_mask)
  }];
  let hasVerifier = 1;
}

def Attn_MaskCustomOp : Attn_MaskOp<"custom", [
    RecursiveMemoryEffects, SingleBlock], ["getReadBuffers"]> {
  let summary = "User-defined mask predicate";
  let description = [{
    A mask given by a predicate region over the query index and the key
    index, `(%i, %j)`, or over the batch, query head, query index and key
    index, `(%b, %h, %i, %j)` (all `index`), which yields an `i1`: true
    allows the pair. The region may use values defined above it, and may
    read memory (e.g. per-row or per-column values from a memref defined
    above, read by the attention that uses the mask; with GQA a per-key
    value of kv head `h / (Hq / Hk)` is the caller's to index); it must not
    write, allocate or free memory, and must not contain attn compute ops
    such as `attn.attention`. This is the IR form of a FlexAttention
    `mask_mod`.

    ```mlir
    %m = attn.mask.custom (%i, %j) {
      %d = arith.subi %i, %j : index
      %c = arith.constant 128 : index
      %ok = arith.cmpi ult, %d, %c : index
      attn.yield %ok : i1
    }
    // A per-row key limit read from a [B, Hq, Nq] memref.
    %r = attn.mask.custom (%b, %h, %i, %j) {
      %n = memref.load %limits[%b, %h, %i] : memref<?x?x?xi32>
      %limit = arith.index_cast %n : i32 to index
      %ok = arith.cmpi ult, %j, %limit : index
      attn.yield %ok : i1
    }
    ```
  }];
  let regions = (region SizedRegion<1>:$predicate);
  let hasCustomAssemblyFormat = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The predicate's query-index and key-index arguments (its last two).
    mlir::BlockArgument getQueryIndex() {
      return getPredicate().getArgument(getPredicate().getNumArguments() - 2);
    }
    mlir::BlockArgument getKeyIndex() {
      return getPredicate().getArgument(getPredicate().getNumArguments() - 1);
    }
  }];
}

def Attn_MaskAndOp : Attn_MaskOp<"and", [Pure]> {
  let summary = "Conjunction of masks";
  let description = [{
    Allows a pair iff every operand mask allows it.

    ```mlir
    %m = attn.mask.and %causal, %hash
    ```
  }];
  let arguments = (ins Variadic<Attn_MaskType>:$masks);
  let assemblyFormat = "$masks attr-dict";
  let hasVerifier = 1;
}

include "attn/Dialect/Attn/AttnPlanOps.td"
include "attn/Dialect/Attn/AttnTileOps.td"
include "attn/Dialect/Attn/AttnLinearOps.td"

def Attn_YieldOp : Attn_Op<"yield", [
    Pure, Terminator, ReturnLike,
    ParentOneOf<["MaskCustomOp", "PlanOp", "TileMaskOp", "FusedForwardOp"]>]> {
  let summary = "Yields the value of a predicate region";
  let arguments = (ins I1:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

#endif // ATTN_DIALECT_ATTN_ATTNOPS_TD
