#!/usr/bin/env python3
"""Linear attention with per-head decay (Lightning Attention-2 semantics,
docs/Semantics.md "Linear tiles") on the GPU: correctness checks of the
bundles scripts/prepare-bench.sh builds and timings against the paper's
Triton kernel, flash-linear-attention's chunk kernel and quadratic causal
softmax attention.

Semantics: Q, K [B, H, N, D], V [B, H, N, E], decay rates s_h >= 0 (f32
[H]); O = ((Q K^T) ⊙ M) V with M[h, i, j] = exp(-s_h (i - j)) for j <= i,
else 0 (no softmax, scale or normaliser). With an initial state KV0
[B, H, D, E] (f32), O[i] += exp(-s_h (i + 1)) q_i KV0, and the final state
is KV_N = exp(-s_h N) KV0 + sum_j exp(-s_h (N - 1 - j)) k_j^T v_j.

Bundles (bench/bundles/<name>, arguments in manifest order): linear_d128
(q, k, v, o, decay; bf16 but decay), linear_d64 (D = E = 64),
linear_d64_e128 (D = 64, E = 128), linear_d128_state (q, k, v, o, decay,
initial_state, final_state; states f32 [B, H, D, E]).

Checks (check_linear): outputs poisoned with NaN before every call (every
element must be written; NaN never passes). O is compared with a float64
PyTorch evaluation of the dense definition (the N x N decay mask, built in
query blocks), and must satisfy FlashAttention's criterion in the form
    max |O - ref| <= 2 x max |O_torch_bf16 - ref| + 1e-4 max |ref|,
O_torch_bf16 being PyTorch evaluating the same dense formula in bf16 (Q K^T
a bf16 matmul, the mask multiplied in bf16, then @ V in bf16; the initial
state's term likewise). The relative error ||O - ref||_F / ||ref||_F is
reported. Cases: s = 0 and ALiBi slopes (s_h = 2^(-8 (h + 1) / H)), N in
{1, 63, 64, 65, 1000, 4096}, B = 2, H = 4, for each (D, E) bundle. The
state bundle adds a random initial state (its term about as large as the
rest), the final state against float64 (same criterion, PyTorch's bf16
final state the yardstick) and a two-halves run (N = 1000 as 0..511 then
512..999, the first half's final state the second's initial state) that
must meet the criterion and agree with the one-shot run. A long check
(B = 1, H = 8, N = 2^20, D = E = 128, ALiBi slopes) compares with the same
recurrence in float64 on the GPU (chunks of 256, float64 state) and reports
the peak memory of the call (nothing N x N). When the peers load, their
calls are checked the same way (informational: not counted as failures);
this validates the argument mapping of bench/linear_peers.md.

Timing (time_linear): one process, interleaved rounds
(bench_attention.interleaved_times: CUDA events, median), bf16, D = E = 128,
B = 4, H = 32, ALiBi slopes, per N: ours (linear_d128), the paper's kernel
(lightning_attn_func, chunk loop and its "parallel" variant), fla's
chunk_simple_gla (constant per-head decay g_gamma), SDPA cuDNN causal and
compiled FlexAttention causal (softmax attention of the same shape: what
linear attention replaces), and a bf16 torch.matmul rate measured in the
same run. Our effective TFLOP/s counts tiled_flops (below). Long-N timing
at B = 1, H = 8 (ours, fla, the paper's kernels): time per token and its
ratio to the N = 8192 value. A contender that fails is recorded with its
error, not fatal; so is a peer that is absent (bench/peers/ is git-ignored:
carry it to the GPU machine, bench/linear_peers.md says how it is made).

Standalone:
    python3 bench/linear_bench.py --bundles bench/bundles --out DIR
        [--skip-timing] [--skip-checks] [--sizes 4096,8192,32768,131072]
        [--long-sizes 8192,65536,262144,1048576] [--rounds 10]
        [--long-check-n 1048576]
    python3 bench/linear_bench.py --self-test    # CPU: the references agree
"""

import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import sys
import time

import torch

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = HERE / "peers"
sys.path.insert(0, str(ROOT / "python"))

# spion_bench first: it from-imports names of bench_attention, which
# imports it back; in this order a standalone run imports both whole.
import spion_bench  # noqa: E402,F401
import bench_attention as ba  # noqa: E402  (attribute access at call time)
from linear_reference import (  # noqa: E402  (definitions, criterion)
    DEVICE, REL_FLOOR, alibi_slopes, bnhd, causal_flops, chunked_linear,
    decays, dense_linear, final_state, judge, nan_like, random_inputs,
    random_state, self_test_cpu, tiled_flops)

LINEAR_BUNDLES = {  # name -> (D, E, with states)
    "linear_d128": (128, 128, False),
    "linear_d64": (64, 64, False),
    "linear_d64_e128": (64, 128, False),
    "linear_d128_state": (128, 128, True),
}
CHECK_SIZES = (1, 63, 64, 65, 1000, 4096)
MEMORY_CAP = 60e9       # quadratic peers are skipped above this estimate


