//===- HashDropTest.cpp - Hash buckets, LSH, dropped tokens -----*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include <algorithm>
#include <numeric>

using namespace attn::reference;
using namespace attn::reference::test;

namespace {

bool hasNaN(const Tensor &t) {
  return std::any_of(t.data().begin(), t.data().end(),
                     [](double x) { return std::isnan(x); });
}

TEST(Hash, OneBucketIsCausal) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Tensor q = randomTensor({2, 2, 9, 4}, seed),
         k = randomTensor({2, 1, 12, 4}, seed + 1),
         v = randomTensor({2, 1, 12, 3}, seed + 2);
  Hash hash{IntTensor({2, 2, 9}), IntTensor({2, 1, 12}), 1};
  AttentionResult a = attention(q, k, v, And{{Causal{}, hash}});
  AttentionResult c = attention(q, k, v, Causal{});
  EXPECT_TRUE(tensorsNear(a.out, c.out));
  EXPECT_TRUE(tensorsNear(a.lse, c.lse));
}

/// SEMANTICS.md's fast strategy, written independently: stable sort of
/// queries and keys by bucket, tiles of the sorted order, kv-tiles skipped
/// unless their bucket range overlaps and their minimum key position is <=
/// the q-tile's maximum query position, in-tile predicate qb == kb && qpos >=
/// kpos, online softmax, scatter back to the original order (Nq = Nk).
AttentionResult hashBySorting(const Tensor &q, const Tensor &k, const Tensor &v,
                              const IntTensor &qb, const IntTensor &kb,
                              int64_t tile) {
  int64_t batch = q.dim(0), hq = q.dim(1), n = q.dim(2), d = q.dim(3),
          dv = v.dim(3);
  int64_t group = q.dim(1) / k.dim(1);
  double scale = 1.0 / std::sqrt(static_cast<double>(d));
  AttentionResult r{Tensor({batch, hq, n, dv}), Tensor({batch, hq, n})};
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < hq; ++h) {
      int64_t kvh = h / group;
      std::vector<int64_t> qs(n), ks(n);
      std::iota(qs.begin(), qs.end(), 0);
      std::iota(ks.begin(), ks.end(), 0);
      std::stable_sort(qs.begin(), qs.end(), [&](int64_t x, int64_t y) {
        return qb.at({b, h, x}) < qb.at({b, h, y});
      });
      std::stable_sort(ks.begin(), ks.end(), [&](int64_t x, int64_t y) {
        return kb.at({b, kvh, x}) < kb.at({b, kvh, y});
      });
      for (int64_t qt = 0; qt < n; qt += tile) {
        int64_t qEnd = std::min(qt + tile, n);
        int64_t qLo = qb.at({b, h, qs[qt]}), qHi = qb.at({b, h, qs[qEnd - 1]});
        int64_t qMaxPos = *std::max_element(qs.begin() + qt, qs.begin() + qEnd);
        std::vector<OnlineRow> rows(qEnd - qt, OnlineRow(dv));
        for (int64_t kt = 0; kt < n; kt += tile) {
          int64_t kEnd = std::min(kt + tile, n);
          int64_t kLo = kb.at({b, kvh, ks[kt]}),
                  kHi = kb.at({b, kvh, ks[kEnd - 1]});
          int64_t kMinPos =
              *std::min_element(ks.begin() + kt, ks.begin() + kEnd);
          if (kHi < qLo || kLo > qHi || kMinPos > qMaxPos)
            continue; // Tile skipped: nothing in it can be allowed.
          for (int64_t a = qt; a < qEnd; ++a)
            for (int64_t c = kt; c < kEnd; ++c) {
              int64_t qpos = qs[a], kpos = ks[c];
              if (qb.at({b, h, qpos}) != kb.at({b, kvh, kpos}) || qpos < kpos)
                continue;
              double dot = 0.0;
              for (int64_t x = 0; x < d; ++x)
                dot += q.at({b, h, qpos, x}) * k.at({b, kvh, kpos, x});
              rows[a - qt].add(scale * dot, [&](int64_t x) {
                return v.at({b, kvh, kpos, x});
              });
            }
        }
        for (int64_t a = qt; a < qEnd; ++a) { // Scatter back.
          r.lse.at({b, h, qs[a]}) = rows[a - qt].lse();
          for (int64_t x = 0; x < dv; ++x)
            r.out.at({b, h, qs[a], x}) = rows[a - qt].out(x);
        }
      }
    }
  return r;
}

TEST(Hash, MatchesSortBasedStrategy) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  int64_t n = 37, nb = 5;
  Tensor q = randomTensor({2, 4, n, 8}, seed, -2, 2),
         k = randomTensor({2, 2, n, 8}, seed + 1, -2, 2),
         v = randomTensor({2, 2, n, 6}, seed + 2);
  IntTensor qb = randomIntTensor({2, 4, n}, seed + 3, 0, nb);
  IntTensor kb = randomIntTensor({2, 2, n}, seed + 4, 0, nb);
  AttentionResult r = attention(q, k, v, And{{Causal{}, Hash{qb, kb, nb}}});
  EXPECT_FALSE(hasNaN(r.out));
  EXPECT_FALSE(hasNaN(r.lse));
  for (int64_t tile : {1, 4, 16}) {
    AttentionResult e = hashBySorting(q, k, v, qb, kb, tile);
    EXPECT_TRUE(tensorsNear(r.out, e.out)) << "tile " << tile;
    EXPECT_TRUE(tensorsNear(r.lse, e.lse)) << "tile " << tile;
  }
}

