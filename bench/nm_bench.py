"""N:M pruned attention (DFSS semantics, SEMANTICS.md "N:M") on the GPU:
correctness checks of the bundles scripts/prepare-bench.sh builds
(nm<n>_<m>_<base>_d<D>) and timings of 2:4 and 1:2 against our dense
kernel with the same base mask, SDPA flash and cuDNN (dense, same base)
and, when carried along and built (bench/peers/dfss), the DFSS paper's
kernels (2:4 over no base: its pruning GEMM, torch.softmax, its sparse
tensor-core SpMM).

The selection depends on near-ties, so the checks are of two kinds:
  - unambiguous inputs: dimension 0 of K holds a level in [0, m),
    a permutation inside each group, and dimension 0 of Q is +-2; the other
    dimensions are at most 0.05, so two keys of a group differ in score by
    more than 1.6 (before the scale): the kept set does not depend on
    rounding, and O, LSE are held to FlashAttention's criterion against
    float32 attention with the reference's kept mask (max |O - ref| <= 2 x
    PyTorch bf16's own error + 1e-4, LSE within 1e-3, no NaN, every output
    written). Some groups copy a key onto its neighbour: exact ties, which
    go to the lower key;
  - random inputs with V = the identity (Nk = D): O[i, j] is the
    probability of key j, so the kernel's kept set is {j : O[i, j] > 0};
    every group must keep exactly min(n, allowed) allowed keys and no
    pruned allowed key may beat a kept one by more than 2e-3 (bf16
    inputs, f32 mma accumulation, against float64 scores)."""

import json
import math

import torch

import bench_attention as ba  # attribute access at call time
from scfa_bench import compare, poisoned  # the same criterion and poison

PATTERNS = ((2, 4), (1, 2))


def base_mask(base, nq, nk, device="cuda"):
    i = torch.arange(nq, device=device)[:, None]
    j = torch.arange(nk, device=device)[None, :]
    if base == "causal":
        return j <= i + (nk - nq)
    if base == "window":
        delta = j - (i + (nk - nq))
        return (delta <= 0) & (delta > -256)
    return torch.ones(nq, nk, dtype=torch.bool, device=device)


