#!/usr/bin/env bash
# The main job: compiles an attn IR file to a GPU bundle (PTX + manifest)
# and prints what it produced.
#
#   scripts/compile.sh [FILE.mlir] [attn-compile options...]
#
# Without arguments it compiles examples/causal.mlir for sm_80 (runs on
# Ampere and Hopper) into build/bundles/causal/. Options go to attn-compile,
# e.g. --chip=sm_90a, --function=NAME, --block-q=64, --block-k=32.
# ATTN_BUNDLE_DIR overrides the output folder.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${ATTN_BUILD_DIR:-$root/build}

input=${1:-$root/examples/causal.mlir}
shift || true
name=$(basename "$input" .mlir)
out=${ATTN_BUNDLE_DIR:-$build_dir/bundles/$name}

"$root/scripts/build.sh" attn-compile attn-opt >&2
"$build_dir/bin/attn-compile" "$input" -o "$out" "$@"

echo "bundle: $out"
echo "--- manifest.json"
cat "$out/manifest.json"
echo "--- kernels.ptx: $(grep -c '^.entry\|\.entry ' "$out/kernels.ptx") kernel(s), $(wc -l < "$out/kernels.ptx") lines"
ptxas=$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)
if [[ -x $ptxas ]]; then
  target=$(sed -n 's/^\.target \(sm_[0-9a-z]*\).*/\1/p' "$out/kernels.ptx" | head -1)
  "$ptxas" -arch="$target" -v "$out/kernels.ptx" -o /dev/null 2>&1 |
    grep -E "registers|spill" || true
fi