TEST(Hash, MaskMatrixIsBucketEquality) {
  IntTensor qb({1, 1, 3}, std::vector<int64_t>{0, 1, 1});
  IntTensor kb({1, 1, 3}, std::vector<int64_t>{1, 1, 0});
  AttentionShape s{1, 1, 1, 3, 3};
  EXPECT_EQ(maskMatrix(Hash{qb, kb, 2}, s, 0, 0).data(),
            (std::vector<int64_t>{0, 0, 1, 1, 1, 0, 1, 1, 0}));
  EXPECT_EQ(maskMatrix(And{{Causal{}, Hash{qb, kb, 2}}}, s, 0, 0).data(),
            (std::vector<int64_t>{0, 0, 0, 1, 1, 0, 1, 1, 0}));
}

TEST(Lsh, HandVectors) {
  // R = I (columns e1, e2), nb = 4: id = argmax(x1, x2, -x1, -x2).
  Tensor r({2, 2}, std::vector<double>{1, 0, 0, 1});
  Tensor x({1, 1, 4, 2},
           std::vector<double>{0.2, -0.9, 3, 1, -1, 0.5, 0.1, 0.7});
  EXPECT_EQ(lshBucketIds(x, r).data(), (std::vector<int64_t>{3, 0, 2, 1}));
  // R columns (1,1)/sqrt2, (1,-1)/sqrt2: x = (-1, 0.2) projects to
  // (-0.566, -0.849, 0.566, 0.849) -> 3.
  double c = 1.0 / std::sqrt(2.0);
  Tensor r2({2, 2}, std::vector<double>{c, c, c, -c});
  Tensor x2({1, 1, 1, 2}, std::vector<double>{-1, 0.2});
  EXPECT_EQ(lshBucketIds(x2, r2).data(), (std::vector<int64_t>{3}));
}

TEST(Lsh, TiesPickTheFirstMaximum) {
  double c = 1.0 / std::sqrt(2.0);
  Tensor r({2, 2}, std::vector<double>{c, c, c, -c});
  // (1, 0) -> (c, c, -c, -c): 0 and 1 tie -> 0. (0, 1) -> (c, -c, -c, c): 0 and
  // 3 tie -> 0. (0, -1) -> (-c, c, c, -c): 1 and 2 tie -> 1. Zero -> all tie ->
  // 0.
  Tensor x({1, 1, 4, 2}, std::vector<double>{1, 0, 0, 1, 0, -1, 0, 0});
  EXPECT_EQ(lshBucketIds(x, r).data(), (std::vector<int64_t>{0, 0, 1, 0}));
  // Two equal columns: the first one wins.
  Tensor same({2, 2}, std::vector<double>{1, 1, 0, 0});
  Tensor y({1, 1, 2, 2}, std::vector<double>{2, 5, -2, 5});
  EXPECT_EQ(lshBucketIds(y, same).data(), (std::vector<int64_t>{0, 2}));
}

TEST(Lsh, UniformScalingOfRDoesNotChangeIds) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Tensor x = randomTensor({2, 3, 20, 6}, seed),
         r = randomTensor({6, 4}, seed + 1);
  Tensor scaled = r;
  for (double &e : scaled.data())
    e *= 3.25;
  IntTensor ids = lshBucketIds(x, r);
  EXPECT_EQ(ids.data(), lshBucketIds(x, scaled).data());
  for (int64_t id : ids.data())
    EXPECT_TRUE(id >= 0 && id < 8);
}

TEST(Drop, AllKeysDroppedGivesZeroAndMinusInf) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Tensor q = randomTensor({1, 2, 5, 4}, seed),
         k = randomTensor({1, 2, 5, 4}, seed + 1),
         v = randomTensor({1, 2, 5, 3}, seed + 2);
  Drop drop{IntTensor({1, 2, 5}, 1), IntTensor({1, 2, 5}, 0)};
  AttentionResult r = attention(q, k, v, And{{Causal{}, drop}});
  EXPECT_TRUE(tensorsNear(r.out, Tensor({1, 2, 5, 3})));
  for (double l : r.lse.data())
    EXPECT_EQ(l, -kInf);
}

