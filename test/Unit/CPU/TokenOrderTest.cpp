//===- TokenOrderTest.cpp - hash and drop masks through attn-lower-to-cpu -===//
//
// L0 kernels with attn.mask.hash or attn.mask.drop (alone, with causal,
// with a window, with a custom predicate) go through the whole CPU
// pipeline: attn-plan plans a `list` schedule over sorted tokens,
// attn-tile sorts the tokens by class (attn.token_order), builds the lists
// (attn.ordered_tile_lists) and the list-scheduled fused steps with orders,
// attn-to-cpu lowers all of it. Outputs are compared with the f64
// reference of the same mask (tolerances in Check.h) on fresh random
// inputs: bucket counts 1, 2, 8 and 64, uniform random buckets, all
// buckets equal (equal to causal attention), all distinct; keep ratios 0,
// 0.3, 0.5 and 1, every key dropped; N not a multiple of the tiles;
// Nq != Nk; GQA. Bucket ids outside [0, nb), on either side, are bad
// input: the kernel leaves O and LSE untouched (still the poison). Some
// cases copy Q, K and V into sorted order first (gather-rows). A last
// test computes the buckets with attn.lsh in the same kernel and checks
// them against reference::lshBucketIds.
//
//===----------------------------------------------------------------------===//

#include "Check.h"
#include "JitHarness.h"

#include "attn/Reference/Reference.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

using namespace attn;
using namespace attn::cputest;