# ------------------------------------------------------------------- bundles


def load_bundles(folder):
    """The linear bundles present under `folder` (name -> Bundle); a
    missing one is reported by check_linear."""
    from attn.runtime import Bundle
    found = {}
    names = list(LINEAR_BUNDLES)
    names += sorted(path.name for path in pathlib.Path(folder).glob(
        "linear_d128_*") if path.name not in LINEAR_BUNDLES)
    for name in names:
        path = pathlib.Path(folder) / name
        if (path / "manifest.json").exists():
            found[name] = Bundle(str(path))
    return found


def run_ours(bundle, q, k, v, s, kv0=None, with_state=False, workspace=None):
    """Runs a linear bundle with NaN-poisoned outputs (O and, for the state
    bundle, the final state); returns (O, final state or None)."""
    b, h, n, _ = q.shape
    e = v.shape[-1]
    o = nan_like((b, h, n, e), q.dtype, q.device)
    if not with_state:
        bundle(q, k, v, o, s, workspace=workspace)
        torch.cuda.synchronize()
        return o, None
    d = q.shape[-1]
    if kv0 is None:
        kv0 = torch.zeros(b, h, d, e, dtype=torch.float32, device=q.device)
    kv = nan_like((b, h, d, e), torch.float32, q.device)
    bundle(q, k, v, o, s, kv0, kv, workspace=workspace)
    torch.cuda.synchronize()
    return o, kv


def _result(name, case, problems, stats, counted=True, **extra):
    parts = [f"{k}={v}" for k, v in case.items()]
    text = " ".join(parts)
    numbers = ", ".join(
        f"{label} {stats[key]:.2e}" for key, label in
        (("err", "err"), ("torch_err", "torch bf16"), ("rel_err", "rel"),
         ("state_err", "state err"), ("state_torch_err", "torch bf16"),
         ("state_rel_err", "state rel"), ("split_diff", "vs one-shot"),
         ("split_state_diff", "state vs one-shot"))
        if stats.get(key) is not None)
    status = "ok" if not problems else "FAIL: " + "; ".join(problems)
    prefix = "" if counted else "peer (informational) "
    line = f"{prefix}{name} {text}: " + (f"{numbers}: " if numbers else "") \
        + status
    result = {"name": name, **case, **stats, "ok": not problems,
              "problems": problems, "counted": counted, "line": line}
    result.update(extra)
    return result


def check_bad_decay(bundle, name, d, e, with_state, gen, b=1, h=4, n=300):
    """Decay rates that are negative, NaN or infinite: the call must fail
    with an error naming the decay argument, and leave O (and the final
    state) as they were (poisoned here)."""
    q, k, v = random_inputs(b, h, n, d, e, gen)
    problems = []
    for bad in (-0.5, float("nan"), float("inf")):
        s = alibi_slopes(h, DEVICE).clone()
        s[h - 1] = bad
        try:
            run_ours(bundle, q, k, v, s, None, with_state)
            problems.append(f"decay {bad}: no error")
        except Exception as error:  # the runtime's input check
            text = str(error)
            if "decay" not in text:
                problems.append(f"decay {bad}: error does not name decay: "
                                f"{text}")
        torch.cuda.synchronize()
    # run_ours poisons O and the final state before the call; a failed call
    # returns nothing, so check by hand that a bad call writes nothing.
    o = nan_like((b, h, n, e), q.dtype, q.device)
    s = alibi_slopes(h, DEVICE).clone()
    s[0] = -1.0
    args = [q, k, v, o, s]
    if with_state:
        args += [torch.zeros(b, h, d, e, dtype=torch.float32,
                             device=q.device),
                 nan_like((b, h, d, e), torch.float32, q.device)]
    try:
        bundle(*args)
    except Exception:
        pass
    torch.cuda.synchronize()
    if not torch.isnan(o.float()).all():
        problems.append("O was written although the call failed")
    if with_state and not torch.isnan(args[-1]).all():
        problems.append("the final state was written although the call failed")
    return _result(name, {"B": b, "H": h, "N": n, "decay": "invalid"},
                   problems, {})


def check_case(bundle, name, b, h, n, d, e, decay, gen, with_state):
    """One bundle call against the float64 dense definition."""
    q, k, v = random_inputs(b, h, n, d, e, gen)
    s = decays(decay, h)
    kv0 = random_state(b, h, d, e, gen) if with_state else None
    o, kv = run_ours(bundle, q, k, v, s, kv0, with_state)
    ref = dense_linear(q, k, v, s, kv0)
    bf = dense_linear(q, k, v, s, kv0, dtype=torch.bfloat16)
    stats, problems = judge(o, ref, bf)
    if with_state:
        sref = final_state(k, v, s, kv0)
        sbf = final_state(k, v, s, kv0, dtype=torch.bfloat16)
        sstats, sproblems = judge(kv, sref, sbf)
        stats.update({"state_" + key: val for key, val in sstats.items()})
        problems += ["final state: " + p for p in sproblems]
    case = {"B": b, "H": h, "N": n, "D": d, "E": e, "decay": decay,
            "initial_state": with_state}
    return _result(name, case, problems, stats)


