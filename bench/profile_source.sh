#!/usr/bin/env bash
# Runs on the GPU machine: profiles one launch of bundle kernel NAME with
# ncu's warp-state sampling and prints the SASS lines with the most stall
# samples (where a kernel waits), at N = ${ATTN_PROFILE_N:-4096}.
#
#   bench/profile_source.sh nm2_4_full_d64 [TOP]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
name=$1 top=${2:-40}
cmake -G Ninja -S lib/Runtime -B /tmp/attn-runtime -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C /tmp/attn-runtime >/dev/null
export ATTN_RUNTIME_LIB=/tmp/attn-runtime/libAttnRuntime.so
ncu --clock-control none --launch-count 1 -k regex:"^${name}_kernel\$" \
  --section SourceCounters --section WarpStateStats -f -o /tmp/$name \
  python3 bench/profile_kernel.py "$name" "${ATTN_PROFILE_N:-4096}" >/dev/null
ncu -i /tmp/$name.ncu-rep --page source --csv --print-source sass > /tmp/$name.csv
[[ -n ${OUT:-} ]] && cp /tmp/$name.csv "$OUT/"
python3 - "$name" "$top" <<'PY'
import csv, sys
name, top = sys.argv[1], int(sys.argv[2])
lines = open(f"/tmp/{name}.csv").read().splitlines()
start = next(i for i, line in enumerate(lines) if '"Source"' in line)
rows = list(csv.DictReader(lines[start:]))
key = next(k for k in rows[0] if k and k.startswith("Warp Stall Sampling (All"))
def samples(r):
    try:
        return float(r[key].replace(",", ""))
    except ValueError:
        return 0.0
total = sum(samples(r) for r in rows)
print(f"{name}: {len(rows)} SASS lines, {total:.0f} stall samples")
for r in sorted(rows, key=samples, reverse=True)[:top]:
    print(f"{samples(r) / total * 100:5.1f}%  {r.get('Address', ''):>6}  {r.get('Source', '')[:90]}")
# Totals per opcode.
by_op = {}
for r in rows:
    op = r.get("Source", "").split()[0] if r.get("Source", "").split() else "?"
    if op.startswith("@"):
        op = r["Source"].split()[1]
    by_op[op.split(".")[0]] = by_op.get(op.split(".")[0], 0) + samples(r)
print("stall samples by opcode (the instruction that waits):")
for op, s in sorted(by_op.items(), key=lambda x: -x[1])[:20]:
    print(f"  {op:10} {s / total * 100:5.1f}%")
PY
