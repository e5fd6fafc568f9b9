//===- ValidateTest.cpp - Tensor checks and launch plans --------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// Bundle::validate on the causal GQA bundle and on small purpose-built
// bundles: symbol binding, every mismatch message, constraints and grid
// evaluation, including empty problems. No GPU is involved.
//
//===----------------------------------------------------------------------===//

#include "TestBundle.h"

using namespace attn::runtime;
using namespace attn::runtime::test;

namespace {

class Validate : public ::testing::Test {
protected:
  void SetUp() override {
    auto loaded = dir.load();
    ASSERT_TRUE(loaded.ok()) << loaded.error().message();
    bundle = std::move(*loaded);
  }

  TestBundle dir;
  std::unique_ptr<Bundle> bundle;
};

TEST_F(Validate, BindsSymbolsAndEvaluatesTheGrid) {
  auto plan = bundle->validate(causalArgs(2, 8, 2, 100, 130));
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  EXPECT_EQ(plan->symbol("B"), 2);
  EXPECT_EQ(plan->symbol("Hq"), 8);
  EXPECT_EQ(plan->symbol("Hk"), 2);
  EXPECT_EQ(plan->symbol("Nq"), 100);
  EXPECT_EQ(plan->symbol("Nk"), 130);
  EXPECT_EQ(plan->symbol("D"), std::nullopt);
  ASSERT_EQ(plan->symbols.size(), 5u);
  EXPECT_EQ(plan->symbols[0].first, "B");
  ASSERT_EQ(plan->launches.size(), 1u);
  EXPECT_EQ(plan->launches[0].launch, 0u);
  // ceildiv(100, 64) = 2.
  EXPECT_EQ(plan->launches[0].grid, (std::array<uint32_t, 3>{2, 8, 2}));
  EXPECT_FALSE(plan->launches[0].skipped);

  auto exact = bundle->validate(causalArgs(1, 4, 4, 128, 128));
  ASSERT_TRUE(exact.ok()) << exact.error().message();
  EXPECT_EQ(exact->launches[0].grid, (std::array<uint32_t, 3>{2, 4, 1}));
  auto one = bundle->validate(causalArgs(1, 4, 4, 1, 1));
  ASSERT_TRUE(one.ok()) << one.error().message();
  EXPECT_EQ(one->launches[0].grid[0], 1u);
}

TEST_F(Validate, WrongArgumentCount) {
  std::vector<TensorRef> args = causalArgs(1, 4, 4, 64, 64);
  args.pop_back();
  EXPECT_ERROR(bundle->validate(args),
               "expected 5 arguments (q, k, v, o, lse), got 4");
  EXPECT_ERROR(bundle->validate({}),
               "expected 5 arguments (q, k, v, o, lse), got 0");
}

TEST_F(Validate, DtypeMismatchNamesTheArgumentAndBothDtypes) {
  std::vector<TensorRef> args = causalArgs(1, 4, 4, 64, 64);
  args[2].dtype = DType::F16;
  EXPECT_ERROR(bundle->validate(args),
               "argument 'v': dtype is f16 but the bundle expects bf16");
  args = causalArgs(1, 4, 4, 64, 64);
  args[4].dtype = DType::BF16;
  EXPECT_ERROR(bundle->validate(args),
               "argument 'lse': dtype is bf16 but the bundle expects f32");
}

TEST_F(Validate, RankMismatch) {
  std::vector<TensorRef> args = causalArgs(1, 4, 4, 64, 64);
  args[4].shape.push_back(1);
  EXPECT_ERROR(bundle->validate(args),
               "argument 'lse': rank is 4 but the bundle expects 3 (shape "
               "[B, Hq, Nq])");
}

TEST_F(Validate, StaticDimensionMismatch) {
  std::vector<TensorRef> args = causalArgs(1, 4, 4, 64, 64);
  args[1].shape[3] = 64;
  EXPECT_ERROR(bundle->validate(args),
               "argument 'k' dimension 3 is 64 but the bundle expects 128");
}

TEST_F(Validate, SymbolMismatchNamesTheBindingArgument) {
  std::vector<TensorRef> args = causalArgs(2, 4, 4, 64, 64);
  args[1].shape[0] = 3;
  EXPECT_ERROR(
      bundle->validate(args),
      "argument 'k' dimension 0 (B) is 3 but argument 'q' bound B = 2");
  args = causalArgs(2, 4, 4, 64, 64);
  args[2].shape[2] = 65;
  EXPECT_ERROR(bundle->validate(args),
               "argument 'v' dimension 2 (Nk) is 65 but argument 'k' bound "
               "Nk = 64");
  args = causalArgs(2, 4, 4, 64, 64);
  args[4].shape[2] = 63;
  EXPECT_ERROR(bundle->validate(args),
               "argument 'lse' dimension 2 (Nq) is 63 but argument 'q' bound "
               "Nq = 64");
}

TEST_F(Validate, NegativeExtent) {
  std::vector<TensorRef> args = causalArgs(1, 4, 4, 64, 64);
  args[0].shape[2] = -1;
  EXPECT_ERROR(bundle->validate(args),
               "argument 'q' dimension 2 is negative (-1)");
}

TEST_F(Validate, Contiguity) {
  std::vector<TensorRef> args = causalArgs(2, 4, 4, 64, 64);
  args[3].strides = {4 * 64 * 128, 64 * 128, 128, 1};
  EXPECT_TRUE(bundle->validate(args).ok());

  // A transposed view (heads and sequence swapped in memory).
  args[3].strides = {4 * 64 * 128, 128, 4 * 128, 1};
  EXPECT_ERROR(bundle->validate(args),
               "argument 'o': strides [32768, 128, 512, 1] are not contiguous "
               "row-major [32768, 8192, 128, 1] (shape [2, 4, 64, 128])");

  // The stride of an extent-1 dimension does not matter (as in torch).
  args = causalArgs(1, 4, 4, 64, 64);
  args[0].strides = {7, 64 * 128, 128, 1};
  EXPECT_TRUE(bundle->validate(args).ok());

  args[0].strides = {8192, 128, 1};
  EXPECT_ERROR(bundle->validate(args), "argument 'q': 3 strides for rank 4");
}

TEST_F(Validate, NullDataOnlyForEmptyTensors) {
  std::vector<TensorRef> args = causalArgs(1, 4, 4, 64, 64);
  args[1].data = nullptr;
  EXPECT_ERROR(bundle->validate(args), "argument 'k': data pointer is null");
  args = causalArgs(1, 4, 4, 64, 0);
  args[1].data = args[2].data = nullptr;
  EXPECT_TRUE(bundle->validate(args).ok());
}

TEST_F(Validate, DataMustBe16ByteAligned) {
  std::vector<TensorRef> args = causalArgs(1, 4, 4, 64, 64);
  args[2].data = static_cast<char *>(args[2].data) + 2;
  EXPECT_ERROR(bundle->validate(args),
               "argument 'v': data pointer is not 16-byte aligned (the kernels "
               "use 16-byte vector accesses)");
}

TEST_F(Validate, GqaConstraint) {
  EXPECT_TRUE(bundle->validate(causalArgs(1, 8, 1, 64, 64)).ok());
  EXPECT_ERROR(bundle->validate(causalArgs(1, 6, 4, 64, 64)),
               "constraint 'Hq % Hk == 0' is violated: 6 % 4 = 2 (Hq = 6, "
               "Hk = 4)");
  EXPECT_ERROR(bundle->validate(causalArgs(1, 6, 0, 64, 64)),
               "constraint 'Hq % Hk == 0' cannot hold: the divisor is 0 "
               "(Hq = 6, Hk = 0)");
}

TEST_F(Validate, EmptyProblemsSkipTheLaunch) {
  auto plan = bundle->validate(causalArgs(2, 4, 4, 0, 64));
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  EXPECT_EQ(plan->launches[0].grid, (std::array<uint32_t, 3>{0, 4, 2}));
  EXPECT_TRUE(plan->launches[0].skipped);
  plan = bundle->validate(causalArgs(0, 4, 4, 64, 64));
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  EXPECT_TRUE(plan->launches[0].skipped);
  // Nothing to launch needs no driver at all.
  EXPECT_TRUE(bundle->launch(causalArgs(0, 4, 4, 64, 64), nullptr).ok());
}

/// A two-launch bundle with a richer grid language and a bare kernel.
const char *const kTwoLaunchManifest = R"json({
  "format": "attn-bundle", "version": 1, "name": "two", "target": "sm_90a",
  "ptx": "k.ptx",
  "arguments": [
    {"name": "x", "dtype": "f16", "shape": ["N", "D"]},
    {"name": "mask", "dtype": "i1", "shape": ["N"]},
    {"name": "idx", "dtype": "i32", "shape": []},
    {"name": "y", "dtype": "i8", "shape": ["N", "D"]}
  ],
  "constraints": ["N * D % (D + 0) == 0", "N % 2 == 0"],
  "launches": [
    {"kernel": "first", "grid": ["ceildiv(N * D, 256) + 1", "(D + 1) * 2", 1],
     "block": [256, 1, 1], "shared_bytes": 1024,
     "args": ["x", "mask", "idx", "y"], "abi": "memref"},
    {"kernel": "second", "grid": ["ceildiv(N, ceildiv(D, 3))", 1, "N"],
     "block": [32, 4, 2], "shared_bytes": 0, "args": ["y", "x"], "abi": "bare"}
  ]
})json";