def check_halves(bundle, name, decay, gen, b=2, h=4, n=1000, split=512):
    """The state bundle run as two halves (0..split-1 with a random initial
    state, then split..n-1 continuing from the first half's final state)
    against the one-shot run and the float64 reference."""
    d, e = 128, 128
    q, k, v = random_inputs(b, h, n, d, e, gen)
    s = decays(decay, h)
    kv0 = random_state(b, h, d, e, gen)
    o_full, kv_full = run_ours(bundle, q, k, v, s, kv0, True)
    first = [x[:, :, :split].contiguous() for x in (q, k, v)]
    second = [x[:, :, split:].contiguous() for x in (q, k, v)]
    o1, kv_mid = run_ours(bundle, *first, s, kv0, True)
    o2, kv_end = run_ours(bundle, *second, s, kv_mid.clone(), True)
    o_split = torch.cat([o1, o2], dim=2)
    ref = dense_linear(q, k, v, s, kv0)
    bf = dense_linear(q, k, v, s, kv0, dtype=torch.bfloat16)
    stats, problems = judge(o_split, ref, bf)
    sref = final_state(k, v, s, kv0)
    sbf = final_state(k, v, s, kv0, dtype=torch.bfloat16)
    sstats, sproblems = judge(kv_end, sref, sbf)
    stats.update({"state_" + key: val for key, val in sstats.items()})
    problems += ["final state: " + p for p in sproblems]
    # The split run against the one-shot run: within the criterion's bound.
    split_diff = (o_split.double() - o_full.double()).abs().max().item()
    state_diff = (kv_end.double() - kv_full.double()).abs().max().item()
    stats["split_diff"] = split_diff
    stats["split_state_diff"] = state_diff
    if not split_diff <= stats["bound"]:
        problems.append(f"halves differ from one shot by {split_diff:.2e} "
                        f"> {stats['bound']:.2e}")
    if not state_diff <= stats["state_bound"]:
        problems.append(f"final states differ by {state_diff:.2e} > "
                        f"{stats['state_bound']:.2e}")
    case = {"B": b, "H": h, "N": n, "D": d, "E": e, "decay": decay,
            "initial_state": True, "halves": f"0..{split - 1},{split}..{n - 1}"}
    return _result(name, case, problems, stats)


def check_long(bundle, name, n, gen, b=1, h=8, d=128, e=128, tail=4096):
    """N = `n` with ALiBi slopes against the float64 chunked recurrence on
    the GPU (chunks of 256, float64 state; O compared chunk by chunk, never
    held in float64). The yardstick torch_err is PyTorch's bf16 dense
    formula on the last `tail` rows, over the keys whose weight
    exp(-s_min (i - j)) exceeds e^-28 (older keys change O by far less than
    a bf16 ulp), against the float64 recurrence's rows. Reports the peak of
    torch's allocator during the call (inputs, O and the bundle's workspace,
    given from torch) and the device memory the call took beyond it."""
    q, k, v = random_inputs(b, h, n, d, e, gen)
    s = alibi_slopes(h, DEVICE)
    o = nan_like((b, h, n, e), torch.bfloat16)
    workspace_bytes = bundle.workspace_bytes(q, k, v, o, s)
    workspace = (torch.empty(workspace_bytes, dtype=torch.uint8,
                             device=DEVICE) if workspace_bytes else None)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    allocated = torch.cuda.memory_allocated()
    free_before = torch.cuda.mem_get_info()[0]
    t0 = time.time()
    bundle(q, k, v, o, s, workspace=workspace)
    torch.cuda.synchronize()
    call_s = time.time() - t0
    free_after = torch.cuda.mem_get_info()[0]
    peak = torch.cuda.max_memory_allocated()
    memory = {"peak_allocated_bytes": peak,
              "allocated_before_call_bytes": allocated,
              "peak_minus_before_bytes": peak - allocated,
              "workspace_bytes": workspace_bytes,
              "device_bytes_taken_by_call": max(0, free_before - free_after),
              "n_by_n_bf16_bytes_per_head": n * n * 2}
    problems = []
    if torch.isnan(o).any():
        problems.append("NaN or unwritten output")
    stats = {"max_err": torch.zeros((), dtype=torch.float64, device=DEVICE),
             "sq_err": torch.zeros((), dtype=torch.float64, device=DEVICE),
             "sq_ref": torch.zeros((), dtype=torch.float64, device=DEVICE),
             "max_ref": torch.zeros((), dtype=torch.float64, device=DEVICE)}
    tail_ref = torch.empty(b, h, min(tail, n), e, dtype=torch.float64,
                           device=DEVICE)
    t_start = n - tail_ref.shape[2]

    def sink(c0, c1, ref):
        got = o[:, :, c0:c1].double()
        diff = got - ref
        stats["max_err"] = torch.maximum(stats["max_err"], diff.abs().max())
        stats["sq_err"] += (diff * diff).sum()
        stats["sq_ref"] += (ref * ref).sum()
        stats["max_ref"] = torch.maximum(stats["max_ref"], ref.abs().max())
        lo, hi = max(c0, t_start), c1
        if lo < hi:
            tail_ref[:, :, lo - t_start:hi - t_start] = ref[:, :, lo - c0:]

    t0 = time.time()
    chunked_linear(q, k, v, s, chunk=256, sink=sink)
    torch.cuda.synchronize()
    ref_s = time.time() - t0
    window = math.ceil(28.0 / s.min().item())
    key_start = max(0, t_start - window)
    bf_tail = dense_linear(q, k, v, s, dtype=torch.bfloat16,
                           rows=(t_start, n), key_start=key_start)
    tail_stats, _ = judge(o[:, :, t_start:], tail_ref, bf_tail)
    err = stats["max_err"].item()
    max_ref = stats["max_ref"].item()
    rel = math.sqrt(stats["sq_err"].item() / stats["sq_ref"].item())
    bound = 2 * tail_stats["torch_err"] + REL_FLOOR * max_ref
    if not err <= bound:
        problems.append(f"error {err:.3e} > 2 x torch bf16 (last {tail} "
                        f"rows) {tail_stats['torch_err']:.3e} + 1e-4 x "
                        f"{max_ref:.3e}")
    if peak - allocated > 0:
        problems.append(f"the call allocated {peak - allocated} bytes "
                        "through torch")
    case = {"B": b, "H": h, "N": n, "D": d, "E": e, "decay": "alibi",
            "long": True}
    result = _result(name, case, problems,
                     {"err": err, "torch_err": tail_stats["torch_err"],
                      "rel_err": rel, "bound": bound, "max_ref": max_ref,
                      "tail_err": tail_stats["err"]},
                     memory=memory, call_s=call_s, reference_s=ref_s)
    gib = 2.0 ** 30
    result["line"] += (
        f" (peak allocated {peak / gib:.2f} GiB, of which inputs/O/workspace "
        f"{allocated / gib:.2f} GiB, workspace {workspace_bytes / gib:.3f} "
        f"GiB; device memory taken by the call "
        f"{memory['device_bytes_taken_by_call'] / gib:.3f} GiB; one N x N "
        f"bf16 matrix would be {n * n * 2 / gib:.0f} GiB)")
    return result


