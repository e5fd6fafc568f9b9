//===- LaunchTest.cpp - Launching through a (fake) CUDA driver --*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// Bundle::launch against libAttnFakeCuda.so, which records every driver
// call: kernel parameters in both ABIs, grids, dynamic shared memory,
// module caching and unloading, context handling, pointer checks and error
// messages. A last test checks that without libcuda.so.1 launching fails
// cleanly (skipped where a real driver is installed).
//
//===----------------------------------------------------------------------===//

#include "FakeCuda.h"
#include "TestBundle.h"

#include <dlfcn.h>

using namespace attn::runtime;
using namespace attn::runtime::test;
using attn::fakecuda::Allocation;
using attn::fakecuda::State;

namespace {

class Launch : public ::testing::Test {
protected:
  void SetUp() override {
    // Keep our own handle so that the fake's state outlives each Driver.
    handle = dlopen(ATTN_FAKE_CUDA_PATH, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << dlerror();
    auto get =
        reinterpret_cast<State *(*)()>(dlsym(handle, "attnFakeCudaState"));
    ASSERT_NE(get, nullptr);
    fake = get();
    *fake = State();
    // Device memory on device 0 at 0x10000000 (16 MiB) and on device 1 at
    // 0x80000000; pinned host memory at 0x90000000.
    fake->allocations = {{0x10000000, 0x11000000, 0, false},
                         {0x80000000, 0x81000000, 1, false},
                         {0x90000000, 0x91000000, 0, true}};
    auto opened = openDriver(ATTN_FAKE_CUDA_PATH);
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    driver = *opened;
    auto loaded = dir.load();
    ASSERT_TRUE(loaded.ok()) << loaded.error().message();
    bundle = std::move(*loaded);
  }

  void TearDown() override {
    bundle.reset();
    driver.reset();
    if (handle)
      dlclose(handle);
  }

  /// The memref descriptor slots the runtime must pass for a contiguous
  /// tensor at `address` of `shape`.
  static std::vector<uint64_t> descriptor(uint64_t address,
                                          std::vector<int64_t> shape) {
    std::vector<uint64_t> slots = {address, address, 0};
    for (int64_t extent : shape)
      slots.push_back(extent);
    std::vector<uint64_t> strides(shape.size());
    uint64_t stride = 1;
    for (size_t d = shape.size(); d-- > 0;) {
      strides[d] = stride;
      stride *= shape[d];
    }
    slots.insert(slots.end(), strides.begin(), strides.end());
    return slots;
  }

  void *handle = nullptr;
  State *fake = nullptr;
  std::shared_ptr<Driver> driver;
  TestBundle dir;
  std::unique_ptr<Bundle> bundle;
};

CUstream fakeStream() { return reinterpret_cast<CUstream>(0x5757); }

TEST_F(Launch, PassesMemRefDescriptors) {
  fake->current = fake->primaryContext(0);
  Status status =
      bundle->launch(causalArgs(2, 8, 2, 100, 130), fakeStream(), driver);
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(fake->initCalls, 1);
  EXPECT_EQ(fake->moduleLoads, 1);
  ASSERT_EQ(fake->launches.size(), 1u);
  const attn::fakecuda::Launch &launch = fake->launches[0];
  EXPECT_EQ(launch.kernel, "causal_kernel");
  EXPECT_EQ(std::vector<unsigned>(launch.grid, launch.grid + 3),
            (std::vector<unsigned>{2, 8, 2}));
  EXPECT_EQ(std::vector<unsigned>(launch.block, launch.block + 3),
            (std::vector<unsigned>{128, 1, 1}));
  EXPECT_EQ(launch.sharedBytes, 0u);
  EXPECT_EQ(launch.stream, fakeStream());

  std::vector<uint64_t> expected;
  for (auto [address, shape] :
       std::vector<std::pair<uint64_t, std::vector<int64_t>>>{
           {0x10000000, {2, 8, 100, 128}},
           {0x10100000, {2, 2, 130, 128}},
           {0x10200000, {2, 2, 130, 128}},
           {0x10300000, {2, 8, 100, 128}},
           {0x10400000, {2, 8, 100}}}) {
    std::vector<uint64_t> slots = descriptor(address, shape);
    expected.insert(expected.end(), slots.begin(), slots.end());
  }
  ASSERT_EQ(expected.size(), static_cast<size_t>(kCausalParams));
  EXPECT_EQ(launch.params, expected);
}

TEST_F(Launch, ModuleIsLoadedOncePerContextAndUnloadedWithTheBundle) {
  fake->current = fake->primaryContext(0);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(
        bundle->launch(causalArgs(1, 4, 4, 64, 64), nullptr, driver).ok());
  EXPECT_EQ(fake->moduleLoads, 1);
  EXPECT_EQ(fake->launches.size(), 3u);

  // Another context (device 1) gets its own module.
  fake->current = fake->primaryContext(1);
  ASSERT_TRUE(
      bundle->launch(causalArgs(1, 4, 4, 64, 64, 0x80000000), nullptr, driver)
          .ok());
  EXPECT_EQ(fake->moduleLoads, 2);

  bundle.reset();
  EXPECT_EQ(fake->moduleUnloads, 2);
  // The caller's context is current again after unloading.
  EXPECT_EQ(fake->current, fake->primaryContext(1));
}

TEST_F(Launch, RetainsThePrimaryContextWhenNoneIsCurrent) {
  ASSERT_EQ(fake->current, nullptr);
  ASSERT_TRUE(
      bundle->launch(causalArgs(1, 4, 4, 64, 64), nullptr, driver).ok());
  EXPECT_EQ(fake->current, fake->primaryContext(0));
  EXPECT_EQ(fake->primaryRetains, 1);
  fake->current = nullptr;
  ASSERT_TRUE(
      bundle->launch(causalArgs(1, 4, 4, 64, 64), nullptr, driver).ok());
  EXPECT_EQ(fake->primaryRetains, 1) << "retained once per driver";
  bundle.reset();
  driver.reset();
  EXPECT_EQ(fake->primaryRetains, 0) << "released with the driver";
}

TEST_F(Launch, LaunchFailureNamesTheKernel) {
  fake->current = fake->primaryContext(0);
  fake->failLaunchOf = "causal_kernel";
  EXPECT_ERROR(bundle->launch(causalArgs(1, 4, 4, 64, 64), nullptr, driver),
               "launch of kernel 'causal_kernel' failed: "
               "CUDA_ERROR_INVALID_VALUE (invalid argument)");
}

TEST_F(Launch, ModuleLoadFailureIncludesTheJitLog) {
  fake->current = fake->primaryContext(0);
  fake->moduleLoadResult = CUDA_ERROR_INVALID_PTX;
  fake->moduleLoadLog = "ptxas fatal   : Unresolved extern function 'f'";
  EXPECT_ERROR(bundle->launch(causalArgs(1, 4, 4, 64, 64), nullptr, driver),
               "loading kernels.ptx of bundle 'causal' failed: "
               "CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed): ptxas "
               "fatal   : Unresolved extern function 'f'");
  EXPECT_TRUE(fake->launches.empty());
}

TEST_F(Launch, ValidationErrorLaunchesNothing) {
  fake->current = fake->primaryContext(0);
  EXPECT_ERROR(bundle->launch(causalArgs(1, 6, 4, 64, 64), nullptr, driver),
               "constraint 'Hq % Hk == 0' is violated: 6 % 4 = 2 (Hq = 6, "
               "Hk = 4)");
  EXPECT_TRUE(fake->launches.empty());
  EXPECT_EQ(fake->moduleLoads, 0);
}

TEST_F(Launch, PointersMustBeDeviceMemoryOfTheContextDevice) {
  fake->current = fake->primaryContext(0);
  std::vector<TensorRef> args = causalArgs(1, 4, 4, 64, 64);
  args[2].data = reinterpret_cast<void *>(0x7000);
  EXPECT_ERROR(bundle->launch(args, nullptr, driver),
               "argument 'v': 0x7000 is not CUDA device memory (unknown to "
               "the driver; host memory?)");
  args[2].data = reinterpret_cast<void *>(0x90000000);
  EXPECT_ERROR(bundle->launch(args, nullptr, driver),
               "argument 'v': 0x90000000 is host memory, not CUDA device "
               "memory");
  args[2].data = reinterpret_cast<void *>(0x80000000);
  EXPECT_ERROR(bundle->launch(args, nullptr, driver),
               "argument 'v' is on device 1 but the current CUDA context is "
               "on device 0");
  EXPECT_TRUE(fake->launches.empty());
}

TEST_F(Launch, DeviceMustRunTheTarget) {
  fake->current = fake->primaryContext(0);
  fake->computeMajor = 7;
  fake->computeMinor = 5;
  EXPECT_ERROR(bundle->launch(causalArgs(1, 4, 4, 64, 64), nullptr, driver),
               "bundle 'causal' targets sm_80 but the current device is "
               "sm_75");
  fake->computeMajor = 9;
  fake->computeMinor = 0;
  EXPECT_TRUE(
      bundle->launch(causalArgs(1, 4, 4, 64, 64), nullptr, driver).ok());
}

TEST_F(Launch, BareAbiSharedMemoryAndSkippedLaunches) {
  const char *manifest = R"json({
    "format": "attn-bundle", "version": 1, "name": "multi", "target": "sm_90a",
    "ptx": "kernels.ptx",
    "arguments": [
      {"name": "x", "dtype": "f32", "shape": ["N", 4]},
      {"name": "y", "dtype": "f32", "shape": ["M"]}
    ],
    "launches": [
      {"kernel": "big", "grid": ["N", 1, 1], "block": [64, 1, 1],
       "shared_bytes": 100000, "args": ["x", "y"], "abi": "bare"},
      {"kernel": "over_m", "grid": ["M", 1, 1], "block": [32, 1, 1],
       "shared_bytes": 0, "args": ["y"], "abi": "memref"},
      {"kernel": "big", "grid": [2, 1, 1], "block": [64, 1, 1],
       "shared_bytes": 1000, "args": ["y", "x"], "abi": "bare"}
    ]
  })json";
  TestBundle multiDir(manifest, ptxFor({{"big", 2}, {"over_m", 5}}, "sm_90a"));
  auto multi = multiDir.load();
  ASSERT_TRUE(multi.ok()) << multi.error().message();
  fake->current = fake->primaryContext(0);
  fake->computeMajor = 9;

