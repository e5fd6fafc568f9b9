#!/usr/bin/env python3
"""Checks and times attn's GPU kernels side by side with PyTorch's peers.

Runs on the GPU machine (bench/device_run.sh), with the bundles that
scripts/prepare-bench.sh compiled on the build machine.

Correctness (FlashAttention's criterion): on fresh random bf16 inputs, the
max abs error of O against a float32 reference computed on the upcast
inputs must be at most 2x the error of PyTorch's own bf16 computation of the
same function, plus an absolute floor of 1e-4. LSE must match the float32
reference to 1e-3. Outputs are poisoned with NaN before every run and must
be fully written; rows with no allowed key must give O = 0 and LSE = -inf;
NaN never passes.

Timing: CUDA events around each call, warm-up, the median over interleaved
rounds (every contender once per round, enqueued ahead so that only GPU time
is measured), inputs rotated among sets larger than L2, all peers in this
one process: SDPA with the flash
backend, SDPA with the cuDNN backend, torch.compile(flex_attention) with the
equivalent mask, and attn. TFLOP/s counts 4·B·H·D per allowed (q, k) pair
(so causal counts about half of full).
"""

import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import re
import statistics
import sys
import time

import torch
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
from attn.runtime import Bundle  # noqa: E402

import spion_bench  # noqa: E402  (SPION checks and timings; imports back)
import nm_bench  # noqa: E402  (N:M checks and timings)
import scfa_bench  # noqa: E402  (hash and drop checks and timings; after
#                   spion_bench, whose from-import needs this module whole)
import linear_bench  # noqa: E402  (linear attention checks and timings)

WINDOW = 1024
TOKENS = 16384
HIDDEN = 2048
ABS_FLOOR = 1e-4


def allowed_mask(kind, nq, nk, device):
    """The [nq, nk] boolean mask of SEMANTICS.md (bottom-right aligned)."""
    i = torch.arange(nq, device=device)[:, None]
    j = torch.arange(nk, device=device)[None, :]
    delta = (i + (nk - nq)) - j
    if kind == "full":
        return torch.ones(nq, nk, dtype=torch.bool, device=device)
    if kind == "causal":
        return delta >= 0
    if kind == "window":
        return (delta >= 0) & (delta < WINDOW)
    if kind == "prefixlm":  # examples/custom.mlir: raw indices, no offset
        return (j < 256) | (j <= i)
    raise ValueError(kind)


LIST_BLOCK = 64         # bench/kernels/block_list_l2.mlir's block size
LIST_TILES = (128, 64)  # and its q-tile and kv-tile