def check_linear(bundles, seed, long_n=1 << 20, peers=True):
    """Every check; returns result dicts (line, ok, counted, numbers).
    Results with counted False (the peers') are informational."""
    results = []
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    for name, (d, e, with_state) in LINEAR_BUNDLES.items():
        bundle = bundles.get(name)
        if bundle is None:
            results.append(_result(name, {"bundle": "missing"},
                                   ["bundle not built or not carried"], {}))
            continue
        want = 7 if with_state else 5
        if len(bundle.argument_names) != want:
            results.append(_result(
                name, {"arguments": ",".join(bundle.argument_names)},
                [f"expected {want} arguments (q, k, v, o, decay"
                 + (", initial_state, final_state" if with_state else "")
                 + ")"], {}))
            continue
        for decay in ("zero", "alibi"):
            for n in CHECK_SIZES:
                results.append(check_case(bundle, name, 2, 4, n, d, e, decay,
                                          gen, with_state))
                print("check " + results[-1]["line"], flush=True)
            if with_state:
                results.append(check_halves(bundle, name, decay, gen))
                print("check " + results[-1]["line"], flush=True)
        # B·H = 128: one segment per (b, h) (no phase 1) under the default
        # run-time segment choice.
        results.append(check_case(bundle, name, 4, 32, 1000, d, e, "alibi",
                                  gen, with_state))
        print("check " + results[-1]["line"], flush=True)
        results.append(check_bad_decay(bundle, name, d, e, with_state, gen))
        print("check " + results[-1]["line"], flush=True)
        torch.cuda.empty_cache()
    if long_n and "linear_d128" in bundles and \
            len(bundles["linear_d128"].argument_names) == 5:
        try:
            results.append(check_long(bundles["linear_d128"], "linear_d128",
                                      long_n, gen))
        except Exception as error:  # e.g. out of memory
            results.append(_result("linear_d128", {"N": long_n,
                                                   "long": True},
                                   [f"long check raised: {error}"], {}))
        print("check " + results[-1]["line"], flush=True)
        torch.cuda.empty_cache()
    if peers:
        results += check_peers(*load_peers(), gen)
    return results


# --------------------------------------------------------------------- peers


