#!/usr/bin/env bash
# Installs, builds and runs every test (lit, GoogleTest, example and
# robustness checks) through CTest.
#
#   scripts/test.sh [extra ctest arguments...]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${ATTN_BUILD_DIR:-$root/build}

"$root/scripts/build.sh"
cd "$build_dir"
ctest --output-on-failure -j "${ATTN_JOBS:-2}" "$@"