namespace {

enum class Keys {
  RandomBuckets,   ///< uniform in [0, buckets)
  EqualBuckets,    ///< every token in bucket 0
  DistinctBuckets, ///< token n in bucket n (buckets >= N)
  OutOfRange,      ///< random buckets, one id outside [0, buckets) on the
                   ///< query side (badQueries) or the key side
  KeepFlags,       ///< attn.mask.drop with keep ratio `keep`
  NoKeyKept,       ///< attn.mask.drop, every key dropped
};

struct OrderCase {
  Problem problem;
  Keys keys = Keys::RandomBuckets;
  int64_t buckets = 8;
  double keep = 0.5;
  bool causal = true;
  /// Also and-ed with a window of 24 keys.
  bool window = false;
  /// Also and-ed with a custom predicate (even keys only).
  bool evenKeys = false;
  /// Keys::OutOfRange: the bad id is a query's (else a key's).
  bool badQueries = false;
  /// Q, K and V copied into sorted order first (attn-tile gather-rows).
  bool gatherRows = false;
};

std::string caseName(const OrderCase &c) {
  static const char *kKeys[] = {"random",     "equal", "distinct",
                                "outofrange", "keep",  "nokey"};
  std::ostringstream os;
  os << problemName(c.problem) << "_" << kKeys[static_cast<int>(c.keys)];
  if (c.keys == Keys::KeepFlags)
    os << static_cast<int>(c.keep * 100);
  else if (c.keys != Keys::NoKeyKept)
    os << "_nb" << c.buckets;
  os << (c.causal ? "_causal" : "") << (c.window ? "_window" : "")
     << (c.evenKeys ? "_evenkeys" : "");
  if (c.keys == Keys::OutOfRange)
    os << (c.badQueries ? "_query" : "_key");
  if (c.gatherRows)
    os << "_gather";
  return os.str();
}

void PrintTo(const OrderCase &c, std::ostream *os) { *os << caseName(c); }

bool isDrop(const OrderCase &c) {
  return c.keys == Keys::KeepFlags || c.keys == Keys::NoKeyKept;
}

/// The L0 kernel: one attn.attention with and(hash or drop, causal?,
/// window?, custom?).
std::string orderKernelIR(const OrderCase &c) {
  const Problem &p = c.problem;
  std::string t = p.dtype == DType::F32 ? "f32" : "bf16";
  std::string act = "memref<?x?x?x" + std::to_string(p.headDim) + "x" + t + ">";
  std::string keys = isDrop(c) ? "memref<?x?x?xi1>" : "memref<?x?x?xi32>";
  std::ostringstream os;
  os << "func.func @order_kernel(%q: " << act << ", %k: " << act
     << ", %v: " << act << ", %o: " << act
     << ", %lse: memref<?x?x?xf32>, %qk: " << keys << ", %kk: " << keys
     << ") attributes {llvm.emit_c_interface} {\n";
  if (isDrop(c))
    os << "  %order = attn.mask.drop %qk, %kk : " << keys << ", " << keys
       << "\n";
  else
    os << "  %order = attn.mask.hash %qk, %kk buckets(" << c.buckets
       << ") : " << keys << ", " << keys << "\n";
  std::string combined = "%order";
  if (c.causal) {
    os << "  %causal = attn.mask.causal\n";
    combined += ", %causal";
  }
  if (c.window) {
    os << "  %window = attn.mask.window 24\n";
    combined += ", %window";
  }
  if (c.evenKeys) {
    os << "  %even = attn.mask.custom (%i, %j) {\n"
       << "    %two = arith.constant 2 : index\n"
       << "    %zero = arith.constant 0 : index\n"
       << "    %r = arith.remui %j, %two : index\n"
       << "    %ok = arith.cmpi eq, %r, %zero : index\n"
       << "    attn.yield %ok : i1\n"
       << "  }\n";
    combined += ", %even";
  }
  std::string used = "%order";
  if (combined != "%order") {
    os << "  %mask = attn.mask.and " << combined << "\n";
    used = "%mask";
  }
  os << "  attn.attention ins(%q, %k, %v : " << act << ", " << act << ", "
     << act << ") outs(%o : " << act << ") lse(%lse : memref<?x?x?xf32>) mask("
     << used << ")\n"
     << "  return\n"
     << "}\n";
  return os.str();
}

/// The per-token keys of one side ([B, heads, length]).
reference::IntTensor drawKeys(const OrderCase &c, int64_t heads, int64_t length,
                              bool isKeySide, std::mt19937_64 &random) {
  const Problem &p = c.problem;
  reference::IntTensor keys({p.batch, heads, length});
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::uniform_int_distribution<int64_t> bucket(0, c.buckets - 1);
  std::vector<int64_t> &data = keys.data();
  for (size_t n = 0; n < data.size(); ++n) {
    int64_t position = static_cast<int64_t>(n) % length;
    switch (c.keys) {
    case Keys::RandomBuckets:
      data[n] = bucket(random);
      break;
    case Keys::EqualBuckets:
      data[n] = 0;
      break;
    case Keys::DistinctBuckets:
      data[n] = position;
      break;
    case Keys::OutOfRange:
      data[n] = bucket(random);
      break;
    case Keys::KeepFlags:
      data[n] = uniform(random) < c.keep ? 1 : 0;
      break;
    case Keys::NoKeyKept:
      data[n] = isKeySide ? 0 : 1;
      break;
    }
  }
  // One id just outside the range, below or above it, on the chosen side.
  if (c.keys == Keys::OutOfRange && isKeySide != c.badQueries) {
    std::uniform_int_distribution<size_t> at(0, data.size() - 1);
    data[at(random)] = uniform(random) < 0.5 ? -1 : c.buckets;
  }
  return keys;
}

IntArgument toArgument(const reference::IntTensor &keys, bool bytes) {
  IntArgument argument;
  argument.shape = keys.shape();
  argument.bytes = bytes;
  for (int64_t value : keys.data())
    argument.data.push_back(static_cast<int32_t>(value));
  return argument;
}

OrderCase make(DType dtype, int64_t headDim, int64_t b, int64_t hq, int64_t hk,
               int64_t nq, int64_t nk, int64_t blockQ, int64_t blockK,
               Keys keys, int64_t buckets) {
  OrderCase c;
  Problem &p = c.problem;
  p.dtype = dtype;
  p.headDim = headDim;
  p.batch = b;
  p.queryHeads = hq;
  p.kvHeads = hk;
  p.queryLen = nq;
  p.keyLen = nk;
  p.blockQ = blockQ;
  p.blockK = blockK;
  c.keys = keys;
  c.buckets = buckets;
  return c;
}

std::vector<OrderCase> orderCases() {
  std::vector<OrderCase> cases;
  // Bucket counts 1, 2, 8, 64; N not a multiple of the tiles.
  for (int64_t buckets : {1, 2, 8, 64})
    cases.push_back(make(DType::F32, 64, 1, 2, 2, 100, 100, 16, 16,
                         Keys::RandomBuckets, buckets));
  // bf16, D = 128, GQA, Nq != Nk, batch 2.
  cases.push_back(
      make(DType::BF16, 128, 2, 4, 2, 70, 90, 32, 16, Keys::RandomBuckets, 4));
  // Nq > Nk: rows with no key at all under causal.
  cases.push_back(
      make(DType::F32, 64, 1, 2, 1, 90, 40, 16, 16, Keys::RandomBuckets, 2));
  // All equal: causal attention. All distinct: the diagonal only.
  cases.push_back(
      make(DType::F32, 64, 1, 1, 1, 77, 77, 32, 16, Keys::EqualBuckets, 4));
  cases.push_back(
      make(DType::F32, 64, 1, 1, 1, 50, 50, 16, 16, Keys::DistinctBuckets, 50));
  // An id out of range, on the key side (GQA) and on the query side.
  cases.push_back(
      make(DType::F32, 64, 1, 2, 1, 60, 60, 16, 16, Keys::OutOfRange, 3));
  OrderCase badQuery =
      make(DType::BF16, 64, 2, 2, 2, 45, 70, 16, 16, Keys::OutOfRange, 8);
  badQuery.badQueries = true;
  cases.push_back(badQuery);
  // Without causal; with a window; with a further custom predicate.
  OrderCase full =
      make(DType::F32, 64, 1, 2, 2, 65, 65, 16, 32, Keys::RandomBuckets, 4);
  full.causal = false;
  cases.push_back(full);
  OrderCase window =
      make(DType::F32, 64, 1, 1, 1, 120, 120, 16, 16, Keys::RandomBuckets, 2);
  window.window = true;
  cases.push_back(window);
  OrderCase even =
      make(DType::BF16, 64, 1, 2, 1, 81, 81, 16, 16, Keys::RandomBuckets, 2);
  even.evenKeys = true;
  cases.push_back(even);
  // Keep ratios 0, 0.3, 0.5, 1; every key dropped.
  for (double keep : {0.0, 0.3, 0.5, 1.0}) {
    OrderCase drop =
        make(DType::F32, 64, 1, 2, 2, 100, 100, 16, 16, Keys::KeepFlags, 1);
    drop.keep = keep;
    cases.push_back(drop);
  }
  OrderCase dropGqa =
      make(DType::BF16, 64, 2, 4, 2, 70, 97, 32, 16, Keys::KeepFlags, 1);
  dropGqa.keep = 0.3;
  cases.push_back(dropGqa);
  cases.push_back(
      make(DType::F32, 64, 1, 1, 1, 40, 40, 16, 16, Keys::NoKeyKept, 1));
  // Q, K and V gathered into sorted order first: hash with GQA and
  // Nq != Nk, drop, and a bad id (still nothing written).
  for (OrderCase gathered :
       {make(DType::BF16, 64, 2, 4, 2, 70, 90, 32, 16, Keys::RandomBuckets, 4),
        make(DType::F32, 64, 1, 2, 2, 100, 100, 16, 16, Keys::KeepFlags, 1),
        make(DType::F32, 64, 1, 2, 1, 60, 60, 16, 16, Keys::OutOfRange, 3)}) {
    gathered.gatherRows = true;
    cases.push_back(gathered);
  }
  return cases;
}

class TokenOrderTest : public ::testing::TestWithParam<OrderCase> {};

TEST_P(TokenOrderTest, MatchesReference) {
  const OrderCase &c = GetParam();
  const Problem &p = c.problem;
  uint64_t seed = testSeed();
  SCOPED_TRACE("reproduce with ATTN_TEST_SEED=" + std::to_string(seed));
  std::string error;
  const Kernel *kernel =
      compileKernel(orderKernelIR(c),
                    "attn-lower-to-cpu{" + pipelineOptions(p) +
                        (c.gatherRows ? " gather-rows=true" : "") + "}",
                    "order_kernel", error);
  ASSERT_NE(kernel, nullptr) << error;

  std::mt19937_64 random(seed ^ 0x5eedu);
  reference::IntTensor queryKeys =
      drawKeys(c, p.queryHeads, p.queryLen, /*isKeySide=*/false, random);
  reference::IntTensor keyKeys =
      drawKeys(c, p.kvHeads, p.keyLen, /*isKeySide=*/true, random);

  std::vector<reference::Mask> children;
  if (isDrop(c)) {
    children.emplace_back(reference::Drop{queryKeys, keyKeys});
  } else {
    children.emplace_back(reference::Hash{queryKeys, keyKeys, c.buckets});
  }
  if (c.causal)
    children.emplace_back(reference::Causal{});
  if (c.window)
    children.emplace_back(reference::Window{24});
  if (c.evenKeys)
    children.emplace_back(
        reference::Custom{[](int64_t, int64_t j) { return j % 2 == 0; }, {}});
  reference::And mask{std::move(children)};

  RunBuffers run;
  error = runProblem(
      *kernel, p, seed, run,
      {toArgument(queryKeys, isDrop(c)), toArgument(keyKeys, isDrop(c))});
  ASSERT_TRUE(error.empty()) << error;
  if (c.keys == Keys::OutOfRange) {
    // Bad input: nothing written, every element still the NaN poison.
    size_t written = 0;
    for (float value : run.out)
      written += !std::isnan(value);
    for (float value : run.lse)
      written += !std::isnan(value);
    EXPECT_EQ(written, 0u) << "elements of O and LSE written despite a "
                              "bucket id out of range";
    return;
  }
  EXPECT_TRUE(matchesReference(p, run, referenceResult(p, run, mask)));
}

INSTANTIATE_TEST_SUITE_P(L0, TokenOrderTest, ::testing::ValuesIn(orderCases()),
                         [](const ::testing::TestParamInfo<OrderCase> &info) {
                           return caseName(info.param);
                         });

/// attn.lsh in the same kernel as the hash attention: the ids it writes
/// must be a first maximum of (x R, -x R) up to f32 rounding (checked
/// against reference::lshBucketIds in f64: a different id must score
/// within 1e-4 of the best), and the attention must match the reference
/// run with the kernel's own ids.
TEST(TokenOrderLsh, BucketsAndAttention) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("reproduce with ATTN_TEST_SEED=" + std::to_string(seed));
  Problem p;
  p.dtype = DType::BF16;
  p.headDim = 64;
  p.batch = 2;
  p.queryHeads = 2;
  p.kvHeads = 1;
  p.queryLen = p.keyLen = 75;
  p.blockQ = p.blockK = 16;
  const int64_t columns = 4; // 8 buckets
  std::string act = "memref<?x?x?x64xbf16>";
  std::ostringstream ir;
  ir << "func.func @lsh_kernel(%q: " << act << ", %k: " << act
     << ", %v: " << act << ", %o: " << act
     << ", %lse: memref<?x?x?xf32>, %rotation: memref<64x4xf32>, "
        "%qb: memref<?x?x?xi32>, %kb: memref<?x?x?xi32>) attributes "
        "{llvm.emit_c_interface} {\n"
     << "  attn.lsh ins(%q, %rotation : " << act
     << ", memref<64x4xf32>) outs(%qb : memref<?x?x?xi32>)\n"
     << "  attn.lsh ins(%k, %rotation : " << act
     << ", memref<64x4xf32>) outs(%kb : memref<?x?x?xi32>)\n"
     << "  %causal = attn.mask.causal\n"
     << "  %hash = attn.mask.hash %qb, %kb buckets(8) : memref<?x?x?xi32>, "
        "memref<?x?x?xi32>\n"
     << "  %mask = attn.mask.and %causal, %hash\n"
     << "  attn.attention ins(%q, %k, %v : " << act << ", " << act << ", "
     << act << ") outs(%o : " << act
     << ") lse(%lse : memref<?x?x?xf32>) mask(%mask)\n"
     << "  return\n}\n";
  std::string error;
  const Kernel *kernel =
      compileKernel(ir.str(), "attn-lower-to-cpu{" + pipelineOptions(p) + "}",
                    "lsh_kernel", error);
  ASSERT_NE(kernel, nullptr) << error;

