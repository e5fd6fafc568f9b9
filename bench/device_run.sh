#!/usr/bin/env bash
# Runs on the GPU machine (no MLIR there): builds the runtime with CMake and
# the local compiler, then checks and times the bundles that
# scripts/prepare-bench.sh built (carry bench/bundles along).
#
#   bench/device_run.sh [bench_attention.py options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${OUT:-bench/results/latest}
mkdir -p "$out"

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
cmake -G Ninja -S lib/Runtime -B /tmp/attn-runtime -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C /tmp/attn-runtime >/dev/null
export ATTN_RUNTIME_LIB=/tmp/attn-runtime/libAttnRuntime.so
# The DFSS paper's kernels (bench/peers/dfss, carried along; a CUTLASS
# extension, about 3 minutes to build) when the N:M timings run.
if [[ " $* " == *nm* && -f bench/peers/dfss/setup.py ]]; then
  (cd bench/peers/dfss && python3 setup.py build_ext --inplace \
     >/tmp/dfss-build.log 2>&1) || echo "DFSS build failed: see $out/dfss-build.log"
  cp /tmp/dfss-build.log "$out/dfss-build.log" 2>/dev/null || true
fi
export PYTHONUNBUFFERED=1
python3 bench/bench_attention.py --out "$out" "$@" 2>&1 | tee "$out/log.txt"