def random_blocks(nq, nk, density, device):
    """A random [ceil(nq/64), ceil(nk/64)] int32 block mask with about
    `density` of its blocks on; block row 1 is all off (its rows see no
    key)."""
    rows, cols = -(-nq // LIST_BLOCK), -(-nk // LIST_BLOCK)
    block = (torch.rand(rows, cols, device=device) < density).int()
    if rows > 1:
        block[1] = 0
    return block


def block_list_inputs(block, nq, nk):
    """The dense mask (causal and the blocks) of the block-list kernel, and
    its per-q-tile lists, built independently of the compiler: a kv-tile is
    full when every (existing row, key) pair of it is allowed (keys past nk
    are not), partial when some are; counts [1, 1, qT, 2] (full, partial),
    indices [1, 1, qT, kT] (full tiles ascending, then partial ones)."""
    device = block.device
    i = torch.arange(nq, device=device)[:, None]
    j = torch.arange(nk, device=device)[None, :]
    mask = (j <= i + (nk - nq)) & \
        block.bool()[i // LIST_BLOCK, j // LIST_BLOCK]
    bq, bk = LIST_TILES
    qt, kt = -(-nq // bq), -(-nk // bk)
    padded = torch.zeros(qt * bq, kt * bk, dtype=torch.bool, device=device)
    padded[:nq, :nk] = mask
    rows = torch.zeros(qt * bq, 1, dtype=torch.bool, device=device)
    rows[:nq] = True
    tiles = (padded & rows).view(qt, bq, kt, bk).any(dim=3).any(dim=1)
    full = (padded | ~rows).view(qt, bq, kt, bk).all(dim=3).all(dim=1)
    partial = tiles & ~full
    counts = torch.stack([full.sum(1), partial.sum(1)], dim=1).int()
    order = torch.where(full, 0, torch.where(partial, 1, 2)) * kt + \
        torch.arange(kt, device=device)[None, :]
    indices = order.argsort(dim=1).int()
    return mask, counts[None, None].contiguous(), \
        indices[None, None].contiguous()


BLOCK = 128  # the block size of the block-sparse bundles


# The block-sparse bundles scripts/prepare-bench.sh builds: (kind, D);
# a kind is block, blockcausal or blockhead, then the block size when it
# is not BLOCK (blockcausal16: 16 x 16 blocks).
BLOCK_SPARSE_BUNDLES = (
    (64, "block"), (64, "blockcausal"), (64, "blockhead"), (128, "block"),
    (128, "blockcausal"), (64, "blockcausal16"), (128, "blockcausal16"),
    (64, "blockcausal32"), (128, "block64"), (64, "blockhead256"))


def block_kind(kind):
    """(base kind, block size) of a block-sparse kind name."""
    match = re.fullmatch(r"(block|blockcausal|blockhead)(\d*)", kind)
    return match.group(1), int(match.group(2) or BLOCK)


def block_sparse_inputs(kind, b, hq, nq, nk, density, device):
    """The block mask of a block-sparse bundle (`block`: shared, no causal;
    `blockcausal`: shared, causal; `blockhead`: per (batch, head), causal;
    each with its block size, block_kind), random with about `density` of
    the blocks on, and its dense mask."""
    kind, size = block_kind(kind)
    rows, cols = -(-nq // size), -(-nk // size)
    shape = (b, hq, rows, cols) if kind == "blockhead" else (rows, cols)
    blocks = torch.rand(shape, device=device) < density
    i = torch.arange(nq, device=device)[:, None]
    j = torch.arange(nk, device=device)[None, :]
    mask = blocks[..., i // size, j // size]
    if kind != "block":
        mask = mask & (j <= i + (nk - nq))
    return blocks, mask


def attention_math(q, k, v, mask, scale, dtype):
    """Masked attention in `dtype` arithmetic (float32: the reference;
    bfloat16: PyTorch's own bf16 computation), one (b, h) slice at a time.
    Returns O (in `dtype`) and LSE (float32); empty rows give 0 and -inf."""
    b, hq, nq, _ = q.shape
    hk = k.shape[1]
    group = hq // hk
    out = torch.empty(b, hq, nq, v.shape[-1], dtype=dtype, device=q.device)
    lse = torch.empty(b, hq, nq, dtype=torch.float32, device=q.device)
    shared_mask = mask
    chunk = 2048
    for bi in range(b):
        for h in range(hq):
            # A [b, hq, nq, nk] mask differs per (batch, head).
            mask = shared_mask[bi, h] if shared_mask.dim() == 4 else shared_mask
            empty = ~mask.any(dim=-1)
            kh = k[bi, h // group].to(dtype)
            vh = v[bi, h // group].to(dtype)
            for r0 in range(0, nq, chunk):
                r1 = min(r0 + chunk, nq)
                s = (q[bi, h, r0:r1].to(dtype) @ kh.T) * scale
                s = s.float().masked_fill(~mask[r0:r1], float("-inf"))
                m = s.amax(dim=-1, keepdim=True)
                m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
                p = torch.exp(s - m)
                l = p.sum(dim=-1, keepdim=True)
                p = (p / l.clamp_min(1e-30)).to(dtype)
                o = (p @ vh).float()
                o[empty[r0:r1]] = 0
                out[bi, h, r0:r1] = o.to(dtype)
                row_lse = (m + torch.log(l)).squeeze(-1)
                row_lse[empty[r0:r1]] = float("-inf")
                lse[bi, h, r0:r1] = row_lse
    return out, lse


def run_attn(bundle, q, k, v, extra=()):
    """Runs a bundle with poisoned outputs; bundles without an LSE output
    return None for it. `extra` are the arguments after O and LSE (e.g. the
    per-row limits of the row-limit predicate)."""
    b, hq, nq, _ = q.shape
    o = torch.full((b, hq, nq, v.shape[-1]), float("nan"), dtype=q.dtype,
                   device=q.device)
    if "lse" not in bundle.argument_names:
        bundle(q, k, v, o)
        torch.cuda.synchronize()
        return o, None
    lse = torch.full((b, hq, nq), float("nan"), dtype=torch.float32,
                     device=q.device)
    bundle(q, k, v, o, lse, *extra)
    torch.cuda.synchronize()
    return o, lse


def check(bundles, d, kind, b, hq, hk, nq, nk, seed):
    torch.manual_seed(seed)
    dev = "cuda"
    q = torch.randn(b, hq, nq, d, device=dev, dtype=torch.bfloat16)
    k = torch.randn(b, hk, nk, d, device=dev, dtype=torch.bfloat16)
    v = torch.randn(b, hk, nk, d, device=dev, dtype=torch.bfloat16)
    scale = 1.0 / math.sqrt(d)
    extra = ()
    if kind == "rowlimit":
        # examples/row_limit.mlir: causal and j < limits[b, h, i], limits
        # drawn around the row length so that some rows are cut, some are
        # whole and some (limit <= 0) are empty.
        limits = torch.randint(-8, nk + 8, (b, hq, nq), device=dev,
                               dtype=torch.int32)
        j = torch.arange(nk, device=dev)
        mask = allowed_mask("causal", nq, nk, dev)[None, None] & \
            (j[None, None, None, :] < limits[..., None])
        extra = (limits,)
    elif kind.startswith("block") and ":" in kind:
        base, density = kind.split(":")
        blocks, mask = block_sparse_inputs(base, b, hq, nq, nk,
                                           float(density), dev)
        extra = (blocks,)
    elif kind == "blocklist":
        block = random_blocks(nq, nk, 0.4, dev)
        mask, counts, indices = block_list_inputs(block, nq, nk)
        extra = (block, counts, indices)
    else:
        mask = allowed_mask(kind, nq, nk, dev)
    ref_o, ref_lse = attention_math(q, k, v, mask, scale, torch.float32)
    bf_o, _ = attention_math(q, k, v, mask, scale, torch.bfloat16)
    o, lse = run_attn(bundles[(kind.split(":")[0], d)], q, k, v, extra)
    empty = (~mask.any(dim=-1)).expand(b, hq, nq)
    problems = []
    has_lse = lse is not None
    if not has_lse:  # no LSE output: nothing to compare
        lse = ref_lse.clone()
    if torch.isnan(o).any() or torch.isnan(lse).any():
        problems.append("NaN or unwritten output")
    err = (o.float() - ref_o.float()).abs().max().item()
    torch_err = (bf_o.float() - ref_o.float()).abs().max().item()
    if not err <= 2 * torch_err + ABS_FLOOR:
        problems.append(f"O error {err:.2e} > 2 x torch {torch_err:.2e} + "
                        f"{ABS_FLOOR}")
    finite = ~empty
    lse_err = (lse[finite] - ref_lse[finite]).abs().max().item() \
        if finite.any() else 0.0
    if not lse_err <= 1e-3:
        problems.append(f"LSE error {lse_err:.2e} > 1e-3")
    if empty.any():
        if not (o[empty] == 0).all():
            problems.append("empty rows: O != 0")
        if not torch.isneginf(lse[empty]).all():
            problems.append("empty rows: LSE != -inf")
    return err, torch_err, lse_err if has_lse else None, int(empty.sum()), \
        problems


def interleaved_times(contenders, input_sets, rounds, warmup=2):
    """Median GPU time of one call of each contender (name -> fn).

    Each round calls every contender once, starting at a rotating position,
    and every call takes the next input set, so no call finds its inputs in
    L2. All rounds are enqueued before the one synchronization: the host runs
    ahead of the GPU, so each event pair brackets the call's kernels only,
    not its launch or Python overhead, and slow drift of the clocks affects
    every contender alike."""
    names = list(contenders)
    calls = 0

    def next_inputs():
        nonlocal calls
        calls += 1
        return input_sets[calls % len(input_sets)]

    for _ in range(warmup):
        for name in names:
            contenders[name](*next_inputs())
    torch.cuda.synchronize()
    events = {name: [] for name in names}
    for r in range(rounds):
        first = r % len(names)
        for name in names[first:] + names[:first]:
            args = next_inputs()
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            contenders[name](*args)
            end.record()
            events[name].append((start, end))
    torch.cuda.synchronize()
    return {name: statistics.median(start.elapsed_time(end) / 1e3
                                    for start, end in pairs)
            for name, pairs in events.items()}


_FLEX = None


def compiled_flex():
    """One torch.compile(flex_attention, dynamic=False) for the whole run,
    with a recompile limit high enough for every (shape, mask) of the
    benchmark:
    past the default limit of 8 dynamo silently falls back to the unfused
    implementation, which would time the wrong thing."""
    global _FLEX
    if _FLEX is None:
        import torch._dynamo
        from torch.nn.attention.flex_attention import flex_attention
        torch._dynamo.config.recompile_limit = 64
        torch._dynamo.config.accumulated_recompile_limit = 256
        # Static shapes: after a recompile dynamo would otherwise mark the
        # sizes dynamic and fall back to slower generic kernels.
        _FLEX = torch.compile(flex_attention, dynamic=False)
    return _FLEX


def pair_count(kind, nq, nk):
    return int(allowed_mask(kind, nq, nk, "cuda").sum().item())


def time_config(bundles, d, kind, n, rounds):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention.flex_attention import create_block_mask
    b, h = max(1, TOKENS // n), HIDDEN // d  # B = 1 past TOKENS
    dev = "cuda"
    bytes_per_set = 4 * b * h * n * d * 2
    sets = max(2, min(8, math.ceil(200e6 / bytes_per_set)))
    input_sets = []
    for _ in range(sets):
        q, k, v = (torch.randn(b, h, n, d, device=dev, dtype=torch.bfloat16)
                   for _ in range(3))
        o = torch.empty_like(q)
        lse = torch.empty(b, h, n, device=dev, dtype=torch.float32)
        input_sets.append((q, k, v, o, lse))
    flops = 4.0 * b * h * d * pair_count(kind, n, n)
    contenders = {}
    results = {}

    def sdpa(backend):
        def fn(q, k, v, o, lse):
            with sdpa_kernel(backend):
                F.scaled_dot_product_attention(q, k, v,
                                               is_causal=(kind == "causal"))
        return fn

    if kind != "window":
        for name, backend in (("flash", SDPBackend.FLASH_ATTENTION),
                              ("cudnn", SDPBackend.CUDNN_ATTENTION)):
            try:
                sdpa(backend)(*input_sets[0])
                contenders[name] = sdpa(backend)
            except RuntimeError as e:
                results[name] = None
                print(f"  {name} unavailable: {str(e)[:80]}")

    def mask_mod(bi, hi, qi, ki):
        delta = qi - ki
        if kind == "causal":
            return delta >= 0
        return (delta >= 0) & (delta < WINDOW)

    flex = compiled_flex()
    block_mask = None if kind == "full" else create_block_mask(
        mask_mod, None, None, n, n, device=dev)
    t0 = time.time()
    flex(*input_sets[0][:3], block_mask=block_mask)
    torch.cuda.synchronize()
    flex_compile = time.time() - t0
    contenders["flex"] = (
        lambda q, k, v, o, lse: flex(q, k, v, block_mask=block_mask))

    for variant, by_config in bundles.items():
        if (kind, d) not in by_config or (variant == "attn_simt" and n > 4096):
            continue  # the CUDA-core cross-check is timed at small sizes only
        contenders[variant] = by_config[(kind, d)]
    results.update(interleaved_times(contenders, input_sets, rounds))
    tflops = {name: (flops / t / 1e12 if t else None)
              for name, t in results.items()}
    return {"d": d, "mask": kind, "n": n, "b": b, "h": h,
            "seconds": results, "tflops": tflops,
            "flex_compile_s": flex_compile}


def time_block_list(bundles, n, rounds, density=0.3):
    """The list-scheduled kernel (D = 64, causal and random 64 x 64 blocks
    at `density`) against the dense causal kernel on the same inputs, and
    against flex_attention with the same block mask. TFLOP/s count the
    allowed pairs of each contender's own mask."""
    from torch.nn.attention.flex_attention import create_block_mask
    d = 64
    b, h = max(1, TOKENS // n), HIDDEN // d  # B = 1 past TOKENS
    dev = "cuda"
    block = random_blocks(n, n, density, dev)
    mask, counts, indices = block_list_inputs(block, n, n)
    bytes_per_set = 4 * b * h * n * d * 2
    sets = max(2, min(8, math.ceil(200e6 / bytes_per_set)))
    input_sets = []
    for _ in range(sets):
        q, k, v = (torch.randn(b, h, n, d, device=dev, dtype=torch.bfloat16)
                   for _ in range(3))
        input_sets.append((q, k, v, torch.empty_like(q),
                           torch.empty(b, h, n, device=dev,
                                       dtype=torch.float32)))
    list_bundle = bundles["attn"][("blocklist", 64)]
    causal_bundle = bundles["attn"][("causal", 64)]
    blocks = block.bool()

    def mask_mod(bi, hi, qi, ki):
        return (qi >= ki) & blocks[qi // LIST_BLOCK, ki // LIST_BLOCK]

    flex = compiled_flex()
    block_mask = create_block_mask(mask_mod, None, None, n, n, device=dev)
    flex(*input_sets[0][:3], block_mask=block_mask)
    contenders = {
        "attn_list": lambda q, k, v, o, lse: list_bundle(
            q, k, v, o, lse, block, counts, indices),
        "attn_causal": causal_bundle,
        "flex_list": lambda q, k, v, o, lse: flex(q, k, v,
                                                  block_mask=block_mask),
    }
    seconds = interleaved_times(contenders, input_sets, rounds)
    pairs = {"attn_list": int(mask.sum()), "flex_list": int(mask.sum()),
             "attn_causal": pair_count("causal", n, n)}
    tflops = {name: 4.0 * b * h * d * pairs[name] / t / 1e12
              for name, t in seconds.items()}
    return {"d": d, "mask": f"blocklist{density}", "n": n, "b": b, "h": h,
            "pair_fraction": int(mask.sum()) / pair_count("causal", n, n),
            "seconds": seconds, "tflops": tflops}


def flex_block_mask(blocks, n, device):
    """flex_attention's BlockMask of causal and `blocks` (128 x 128, flex's
    own block size): blocks below the diagonal are full, diagonal blocks
    partial (the causal mask_mod applies), the rest absent."""
    from torch.nn.attention.flex_attention import BlockMask
    rows = blocks.shape[0]
    x = torch.arange(rows, device=device)[:, None]
    y = torch.arange(rows, device=device)[None, :]
    full = blocks & (y < x)
    partial = blocks & (y == x)

    def lists(flags):
        counts = flags.sum(dim=1).int()[None, None].contiguous()
        order = torch.argsort((~flags).int(), dim=1, stable=True)
        return counts, order.int()[None, None].contiguous()

    def causal(bi, hi, qi, ki):
        return qi >= ki

    kv_num, kv_idx = lists(partial)
    full_num, full_idx = lists(full)
    return BlockMask.from_kv_blocks(kv_num, kv_idx, full_num, full_idx,
                                    BLOCK_SIZE=BLOCK, mask_mod=causal,
                                    seq_lengths=(n, n))


def kernel_times(fn, args, calls=10):
    """GPU time per call of each kernel `fn` launches (name -> seconds),
    from the profiler's CUDA activity."""
    from torch.profiler import ProfilerActivity, profile
    fn(*args)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn(*args)
        torch.cuda.synchronize()
    times = {}
    for event in prof.key_averages():
        if event.device_type.name == "CUDA" or "kernel" in event.key:
            total = getattr(event, "device_time_total", None)
            if total is None:
                total = event.cuda_time_total
            if total:
                times[event.key] = total / 1e6 / calls
    return times


def time_block_sparse(bundles, d, n, density, rounds, blocks=None,
                      label=None):
    """The block-sparse bundle (causal and random 128 x 128 blocks at
    `density`, or the given `blocks`) against flex_attention with the same
    BlockMask, our dense causal kernel and cuDNN's dense causal kernel, on
    the same inputs. TFLOP/s count each one's allowed pairs; `per_tile`
    compares the time per visited kv-tile with the dense kernel's."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    b, h = max(1, TOKENS // n), HIDDEN // d  # B = 1 past TOKENS
    dev = "cuda"
    if blocks is None:
        blocks, mask = block_sparse_inputs("blockcausal", b, h, n, n,
                                           density, dev)
    else:
        i = torch.arange(n, device=dev)[:, None]
        j = torch.arange(n, device=dev)[None, :]
        mask = blocks[i // BLOCK, j // BLOCK] & (j <= i)
    bytes_per_set = 4 * b * h * n * d * 2
    sets = max(2, min(8, math.ceil(200e6 / bytes_per_set)))
    input_sets = []
    for _ in range(sets):
        q, k, v = (torch.randn(b, h, n, d, device=dev, dtype=torch.bfloat16)
                   for _ in range(3))
        input_sets.append((q, k, v, torch.empty_like(q),
                           torch.empty(b, h, n, device=dev,
                                       dtype=torch.float32)))
    sparse = bundles["attn"][("blockcausal", d)]
    dense = bundles["attn"][("causal", d)]
    flex = compiled_flex()
    block_mask = flex_block_mask(blocks, n, dev)
    flex(*input_sets[0][:3], block_mask=block_mask)

    def cudnn(q, k, v, o, lse):
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            F.scaled_dot_product_attention(q, k, v, is_causal=True)

    contenders = {
        "attn_sparse": lambda q, k, v, o, lse: sparse(q, k, v, o, lse,
                                                      blocks),
        "flex_sparse": lambda q, k, v, o, lse: flex(q, k, v,
                                                    block_mask=block_mask),
        "attn_dense": dense,
        "cudnn_dense": cudnn,
    }
    seconds = interleaved_times(contenders, input_sets, rounds)
    sparse_pairs = int(mask.sum())
    dense_pairs = pair_count("causal", n, n)
    pairs = {"attn_sparse": sparse_pairs, "flex_sparse": sparse_pairs,
             "attn_dense": dense_pairs, "cudnn_dense": dense_pairs}
    tflops = {name: 4.0 * b * h * d * pairs[name] / t / 1e12
              for name, t in seconds.items()}
    # Visited kv-tiles (128 x 64) of the sparse and dense kernels.
    rows = -(-n // 128)
    on = blocks & (torch.arange(rows, device=dev)[None, :] <=
                   torch.arange(rows, device=dev)[:, None])
    sparse_tiles = int(on.sum()) * 2 - int(torch.diagonal(on).sum())
    dense_tiles = rows * (rows + 1) - rows
    kernels = kernel_times(contenders["attn_sparse"], input_sets[0])
    lists = sum(t for name, t in kernels.items()
                if name.endswith("_kernel"))
    return {"d": d, "mask": label or f"blocksparse{density}", "n": n,
            "b": b, "h": h,
            "pair_fraction": sparse_pairs / dense_pairs,
            "seconds": seconds, "tflops": tflops,
            "per_tile_vs_dense": (seconds["attn_sparse"] / sparse_tiles) /
            (seconds["attn_dense"] / dense_tiles) if sparse_tiles else None,
            "list_kernel_s": lists, "kernels": kernels}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundles", default=str(ROOT / "bench" / "bundles"))
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--sizes", default="1024,4096,16384")
    parser.add_argument("--reps", type=int, default=20,
                        help="timing rounds (every contender once each)")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--timing",
                        default="causal,full,window,blocksparse,blocklist,scfa,"
                                "spion",
                        help="the masks to time (blocklist: the list "
                             "schedule against dense causal and flex; nm; "
                             "linear: bench/linear_bench.py)")
    parser.add_argument("--scfa-sizes", default="4096,8192,16384,32768",
                        help="sequence lengths of the hash/drop timings")
    parser.add_argument("--scfa-flex-max-n", type=int,
                        default=scfa_bench.FLEX_MAX_N,
                        help="the longest N at which hash/drop time flex "
                             "(its block-mask build takes minutes at 16384)")
    parser.add_argument("--nm-sizes", default="4096,16384",
                        help="sequence lengths of the N:M timings")
    parser.add_argument("--skip-checks", action="store_true")
    parser.add_argument("--checks", default="dense,spion,scfa",
                        help="the check groups to run (dense: the mask "
                             "matrix and block-sparse bundles; spion; "
                             "scfa: hash and drop; nm; linear)")
    linear_bench.add_device_run_arguments(parser)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # Variants: "attn" (the default bundles), "attn_simt" (CUDA cores) and
    # any tuning variant scripts/prepare-bench.sh built (<mask>_d<D>_<name>).
    bundles = {"attn": {}, "attn_simt": {}}
    pattern = re.compile(r"^(full|causal|window1024)_d(64|128)(?:_(\w+))?$")
    for path in sorted(pathlib.Path(args.bundles).iterdir()):
        match = pattern.match(path.name)
        if not match:
            continue
        name, d, suffix = match.groups()
        variant = "attn" if suffix is None else f"attn_{suffix}"
        kind = "window" if name == "window1024" else name
        bundles.setdefault(variant, {})[(kind, int(d))] = Bundle(str(path))
    variants = list(bundles)
    bundles["attn"][("prefixlm", 64)] = Bundle(str(
        pathlib.Path(args.bundles) / "prefixlm_d64"))
    bundles["attn"][("rowlimit", 64)] = Bundle(str(
        pathlib.Path(args.bundles) / "rowlimit_d64"))
    bundles["attn"][("blocklist", 64)] = Bundle(str(
        pathlib.Path(args.bundles) / "blocklist_d64"))
    for d, kind in BLOCK_SPARSE_BUNDLES:
        bundles["attn"][(kind, d)] = Bundle(str(
            pathlib.Path(args.bundles) / f"{kind}_d{d}"))

    info = {
        "date": datetime.date.today().isoformat(),
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
    }
    print(json.dumps(info))

    # Correctness matrix.
    seed0 = int.from_bytes(os.urandom(4), "little")
    checks, failures = [], 0
    configs = []
    for d in (64, 128):
        for kind in ("full", "causal", "window"):
            for n in (1000, 1024, 4096, 16384):
                b = max(1, TOKENS // n) if n < 16384 else 1
                h = HIDDEN // d
                if n >= 4096:
                    b, h = 1, min(h, 4)   # keep the f32 reference cheap
                configs.append((d, kind, b, h, h, n, n))
            configs.append((d, kind, 2, 8, 2, 1000, 1500))   # GQA, Nq < Nk
            configs.append((d, kind, 1, 4, 4, 1500, 1000))   # Nq > Nk
            configs.append((d, kind, 1, 2, 1, 77, 77))       # odd, GQA 2:1
    # A user predicate (examples/custom.mlir, D = 64, no LSE output).
    for b, hq, hk, nq, nk in ((2, 8, 2, 1000, 1000), (1, 4, 4, 300, 300),
                              (1, 2, 1, 4096, 4096)):
        configs.append((64, "prefixlm", b, hq, hk, nq, nk))
    # A predicate that reads a per-row value from memory
    # (examples/row_limit.mlir, D = 64, with LSE), GQA and odd sizes.
    for b, hq, hk, nq, nk in ((2, 8, 2, 1000, 1000), (1, 4, 4, 77, 77),
                              (1, 2, 1, 4096, 4096)):
        configs.append((64, "rowlimit", b, hq, hk, nq, nk))
    # The list schedule (bench/kernels/block_list_l2.mlir: causal and 64 x 64
    # blocks, lists built here), GQA, odd sizes, Nq != Nk.
    for b, hq, hk, nq, nk in ((2, 8, 2, 1000, 1000), (1, 4, 4, 77, 77),
                              (1, 2, 1, 4096, 4096), (1, 4, 2, 1000, 1500),
                              (1, 2, 2, 1500, 1000)):
        configs.append((64, "blocklist", b, hq, hk, nq, nk))
    # Block-sparse bundles (lists built by the bundle's first kernel; block
    # sizes 16 to 256, N = 1000 and 1500 not multiples of any) at densities
    # 0 (every row empty), 0.1, 0.5 and 1.
    for d, kind in BLOCK_SPARSE_BUNDLES:
        for density in (0.0, 0.1, 0.5, 1.0):
            for b, hq, hk, nq, nk in ((2, 8, 2, 1000, 1000),
                                      (1, 4, 4, 77, 77),
                                      (1, 2, 1, 4096, 4096),
                                      (1, 4, 2, 1000, 1500),
                                      (1, 2, 2, 1500, 1000)):
                configs.append((d, f"{kind}:{density}", b, hq, hk, nq, nk))
    groups = set(args.checks.split(","))
    if args.skip_checks:
        groups = set()
    if "dense" not in groups:
        configs = []
    for index, (variant, (d, kind, b, hq, hk, nq, nk)) in enumerate(
            (v, c) for v in variants for c in configs
            if (c[1].split(":")[0], c[0]) in bundles[v]):
        seed = seed0 + index
        err, torch_err, lse_err, empty, problems = check(
            bundles[variant], d, kind, b, hq, hk, nq, nk, seed)
        status = "ok" if not problems else "FAIL: " + "; ".join(problems)
        failures += bool(problems)
        line = (f"check {variant:9} d={d:3} {kind:6} B={b:2} Hq={hq:2} "
                f"Hk={hk:2} "
                f"Nq={nq:5} Nk={nk:5} err={err:.2e} torch_err={torch_err:.2e}"
                f" lse_err={'-' if lse_err is None else f'{lse_err:.2e}'}"
                f" empty_rows={empty} seed={seed} "
                f"{status}")
        print(line, flush=True)
        checks.append(line)
    spion = {name: Bundle(str(pathlib.Path(args.bundles) / name))
             for name in spion_bench.SPION_BUNDLES}
    if "spion" in groups:
        spion_lines, spion_failures = spion_bench.check_flood_fill(spion,
                                                                   seed0)
        checks += spion_lines
        failures += spion_failures
        spion_lines, spion_failures = spion_bench.check_spion_example(
            Bundle(str(pathlib.Path(args.bundles) / "spion_example")), seed0)
        checks += spion_lines
        failures += spion_failures
    scfa = {path.name: Bundle(str(path))
            for path in sorted(pathlib.Path(args.bundles).iterdir())
            if re.match(r"^(hash\w*|drop\w*|lsh_example)$", path.name)}
    if "scfa" in groups:
        for check_fn in (scfa_bench.check_token_orders,
                         scfa_bench.check_examples,
                         scfa_bench.check_bad_bucket_ids):
            scfa_lines, scfa_failures = check_fn(scfa, seed0)
            checks += scfa_lines
            failures += scfa_failures
    nm = {path.name: Bundle(str(path))
          for path in sorted(pathlib.Path(args.bundles).iterdir())
          if re.match(r"^nm\d+_\d+_[a-z]+_d\d+$", path.name)}
    if "nm" in groups:
        nm_lines, nm_failures = nm_bench.check_nm(nm, seed0)
        for line in nm_lines:
            print("check " + line, flush=True)
        checks += nm_lines
        failures += len(nm_failures)
    linear_results = []
    linear = {}
    if "linear" in groups or (not args.skip_timing and
                              "linear" in args.timing.split(",")):
        linear = linear_bench.load_bundles(args.bundles)
    if "linear" in groups:
        linear_results = linear_bench.check_linear(
            linear, seed0, long_n=args.linear_long_check_n)
        linear_lines, linear_failures = linear_bench.counted(linear_results)
        checks += linear_lines
        failures += linear_failures
    print(f"correctness: {len(checks) - failures} passed, {failures} failed")

    timings = []
    timed = set(args.timing.split(","))
    if not args.skip_timing:
        for n in [int(x) for x in args.sizes.split(",")]:
            for d in (64, 128):
                for kind in ("causal", "full", "window"):
                    if kind not in timed:
                        continue
                    row = time_config(bundles, d, kind, n, args.reps)
                    timings.append(row)
                    print(json.dumps(row), flush=True)
        for n in [int(x) for x in args.sizes.split(",")]:
            for d in (64, 128):
                for density in (0.05, 0.1, 0.25, 0.5):
                    if "blocksparse" not in timed:
                        continue
                    row = time_block_sparse(bundles, d, n, density, args.reps)
                    timings.append(row)
                    print(json.dumps(row), flush=True)
        for n in [int(x) for x in args.sizes.split(",")]:
            if "blocklist" not in timed:
                continue
            row = time_block_list(bundles, n, args.reps)
            timings.append(row)
            print(json.dumps(row), flush=True)

    if not args.skip_timing and "spion" in timed:
        row = spion_bench.time_flood_fill(spion, args.reps)
        print(json.dumps(row), flush=True)
        for key in row["ratio_to_read"]:
            spion_timing = (
                f"{key} from a stored {row['n']}² f32 map: "
                f"{row['seconds'][key] * 1e3:.3f} ms, "
                f"{row['ratio_to_read'][key]:.2f}x the time to read the "
                f"map once ({row['read_bandwidth_gbs']:.0f} GB/s); "
                f"kernels: " + ", ".join(
                    f"{k} {v * 1e6:.1f} us"
                    for k, v in row["kernels"][key].items()))
            checks.append(spion_timing)
        for n in [int(x) for x in args.sizes.split(",")]:
            for d in (64, 128):
                row = spion_bench.time_spion_attention(bundles, spion, d, n,
                                                       args.reps)
                timings.append(row)
                print(json.dumps(row), flush=True)

    scfa_rows = []
    if not args.skip_timing and "scfa" in timed:
        peers = scfa_bench.load_peers()
        scfa_bench.FLEX_MAX_N = args.scfa_flex_max_n
        for n in [int(x) for x in args.scfa_sizes.split(",")]:
            for d in (64, 128):
                scfa_rows += scfa_bench.time_token_orders(
                    scfa, bundles["attn"][("causal", d)], n, d, args.reps,
                    peers)
        # The paper's table: B = 4, H = 48, D = 64.
        scfa_rows += scfa_bench.time_token_orders(
            scfa, bundles["attn"][("causal", 64)], 8192, 64, args.reps,
            peers, b=4, h=48)

    linear_rows = []
    if not args.skip_timing and "linear" in timed:
        linear_rows = linear_bench.time_linear(
            linear, linear_bench.sizes(args.linear_sizes), args.reps,
            long_sizes=linear_bench.sizes(args.linear_long_sizes))

    nm_rows = []
    if not args.skip_timing and "nm" in timed:
        dfss = nm_bench.load_dfss()
        for n in [int(x) for x in args.nm_sizes.split(",")]:
            for d in (64, 128):
                dense = {base: bundles["attn"][(base, d)]
                         for base in ("full", "causal")}
                nm_rows += nm_bench.time_nm(nm, dense, n, d, args.reps, dfss)

    report = format_report(info, checks, failures, timings)
    if scfa_rows:
        report += scfa_bench.format_rows(scfa_rows)
    if linear_results:
        report += linear_bench.format_checks(linear_results,
                                             peers_only=True)
    if linear_rows:
        report += linear_bench.format_rows(linear_rows)
    if nm_rows:
        report += nm_bench.format_rows(nm_rows)
    (out / "bench.md").write_text(report)
    (out / "bench.json").write_text(json.dumps(
        {"info": info, "checks": checks, "timings": timings,
         "scfa": scfa_rows, "nm": nm_rows, "linear_checks": linear_results,
         "linear": linear_rows}, indent=1))
    print(report)
    return 1 if failures else 0


def format_report(info, checks, failures, timings):
    lines = [f"# attn GPU check and benchmark, {info['date']}", "",
             f"GPU: {info['gpu']}; torch {info['torch']} (CUDA "
             f"{info['cuda']}); bf16; B = {TOKENS}/N, H = {HIDDEN}/D.", "",
             f"Correctness: {len(checks) - failures} of {len(checks)} "
             "configurations pass.", "",
             "| N | D | mask | attn TFLOP/s | attn (CUDA cores) | flash | "
             "cuDNN | flex | attn/flash | attn/cuDNN | attn/flex |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]

    def fmt(x):
        return "-" if x is None else f"{x:.1f}"

    def ratio(a, b):
        return "-" if not a or not b else f"{a / b:.3f}"

    list_rows = [row for row in timings
                 if row["mask"].startswith("blocklist")]
    sparse_rows = [row for row in timings
                   if row["mask"].startswith(("blocksparse", "spion_cf"))]
    timings = [row for row in timings
               if row not in list_rows and row not in sparse_rows]
    for row in timings:
        t = row["tflops"]
        lines.append(
            f"| {row['n']} | {row['d']} | {row['mask']} | {fmt(t.get('attn'))}"
            f" | {fmt(t.get('attn_simt'))} | {fmt(t.get('flash'))} | {fmt(t.get('cudnn'))} | "
            f"{fmt(t.get('flex'))} | {ratio(t.get('attn'), t.get('flash'))} | "
            f"{ratio(t.get('attn'), t.get('cudnn'))} | "
            f"{ratio(t.get('attn'), t.get('flex'))} |")
    tuning = sorted({name for row in timings for name in row["tflops"]
                     if name.startswith("attn_") and name != "attn_simt"})
    if tuning:
        lines += ["", "Tuning variants (TFLOP/s, and / flash):", "",
                  "| N | D | mask | attn | " + " | ".join(tuning) + " |",
                  "|---|---|---|---|" + "---|" * len(tuning)]
        for row in timings:
            t = row["tflops"]
            cells = [f"{fmt(t.get(v))} ({ratio(t.get(v), t.get('flash'))})"
                     for v in ["attn"] + tuning]
            lines.append(f"| {row['n']} | {row['d']} | {row['mask']} | "
                         + " | ".join(cells) + " |")
    if sparse_rows:
        lines += ["", "Block-sparse (causal and 128 x 128 blocks: random at "
                  "the density shown, or spion_cf: the SPION-CF mask our "
                  "bundle derives from a synthetic banded + global map; "
                  "TFLOP/s on each one's allowed pairs; per tile = time per "
                  "visited kv-tile / the dense kernel's; lists = the list "
                  "kernel's share of the sparse call):", "",
                  "| N | D | blocks on | pairs / causal | attn sparse | "
                  "flex sparse | attn dense | cuDNN dense | sparse / flex | "
                  "per tile | lists |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for row in sparse_rows:
            t, sec = row["tflops"], row["seconds"]
            per_tile = row["per_tile_vs_dense"]
            lines.append(
                f"| {row['n']} | {row['d']} | "
                f"{row['mask'].removeprefix('blocksparse')} | "
                f"{row['pair_fraction']:.3f} | {fmt(t['attn_sparse'])} | "
                f"{fmt(t['flex_sparse'])} | {fmt(t['attn_dense'])} | "
                f"{fmt(t['cudnn_dense'])} | "
                f"{ratio(sec['flex_sparse'], sec['attn_sparse'])} | "
                f"{'-' if per_tile is None else f'{per_tile:.3f}'} | "
                f"{row['list_kernel_s'] / sec['attn_sparse']:.3%} |")
    if list_rows:
        lines += ["", "List schedule (D = 64, causal and random 64 x 64 "
                  "blocks; TFLOP/s on each one's allowed pairs; time ratio "
                  "= list time / causal time):", "",
                  "| N | blocks on | pairs / causal pairs | attn list | "
                  "attn causal | flex list | time ratio | attn list / flex |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in list_rows:
            t, sec = row["tflops"], row["seconds"]
            lines.append(
                f"| {row['n']} | {row['mask'][len('blocklist'):]} | "
                f"{row['pair_fraction']:.3f} | {fmt(t['attn_list'])} | "
                f"{fmt(t['attn_causal'])} | {fmt(t['flex_list'])} | "
                f"{ratio(sec['attn_list'], sec['attn_causal'])} | "
                f"{ratio(t['attn_list'], t['flex_list'])} |")
    lines.append("")
    lines.append("Checks:")
    lines.extend(f"    {c}" for c in checks)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
