//===- LinearTest.cpp - linear attention through attn-lower-to-cpu --------===//
//
// attn.linear_attention (Lightning Attention-2 semantics, SEMANTICS.md
// "Linear tiles") goes through the whole CPU pipeline: attn-tile's
// two-phase scheme (per-segment state increments, attn.linear_scan, then
// the outputs per segment), attn-to-cpu's decomposition of attn.fused.
// linear into attn.tile.* ops. O and the final state are compared with
// the DENSE definition of lib/Reference (reference::linearAttention, not
// the recurrence), in f64:
//  - decay 0 and ALiBi slopes; N in {1, 63, 64, 65, 1000}; D != E; one
//    segment and many (segments of two chunks, or of the run-time length
//    from linear-units), chunks of 16 and 64;
//  - the initial state in and final state out; running a sequence as two
//    halves (the first half's final state as the second's initial state)
//    gives the one-shot O and final state;
//  - bf16 inputs against the reference on the same rounded inputs;
//  - every output element written (poisoned with NaN before the run).
//
//===----------------------------------------------------------------------===//

#include "JitHarness.h"

#include "attn/Reference/Reference.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <random>
#include <sstream>

using namespace attn;
using namespace attn::cputest;

namespace {

struct LinearCase {
  int64_t batch = 1, heads = 2, len = 65, headDim = 16, valueDim = 16;
  bool decay = true, states = false, bf16 = false;
  /// segment 0: the run-time segment length from `units`.
  int64_t block = 16, segment = 32, units = 128;
};

std::string caseName(const LinearCase &c) {
  std::ostringstream os;
  os << "B" << c.batch << "_H" << c.heads << "_N" << c.len << "_D" << c.headDim
     << "_E" << c.valueDim << (c.decay ? "_alibi" : "_nodecay")
     << (c.states ? "_states" : "") << (c.bf16 ? "_bf16" : "_f32") << "_bt"
     << c.block << "_seg" << c.segment;
  if (c.segment == 0)
    os << "_units" << c.units;
  return os.str();
}

void PrintTo(const LinearCase &c, std::ostream *os) { *os << caseName(c); }

/// The L0 kernel: Q, K, V, O, then the decay rates and the states as the
/// case has them.
std::string linearIR(const LinearCase &c) {
  std::string element = c.bf16 ? "bf16" : "f32";
  auto activation = [&](int64_t dim) {
    return "memref<?x?x?x" + std::to_string(dim) + "x" + element + ">";
  };
  std::string qk = activation(c.headDim), vo = activation(c.valueDim);
  std::string state = "memref<?x?x" + std::to_string(c.headDim) + "x" +
                      std::to_string(c.valueDim) + "xf32>";
  std::ostringstream os;
  os << "func.func @linear(%q: " << qk << ", %k: " << qk << ", %v: " << vo
     << ", %o: " << vo;
  if (c.decay)
    os << ", %s: memref<?xf32>";
  if (c.states)
    os << ", %init: " << state << ", %final: " << state;
  os << ") attributes {llvm.emit_c_interface} {\n"
     << "  attn.linear_attention ins(%q, %k, %v : " << qk << ", " << qk << ", "
     << vo << ") outs(%o : " << vo << ")";
  if (c.decay)
    os << " decay(%s : memref<?xf32>)";
  if (c.states)
    os << " initial_state(%init : " << state
       << ") final_state(%final : " << state << ")";
  os << "\n  return\n}\n";
  return os.str();
}

std::string pipeline(const LinearCase &c) {
  return "attn-lower-to-cpu{linear-block=" + std::to_string(c.block) +
         " linear-segment=" + std::to_string(c.segment) +
         " linear-units=" + std::to_string(c.units) + "}";
}

/// Host data of one tensor in the kernel's element type, and its
/// descriptor.
struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> f32;
  std::vector<uint16_t> bf16;
  bool isBF16 = false;
  StridedMemRefType<float, 4> desc4{};
  StridedMemRefType<float, 1> desc1{};