def scores64(q, k):
    hq, hk = q.shape[1], k.shape[1]
    kq = k.repeat_interleave(hq // hk, dim=1)
    return (q.double() @ kq.double().transpose(-1, -2)) / math.sqrt(q.shape[-1])


def kept_mask(q, k, keep, group, base):
    """[B, Hq, Nq, Nk] pairs the N:M rule keeps over `base`, from float64
    scores of the inputs: in each group of `group` keys, the `keep` allowed
    keys with the largest scores (ties to the lower key)."""
    b, hq, nq, _ = q.shape
    nk = k.shape[2]
    allowed = base_mask(base, nq, nk).expand(b, hq, nq, nk)
    s = scores64(q, k).masked_fill(~allowed, float("-inf"))
    pad = (-nk) % group
    s = torch.nn.functional.pad(s, (0, pad), value=float("-inf"))
    g = s.view(b, hq, nq, -1, group)
    x = g.unsqueeze(-1)   # element i
    y = g.unsqueeze(-2)   # element j
    idx = torch.arange(group, device=q.device)
    lower = (idx[None, :] < idx[:, None])  # [i, j]: j < i
    beats = (y > x) | ((y == x) & lower)
    rank = beats.sum(-1)
    kept = (rank < keep).view(b, hq, nq, -1)[..., :nk]
    return kept & allowed


def unambiguous_qkv(b, hq, hk, nq, nk, d, group, seed):
    gen = torch.Generator(device="cuda").manual_seed(seed)
    q = (torch.rand(b, hq, nq, d, device="cuda", generator=gen) - 0.5) * 0.1
    k = (torch.rand(b, hk, nk, d, device="cuda", generator=gen) - 0.5) * 0.1
    v = torch.rand(b, hk, nk, d, device="cuda", generator=gen) * 2 - 1
    q[..., 0] = torch.where(
        torch.rand(b, hq, nq, device="cuda", generator=gen) < 0.5, 2.0, -2.0)
    groups = (nk + group - 1) // group
    levels = torch.argsort(
        torch.rand(b, hk, groups, group, device="cuda", generator=gen), -1)
    k[..., 0] = levels.view(b, hk, -1)[..., :nk].float()
    tie = torch.rand(b, hk, groups, device="cuda", generator=gen) < 0.25
    for g0 in range(0, nk - 1, group):
        copy = tie[:, :, g0 // group]
        k[:, :, g0 + 1] = torch.where(copy[..., None], k[:, :, g0],
                                      k[:, :, g0 + 1])
    return (q.to(torch.bfloat16), k.to(torch.bfloat16), v.to(torch.bfloat16))


def check_nm(bundles, seed):
    lines, failures = [], []
    shapes = [(1, 4, 4, 1000, 1000), (2, 4, 2, 257, 333), (1, 2, 1, 130, 64)]
    for name, bundle in sorted(bundles.items()):
        keep, group, base, d = parse_name(name)
        for b, hq, hk, nq, nk in shapes:
            seed += 1
            q, k, v = unambiguous_qkv(b, hq, hk, nq, nk, d, group, seed)
            mask = kept_mask(q, k, keep, group, base)
            o, lse = poisoned(q, v)
            bundle(q, k, v, o, lse)
            torch.cuda.synchronize()
            err, torch_err, empty, problems = compare(o, lse, q, k, v, mask)
            line = (f"{name} B={b} Hq={hq} Hk={hk} Nq={nq} Nk={nk}: err "
                    f"{err:.2e} (torch bf16 {torch_err:.2e}), {empty} empty "
                    f"rows")
            lines.append(line + (": " + "; ".join(problems) if problems
                                 else ": ok"))
            if problems:
                failures.append(line)
        # Random inputs, V = identity: the kept set is a valid top-n.
        seed += 1
        gen = torch.Generator(device="cuda").manual_seed(seed)
        nq, nk = 100, d
        q = torch.randn(1, 2, nq, d, device="cuda", generator=gen).bfloat16()
        k = torch.randn(1, 2, nk, d, device="cuda", generator=gen).bfloat16()
        v = torch.eye(nk, d, device="cuda").bfloat16().expand(1, 2, nk, d)
        v = v.contiguous()
        o, lse = poisoned(q, v)
        bundle(q, k, v, o, lse)
        torch.cuda.synchronize()
        problems = kept_set_problems(o, q, k, keep, group, base)
        line = f"{name} random inputs, V = I (Nq={nq}, Nk={nk}): kept set"
        lines.append(line + (": " + "; ".join(problems) if problems
                             else ": valid top-n"))
        if problems:
            failures.append(line)
    return lines, failures


def kept_set_problems(o, q, k, keep, group, base):
    problems = []
    if torch.isnan(o).any():
        return ["NaN or unwritten output"]
    nq, nk = q.shape[2], k.shape[2]
    s = scores64(q, k)
    allowed = base_mask(base, nq, nk).expand_as(s)
    kept = (o.float()[..., :nk] > 0)
    if (kept & ~allowed).any():
        problems.append("a disallowed key has a probability")
    pad = (-nk) % group
    def grouped(x, fill):
        return torch.nn.functional.pad(x, (0, pad), value=fill).view(
            *x.shape[:-1], -1, group)
    kg, ag = grouped(kept, False), grouped(allowed, False)
    sg = grouped(s, float("nan"))
    want = torch.clamp(ag.sum(-1), max=keep)
    if not torch.equal(kg.sum(-1), want):
        bad = int((kg.sum(-1) != want).sum())
        problems.append(f"{bad} groups keep the wrong number of keys")
    inf = float("inf")
    lowest_kept = torch.where(kg, sg, torch.full_like(sg, inf)).amin(-1)
    pruned = ag & ~kg
    highest_pruned = torch.where(pruned, sg, torch.full_like(sg, -inf)).amax(-1)
    worst = (highest_pruned - lowest_kept).max().item()
    if worst > 2e-3:
        problems.append(f"a pruned key beats a kept one by {worst:.2e}")
    return problems


def parse_name(name):
    """nm<n>_<m>_<base>_d<D> -> (n, m, base, D)."""
    head, m, base, d = name.split("_")
    return int(head[2:]), int(m), base, int(d[1:])


def load_dfss():
    try:
        import sys
        sys.path.insert(0, str(ba.ROOT / "bench" / "peers" / "dfss"))
        from dfss_attention import dfss_attention
        return dfss_attention
    except Exception as error:  # not carried or not built
        print(f"DFSS peer not available: {error}", flush=True)
        return None


def time_nm(bundles, dense, n, d, rounds, dfss):
    """One (N, D): 2:4 and 1:2 over full and causal, against our dense
    kernel with the same base, SDPA flash and cuDNN with the same base,
    and DFSS's 2:4 pipeline (full base only: it has no causal mode)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    b = max(1, ba.TOKENS // n)
    h = ba.HIDDEN // d
    q, k, v = [torch.randn(b, h, n, d, device="cuda", dtype=torch.bfloat16)
               for _ in range(3)]
    o = torch.empty_like(q)
    lse = torch.empty(b, h, n, device="cuda")
    rows = []
    for base in ("full", "causal"):
        causal = base == "causal"

        def sdpa(backend):
            def call():
                with sdpa_kernel(backend):
                    torch.nn.functional.scaled_dot_product_attention(
                        q, k, v, is_causal=causal)
            return call

        contenders = {
            "attn_dense": lambda: dense[base](q, k, v, o, lse),
            "flash": sdpa(SDPBackend.FLASH_ATTENTION),
            "cudnn": sdpa(SDPBackend.CUDNN_ATTENTION),
        }
        for keep, group in PATTERNS:
            bundle = bundles[f"nm{keep}_{group}_{base}_d{d}"]
            contenders[f"nm{keep}_{group}"] = \
                lambda bundle=bundle: bundle(q, k, v, o, lse)
        # DFSS's kernels index the [BH, N, N / 2] scores with 32-bit
        # offsets: at B H N N / 2 >= 2^31 (N = 16384 here) they read out of
        # bounds (an illegal address on an H200, 2026-12-01), which ends
        # the CUDA context; they are timed below that.
        if dfss is not None and not causal and b * h * n * n // 2 < 2**31:
            contenders["dfss2_4"] = lambda: dfss(q, k, v, "2:4")
        # A contender that fails once (e.g. cuDNN out of workspace next to
        # DFSS's N x N/2 score buffers) is reported and left out.
        for name in list(contenders):
            try:
                contenders[name]()
                torch.cuda.synchronize()
            except Exception as error:
                print(f"{name} failed at N={n}, d={d}, {base}: {error}",
                      flush=True)
                del contenders[name]
                torch.cuda.empty_cache()
        seconds = ba.interleaved_times(
            {name: (lambda fn=fn: fn()) for name, fn in contenders.items()},
            [()], rounds)
        for keep, group in PATTERNS:
            ours = seconds[f"nm{keep}_{group}"]
            row = {"pattern": f"{keep}:{group}", "base": base, "n": n, "d": d,
                   "b": b, "h": h, "seconds": ours,
                   "speedup_vs": {name: seconds[name] / ours
                                  for name in seconds
                                  if not name.startswith("nm")}}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def format_rows(rows):
    lines = ["", "## N:M (DFSS semantics): time ratios (peer time / ours; "
             "> 1: ours faster)", "",
             "| pattern | base | N | d | ours ms | vs our dense | vs flash | "
             "vs cuDNN | vs DFSS |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["speedup_vs"]
        def ratio(name):
            return f"{s[name]:.2f}" if name in s else "-"
        lines.append(f"| {r['pattern']} | {r['base']} | {r['n']} | {r['d']} | "
                     f"{r['seconds'] * 1e3:.3f} | {ratio('attn_dense')} | "
                     f"{ratio('flash')} | {ratio('cudnn')} | "
                     f"{ratio('dfss2_4')} |")
    return "\n".join(lines) + "\n"