def load_peers():
    """(peers, errors): the peers' calls (name -> fn), each taking
    (q, k, v, s) in our layout [B, H, N, D] and returning O [B, H, N, E]
    except where noted, and why the others did not load (name -> message).

    lightning2 / lightning2_parallel: the paper's lightning_attn_func
      (bench/peers/lightning-attention, OpenNLPLab/lightning-attention),
      q, k, v [B, H, N, D] contiguous, s = our decay rates as [H, 1, 1]
      float32 (positive: exp(-s (i - j))), no scale; the parallel variant
      drops a tail that is not a multiple of 256 rows.
    fla: flash-linear-attention's fla.ops.simple_gla.chunk_simple_gla
      (fla-core, bench/peers/fla/site) in ITS layout [B, N, H, D]:
      fla_bnhd(q, k, v, g_gamma) with g_gamma = -s (natural-log decay per
      step, [H] float32), scale = 1.0 (its default is D^-0.5); returns O
      [B, N, H, E]. fla_state takes and returns the states
      (initial_state [B, H, D, E] f32, output_final_state=True)."""
    peers, errors = {}, {}
    paper = PEERS / "lightning-attention"
    if not (paper / "lightning_attn").is_dir():
        errors["lightning2"] = f"absent: {paper} (see bench/linear_peers.md)"
    else:
        try:
            if str(paper) not in sys.path:
                sys.path.insert(0, str(paper))
            from lightning_attn.ops import lightning_attn_func

            def lightning2(q, k, v, s, fn=lightning_attn_func):
                return fn(q, k, v, s.view(-1, 1, 1))

            def lightning2_parallel(q, k, v, s, fn=lightning_attn_func):
                return fn(q, k, v, s.view(-1, 1, 1), variant="parallel")

            peers["lightning2"] = lightning2
            peers["lightning2_parallel"] = lightning2_parallel
        except Exception as error:
            errors["lightning2"] = f"import failed: {error!r}"
    site = PEERS / "fla" / "site"
    if not (site / "fla").is_dir():
        errors["fla"] = f"absent: {site} (see bench/linear_peers.md)"
    else:
        try:
            if str(site) not in sys.path:
                sys.path.insert(0, str(site))
            fallback = PEERS / "fla" / "fallback"  # einops, packaging
            if str(fallback) not in sys.path:
                sys.path.append(str(fallback))
            from fla.ops.simple_gla import chunk_simple_gla

            def fla_bnhd(q, k, v, g_gamma, fn=chunk_simple_gla):
                return fn(q, k, v, g_gamma=g_gamma, scale=1.0)[0]

            def fla_g_bnhd(q, k, v, g, fn=chunk_simple_gla):
                return fn(q, k, v, g=g, scale=1.0)[0]

            def fla_state(q, k, v, g_gamma, kv0, fn=chunk_simple_gla):
                return fn(q, k, v, g_gamma=g_gamma, scale=1.0,
                          initial_state=kv0, output_final_state=True)

            peers["fla"] = fla_bnhd
            peers["fla_g"] = fla_g_bnhd
            peers["fla_state"] = fla_state
        except Exception as error:
            errors["fla"] = f"import failed: {error!r}"
    for name, message in errors.items():
        print(f"linear peer {name} unavailable: {message}", flush=True)
    return peers, errors


def check_peers(peers, errors, gen):
    """The peers' calls against the float64 reference, same criterion
    (informational: validates the argument mapping)."""
    results = []
    b, h, d, e = 2, 4, 128, 128
    for name, error in errors.items():
        results.append(_result(name, {"peer": "unavailable"}, [error], {},
                               counted=False))
    if not peers:
        return results
    for n in (1000, 4096):
        q, k, v = random_inputs(b, h, n, d, e, gen)
        s = alibi_slopes(h, DEVICE)
        kv0 = random_state(b, h, d, e, gen)
        ref = dense_linear(q, k, v, s)
        bf = dense_linear(q, k, v, s, dtype=torch.bfloat16)
        calls = {}
        if "lightning2" in peers:
            calls["lightning2"] = lambda: peers["lightning2"](q, k, v, s)
            if n % 256 == 0:
                calls["lightning2_parallel"] = \
                    lambda: peers["lightning2_parallel"](q, k, v, s)
        if "fla" in peers:
            calls["fla g_gamma"] = lambda: bnhd(peers["fla"](
                bnhd(q), bnhd(k), bnhd(v), -s))
            g = (-s).view(1, 1, h).expand(b, n, h).contiguous()
            calls["fla g"] = lambda: bnhd(peers["fla_g"](
                bnhd(q), bnhd(k), bnhd(v), g))
        for name, call in calls.items():
            case = {"B": b, "H": h, "N": n, "D": d, "E": e, "decay": "alibi"}
            try:
                out = call()
                torch.cuda.synchronize()
                stats, problems = judge(out, ref, bf)
            except Exception as error:
                stats, problems = {}, [f"raised: {str(error)[:300]}"]
            results.append(_result(name, case, problems, stats,
                                   counted=False))
            print("check " + results[-1]["line"], flush=True)
        if "fla_state" in peers:
            case = {"B": b, "H": h, "N": n, "D": d, "E": e, "decay": "alibi",
                    "initial_state": True}
            try:
                out, kv = peers["fla_state"](bnhd(q), bnhd(k), bnhd(v), -s,
                                             kv0)
                torch.cuda.synchronize()
                stats, problems = judge(
                    bnhd(out), dense_linear(q, k, v, s, kv0),
                    dense_linear(q, k, v, s, kv0, dtype=torch.bfloat16))
                sstats, sproblems = judge(
                    kv, final_state(k, v, s, kv0),
                    final_state(k, v, s, kv0, dtype=torch.bfloat16))
                stats.update({"state_" + key: val
                              for key, val in sstats.items()})
                problems += ["final state: " + p for p in sproblems]
            except Exception as error:
                stats, problems = {}, [f"raised: {str(error)[:300]}"]
            results.append(_result("fla g_gamma + states", case, problems,
                                   stats, counted=False))
            print("check " + results[-1]["line"], flush=True)
        q = k = v = ref = bf = calls = None
        torch.cuda.empty_cache()
    return results


