#!/usr/bin/env python3
"""Compiles every example (and the GPU check kernels of bench/kernels) to a
bundle and assembles its PTX with ptxas.

For each input attn-compile can lower, the PTX must assemble for sm_80 and
sm_90a with no spills; registers, shared memory and spill bytes are printed.
Examples whose structure the compiler does not lower yet must be rejected
with a located error (never a crash), and are listed as such.

usage: ptxas_check.py ATTN_COMPILE DIR [DIR ...]
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

CHIPS = ["sm_80", "sm_90a"]
# Examples whose lowering has not landed yet, with the error they must give.
NOT_YET = {
    "conv_basis.mlir": "no function holds an attn.attention, "
                       "attn.linear_attention, attn.plan, ",
}
RESOURCES = re.compile(r"Used (\d+) registers.*?(\d+) bytes smem")
SPILLS = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")


def find_ptxas():
    found = shutil.which("ptxas")
    if found:
        return found
    default = "/usr/local/cuda/bin/ptxas"
    return default if os.access(default, os.X_OK) else None


def main():
    attn_compile = sys.argv[1]
    inputs = sorted(path for folder in sys.argv[2:]
                    for path in pathlib.Path(folder).glob("*.mlir"))
    ptxas = find_ptxas()
    if not ptxas:
        print("FAIL: ptxas not found (PATH or /usr/local/cuda/bin); the CUDA "
              "toolkit is required to check generated PTX")
        return 1
    failures, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for example in inputs:
            bundle = pathlib.Path(tmp) / example.stem
            result = subprocess.run(
                [attn_compile, str(example), "-o", str(bundle)],
                capture_output=True, text=True, timeout=120)
            if example.name in NOT_YET:
                expected = NOT_YET[example.name]
                if result.returncode != 1 or expected not in result.stderr:
                    failures.append(f"{example.name}: expected exit 1 with "
                                    f"'{expected}', got {result.returncode}:"
                                    f"\n{result.stderr[-1500:]}")
                else:
                    rows.append((example.name, "-", "not lowered yet", ""))
                continue
            if result.returncode != 0:
                failures.append(f"{example.name}: attn-compile failed:\n"
                                f"{result.stderr[-1500:]}")
                continue
            if not (bundle / "manifest.json").is_file():
                failures.append(f"{example.name}: no manifest.json written")
                continue
            for chip in CHIPS:
                assembled = subprocess.run(
                    [ptxas, f"-arch={chip}", "-v", str(bundle / "kernels.ptx"),
                     "-o", os.devnull],
                    capture_output=True, text=True, timeout=120)
                log = assembled.stdout + assembled.stderr
                if assembled.returncode != 0:
                    failures.append(f"{example.name} {chip}: ptxas failed:\n"
                                    f"{log[-1500:]}")
                    continue
                for stores, loads in SPILLS.findall(log):
                    if int(stores) or int(loads):
                        failures.append(f"{example.name} {chip}: spills "
                                        f"({stores} B stores, {loads} B "
                                        f"loads)")
                for registers, smem in RESOURCES.findall(log):
                    rows.append((example.name, chip, f"{registers} registers",
                                 f"{smem} B smem"))
    for row in rows:
        print(f"{row[0]:22} {row[1]:7} {row[2]:16} {row[3]}")
    for failure in failures:
        print("FAIL:", failure)
    assembled = sum(1 for row in rows if row[1] in CHIPS)
    print(f"ptxas: {assembled} kernels assembled without spills, "
          f"{len(failures)} failures")
    if assembled == 0:
        print("FAIL: no kernel was assembled")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
