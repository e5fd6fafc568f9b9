//===- FloodFillTest.cpp - SPION's pattern derivation on the CPU ----------===//
//
// attn.flood_fill (SPION-CF, SPION-F, SPION-C) through attn-lower-to-cpu,
// JIT-compiled and compared with lib/Reference's spionBlockMask. The maps
// have sums that are exact in f32 (small integers, and tie-heavy dyadic
// values), so the lowering, which sums in f32 in another order than the f64
// reference, must agree bit for bit (SEMANTICS.md, "Flood fill": exact
// comparisons on such maps). Block maps of one block, filter sizes 1, 5 and
// 31, and i1 and i8 masks are covered.
//
//===----------------------------------------------------------------------===//

#include "JitHarness.h"

#include "attn/Reference/Reference.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include "gtest/gtest.h"

#include <random>
#include <sstream>

using namespace attn;
using namespace attn::cputest;

namespace {

/// The CPU pipeline for an IR of flood_fill alone.
constexpr const char *kPipeline = "attn-lower-to-cpu";

/// Small integers; dyadic values 0, 0.25, 0.5; or one value of 0, 1, 2
/// per block, so that block averages tie often (the walks' tie rules).
enum class MapKind { Integers, Dyadic, BlockTies };

struct FloodCase {
  int64_t n = 256;
  int64_t blockSize = 32;
  int64_t convSize = 31;
  double quantile = 0.9;
  reference::SpionVariant variant = reference::SpionVariant::CF;
  double density = 0.3;
  MapKind map = MapKind::Integers;
  bool boolean = false; ///< An i1 mask instead of i8.
};

std::string caseName(const FloodCase &c) {
  std::ostringstream os;
  os << (c.variant == reference::SpionVariant::CF  ? "cf"
         : c.variant == reference::SpionVariant::F ? "f"
                                                   : "c")
     << "_n" << c.n << "_bs" << c.blockSize << "_conv" << c.convSize << "_q"
     << static_cast<int>(c.quantile * 100)
     << (c.map == MapKind::Integers ? "_integers"
         : c.map == MapKind::Dyadic ? "_dyadic"
                                    : "_blockties")
     << (c.boolean ? "_i1" : "_i8");
  return os.str();
}

void PrintTo(const FloodCase &c, std::ostream *os) { *os << caseName(c); }

/// A float attribute's text (always with a decimal point).
std::string floatText(double value) {
  std::ostringstream os;
  os << std::fixed << value;
  return os.str();
}

std::string floodIR(const FloodCase &c) {
  std::string mask = c.boolean ? "memref<?x?xi1>" : "memref<?x?xi8>";
  const char *variant = c.variant == reference::SpionVariant::CF
                            ? "conv_flood_fill"
                        : c.variant == reference::SpionVariant::F ? "flood_fill"
                                                                  : "conv_topk";
  std::ostringstream os;
  os << "func.func @flood(%scores: memref<?x?xf32>, %mask: " << mask
     << ") attributes {llvm.emit_c_interface} {\n"
     << "  attn.flood_fill ins(%scores : memref<?x?xf32>) outs(%mask : " << mask
     << ") conv_size(" << c.convSize << ") block_size(" << c.blockSize
     << ") quantile(" << floatText(c.quantile) << ") variant(" << variant
     << ")";
  if (c.variant == reference::SpionVariant::C)
    os << " density(" << floatText(c.density) << ")";
  os << "\n  return\n}\n";
  return os.str();
}

reference::Tensor randomMap(const FloodCase &c, uint64_t seed) {
  reference::Tensor map({c.n, c.n});
  std::mt19937_64 random(seed);
  int64_t blocks = c.n / c.blockSize;
  std::vector<double> perBlock(blocks * blocks);
  for (double &value : perBlock)
    value = static_cast<double>(random() % 3);
  for (int64_t i = 0; i < c.n; ++i)
    for (int64_t j = 0; j < c.n; ++j) {
      double &value = map.at({i, j});
      if (c.map == MapKind::Integers)
        value = static_cast<double>(random() % 10);
      else if (c.map == MapKind::Dyadic)
        value = 0.25 * static_cast<double>(random() % 3); // 0, 0.25, 0.5
      else
        value = perBlock[(i / c.blockSize) * blocks + j / c.blockSize];
    }
  return map;
}

FloodCase make(int64_t n, int64_t blockSize, int64_t convSize,
               reference::SpionVariant variant, MapKind map) {
  FloodCase c;
  // Three block values: the median leaves the largest above the threshold.
  if (map == MapKind::BlockTies)
    c.quantile = 0.5;
  c.n = n;
  c.blockSize = blockSize;
  c.convSize = convSize;
  c.variant = variant;
  c.map = map;
  return c;
}

std::vector<FloodCase> floodCases() {
  using reference::SpionVariant;
  std::vector<FloodCase> cases;
  for (MapKind map : {MapKind::Integers, MapKind::Dyadic, MapKind::BlockTies}) {
    cases.push_back(make(256, 32, 31, SpionVariant::CF, map));
    cases.push_back(make(384, 32, 5, SpionVariant::CF, map));
    cases.push_back(make(256, 32, 31, SpionVariant::F, map));
    cases.push_back(make(256, 32, 31, SpionVariant::C, map));
  }
  FloodCase quantileHalf = make(512, 64, 31, SpionVariant::CF, MapKind::Dyadic);
  quantileHalf.quantile = 0.5;
  quantileHalf.boolean = true;
  cases.push_back(quantileHalf);
  cases.push_back(make(64, 64, 1, SpionVariant::CF, MapKind::Integers));
  FloodCase dense = make(128, 16, 3, SpionVariant::C, MapKind::Integers);
  dense.density = 1.0;
  cases.push_back(dense);
  return cases;
}

class FloodFillTest : public ::testing::TestWithParam<FloodCase> {};

TEST_P(FloodFillTest, MatchesReference) {
  const FloodCase &c = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("reproduce with ATTN_TEST_SEED=" + std::to_string(seed));
  std::string error;
  const Kernel *kernel = compileKernel(floodIR(c), kPipeline, "flood", error);
  ASSERT_NE(kernel, nullptr) << error;

  reference::Tensor scores = randomMap(c, seed);
  reference::SpionParams params;
  params.convSize = c.convSize;
  params.blockSize = c.blockSize;
  params.quantile = c.quantile;
  params.variant = c.variant;
  params.density = c.density;
  reference::IntTensor expected = reference::spionBlockMask(scores, params);

  std::vector<float> scoreData(scores.data().begin(), scores.data().end());
  int64_t blocks = c.n / c.blockSize;
  std::vector<int8_t> maskData(blocks * blocks, 7); // poison
  StridedMemRefType<float, 2> scoreDesc{
      scoreData.data(), scoreData.data(), 0, {c.n, c.n}, {c.n, 1}};
  StridedMemRefType<int8_t, 2> maskDesc{
      maskData.data(), maskData.data(), 0, {blocks, blocks}, {blocks, 1}};
  error = kernel->invoke({&scoreDesc, &maskDesc});
  ASSERT_TRUE(error.empty()) << error;
  int64_t on = 0;
  for (int64_t x = 0; x < blocks; ++x)
    for (int64_t y = 0; y < blocks; ++y) {
      int8_t got = maskData[x * blocks + y];
      ASSERT_TRUE(got == 0 || got == 1)
          << "block (" << x << ", " << y << ") = " << int(got)
          << " (never written?)";
      EXPECT_EQ(got, expected.at({x, y})) << "block (" << x << ", " << y << ")";
      on += got;
    }
  // Not a trivial mask: more than the diagonal, less than everything
  // (except where the case asks for everything).
  if (blocks > 1 && c.density < 1.0) {
    EXPECT_GT(on, blocks);
    EXPECT_LT(on, blocks * blocks);
  }
}

INSTANTIATE_TEST_SUITE_P(SPION, FloodFillTest,
                         ::testing::ValuesIn(floodCases()),
                         [](const ::testing::TestParamInfo<FloodCase> &info) {
                           return caseName(info.param);
                         });

} // namespace