std::string twoLaunchPtx() {
  // first: x (3 + 4), mask (3 + 2), idx (3), y (3 + 4) = 22; second: 2.
  return ptxFor({{"first", 22}, {"second", 2}}, "sm_90a");
}

std::vector<TensorRef> twoLaunchArgs(int64_t n, int64_t d) {
  return {tensor(DType::F16, {n, d}, 0x10000000),
          tensor(DType::I1, {n}, 0x20000000),
          tensor(DType::I32, {}, 0x30000000),
          tensor(DType::I8, {n, d}, 0x40000000)};
}

TEST(ValidateGrid, ExpressionsAndMultipleLaunches) {
  TempDir dir;
  dir.write("manifest.json", kTwoLaunchManifest);
  dir.write("k.ptx", twoLaunchPtx());
  auto bundle = Bundle::load(dir.path());
  ASSERT_TRUE(bundle.ok()) << bundle.error().message();
  auto plan = (*bundle)->validate(twoLaunchArgs(10, 100));
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  ASSERT_EQ(plan->launches.size(), 2u);
  // ceildiv(1000, 256) + 1 = 5; (100 + 1) * 2 = 202.
  EXPECT_EQ(plan->launches[0].grid, (std::array<uint32_t, 3>{5, 202, 1}));
  // ceildiv(10, ceildiv(100, 3) = 34) = 1.
  EXPECT_EQ(plan->launches[1].grid, (std::array<uint32_t, 3>{1, 1, 10}));
  EXPECT_EQ(plan->launches[1].launch, 1u);

  EXPECT_ERROR((*bundle)->validate(twoLaunchArgs(3, 4)),
               "constraint 'N % 2 == 0' is violated: 3 % 2 = 1 (N = 3)");
  // D = 0: the first constraint divides by D + 0.
  EXPECT_ERROR((*bundle)->validate(twoLaunchArgs(2, 0)),
               "constraint 'N * D % (D + 0) == 0' cannot hold: the divisor "
               "is 0 (N = 2, D = 0)");
}

