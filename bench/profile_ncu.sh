#!/usr/bin/env bash
# Runs on the GPU machine: builds the runtime and profiles one launch of each
# named kernel with ncu (speed of light, warp stall reasons, occupancy, tensor
# and shared-memory pipes), at N = ${ATTN_PROFILE_N:-4096}.
#
#   bench/profile_ncu.sh full_d128 sdpa-flash-full_d128   (see profile_kernel.py)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake -G Ninja -S lib/Runtime -B /tmp/attn-runtime -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C /tmp/attn-runtime >/dev/null
export ATTN_RUNTIME_LIB=/tmp/attn-runtime/libAttnRuntime.so
for name in "$@"; do
  echo "=== $name"
  ncu --clock-control none --launch-skip 0 --launch-count 1 -k regex:'^(full|causal|window1024|prefixlm|nm[0-9]+_[0-9]+_[a-z]+)_d[0-9]+_kernel$|^linear_d[0-9]+_kernel_2$|flash_fwd' \
    --section SpeedOfLight --section WarpStateStats --section Occupancy --section LaunchStats \
    --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section SchedulerStats --section InstructionStats \
    --metrics smsp__inst_executed_pipe_tensor_op_hmma.avg.pct_of_peak_sustained_active,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio,smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio,smsp__average_warps_issue_stalled_short_scoreboard_per_issue_active.ratio,smsp__average_warps_issue_stalled_math_pipe_throttle_per_issue_active.ratio,smsp__average_warps_issue_stalled_mio_throttle_per_issue_active.ratio,smsp__average_warps_issue_stalled_wait_per_issue_active.ratio,smsp__average_warps_issue_stalled_not_selected_per_issue_active.ratio,smsp__average_warps_issue_stalled_dispatch_stall_per_issue_active.ratio,smsp__average_warps_issue_stalled_lg_throttle_per_issue_active.ratio,smsp__average_warps_issue_stalled_selected_per_issue_active.ratio,smsp__average_warps_issue_stalled_tex_throttle_per_issue_active.ratio,smsp__average_warps_issue_stalled_no_instruction_per_issue_active.ratio,smsp__inst_executed.sum,sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,smsp__inst_executed_op_shared_ld.sum \
    python3 bench/profile_kernel.py "$name" "${ATTN_PROFILE_N:-4096}" 2>&1 | grep -v "^==PROF==" | grep -E "^\s+[A-Za-z]" | grep -vE "^\s+(----|Section|OPT|INF|WRN)" | sed 's/  */ /g' | head -120 || true
done
