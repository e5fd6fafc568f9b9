//===- BlockSpionTest.cpp - Block masks and SPION patterns ------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

using namespace attn::reference;
using namespace attn::reference::test;

namespace {

TEST(Block, AllOnesIsDense) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Tensor q = randomTensor({2, 2, 10, 4}, seed),
         k = randomTensor({2, 2, 13, 4}, seed + 1),
         v = randomTensor({2, 2, 13, 3}, seed + 2);
  AttentionResult b = attention(q, k, v, Block{4, IntTensor({3, 4}, 1)});
  AttentionResult d = attention(q, k, v);
  EXPECT_TRUE(tensorsNear(b.out, d.out));
  EXPECT_TRUE(tensorsNear(b.lse, d.lse));
}

TEST(Block, SizeNotDividingNUsesCeil) {
  // Nq = 10, Nk = 7, bs = 4: BM is [3, 2]; entries address i / 4, j / 4.
  IntTensor bm({3, 2}, std::vector<int64_t>{1, 0, 0, 1, 1, 1});
  IntTensor m = maskMatrix(Block{4, bm}, AttentionShape{1, 1, 1, 10, 7}, 0, 0);
  for (int64_t i = 0; i < 10; ++i)
    for (int64_t j = 0; j < 7; ++j)
      EXPECT_EQ(m.at({i, j}), bm.at({i / 4, j / 4})) << i << ", " << j;
  EXPECT_TRUE(throwsNaming(
      [&] {
        maskMatrix(Block{4, IntTensor({2, 2}, 1)},
                   AttentionShape{1, 1, 1, 10, 7}, 0, 0);
      },
      "mask.Block.blockMask"));
}

TEST(Block, PerHeadMasksMatchSharedMasksPerHead) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Tensor q = randomTensor({2, 4, 11, 6}, seed),
         k = randomTensor({2, 2, 11, 6}, seed + 1),
         v = randomTensor({2, 2, 11, 3}, seed + 2);
  IntTensor bm = randomIntTensor({2, 4, 4, 4}, seed + 3, 0, 2);
  AttentionResult r = attention(q, k, v, And{{Causal{}, Block{3, bm}}});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 4; ++h) {
      IntTensor shared({4, 4});
      for (int64_t x = 0; x < 16; ++x)
        shared.data()[x] = bm.data()[(b * 4 + h) * 16 + x];
      AttentionResult e =
          attentionFromMatrices(q, k, v, [&](int64_t, int64_t hh) {
            return maskMatrix(And{{Causal{}, Block{3, shared}}},
                              AttentionShape{2, 4, 2, 11, 11}, b, hh);
          });
      for (int64_t i = 0; i < 11; ++i) {
        EXPECT_EQ(r.lse.at({b, h, i}), e.lse.at({b, h, i}));
        for (int64_t x = 0; x < 3; ++x)
          EXPECT_NEAR(r.out.at({b, h, i, x}), e.out.at({b, h, i, x}), kTol);
      }
    }
}

