//===- CApiTest.cpp - The C ABI of the runtime ------------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// attn_runtime.h end to end on the CPU: loading, argument queries,
// validation with its error messages through attn_last_error(), defensive
// handling of NULLs and bad codes, and launch without a driver.
//
//===----------------------------------------------------------------------===//

#include "attn/Runtime/attn_runtime.h"

#include "TestBundle.h"

#include <dlfcn.h>

#include <cstring>
#include <thread>

using namespace attn::runtime::test;

namespace {

/// Causal-bundle tensors for the C ABI; shapes live in the object.
struct CausalTensors {
  CausalTensors(int64_t b, int64_t hq, int64_t hk, int64_t nq, int64_t nk)
      : q{b, hq, nq, 128}, kv{b, hk, nk, 128}, lse{b, hq, nq} {
    auto *base = reinterpret_cast<char *>(0x10000000);
    tensors[0] = {base, ATTN_BF16, 4, q, nullptr};
    tensors[1] = {base + 0x100000, ATTN_BF16, 4, kv, nullptr};
    tensors[2] = {base + 0x200000, ATTN_BF16, 4, kv, nullptr};
    tensors[3] = {base + 0x300000, ATTN_BF16, 4, q, nullptr};
    tensors[4] = {base + 0x400000, ATTN_F32, 3, lse, nullptr};
  }
  int64_t q[4], kv[4], lse[3];
  attn_tensor tensors[5];
};

class CApi : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(attn_bundle_load(dir.path().c_str(), &bundle), 0)
        << attn_last_error();
    ASSERT_NE(bundle, nullptr);
  }
  void TearDown() override { attn_bundle_free(bundle); }

  TestBundle dir;
  attn_bundle *bundle = nullptr;
};

TEST_F(CApi, QueriesArguments) {
  EXPECT_EQ(attn_bundle_num_arguments(bundle), 5);
  EXPECT_STREQ(attn_bundle_argument_name(bundle, 0), "q");
  EXPECT_STREQ(attn_bundle_argument_name(bundle, 4), "lse");
  EXPECT_EQ(attn_bundle_argument_name(bundle, 5), nullptr);
  EXPECT_EQ(attn_bundle_argument_name(bundle, -1), nullptr);
  EXPECT_EQ(attn_bundle_num_arguments(nullptr), -1);
  EXPECT_EQ(attn_bundle_argument_name(nullptr, 0), nullptr);
}

TEST_F(CApi, SetsWhetherInputChecksAreRead) {
  EXPECT_EQ(attn_bundle_set_read_input_checks(bundle, 0), 0);
  EXPECT_EQ(attn_bundle_set_read_input_checks(bundle, 1), 0);
  EXPECT_EQ(attn_bundle_set_read_input_checks(nullptr, 1), 1);
  EXPECT_STREQ(attn_last_error(),
               "attn_bundle_set_read_input_checks: bundle is NULL");
}

TEST_F(CApi, Validates) {
  CausalTensors ok(2, 8, 2, 100, 130);
  EXPECT_EQ(attn_bundle_validate(bundle, ok.tensors, 5), 0)
      << attn_last_error();

  EXPECT_NE(attn_bundle_validate(bundle, ok.tensors, 4), 0);
  EXPECT_STREQ(attn_last_error(),
               "expected 5 arguments (q, k, v, o, lse), got 4");

  CausalTensors gqa(1, 6, 4, 64, 64);
  EXPECT_NE(attn_bundle_validate(bundle, gqa.tensors, 5), 0);
  EXPECT_STREQ(attn_last_error(), "constraint 'Hq % Hk == 0' is violated: "
                                  "6 % 4 = 2 (Hq = 6, Hk = 4)");

  CausalTensors strided(2, 4, 4, 64, 64);
  int64_t strides[4] = {4 * 64 * 128, 128, 4 * 128, 1};
  strided.tensors[3].strides = strides;
  EXPECT_NE(attn_bundle_validate(bundle, strided.tensors, 5), 0);
  EXPECT_STREQ(attn_last_error(),
               "argument 'o': strides [32768, 128, 512, 1] are not "
               "contiguous row-major [32768, 8192, 128, 1] (shape [2, 4, 64, "
               "128])");
}

TEST_F(CApi, RejectsMalformedTensors) {
  CausalTensors t(1, 4, 4, 64, 64);
  // As a C caller could: an int outside the enumerators.
  int32_t invalid = 9;
  std::memcpy(&t.tensors[1].dtype, &invalid, sizeof(invalid));
  EXPECT_NE(attn_bundle_validate(bundle, t.tensors, 5), 0);
  EXPECT_STREQ(attn_last_error(), "argument 'k': invalid attn_dtype 9");

  CausalTensors r(1, 4, 4, 64, 64);
  r.tensors[0].rank = -2;
  EXPECT_NE(attn_bundle_validate(bundle, r.tensors, 5), 0);
  EXPECT_STREQ(attn_last_error(), "argument 'q': rank is negative (-2)");

  CausalTensors s(1, 4, 4, 64, 64);
  s.tensors[4].shape = nullptr;
  EXPECT_NE(attn_bundle_validate(bundle, s.tensors, 5), 0);
  EXPECT_STREQ(attn_last_error(), "argument 'lse': shape is NULL for rank 3");

  EXPECT_NE(attn_bundle_validate(bundle, nullptr, 5), 0);
  EXPECT_STREQ(attn_last_error(), "args is NULL but num_args is 5");
  EXPECT_NE(attn_bundle_validate(bundle, t.tensors, -1), 0);
  EXPECT_STREQ(attn_last_error(), "num_args is negative (-1)");
  EXPECT_NE(attn_bundle_validate(nullptr, t.tensors, 5), 0);
  EXPECT_STREQ(attn_last_error(), "attn_bundle_validate: bundle is NULL");
}

