"""Times variants of the N:M kernels and of our dense kernel beside the
default bundles, interleaved in one process (bf16, B·N = 16384, hidden
2048): bench/bundles/<name><suffix> for each suffix of
ATTN_PROBE_SUFFIXES (default "_q64": 64-row q-tiles, built by hand with
attn-compile --block-q=64; see bench/NOTES.md, "N:M").

usage (GPU machine, runtime built as in bench/device_run.sh):
  ATTN_PROBE_SUFFIXES=_q64,_other python3 bench/nm_tile_probe.py [N ...]"""

import json
import os
import pathlib
import sys

import torch

import spion_bench  # noqa: F401  (first: bench_attention imports it back)
import bench_attention as ba  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
from attn.runtime import Bundle  # noqa: E402

NAMES = ["full_d64", "nm2_4_full_d64", "nm1_2_full_d64", "causal_d64",
         "nm2_4_causal_d64", "nm1_2_causal_d64", "full_d128",
         "nm2_4_full_d128", "nm2_4_causal_d128"]


def main():
    sizes = [int(x) for x in sys.argv[1:]] or [4096, 16384]
    bundles = {}
    for name in NAMES:
        for suffix in [""] + os.environ.get("ATTN_PROBE_SUFFIXES",
                                            "_q64").split(","):
            path = ROOT / "bench" / "bundles" / (name + suffix)
            if path.is_dir():
                bundles[name + suffix] = Bundle(str(path))
    for n in sizes:
        for d in (64, 128):
            b, h = max(1, ba.TOKENS // n), ba.HIDDEN // d
            q, k, v = [torch.randn(b, h, n, d, device="cuda",
                                   dtype=torch.bfloat16) for _ in range(3)]
            o = torch.empty_like(q)
            lse = torch.empty(b, h, n, device="cuda")
            contenders = {name: (lambda bundle=bundle: bundle(q, k, v, o, lse))
                          for name, bundle in bundles.items()
                          if f"_d{d}" in name}
            seconds = ba.interleaved_times(contenders, [()], 10)
            print(json.dumps({"n": n, "d": d, "ms": {
                name: round(t * 1e3, 4) for name, t in seconds.items()}}),
                flush=True)


if __name__ == "__main__":
    main()