  HostTensor(std::vector<int64_t> shape, bool isBF16)
      : shape(std::move(shape)), isBF16(isBF16) {
    int64_t count = 1;
    for (int64_t extent : this->shape)
      count *= extent;
    if (isBF16)
      bf16.assign(count, kBF16PoisonNaN);
    else
      f32.assign(count, std::numeric_limits<float>::quiet_NaN());
  }
  int64_t size() const { return isBF16 ? bf16.size() : f32.size(); }
  float get(int64_t i) const { return isBF16 ? bf16ToFloat(bf16[i]) : f32[i]; }
  void set(int64_t i, float value) {
    if (isBF16)
      bf16[i] = floatToBF16(value);
    else
      f32[i] = value;
  }
  void *descriptor() {
    float *data = isBF16 ? reinterpret_cast<float *>(bf16.data()) : f32.data();
    if (shape.size() == 1) {
      desc1 = {data, data, 0, {shape[0]}, {1}};
      return &desc1;
    }
    desc4 = {
        data,
        data,
        0,
        {shape[0], shape[1], shape[2], shape[3]},
        {shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1}};
    return &desc4;
  }
  reference::Tensor toReference() const {
    reference::Tensor tensor(shape);
    for (int64_t i = 0; i < size(); ++i)
      tensor.data()[i] = get(i);
    return tensor;
  }
};

struct LinearRun {
  reference::Tensor out, state;
};

/// Runs the case's kernel on `q`, `k`, `v` (and `initial` when the case has
/// states) and returns O and the final state as written (NaN where not).
LinearRun run(const LinearCase &c, const reference::Tensor &q,
              const reference::Tensor &k, const reference::Tensor &v,
              const std::vector<double> &slopes,
              const reference::Tensor &initial) {
  std::string error;
  const Kernel *kernel =
      compileKernel(linearIR(c), pipeline(c), "linear", error);
  EXPECT_NE(kernel, nullptr) << error;
  if (!kernel)
    return {};
  auto fill = [&](const reference::Tensor &from, bool isBF16) {
    HostTensor tensor(from.shape(), isBF16);
    for (int64_t i = 0; i < tensor.size(); ++i)
      tensor.set(i, static_cast<float>(from.data()[i]));
    return tensor;
  };
  HostTensor hq = fill(q, c.bf16), hk = fill(k, c.bf16), hv = fill(v, c.bf16);
  HostTensor ho({c.batch, c.heads, q.dim(2), c.valueDim}, c.bf16);
  HostTensor hs({c.heads}, false);
  for (int64_t h = 0; h < c.heads; ++h)
    hs.set(h, static_cast<float>(slopes.empty() ? 0.0 : slopes[h]));
  HostTensor hinit({c.batch, c.heads, c.headDim, c.valueDim}, false);
  HostTensor hfinal({c.batch, c.heads, c.headDim, c.valueDim}, false);
  std::vector<void *> descriptors{hq.descriptor(), hk.descriptor(),
                                  hv.descriptor(), ho.descriptor()};
  if (c.decay)
    descriptors.push_back(hs.descriptor());
  if (c.states) {
    for (int64_t i = 0; i < hinit.size(); ++i)
      hinit.set(i, static_cast<float>(initial.data()[i]));
    descriptors.push_back(hinit.descriptor());
    descriptors.push_back(hfinal.descriptor());
  }
  error = kernel->invoke(descriptors);
  EXPECT_TRUE(error.empty()) << error;
  return {ho.toReference(), hfinal.toReference()};
}

reference::Tensor randomTensor(std::vector<int64_t> shape, double scale,
                               bool bf16, std::mt19937_64 &rng) {
  reference::Tensor tensor(shape);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (double &x : tensor.data()) {
    x = scale * uniform(rng);
    if (bf16)
      x = bf16ToFloat(floatToBF16(static_cast<float>(x)));
    else
      x = static_cast<float>(x);
  }
  return tensor;
}