  // M = 0 skips the second launch; the others run in order.
  std::vector<TensorRef> args = {tensor(DType::F32, {3, 4}, 0x10000000),
                                 tensor(DType::F32, {0}, 0)};
  Status status = (*multi)->launch(args, fakeStream(), driver);
  ASSERT_TRUE(status.ok()) << status.error().message();
  ASSERT_EQ(fake->launches.size(), 2u);
  EXPECT_EQ(fake->launches[0].kernel, "big");
  EXPECT_EQ(fake->launches[0].grid[0], 3u);
  EXPECT_EQ(fake->launches[0].sharedBytes, 100000u);
  EXPECT_EQ(fake->launches[0].params, (std::vector<uint64_t>{0x10000000, 0}));
  EXPECT_EQ(fake->launches[1].kernel, "big");
  EXPECT_EQ(fake->launches[1].grid[0], 2u);
  EXPECT_EQ(fake->launches[1].sharedBytes, 1000u);
  EXPECT_EQ(fake->launches[1].params, (std::vector<uint64_t>{0, 0x10000000}));
  // Above 48 KiB the function opts in, with the largest size it launches
  // with; over_m needs nothing.
  ASSERT_FALSE(fake->sharedAttributes.empty());
  for (const auto &[kernel, bytes] : fake->sharedAttributes) {
    EXPECT_EQ(kernel, "big");
    EXPECT_EQ(bytes, 100000);
  }

