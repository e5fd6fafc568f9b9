#!/usr/bin/env python3
"""Runs every bundle once on small, odd-sized problems, for
compute-sanitizer (memcheck: out-of-bounds and misaligned accesses;
racecheck: shared-memory hazards between barriers).

usage (on the GPU machine, after bench/device_run.sh built the runtime):
  compute-sanitizer --tool racecheck python3 bench/sanitize_check.py
"""

import pathlib
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
from attn.runtime import Bundle  # noqa: E402


def main():
    bundles = sorted(p for p in (ROOT / "bench" / "bundles").iterdir()
                     if (p / "manifest.json").is_file())
    for path in bundles:
        bundle = Bundle(str(path))
        d = 64 if "d64" in path.name else 128
        for b, hq, hk, nq, nk in ((1, 2, 1, 77, 77), (1, 2, 2, 130, 100)):
            q = torch.randn(b, hq, nq, d, device="cuda", dtype=torch.bfloat16)
            k = torch.randn(b, hk, nk, d, device="cuda", dtype=torch.bfloat16)
            v = torch.randn(b, hk, nk, d, device="cuda", dtype=torch.bfloat16)
            o = torch.full_like(q, float("nan"))
            args = [q, k, v, o]
            if "lse" in bundle.argument_names:
                args.append(torch.full((b, hq, nq), float("nan"),
                                       device="cuda"))
            bundle(*args)
            torch.cuda.synchronize()
            assert not torch.isnan(o).any(), f"{path.name}: unwritten output"
        print(f"{path.name}: ran", flush=True)
    print("sanitize_check: all bundles ran")


if __name__ == "__main__":
    main()
