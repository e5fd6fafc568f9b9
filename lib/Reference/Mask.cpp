//===- Mask.cpp - Attention mask description tree ---------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// Validation and row-wise evaluation of mask trees. evaluateMaskRow is the one
// place where the meaning of every mask primitive is written down.
//
//===----------------------------------------------------------------------===//

#include "attn/Reference/Mask.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace attn {
namespace reference {

namespace {
template <typename... Fs> struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <typename... Fs> Overloaded(Fs...) -> Overloaded<Fs...>;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

void requireFlags(const IntTensor &t, const std::string &function,
                  const std::string &name) {
  for (int64_t x : t.data())
    if (x != 0 && x != 1)
      throwInvalid(function, name,
                   "must hold only 0 or 1, found " + std::to_string(x));
}

void validateNode(const Mask &mask, const AttentionShape &s,
                  const std::string &fn, const std::string &path) {
  std::visit(
      Overloaded{
          [](const Full &) {}, [](const Causal &) {},
          [&](const Window &w) {
            if (w.size < 1)
              throwInvalid(fn, path + ".Window.size",
                           "must be >= 1, got " + std::to_string(w.size));
          },
          [&](const Hash &hash) {
            std::string qName = path + ".Hash.queryBuckets";
            std::string kName = path + ".Hash.keyBuckets";
            if (hash.numBuckets < 1)
              throwInvalid(fn, path + ".Hash.numBuckets",
                           "must be >= 1, got " +
                               std::to_string(hash.numBuckets));
            requireShape(hash.queryBuckets, {s.batch, s.queryHeads, s.queryLen},
                         fn, qName);
            requireShape(hash.keyBuckets, {s.batch, s.kvHeads, s.keyLen}, fn,
                         kName);
            for (const auto *ids : {&hash.queryBuckets, &hash.keyBuckets})
              for (int64_t id : ids->data())
                if (id < 0 || id >= hash.numBuckets)
                  throwInvalid(fn, ids == &hash.queryBuckets ? qName : kName,
                               "holds bucket id " + std::to_string(id) +
                                   " outside [0, " +
                                   std::to_string(hash.numBuckets) + ")");
          },
          [&](const Drop &drop) {
            std::string qName = path + ".Drop.keepQueries";
            std::string kName = path + ".Drop.keepKeys";
            requireShape(drop.keepQueries, {s.batch, s.queryHeads, s.queryLen},
                         fn, qName);
            requireShape(drop.keepKeys, {s.batch, s.kvHeads, s.keyLen}, fn,
                         kName);
            requireFlags(drop.keepQueries, fn, qName);
            requireFlags(drop.keepKeys, fn, kName);
          },
          [&](const NM &nm) {
            if (nm.n < 1 || nm.n >= nm.m)
              throwInvalid(fn, path + ".NM",
                           "needs 1 <= n < m, got n = " + std::to_string(nm.n) +
                               ", m = " + std::to_string(nm.m));
            if (nm.base)
              validateNode(*nm.base, s, fn, path + ".NM.base");
          },
          [&](const Block &block) {
            std::string name = path + ".Block.blockMask";
            if (block.blockSize < 1)
              throwInvalid(fn, path + ".Block.blockSize",
                           "must be >= 1, got " +
                               std::to_string(block.blockSize));
            int64_t rows = ceilDiv(s.queryLen, block.blockSize);
            int64_t cols = ceilDiv(s.keyLen, block.blockSize);
            if (block.blockMask.rank() == 4)
              requireShape(block.blockMask, {s.batch, s.queryHeads, rows, cols},
                           fn, name);
            else
              requireShape(block.blockMask, {rows, cols}, fn, name);
            requireFlags(block.blockMask, fn, name);
          },
          [&](const Custom &custom) {
            if (!custom.allowed && !custom.allowedAt)
              throwInvalid(fn, path + ".Custom.allowed", "is empty");
            if (custom.allowed && custom.allowedAt)
              throwInvalid(fn, path + ".Custom.allowedAt",
                           "is set together with allowed");
          },
          [&](const And &conj) {
            for (size_t c = 0; c < conj.children.size(); ++c)
              validateNode(conj.children[c], s, fn,
                           path + ".And[" + std::to_string(c) + "]");
          }},
      mask.node());
}

/// N:M selection on one row: within each group [gM, min(gM + M, Nk)) keep the
/// n base-allowed positions with the largest score (ties: lower j); a group
/// with <= n allowed positions keeps them all.
void selectNM(const NM &nm, const double *scores, std::vector<char> &allowed) {
  int64_t nk = static_cast<int64_t>(allowed.size());
  std::vector<int64_t> candidates;
  for (int64_t start = 0; start < nk; start += nm.m) {
    int64_t end = std::min(start + nm.m, nk);
    candidates.clear();
    for (int64_t j = start; j < end; ++j)
      if (allowed[j])
        candidates.push_back(j);
    if (static_cast<int64_t>(candidates.size()) <= nm.n)
      continue;
    // Candidates are in increasing j, so a stable sort by descending score
    // keeps the lower j first among equal scores.
    std::stable_sort(
        candidates.begin(), candidates.end(),
        [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
    for (size_t c = nm.n; c < candidates.size(); ++c)
      allowed[candidates[c]] = 0;
  }
}
} // namespace

NM::NM(int64_t n, int64_t m) : n(n), m(m) {}
NM::NM(int64_t n, int64_t m, Mask base)
    : n(n), m(m), base(std::make_shared<const Mask>(std::move(base))) {}

bool Mask::dependsOnScores() const {
  if (const auto *conj = std::get_if<And>(&value))
    return std::any_of(conj->children.begin(), conj->children.end(),
                       [](const Mask &c) { return c.dependsOnScores(); });
  return std::holds_alternative<NM>(value);
}

AttentionShape queryKeyShape(const Tensor &q, const Tensor &k,
                             const std::string &function) {
  requireRank(q, 4, function, "q");
  requireRank(k, 4, function, "k");
  if (q.dim(3) < 1)
    throwInvalid(function, "q", "must have head dim >= 1");
  if (k.dim(0) != q.dim(0) || k.dim(3) != q.dim(3))
    throwInvalid(function, "k",
                 "shape " + formatShape(k.shape()) +
                     " must match q's batch and head dim (q is " +
                     formatShape(q.shape()) + ")");
  if (k.dim(1) < 1 || q.dim(1) % k.dim(1) != 0)
    throwInvalid(function, "k",
                 "must have a head count dividing q's (" +
                     std::to_string(q.dim(1)) + "), got " +
                     std::to_string(k.dim(1)));
  requireFinite(q, function, "q");
  requireFinite(k, function, "k");
  return {q.dim(0), q.dim(1), k.dim(1), q.dim(2), k.dim(2)};
}

double resolveScale(std::optional<double> scale, int64_t headDim,
                    const std::string &function) {
  if (!scale)
    return 1.0 / std::sqrt(static_cast<double>(headDim));
  if (!std::isfinite(*scale))
    throwInvalid(function, "scale", "must be finite");
  return *scale;
}

void validateMask(const Mask &mask, const AttentionShape &shape,
                  const std::string &function) {
  if (shape.batch < 0 || shape.queryLen < 0 || shape.keyLen < 0 ||
      shape.kvHeads < 1 || shape.queryHeads % shape.kvHeads != 0)
    throwInvalid(function, "shape", "is not a valid attention shape");
  validateNode(mask, shape, function, "mask");
}

void evaluateMaskRow(const Mask &mask, const AttentionShape &s, int64_t b,
                     int64_t h, int64_t i, const double *scoresRow,
                     std::vector<char> &allowed) {
  const int64_t nk = s.keyLen;
  const int64_t kvh = h / (s.queryHeads / s.kvHeads);
  const int64_t diagonal = i + s.keyLen - s.queryLen; // Bottom-right aligned.
  allowed.assign(nk, 1);
  std::visit(
      Overloaded{
          [&](const Full &) {},
          [&](const Causal &) {
            for (int64_t j = 0; j < nk; ++j)
              allowed[j] = j <= diagonal;
          },
          [&](const Window &w) {
            for (int64_t j = 0; j < nk; ++j)
              allowed[j] = diagonal - j >= 0 && diagonal - j < w.size;
          },
          [&](const Hash &hash) {
            int64_t bucket = hash.queryBuckets.at({b, h, i});
            for (int64_t j = 0; j < nk; ++j)
              allowed[j] = hash.keyBuckets.at({b, kvh, j}) == bucket;
          },
          [&](const Drop &drop) {
            bool keepQuery = drop.keepQueries.at({b, h, i}) != 0;
            for (int64_t j = 0; j < nk; ++j)
              allowed[j] = keepQuery && drop.keepKeys.at({b, kvh, j}) != 0;
          },
          [&](const NM &nm) {
            if (!scoresRow && nk > 0)
              throw std::invalid_argument(
                  "evaluateMaskRow: an NM mask needs the scores row");
            if (nm.base)
              evaluateMaskRow(*nm.base, s, b, h, i, scoresRow, allowed);
            selectNM(nm, scoresRow, allowed);
          },
          [&](const Block &block) {
            const IntTensor &bm = block.blockMask;
            int64_t row = i / block.blockSize;
            for (int64_t j = 0; j < nk; ++j) {
              int64_t col = j / block.blockSize;
              allowed[j] = (bm.rank() == 4 ? bm.at({b, h, row, col})
                                           : bm.at({row, col})) != 0;
            }
          },
          [&](const Custom &custom) {
            for (int64_t j = 0; j < nk; ++j)
              allowed[j] = custom.allowedAt ? custom.allowedAt(b, h, i, j)
                                            : custom.allowed(i, j);
          },
          [&](const And &conj) {
            std::vector<char> child;
            for (const Mask &c : conj.children) {
              evaluateMaskRow(c, s, b, h, i, scoresRow, child);
              for (int64_t j = 0; j < nk; ++j)
                allowed[j] = allowed[j] && child[j];
            }
          }},
      mask.node());
}

IntTensor maskMatrix(const Mask &mask, const AttentionShape &shape, int64_t b,
                     int64_t h, const Tensor &scores) {
  const std::string fn = "maskMatrix";
  validateMask(mask, shape, fn);
  if (b < 0 || b >= shape.batch)
    throwInvalid(fn, "b", "is out of range");
  if (h < 0 || h >= shape.queryHeads)
    throwInvalid(fn, "h", "is out of range");
  bool needScores = mask.dependsOnScores();
  if (needScores)
    requireShape(scores, {shape.queryLen, shape.keyLen}, fn, "scores");
  IntTensor result({shape.queryLen, shape.keyLen});
  std::vector<char> row;
  for (int64_t i = 0; i < shape.queryLen; ++i) {
    evaluateMaskRow(
        mask, shape, b, h, i,
        needScores ? scores.data().data() + i * shape.keyLen : nullptr, row);
    for (int64_t j = 0; j < shape.keyLen; ++j)
      result.data()[i * shape.keyLen + j] = row[j];
  }
  return result;
}

Tensor scoreMatrix(const Tensor &q, const Tensor &k, int64_t b, int64_t h,
                   std::optional<double> scale) {
  const std::string fn = "scoreMatrix";
  AttentionShape s = queryKeyShape(q, k, fn);
  double sc = resolveScale(scale, q.dim(3), fn);
  if (b < 0 || b >= s.batch)
    throwInvalid(fn, "b", "is out of range");
  if (h < 0 || h >= s.queryHeads)
    throwInvalid(fn, "h", "is out of range");
  int64_t d = q.dim(3), kvh = h / (s.queryHeads / s.kvHeads);
  Tensor scores({s.queryLen, s.keyLen});
  for (int64_t i = 0; i < s.queryLen; ++i)
    for (int64_t j = 0; j < s.keyLen; ++j) {
      double dot = 0.0;
      for (int64_t x = 0; x < d; ++x)
        dot += q.at({b, h, i, x}) * k.at({b, kvh, j, x});
      scores.at({i, j}) = sc * dot;
    }
  return scores;
}

IntTensor maskMatrix(const Mask &mask, const Tensor &q, const Tensor &k,
                     int64_t b, int64_t h, std::optional<double> scale) {
  Tensor scores = scoreMatrix(q, k, b, h, scale);
  return maskMatrix(mask, queryKeyShape(q, k, "maskMatrix"), b, h, scores);
}

} // namespace reference
} // namespace attn
