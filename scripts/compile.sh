#!/usr/bin/env bash
# The main job: compiles an attn IR file and prints the result.
#
#   scripts/compile.sh [FILE.mlir] [attn-opt options...]
#
# Without arguments it compiles examples/causal.mlir. Today the IR is parsed,
# verified and printed; the lowering pipelines extend this as they land.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${ATTN_BUILD_DIR:-$root/build}

input=${1:-$root/examples/causal.mlir}
shift || true

"$root/scripts/build.sh" attn-opt >&2
exec "$build_dir/bin/attn-opt" "$input" "$@"
