//===- ManifestFuzzer.cpp - libFuzzer target: the bundle loader -*- C++ -*-===//
//
// Feeds each input to the runtime as a bundle's manifest.json: the JSON
// parser, the field checks, the shape, grid and constraint expressions and
// the PTX entry check (against test/Fuzz/bundle/kernels.ptx, copied into a
// private folder), through Bundle::load; when it loads, Bundle::validate
// evaluates its launch plan for tensors whose extents come from the input's
// last bytes. Any outcome but a crash, a hang, a sanitizer report or
// unbounded memory is fine: a bundle is untrusted input.
//
// Built and run by scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,
// undefined); ATTN_FUZZ_PTX names the kernels.ptx to load against.
//
//===----------------------------------------------------------------------===//

#include "attn/Runtime/Runtime.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace attn::runtime;

/// A private bundle folder holding kernels.ptx; each input becomes its
/// manifest.json. A plain array, so that the exit handler that removes the
/// folder never sees a destroyed string.
static char folderName[] = "/tmp/attn-fuzz-XXXXXX";

static void removeBundleFolder() {
  std::string folder = folderName;
  std::remove((folder + "/manifest.json").c_str());
  std::remove((folder + "/kernels.ptx").c_str());
  std::remove(folder.c_str());
}

static std::string bundleFolder() {
  static const bool created = [] {
    if (!mkdtemp(folderName))
      std::abort();
    const char *ptx = std::getenv("ATTN_FUZZ_PTX");
    std::ifstream in(ptx ? ptx : "test/Fuzz/bundle/kernels.ptx");
    std::stringstream text;
    text << in.rdbuf();
    std::ofstream(std::string(folderName) + "/kernels.ptx") << text.str();
    std::atexit(removeBundleFolder);
    return true;
  }();
  (void)created;
  return folderName;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string folder = bundleFolder();
  {
    std::ofstream manifest(folder + "/manifest.json", std::ios::binary);
    manifest.write(reinterpret_cast<const char *>(data),
                   static_cast<std::streamsize>(size));
  }
  Result<std::unique_ptr<Bundle>> bundle = Bundle::load(folder);
  if (!bundle)
    return 0;
  // Extents 1..256 from the input's last bytes, row-major strides.
  size_t cursor = size;
  auto nextExtent = [&]() -> int64_t {
    return cursor == 0 ? 1 : 1 + int64_t{data[--cursor]};
  };
  alignas(256) static char storage[256];
  std::vector<TensorRef> args;
  for (const ArgumentSpec &spec : (*bundle)->arguments()) {
    TensorRef arg;
    arg.data = storage;
    arg.dtype = spec.dtype;
    for (size_t d = 0; d < spec.shape.size(); ++d)
      arg.shape.push_back(nextExtent());
    arg.strides.assign(arg.shape.size(), 1);
    for (size_t d = arg.shape.size(); d-- > 1;)
      arg.strides[d - 1] = arg.strides[d] * arg.shape[d];
    args.push_back(std::move(arg));
  }
  (void)(*bundle)->validate(args);
  return 0;
}