  // An sm_90a bundle does not run on sm_100.
  fake->computeMajor = 10;
  TestBundle otherDir(manifest, ptxFor({{"big", 2}, {"over_m", 5}}, "sm_90a"));
  auto other = otherDir.load();
  ASSERT_TRUE(other.ok());
  EXPECT_ERROR((*other)->launch(args, nullptr, driver),
               "bundle 'multi' targets sm_90a but the current device is "
               "sm_100");
}

/// A two-kernel bundle with scratch buffers, as attn-compile writes for a
/// block-sparse attention: a first kernel fills lists that the second
/// reads, and an argument whose extents are expressions.
const char *const kScratchManifest = R"json({
  "format": "attn-bundle", "version": 1, "name": "lists", "target": "sm_80",
  "ptx": "kernels.ptx",
  "arguments": [
    {"name": "x", "dtype": "f32", "shape": ["N", 4]},
    {"name": "mask", "dtype": "i8", "shape": ["ceildiv(N, 64)"]}
  ],
  "scratch": [
    {"name": "counts", "dtype": "i32", "shape": ["ceildiv(N, 128)", 2]},
    {"name": "indices", "dtype": "i8", "shape": [3, "N + 1"]}
  ],
  "launches": [
    {"kernel": "build", "grid": ["ceildiv(N, 128)", 1, 1],
     "block": [32, 1, 1], "shared_bytes": 0,
     "args": ["mask", "counts", "indices"], "abi": "bare"},
    {"kernel": "use", "grid": ["N", 1, 1], "block": [32, 1, 1],
     "shared_bytes": 0, "args": ["x", "counts"], "abi": "memref"}
  ]
})json";

