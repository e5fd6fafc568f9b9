#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,
# undefined) and runs each for a bounded time on a copy of its seed corpus.
# Exits non-zero when a target finds a crash, a hang or a sanitizer report;
# the reproducer is left in the output folder.
#
#   scripts/fuzz.sh [seconds per target]     # default 60; CI runs 45
#   scripts/fuzz.sh 1800                     # the documented long run
#
# Targets (test/Fuzz/): manifest — the runtime's bundle loader and
# validator (test/Fuzz/ManifestFuzzer.cpp). Environment: ATTN_FUZZ_DIR
# (default build/fuzz), CXX_FUZZ (default clang++).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
out=${ATTN_FUZZ_DIR:-$root/build/fuzz}
cxx=${CXX_FUZZ:-clang++}
mkdir -p "$out"

flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -I"$root/include" -I"$root/lib/Runtime")
# Types and constants only, as for the runtime itself.
for include in "${CUDA_HOME:-/usr/local/cuda}/include" /usr/include; do
  if [[ -f $include/cuda.h ]]; then flags+=(-I"$include"); break; fi
done

runtime_sources=("$root"/lib/Runtime/{Bundle,CApi,Driver,Expr,Json,Manifest}.cpp)
binary=$out/manifest-fuzzer
if [[ ! -x $binary || -n $(find "$root/lib/Runtime" "$root/include/attn/Runtime" \
      "$root/test/Fuzz/ManifestFuzzer.cpp" -newer "$binary" -print -quit) ]]; then
  echo "fuzz: building $binary"
  "$cxx" "${flags[@]}" "${runtime_sources[@]}" "$root/test/Fuzz/ManifestFuzzer.cpp" \
    -ldl -lpthread -o "$binary"
fi

corpus=$out/corpus-manifest
rm -rf "$corpus" && mkdir -p "$corpus"
cp "$root"/test/Fuzz/corpus/manifest/* "$corpus/"
echo "fuzz: manifest for ${seconds}s"
cd "$out"
ATTN_FUZZ_PTX=$root/test/Fuzz/bundle/kernels.ptx \
ASAN_OPTIONS=detect_leaks=1 \
  "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 "$corpus" 2>&1 | tail -25