  // A rotation with L2-normalised columns, passed as the bit patterns of
  // its f32 values (an IntArgument is 4-byte elements; the kernel reads
  // them as f32).
  reference::Tensor rotation =
      reference::randomTensor({p.headDim, columns}, seed * 7 + 11, -1.0, 1.0);
  for (int64_t c = 0; c < columns; ++c) {
    double norm = 0;
    for (int64_t d = 0; d < p.headDim; ++d)
      norm += rotation.at({d, c}) * rotation.at({d, c});
    for (int64_t d = 0; d < p.headDim; ++d)
      rotation.at({d, c}) =
          static_cast<float>(rotation.at({d, c}) / std::sqrt(norm));
  }
  IntArgument rotationArgument;
  rotationArgument.shape = {p.headDim, columns};
  for (double value : rotation.data()) {
    float f = static_cast<float>(value);
    int32_t bits;
    std::memcpy(&bits, &f, sizeof(bits));
    rotationArgument.data.push_back(bits);
  }
  IntArgument queryIds, keyIds;
  queryIds.shape = {p.batch, p.queryHeads, p.queryLen};
  queryIds.data.assign(p.batch * p.queryHeads * p.queryLen, -1);
  keyIds.shape = {p.batch, p.kvHeads, p.keyLen};
  keyIds.data.assign(p.batch * p.kvHeads * p.keyLen, -1);
  std::vector<IntArgument> extra = {rotationArgument, queryIds, keyIds};
  RunBuffers run;
  error = runProblem(*kernel, p, seed, run, extra);
  ASSERT_TRUE(error.empty()) << error;

