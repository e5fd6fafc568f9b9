//===- ManifestTest.cpp - Bundle loading and manifest errors ----*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// Loading a valid bundle, and the exact message of every way a manifest or
// its PTX file can be wrong. Line and column numbers refer to
// kCausalManifest's layout: line 3 is "version", line 17 the grid.
//
//===----------------------------------------------------------------------===//

#include "TestBundle.h"

#include <sys/stat.h>
#include <unistd.h>

#include "Manifest.h"

using namespace attn::runtime;
using namespace attn::runtime::test;

namespace {

TEST(Manifest, LoadsTheSpecificationExample) {
  TestBundle dir;
  auto bundle = dir.load();
  ASSERT_TRUE(bundle.ok()) << bundle.error().message();
  const Bundle &b = **bundle;
  EXPECT_EQ(b.name(), "causal");
  EXPECT_EQ(b.target(), "sm_80");
  EXPECT_EQ(b.ptxFile(), "kernels.ptx");
  EXPECT_EQ(b.ptx(), causalPtx());
  EXPECT_EQ(b.directory(), dir.path());

  ASSERT_EQ(b.arguments().size(), 5u);
  EXPECT_EQ(b.arguments()[0].name, "q");
  EXPECT_EQ(b.arguments()[0].dtype, DType::BF16);
  ASSERT_EQ(b.arguments()[0].shape.size(), 4u);
  EXPECT_EQ(b.arguments()[0].shape[0].symbol, "B");
  EXPECT_FALSE(b.arguments()[0].shape[3].isSymbol());
  EXPECT_EQ(b.arguments()[0].shape[3].value, 128);
  EXPECT_EQ(b.arguments()[4].name, "lse");
  EXPECT_EQ(b.arguments()[4].dtype, DType::F32);
  EXPECT_EQ(b.arguments()[4].shape.size(), 3u);

  EXPECT_EQ(b.symbols(),
            (std::vector<std::string>{"B", "Hq", "Nq", "Hk", "Nk"}));
  EXPECT_EQ(b.constraints(), (std::vector<std::string>{"Hq % Hk == 0"}));

  ASSERT_EQ(b.launches().size(), 1u);
  const LaunchSpec &launch = b.launches()[0];
  EXPECT_EQ(launch.kernel, "causal_kernel");
  EXPECT_EQ(launch.grid[0], "ceildiv(Nq, 64)");
  EXPECT_EQ(launch.grid[1], "Hq");
  EXPECT_EQ(launch.grid[2], "B");
  EXPECT_EQ(launch.block, (std::array<uint32_t, 3>{128, 1, 1}));
  EXPECT_EQ(launch.sharedBytes, 0u);
  EXPECT_EQ(launch.args, (std::vector<size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(launch.abi, KernelAbi::MemRef);
}

TEST(Manifest, AcceptsOptionalConstraintsEscapesAndIntegerGrids) {
  std::string manifest =
      replaced(kCausalManifest, "  \"constraints\": [\"Hq % Hk == 0\"],\n", "");
  manifest = replaced(manifest, "\"name\": \"causal\"",
                      "\"name\": \"caus\\u00e9\\tl\\ud83d\\ude00\\/\"");
  manifest = replaced(manifest, "\"B\"],", "1],");
  TestBundle dir(manifest);
  auto bundle = dir.load();
  ASSERT_TRUE(bundle.ok()) << bundle.error().message();
  EXPECT_EQ((*bundle)->name(), "caus\xC3\xA9\tl\xF0\x9F\x98\x80/");
  EXPECT_TRUE((*bundle)->constraints().empty());
  EXPECT_EQ((*bundle)->launches()[0].grid[2], "1");
}

TEST(Manifest, BareAbiCountsOnePointerPerArgument) {
  std::string manifest = replaced(kCausalManifest, "\"memref\"", "\"bare\"");
  TestBundle dir(manifest, ptxFor({{"causal_kernel", 5}}));
  auto bundle = dir.load();
  ASSERT_TRUE(bundle.ok()) << bundle.error().message();
  EXPECT_EQ((*bundle)->launches()[0].abi, KernelAbi::Bare);
}

TEST(Manifest, MissingDirectoryOrManifest) {
  EXPECT_ERROR(Bundle::load("/nonexistent/attn-bundle"),
               "cannot read bundle manifest "
               "'/nonexistent/attn-bundle/manifest.json': No such file or "
               "directory");
}

TEST(Manifest, BadJsonNamesLineAndColumn) {
  // A missing ',' between "version" and "name": the error is at the start of
  // line 4, column 3.
  std::string manifest =
      replaced(kCausalManifest, "\"version\": 1,", "\"version\": 1");
  EXPECT_EQ(loadError(manifest),
            "<dir>/manifest.json:4:3: expected ',' or '}' in an object, found "
            "'\"'");
}

TEST(Manifest, JsonErrors) {
  const std::pair<const char *, const char *> cases[] = {
      {"", "1:1: expected a value, found end of input"},
      {"{\"a\": 1,}", "1:9: trailing ',' before '}'"},
      {"[1, 2,]", "1:7: trailing ',' before ']'"},
      {"{\"a\": 1.5}", "1:7: only integers are supported, found a number "
                       "with a fraction or exponent"},
      {"{\"a\": 1e3}", "1:7: only integers are supported, found a number "
                       "with a fraction or exponent"},
      {"{\"a\": 012}", "1:7: numbers must not have leading zeros"},
      {"{\"a\": 99999999999999999999}", "1:7: integer out of the 64-bit range"},
      {"{\"a\": \"x", "1:7: unterminated string"},
      {"{\"a\": \"\\q\"}", "1:9: invalid escape '\\q' in a string"},
      {"{\"a\": \"\\ud800\"}", "1:8: high surrogate in \\u escape is not "
                               "followed by a low surrogate"},
      {"{\"a\": \"\\u12g4\"}", "1:12: expected 4 hex digits after \\u, found "
                               "'g'"},
      {"{\"a\": \"tab\there\"}", "1:11: control character byte 0x09 in a "
                                 "string must be escaped"},
      {"{\"a\": 1, \"a\": 2}", "1:10: duplicate key \"a\""},
      {"{\"a\" 1}", "1:6: expected ':' after key \"a\", found '1'"},
      {"{a: 1}", "1:2: expected a string key in an object, found 'a'"},
      {"{\"a\": tru}", "1:7: expected a value, found 't'"},
      {"{\"a\": 1} x", "1:10: unexpected 'x' after the top-level value"},
      {"{\"a\": [1 2]}", "1:10: expected ',' or ']' in an array, found '2'"},
      {"// comment\n{}", "1:1: expected a value, found '/'"},
  };
  for (const auto &[text, expected] : cases)
    EXPECT_EQ(loadError(text), std::string("<dir>/manifest.json:") + expected)
        << "input: " << text;
}

TEST(Manifest, DeepNestingIsAnErrorNotACrash) {
  std::string deep(100000, '[');
  EXPECT_EQ(loadError(deep),
            "<dir>/manifest.json:1:65: nesting deeper than 64");
}

TEST(Manifest, ManyKeysAreCheckedForDuplicatesOnce) {
  // 100,000 distinct keys parse (each checked against the others through a
  // set), then the first unknown one is named; a repeated key among them
  // is still found.
  std::string keys;
  for (int i = 0; i < 100000; ++i)
    keys += ", \"k" + std::to_string(i) + "\": 0";
  std::string manifest =
      "{\"format\": \"attn-bundle\", \"version\": 1" + keys + "}";
  EXPECT_EQ(loadError(manifest),
            "<dir>/manifest.json:1:47: unknown field 'k0'");
  std::string repeated =
      "{\"format\": \"attn-bundle\", \"version\": 1" + keys + ", \"k77\": 1}";
  std::string message = loadError(repeated);
  EXPECT_NE(message.find("duplicate key \"k77\""), std::string::npos)
      << message.substr(0, 200);
}

TEST(Manifest, LargeManifestIsRefusedBeforeParsing) {
  // 100 MB with an unknown key holding a long array took 30 s and 6.9 GB
  // before its rejection; a manifest past 16 MiB is refused unread.
  std::string large = "{\"format\": \"attn-bundle\", \"x\": [" +
                      std::string(17 << 20, '0') + "]}";
  std::string message = loadError(large);
  EXPECT_NE(message.find("is larger than 16 MiB, the most it may have"),
            std::string::npos)
      << message;
}

TEST(Manifest, TopLevelMustBeAnObject) {
  EXPECT_EQ(loadError("[]"), "<dir>/manifest.json:1:1: the manifest must be "
                             "a JSON object, got an array");
}

TEST(Manifest, WrongVersion) {
  std::string manifest =
      replaced(kCausalManifest, "\"version\": 1", "\"version\": 2");
  EXPECT_EQ(loadError(manifest),
            "<dir>/manifest.json:3:14: bundle version 2 is not supported by "
            "this runtime (supports 1)");
}

TEST(Manifest, VersionIsCheckedBeforeUnknownFields) {
  std::string manifest = replaced(kCausalManifest, "\"version\": 1",
                                  "\"version\": 3, \"scratch\": []");
  EXPECT_EQ(loadError(manifest),
            "<dir>/manifest.json:3:14: bundle version 3 is not supported by "
            "this runtime (supports 1)");
}

TEST(Manifest, UnknownFormat) {
  std::string manifest =
      replaced(kCausalManifest, "\"attn-bundle\"", "\"onnx\"");
  EXPECT_EQ(loadError(manifest),
            "<dir>/manifest.json:2:13: field 'format': unknown format "
            "\"onnx\" (expected \"attn-bundle\")");
}

TEST(Manifest, MissingFields) {
  EXPECT_EQ(
      loadError(replaced(kCausalManifest, "\"format\": \"attn-bundle\",", "")),
      "<dir>/manifest.json:1:1: missing field 'format'");
  EXPECT_EQ(loadError(replaced(kCausalManifest, "\"target\": \"sm_80\",", "")),
            "<dir>/manifest.json:1:1: missing field 'target'");
  // The first launch object opens at column 5 of line 16.
  EXPECT_EQ(loadError(replaced(kCausalManifest,
                               "\"kernel\": \"causal_kernel\",", "")),
            "<dir>/manifest.json:16:5: missing field 'launches[0].kernel'");
  EXPECT_EQ(loadError(replaced(kCausalManifest, "\"name\": \"lse\", ", "")),
            "<dir>/manifest.json:12:5: missing field 'arguments[4].name'");
}

TEST(Manifest, WrongTypes) {
  EXPECT_EQ(loadError(replaced(kCausalManifest, "\"version\": 1",
                               "\"version\": \"1\"")),
            "<dir>/manifest.json:3:14: field 'version': expected an integer, "
            "got a string");
  EXPECT_EQ(loadError(replaced(kCausalManifest, "\"block\": [128, 1, 1]",
                               "\"block\": [128, true, 1]")),
            "<dir>/manifest.json:18:21: field 'launches[0].block[1]': "
            "expected an integer, got a boolean");
  EXPECT_EQ(
      loadError(replaced(kCausalManifest, "\"Hq\", \"B\"]", "\"Hq\", null]")),
      "<dir>/manifest.json:17:40: field 'launches[0].grid[2]': "
      "expected an integer or an expression string, got null");
  EXPECT_EQ(
      loadError(replaced(kCausalManifest, "\"Nq\", 128]}", "\"Nq\", [128]]}")),
      "<dir>/manifest.json:8:63: field 'arguments[0].shape[3]': "
      "expected an integer, a symbol or an expression string, got an "
      "array");
}

TEST(Manifest, InvalidValues) {
  const std::pair<std::pair<const char *, const char *>, const char *> cases[] =
      {
          {{"\"shared_bytes\": 0", "\"shared_bytes\": 0, \"stream\": 1"},
           "unknown field 'launches[0].stream'"},
          {{"\"name\": \"causal\"", "\"name\": \"\""},
           "field 'name': must not be empty"},
          {{"\"sm_80\"", "\"ampere\""},
           "field 'target': \"ampere\" is not a target of the form "
           "sm_<NN>[a|f]"},
          {{"\"kernels.ptx\"", "\"../kernels.ptx\""},
           "field 'ptx': \"../kernels.ptx\" must be a relative path inside "
           "the bundle"},
          {{"\"dtype\": \"f32\"", "\"dtype\": \"f64\""},
           "field 'arguments[4].dtype': unknown dtype \"f64\" (expected f16, "
           "bf16, f32, i32, i8 or i1)"},
          {{"{\"name\": \"v\"", "{\"name\": \"k\""},
           "field 'arguments[2].name': duplicate argument name 'k'"},
          {{"\"Nq\", 128]}", "\"Nq\", -1]}"},
           "field 'arguments[0].shape[3]': extent -1 is negative"},
          {{"[\"B\", \"Hq\", \"Nq\"]", "[\"B\", \"Hq\", \"2N\"]"},
           "field 'arguments[4].shape[2]': expected an integer, a symbol, "
           "'ceildiv' or '(' at column 1 in '2N', found '2N'"},
          {{"\"Hq % Hk == 0\"", "\"Hq % Hk\""},
           "field 'constraints[0]': expected '==' at column 8 in 'Hq % Hk', "
           "found end of expression"},
          {{"\"Hq % Hk == 0\"", "\"Hq % Hk == 1\""},
           "field 'constraints[0]': expected '0' at column 12 in "
           "'Hq % Hk == 1', found '1'"},
          {{"\"Hq % Hk == 0\"", "\"Hq % G == 0\""},
           "field 'constraints[0]': unknown symbol 'G' at column 6 in "
           "'Hq % G == 0' (the argument shapes define: B, Hq, Nq, Hk, Nk)"},
          {{"\"block\": [128, 1, 1]", "\"block\": [128, 1]"},
           "field 'launches[0].block': expected 3 entries (x, y, z), got 2"},
          {{"\"block\": [128, 1, 1]", "\"block\": [128, 16, 1]"},
           "field 'launches[0].block': 2048 threads per block exceed the "
           "CUDA limit 1024"},
          {{"\"block\": [128, 1, 1]", "\"block\": [0, 1, 1]"},
           "field 'launches[0].block[0]': extent 0 is outside [1, 1024]"},
          {{"\"shared_bytes\": 0", "\"shared_bytes\": -4"},
           "field 'launches[0].shared_bytes': -4 is outside [0, 4294967295]"},
          {{"\"args\": [\"q\",", "\"args\": [\"query\","},
           "field 'launches[0].args[0]': 'query' is not an argument or "
           "scratch buffer of the bundle"},
          {{"\"abi\": \"memref\"", "\"abi\": \"c\""},
           "field 'launches[0].abi': unknown abi \"c\" (expected \"memref\" "
           "or \"bare\")"},
          {{"\"kernel\": \"causal_kernel\"", "\"kernel\": \"causal kernel\""},
           "field 'launches[0].kernel': \"causal kernel\" is not a PTX entry "
           "name"},
          {{"\"launches\": [", "\"launches\": [], \"unused\": ["},
           "unknown field 'unused'"},
      };
  for (const auto &[edit, expected] : cases) {
    std::string message =
        loadError(replaced(kCausalManifest, edit.first, edit.second));
    EXPECT_NE(message.find(expected), std::string::npos)
        << "edit: " << edit.second << "\nmessage: " << message;
  }
}

TEST(Manifest, InputChecksNameAOneWordCountAndAnArgument) {
  // The causal manifest with a count buffer and a check of 'lse'.
  const std::string base =
      replaced(kCausalManifest, "\"constraints\": [\"Hq % Hk == 0\"],",
               "\"constraints\": [\"Hq % Hk == 0\"],\n"
               "  \"scratch\": [{\"name\": \"bad\", \"dtype\": \"i32\", "
               "\"shape\": [1]},\n"
               "              {\"name\": \"wide\", \"dtype\": \"i32\", "
               "\"shape\": [2]}],\n"
               "  \"input_checks\": [{\"scratch\": \"bad\", \"argument\": "
               "\"lse\", \"message\": \"values out of range\"}],");
  EXPECT_EQ(loadError(base), "");
  const std::pair<std::pair<const char *, const char *>, const char *> cases[] =
      {
          {{"\"scratch\": \"bad\"", "\"scratch\": \"none\""},
           "field 'input_checks[0].scratch': 'none' is not a scratch buffer "
           "of the bundle"},
          {{"\"scratch\": \"bad\"", "\"scratch\": \"wide\""},
           "field 'input_checks[0].scratch': scratch buffer 'wide' must be "
           "i32 of shape [1] (one count)"},
          {{"\"argument\": \"lse\"", "\"argument\": \"x\""},
           "field 'input_checks[0].argument': 'x' is not an argument of the "
           "bundle"},
          {{"\"message\": \"values out of range\"", "\"message\": \"\""},
           "field 'input_checks[0].message': must be a text of 1 to 256 "
           "characters"},
          {{"\"message\": \"values out of range\"",
            "\"message\": \"m\", \"level\": 1"},
           "unknown field 'input_checks[0].level'"},
          {{"\"input_checks\": [{", "\"input_checks\": [3, {"},
           "field 'input_checks[0]': expected an object, got an integer"},
          {{", \"argument\": \"lse\"", ""},
           "missing field 'input_checks[0].argument'"},
      };
  for (const auto &[edit, expected] : cases) {
    std::string message = loadError(replaced(base, edit.first, edit.second));
    EXPECT_NE(message.find(expected), std::string::npos)
        << "edit: " << edit.second << "\nmessage: " << message;
  }
}

TEST(Manifest, EmptyLaunchList) {
  std::string manifest = kCausalManifest;
  size_t begin =
      manifest.find("\"launches\": [") + std::string("\"launches\": [").size();
  size_t end = manifest.rfind(']');
  manifest.erase(begin, end - begin);
  EXPECT_EQ(loadError(manifest),
            "<dir>/manifest.json:15:15: field 'launches': must not be empty");
}

TEST(Manifest, BadGridExpressions) {
  const std::pair<const char *, const char *> cases[] = {
      {"ceildiv(Nq, 64", "expected ')' closing 'ceildiv' at column 15 in "
                         "'ceildiv(Nq, 64', found end of expression"},
      {"Nq +", "expected an integer, a symbol, 'ceildiv' or '(' at column 5 "
               "in 'Nq +', found end of expression"},
      {"Nq ** 2", "expected an integer, a symbol, 'ceildiv' or '(' at column "
                  "5 in 'Nq ** 2', found '*'"},
      {"Nq - 1", "expected end of expression at column 4 in 'Nq - 1', found "
                 "'-'"},
      {"64x", "expected an integer, a symbol, 'ceildiv' or '(' at column 1 "
              "in '64x', found '64x'"},
      {"ceildiv Nq", "expected '(' after 'ceildiv' at column 9 in "
                     "'ceildiv Nq', found 'Nq'"},
      {"ceildiv(Nq 64)", "expected ',' in 'ceildiv' at column 12 in "
                         "'ceildiv(Nq 64)', found '64'"},
      {"(Nq + 1", "expected ')' at column 8 in '(Nq + 1', found end of "
                  "expression"},
      {"", "expected an integer, a symbol, 'ceildiv' or '(' at column 1 in "
           "'', found end of expression"},
      {"99999999999999999999", "expected an integer, a symbol, 'ceildiv' or "
                               "'(' at column 1 in '99999999999999999999', "
                               "found '99999999999999999999'"},
  };
  for (const auto &[grid, expected] : cases) {
    std::string manifest = replaced(kCausalManifest, "\"ceildiv(Nq, 64)\"",
                                    std::string("\"") + grid + "\"");
    EXPECT_EQ(loadError(manifest),
              std::string("<dir>/manifest.json:17:15: field "
                          "'launches[0].grid[0]': ") +
                  expected)
        << "grid: " << grid;
  }
}

TEST(Manifest, DeeplyNestedExpressionIsAnErrorNotACrash) {
  // 20,000 parentheses deep: a located error, not a stack overflow.
  std::string deep = std::string(20000, '(') + "Nq" + std::string(20000, ')');
  std::string message = loadError(replaced(
      kCausalManifest, "\"ceildiv(Nq, 64)\"", "\"" + deep + "\""));
  EXPECT_NE(message.find("field 'launches[0].grid[0]': expression nested "
                         "deeper than 64 levels at column 65"),
            std::string::npos)
      << message.substr(0, 300);
  // 64 levels are fine.
  std::string fine = std::string(63, '(') + "Nq" + std::string(63, ')');
  TestBundle dir(replaced(kCausalManifest, "\"ceildiv(Nq, 64)\"",
                          "\"" + fine + "\""));
  auto loaded = dir.load();
  EXPECT_TRUE(loaded.ok()) << loaded.error().message();
}

TEST(Manifest, UnknownSymbolInGrid) {
  std::string manifest =
      replaced(kCausalManifest, "\"ceildiv(Nq, 64)\"", "\"ceildiv(Nx, 64)\"");
  EXPECT_EQ(loadError(manifest),
            "<dir>/manifest.json:17:15: field 'launches[0].grid[0]': unknown "
            "symbol 'Nx' at column 9 in 'ceildiv(Nx, 64)' (the argument "
            "shapes define: B, Hq, Nq, Hk, Nk)");
}

TEST(Manifest, MissingPtxFile) {
  EXPECT_EQ(loadError(kCausalManifest, ""),
            "<dir>/manifest.json:6:10: field 'ptx': cannot read PTX file "
            "'<dir>/kernels.ptx': No such file or directory");
}

TEST(Manifest, PtxMustBeARegularFileInsideTheBundle) {
  // A FIFO: refused at once, not waited on.
  {
    TestBundle dir(kCausalManifest, /*ptx=*/"");
    ASSERT_EQ(mkfifo((dir.path() + "/kernels.ptx").c_str(), 0600), 0);
    auto loaded = dir.load();
    ASSERT_FALSE(loaded.ok());
    std::string message = loaded.error().message();
    EXPECT_NE(message.find("is not a regular file"), std::string::npos)
        << message;
  }
  // A symlink to /dev/zero, or to a file outside the bundle.
  for (const char *target : {"/dev/zero", "/etc/hostname"}) {
    TestBundle dir(kCausalManifest, /*ptx=*/"");
    ASSERT_EQ(symlink(target, (dir.path() + "/kernels.ptx").c_str()), 0);
    auto loaded = dir.load();
    ASSERT_FALSE(loaded.ok());
    std::string message = loaded.error().message();
    EXPECT_TRUE(message.find("outside the bundle") != std::string::npos ||
                message.find("is a symbolic link") != std::string::npos)
        << message;
  }
  // A symlinked subdirectory leading outside.
  {
    TempDir outside;
    outside.write("kernels.ptx", causalPtx());
    TestBundle dir(replaced(kCausalManifest, "\"kernels.ptx\"",
                            "\"sub/kernels.ptx\""),
                   /*ptx=*/"");
    ASSERT_EQ(symlink(outside.path().c_str(), (dir.path() + "/sub").c_str()),
              0);
    auto loaded = dir.load();
    ASSERT_FALSE(loaded.ok());
    std::string message = loaded.error().message();
    EXPECT_NE(message.find("outside the bundle"), std::string::npos)
        << message;
  }
}

TEST(Manifest, KernelMissingFromPtx) {
  EXPECT_EQ(
      loadError(kCausalManifest, ptxFor({{"other_kernel", kCausalParams}})),
      "<dir>/manifest.json:16:16: field 'launches[0].kernel': kernel "
      "'causal_kernel' is not an .entry of kernels.ptx");
  // A name that occurs only in a comment is not an entry either.
  EXPECT_NE(loadError(kCausalManifest,
                      "// .entry causal_kernel(\n" +
                          ptxFor({{"causal_kernel_2", kCausalParams}}))
                .find("is not an .entry of kernels.ptx"),
            std::string::npos);
  // Nor one inside a string literal (a .file directive's name).
  EXPECT_NE(loadError(kCausalManifest,
                      "\t.file 1 \".entry causal_kernel(\"\n" +
                          ptxFor({{"causal_kernel_2", kCausalParams}}))
                .find("is not an .entry of kernels.ptx"),
            std::string::npos);
}

TEST(Manifest, KernelParameterCountMustMatchTheAbi) {
  EXPECT_EQ(loadError(kCausalManifest, ptxFor({{"causal_kernel", 5}})),
            "<dir>/manifest.json:16:16: field 'launches[0].kernel': kernel "
            "'causal_kernel' in kernels.ptx takes 5 parameters, but its 5 "
            "arguments under abi \"memref\" make 53");
}

TEST(Manifest, TruncatedAndMutatedManifestsFailCleanly) {
  // Every proper prefix is invalid JSON or lacks a field; every single-byte
  // mutation either loads or fails with a located message. None may crash.
  const std::string manifest = kCausalManifest;
  // In memory: writing thousands of files is slow on some file systems.
  TempDir dir;
  dir.write("kernels.ptx", causalPtx());
  auto load = [&](const std::string &text) {
    return parseManifestText(text, dir.path());
  };
  std::string prefix = dir.path() + "/manifest.json:";
  for (size_t length = 0; length + 1 < manifest.size(); ++length) {
    auto loaded = load(manifest.substr(0, length));
    ASSERT_FALSE(loaded.ok()) << "prefix of " << length << " bytes loaded";
    EXPECT_EQ(loaded.error().message().rfind(prefix, 0), 0u)
        << loaded.error().message();
  }
  for (size_t at = 0; at < manifest.size(); ++at) {
    for (char replacement : {'"', '}', '0', 'x', '\\', '\0'}) {
      std::string mutated = manifest;
      mutated[at] = replacement;
      auto loaded = load(mutated);
      if (!loaded.ok()) {
        EXPECT_EQ(loaded.error().message().rfind(prefix, 0), 0u)
            << loaded.error().message();
      }
    }
  }
}

} // namespace