TEST_F(Launch, ScratchBuffersLiveInOneOwnedWorkspacePerStream) {
  TestBundle listsDir(kScratchManifest, ptxFor({{"build", 3}, {"use", 14}}));
  auto lists = listsDir.load();
  ASSERT_TRUE(lists.ok()) << lists.error().message();
  fake->current = fake->primaryContext(0);

  // N = 300: counts [3, 2] i32 (24 bytes) at 0, indices [3, 301] i8 (903
  // bytes) at 256.
  std::vector<TensorRef> args = {tensor(DType::F32, {300, 4}, 0x10000000),
                                 tensor(DType::I8, {5}, 0x10100000)};
  Result<LaunchPlan> plan = (*lists)->validate(args);
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  ASSERT_EQ(plan->scratch.size(), 2u);
  EXPECT_EQ(plan->scratch[0].shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(plan->scratch[0].offset, 0u);
  EXPECT_EQ(plan->scratch[1].shape, (std::vector<int64_t>{3, 301}));
  EXPECT_EQ(plan->scratch[1].offset, 256u);
  EXPECT_EQ(plan->workspaceBytes, 256u + 903u);

  Status status = (*lists)->launch(args, fakeStream(), driver);
  ASSERT_TRUE(status.ok()) << status.error().message();
  ASSERT_EQ(fake->memAllocs.size(), 1u);
  uint64_t base = fake->memAllocs[0].first;
  EXPECT_EQ(fake->memAllocs[0].second, 256u + 903u);
  ASSERT_EQ(fake->launches.size(), 2u);
  EXPECT_EQ(fake->launches[0].params,
            (std::vector<uint64_t>{0x10100000, base, base + 256}));
  std::vector<uint64_t> expected = descriptor(0x10000000, {300, 4});
  std::vector<uint64_t> counts = descriptor(base, {3, 2});
  expected.insert(expected.end(), counts.begin(), counts.end());
  EXPECT_EQ(fake->launches[1].params, expected);

  // The same size again and a smaller one: no allocation, no sync.
  ASSERT_TRUE((*lists)->launch(args, fakeStream(), driver).ok());
  args = {tensor(DType::F32, {100, 4}, 0x10000000),
          tensor(DType::I8, {2}, 0x10100000)};
  ASSERT_TRUE((*lists)->launch(args, fakeStream(), driver).ok());
  EXPECT_EQ(fake->memAllocs.size(), 1u);
  EXPECT_TRUE(fake->synchronizedStreams.empty());

  // A larger problem: the stream is synchronized, the old block freed and a
  // larger one allocated.
  args = {tensor(DType::F32, {1000, 4}, 0x10000000),
          tensor(DType::I8, {16}, 0x10100000)};
  ASSERT_TRUE((*lists)->launch(args, fakeStream(), driver).ok());
  ASSERT_EQ(fake->memAllocs.size(), 2u);
  EXPECT_EQ(fake->synchronizedStreams, (std::vector<CUstream>{fakeStream()}));
  EXPECT_EQ(fake->memFrees, (std::vector<uint64_t>{base}));

  // Another stream gets a workspace of its own; the bundle frees both.
  ASSERT_TRUE((*lists)->launch(args, nullptr, driver).ok());
  EXPECT_EQ(fake->memAllocs.size(), 3u);
  lists->reset();
  EXPECT_EQ(fake->memFrees.size(), 3u);
}

TEST_F(Launch, CallerWorkspaceIsCheckedAndUsed) {
  TestBundle listsDir(kScratchManifest, ptxFor({{"build", 3}, {"use", 14}}));
  auto lists = listsDir.load();
  ASSERT_TRUE(lists.ok()) << lists.error().message();
  fake->current = fake->primaryContext(0);
  std::vector<TensorRef> args = {tensor(DType::F32, {300, 4}, 0x10000000),
                                 tensor(DType::I8, {5}, 0x10100000)};
  void *workspace = reinterpret_cast<void *>(0x10200000);
  EXPECT_ERROR((*lists)->launch(args, fakeStream(), workspace, 1000, driver),
               "the workspace of 1000 bytes is smaller than the 1159 bytes "
               "this call needs");
  EXPECT_ERROR((*lists)->launch(args, fakeStream(),
                                reinterpret_cast<void *>(0x10200010), 4096,
                                driver),
               "the workspace 0x10200010 is not 256-byte aligned");
  EXPECT_ERROR((*lists)->launch(args, fakeStream(),
                                reinterpret_cast<void *>(0x90000000), 4096,
                                driver),
               "the workspace: 0x90000000 is host memory, not CUDA device "
               "memory");
  // The scratch the call uses (1159 bytes) must not share a byte with an
  // argument: x is [0x10000000, 0x100012c0), mask [0x10100000, +5).
  EXPECT_ERROR((*lists)->launch(args, fakeStream(),
                                reinterpret_cast<void *>(0x10001200), 4096,
                                driver),
               "the workspace overlaps argument 'x' in memory; the kernels "
               "write their scratch buffers there, so it must not share "
               "memory with an argument");
  EXPECT_ERROR_CONTAINS((*lists)->launch(args, fakeStream(),
                                         reinterpret_cast<void *>(0x100ffc00),
                                         4096, driver),
                        "the workspace overlaps argument 'mask'");
  EXPECT_TRUE(fake->launches.empty());
  Status status = (*lists)->launch(args, fakeStream(), workspace, 4096, driver);
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_TRUE(fake->memAllocs.empty());
  ASSERT_EQ(fake->launches.size(), 2u);
  EXPECT_EQ(fake->launches[0].params,
            (std::vector<uint64_t>{0x10100000, 0x10200000, 0x10200100}));
  // Only the bytes this call uses count: a 4096-byte workspace at
  // 0x100ffb00 runs over mask, but its first 1159 bytes end before it.
  status = (*lists)->launch(args, fakeStream(),
                            reinterpret_cast<void *>(0x100ffb00), 4096, driver);
  EXPECT_TRUE(status.ok()) << status.error().message();
}

/// A hash attention's shape of bundle: a sort kernel counts the bucket ids
/// out of range in a scratch word that the attention kernel reads.
const char *const kInputCheckManifest = R"json({
  "format": "attn-bundle", "version": 1, "name": "checked", "target": "sm_80",
  "ptx": "kernels.ptx",
  "arguments": [
    {"name": "o", "dtype": "f32", "shape": ["N", 4]},
    {"name": "qb", "dtype": "i32", "shape": ["N"]}
  ],
  "scratch": [
    {"name": "order", "dtype": "i32", "shape": ["N"]},
    {"name": "query_invalid_ids", "dtype": "i32", "shape": [1]}
  ],
  "input_checks": [
    {"scratch": "query_invalid_ids", "argument": "qb",
     "message": "bucket ids outside [0, 8)"}
  ],
  "launches": [
    {"kernel": "sort", "grid": [1, 1, 1], "block": [32, 1, 1],
     "shared_bytes": 0, "args": ["qb", "order", "query_invalid_ids"],
     "abi": "bare"},
    {"kernel": "attend", "grid": ["N", 1, 1], "block": [32, 1, 1],
     "shared_bytes": 0, "args": ["o", "order", "query_invalid_ids"],
     "abi": "bare"}
  ]
})json";

