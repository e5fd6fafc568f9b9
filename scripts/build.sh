#!/usr/bin/env bash
# Installs the dependencies (idempotent), configures once with Ninja and
# builds. Incremental: a second run rebuilds only what changed.
#
#   scripts/build.sh [ninja targets...]
#
# Environment: ATTN_BUILD_DIR (default: build), ATTN_JOBS (default: 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${ATTN_BUILD_DIR:-$root/build}
jobs=${ATTN_JOBS:-2}

"$root/scripts/install-deps.sh"

if [[ ! -f $build_dir/build.ninja ]]; then
  cmake -G Ninja -S "$root" -B "$build_dir" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
fi
ninja -C "$build_dir" -j "$jobs" "$@"