  auto checkIds = [&](const reference::Tensor &x, const IntArgument &ids,
                      const char *side) {
    reference::IntTensor expected = reference::lshBucketIds(x, rotation);
    int64_t tokens = static_cast<int64_t>(ids.data.size());
    int64_t headDim = x.dim(3);
    for (int64_t n = 0; n < tokens; ++n) {
      int64_t got = ids.data[n];
      ASSERT_TRUE(got >= 0 && got < 2 * columns)
          << side << " token " << n << ": id " << got << " never written";
      if (got == expected.data()[n])
        continue;
      auto score = [&](int64_t id) {
        double projection = 0;
        for (int64_t d = 0; d < headDim; ++d)
          projection +=
              x.data()[n * headDim + d] * rotation.at({d, id % columns});
        return id < columns ? projection : -projection;
      };
      EXPECT_NEAR(score(got), score(expected.data()[n]), 1e-4)
          << side << " token " << n << ": id " << got << " is not a maximum";
    }
  };
  checkIds(run.q, extra[1], "query");
  checkIds(run.k, extra[2], "key");

  auto toTensor = [](const IntArgument &ids) {
    std::vector<int64_t> values(ids.data.begin(), ids.data.end());
    return reference::IntTensor(ids.shape, values);
  };
  std::vector<reference::Mask> children;
  children.emplace_back(reference::Causal{});
  children.emplace_back(
      reference::Hash{toTensor(extra[1]), toTensor(extra[2]), 2 * columns});
  reference::And mask{std::move(children)};
  EXPECT_TRUE(matchesReference(p, run, referenceResult(p, run, mask)));
}

} // namespace
