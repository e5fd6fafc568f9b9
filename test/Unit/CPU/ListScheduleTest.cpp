//===- ListScheduleTest.cpp - the fused step's list schedule on the CPU ---===//
//
// A hand-written L2 kernel runs attn.fused.forward with schedule(list): a
// block mask (a predicate reading block[.., i / bs, j / bs], optionally with
// the causal band) whose per-q-tile lists of full and partial kv-tiles the
// test builds on the host from the reference's own mask matrix. The kernel
// is lowered with attn-to-cpu (the step's decomposition), JIT-compiled and
// compared with the f64 reference of And{Causal, Block} (tolerances in
// Check.h). The cases cover block sizes equal to, smaller than, larger than
// and not dividing the tiles, lists shared by all (batch, head) or given per
// (batch, head), GQA, Nq != Nk, q-tiles with no tile at all (empty rows),
// full tiles listed in descending order and lists that mark every tile
// partial (slower, same result).
//
//===----------------------------------------------------------------------===//

#include "Check.h"
#include "JitHarness.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>

using namespace attn;
using namespace attn::cputest;

namespace {

/// The lowering of TileLoweringTest: attn-to-cpu and the upstream passes.
constexpr const char *kL2ToLLVM =
    "attn-to-cpu,scf-forall-to-for,canonicalize,cse,"
    "arith-expand{include-bf16=true},expand-strided-metadata,lower-affine,"
    "convert-scf-to-cf,convert-to-llvm,reconcile-unrealized-casts,"
    "attn-check-form{form=llvm}";

/// One list-schedule case on top of a Problem (shapes, dtype, tiles).
struct ListCase {
  Problem problem;
  int64_t blockSize = 16;
  bool causal = false;
  /// Lists (and the block mask) shared by every (batch, head), else given
  /// per (batch, head).
  bool shared = true;
  /// Every non-empty tile listed as partial.
  bool allPartial = false;
};

std::string caseName(const ListCase &c) {
  std::ostringstream os;
  os << problemName(c.problem) << "_bs" << c.blockSize
     << (c.causal ? "_causal" : "") << (c.shared ? "_shared" : "_perhead")
     << (c.allPartial ? "_allpartial" : "");
  return os.str();
}

/// Prints the case by name in gtest messages.
void PrintTo(const ListCase &c, std::ostream *os) { *os << caseName(c); }

/// The L2 kernel: forall (b, h, t), one list-scheduled fused step each.
/// Arguments: q, k, v, o, lse, block mask, counts, indices.
std::string listKernelIR(const ListCase &c) {
  const Problem &p = c.problem;
  std::string t = p.dtype == DType::F32 ? "f32" : "bf16";
  std::string act = "memref<?x?x?x" + std::to_string(p.headDim) + "x" + t + ">";
  std::string lists = c.shared ? "memref<1x1x?x" : "memref<?x?x?x";
  std::string counts = lists + "2xi32>", indices = lists + "?xi32>";
  std::string block = c.shared ? "memref<?x?xi32>" : "memref<?x?x?x?xi32>";
  std::string blockLoad =
      c.shared ? "%blk = memref.load %block[%bi, %bj] : " + block
               : "%blk = memref.load %block[%pb, %ph, %bi, %bj] : " + block;
  char scale[32];
  std::snprintf(scale, sizeof(scale), "%.9e",
                static_cast<float>(1.0 / std::sqrt(double(p.headDim))));
  std::ostringstream os;
  os << "func.func @list_kernel(%q: " << act << ", %k: " << act
     << ", %v: " << act << ", %o: " << act << ", %lse: memref<?x?x?xf32>"
     << ", %block: " << block << ", %counts: " << counts
     << ", %indices: " << indices << ") attributes {llvm.emit_c_interface} {\n"
     << "  %c0 = arith.constant 0 : index\n"
     << "  %c1 = arith.constant 1 : index\n"
     << "  %c2 = arith.constant 2 : index\n"
     << "  %bq = arith.constant " << p.blockQ << " : index\n"
     << "  %nb = memref.dim %q, %c0 : " << act << "\n"
     << "  %hq = memref.dim %q, %c1 : " << act << "\n"
     << "  %nq = memref.dim %q, %c2 : " << act << "\n"
     << "  %hk = memref.dim %k, %c1 : " << act << "\n"
     << "  %group = arith.divui %hq, %hk : index\n"
     << "  %qtiles = arith.ceildivui %nq, %bq : index\n"
     << "  scf.forall (%b, %h, %t) in (%nb, %hq, %qtiles) {\n"
     << "    %q0 = arith.muli %t, %bq : index\n"
     << "    %kvh = arith.divui %h, %group : index\n"
     << "    attn.fused.forward ins(%q, %k, %v : " << act << ", " << act << ", "
     << act << ") outs(%o : " << act
     << ") lse(%lse : memref<?x?x?xf32>) at(%b, %h, %q0) kv_head(%kvh)"
     << " kv_list(%counts, %indices : " << counts << ", " << indices << ")"
     << " block(" << p.blockQ << ", " << p.blockK << ") scale(" << scale
     << ") schedule(list)" << (c.causal ? " band_upper(0)" : "")
     << " predicate {\n"
     << "    ^bb0(%pb: index, %ph: index, %i: index, %j: index):\n"
     << "      %bs = arith.constant " << c.blockSize << " : index\n"
     << "      %bi = arith.divui %i, %bs : index\n"
     << "      %bj = arith.divui %j, %bs : index\n"
     << "      " << blockLoad << "\n"
     << "      %zero = arith.constant 0 : i32\n"
     << "      %ok = arith.cmpi ne, %blk, %zero : i32\n"
     << "      attn.yield %ok : i1\n"
     << "    }\n"
     << "  }\n"
     << "  return\n"
     << "}\n";
  return os.str();
}

/// A random block mask with about half the blocks on, and the block rows
/// 1 (if it exists) all off, so that some q-tiles may have no allowed key.
reference::IntTensor randomBlockMask(const ListCase &c, uint64_t seed) {
  const Problem &p = c.problem;
  int64_t rows = (p.queryLen + c.blockSize - 1) / c.blockSize;
  int64_t cols = (p.keyLen + c.blockSize - 1) / c.blockSize;
  std::vector<int64_t> shape = {rows, cols};
  if (!c.shared)
    shape = {p.batch, p.queryHeads, rows, cols};
  reference::IntTensor mask(shape);
  std::mt19937_64 random(seed);
  std::vector<int64_t> &data = mask.data();
  for (size_t e = 0; e < data.size(); ++e) {
    int64_t row = static_cast<int64_t>(e / cols) % rows;
    data[e] = row == 1 ? 0 : static_cast<int64_t>(random() % 2);
  }
  return mask;
}

/// The per-q-tile lists of the case, from the reference mask matrix: a
/// kv-tile is full when every (existing row, key) pair of it is allowed
/// (keys past Nk are not), partial when some are, skipped otherwise. Full
/// tiles are listed in descending order, partial ones in ascending order.
void buildLists(const ListCase &c, const reference::Mask &mask,
                IntArgument &counts, IntArgument &indices) {
  const Problem &p = c.problem;
  reference::AttentionShape shape{p.batch, p.queryHeads, p.kvHeads, p.queryLen,
                                  p.keyLen};
  int64_t qTiles = (p.queryLen + p.blockQ - 1) / p.blockQ;
  int64_t kTiles = (p.keyLen + p.blockK - 1) / p.blockK;
  int64_t listBatch = c.shared ? 1 : p.batch;
  int64_t listHeads = c.shared ? 1 : p.queryHeads;
  counts.shape = {listBatch, listHeads, qTiles, 2};
  indices.shape = {listBatch, listHeads, qTiles, kTiles};
  counts.data.assign(listBatch * listHeads * qTiles * 2, 0);
  // Unused entries hold an index out of range: the kernel must not read
  // them.
  indices.data.assign(listBatch * listHeads * qTiles * kTiles, 1 << 30);
  for (int64_t b = 0; b < listBatch; ++b)
    for (int64_t h = 0; h < listHeads; ++h) {
      reference::IntTensor matrix = reference::maskMatrix(mask, shape, b, h);
      for (int64_t t = 0; t < qTiles; ++t) {
        std::vector<int32_t> full, partial;
        int64_t rowEnd = std::min(p.queryLen, (t + 1) * p.blockQ);
        for (int64_t kt = 0; kt < kTiles; ++kt) {
          int64_t allowed = 0, pairs = 0;
          for (int64_t i = t * p.blockQ; i < rowEnd; ++i)
            for (int64_t j = kt * p.blockK; j < (kt + 1) * p.blockK; ++j) {
              ++pairs;
              allowed += j < p.keyLen && matrix.at({i, j}) != 0;
            }
          if (allowed == pairs && !c.allPartial)
            full.push_back(static_cast<int32_t>(kt));
          else if (allowed > 0)
            partial.push_back(static_cast<int32_t>(kt));
        }
        std::reverse(full.begin(), full.end());
        int64_t list = (b * listHeads + h) * qTiles + t;
        counts.data[2 * list] = static_cast<int32_t>(full.size());
        counts.data[2 * list + 1] = static_cast<int32_t>(partial.size());
        std::copy(full.begin(), full.end(),
                  indices.data.begin() + list * kTiles);
        std::copy(partial.begin(), partial.end(),
                  indices.data.begin() + list * kTiles + full.size());
      }
    }
}

ListCase make(DType dtype, int64_t headDim, int64_t b, int64_t hq, int64_t hk,
              int64_t nq, int64_t nk, int64_t blockQ, int64_t blockK,
              int64_t blockSize, bool causal, bool shared) {
  ListCase c;
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
  c.causal = causal;
  c.shared = shared;
  return c;
}

std::vector<ListCase> listCases() {
  std::vector<ListCase> cases = {
      // Blocks the size of the tiles.
      make(DType::F32, 64, 1, 1, 1, 100, 100, 16, 16, 16, false, true),
      // Blocks that divide neither tile, GQA, Nq != Nk, per-head lists.
      make(DType::F32, 64, 2, 2, 1, 70, 90, 32, 16, 24, true, false),
      // Blocks larger than the tiles.
      make(DType::BF16, 128, 1, 2, 2, 129, 129, 64, 32, 128, true, true),
      // Blocks smaller than the tiles; Nq > Nk (rows without keys).
      make(DType::F32, 64, 1, 2, 1, 40, 20, 16, 16, 8, true, false),
  };
  ListCase conservative = cases[1];
  conservative.allPartial = true;
  cases.push_back(conservative);
  return cases;
}

class ListScheduleTest : public ::testing::TestWithParam<ListCase> {};

TEST_P(ListScheduleTest, MatchesReference) {
  const ListCase &c = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("reproduce with ATTN_TEST_SEED=" + std::to_string(seed));
  std::string error;
  const Kernel *kernel =
      compileKernel(listKernelIR(c), kL2ToLLVM, "list_kernel", error);
  ASSERT_NE(kernel, nullptr) << error;

  reference::Block block{c.blockSize, randomBlockMask(c, seed)};
  reference::Mask mask = block;
  if (c.causal)
    mask = reference::And{{reference::Causal{}, block}};
  IntArgument blockArgument, counts, indices;
  blockArgument.shape = block.blockMask.shape();
  for (int64_t value : block.blockMask.data())
    blockArgument.data.push_back(static_cast<int32_t>(value));
  buildLists(c, mask, counts, indices);

  RunBuffers run;
  error = runProblem(*kernel, c.problem, seed, run,
                     {blockArgument, counts, indices});
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_TRUE(
      matchesReference(c.problem, run, referenceResult(c.problem, run, mask)));
}

INSTANTIATE_TEST_SUITE_P(L2, ListScheduleTest, ::testing::ValuesIn(listCases()),
                         [](const ::testing::TestParamInfo<ListCase> &info) {
                           return caseName(info.param);
                         });

} // namespace
