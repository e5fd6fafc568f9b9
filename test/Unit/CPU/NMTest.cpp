//===- NMTest.cpp - N:M pruned attention through attn-lower-to-cpu --------===//
//
// L0 kernels with attn.mask.nm go through the whole CPU pipeline (attn-plan:
// nm(n of m) on the plan; attn-tile: on the fused step; attn-to-cpu: the
// decomposition's attn.tile.prune between the mask and the softmax) and
// are compared with the f64 reference of the same mask (lib/Reference).
//
// The selection depends on near-ties, which the kernel (f32 scores) and
// the reference (f64) may round apart, so the two checks are separate:
//  - MatchesReference: inputs whose kept set is unambiguous. Dimension 0
//    carries the order: K[j, 0] is a level in [0, m) (a permutation inside
//    each group, so the kept positions differ from group to group) and
//    Q[i, 0] = +-2 (the sign flips the order from row to row); the other
//    dimensions are at most 0.05 in magnitude, so two keys of a group
//    differ in score by at least 2 - 2 (D - 1) 0.05^2 > 1.6 (before the
//    scale), far above any rounding of the dtype. Some groups copy a key
//    onto its neighbour: an exact tie in every arithmetic, which the rule
//    breaks towards the lower key. Patterns 1:2, 2:4, 1:4, 2:8, 4:8, with
//    and without causal, window and custom bases (groups partly masked),
//    N not a multiple of m or of the tiles, Nq != Nk, GQA, f32 and bf16.
//  - KeptSetIsValidTopN: random inputs, V = the identity (Nk <= D), so
//    that O[i, j] is the probability of key j and the kept set is
//    {j : O[i, j] > 0}. In every group it must hold exactly min(n,
//    allowed) allowed keys, and no pruned allowed key may beat a kept one
//    by more than the rounding of a score (1e-5 relative to the largest
//    |score| of the row, f32 inputs): the kernel's choice is a valid top-n
//    for scores within rounding.
//
//===----------------------------------------------------------------------===//

#include "Check.h"
#include "JitHarness.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

using namespace attn;
using namespace attn::cputest;