# -------------------------------------------------------------------- timing


def matmul_tflops(rounds, n=8192):
    """bf16 torch.matmul n x n x n, median over `rounds` (TFLOP/s)."""
    a = torch.randn(n, n, device=DEVICE, dtype=torch.bfloat16)
    c = torch.randn(n, n, device=DEVICE, dtype=torch.bfloat16)
    seconds = ba.interleaved_times({"matmul": lambda: torch.matmul(a, c)},
                                   [()], max(rounds, 10))
    return 2.0 * n ** 3 / seconds["matmul"] / 1e12


def _time_contenders(contenders, errors, rounds, label):
    """Calls each once (a failure is recorded and the contender left out),
    then times the rest in interleaved rounds. Returns name -> seconds."""
    for name in list(contenders):
        try:
            contenders[name]()
            torch.cuda.synchronize()
        except Exception as error:
            errors[name] = str(error)[:300]
            print(f"linear timing: {name} failed at {label}: {error}",
                  flush=True)
            del contenders[name]
            torch.cuda.empty_cache()
    if not contenders:
        return {}
    try:
        return ba.interleaved_times(contenders, [()], rounds)
    except Exception as error:
        for name in contenders:
            errors.setdefault(name, f"timing round failed: {str(error)[:300]}")
        return {}


def _linear_contenders(ours, peers, q, k, v, o, s):
    contenders = {}
    if ours is not None:
        contenders["attn"] = lambda: ours(q, k, v, o, s)
    for name in ("lightning2", "lightning2_parallel"):
        if name in peers:
            contenders[name] = lambda fn=peers[name]: fn(q, k, v, s)
    if "fla" in peers:
        qf, kf, vf = bnhd(q), bnhd(k), bnhd(v)   # fla's own layout
        g_gamma = -s
        contenders["fla_chunk"] = lambda: peers["fla"](qf, kf, vf, g_gamma)
    return contenders


LINEAR_NAMES = ("attn", "lightning2", "lightning2_parallel", "fla_chunk")
QUADRATIC_NAMES = ("cudnn_causal", "flex_causal")