TEST(Spion, DiagonalFilterHandComputed) {
  // c = 3: C[i, j] = A[i-1, j-1] + A[i, j] + A[i+1, j+1] (zero outside).
  Tensor a({3, 3}, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor expected({3, 3}, std::vector<double>{6, 8, 3, 12, 15, 8, 7, 12, 14});
  EXPECT_TRUE(tensorsNear(spionDiagonalFilter(a, 3), expected));
  EXPECT_TRUE(tensorsNear(spionDiagonalFilter(a, 1), a));
}

TEST(Spion, BlockAverageHandComputed) {
  Tensor a({4, 4},
           std::vector<double>{1, 2, 0, 0, 3, 4, 0, 8, 1, 1, 2, 2, 1, 1, 2, 6});
  Tensor expected({2, 2}, std::vector<double>{2.5, 2, 1, 3});
  EXPECT_TRUE(tensorsNear(spionBlockAverage(a, 2), expected));
}

TEST(Spion, QuantileInterpolatesLinearly) {
  // Sorted (1, 2, 3, 4): rank = q (n - 1). q = 0.5 -> rank 1.5 -> 2.5;
  // q = 0.9 -> rank 2.7 -> 3 + 0.7 (4 - 3) = 3.7; q = 0 -> 1; q = 1 -> 4.
  EXPECT_DOUBLE_EQ(quantileLinear({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_NEAR(quantileLinear({4, 1, 3, 2}, 0.9), 3.7, 1e-15);
  EXPECT_EQ(quantileLinear({4, 1, 3, 2}, 0.0), 1.0);
  EXPECT_EQ(quantileLinear({4, 1, 3, 2}, 1.0), 4.0);
  EXPECT_EQ(quantileLinear({7}, 0.3), 7.0);
}

// The hand-worked map (nb = 4), threshold tau = 0.3 (its median, see below):
//
//        y=0  y=1  y=2  y=3
//   x=0  0.9  0.1  0.5  0.2
//   x=1  0.3  0.8  0.1  0.6
//   x=2  0.2  0.4  0.7  0.3
//   x=3  0.1  0.2  0.3  0.6
//
// Walks (D = down, R = right, G = diagonal neighbour; 0 outside):
//   (0,0): D .3 > R .1, G .8 >= D -> (1,1) .8 marked; (1,1): D .4 > R .1,
//          G .7 -> (2,2) marked; (2,2): D = R = .3, G .6 -> (3,3) marked;
//          (3,3): all 0 -> (4,4), stop.
//   (0,1): D .8 > R .5, D > G .1 -> (1,1), then as above.
//   (0,2): D .1 < R .2 < G .6 -> (1,3) .6 marked; (1,3): D .3 > 0 -> (2,3)
//          .3 not > tau; (2,3): D .6 -> (3,3); stop.
//   (0,3): D .6 -> (1,3), then (2,3), (3,3).
//   (1,0): D .2 < R .8 > G .4 -> (1,1), then (2,2), (3,3).
//   (2,0): D .1 < R .4 > G .2 -> (2,1) .4 marked; (2,1): R .7 > G .3 ->
//          (2,2); then (3,3).
//   (3,0): R .2 -> (3,1) .2 no; R .3 -> (3,2) no; R .6 -> (3,3).
// Marked: (1,1) (2,2) (3,3) (1,3) (2,1); the diagonal adds (0,0). (0,2) = .5
// is above tau but only ever a start cell, so it stays 0.
const std::vector<double> kHandMap = {0.9, 0.1, 0.5, 0.2, 0.3, 0.8, 0.1, 0.6,
                                      0.2, 0.4, 0.7, 0.3, 0.1, 0.2, 0.3, 0.6};
const std::vector<int64_t> kHandMask = {1, 0, 0, 0, 0, 1, 0, 1,
                                        0, 1, 1, 0, 0, 0, 0, 1};

TEST(Spion, FloodFillHandWorked) {
  Tensor map({4, 4}, kHandMap);
  EXPECT_EQ(spionFloodFill(map, 0.3).data(), kHandMask);
  // Sorted map: .1 .1 .1 .2 .2 .2 .3 .3 .3 .4 .5 .6 .6 .7 .8 .9; the median
  // (q = 0.5, rank 7.5) is 0.3 and q = 0.7 (rank 10.5) gives 0.55.
  EXPECT_NEAR(quantileLinear(kHandMap, 0.5), 0.3, 1e-15);
  EXPECT_NEAR(quantileLinear(kHandMap, 0.7), 0.55, 1e-15);
  // SPION-F with bs = 1 is exactly this computation; so is CF with c = 1.
  SpionParams f{1, 1, 0.5, SpionVariant::F, 0.0};
  EXPECT_EQ(spionBlockMask(map, f).data(), kHandMask);
  SpionParams cf{1, 1, 0.5, SpionVariant::CF, 0.0};
  EXPECT_EQ(spionBlockMask(map, cf).data(), kHandMask);
}

TEST(Spion, FloodFillTieRules) {
  // Right beats down when equal: from (0,0) D = R = .5 > G = .2 -> (0,1);
  // (1,0) is never reached.
  Tensor right({2, 2}, std::vector<double>{0, 0.5, 0.5, 0.2});
  EXPECT_EQ(spionFloodFill(right, 0.1).data(),
            (std::vector<int64_t>{1, 1, 0, 1}));
  // The diagonal wins a tie with the chosen side: D = G = .5 > R -> (1,1).
  Tensor diag({2, 2}, std::vector<double>{0, 0.2, 0.5, 0.5});
  EXPECT_EQ(spionFloodFill(diag, 0.1).data(),
            (std::vector<int64_t>{1, 0, 0, 1}));
}

TEST(Spion, DiagonalIsForcedOn) {
  // Nothing exceeds the threshold, yet the diagonal is set.
  Tensor zeros({5, 5});
  IntTensor bm = spionFloodFill(zeros, 0.0);
  for (int64_t x = 0; x < 5; ++x)
    for (int64_t y = 0; y < 5; ++y)
      EXPECT_EQ(bm.at({x, y}), x == y ? 1 : 0);
  EXPECT_EQ(spionTopKBlocks(zeros, 0).data(), bm.data());
}

TEST(Spion, VariantCTakesTopBlocks) {
  // c = 1, bs = 1, density 0.5: keep int(16 * 0.5 - 4) = 4 blocks: .9 (0,0),
  // .8 (1,1), .7 (2,2) and of the tied .6 the lower index (1,3); then the
  // diagonal (already there except (3,3)).
  Tensor map({4, 4}, kHandMap);
  SpionParams c{1, 1, 0.5, SpionVariant::C, 0.5};
  EXPECT_EQ(
      spionBlockMask(map, c).data(),
      (std::vector<int64_t>{1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1}));
}

/// An independent statement of the walk's step: the argmax of (diagonal,
/// right, down) with priority diagonal > right > down on ties.
IntTensor floodFillByPriority(const Tensor &bm, double tau) {
  int64_t nb = bm.dim(0);
  auto at = [&](int64_t x, int64_t y) {
    return x < nb && y < nb ? bm.at({x, y}) : 0.0;
  };
  IntTensor out({nb, nb});
  std::vector<std::pair<int64_t, int64_t>> starts;
  for (int64_t c = 0; c < nb; ++c)
    starts.push_back({0, c});
  for (int64_t c = 0; c < nb; ++c)
    starts.push_back({c, 0});
  for (auto [x, y] : starts)
    while (x < nb && y < nb) {
      std::pair<int64_t, int64_t> options[3] = {
          {x + 1, y + 1}, {x, y + 1}, {x + 1, y}};
      auto best = options[0];
      for (auto o : options)
        if (at(o.first, o.second) > at(best.first, best.second))
          best = o;
      std::tie(x, y) = best;
      if (x < nb && y < nb && at(x, y) > tau)
        out.at({x, y}) = 1;
    }
  for (int64_t d = 0; d < nb; ++d)
    out.at({d, d}) = 1;
  return out;
}

TEST(Spion, RandomFloodFillMatchesPriorityFormulation) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  for (int trial = 0; trial < 20; ++trial) {
    // Few distinct values, so ties are everywhere.
    IntTensor levels = randomIntTensor({64, 64}, seed + trial, 0, 4);
    Tensor a({64, 64});
    for (int64_t x = 0; x < 64 * 64; ++x)
      a.data()[x] = static_cast<double>(levels.data()[x]);
    SpionParams p{3, 4, 0.7, SpionVariant::CF, 0.0};
    Tensor pooled = spionBlockAverage(spionDiagonalFilter(a, 3), 4);
    double tau = quantileLinear(pooled.data(), 0.7);
    EXPECT_EQ(spionBlockMask(a, p).data(),
              floodFillByPriority(pooled, tau).data());
    p.variant = SpionVariant::F;
    Tensor raw = spionBlockAverage(a, 4);
    EXPECT_EQ(spionBlockMask(a, p).data(),
              floodFillByPriority(raw, quantileLinear(raw.data(), 0.7)).data());
  }
}

TEST(Spion, ValidationNamesTheArgument) {
  Tensor a({8, 8});
  EXPECT_TRUE(throwsNaming(
      [&] {
        spionBlockMask(a, SpionParams{4, 2, 0.5});
      },
      "'convSize'"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        spionBlockMask(a, SpionParams{3, 3, 0.5});
      },
      "'blockSize'"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        spionBlockMask(a, SpionParams{3, 2, 1.5});
      },
      "'quantile'"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        spionBlockMask(a, SpionParams{3, 2, 0.5, SpionVariant::C, -0.1});
      },
      "'density'"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        spionBlockMask(Tensor({8, 4}), SpionParams{});
      },
      "'scores'"));
  EXPECT_TRUE(throwsNaming([&] { quantileLinear({}, 0.5); }, "'values'"));
}

} // namespace
