//===- BlockSparseTest.cpp - block masks through attn-lower-to-cpu --------===//
//
// L0 kernels with attn.mask.block (alone, with causal, with a custom
// predicate) go through the whole CPU pipeline: attn-plan plans a `list`
// schedule, attn-tile builds the lists (attn.tile_lists) and the
// list-scheduled fused steps, attn-to-cpu lowers both. Outputs are compared
// with the f64 reference of the same mask (tolerances in Check.h) on fresh
// random inputs and random block masks of a given density: block sizes
// equal to, smaller than and larger than the tiles and not dividing N,
// densities 0 (every row empty), 0.1, 0.5 and 1 (equal to the base mask
// alone), shared and per (batch, head) masks, i8 and i1 masks, Nq != Nk and
// GQA.
//
//===----------------------------------------------------------------------===//

#include "Check.h"
#include "JitHarness.h"

#include "gtest/gtest.h"

#include <random>
#include <sstream>

using namespace attn;
using namespace attn::cputest;

namespace {

struct BlockCase {
  Problem problem;
  int64_t blockSize = 16;
  double density = 0.5;
  bool causal = false;
  /// Also and-ed with a custom predicate (even keys only).
  bool evenKeys = false;
  bool perHead = false;
  /// The mask's element type: i1 instead of i8.
  bool boolean = false;
};

std::string caseName(const BlockCase &c) {
  std::ostringstream os;
  os << problemName(c.problem) << "_bs" << c.blockSize << "_density"
     << static_cast<int>(c.density * 100) << (c.causal ? "_causal" : "")
     << (c.evenKeys ? "_evenkeys" : "") << (c.perHead ? "_perhead" : "")
     << (c.boolean ? "_i1" : "");
  return os.str();
}

void PrintTo(const BlockCase &c, std::ostream *os) { *os << caseName(c); }

/// The L0 kernel: one attn.attention with and(block, causal?, custom?).
std::string blockKernelIR(const BlockCase &c) {
  const Problem &p = c.problem;
  std::string t = p.dtype == DType::F32 ? "f32" : "bf16";
  std::string act = "memref<?x?x?x" + std::to_string(p.headDim) + "x" + t + ">";
  std::string mask =
      std::string(c.perHead ? "memref<?x?x?x?x" : "memref<?x?x") +
      (c.boolean ? "i1>" : "i8>");
  std::ostringstream os;
  os << "func.func @block_kernel(%q: " << act << ", %k: " << act
     << ", %v: " << act << ", %o: " << act
     << ", %lse: memref<?x?x?xf32>, %bm: " << mask
     << ") attributes {llvm.emit_c_interface} {\n"
     << "  %blocks = attn.mask.block %bm size(" << c.blockSize << ") : " << mask
     << "\n";
  std::string combined = "%blocks";
  if (c.causal) {
    os << "  %causal = attn.mask.causal\n";
    combined += ", %causal";
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
  std::string used = "%blocks";
  if (combined != "%blocks") {
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

/// A random block mask with about `density` of its blocks on.
reference::IntTensor randomBlockMask(const BlockCase &c, uint64_t seed) {
  const Problem &p = c.problem;
  int64_t rows = (p.queryLen + c.blockSize - 1) / c.blockSize;
  int64_t cols = (p.keyLen + c.blockSize - 1) / c.blockSize;
  std::vector<int64_t> shape = {rows, cols};
  if (c.perHead)
    shape = {p.batch, p.queryHeads, rows, cols};
  reference::IntTensor mask(shape);
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (int64_t &value : mask.data())
    value = uniform(random) < c.density ? 1 : 0;
  return mask;
}

BlockCase make(DType dtype, int64_t headDim, int64_t b, int64_t hq, int64_t hk,
               int64_t nq, int64_t nk, int64_t blockQ, int64_t blockK,
               int64_t blockSize, double density) {
  BlockCase c;
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
  c.blockSize = blockSize;
  c.density = density;
  return c;
}

std::vector<BlockCase> blockCases() {
  std::vector<BlockCase> cases;
  // Blocks equal to the tiles; N not a multiple of the block.
  cases.push_back(make(DType::F32, 64, 1, 1, 1, 100, 100, 16, 16, 16, 0.5));
  // Blocks larger than the tiles, causal, per head, GQA, Nq != Nk.
  BlockCase large = make(DType::F32, 64, 2, 2, 1, 70, 90, 32, 16, 64, 0.5);
  large.causal = large.perHead = true;
  cases.push_back(large);
  // 128-blocks over 64 x 32 tiles, bf16, D = 128, causal.
  BlockCase bf16 = make(DType::BF16, 128, 1, 2, 2, 129, 129, 64, 32, 128, 0.5);
  bf16.causal = true;
  cases.push_back(bf16);
  // Blocks smaller than the tiles, sparse, Nq > Nk (rows without keys).
  BlockCase small = make(DType::F32, 64, 1, 2, 1, 40, 20, 16, 16, 8, 0.1);
  small.causal = small.perHead = true;
  cases.push_back(small);
  // Tiles of several blocks, mixed on and off, wholly inside the band (so
  // that only the block mask keeps them from being full).
  cases.push_back(make(DType::F32, 64, 1, 1, 1, 64, 64, 32, 16, 8, 0.5));
  BlockCase mixed = make(DType::BF16, 64, 1, 2, 1, 200, 200, 64, 32, 16, 0.7);
  mixed.causal = true;
  cases.push_back(mixed);
  // Density 0: every row is empty.
  cases.push_back(make(DType::F32, 64, 1, 2, 2, 50, 50, 16, 16, 16, 0.0));
  // Density 1 with causal: the causal attention.
  BlockCase dense = make(DType::F32, 64, 1, 1, 1, 77, 77, 32, 16, 16, 1.0);
  dense.causal = true;
  cases.push_back(dense);
  // A further predicate: no tile is known full.
  BlockCase even = make(DType::F32, 64, 1, 2, 1, 90, 90, 32, 32, 32, 0.5);
  even.evenKeys = even.causal = true;
  cases.push_back(even);
  // An i1 mask.
  BlockCase boolean = make(DType::F32, 64, 1, 1, 1, 64, 96, 16, 32, 32, 0.5);
  boolean.boolean = true;
  cases.push_back(boolean);
  return cases;
}

class BlockSparseTest : public ::testing::TestWithParam<BlockCase> {};

TEST_P(BlockSparseTest, MatchesReference) {
  const BlockCase &c = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("reproduce with ATTN_TEST_SEED=" + std::to_string(seed));
  std::string error;
  const Kernel *kernel = compileKernel(
      blockKernelIR(c), "attn-lower-to-cpu{" + pipelineOptions(c.problem) + "}",
      "block_kernel", error);
  ASSERT_NE(kernel, nullptr) << error;

  reference::Block block{c.blockSize, randomBlockMask(c, seed)};
  std::vector<reference::Mask> children;
  children.reserve(3);
  children.emplace_back(block);
  if (c.causal)
    children.emplace_back(reference::Causal{});
  if (c.evenKeys)
    children.emplace_back(
        reference::Custom{[](int64_t, int64_t j) { return j % 2 == 0; }, {}});
  reference::And mask{std::move(children)};
  IntArgument blockArgument;
  blockArgument.shape = block.blockMask.shape();
  blockArgument.bytes = true;
  for (int64_t value : block.blockMask.data())
    blockArgument.data.push_back(static_cast<int32_t>(value));

  RunBuffers run;
  error = runProblem(*kernel, c.problem, seed, run, {blockArgument});
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_TRUE(
      matchesReference(c.problem, run, referenceResult(c.problem, run, mask)));
}

INSTANTIATE_TEST_SUITE_P(L0, BlockSparseTest, ::testing::ValuesIn(blockCases()),
                         [](const ::testing::TestParamInfo<BlockCase> &info) {
                           return caseName(info.param);
                         });

} // namespace