TEST(Drop, DroppedQueriesGiveZeroAndMinusInf) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  Tensor q = randomTensor({1, 1, 4, 4}, seed),
         k = randomTensor({1, 1, 4, 4}, seed + 1),
         v = randomTensor({1, 1, 4, 3}, seed + 2);
  Drop drop{IntTensor({1, 1, 4}, std::vector<int64_t>{1, 0, 1, 0}),
            IntTensor({1, 1, 4}, 1)};
  AttentionResult r = attention(q, k, v, And{{Causal{}, drop}});
  AttentionResult c = attention(q, k, v, Causal{});
  for (int64_t i = 0; i < 4; ++i) {
    bool kept = i % 2 == 0;
    EXPECT_EQ(r.lse.at({0, 0, i}), kept ? c.lse.at({0, 0, i}) : -kInf);
    for (int64_t x = 0; x < 3; ++x)
      EXPECT_EQ(r.out.at({0, 0, i, x}), kept ? c.out.at({0, 0, i, x}) : 0.0);
  }
}

/// SEMANTICS.md's compaction strategy: kept queries and keys are compacted
/// with their original positions, causal (bottom-right) is applied on the
/// original positions, results are scattered back; dropped rows stay 0/-inf.
AttentionResult dropByCompaction(const Tensor &q, const Tensor &k,
                                 const Tensor &v, const IntTensor &kq,
                                 const IntTensor &kk) {
  int64_t batch = q.dim(0), hq = q.dim(1), nq = q.dim(2), nk = k.dim(2);
  int64_t d = q.dim(3), dv = v.dim(3), group = q.dim(1) / k.dim(1);
  double scale = 1.0 / std::sqrt(static_cast<double>(d));
  AttentionResult r{Tensor({batch, hq, nq, dv}),
                    Tensor({batch, hq, nq}, -kInf)};
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < hq; ++h) {
      int64_t kvh = h / group;
      std::vector<int64_t> qPos, kPos;
      for (int64_t i = 0; i < nq; ++i)
        if (kq.at({b, h, i}))
          qPos.push_back(i);
      for (int64_t j = 0; j < nk; ++j)
        if (kk.at({b, kvh, j}))
          kPos.push_back(j);
      for (int64_t i : qPos) {
        OnlineRow row(dv);
        for (int64_t j : kPos) {
          if (j > i + nk - nq)
            break; // Compacted keys are in increasing position.
          double dot = 0.0;
          for (int64_t x = 0; x < d; ++x)
            dot += q.at({b, h, i, x}) * k.at({b, kvh, j, x});
          row.add(scale * dot, [&](int64_t x) { return v.at({b, kvh, j, x}); });
        }
        r.lse.at({b, h, i}) = row.lse();
        for (int64_t x = 0; x < dv; ++x)
          r.out.at({b, h, i, x}) = row.out(x);
      }
    }
  return r;
}

TEST(Drop, MatchesCompaction) {
  uint64_t seed = freshSeed();
  ATTN_SEED_TRACE(seed);
  for (auto [nq, nk] :
       {std::pair<int64_t, int64_t>{23, 23}, {11, 29}, {19, 7}}) {
    SCOPED_TRACE("Nq = " + std::to_string(nq) + ", Nk = " + std::to_string(nk));
    Tensor q = randomTensor({2, 4, nq, 8}, seed, -2, 2),
           k = randomTensor({2, 2, nk, 8}, seed + 1, -2, 2),
           v = randomTensor({2, 2, nk, 5}, seed + 2);
    IntTensor kq = randomIntTensor({2, 4, nq}, seed + 3, 0, 2);
    IntTensor kk = randomIntTensor({2, 2, nk}, seed + 4, 0, 2);
    AttentionResult r = attention(q, k, v, And{{Causal{}, Drop{kq, kk}}});
    AttentionResult e = dropByCompaction(q, k, v, kq, kk);
    EXPECT_FALSE(hasNaN(r.out));
    EXPECT_TRUE(tensorsNear(r.out, e.out));
    EXPECT_TRUE(tensorsNear(r.lse, e.lse));
  }
}

TEST(HashDrop, ValidationNamesTheArgument) {
  Tensor q({1, 2, 3, 4}), k({1, 1, 3, 4}), v({1, 1, 3, 2});
  IntTensor qb({1, 2, 3}), kb({1, 1, 3});
  EXPECT_TRUE(throwsNaming(
      [&] {
        attention(q, k, v, Hash{qb, IntTensor({1, 2, 3}), 2});
      },
      "mask.Hash.keyBuckets"));
  IntTensor high = qb;
  high.data()[1] = 2;
  EXPECT_TRUE(throwsNaming(
      [&] {
        attention(q, k, v, Hash{high, kb, 2});
      },
      "mask.Hash.queryBuckets"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        attention(q, k, v, Hash{qb, kb, 0});
      },
      "mask.Hash.numBuckets"));
  IntTensor two({1, 1, 3}, 2);
  EXPECT_TRUE(throwsNaming(
      [&] {
        attention(q, k, v, Drop{IntTensor({1, 2, 3}), two});
      },
      "mask.Drop.keepKeys"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        lshBucketIds(q, Tensor({3, 2}));
      },
      "'rotation'"));
  EXPECT_TRUE(throwsNaming(
      [&] {
        lshBucketIds(Tensor({3, 4}), Tensor({4, 2}));
      },
      "'x'"));
}

} // namespace