TEST_F(Launch, InputChecksAreZeroedBeforeAndReadAfterTheLaunches) {
  TestBundle checkedDir(kInputCheckManifest,
                        ptxFor({{"sort", 3}, {"attend", 3}}));
  auto checked = checkedDir.load();
  ASSERT_TRUE(checked.ok()) << checked.error().message();
  ASSERT_EQ((*checked)->inputChecks().size(), 1u);
  EXPECT_EQ((*checked)->inputChecks()[0].scratch, 1u);
  EXPECT_EQ((*checked)->inputChecks()[0].argument, 1u);
  fake->current = fake->primaryContext(0);
  std::vector<TensorRef> args = {tensor(DType::F32, {10, 4}, 0x10000000),
                                 tensor(DType::I32, {10}, 0x10100000)};
  void *workspace = reinterpret_cast<void *>(0x10200000);
  // The count lives at offset 256 (after the order's 40 bytes).
  uint64_t count = 0x10200100;

  // Valid data: zeroed on the stream before the first kernel, read after
  // the last one, the stream synchronized, success.
  Status status =
      (*checked)->launch(args, fakeStream(), workspace, 4096, driver);
  ASSERT_TRUE(status.ok()) << status.error().message();
  ASSERT_EQ(fake->memsets.size(), 1u);
  EXPECT_EQ(fake->memsets[0].address, count);
  EXPECT_EQ(fake->memsets[0].bytes, 4u);
  EXPECT_EQ(fake->memsets[0].value, 0u);
  EXPECT_EQ(fake->memsets[0].stream, fakeStream());
  EXPECT_EQ(fake->memsets[0].launchesBefore, 0u);
  ASSERT_EQ(fake->copiesToHost.size(), 1u);
  EXPECT_EQ(fake->copiesToHost[0].address, count);
  EXPECT_EQ(fake->copiesToHost[0].bytes, 4u);
  EXPECT_EQ(fake->copiesToHost[0].stream, fakeStream());
  EXPECT_EQ(fake->copiesToHost[0].launchesBefore, 2u);
  EXPECT_EQ(fake->synchronizedStreams, (std::vector<CUstream>{fakeStream()}));
  ASSERT_EQ(fake->launches.size(), 2u);
  EXPECT_EQ(fake->launches[0].params,
            (std::vector<uint64_t>{0x10100000, 0x10200000, count}));

  // The kernels counted 3 bad ids: an error naming the argument.
  fake->deviceWords = {{count, 3}};
  EXPECT_ERROR((*checked)->launch(args, fakeStream(), workspace, 4096, driver),
               "argument 'qb': 3 of its values are bucket ids outside [0, 8); "
               "the kernels wrote nothing to the outputs");

  // Not read back: zeroed still, no copy, no synchronization, no error.
  (*checked)->setReadInputChecks(false);
  EXPECT_FALSE((*checked)->readsInputChecks());
  status = (*checked)->launch(args, fakeStream(), workspace, 4096, driver);
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(fake->memsets.size(), 3u);
  EXPECT_EQ(fake->copiesToHost.size(), 2u);
  EXPECT_EQ(fake->synchronizedStreams.size(), 2u);
}