def time_linear(bundles, sizes, rounds, long_sizes=(), peers=None):
    """Timing rows (see the module docstring): kind "main" per N of `sizes`
    (B = 4, H = 32) and kind "long" per N of `long_sizes` (B = 1, H = 8),
    D = E = 128, ALiBi slopes. `peers`: load_peers()'s pair (loaded here
    when None)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    peers, peer_errors = load_peers() if peers is None else peers
    ours = bundles.get("linear_d128")
    # Tuning variants of linear_d128 (scripts/prepare-bench.sh), timed as
    # attn_<variant> beside it: same arguments, another segment choice.
    variants = {name[len("linear_d128_"):]: bundle
                for name, bundle in bundles.items()
                if name.startswith("linear_d128_") and name != "linear_d128_state"}
    rows = []
    try:
        rate = matmul_tflops(rounds)
        print(f"bf16 matmul 8192^3: {rate:.1f} TFLOP/s", flush=True)
    except Exception as error:
        rate = None
        print(f"bf16 matmul rate not measured: {error}", flush=True)
    d = e = 128
    for kind, b, h, ns in (("main", 4, 32, sizes), ("long", 1, 8,
                                                    long_sizes)):
        for n in ns:
            errors = {}
            if ours is None:
                errors["attn"] = "linear_d128 bundle missing"
            for name, message in peer_errors.items():
                for peer in (("lightning2", "lightning2_parallel")
                             if name == "lightning2" else ("fla_chunk",)):
                    errors[peer] = message
            label = f"{kind} N={n}"
            try:
                gen = torch.Generator(device=DEVICE).manual_seed(n)
                q, k, v = random_inputs(b, h, n, d, e, gen)
                o = torch.empty_like(v)
                s = alibi_slopes(h, DEVICE)
                if ours is not None:
                    ours.read_input_checks = False
                contenders = _linear_contenders(ours, peers, q, k, v, o, s)
                for variant, bundle in variants.items():
                    bundle.read_input_checks = False
                    contenders["attn_" + variant] = \
                        lambda bundle=bundle: bundle(q, k, v, o, s)
                if kind == "main":
                    sdpa_bytes = 4 * b * h * n * d * 2 + b * h * n * 4
                    if sdpa_bytes > MEMORY_CAP:
                        errors["cudnn_causal"] = errors["flex_causal"] = \
                            f"skipped: ~{sdpa_bytes / 1e9:.0f} GB"
                    else:
                        def cudnn():
                            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                                torch.nn.functional.scaled_dot_product_attention(
                                    q, k, v, is_causal=True)
                        contenders["cudnn_causal"] = cudnn
                        try:
                            from torch.nn.attention.flex_attention import \
                                create_block_mask
                            flex = ba.compiled_flex()
                            block_mask = create_block_mask(
                                lambda bi, hi, qi, ki: qi >= ki, None, None,
                                n, n, device=DEVICE)
                            contenders["flex_causal"] = lambda: flex(
                                q, k, v, block_mask=block_mask)
                        except Exception as error:
                            errors["flex_causal"] = str(error)[:300]
                seconds = _time_contenders(contenders, errors, rounds, label)
            except Exception as error:  # e.g. inputs out of memory
                seconds = {}
                errors["inputs"] = str(error)[:300]
            finally:
                for bundle in [ours, *variants.values()]:
                    if bundle is not None:
                        bundle.read_input_checks = True
            row = linear_row(kind, b, h, n, d, e, seconds, errors, rate)
            print(json.dumps(row), flush=True)
            rows.append(row)
            q = k = v = o = contenders = None
            torch.cuda.empty_cache()
    long_rows = [r for r in rows if r["kind"] == "long"]
    if long_rows:
        base_n = 8192 if any(r["n"] == 8192 for r in long_rows) else \
            min(r["n"] for r in long_rows)
        base = next(r for r in long_rows if r["n"] == base_n)
        for r in long_rows:
            r["per_token_vs_base"] = {
                name: t / base["per_token_s"][name]
                for name, t in r["per_token_s"].items()
                if base["per_token_s"].get(name)}
            r["base_n"] = base_n
    return rows


def linear_row(kind, b, h, n, d, e, seconds, errors, rate):
    tiled = tiled_flops(b, h, n, d, e)
    tflops = {}
    for name, t in seconds.items():
        flops = causal_flops(b, h, n, d) if name in QUADRATIC_NAMES else tiled
        tflops[name] = flops / t / 1e12
    ours = seconds.get("attn")
    row = {"kind": kind, "b": b, "h": h, "n": n, "d": d, "e": e,
           "seconds": seconds, "errors": errors,
           "speedup_vs": ({name: t / ours for name, t in seconds.items()
                           if name != "attn"} if ours else {}),
           "tokens_per_s": {name: b * n / t for name, t in seconds.items()},
           "per_token_s": {name: t / (b * n) for name, t in seconds.items()},
           "tflops": tflops, "tiled_flops": tiled, "matmul_tflops": rate,
           "attn_pct_of_matmul": (100.0 * tflops["attn"] / rate
                                  if ours and rate else None)}
    return row


# -------------------------------------------------------------------- report


def format_rows(rows):
    """The markdown tables of the timing rows."""
    def ms(row, name):
        t = row["seconds"].get(name)
        return f"{t * 1e3:.3f}" if t else "-"

    def ratio(row, name):
        x = row["speedup_vs"].get(name)
        return f"{x:.2f}" if x else "-"

    lines = []
    main = [r for r in rows if r["kind"] == "main"]
    if main:
        lines += [
            "", "## Linear attention (Lightning-2 semantics, ALiBi decay), "
            f"bf16, B = {main[0]['b']}, H = {main[0]['h']}, D = E = "
            f"{main[0]['d']}: ms (speed-up = peer time / ours)", "",
            f"bf16 matmul 8192^3 in the same run: "
            f"{main[0]['matmul_tflops'] or 0:.1f} TFLOP/s. Ours' TFLOP/s count "
            "tiled_flops (chunks of 64: 2 Bt^2 (D + E) + 4 Bt D E per "
            "chunk and head).", "",
            "| N | ours | paper | paper parallel | fla chunk | cuDNN causal "
            "| flex causal | vs paper | vs paper par | vs fla | vs cuDNN | "
            "vs flex | ours Mtok/s | ours TFLOP/s | % of matmul |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in main:
            att = r["tflops"].get("attn")
            tok = r["tokens_per_s"].get("attn")
            lines.append(
                f"| {r['n']} | {ms(r, 'attn')} | {ms(r, 'lightning2')} | "
                f"{ms(r, 'lightning2_parallel')} | {ms(r, 'fla_chunk')} | "
                f"{ms(r, 'cudnn_causal')} | {ms(r, 'flex_causal')} | "
                f"{ratio(r, 'lightning2')} | "
                f"{ratio(r, 'lightning2_parallel')} | "
                f"{ratio(r, 'fla_chunk')} | {ratio(r, 'cudnn_causal')} | "
                f"{ratio(r, 'flex_causal')} | "
                f"{tok / 1e6 if tok else 0:.1f} | "
                f"{att if att else 0:.1f} | "
                f"{r['attn_pct_of_matmul'] or 0:.1f} |")
    long_rows = [r for r in rows if r["kind"] == "long"]
    if long_rows:
        base = long_rows[0].get("base_n")
        lines += [
            "", f"Long N, B = {long_rows[0]['b']}, H = {long_rows[0]['h']}: "
            f"ms, ns per token and its ratio to N = {base}:", "",
            "| N | ours | paper | paper parallel | fla chunk | vs paper | "
            "vs fla |", "|---|---|---|---|---|---|---|"]
        for r in long_rows:
            cells = []
            for name in LINEAR_NAMES:
                t = r["seconds"].get(name)
                if not t:
                    cells.append("-")
                    continue
                rel = r.get("per_token_vs_base", {}).get(name)
                cells.append(f"{t * 1e3:.2f} ({r['per_token_s'][name] * 1e9:.3f}"
                             f" ns/tok, {rel:.2f}x)" if rel else
                             f"{t * 1e3:.2f}")
            lines.append(f"| {r['n']} | " + " | ".join(cells) + " | "
                         f"{ratio(r, 'lightning2')} | {ratio(r, 'fla_chunk')} |")
    failed = [(r["kind"], r["n"], name, message) for r in rows
              for name, message in r["errors"].items()]
    if failed:
        lines += ["", "Not timed:", ""]
        where = {}
        for kind, n, name, message in failed:
            where.setdefault((name, message), []).append(f"{kind} {n}")
        for (name, message), places in where.items():
            lines.append(f"- {name} ({', '.join(places)}): {message}")
    return "\n".join(lines) + "\n"


def format_checks(results, peers_only=False):
    """The check lines in markdown: all of them with the count, or (for
    bench_attention, whose report lists the counted lines already) only
    the peers' informational ones."""
    if peers_only:
        peers = [r for r in results if not r["counted"]]
        if not peers:
            return ""
        lines = ["", "Linear attention peers against the float64 reference "
                 "(informational, not counted):", ""]
        lines += [f"    {r['line']}" for r in peers]
        return "\n".join(lines) + "\n"
    counted = [r for r in results if r["counted"]]
    failures = [r for r in counted if not r["ok"]]
    lines = ["", "## Linear attention checks", "",
             f"{len(counted) - len(failures)} of {len(counted)} pass.", ""]
    lines += [f"    {r['line']}" for r in results]
    return "\n".join(lines) + "\n"


