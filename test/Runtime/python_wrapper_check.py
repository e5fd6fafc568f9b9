#!/usr/bin/env python3
"""Checks python/attn/runtime.py on malformed input, without a GPU or torch:
duck-typed tensors whose stride() is shorter or longer than their shape,
extents that are not integers or do not fit an int64, and a bundle whose
argument name is not valid UTF-8. Each must raise AttnError naming the
argument (never a crash, a read past a buffer or a silent truncation).

usage: python_wrapper_check.py RUNTIME_LIBRARY ATTN_COMPILE EXAMPLE.mlir
(the example is compiled into a temporary bundle; ATTN_RUNTIME_LIB is set
from the first argument.)
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


class FakeTensor:
    """What the wrapper reads of a tensor: dtype, shape, stride(),
    data_ptr()."""

    def __init__(self, dtype, shape, stride, address=0x10000000):
        self.dtype = dtype
        self.shape = shape
        self._stride = stride
        self._address = address

    def stride(self):
        return self._stride

    def data_ptr(self):
        return self._address


def main():
    os.environ["ATTN_RUNTIME_LIB"] = sys.argv[1]
    sys.path.insert(0, str(ROOT / "python"))
    from attn.runtime import AttnError, Bundle

    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        bundle_dir = pathlib.Path(tmp) / "bundle"
        subprocess.run([sys.argv[2], sys.argv[3], "-o", str(bundle_dir)],
                       check=True, timeout=300)
        bundle = Bundle(str(bundle_dir))
        names = bundle.argument_names
        q = ("torch.bfloat16", (1, 2, 64, 64), (8192, 4096, 64, 1))

        def expect_error(label, tensors, fragment):
            try:
                bundle.validate(*tensors)
            except AttnError as error:
                if fragment not in str(error):
                    failures.append("%s: message %r lacks %r"
                                    % (label, str(error), fragment))
                return
            except Exception as error:  # noqa: BLE001 - any other is a bug
                failures.append("%s: %s instead of AttnError: %s"
                                % (label, type(error).__name__, error))
                return
            failures.append("%s: accepted" % label)

        def tensors_with(first):
            rest = [FakeTensor(*q) for _ in names[1:]]
            return [first] + rest

        expect_error("short stride()",
                     tensors_with(FakeTensor("torch.bfloat16", (1, 2, 64, 64),
                                             (8192,))),
                     "stride() has 1 entries for a shape of rank 4")
        expect_error("long stride()",
                     tensors_with(FakeTensor("torch.bfloat16", (1, 2, 64, 64),
                                             (8192, 4096, 64, 1, 1))),
                     "stride() has 5 entries for a shape of rank 4")
        expect_error("extent 2^63",
                     tensors_with(FakeTensor("torch.bfloat16",
                                             (1, 2, 2 ** 63, 64),
                                             (8192, 4096, 64, 1))),
                     "shape holds 9223372036854775808, outside [0, 2^63)")
        expect_error("non-integer extent",
                     tensors_with(FakeTensor("torch.bfloat16",
                                             (1, 2, 64.5, 64),
                                             (8192, 4096, 64, 1))),
                     "shape holds 64.5, not an integer")

        # An argument name that is not valid UTF-8 loads, shown escaped.
        manifest_path = bundle_dir / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["arguments"][0]["name"] = "q_PLACEHOLDER"
        for launch in manifest["launches"]:
            launch["args"] = ["q_PLACEHOLDER" if a == "q" else a
                              for a in launch["args"]]
        text = json.dumps(manifest).encode().replace(b"PLACEHOLDER",
                                                     b"\xff\xfe")
        manifest_path.write_bytes(text)
        try:
            odd = Bundle(str(bundle_dir))
            if not odd.argument_names[0].startswith("q_\\x"):
                failures.append("invalid UTF-8 name shown as %r"
                                % odd.argument_names[0])
        except AttnError:
            pass  # refusing the manifest is fine too
        except Exception as error:  # noqa: BLE001
            failures.append("invalid UTF-8 name: %s: %s"
                            % (type(error).__name__, error))

    for failure in failures:
        print("FAIL:", failure)
    print("python wrapper: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
