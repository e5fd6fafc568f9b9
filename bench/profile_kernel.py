#!/usr/bin/env python3
"""Runs one bundle on one benchmark-sized problem, for a profiler.

usage (GPU machine, runtime built as in bench/device_run.sh):
  ncu --clock-control none --launch-count 1 --section SpeedOfLight ... \\
      python3 bench/profile_kernel.py causal_d128 4096
"""

import pathlib
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
from attn.runtime import Bundle  # noqa: E402


def main():
    name, n = sys.argv[1], int(sys.argv[2])
    d = 64 if "d64" in name else 128
    b, h = 16384 // n, 2048 // d
    bundle = Bundle(str(ROOT / "bench" / "bundles" / name))
    q, k, v = (torch.randn(b, h, n, d, device="cuda", dtype=torch.bfloat16)
               for _ in range(3))
    o = torch.empty_like(q)
    lse = torch.empty(b, h, n, device="cuda")
    bundle(q, k, v, o, lse)
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
