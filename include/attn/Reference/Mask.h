//===- Mask.h - Attention mask description tree -----------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// A mask is a tree of orthogonal primitives composed with And, mirroring the
// attn dialect's attn.mask.* ops. Evaluating a mask for one (batch b, query
// head h) gives the 0/1 matrix M[i, j] of SEMANTICS.md, i a query row in
// [0, Nq) and j a key column in [0, Nk). Positions are always the original
// token positions.
//
//   Full           every key allowed (the identity of And)
//   Causal         j <= i + (Nk - Nq)                      (bottom-right)
//   Window{w}      0 <= (i + Nk - Nq) - j < w              (includes causal)
//   Hash{qb,kb,nb} qb[b,h,i] == kb[b,h/g,j]                (bucket equality)
//   Drop{kq,kk}    kq[b,h,i] != 0 && kk[b,h/g,j] != 0      (keep flags)
//   NM{n,m,base}   per row, per key group [gM, gM+M): among base-allowed j
//                  keep the n largest scores (ties: lower j); a group with
//                  <= n allowed positions keeps them all
//   Block{bs,BM}   BM[i/bs][j/bs] (shared) or BM[b][h][i/bs][j/bs]
//   Custom{f}      f(i, j)
//   And{children}  logical and of the children (empty And = Full)
//
// g = Hq / Hk is the GQA group size. The paper forms are compositions, e.g.
// hash attention = And{{Causal{}, Hash{...}}}, QK-drop = And{{Causal{},
// Drop{...}}}. N:M is the only primitive that reads the scores; its selection
// happens among its own base's positions, so NM{2, 4, Causal{}} (prune among
// causal keys) differs from And{{Causal{}, NM{2, 4}}} (prune among all keys,
// then apply causal).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_REFERENCE_MASK_H
#define ATTN_REFERENCE_MASK_H

#include "attn/Reference/Tensor.h"

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <variant>

namespace attn {
namespace reference {

class Mask;

/// Every key allowed.
struct Full {};

/// Bottom-right aligned causal mask: allowed iff j <= i + (Nk - Nq).
struct Causal {};

/// Sliding window of `size` keys, causal included:
/// allowed iff 0 <= (i + Nk - Nq) - j < size. Requires size >= 1.
struct Window {
  int64_t size = 1;
};

/// Bucket equality: allowed iff queryBuckets[b, h, i] == keyBuckets[b, h/g, j].
/// queryBuckets: [B, Hq, Nq], keyBuckets: [B, Hk, Nk], ids in [0, numBuckets).
struct Hash {
  IntTensor queryBuckets;
  IntTensor keyBuckets;
  int64_t numBuckets = 1;
};

/// Keep flags: allowed iff keepQueries[b, h, i] && keepKeys[b, h/g, j].
/// keepQueries: [B, Hq, Nq], keepKeys: [B, Hk, Nk], values 0 or 1.
struct Drop {
  IntTensor keepQueries;
  IntTensor keepKeys;
};

/// N:M structured pruning by score over an optional base mask (absent = Full).
/// Requires 1 <= n < m (the compiler further restricts m to {2, 4, 8}).
struct NM {
  NM(int64_t n, int64_t m);
  NM(int64_t n, int64_t m, Mask base);
  int64_t n;
  int64_t m;
  std::shared_ptr<const Mask> base; ///< Null means Full.
};

/// Block-sparse mask: allowed iff blockMask[i / blockSize][j / blockSize],
/// blockMask either [ceil(Nq/bs), ceil(Nk/bs)] (shared by all batches and
/// heads) or [B, Hq, ceil(Nq/bs), ceil(Nk/bs)]; values 0 or 1.
struct Block {
  int64_t blockSize = 1;
  IntTensor blockMask;
};

/// User predicate over (query row i, key column j), or, when `allowedAt`
/// is set, over (batch, query head, i, j) (e.g. a predicate that reads a
/// per-row value); exactly one of the two is set.
struct Custom {
  std::function<bool(int64_t i, int64_t j)> allowed;
  std::function<bool(int64_t b, int64_t h, int64_t i, int64_t j)> allowedAt;
};

/// Logical and of the children; an empty list allows everything.
struct And {
  std::vector<Mask> children;
};

/// A mask description: one primitive or an And of masks. Default: Full.
class Mask {
public:
  using Node =
      std::variant<Full, Causal, Window, Hash, Drop, NM, Block, Custom, And>;

  Mask() : value(Full{}) {}
  template <typename T, typename = std::enable_if_t<
                            !std::is_same<std::decay_t<T>, Mask>::value &&
                            std::is_constructible<Node, T &&>::value>>
  Mask(T &&primitive) : value(std::forward<T>(primitive)) {}

  const Node &node() const { return value; }

  /// True if evaluating the mask needs the scores (it contains an NM).
  bool dependsOnScores() const;

private:
  Node value;
};

/// Sizes of one attention problem: Q [B, Hq, Nq, *], K/V [B, Hk, Nk, *].
struct AttentionShape {
  int64_t batch = 1;
  int64_t queryHeads = 1;
  int64_t kvHeads = 1;
  int64_t queryLen = 0;
  int64_t keyLen = 0;
};

/// Validates Q [B, Hq, Nq, D] and K [B, Hk, Nk, D] (same B and D, D >= 1,
/// Hk >= 1, Hq a multiple of Hk, finite values) and returns the sizes.
AttentionShape queryKeyShape(const Tensor &q, const Tensor &k,
                             const std::string &function);

/// `scale` if given (it must be finite), else 1/sqrt(headDim).
double resolveScale(std::optional<double> scale, int64_t headDim,
                    const std::string &function);

/// Checks every parameter of `mask` against `shape` (tensor shapes, id ranges,
/// 0/1 flags, sizes); throws std::invalid_argument naming the offending field
/// (e.g. "mask.Hash.keyBuckets"). `function` prefixes the message.
void validateMask(const Mask &mask, const AttentionShape &shape,
                  const std::string &function = "validateMask");

/// Evaluates row i of the mask for batch b and query head h into
/// allowed[0 .. Nk). `scoresRow` points to the Nk scores S[i, :] and is read
/// only by NM (it may be null when !mask.dependsOnScores()). Does not
/// validate: call validateMask first.
void evaluateMaskRow(const Mask &mask, const AttentionShape &shape, int64_t b,
                     int64_t h, int64_t i, const double *scoresRow,
                     std::vector<char> &allowed);

/// The full 0/1 mask matrix [Nq, Nk] for (b, h). `scores` [Nq, Nk] is needed
/// only when the mask contains NM. Validates everything.
IntTensor maskMatrix(const Mask &mask, const AttentionShape &shape, int64_t b,
                     int64_t h, const Tensor &scores = Tensor());

/// Scores S = scale * Q[b, h] K[b, h/g]^T as an [Nq, Nk] tensor
/// (scale defaults to 1/sqrt(D)).
Tensor scoreMatrix(const Tensor &q, const Tensor &k, int64_t b, int64_t h,
                   std::optional<double> scale = std::nullopt);

/// The mask matrix for (b, h) with the scores computed from q and k.
IntTensor maskMatrix(const Mask &mask, const Tensor &q, const Tensor &k,
                     int64_t b, int64_t h,
                     std::optional<double> scale = std::nullopt);

} // namespace reference
} // namespace attn

#endif // ATTN_REFERENCE_MASK_H