TEST_F(Launch, ExpressionExtentsAreChecked) {
  TestBundle listsDir(kScratchManifest, ptxFor({{"build", 3}, {"use", 14}}));
  auto lists = listsDir.load();
  ASSERT_TRUE(lists.ok()) << lists.error().message();
  std::vector<TensorRef> args = {tensor(DType::F32, {300, 4}, 0x10000000),
                                 tensor(DType::I8, {4}, 0x10100000)};
  Result<LaunchPlan> plan = (*lists)->validate(args);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().message(),
            "argument 'mask' dimension 0 is 4 but the bundle expects "
            "ceildiv(N, 64) = 5 (N = 300)");
}

TEST(LaunchWithoutDriver, FailsCleanly) {
  if (void *real = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL)) {
    dlclose(real);
    GTEST_SKIP() << "a CUDA driver is installed";
  }
  TestBundle dir;
  auto bundle = dir.load();
  ASSERT_TRUE(bundle.ok()) << bundle.error().message();
  Status status = (*bundle)->launch(causalArgs(1, 4, 4, 64, 64), nullptr);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(
      status.error().message().rfind("CUDA driver libcuda.so.1 not found: ", 0),
      0u)
      << status.error().message();
  auto driver = systemDriver();
  EXPECT_FALSE(driver.ok());
}

TEST(LaunchWithoutDriver, OpenDriverReportsMissingLibraries) {
  EXPECT_ERROR_CONTAINS(openDriver("/nonexistent/libcuda.so.1"),
                        "CUDA driver /nonexistent/libcuda.so.1 not found: ");
}

} // namespace
