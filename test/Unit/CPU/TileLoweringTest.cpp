//===- TileLoweringTest.cpp - attn-to-cpu on hand-written L2 kernels ------===//
//
// Tests attn-to-cpu independently of the tiler: a hand-written L2 kernel
// (FlashAttention-2 over attn.tile.* ops with a dense kv schedule, so that
// fully masked tiles occur before and after live ones) is lowered with
// attn-to-cpu and the same upstream passes as attn-lower-to-cpu, JIT-compiled
// and compared with the f64 reference (tolerances in Check.h).
//
//===----------------------------------------------------------------------===//

#include "Check.h"
#include "JitHarness.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdio>
#include <sstream>

using namespace attn;
using namespace attn::cputest;

namespace {

/// attn-to-cpu followed by the upstream passes of attn-lower-to-cpu
/// (passes/Pipelines/Pipelines.cpp) and the form check.
constexpr const char *kL2ToLLVM =
    "attn-to-cpu,scf-forall-to-for,canonicalize,cse,"
    "arith-expand{include-bf16=true},expand-strided-metadata,lower-affine,"
    "convert-scf-to-cf,convert-to-llvm,reconcile-unrealized-casts,"
    "attn-check-form{form=llvm}";

std::string formatScale(int64_t headDim) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.9e",
                static_cast<float>(1.0 / std::sqrt(double(headDim)) *
                                   1.44269504088896340736));
  return buffer;
}

/// The band and predicate of attn.tile.mask for the problem's mask.
std::string maskAttributes(const Problem &p) {
  std::ostringstream os;
  switch (p.mask) {
  case MaskKind::Causal:
  case MaskKind::CausalEvenKeys:
    os << " band_upper(0)";
    break;
  case MaskKind::Window:
  case MaskKind::WindowPrefixLM:
    os << " band_lower(" << -(p.window - 1) << ") band_upper(0)";
    break;
  default:
    break;
  }
  std::string predicate;
  switch (p.mask) {
  case MaskKind::PrefixLM:
  case MaskKind::WindowPrefixLM:
    predicate = "    %p = arith.constant " + std::to_string(p.prefix) +
                " : index\n"
                "    %in_prefix = arith.cmpi ult, %j, %p : index\n"
                "    %past = arith.cmpi ule, %j, %i : index\n"
                "    %ok = arith.ori %in_prefix, %past : i1\n";
    break;
  case MaskKind::EvenKeys:
  case MaskKind::CausalEvenKeys:
    predicate = "    %two = arith.constant 2 : index\n"
                "    %zero = arith.constant 0 : index\n"
                "    %r = arith.remui %j, %two : index\n"
                "    %ok = arith.cmpi eq, %r, %zero : index\n";
    break;
  case MaskKind::OddQueries:
    predicate = "    %two = arith.constant 2 : index\n"
                "    %one = arith.constant 1 : index\n"
                "    %r = arith.remui %i, %two : index\n"
                "    %ok = arith.cmpi eq, %r, %one : index\n";
    break;
  default:
    break;
  }
  if (!predicate.empty())
    os << " predicate {\n  ^bb0(%pb: index, %ph: index, %i: index, %j: index):\n"
       << predicate << "    attn.yield %ok : i1\n  }";
  return os.str();
}

