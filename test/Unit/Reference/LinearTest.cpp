//===- LinearTest.cpp - Linear attention with decay -------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

using namespace attn::reference;
using namespace attn::reference::test;

namespace {

/// Copies positions [begin, end) of a [B, H, N, X] tensor.
Tensor positions(const Tensor &t, int64_t begin, int64_t end) {
  Tensor out({t.dim(0), t.dim(1), end - begin, t.dim(3)});
  for (int64_t b = 0; b < t.dim(0); ++b)
    for (int64_t h = 0; h < t.dim(1); ++h)
      for (int64_t i = begin; i < end; ++i)
        for (int64_t x = 0; x < t.dim(3); ++x)
          out.at({b, h, i - begin, x}) = t.at({b, h, i, x});
  return out;
}

struct Problem {
  Tensor q, k, v, state;
  std::vector<double> decay;
  Problem(uint64_t seed, int64_t n, bool withState) {
    q = randomTensor({2, 4, n, 6}, seed);
    k = randomTensor({2, 4, n, 6}, seed + 1);
    v = randomTensor({2, 4, n, 5}, seed + 2);
    if (withState)
      state = randomTensor({2, 4, 6, 5}, seed + 3);
    decay = alibiSlopes(4);
  }
};

TEST(Linear, NoDecayIsCausalQKTimesV) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Problem p(seed, 13, false);
  LinearAttentionResult r = linearAttention(p.q, p.k, p.v);
  // Direct matrix form: A = Q K^T, upper triangle zeroed, O = A V.
  Tensor expected({2, 4, 13, 5});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 4; ++h) {
      Tensor a = scoreMatrix(p.q, p.k, b, h, 1.0);
      for (int64_t i = 0; i < 13; ++i)
        for (int64_t y = 0; y < 5; ++y)
          for (int64_t j = 0; j <= i; ++j)
            expected.at({b, h, i, y}) += a.at({i, j}) * p.v.at({b, h, j, y});
    }
  EXPECT_TRUE(tensorsNear(r.out, expected));
  EXPECT_TRUE(
      tensorsNear(linearAttention(p.q, p.k, p.v, {0, 0, 0, 0}).out, expected));
}

TEST(Linear, DenseMatchesTokenRecurrence) {
  // KV_t = lambda KV_{t-1} + k_t^T v_t (KV_{-1} = KV0), O[t] = q_t KV_t.
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Problem p(seed, 11, true);
  LinearAttentionResult r = linearAttention(p.q, p.k, p.v, p.decay, p.state);
  Tensor out({2, 4, 11, 5}), state = p.state;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 4; ++h) {
      double lambda = std::exp(-p.decay[h]);
      for (int64_t t = 0; t < 11; ++t) {
        for (int64_t x = 0; x < 6; ++x)
          for (int64_t y = 0; y < 5; ++y)
            state.at({b, h, x, y}) =
                lambda * state.at({b, h, x, y}) +
                p.k.at({b, h, t, x}) * p.v.at({b, h, t, y});
        for (int64_t x = 0; x < 6; ++x)
          for (int64_t y = 0; y < 5; ++y)
            out.at({b, h, t, y}) +=
                p.q.at({b, h, t, x}) * state.at({b, h, x, y});
      }
    }
  EXPECT_TRUE(tensorsNear(r.out, out));
  EXPECT_TRUE(tensorsNear(r.state, state));
}

TEST(Linear, TiledMatchesDense) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  for (bool withState : {false, true}) {
    Problem p(seed, 20, withState);
    LinearAttentionResult dense =
        linearAttention(p.q, p.k, p.v, p.decay, p.state);
    for (int64_t bt : {1, 3, 4, 7, 20, 64}) {
      SCOPED_TRACE("Bt = " + std::to_string(bt) +
                   (withState ? " with state" : ""));
      LinearAttentionResult tiled =
          linearAttentionTiled(p.q, p.k, p.v, bt, p.decay, p.state);
      EXPECT_TRUE(tensorsNear(tiled.out, dense.out));
      EXPECT_TRUE(tensorsNear(tiled.state, dense.state));
    }
  }
}

TEST(Linear, ChunksWithStateEqualTheWholeSequence) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Problem p(seed, 17, true);
  LinearAttentionResult whole =
      linearAttention(p.q, p.k, p.v, p.decay, p.state);
  for (int64_t split : {1, 9, 16}) {
    SCOPED_TRACE("split at " + std::to_string(split));
    LinearAttentionResult first =
        linearAttention(positions(p.q, 0, split), positions(p.k, 0, split),
                        positions(p.v, 0, split), p.decay, p.state);
    LinearAttentionResult second =
        linearAttention(positions(p.q, split, 17), positions(p.k, split, 17),
                        positions(p.v, split, 17), p.decay, first.state);
    EXPECT_TRUE(tensorsNear(first.out, positions(whole.out, 0, split)));
    EXPECT_TRUE(tensorsNear(second.out, positions(whole.out, split, 17)));
    EXPECT_TRUE(tensorsNear(second.state, whole.state));
  }
}

TEST(Linear, AlibiSlopes) {
  EXPECT_EQ(alibiSlopes(1), (std::vector<double>{1.0 / 256}));
  EXPECT_EQ(alibiSlopes(4),
            (std::vector<double>{0.25, 1.0 / 16, 1.0 / 64, 1.0 / 256}));
  std::vector<double> eight = alibiSlopes(8);
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(eight[i], std::ldexp(1.0, -(i + 1)));
}

TEST(Linear, ValidationNamesTheArgument) {
  Tensor q({1, 2, 3, 4}), v({1, 2, 3, 5});
  EXPECT_TRUE(throwsNaming(
      [&] {
        linearAttention(q, Tensor({1, 2, 3, 3}), v);
      },
      "'k'"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        linearAttention(q, q, Tensor({1, 2, 4, 5}));
      },
      "'v'"));
  EXPECT_TRUE(
      throwsNaming([&] { linearAttention(q, q, v, {0.1}); }, "'decay'"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        linearAttention(q, q, v, {0.1, -1});
      },
      "'decay'"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        linearAttention(q, q, v, {}, Tensor({1, 2, 5, 4}));
      },
      "'initialState'"));
  EXPECT_TRUE(
      throwsNaming([&] { linearAttentionTiled(q, q, v, 0); }, "'blockSize'"));
  EXPECT_TRUE(throwsNaming([&] { alibiSlopes(6); }, "'numHeads'"));
}

} // namespace
