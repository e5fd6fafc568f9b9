//===- AttentionTest.cpp - Dense, causal, window, GQA, masks ----*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

using namespace attn::reference;
using namespace attn::reference::test;

namespace {

// Hand example, scale 1:
//   q0 = (1, 0), q1 = (0, 1); k0 = (1, 0), k1 = (1, 1); v0 = (1, 2), v1 = (3,
//   4) S = [[1, 1], [0, 1]] row 0: P = (1/2, 1/2), O = (2, 3), LSE = 1 + log 2
//   = 1.6931471805599453 row 1: P = (1/(1+e), e/(1+e)) = (0.2689414213699951,
//   0.7310585786300049)
//          O = v0 + 2 e/(1+e) (1, 1) = (2.4621171572600098, 3.4621171572600098)
//          LSE = log(1 + e) = 1.3132616875182228
//   causal: row 0 sees only k0: O = (1, 2), LSE = 1; row 1 unchanged.
struct HandExample {
  Tensor q{{1, 1, 2, 2}, std::vector<double>{1, 0, 0, 1}};
  Tensor k{{1, 1, 2, 2}, std::vector<double>{1, 0, 1, 1}};
  Tensor v{{1, 1, 2, 2}, std::vector<double>{1, 2, 3, 4}};
};

TEST(Attention, HandComputedDense) {
  HandExample ex;
  AttentionResult r = attention(ex.q, ex.k, ex.v, Mask(), 1.0);
  Tensor out({1, 1, 2, 2},
             std::vector<double>{2, 3, 2.4621171572600098, 3.4621171572600098});
  Tensor lse({1, 1, 2},
             std::vector<double>{1.6931471805599453, 1.3132616875182228});
  EXPECT_TRUE(tensorsNear(r.out, out, 1e-14));
  EXPECT_TRUE(tensorsNear(r.lse, lse, 1e-14));
}

TEST(Attention, HandComputedCausal) {
  HandExample ex;
  AttentionResult r = attention(ex.q, ex.k, ex.v, Causal{}, 1.0);
  Tensor out({1, 1, 2, 2},
             std::vector<double>{1, 2, 2.4621171572600098, 3.4621171572600098});
  Tensor lse({1, 1, 2}, std::vector<double>{1.0, 1.3132616875182228});
  EXPECT_TRUE(tensorsNear(r.out, out, 1e-14));
  EXPECT_TRUE(tensorsNear(r.lse, lse, 1e-14));
}

TEST(Attention, DefaultScaleIsInverseSqrtD) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Tensor q = randomTensor({2, 2, 5, 8}, seed),
         k = randomTensor({2, 2, 7, 8}, seed + 1),
         v = randomTensor({2, 2, 7, 3}, seed + 2);
  EXPECT_TRUE(
      tensorsNear(attention(q, k, v).out,
                  attention(q, k, v, Mask(), 1.0 / std::sqrt(8.0)).out));
}

// Zero queries make every score 0, so O is the mean of the allowed v_j and
// LSE = log(#allowed). With v_j = j:
//   Nq = 2, Nk = 4 (bottom-right: row i sees j <= i + 2):
//     row 0: {0,1,2} -> O = 1,   LSE = log 3;  row 1: {0..3} -> 1.5, log 4.
//   Nq = 4, Nk = 2 (row i sees j <= i - 2): rows 0, 1 empty (O = 0,
//     LSE = -inf), row 2: {0} -> 0, log 1; row 3: {0, 1} -> 0.5, log 2.
Tensor positionValues(int64_t n) {
  Tensor v({1, 1, n, 1});
  for (int64_t j = 0; j < n; ++j)
    v.at({0, 0, j, 0}) = static_cast<double>(j);
  return v;
}

TEST(Attention, CausalBottomRightFewerQueries) {
  Tensor q({1, 1, 2, 3}), k = randomTensor({1, 1, 4, 3}, 7);
  AttentionResult r = attention(q, k, positionValues(4), Causal{});
  EXPECT_TRUE(
      tensorsNear(r.out, Tensor({1, 1, 2, 1}, std::vector<double>{1, 1.5})));
  EXPECT_TRUE(tensorsNear(
      r.lse,
      Tensor({1, 1, 2}, std::vector<double>{std::log(3.0), std::log(4.0)})));
  IntTensor m = maskMatrix(Causal{}, q, k, 0, 0);
  EXPECT_EQ(m.data(), (std::vector<int64_t>{1, 1, 1, 0, 1, 1, 1, 1}));
}

