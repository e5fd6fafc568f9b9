//===- NMTest.cpp - N:M structured pruning ----------------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include <algorithm>

using namespace attn::reference;
using namespace attn::reference::test;

namespace {

/// One-dimensional problem with q_i = 1 and k_j = keys[j], scale 1, so that
/// S[i, j] = keys[j].
std::pair<Tensor, Tensor> rowScores(int64_t nq,
                                    const std::vector<double> &keys) {
  Tensor q({1, 1, nq, 1}, 1.0);
  Tensor k({1, 1, static_cast<int64_t>(keys.size()), 1}, keys);
  return {q, k};
}

TEST(NM, TwoFourKeepsTheTwoLargestPerFullGroup) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Tensor q = randomTensor({1, 1, 6, 8}, seed),
         k = randomTensor({1, 1, 10, 8}, seed + 1);
  IntTensor m = maskMatrix(NM{2, 4}, q, k, 0, 0);
  Tensor s = scoreMatrix(q, k, 0, 0);
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t g = 0; g < 10; g += 4) {
      int64_t end = std::min<int64_t>(g + 4, 10), kept = 0;
      double minKept = kInf, maxPruned = -kInf;
      for (int64_t j = g; j < end; ++j) {
        kept += m.at({i, j});
        if (m.at({i, j}))
          minKept = std::min(minKept, s.at({i, j}));
        else
          maxPruned = std::max(maxPruned, s.at({i, j}));
      }
      // Full groups keep two; the partial group [8, 10) keeps both.
      EXPECT_EQ(kept, 2) << "row " << i << " group " << g;
      EXPECT_GE(minKept, maxPruned) << "row " << i << " group " << g;
    }
}

TEST(NM, TiesPreferLowerPositions) {
  // All scores equal: 2:4 keeps j = 0, 1 of every group; 1:2 keeps the evens.
  auto [q, k] = rowScores(1, std::vector<double>(8, 0.5));
  EXPECT_EQ(maskMatrix(NM{2, 4}, q, k, 0, 0, 1.0).data(),
            (std::vector<int64_t>{1, 1, 0, 0, 1, 1, 0, 0}));
  EXPECT_EQ(maskMatrix(NM{1, 2}, q, k, 0, 0, 1.0).data(),
            (std::vector<int64_t>{1, 0, 1, 0, 1, 0, 1, 0}));
  // Scores (5, 3, 5, 5 | 1, 2, 2, 2): group 0 keeps j = 0 and 2 (not 3),
  // group 1 keeps j = 5 and 6 (not 7).
  auto [q2, k2] = rowScores(1, {5, 3, 5, 5, 1, 2, 2, 2});
  EXPECT_EQ(maskMatrix(NM{2, 4}, q2, k2, 0, 0, 1.0).data(),
            (std::vector<int64_t>{1, 0, 1, 0, 0, 1, 1, 0}));
}

TEST(NM, OneTwoHandComputed) {
  // Scores (0, 1, 2, 0, 1, 2): pairs keep the larger: j = 1, 2, 5.
  auto [q, k] = rowScores(1, {0, 1, 2, 0, 1, 2});
  EXPECT_EQ(maskMatrix(NM{1, 2}, q, k, 0, 0, 1.0).data(),
            (std::vector<int64_t>{0, 1, 1, 0, 0, 1}));
}

TEST(NM, CausalBaseKeepsSmallGroupsWhole) {
  // S[i, j] = j (larger j preferred). NM{2, 4, Causal}: in each group, among
  // causal keys j <= i, keep the two largest; a group with <= 2 causal keys
  // keeps them all:
  //   row 0: {0}        row 1: {0, 1}      row 2: {1, 2}      row 3: {2, 3}
  //   row 4: {2, 3, 4}  row 5: {2,3,4,5}   row 6: {2,3,5,6}   row 7: {2,3,6,7}
  std::vector<double> keys(8);
  for (int j = 0; j < 8; ++j)
    keys[j] = j;
  auto [q, k] = rowScores(8, keys);
  std::vector<int64_t> expected = {1, 0, 0, 0, 0, 0, 0, 0, //
                                   1, 1, 0, 0, 0, 0, 0, 0, //
                                   0, 1, 1, 0, 0, 0, 0, 0, //
                                   0, 0, 1, 1, 0, 0, 0, 0, //
                                   0, 0, 1, 1, 1, 0, 0, 0, //
                                   0, 0, 1, 1, 1, 1, 0, 0, //
                                   0, 0, 1, 1, 0, 1, 1, 0, //
                                   0, 0, 1, 1, 0, 0, 1, 1};
  EXPECT_EQ(maskMatrix(NM{2, 4, Causal{}}, q, k, 0, 0, 1.0).data(), expected);
  // Pruning among all keys and then applying causal is a different mask:
  // row 2 keeps {2, 3} of group 0 by score, and causal then removes 3.
  IntTensor composed = maskMatrix(And{{Causal{}, NM{2, 4}}}, q, k, 0, 0, 1.0);
  EXPECT_EQ(composed.at({2, 1}), 0);
  EXPECT_EQ(composed.at({2, 2}), 1);
}

/// The kept set enumerated explicitly for a base that is causal (bottom-right)
/// or a window: per row and group, sort the base-allowed j by (-S, j) and keep
/// the first n (all of them when there are <= n).
IntTensor enumerateKept(const Tensor &s, int64_t n, int64_t m, int64_t window) {
  int64_t nq = s.dim(0), nk = s.dim(1);
  IntTensor kept({nq, nk});
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t g = 0; g < nk; g += m) {
      std::vector<std::pair<double, int64_t>> group;
      for (int64_t j = g; j < std::min(g + m, nk); ++j) {
        int64_t distance = i + nk - nq - j;
        if (distance >= 0 && distance < window)
          group.push_back({-s.at({i, j}), j});
      }
      std::sort(group.begin(), group.end());
      for (size_t c = 0; c < group.size() && c < static_cast<size_t>(n); ++c)
        kept.at({i, group[c].second}) = 1;
    }
  return kept;
}

TEST(NM, RandomProblemsMatchTheEnumeratedKeptSet) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Tensor q = randomTensor({2, 4, 21, 16}, seed, -2, 2),
         k = randomTensor({2, 2, 27, 16}, seed + 1, -2, 2),
         v = randomTensor({2, 2, 27, 7}, seed + 2);
  struct Case {
    int64_t n, m, window;
    Mask mask;
  };
  std::vector<Case> cases = {{2, 4, 1 << 20, NM{2, 4, Causal{}}},
                             {1, 2, 1 << 20, NM{1, 2, Causal{}}},
                             {2, 8, 1 << 20, NM{2, 8, Causal{}}},
                             {1, 4, 9, NM{1, 4, Window{9}}}};
  for (const Case &c : cases) {
    SCOPED_TRACE(std::to_string(c.n) + ":" + std::to_string(c.m));
    AttentionResult r = attention(q, k, v, c.mask);
    AttentionResult e =
        attentionFromMatrices(q, k, v, [&](int64_t b, int64_t h) {
          return enumerateKept(scoreMatrix(q, k, b, h), c.n, c.m, c.window);
        });
    EXPECT_TRUE(tensorsNear(r.out, e.out));
    EXPECT_TRUE(tensorsNear(r.lse, e.lse));
  }
}

} // namespace