/// The L2 kernel: scf.forall over (batch, query head, q-tile), tiles
/// allocated at the top of its body, a scf.for over every kv-tile.
std::string l2KernelIR(const Problem &p) {
  std::string t = p.dtype == DType::F32 ? "f32" : "bf16";
  std::string d = std::to_string(p.headDim);
  std::string bq = std::to_string(p.blockQ), bk = std::to_string(p.blockK);
  std::string act = "memref<?x?x?x" + d + "x" + t + ">";
  std::string qTile = "memref<" + bq + "x" + d + "x" + t + ">";
  std::string kTile = "memref<" + bk + "x" + d + "x" + t + ">";
  std::string sTile = "memref<" + bq + "x" + bk + "xf32>";
  std::string rowTile = "memref<" + bq + "xf32>";
  std::string accTile = "memref<" + bq + "x" + d + "xf32>";
  std::string lse = "memref<?x?x?xf32>";
  std::ostringstream os;
  os << "func.func @l2_kernel(%q: " << act << ", %k: " << act << ", %v: " << act
     << ", %o: " << act << ", %lse: " << lse
     << ") attributes {llvm.emit_c_interface} {\n"
     << "  %c0 = arith.constant 0 : index\n"
     << "  %c1 = arith.constant 1 : index\n"
     << "  %c2 = arith.constant 2 : index\n"
     << "  %bq = arith.constant " << bq << " : index\n"
     << "  %bk = arith.constant " << bk << " : index\n"
     << "  %nb = memref.dim %q, %c0 : " << act << "\n"
     << "  %hq = memref.dim %q, %c1 : " << act << "\n"
     << "  %nq = memref.dim %q, %c2 : " << act << "\n"
     << "  %hk = memref.dim %k, %c1 : " << act << "\n"
     << "  %nk = memref.dim %k, %c2 : " << act << "\n"
     << "  %group = arith.divui %hq, %hk : index\n"
     << "  %qtiles = arith.ceildivui %nq, %bq : index\n"
     << "  scf.forall (%b, %h, %t) in (%nb, %hq, %qtiles) {\n"
     << "    %qt = memref.alloca() : " << qTile << "\n"
     << "    %kt = memref.alloca() : " << kTile << "\n"
     << "    %vt = memref.alloca() : " << kTile << "\n"
     << "    %s = memref.alloca() : " << sTile << "\n"
     << "    %m = memref.alloca() : " << rowTile << "\n"
     << "    %l = memref.alloca() : " << rowTile << "\n"
     << "    %acc = memref.alloca() : " << accTile << "\n"
     << "    %q0 = arith.muli %t, %bq : index\n"
     << "    %kvh = arith.divui %h, %group : index\n"
     << "    attn.tile.load %q[%b, %h, %q0] into %qt : " << act << ", " << qTile
     << "\n"
     << "    attn.tile.fill %m, 0xFF800000 : " << rowTile << "\n"
     << "    attn.tile.fill %l, 0.0 : " << rowTile << "\n"
     << "    attn.tile.fill %acc, 0.0 : " << accTile << "\n"
     << "    scf.for %k0 = %c0 to %nk step %bk {\n"
     << "      attn.tile.load %k[%b, %kvh, %k0] into %kt : " << act << ", "
     << kTile << "\n"
     << "      attn.tile.load %v[%b, %kvh, %k0] into %vt : " << act << ", "
     << kTile << "\n"
     << "      attn.tile.qk %qt, %kt into %s scale(" << formatScale(p.headDim)
     << ") : " << qTile << ", " << kTile << ", " << sTile << "\n"
     << "      attn.tile.mask %s at(%b, %h, %q0, %k0) extents(%nq, %nk)"
     << maskAttributes(p) << " : " << sTile << "\n"
     << "      attn.tile.online_softmax %s, %m, %l, %acc : " << sTile << ", "
     << rowTile << ", " << rowTile << ", " << accTile << "\n"
     << "      attn.tile.pv %s, %vt into %acc : " << sTile << ", " << kTile
     << ", " << accTile << "\n"
     << "    }\n"
     << "    attn.tile.finalize %acc, %m, %l : " << accTile << ", " << rowTile
     << ", " << rowTile << "\n"
     << "    attn.tile.store %acc into %o[%b, %h, %q0] : " << accTile << ", "
     << act << "\n"
     << "    attn.tile.store %m into %lse[%b, %h, %q0] : " << rowTile << ", "
     << lse << "\n"
     << "  }\n"
     << "  return\n"
     << "}\n";
  return os.str();
}

Problem make(DType dtype, int64_t headDim, int64_t b, int64_t hq, int64_t hk,
             int64_t nq, int64_t nk, MaskKind mask, int64_t blockQ,
             int64_t blockK) {
  Problem p;
  p.dtype = dtype;
  p.headDim = headDim;
  p.batch = b;
  p.queryHeads = hq;
  p.kvHeads = hk;
  p.queryLen = nq;
  p.keyLen = nk;
  p.mask = mask;
  p.blockQ = blockQ;
  p.blockK = blockK;
  return p;
}

std::vector<Problem> l2Problems() {
  std::vector<Problem> problems = {
      make(DType::F32, 64, 1, 1, 1, 1, 1, MaskKind::None, 16, 16),
      make(DType::F32, 64, 2, 2, 1, 37, 37, MaskKind::Causal, 16, 16),
      make(DType::BF16, 128, 1, 2, 2, 33, 70, MaskKind::Causal, 32, 16),
      // Nq > Nk: the first Nq - Nk rows have no allowed key.
      make(DType::F32, 64, 1, 2, 1, 70, 33, MaskKind::Causal, 16, 32),
      make(DType::BF16, 64, 1, 4, 1, 50, 50, MaskKind::None, 16, 16),
      make(DType::F32, 128, 1, 1, 1, 64, 64, MaskKind::EvenKeys, 64, 64),
      make(DType::F32, 64, 1, 1, 1, 45, 45, MaskKind::OddQueries, 16, 16),
      make(DType::BF16, 64, 1, 2, 1, 40, 90, MaskKind::PrefixLM, 16, 32),
      make(DType::F32, 64, 1, 1, 1, 129, 129, MaskKind::CausalEvenKeys, 32, 16),
  };
  Problem window =
      make(DType::F32, 64, 1, 1, 1, 100, 100, MaskKind::Window, 16, 16);
  window.window = 7;
  problems.push_back(window);
  Problem windowNqGreater =
      make(DType::BF16, 64, 1, 1, 1, 60, 20, MaskKind::WindowPrefixLM, 16, 16);
  windowNqGreater.window = 5;
  windowNqGreater.prefix = 3;
  problems.push_back(windowNqGreater);
  return problems;
}

class TileLoweringTest : public ::testing::TestWithParam<Problem> {};

TEST_P(TileLoweringTest, MatchesReference) {
  const Problem &p = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("reproduce with ATTN_TEST_SEED=" + std::to_string(seed));
  std::string error;
  const Kernel *kernel =
      compileKernel(l2KernelIR(p), kL2ToLLVM, "l2_kernel", error);
  ASSERT_NE(kernel, nullptr) << error;
  RunBuffers run;
  error = runProblem(*kernel, p, seed, run);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_TRUE(matchesReference(p, run, referenceResult(p, run)));
}

INSTANTIATE_TEST_SUITE_P(L2, TileLoweringTest,
                         ::testing::ValuesIn(l2Problems()),
                         [](const ::testing::TestParamInfo<Problem> &info) {
                           return problemName(info.param);
                         });

} // namespace