TEST_F(CApi, LaunchWithoutDriverFailsCleanly) {
  if (void *real = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL)) {
    dlclose(real);
    GTEST_SKIP() << "a CUDA driver is installed";
  }
  CausalTensors t(1, 4, 4, 64, 64);
  EXPECT_NE(attn_bundle_launch(bundle, t.tensors, 5, nullptr), 0);
  EXPECT_EQ(std::string(attn_last_error())
                .rfind("CUDA driver libcuda.so.1 not found: ", 0),
            0u)
      << attn_last_error();
  // Validation comes first.
  EXPECT_NE(attn_bundle_launch(bundle, t.tensors, 3, nullptr), 0);
  EXPECT_STREQ(attn_last_error(),
               "expected 5 arguments (q, k, v, o, lse), got 3");
}

TEST_F(CApi, WorkspaceBytes) {
  // The causal bundle has no scratch buffers.
  CausalTensors causal(2, 8, 2, 100, 130);
  uint64_t bytes = 99;
  ASSERT_EQ(attn_bundle_workspace_bytes(bundle, causal.tensors, 5, &bytes), 0)
      << attn_last_error();
  EXPECT_EQ(bytes, 0u);
  EXPECT_EQ(attn_bundle_workspace_bytes(bundle, causal.tensors, 5, nullptr), 1);
  EXPECT_STREQ(attn_last_error(), "attn_bundle_workspace_bytes: bytes is NULL");
  EXPECT_EQ(attn_bundle_workspace_bytes(bundle, causal.tensors, 4, &bytes), 1);

  // Two scratch buffers: [ceildiv(N, 128), 2] i32 at 0 and [N] i8 at 256.
  TestBundle listsDir(R"json({
    "format": "attn-bundle", "version": 1, "name": "lists",
    "target": "sm_80", "ptx": "kernels.ptx",
    "arguments": [{"name": "x", "dtype": "f32", "shape": ["N"]}],
    "scratch": [
      {"name": "counts", "dtype": "i32", "shape": ["ceildiv(N, 128)", 2]},
      {"name": "flags", "dtype": "i8", "shape": ["N"]}],
    "launches": [{"kernel": "k", "grid": [1, 1, 1], "block": [32, 1, 1],
                  "shared_bytes": 0, "args": ["x", "counts", "flags"],
                  "abi": "bare"}]
  })json",
                      ptxFor({{"k", 3}}));
  attn_bundle *lists = nullptr;
  ASSERT_EQ(attn_bundle_load(listsDir.path().c_str(), &lists), 0)
      << attn_last_error();
  int64_t n = 300;
  attn_tensor x = {reinterpret_cast<void *>(0x10000000), ATTN_F32, 1, &n,
                   nullptr};
  ASSERT_EQ(attn_bundle_workspace_bytes(lists, &x, 1, &bytes), 0)
      << attn_last_error();
  EXPECT_EQ(bytes, 256u + 300u);
  EXPECT_EQ(
      attn_bundle_launch_with_workspace(
          lists, &x, 1, nullptr, reinterpret_cast<void *>(0x20000000), 100),
      1);
  EXPECT_STREQ(attn_last_error(), "the workspace of 100 bytes is smaller "
                                  "than the 556 bytes this call needs");
  attn_bundle_free(lists);
}

TEST(CApiLoad, FailureSetsTheBundleToNull) {
  TestBundle dir(replaced(kCausalManifest, "\"version\": 1", "\"version\": 2"));
  attn_bundle *bundle = reinterpret_cast<attn_bundle *>(0x1);
  EXPECT_NE(attn_bundle_load(dir.path().c_str(), &bundle), 0);
  EXPECT_EQ(bundle, nullptr);
  EXPECT_EQ(std::string(attn_last_error()),
            dir.path() + "/manifest.json:3:14: bundle version 2 is not "
                         "supported by this runtime (supports 1)");
  EXPECT_NE(attn_bundle_load(nullptr, &bundle), 0);
  EXPECT_STREQ(attn_last_error(), "attn_bundle_load: directory is NULL");
  EXPECT_NE(attn_bundle_load(dir.path().c_str(), nullptr), 0);
  EXPECT_STREQ(attn_last_error(), "attn_bundle_load: bundle is NULL");
  attn_bundle_free(nullptr);
}

TEST(CApiLoad, LastErrorIsPerThread) {
  attn_bundle *bundle = nullptr;
  EXPECT_NE(attn_bundle_load("/nonexistent", &bundle), 0);
  std::string other = "unset";
  std::thread([&] { other = attn_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_NE(std::string(attn_last_error()).find("/nonexistent/manifest.json"),
            std::string::npos);
}

} // namespace
