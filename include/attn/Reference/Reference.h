//===- Reference.h - Reference semantics of every structure -----*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// Naive, f64 implementations of every structure in docs SEMANTICS.md: masked
// softmax attention (causal, window, hash buckets, dropped keys/queries, N:M,
// blocks, custom), LSH bucket ids, the SPION block-pattern derivation, linear
// attention with decay (Lightning-2) and conv-basis attention. They are the
// oracle that compiled kernels are tested against; clarity beats speed. Every
// entry point validates its arguments and throws std::invalid_argument with a
// message naming the argument.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_REFERENCE_REFERENCE_H
#define ATTN_REFERENCE_REFERENCE_H

#include "attn/Reference/Mask.h"
#include "attn/Reference/Tensor.h"

#include <optional>
#include <vector>

namespace attn {
namespace reference {

//===----------------------------------------------------------------------===//
// Softmax attention
//===----------------------------------------------------------------------===//

/// Output O [B, Hq, Nq, Dv] and log-sum-exp LSE [B, Hq, Nq] (natural log).
struct AttentionResult {
  Tensor out;
  Tensor lse;
};

/// Validates Q [B, Hq, Nq, D], K [B, Hk, Nk, D], V [B, Hk, Nk, Dv] (Hq a
/// multiple of Hk, all finite) and returns the problem sizes.
AttentionShape attentionShape(const Tensor &q, const Tensor &k, const Tensor &v,
                              const std::string &function = "attention");

/// Masked softmax attention. For each (b, h, i), with S[i, j] = scale *
/// <q_i, k_j> (k, v from kv head h / (Hq / Hk)), M the mask row for (b, h, i):
///   m = max_{M[i,j]} S[i,j],  l = sum_{M[i,j]} exp(S[i,j] - m),
///   O[i] = sum_{M[i,j]} exp(S[i,j] - m) / l * v_j,  LSE[i] = m + log l.
/// A row with no allowed key gets O = 0 and LSE = -inf. All in double.
/// scale defaults to 1/sqrt(D) and must be finite. Cost O(B Hq Nq Nk (D+Dv)).
AttentionResult attention(const Tensor &q, const Tensor &k, const Tensor &v,
                          const Mask &mask = Mask(),
                          std::optional<double> scale = std::nullopt);

/// LSH bucket ids: x [B, H, N, D], rotation R [D, nb/2] -> ids [B, H, N] with
/// id = argmax(concat(xR, -xR)) (first maximum on ties), so ids are in
/// [0, nb). R is used as given: normalising its columns leaves the argmax
/// unchanged only when all columns have the same norm, so pass L2-normalised
/// columns as SEMANTICS.md requires.
IntTensor lshBucketIds(const Tensor &x, const Tensor &rotation);

//===----------------------------------------------------------------------===//
// SPION block-pattern derivation
//===----------------------------------------------------------------------===//

/// CF: diagonal filter then flood fill (SPION-CF, the default);
/// F: flood fill on the unfiltered block averages (SPION-F);
/// C: diagonal filter then the top-k blocks (SPION-C).
enum class SpionVariant { CF, F, C };

struct SpionParams {
  int64_t convSize = 31;  ///< Diagonal filter size c, odd, >= 1 (CF, C).
  int64_t blockSize = 32; ///< bs >= 1; N must be a multiple of bs.
  double quantile = 0.9;  ///< q in [0, 1] for the threshold (CF, F).
  SpionVariant variant = SpionVariant::CF;
  double density = 0.1; ///< In [0, 1]; C keeps int(density nb^2 - nb) blocks.
};

/// Diagonal filter with zero padding, "same" output:
/// C[i, j] = sum_{t=-(c-1)/2}^{(c-1)/2} A[i+t, j+t], out-of-range terms 0.
/// A: [N, N], c odd >= 1.
Tensor spionDiagonalFilter(const Tensor &scores, int64_t convSize);

/// Block average pooling: Bm[x, y] = mean of map over the bs x bs block
/// (x, y). map: [N, N] with N a multiple of bs.
Tensor spionBlockAverage(const Tensor &map, int64_t blockSize);

/// Quantile with linear interpolation (torch.quantile's default): sorted
/// values v, p = q (n - 1), result v[floor p] + (p - floor p)
/// (v[ceil p] - v[floor p]). Requires a non-empty list and q in [0, 1].
double quantileLinear(std::vector<double> values, double q);

/// The flood fill of SEMANTICS.md "Flood fill" step 4 on a block map
/// Bm [nb, nb] with threshold tau: walks from every top-row and left-column
/// cell, at each step moving down, right or diagonally to the largest of the
/// three neighbours of the zero-padded map (strict >, diagonal wins ties with
/// the chosen side, right beats down on equality), marking visited cells whose
/// value is > tau; then the diagonal is forced on. Returns BM [nb, nb] (0/1).
IntTensor spionFloodFill(const Tensor &blockMap, double threshold);

/// SPION-C selection: the `count` largest entries of blockMap [nb, nb] (ties:
/// lower row-major index first; count clamped to [0, nb^2]), then the
/// diagonal forced on. Returns BM [nb, nb] (0/1).
IntTensor spionTopKBlocks(const Tensor &blockMap, int64_t count);

/// SPION block pattern from a score map A [N, N] (rows queries): diagonal
/// filter (CF, C), block average, then either the flood fill with threshold
/// quantileLinear(Bm, q) (CF, F) or the top int(density nb^2 - nb) blocks (C).
/// Returns BM [N/bs, N/bs] (0/1), usable as Block{bs, BM}.
IntTensor spionBlockMask(const Tensor &scores, const SpionParams &params);

//===----------------------------------------------------------------------===//
// Linear attention with decay (Lightning Attention-2)
//===----------------------------------------------------------------------===//

/// Output O [B, H, N, E] and final state KV [B, H, D, E].
struct LinearAttentionResult {
  Tensor out;
  Tensor state;
};

/// Dense linear attention with per-head decay s_h >= 0 (empty = all 0),
/// lambda = exp(-s_h), optional initial state KV0 [B, H, D, E] (empty = 0):
///   O[i]  = sum_{j <= i} lambda^(i-j) <q_i, k_j> v_j + lambda^(i+1) q_i KV0
///   KV_N  = lambda^N KV0 + sum_j lambda^(N-1-j) k_j^T v_j.
/// This is the whole-sequence form of running the tokens one by one through
/// KV_t = lambda KV_{t-1} + k_t^T v_t (KV_{-1} = KV0), O[i] = q_i KV_i, so two
/// chunks with the state passed between them equal one run. No softmax, no
/// scale. Q, K: [B, H, N, D], V: [B, H, N, E]. Cost O(B H N^2 (D+E)).
LinearAttentionResult linearAttention(const Tensor &q, const Tensor &k,
                                      const Tensor &v,
                                      const std::vector<double> &decay = {},
                                      const Tensor &initialState = Tensor());

/// The tiled Lightning-2 recurrence with block size Bt (the last block may be
/// shorter; Bt is then its length). Per block i, local positions a, b:
///   O_i = ((Q_i K_i^T) . D) V_i + diag(lambda^(a+1)) Q_i KV,
///   D[a, b] = lambda^(a-b) for a >= b, else 0,
///   KV <- lambda^Bt KV + (diag(lambda^(Bt-1-b)) K_i)^T V_i.
/// Same arguments and result as linearAttention.
LinearAttentionResult
linearAttentionTiled(const Tensor &q, const Tensor &k, const Tensor &v,
                     int64_t blockSize, const std::vector<double> &decay = {},
                     const Tensor &initialState = Tensor());

/// ALiBi-style decay slopes for numHeads a power of two:
/// s_i = 2^(-8 (i + 1) / numHeads), i in [0, numHeads).
std::vector<double> alibiSlopes(int64_t numHeads);

//===----------------------------------------------------------------------===//
// Conv basis (Conv-Basis)
//===----------------------------------------------------------------------===//

/// One term conv(b, m) of a basis; b holds the m meaningful entries b[0..m).
struct ConvTerm {
  std::vector<double> b;
  int64_t m = 0;
};

/// conv(a) for a of length n: the lower-triangular Toeplitz [n, n] matrix
/// with conv(a)[r, c] = a[r - c] for r >= c, else 0.
Tensor convMatrix(const std::vector<double> &a);

/// conv(a, m) for a of length n, 1 <= m <= n: zero except the bottom-right
/// m x m block, conv(a, m)[r, c] = a[r - c] if c >= n - m and r >= c.
Tensor subConvMatrix(const std::vector<double> &a, int64_t m);

/// sum_i conv(b_i, m_i) as an [n, n] matrix (each b_i zero-padded to n).
Tensor convBasisMatrix(const std::vector<ConvTerm> &terms, int64_t n);

/// Recovers a k-conv basis of the lower triangle of H [n, n] (the upper
/// triangle is never read) with window T (1 <= T <= n), threshold delta > 0
/// and tolerance eps >= 0, exactly as SEMANTICS.md "Conv basis":
///   b_0 = H[:, 0], m_0 = n; u = b_0, v = b_0[:T]; s = 0; t = n - T
///   for i in 1..k-1: s = BS(s + 1, t); m_i = n - s;
///                    b_i = H[s:n, s] - u[:m_i]; v += b_i[:T]; u += b_i
/// where BS(lo, hi) binary-searches the smallest column j with
/// ||H[j:j+T, j] - v||_1 >= delta - 2 T eps (returning hi when lo >= hi).
/// Once s reaches t, further terms repeat m = T (with b ~ 0).
std::vector<ConvTerm> recoverConvBasis(const Tensor &h, int64_t k,
                                       int64_t window, double delta,
                                       double eps);

/// Exp-space transform with a numerically safe shift. With prefix sums
/// c_i = sum_{r <= i} b_r (on [0, m_i)) and shift sigma = max_{i, r} c_i[r]:
///   bt_0 = exp(c_0 - sigma), bt_i = exp(c_i - sigma) - exp(c_{i-1} - sigma),
/// so that sum_i conv(bt_i, m_i) = exp(-sigma) (causal o exp(sum_i
/// conv(b_i, m_i))). The shift cancels in D^-1 (...) V.
struct ExpConvBasis {
  std::vector<ConvTerm> terms;
  double shift = 0.0;
};
ExpConvBasis expSpaceBasis(const std::vector<ConvTerm> &basis);

struct ConvBasisParams {
  int64_t k = 1;      ///< Number of terms, >= 1.
  int64_t window = 1; ///< T, 1 <= T <= N.
  double delta = 1e-6;
  double eps = 0.0;
  std::optional<double> scale; ///< Default 1/sqrt(D).
};

/// Conv-basis attention: per (b, h), H = causal o (scale Q K^T) (GQA as in
/// attention, Nq = Nk = n), basis = recoverConvBasis(H, ...), bt =
/// expSpaceBasis(basis); Y = sum_i conv(bt_i, m_i) V and Dn = sum_i
/// conv(bt_i, m_i) 1 by direct causal convolution; O = diag(Dn)^-1 Y and
/// LSE = shift + log Dn. A row whose Dn underflows to <= 0 gets O = 0,
/// LSE = -inf. With an exact basis this equals causal softmax attention.
AttentionResult convAttention(const Tensor &q, const Tensor &k, const Tensor &v,
                              const ConvBasisParams &params);

} // namespace reference
} // namespace attn

#endif // ATTN_REFERENCE_REFERENCE_H
