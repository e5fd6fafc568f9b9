#!/usr/bin/env python3
"""Runs one kernel on one benchmark-sized problem, for a profiler.

usage (GPU machine, runtime built as in bench/device_run.sh):
  ncu --clock-control none --launch-count 1 --section SpeedOfLight ... \\
      python3 bench/profile_kernel.py causal_d128 4096
  python3 bench/profile_kernel.py sdpa-flash-causal_d128 4096   # the peer

A name linear_* runs a linear-attention bundle at B = 4, H = 32. A name of
the form sdpa-flash-<mask>_d<D> runs PyTorch's SDPA flash
backend on the same problem instead of a bundle, so both can be profiled
in one session.
"""

import pathlib
import sys

import torch
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
from attn.runtime import Bundle  # noqa: E402


def main():
    name, n = sys.argv[1], int(sys.argv[2])
    d = 64 if "d64" in name else 128
    b, h = 16384 // n, 2048 // d
    q, k, v = (torch.randn(b, h, n, d, device="cuda", dtype=torch.bfloat16)
               for _ in range(3))
    if name.startswith("linear_"):
        # Linear attention at the paper's shape (B = 4, H = 32, or
        # ATTN_PROFILE_B / ATTN_PROFILE_H), ALiBi slopes; its output
        # kernel is <name>_kernel_2.
        import os
        b = int(os.environ.get("ATTN_PROFILE_B", 4))
        h = int(os.environ.get("ATTN_PROFILE_H", 32))
        q, k, v = (torch.randn(b, h, n, d, device="cuda", dtype=torch.bfloat16)
                   for _ in range(3))
        s = torch.tensor([2.0 ** (-8 * (i + 1) / h) for i in range(h)],
                         device="cuda")
        bundle = Bundle(str(ROOT / "bench" / "bundles" / name))
        bundle(q, k, v, torch.empty_like(v), s)
    elif name.startswith("sdpa-flash-"):
        from torch.nn.attention import SDPBackend, sdpa_kernel
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            F.scaled_dot_product_attention(q, k, v,
                                           is_causal="causal" in name)
    else:
        bundle = Bundle(str(ROOT / "bench" / "bundles" / name))
        o = torch.empty_like(q)
        lse = torch.empty(b, h, n, device="cuda")
        bundle(q, k, v, o, lse)
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