namespace {

enum class Base { None, Causal, Window, EvenKeys };

struct NMCase {
  Problem problem;
  int64_t keep = 2, group = 4;
  Base base = Base::None;
};

std::string baseName(Base base) {
  switch (base) {
  case Base::None:
    return "full";
  case Base::Causal:
    return "causal";
  case Base::Window:
    return "window";
  case Base::EvenKeys:
    return "evenkeys";
  }
  return "?";
}

std::string caseName(const NMCase &c) {
  std::ostringstream os;
  os << problemName(c.problem) << "_nm" << c.keep << "of" << c.group << "_"
     << baseName(c.base);
  return os.str();
}

void PrintTo(const NMCase &c, std::ostream *os) { *os << caseName(c); }

constexpr int64_t kWindow = 24;

/// The L0 kernel: attn.attention with attn.mask.nm over the case's base.
std::string nmKernelIR(const NMCase &c) {
  const Problem &p = c.problem;
  std::string t = p.dtype == DType::F32 ? "f32" : "bf16";
  std::string act = "memref<?x?x?x" + std::to_string(p.headDim) + "x" + t + ">";
  std::ostringstream os;
  os << "func.func @nm_kernel(%q: " << act << ", %k: " << act << ", %v: " << act
     << ", %o: " << act
     << ", %lse: memref<?x?x?xf32>) attributes {llvm.emit_c_interface} {\n";
  std::string base;
  switch (c.base) {
  case Base::None:
    break;
  case Base::Causal:
    os << "  %base = attn.mask.causal\n";
    base = " base(%base)";
    break;
  case Base::Window:
    os << "  %base = attn.mask.window " << kWindow << "\n";
    base = " base(%base)";
    break;
  case Base::EvenKeys:
    os << "  %c = attn.mask.causal\n"
       << "  %even = attn.mask.custom (%i, %j) {\n"
       << "    %two = arith.constant 2 : index\n"
       << "    %zero = arith.constant 0 : index\n"
       << "    %r = arith.remui %j, %two : index\n"
       << "    %ok = arith.cmpi eq, %r, %zero : index\n"
       << "    attn.yield %ok : i1\n"
       << "  }\n"
       << "  %base = attn.mask.and %c, %even\n";
    base = " base(%base)";
    break;
  }
  os << "  %p = attn.mask.nm " << c.keep << " of " << c.group << base << "\n"
     << "  attn.attention ins(%q, %k, %v : " << act << ", " << act << ", "
     << act << ") outs(%o : " << act << ") lse(%lse : memref<?x?x?xf32>) "
     << "mask(%p)\n"
     << "  return\n"
     << "}\n";
  return os.str();
}

/// The reference mask of the case.
reference::Mask referenceMaskOf(const NMCase &c) {
  switch (c.base) {
  case Base::None:
    return reference::NM(c.keep, c.group);
  case Base::Causal:
    return reference::NM(c.keep, c.group, reference::Causal{});
  case Base::Window:
    return reference::NM(c.keep, c.group, reference::Window{kWindow});
  case Base::EvenKeys: {
    std::vector<reference::Mask> children;
    children.emplace_back(reference::Causal{});
    children.emplace_back(
        reference::Custom{[](int64_t, int64_t j) { return j % 2 == 0; }, {}});
    return reference::NM(c.keep, c.group, reference::And{std::move(children)});
  }
  }
  return reference::NM(c.keep, c.group);
}

/// Rewrites Q and K so that every group's order is unambiguous (see the
/// file comment), with some exact ties.
void makeUnambiguous(RunBuffers &run, int64_t group, uint64_t seed) {
  std::mt19937_64 random(seed ^ 0x5eedull);
  std::uniform_real_distribution<double> small(-0.05, 0.05);
  std::bernoulli_distribution flip(0.5), tie(0.25);
  for (double &x : run.q.data())
    x = small(random);
  for (double &x : run.k.data())
    x = small(random);
  int64_t headDim = run.q.dim(3);
  int64_t rows = run.q.numel() / headDim;
  for (int64_t r = 0; r < rows; ++r)
    run.q.data()[r * headDim] = flip(random) ? 2.0 : -2.0;
  int64_t batch = run.k.dim(0), heads = run.k.dim(1), keys = run.k.dim(2);
  for (int64_t bh = 0; bh < batch * heads; ++bh)
    for (int64_t g0 = 0; g0 < keys; g0 += group) {
      std::vector<double> levels(group);
      std::iota(levels.begin(), levels.end(), 0.0);
      std::shuffle(levels.begin(), levels.end(), random);
      double *first = run.k.data().data() + (bh * keys + g0) * headDim;
      for (int64_t i = 0; i < group && g0 + i < keys; ++i)
        first[i * headDim] = levels[i];
      if (g0 + 1 < keys && tie(random))
        std::copy(first, first + headDim, first + headDim);
    }
}

NMCase make(DType dtype, int64_t keep, int64_t group, Base base, int64_t b,
            int64_t hq, int64_t hk, int64_t nq, int64_t nk, int64_t blockQ,
            int64_t blockK) {
  NMCase c;
  Problem &p = c.problem;
  p.dtype = dtype;
  p.headDim = 64;
  p.batch = b;
  p.queryHeads = hq;
  p.kvHeads = hk;
  p.queryLen = nq;
  p.keyLen = nk;
  p.blockQ = blockQ;
  p.blockK = blockK;
  c.keep = keep;
  c.group = group;
  c.base = base;
  return c;
}

std::vector<NMCase> nmCases() {
  std::vector<NMCase> cases;
  // Every pattern, full and causal; N = 77 is a multiple of neither m nor
  // the tiles.
  for (auto [keep, group] :
       {std::pair<int64_t, int64_t>{1, 2}, {2, 4}, {1, 4}, {2, 8}, {4, 8}})
    for (Base base : {Base::None, Base::Causal})
      cases.push_back(
          make(DType::F32, keep, group, base, 1, 2, 2, 77, 77, 32, 32));
  // bf16, GQA, Nq != Nk (Nq > Nk: rows with no key under causal).
  cases.push_back(
      make(DType::BF16, 2, 4, Base::Causal, 2, 4, 2, 90, 61, 64, 32));
  cases.push_back(
      make(DType::BF16, 1, 2, Base::None, 1, 4, 1, 45, 130, 16, 64));
  // Groups partly masked: a window whose edge cuts groups, and even keys
  // only (each group of 4 has 2 allowed keys: 2:4 keeps both, 1:4 one).
  cases.push_back(
      make(DType::F32, 2, 4, Base::Window, 1, 2, 1, 100, 100, 32, 16));
  cases.push_back(
      make(DType::F32, 2, 8, Base::Window, 1, 1, 1, 64, 100, 16, 32));
  cases.push_back(
      make(DType::F32, 2, 4, Base::EvenKeys, 1, 2, 2, 70, 70, 32, 32));
  cases.push_back(
      make(DType::F32, 1, 4, Base::EvenKeys, 1, 1, 1, 70, 70, 16, 16));
  return cases;
}

class NMTest : public ::testing::TestWithParam<NMCase> {};

TEST_P(NMTest, MatchesReference) {
  const NMCase &c = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("reproduce with ATTN_TEST_SEED=" + std::to_string(seed));
  std::string error;
  const Kernel *kernel = compileKernel(
      nmKernelIR(c), "attn-lower-to-cpu{" + pipelineOptions(c.problem) + "}",
      "nm_kernel", error);
  ASSERT_NE(kernel, nullptr) << error;
  RunBuffers run;
  error = runProblem(*kernel, c.problem, seed, run, {}, [&](RunBuffers &run) {
    makeUnambiguous(run, c.group, seed);
  });
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_TRUE(matchesReference(
      c.problem, run, referenceResult(c.problem, run, referenceMaskOf(c))));
}

INSTANTIATE_TEST_SUITE_P(L0, NMTest, ::testing::ValuesIn(nmCases()),
                         [](const ::testing::TestParamInfo<NMCase> &info) {
                           return caseName(info.param);
                         });

/// Random inputs: the kernel's kept set is a valid top-n within rounding.
class NMKeptSetTest : public ::testing::TestWithParam<NMCase> {};

TEST_P(NMKeptSetTest, KeptSetIsValidTopN) {
  const NMCase &c = GetParam();
  const Problem &p = c.problem;
  ASSERT_LE(p.keyLen, p.headDim) << "V = identity needs Nk <= D";
  uint64_t seed = testSeed();
  SCOPED_TRACE("reproduce with ATTN_TEST_SEED=" + std::to_string(seed));
  std::string error;
  const Kernel *kernel = compileKernel(
      nmKernelIR(c), "attn-lower-to-cpu{" + pipelineOptions(p) + "}",
      "nm_kernel", error);
  ASSERT_NE(kernel, nullptr) << error;
  RunBuffers run;
  error = runProblem(*kernel, p, seed, run, {}, [&](RunBuffers &run) {
    std::fill(run.v.data().begin(), run.v.data().end(), 0.0);
    for (int64_t bh = 0; bh < p.batch * p.kvHeads; ++bh)
      for (int64_t j = 0; j < p.keyLen; ++j)
        run.v.data()[(bh * p.keyLen + j) * p.headDim + j] = 1.0;
  });
  ASSERT_TRUE(error.empty()) << error;
  double scale = 1.0 / std::sqrt(double(p.headDim));
  int64_t group = p.queryHeads / p.kvHeads;
  int64_t checkedGroups = 0;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.queryHeads; ++h)
      for (int64_t i = 0; i < p.queryLen; ++i) {
        auto score = [&](int64_t j) {
          double s = 0;
          for (int64_t d = 0; d < p.headDim; ++d)
            s += run.q.data()[((b * p.queryHeads + h) * p.queryLen + i) *
                                  p.headDim +
                              d] *
                 run.k.data()[((b * p.kvHeads + h / group) * p.keyLen + j) *
                                  p.headDim +
                              d];
          return s * scale;
        };
        double rowMagnitude = 0;
        for (int64_t j = 0; j < p.keyLen; ++j)
          rowMagnitude = std::max(rowMagnitude, std::fabs(score(j)));
        double tolerance = 1e-5 * rowMagnitude + 1e-7;
        int64_t diagonal = i + p.keyLen - p.queryLen;
        auto allowed = [&](int64_t j) {
          return c.base != Base::Causal || j <= diagonal;
        };
        const float *row =
            run.out.data() +
            ((b * p.queryHeads + h) * p.queryLen + i) * p.headDim;
        for (int64_t g0 = 0; g0 < p.keyLen; g0 += c.group) {
          std::vector<int64_t> kept, pruned;
          for (int64_t j = g0; j < std::min(g0 + c.group, p.keyLen); ++j) {
            if (!allowed(j)) {
              EXPECT_EQ(row[j], 0.0f) << "disallowed key " << j << " of row "
                                      << i << " has probability " << row[j];
              continue;
            }
            ASSERT_FALSE(std::isnan(row[j]));
            (row[j] > 0.0f ? kept : pruned).push_back(j);
          }
          int64_t allowedCount = kept.size() + pruned.size();
          EXPECT_EQ(static_cast<int64_t>(kept.size()),
                    std::min<int64_t>(c.keep, allowedCount))
              << "row " << i << ", group at key " << g0;
          for (int64_t a : kept)
            for (int64_t x : pruned)
              EXPECT_LE(score(x), score(a) + tolerance)
                  << "row " << i << ": pruned key " << x << " beats kept key "
                  << a;
          ++checkedGroups;
        }
      }
  EXPECT_GT(checkedGroups, 0);
}

std::vector<NMCase> keptSetCases() {
  return {make(DType::F32, 2, 4, Base::None, 1, 2, 1, 33, 62, 16, 32),
          make(DType::F32, 2, 8, Base::Causal, 2, 2, 2, 50, 64, 32, 16),
          make(DType::F32, 1, 2, Base::Causal, 1, 1, 1, 64, 64, 64, 64),
          make(DType::F32, 4, 8, Base::None, 1, 1, 1, 17, 57, 16, 16)};
}

INSTANTIATE_TEST_SUITE_P(L0, NMKeptSetTest, ::testing::ValuesIn(keptSetCases()),
                         [](const ::testing::TestParamInfo<NMCase> &info) {
                           return caseName(info.param);
                         });

} // namespace
