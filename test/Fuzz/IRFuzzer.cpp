//===- IRFuzzer.cpp - mutated IR through parse, verify, plan, tile -*- C++
//-*-===//
//
// attn-ir-fuzz SECONDS SEED FILE...: mutates the IR of the given files
// (each split at "// -----", as lit does) and runs every mutant through
// the parser and verifier, then --cse and --canonicalize (the two passes
// that once made valid IR crash attn-plan), attn-plan and attn-tile. Any
// diagnostic is fine; a crash, an assertion, a sanitizer report or a hang
// (CTest's timeout) is a failure. Before each run the mutant is written to
// ./ir-fuzz-current.mlir, so a crash leaves its reproducer.
//
// Mutations work on tokens, which random bytes rarely get past the parser
// with: an integer replaced by a boundary value (0, 1, -1, 2^31, 2^62,
// 2^63 - 1, ...), a line dropped or repeated, two lines swapped, an attn
// op or mask name replaced by another, a type's element type changed.
// Deterministic for a given SEED.
//
// LLVMFuzzerTestOneInput is also the entry point of the coverage-guided
// build: scripts/fuzz.sh compiles this file with -DATTN_LIBFUZZER and the
// dialect, attn-plan and attn-tile sources with clang and
// -fsanitize=fuzzer,address,undefined (attn-ir-libfuzzer), seeded with the
// same inputs split at "// -----" and a dictionary of the IR's tokens
// (test/Fuzz/ir.dict). That build registers only the dialects the seeds
// use and adds the four passes directly, so it links against libMLIR
// without the rest of the project.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnDialect.h"
#include "attn/Passes/Passes.h"
#ifdef ATTN_LIBFUZZER
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#else
#include "attn/InitAll.h"
#endif
#include "mlir/Transforms/Passes.h"


#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace mlir;

/// Parses, verifies, and runs cse, canonicalize, attn-plan and attn-tile on
/// `text`, discarding every diagnostic.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static DialectRegistry *registry = [] {
    auto *created = new DialectRegistry();
#ifdef ATTN_LIBFUZZER
    created->insert<attn::AttnDialect, arith::ArithDialect,
                    cf::ControlFlowDialect, func::FuncDialect,
                    gpu::GPUDialect, math::MathDialect, memref::MemRefDialect,
                    scf::SCFDialect, vector::VectorDialect>();
#else
    attn::registerAllDialects(*created);
#endif
    return created;
  }();
  MLIRContext context(*registry);
  context.loadAllAvailableDialects();
  context.printOpOnDiagnostic(false);
  ScopedDiagnosticHandler quiet(&context,
                                [](Diagnostic &) { return success(); });
  std::string text(reinterpret_cast<const char *>(data), size);
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(text, ParserConfig(&context));
  if (!module)
    return 0;
    PassManager pm(&context);
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(attn::createAttnPlan());
  pm.addPass(attn::createAttnTile());
  (void)pm.run(*module);
  return 0;
}

#ifndef ATTN_LIBFUZZER

namespace {
/// Token-level mutations of IR text (see the file comment).
class Mutator {
public:
  explicit Mutator(uint64_t seed) : random(seed) {}

  std::string mutate(const std::string &input) {
    std::string text = input;
    int count = 1 + pick(3);
    for (int i = 0; i < count; ++i)
      text = mutateOnce(text);
    return text;
  }

private:
  size_t pick(size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(random);
  }