/// Expects `got` to match `want` element by element within `tolerance`
/// times the largest |want| (plus a floor), with no NaN (every element
/// written).
void expectClose(const reference::Tensor &got, const reference::Tensor &want,
                 double tolerance, const std::string &what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  double scale = 1e-6;
  for (double x : want.data())
    scale = std::max(scale, std::fabs(x));
  int64_t reported = 0;
  for (size_t i = 0; i < got.data().size(); ++i) {
    double g = got.data()[i], w = want.data()[i];
    bool ok = std::isfinite(g) && std::fabs(g - w) <= tolerance * scale;
    if (!ok && reported++ < 5)
      ADD_FAILURE() << what << "[" << i << "] = " << g << ", want " << w
                    << " (tolerance " << tolerance * scale << ")";
  }
}

class LinearTest : public ::testing::TestWithParam<LinearCase> {};

TEST_P(LinearTest, MatchesDenseReference) {
  const LinearCase &c = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("reproduce with ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  reference::Tensor q =
      randomTensor({c.batch, c.heads, c.len, c.headDim}, 0.5, c.bf16, rng);
  reference::Tensor k =
      randomTensor({c.batch, c.heads, c.len, c.headDim}, 0.5, c.bf16, rng);
  reference::Tensor v =
      randomTensor({c.batch, c.heads, c.len, c.valueDim}, 1.0, c.bf16, rng);
  std::vector<double> slopes;
  if (c.decay)
    for (double s : reference::alibiSlopes(c.heads))
      slopes.push_back(static_cast<float>(s)); // the kernel reads f32
  reference::Tensor initial;
  if (c.states)
    initial = randomTensor({c.batch, c.heads, c.headDim, c.valueDim}, 1.0,
                           false, rng);
  LinearRun got = run(c, q, k, v, slopes, initial);
  reference::LinearAttentionResult want =
      reference::linearAttention(q, k, v, slopes, initial);
  // f32 accumulation over up to N terms; bf16 output rounding (2^-8).
  double tolerance = c.bf16 ? 1e-2 : 2e-5;
  expectClose(got.out, want.out, tolerance, "O");
  if (c.states)
    expectClose(got.state, want.state, 2e-5, "final state");
}

/// Two halves: the first half's final state continues into the second;
/// O and the final state equal the one-shot run's (to f32 rounding).
TEST(LinearStateTest, TwoHalvesEqualOneRun) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("reproduce with ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  LinearCase c;
  c.batch = 2, c.heads = 2, c.headDim = 16, c.valueDim = 32, c.states = true;
  const int64_t total = 1000, first = 512;
  reference::Tensor q = randomTensor({2, 2, total, 16}, 0.5, false, rng);
  reference::Tensor k = randomTensor({2, 2, total, 16}, 0.5, false, rng);
  reference::Tensor v = randomTensor({2, 2, total, 32}, 1.0, false, rng);
  reference::Tensor initial = randomTensor({2, 2, 16, 32}, 1.0, false, rng);
  std::vector<double> slopes;
  for (double s : reference::alibiSlopes(2))
    slopes.push_back(static_cast<float>(s));
  auto rows = [](const reference::Tensor &t, int64_t begin, int64_t end) {
    reference::Tensor part({t.dim(0), t.dim(1), end - begin, t.dim(3)});
    for (int64_t b = 0; b < t.dim(0); ++b)
      for (int64_t h = 0; h < t.dim(1); ++h)
        for (int64_t i = begin; i < end; ++i)
          for (int64_t x = 0; x < t.dim(3); ++x)
            part.data()[((b * t.dim(1) + h) * (end - begin) + i - begin) *
                            t.dim(3) +
                        x] = t.at({b, h, i, x});
    return part;
  };
  LinearRun whole = run(c, q, k, v, slopes, initial);
  LinearRun head = run(c, rows(q, 0, first), rows(k, 0, first),
                       rows(v, 0, first), slopes, initial);
  LinearRun tail = run(c, rows(q, first, total), rows(k, first, total),
                       rows(v, first, total), slopes, head.state);
  expectClose(head.out, rows(whole.out, 0, first), 2e-5, "O, first half");
  expectClose(tail.out, rows(whole.out, first, total), 2e-5, "O, second half");
  expectClose(tail.state, whole.state, 2e-5, "final state");
}

/// Decay rates that are negative, NaN or infinite (in any head): O and the
/// final state stay as they were (poisoned), as on the GPU, where the
/// bundle's input check also fails the call.
TEST(LinearBadDecayTest, WritesNothing) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("reproduce with ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  LinearCase c;
  c.heads = 3, c.len = 100, c.states = true;
  reference::Tensor q = randomTensor({1, 3, 100, 16}, 0.5, false, rng);
  reference::Tensor k = randomTensor({1, 3, 100, 16}, 0.5, false, rng);
  reference::Tensor v = randomTensor({1, 3, 100, 16}, 1.0, false, rng);
  reference::Tensor initial = randomTensor({1, 3, 16, 16}, 1.0, false, rng);
  for (double bad : {-0.25, std::nan(""), HUGE_VAL}) {
    SCOPED_TRACE("decay rate " + std::to_string(bad));
    std::vector<double> slopes{0.5, bad, 0.125};
    LinearRun got = run(c, q, k, v, slopes, initial);
    for (double x : got.out.data())
      ASSERT_TRUE(std::isnan(x)) << "O was written";
    for (double x : got.state.data())
      ASSERT_TRUE(std::isnan(x)) << "the final state was written";
  }
  // The same inputs with valid rates write both (the check above can fail).
  LinearRun good = run(c, q, k, v, {0.5, 0.25, 0.125}, initial);
  for (double x : good.out.data())
    ASSERT_TRUE(std::isfinite(x));
  for (double x : good.state.data())
    ASSERT_TRUE(std::isfinite(x));
}

std::vector<LinearCase> linearCases() {
  std::vector<LinearCase> cases;
  for (int64_t len : {1, 63, 64, 65, 1000})
    for (bool decay : {false, true}) {
      LinearCase c;
      c.len = len;
      c.decay = decay;
      cases.push_back(c); // chunks of 16, segments of 32: many segments
      c.block = 64, c.segment = 8192; // one segment, chunks of 64
      cases.push_back(c);
    }
  LinearCase differentDims; // D != E, both ways, batch and heads > 1
  differentDims.batch = 2, differentDims.heads = 4, differentDims.len = 200;
  differentDims.headDim = 32, differentDims.valueDim = 16;
  cases.push_back(differentDims);
  std::swap(differentDims.headDim, differentDims.valueDim);
  differentDims.segment = 64;
  cases.push_back(differentDims);
  LinearCase states; // initial state in, final state out, several segments
  states.len = 300, states.states = true;
  cases.push_back(states);
  states.decay = false;
  cases.push_back(states);
  states.len = 1, states.decay = true;
  cases.push_back(states);
  // The run-time segment length (the default): about `units` (b, h,
  // segment) units, here 63 segments of one chunk, and one segment.
  for (int64_t units : {1000, 1}) {
    LinearCase runTime;
    runTime.len = 1000, runTime.segment = 0, runTime.units = units;
    cases.push_back(runTime);
    runTime.states = true;
    cases.push_back(runTime);
  }
  LinearCase bf16; // bf16 activations, f32 accumulation
  bf16.len = 257, bf16.bf16 = true, bf16.headDim = 32, bf16.valueDim = 32;
  cases.push_back(bf16);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Lightning, LinearTest,
                         ::testing::ValuesIn(linearCases()),
                         [](const ::testing::TestParamInfo<LinearCase> &info) {
                           return caseName(info.param);
                         });

} // namespace
