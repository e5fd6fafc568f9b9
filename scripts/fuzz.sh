#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,
# undefined) and runs each for a bounded time on a copy of its seed corpus.
# Exits non-zero when a target finds a crash, a hang or a sanitizer report;
# the reproducer is left in the output folder.
#
#   scripts/fuzz.sh [seconds per target] [target...]   # default 60, all
#   scripts/fuzz.sh 1800                               # the documented long run
#
# Targets (test/Fuzz/):
#   manifest  the runtime's bundle loader and validator
#             (test/Fuzz/ManifestFuzzer.cpp);
#   ir        parse, verify, cse, canonicalize, attn-plan and attn-tile on
#             IR (test/Fuzz/IRFuzzer.cpp built with -DATTN_LIBFUZZER), with
#             the dialect and the two passes compiled here with coverage
#             instrumentation and sanitizers and linked against libMLIR;
#             seeds: examples/ and the dialect and pass lit inputs, split at
#             "// -----"; dictionary test/Fuzz/ir.dict. Needs the main build
#             (its generated headers in $ATTN_BUILD_DIR/include).
# Environment: ATTN_FUZZ_DIR (default build/fuzz), ATTN_BUILD_DIR (default
# build), CXX_FUZZ (default clang++), ATTN_JOBS (compile jobs, default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(manifest ir)
out=${ATTN_FUZZ_DIR:-$root/build/fuzz}
build_dir=${ATTN_BUILD_DIR:-$root/build}
cxx=${CXX_FUZZ:-clang++}
jobs=${ATTN_JOBS:-2}
mkdir -p "$out"
out=$(cd "$out" && pwd)

sanitizers=(-fsanitize=address,undefined -fno-sanitize=vptr
            -fno-sanitize-recover=all)

run_manifest() {
  local flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer
               -fsanitize=fuzzer "${sanitizers[@]}"
               -I"$root/include" -I"$root/lib/Runtime")
  # Types and constants only, as for the runtime itself.
  local include
  for include in "${CUDA_HOME:-/usr/local/cuda}/include" /usr/include; do
    if [[ -f $include/cuda.h ]]; then flags+=(-I"$include"); break; fi
  done
  local sources=("$root"/lib/Runtime/{Bundle,CApi,Driver,Expr,Json,Manifest,MemoryOverlap}.cpp)
  local binary=$out/manifest-fuzzer
  if [[ ! -x $binary || -n $(find "$root/lib/Runtime" "$root/include/attn/Runtime" \
        "$root/test/Fuzz/ManifestFuzzer.cpp" -newer "$binary" -print -quit) ]]; then
    echo "fuzz: building $binary"
    "$cxx" "${flags[@]}" "${sources[@]}" "$root/test/Fuzz/ManifestFuzzer.cpp" \
      -ldl -lpthread -o "$binary"
  fi
  local corpus=$out/corpus-manifest
  rm -rf "$corpus" && mkdir -p "$corpus"
  cp "$root"/test/Fuzz/corpus/manifest/* "$corpus/"
  echo "fuzz: manifest for ${seconds}s"
  (cd "$out" &&
   ATTN_FUZZ_PTX=$root/test/Fuzz/bundle/kernels.ptx \
   ASAN_OPTIONS=detect_leaks=1 \
     "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len=65536 -print_final_stats=1 "$corpus" 2>&1 | tail -25)
}

run_ir() {
  if [[ ! -d $build_dir/include/attn ]]; then
    echo "fuzz: $build_dir/include has no generated headers; run scripts/build.sh first" >&2
    return 1
  fi
  local llvm=/usr/lib/llvm-22
  local flags=(-std=gnu++17 -O1 -g -fno-omit-frame-pointer
               -fsanitize=fuzzer-no-link "${sanitizers[@]}"
               -D_GLIBCXX_USE_CXX11_ABI=1 -D__STDC_CONSTANT_MACROS
               -D__STDC_FORMAT_MACROS -D__STDC_LIMIT_MACROS
               -I"$root/include" -I"$build_dir/include" -isystem "$llvm/include")
  local objects=$out/ir-objects binary=$out/ir-fuzzer
  mkdir -p "$objects"
  # The instrumented code: the dialect and the passes the target runs.
  local sources=("$root"/dialects/Attn/*.cpp "$root"/passes/Plan/*.cpp
                 "$root"/passes/Tile/*.cpp)
  local stale=() source object
  for source in "${sources[@]}"; do
    object=$objects/$(basename "$(dirname "$source")")_$(basename "$source" .cpp).o
    if [[ ! -f $object || -n $(find "$source" "$root/include" "$build_dir/include" \
          -newer "$object" -name '*.[hc]*' -print -quit) ]]; then
      stale+=("$source")
    fi
  done
  if [[ ${#stale[@]} -gt 0 ]]; then
    echo "fuzz: compiling ${#stale[@]} instrumented sources for $binary"
    printf '%s\n' "${stale[@]}" | xargs -P "$jobs" -I{} sh -c \
      'src="$1"; shift; obj="$0/$(basename "$(dirname "$src")")_$(basename "$src" .cpp).o";
       exec "$@" -c "$src" -o "$obj"' "$objects" {} "$cxx" "${flags[@]}"
  fi
  echo "fuzz: linking $binary"
  "$cxx" "${flags[@]/-fsanitize=fuzzer-no-link/-fsanitize=fuzzer}" \
    -DATTN_LIBFUZZER "$root/test/Fuzz/IRFuzzer.cpp" "$objects"/*.o \
    "$llvm/lib/libMLIR.so.22.1" "$llvm/lib/libLLVM.so.22.1" \
    -Wl,-rpath,"$llvm/lib" -lpthread -o "$binary"
  local corpus=$out/corpus-ir
  rm -rf "$corpus" && mkdir -p "$corpus"
  python3 - "$corpus" "$root"/examples/*.mlir "$root"/test/Dialect/Attn/*.mlir \
    "$root"/test/Passes/*/*.mlir <<'PY'
import pathlib, sys
out = pathlib.Path(sys.argv[1])
count = 0
for name in sys.argv[2:]:
    for chunk in pathlib.Path(name).read_text().split("// -----"):
        (out / f"seed{count:04d}.mlir").write_text(chunk)
        count += 1
PY
  echo "fuzz: ir for ${seconds}s ($(ls "$corpus" | wc -l) seeds)"
  (cd "$out" &&
   ASAN_OPTIONS=detect_leaks=1 \
     "$binary" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
       -max_len=16384 -dict="$root/test/Fuzz/ir.dict" -print_final_stats=1 \
       "$corpus" 2>&1 | tail -25)
}

for target in "${targets[@]}"; do
  case $target in
    manifest) run_manifest ;;
    ir) run_ir ;;
    *) echo "fuzz: unknown target '$target' (manifest, ir)" >&2; exit 2 ;;
  esac
done