TEST(Attention, CausalBottomRightMoreQueries) {
  Tensor q({1, 1, 4, 3}), k = randomTensor({1, 1, 2, 3}, 7);
  AttentionResult r = attention(q, k, positionValues(2), Causal{});
  EXPECT_TRUE(tensorsNear(
      r.out, Tensor({1, 1, 4, 1}, std::vector<double>{0, 0, 0, 0.5})));
  EXPECT_TRUE(tensorsNear(
      r.lse, Tensor({1, 1, 4},
                    std::vector<double>{-kInf, -kInf, 0.0, std::log(2.0)})));
}

// Window w = 2, Nq = Nk = 4, zero queries, v_j = j: row i sees {i-1, i}:
//   O = (0, 0.5, 1.5, 2.5), LSE = (0, log 2, log 2, log 2).
TEST(Attention, WindowHandComputed) {
  Tensor q({1, 1, 4, 2}), k = randomTensor({1, 1, 4, 2}, 3);
  AttentionResult r = attention(q, k, positionValues(4), Window{2});
  EXPECT_TRUE(tensorsNear(
      r.out, Tensor({1, 1, 4, 1}, std::vector<double>{0, 0.5, 1.5, 2.5})));
  double l2 = std::log(2.0);
  EXPECT_TRUE(tensorsNear(
      r.lse, Tensor({1, 1, 4}, std::vector<double>{0, l2, l2, l2})));
  // Nq = 2, Nk = 5, w = 3: row i has diagonal i + 3, sees (i + 1 .. i + 3].
  IntTensor m =
      maskMatrix(Window{3}, Tensor({1, 1, 2, 1}), Tensor({1, 1, 5, 1}), 0, 0);
  EXPECT_EQ(m.data(), (std::vector<int64_t>{0, 1, 1, 1, 0, 0, 0, 1, 1, 1}));
}

TEST(Attention, WindowCoveringEverythingIsCausal) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Tensor q = randomTensor({1, 2, 9, 4}, seed),
         k = randomTensor({1, 2, 11, 4}, seed + 1),
         v = randomTensor({1, 2, 11, 3}, seed + 2);
  AttentionResult a = attention(q, k, v, Window{11}),
                  c = attention(q, k, v, Causal{});
  EXPECT_TRUE(tensorsNear(a.out, c.out));
  EXPECT_TRUE(tensorsNear(a.lse, c.lse));
}

TEST(Attention, GroupedQueryHeadsReadTheirKvHead) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Tensor q = randomTensor({2, 4, 6, 5}, seed),
         k = randomTensor({2, 2, 6, 5}, seed + 1),
         v = randomTensor({2, 2, 6, 3}, seed + 2);
  AttentionResult all = attention(q, k, v, Causal{});
  for (int64_t h = 0; h < 4; ++h) {
    AttentionResult one = attention(headSlice(q, h), headSlice(k, h / 2),
                                    headSlice(v, h / 2), Causal{});
    EXPECT_TRUE(tensorsNear(headSlice(all.out, h), one.out)) << "head " << h;
  }
}

TEST(Attention, RandomMasksMatchMatrixFormulation) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Tensor q = randomTensor({2, 4, 13, 8}, seed, -2, 2),
         k = randomTensor({2, 2, 17, 8}, seed + 1, -2, 2),
         v = randomTensor({2, 2, 17, 5}, seed + 2);
  std::vector<Mask> masks = {
      Mask(),
      Causal{},
      Window{5},
      Custom{[](int64_t i, int64_t j) { return (i + j) % 3 != 0; }},
      And{{Causal{},
           Custom{[](int64_t i, int64_t j) { return j % 2 == i % 2; }}}},
      And{}};
  for (size_t m = 0; m < masks.size(); ++m) {
    SCOPED_TRACE("mask " + std::to_string(m));
    AttentionResult r = attention(q, k, v, masks[m], 0.7);
    AttentionResult e = attentionFromMatrices(
        q, k, v,
        [&](int64_t b, int64_t h) {
          return maskMatrix(masks[m], q, k, b, h, 0.7);
        },
        0.7);
    EXPECT_TRUE(tensorsNear(r.out, e.out));
    EXPECT_TRUE(tensorsNear(r.lse, e.lse));
  }
}