TEST(ValidateGrid, CeildivByZeroAndLimits) {
  std::string manifest =
      replaced(kTwoLaunchManifest, "\"N * D % (D + 0) == 0\", ", "");
  TempDir dir;
  dir.write("manifest.json", manifest);
  dir.write("k.ptx", twoLaunchPtx());
  auto bundle = Bundle::load(dir.path());
  ASSERT_TRUE(bundle.ok()) << bundle.error().message();
  // D = 0: the first launch plans normally (ceildiv(0, 256) + 1 = 1, 2, 1);
  // the second launch's grid x divides by ceildiv(D, 3) = 0.
  EXPECT_ERROR((*bundle)->validate(twoLaunchArgs(4, 0)),
               "launch 1 (kernel 'second'): grid x 'ceildiv(N, ceildiv(D, "
               "3))': ceildiv(4, 0) divides by zero (N = 4, D = 0)");
  // y = (D + 1) * 2 above 65535.
  EXPECT_ERROR((*bundle)->validate(twoLaunchArgs(2, 40000)),
               "launch 0 (kernel 'first'): grid y '(D + 1) * 2' is 80002 "
               "(D = 40000), above the CUDA limit 65535");
}

TEST(ValidateGrid, OverflowIsAnError) {
  std::string manifest =
      replaced(kTwoLaunchManifest, "\"N * D % (D + 0) == 0\", ", "");
  manifest = replaced(manifest, "\"ceildiv(N * D, 256) + 1\"",
                      "\"N * D * 4294967296 * 4294967296\"");
  TempDir dir;
  dir.write("manifest.json", manifest);
  dir.write("k.ptx", twoLaunchPtx());
  auto bundle = Bundle::load(dir.path());
  ASSERT_TRUE(bundle.ok()) << bundle.error().message();
  EXPECT_ERROR((*bundle)->validate(twoLaunchArgs(2, 2)),
               "launch 0 (kernel 'first'): grid x 'N * D * 4294967296 * "
               "4294967296': overflow in 17179869184 * 4294967296 (N = 2, "
               "D = 2)");
}

} // namespace

