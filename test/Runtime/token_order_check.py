#!/usr/bin/env python3
"""Checks that the runtime refuses per-token arguments of the wrong shape or
dtype for hash and drop bundles (examples/hash.mlir with LSH bucket ids,
examples/drop.mlir with keep flags), without a GPU or torch: the bundles
describe bucket ids and keep flags by the activations' extents ([B, Hq, Nq]
and [B, Hk, Nk]), so validate() must name the argument on a mismatch and
accept the right shapes. Arguments the kernels write (O, the LSH example's
bucket ids) must not overlap another argument: validate() refuses it,
naming both. A hash bundle whose bucket ids are the caller's
must carry one input check per side (the ids' range, which only the data
shows) and load; the LSH example, whose ids the bundle computes, none.

usage: token_order_check.py RUNTIME_LIBRARY ATTN_COMPILE EXAMPLES_DIR
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]

CALLER_IDS_IR = """
!t = memref<?x?x?x64xbf16>
func.func @caller_ids(%q: !t, %k: !t, %v: !t, %o: !t,
                      %qb: memref<?x?x?xi32>, %kb: memref<?x?x?xi32>) {
  %causal = attn.mask.causal
  %hash = attn.mask.hash %qb, %kb buckets(8)
      : memref<?x?x?xi32>, memref<?x?x?xi32>
  %mask = attn.mask.and %causal, %hash
  attn.attention ins(%q, %k, %v : !t, !t, !t) outs(%o : !t) mask(%mask)
  return
}
"""


ELEMENT_BYTES = {"torch.bfloat16": 2, "torch.float16": 2, "torch.float32": 4,
                 "torch.int32": 4, "torch.int8": 1, "torch.bool": 1}


class FakeTensor:
    """What the wrapper reads of a tensor: dtype, shape, stride(),
    data_ptr(). Each one gets its own address range (256-byte aligned, no
    overlap), unless `at` gives the address."""
    next_address = 0x10000000

    def __init__(self, dtype, shape, at=None):
        self.dtype = dtype
        self.shape = shape
        nbytes = ELEMENT_BYTES[dtype]
        for extent in shape:
            nbytes *= extent
        if at is None:
            at = FakeTensor.next_address
            FakeTensor.next_address += (nbytes + 255) // 256 * 256 + 256
        self.address = at
        strides, stride = [], 1
        for extent in reversed(shape):
            strides.insert(0, stride)
            stride *= extent
        self._stride = tuple(strides)

    def stride(self):
        return self._stride

    def data_ptr(self):
        return self.address


def main():
    os.environ["ATTN_RUNTIME_LIB"] = sys.argv[1]
    sys.path.insert(0, str(ROOT / "python"))
    from attn.runtime import AttnError, Bundle

    failures = []
    examples = pathlib.Path(sys.argv[3])
    b, hq, n, d = 2, 4, 100, 64
    def act():
        return FakeTensor("torch.bfloat16", (b, hq, n, d))
    with tempfile.TemporaryDirectory() as tmp:
        bundles = {}
        for name in ("hash", "drop"):
            path = pathlib.Path(tmp) / name
            subprocess.run([sys.argv[2], str(examples / f"{name}.mlir"), "-o",
                            str(path)], check=True, timeout=300)
            bundles[name] = Bundle(str(path))

        def expect(label, bundle, tensors, fragment):
            try:
                bundle.validate(*tensors)
            except AttnError as error:
                if fragment is None:
                    failures.append(f"{label}: refused: {error}")
                elif fragment not in str(error):
                    failures.append(f"{label}: message {str(error)!r} lacks "
                                    f"{fragment!r}")
                return
            if fragment is not None:
                failures.append(f"{label}: accepted")

        rotation = FakeTensor("torch.float32", (64, 4))
        ids = FakeTensor("torch.int32", (b, hq, n))
        key_ids = FakeTensor("torch.int32", (b, hq, n))
        q = act()
        hash_args = [q, act(), act(), act(), rotation, ids, key_ids]
        expect("hash: right shapes", bundles["hash"], hash_args, None)
        # Written arguments that share memory with another argument.
        expect("hash: o is q", bundles["hash"], hash_args[:3] + [q] +
               hash_args[4:], "argument 'o' overlaps argument 'q'")
        expect("hash: o overlaps the end of v", bundles["hash"],
               hash_args[:3] + [FakeTensor("torch.bfloat16", (b, hq, n, d),
                                           at=hash_args[2].address + 256)] +
               hash_args[4:], "argument 'o' overlaps argument 'v'")
        expect("hash: one buffer for both LSH outputs", bundles["hash"],
               hash_args[:6] + [ids], "overlaps")
        # Inputs may share memory (K = V = Q here).
        expect("hash: q, k, v one buffer", bundles["hash"],
               [q, q, q] + hash_args[3:], None)
        wrong = FakeTensor("torch.int32", (b, hq, n + 1))
        expect("hash: query ids one token long", bundles["hash"],
               hash_args[:5] + [wrong, key_ids], "q_bucket_ids")
        expect("hash: key ids of another head count", bundles["hash"],
               hash_args[:6] + [FakeTensor("torch.int32", (b, hq + 1, n))],
               "k_bucket_ids")
        expect("hash: ids as int8", bundles["hash"],
               hash_args[:5] + [FakeTensor("torch.int8", (b, hq, n)), key_ids],
               "q_bucket_ids")

        lse = FakeTensor("torch.float32", (b, hq, n))
        flags = FakeTensor("torch.bool", (b, hq, n))
        drop_args = [act(), act(), act(), act(), lse, flags, flags]
        expect("drop: right shapes", bundles["drop"], drop_args, None)
        expect("drop: query flags of another batch", bundles["drop"],
               drop_args[:5] + [FakeTensor("torch.bool", (b + 1, hq, n)),
                                flags], "query_keep_flags")
        expect("drop: key flags one token short", bundles["drop"],
               drop_args[:6] + [FakeTensor("torch.bool", (b, hq, n - 1))],
               "key_keep_flags")
        expect("drop: flags as int32", bundles["drop"],
               drop_args[:5] + [FakeTensor("torch.int32", (b, hq, n)),
                                flags], "query_keep_flags")
        # Caller's bucket ids: input checks naming them, and a bundle that
        # loads. LSH ids: no check.
        caller_ids = pathlib.Path(tmp) / "caller_ids.mlir"
        caller_ids.write_text(CALLER_IDS_IR)
        path = pathlib.Path(tmp) / "caller_ids"
        subprocess.run([sys.argv[2], str(caller_ids), "-o", str(path)],
                       check=True, timeout=300)
        manifest = json.loads((path / "manifest.json").read_text())
        expected = [{"scratch": f"{side}_invalid_ids",
                     "argument": f"{side}_bucket_ids",
                     "message": "bucket ids outside [0, 8)"}
                    for side in ("query", "key")]
        if manifest.get("input_checks") != expected:
            failures.append("caller ids: input_checks "
                            f"{manifest.get('input_checks')!r}, expected "
                            f"{expected!r}")
        try:
            Bundle(str(path))
        except AttnError as error:
            failures.append(f"caller ids: the bundle does not load: {error}")
        lsh = json.loads((pathlib.Path(tmp) / "hash" /
                          "manifest.json").read_text())
        if "input_checks" in lsh:
            failures.append("lsh example: input checks of computed ids: "
                            f"{lsh['input_checks']!r}")
    for failure in failures:
        print("FAIL:", failure)
    print("token_order_check:", "ok" if not failures else
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