TEST(Attention, LargeScoresStayFinite) {
  // Scores around 1e3 overflow a naive exp; the max-subtracted softmax does
  // not.
  Tensor q({1, 1, 1, 1}, std::vector<double>{100.0});
  Tensor k({1, 1, 2, 1}, std::vector<double>{10.0, 9.0});
  Tensor v({1, 1, 2, 1}, std::vector<double>{1.0, 0.0});
  AttentionResult r = attention(q, k, v, Mask(), 1.0);
  double p0 = 1.0 / (1.0 + std::exp(-100.0));
  EXPECT_NEAR(r.out.at({0, 0, 0, 0}), p0, 1e-15);
  EXPECT_NEAR(r.lse.at({0, 0, 0}), 1000.0 + std::log1p(std::exp(-100.0)),
              1e-12);
}

TEST(Attention, EmptyKeysAndQueries) {
  Tensor q = randomTensor({1, 2, 3, 4}, 1);
  AttentionResult r = attention(q, Tensor({1, 1, 0, 4}), Tensor({1, 1, 0, 2}),
                                NM{1, 2, Causal{}});
  EXPECT_TRUE(tensorsNear(r.out, Tensor({1, 2, 3, 2})));
  EXPECT_TRUE(tensorsNear(r.lse, Tensor({1, 2, 3}, -kInf)));
  AttentionResult none = attention(Tensor({1, 2, 0, 4}), Tensor({1, 1, 5, 4}),
                                   Tensor({1, 1, 5, 2}), Causal{});
  EXPECT_EQ(none.out.shape(), (std::vector<int64_t>{1, 2, 0, 2}));
  EXPECT_EQ(none.lse.numel(), 0);
}

TEST(Attention, ValidationNamesTheArgument) {
  Tensor q({1, 2, 3, 4}), k({1, 1, 3, 4}), v({1, 1, 3, 2});
  EXPECT_TRUE(throwsNaming([&] { attention(Tensor({2, 3, 4}), k, v); }, "'q'"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        attention(q, Tensor({1, 1, 3, 5}), v);
      },
      "'k'"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        attention(q, Tensor({1, 3, 3, 4}), v);
      },
      "'k'"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        attention(q, k, Tensor({1, 1, 4, 2}));
      },
      "'v'"));
  EXPECT_TRUE(throwsNaming([&] { attention(q, k, v, Mask(), std::nan("")); },
                           "'scale'"));
  Tensor bad = q;
  bad.data()[3] = std::nan("");
  EXPECT_TRUE(throwsNaming([&] { attention(bad, k, v); }, "'q'"));
  EXPECT_TRUE(
      throwsNaming([&] { attention(q, k, v, Window{0}); }, "mask.Window.size"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        attention(q, k, v, And{{Causal{}, Custom{}}});
      },
      "mask.And[1].Custom.allowed"));
  EXPECT_TRUE(throwsNaming([&] { attention(q, k, v, NM{2, 2}); }, "mask.NM"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        attention(q, k, v, NM{1, 2, Window{-1}});
      },
      "mask.NM.base.Window.size"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        maskMatrix(NM{1, 2}, AttentionShape{1, 2, 1, 3, 3}, 0, 0);
      },
      "'scores'"));
  EXPECT_TRUE(throwsNaming([&] { maskMatrix(Causal{}, q, k, 0, 2); }, "'h'"));
}

TEST(Tensor, AccessorsAndFactories) {
  Tensor t({2, 3}, 1.5);
  t.at({1, 2}) = 4.0;
  EXPECT_EQ(t.data()[5], 4.0);
  EXPECT_EQ(t.offset({1, 0}), 3);
  EXPECT_THROW(t.at({2, 0}), std::out_of_range);
  EXPECT_THROW(Tensor({2, 2}, std::vector<double>{1.0}), std::invalid_argument);
  Tensor a = randomTensor({4, 5}, 42, -3, 2),
         b = randomTensor({4, 5}, 42, -3, 2);
  EXPECT_EQ(a.data(), b.data());
  for (double x : a.data())
    EXPECT_TRUE(x >= -3 && x < 2);
  IntTensor ids = randomIntTensor({100}, 9, 2, 5);
  for (int64_t x : ids.data())
    EXPECT_TRUE(x >= 2 && x < 5);
}

} // namespace