  std::string mutateOnce(const std::string &text) {
    std::vector<std::string> lines;
    llvm::SmallVector<llvm::StringRef> split;
    llvm::StringRef(text).split(split, '\n');
    for (llvm::StringRef line : split)
      lines.push_back(line.str());
    if (lines.empty())
      return text;
    size_t at = pick(lines.size());
    switch (pick(5)) {
    case 0: { // An integer to a boundary value.
      static const char *values[] = {"0",
                                     "1",
                                     "-1",
                                     "2",
                                     "3",
                                     "2147483648",
                                     "4294967296",
                                     "4611686018427387904",
                                     "9223372036854775807",
                                     "-9223372036854775808",
                                     "65536"};
      std::string &line = lines[at];
      std::vector<std::pair<size_t, size_t>> numbers;
      for (size_t i = 0; i < line.size();) {
        bool startsWord = i == 0 || (!llvm::isAlnum(line[i - 1]) &&
                                     line[i - 1] != '_' && line[i - 1] != '%');
        if (llvm::isDigit(line[i]) && startsWord) {
          size_t j = i;
          while (j < line.size() && llvm::isDigit(line[j]))
            ++j;
          numbers.push_back({i, j - i});
          i = j;
        } else {
          ++i;
        }
      }
      if (!numbers.empty()) {
        auto [start, length] = numbers[pick(numbers.size())];
        line.replace(start, length, values[pick(std::size(values))]);
      }
      break;
    }
    case 1: // Drop a line.
      lines.erase(lines.begin() + at);
      break;
    case 2: // Repeat a line.
      lines.insert(lines.begin() + at, lines[at]);
      break;
    case 3: // Swap two lines.
      std::swap(lines[at], lines[pick(lines.size())]);
      break;
    default: { // One name for another.
      static const char *names[] = {"attn.mask.causal",
                                    "attn.mask.window",
                                    "attn.mask.block",
                                    "attn.mask.and",
                                    "attn.mask.custom",
                                    "attn.mask.hash",
                                    "attn.mask.drop",
                                    "attn.mask.nm",
                                    "attn.attention",
                                    "attn.plan",
                                    "attn.flood_fill",
                                    "xf32",
                                    "xbf16",
                                    "xf16",
                                    "xi1",
                                    "xi8",
                                    "x?",
                                    "xindex"};
      std::string &line = lines[at];
      size_t from = pick(std::size(names)), to = pick(std::size(names));
      size_t found = line.find(names[from]);
      if (found != std::string::npos)
        line.replace(found, std::strlen(names[from]), names[to]);
      break;
    }
    }
    return llvm::join(lines, "\n");
  }

  std::mt19937_64 random;
};
} // namespace

int main(int argc, char **argv) {
  if (argc < 4) {
    llvm::errs() << "usage: attn-ir-fuzz SECONDS SEED FILE...\n";
    return 2;
  }
  double seconds = std::atof(argv[1]);
  uint64_t seed = std::strtoull(argv[2], nullptr, 10);
  std::vector<std::string> seeds;
  for (int i = 3; i < argc; ++i) {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file =
        llvm::MemoryBuffer::getFile(argv[i]);
    if (!file) {
      llvm::errs() << "attn-ir-fuzz: cannot read " << argv[i] << "\n";
      return 2;
    }
    llvm::SmallVector<llvm::StringRef> chunks;
    (*file)->getBuffer().split(chunks, "// -----");
    for (llvm::StringRef chunk : chunks)
      seeds.push_back(chunk.str());
  }
  Mutator mutator(seed);
  std::mt19937_64 choose(seed ^ 0x9e3779b97f4a7c15ull);
  auto start = std::chrono::steady_clock::now();
  uint64_t runs = 0;
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
             .count() < seconds) {
    const std::string &base = seeds[choose() % seeds.size()];
    std::string mutant =
        runs < seeds.size() ? seeds[runs] : mutator.mutate(base);
    std::ofstream("ir-fuzz-current.mlir", std::ios::trunc) << mutant;
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(mutant.data()),
                           mutant.size());
    ++runs;
  }
  llvm::outs() << "attn-ir-fuzz: " << runs << " inputs (" << seeds.size()
               << " seeds) in " << seconds << " s, seed " << seed
               << ": no crash\n";
  return 0;
}
#endif // ATTN_LIBFUZZER
