#!/usr/bin/env python3
"""Feeds attn-opt truncated and mutated versions of every example.

Each run must either succeed (exit 0) or fail cleanly: exit 1 with an
`error:` diagnostic that carries a file:line:col location. A crash (signal,
abort, any other exit code) or an unlocated error fails the test.

usage: malformed_inputs.py ATTN_OPT EXAMPLES_DIR
"""

import pathlib
import re
import subprocess
import sys
import tempfile

LOCATED_ERROR = re.compile(r"^[^:\n]+:\d+:\d+: error: ", re.MULTILINE)

# Replacements that make well-formed IR wrong in type, arity or value.
MUTATIONS = [
    (r"\b1024\b", "0"),
    (r"\b1024\b", "99999999999999999999999"),
    (r"\b64\b", "-64"),
    (r"\b64\b", "48"),
    (r"\b128\b", "7"),
    (r"bf16", "i8"),
    (r"f16", "f64"),
    (r"f32", "i1"),
    (r"xi1>", "xf32>"),
    (r"xi32>", "xf32>"),
    (r"0\.9", "nan"),
    (r"0\.9", "-1.0e308"),
    (r"1\.0e-4", "0.0"),
    (r"\(16\)", "(-3)"),
    (r"\b2 of 4\b", "4 of 2"),
    (r"%k, ", ""),
    (r", %v", ""),
    (r"mask\(%\w+\)", "mask(%q)"),
    (r"attn\.yield %allowed : i1", "attn.yield %prefix : index"),
    (r"memref<\?x\?x\?x", "memref<?x?x"),
    (r"\)\s*outs", " outs"),
    (r"ins\(", "ins "),
]


def run(attn_opt, path):
    return subprocess.run([attn_opt, str(path), "-o", "/dev/null"],
                          capture_output=True, text=True, timeout=60)


def check(attn_opt, text, what, tmp):
    """Returns (failure message or None, whether the input was rejected)."""
    path = pathlib.Path(tmp) / "input.mlir"
    path.write_text(text)
    result = run(attn_opt, path)
    if result.returncode == 0:
        return None, False
    if result.returncode != 1:
        return (f"{what}: exit code {result.returncode}\n"
                f"{result.stderr[-2000:]}"), False
    if not LOCATED_ERROR.search(result.stderr):
        return (f"{what}: error without a location\n"
                f"{result.stderr[-2000:]}"), True
    return None, True


def main():
    attn_opt, examples = sys.argv[1], pathlib.Path(sys.argv[2])
    failures, runs, clean_errors = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for example in sorted(examples.glob("*.mlir")):
            text = example.read_text()
            cases = []
            step = max(1, len(text) // 40)
            for cut in range(step, len(text), step):
                cases.append((f"{example.name} truncated at {cut}", text[:cut]))
            for pattern, replacement in MUTATIONS:
                mutated = re.sub(pattern, replacement, text, count=1)
                if mutated != text:
                    cases.append((f"{example.name} with {pattern!r} -> "
                                  f"{replacement!r}", mutated))
            for what, case in cases:
                runs += 1
                failure, rejected = check(attn_opt, case, what, tmp)
                if failure:
                    failures.append(failure)
                elif rejected:
                    clean_errors += 1
    for failure in failures:
        print("FAIL:", failure)
    print(f"malformed inputs: {runs} runs, {clean_errors} rejected with a "
          f"located error, {len(failures)} bad")
    # Most truncations must be rejected: a harness that never feeds bad
    # input would otherwise pass vacuously.
    if clean_errors < runs // 2:
        print("FAIL: fewer than half of the malformed inputs were rejected")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