namespace {

/// The causal bundle with O and LSE marked as written by the kernels.
std::string writtenOutputsManifest() {
  return replaced(
      replaced(kCausalManifest,
               "{\"name\": \"o\", \"dtype\": \"bf16\", \"shape\": [\"B\", "
               "\"Hq\", \"Nq\", 128]}",
               "{\"name\": \"o\", \"dtype\": \"bf16\", \"shape\": [\"B\", "
               "\"Hq\", \"Nq\", 128], \"writes\": true}"),
      "{\"name\": \"lse\", \"dtype\": \"f32\", \"shape\": [\"B\", \"Hq\", "
      "\"Nq\"]}",
      "{\"name\": \"lse\", \"dtype\": \"f32\", \"shape\": [\"B\", \"Hq\", "
      "\"Nq\"], \"writes\": true}");
}

TEST(ValidateWrites, WrittenArgumentsMustNotOverlapAnyOther) {
  TestBundle dir(writtenOutputsManifest());
  auto loaded = dir.load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  const Bundle &bundle = **loaded;
  ASSERT_TRUE(bundle.arguments()[3].writes);
  ASSERT_TRUE(bundle.arguments()[4].writes);
  ASSERT_FALSE(bundle.arguments()[0].writes);

  // Disjoint: accepted; inputs may share memory (K = V).
  std::vector<TensorRef> args = causalArgs(2, 8, 2, 100, 130);
  EXPECT_TRUE(bundle.validate(args).ok());
  args[2].data = args[1].data;
  EXPECT_TRUE(bundle.validate(args).ok());

  // O in Q's memory, or its first bytes in Q's last ones.
  args = causalArgs(2, 8, 2, 100, 130);
  args[3].data = args[0].data;
  EXPECT_ERROR(bundle.validate(args),
               "argument 'o' overlaps argument 'q' in memory; the kernels "
               "write 'o', so it must not share memory with another argument");
  args = causalArgs(2, 8, 2, 100, 130);
  uintptr_t qEnd =
      reinterpret_cast<uintptr_t>(args[0].data) + 2 * 8 * 100 * 128 * 2;
  args[3].data = reinterpret_cast<void *>(qEnd - 16);
  EXPECT_ERROR_CONTAINS(bundle.validate(args), "'o' overlaps argument 'q'");
  // Ending exactly where Q starts is fine.
  args[3].data = reinterpret_cast<void *>(qEnd);
  EXPECT_TRUE(bundle.validate(args).ok());

  // Two written arguments sharing memory are named once.
  args = causalArgs(2, 8, 2, 100, 130);
  args[4].data = args[3].data;
  EXPECT_ERROR_CONTAINS(bundle.validate(args),
                        "argument 'o' overlaps argument 'lse'");

  // An empty problem occupies no memory.
  args = causalArgs(2, 8, 2, 0, 130);
  args[3].data = args[0].data;
  args[4].data = args[0].data;
  EXPECT_TRUE(bundle.validate(args).ok());
}

TEST(ValidateWrites, WritesIsABooleanOfArgumentsOnly) {
  EXPECT_NE(loadError(replaced(writtenOutputsManifest(), "\"writes\": true}",
                               "\"writes\": 1}"))
                .find("field 'arguments[3].writes': expected a boolean, got "
                      "an integer"),
            std::string::npos);
  EXPECT_NE(loadError(replaced(kCausalManifest,
                               "\"constraints\": [\"Hq % Hk == 0\"],",
                               "\"constraints\": [\"Hq % Hk == 0\"],\n"
                               "  \"scratch\": [{\"name\": \"s\", \"dtype\": "
                               "\"i32\", \"shape\": [1], \"writes\": true}],"))
                .find("unknown field 'scratch[0].writes'"),
            std::string::npos);
}

} // namespace