# ------------------------------------------- bench/bench_attention.py hooks


def add_device_run_arguments(parser):
    """The options bench_attention.py (bench/device_run.sh) takes for the
    linear group: `--checks linear`, `--timing linear`."""
    parser.add_argument("--linear-sizes", default="4096,8192,32768,131072",
                        help="sequence lengths of the linear attention "
                             "timings (B = 4, H = 32, D = E = 128)")
    parser.add_argument("--linear-long-sizes",
                        default="8192,65536,262144,1048576",
                        help="sequence lengths of the long linear attention "
                             "timings (B = 1, H = 8)")
    parser.add_argument("--linear-long-check-n", type=int, default=1 << 20,
                        help="N of the long linear attention check (0: "
                             "skip it)")


def sizes(text):
    """A comma-separated list of sequence lengths."""
    return [int(x) for x in text.split(",") if x]


def counted(results):
    """The lines and the failure count of check_linear's results that count
    (the peers' lines are informational and stay out of the count)."""
    mine = [r for r in results if r["counted"]]
    return [r["line"] for r in mine], sum(not r["ok"] for r in mine)


# ---------------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundles", default=str(HERE / "bundles"))
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-checks", action="store_true")
    parser.add_argument("--sizes", default="4096,8192,32768,131072")
    parser.add_argument("--long-sizes", default="8192,65536,262144,1048576")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--long-check-n", type=int, default=1 << 20,
                        help="N of the long check (0: skip it)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--self-test", action="store_true",
                        help="CPU only: the float64 references agree")
    args = parser.parse_args()
    if args.self_test:
        return self_test_cpu()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = {"date": datetime.date.today().isoformat(),
            "gpu": torch.cuda.get_device_name(),
            "torch": torch.__version__, "cuda": torch.version.cuda,
            "python": platform.python_version()}
    print(json.dumps(info), flush=True)
    bundles = load_bundles(args.bundles)
    seed = args.seed if args.seed is not None else \
        int.from_bytes(os.urandom(4), "little")
    results, rows = [], []
    if not args.skip_checks:
        results = check_linear(bundles, seed, long_n=args.long_check_n)
    if not args.skip_timing:
        rows = time_linear(bundles, sizes(args.sizes), args.rounds,
                           long_sizes=sizes(args.long_sizes))
    lines, failures = counted(results)
    report = (f"# Linear attention on the GPU, {info['date']}\n\n"
              f"GPU: {info['gpu']}; torch {info['torch']} (CUDA "
              f"{info['cuda']}); seed {seed}.\n")
    if results:
        report += format_checks(results)
    if rows:
        report += format_rows(rows)
    (out / "linear.md").write_text(report)
    (out / "linear.json").write_text(json.dumps(
        {"info": info, "seed": seed, "checks": results, "timings": rows},
        indent=1))
    print(report)
    print(f"correctness: {len(lines) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
