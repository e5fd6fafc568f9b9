"""Hash buckets and dropped keys/queries (Sparse Causal Flash Attention) on
the GPU: correctness checks of the bundles scripts/prepare-bench.sh builds
(hash<nb>_d<D>, hashfull8_d64, drop_d<D>, lsh_example, drop_example) and
their timings against our dense causal kernel, SDPA cuDNN causal,
FlexAttention with the equivalent mask_mod and, when carried along
(bench/peers/scfa), the paper's own Triton kernels.

Every check poisons O and LSE with NaN and compares against float32
attention with the dense mask of SEMANTICS.md ("Hash buckets", "Dropped
keys and queries"), under the criterion bench_attention.check uses:
max |O - ref| <= 2 x (PyTorch bf16's own error) + 1e-4, LSE within 1e-3,
rows without keys O = 0 and LSE = -inf, no NaN."""

import math
import time

import torch

import bench_attention as ba  # attribute access at call time: it imports us

HASH_BUCKETS = (2, 4, 8, 16, 32, 64)


def hash_mask(qb, kb, causal=True):
    """[B, Hq, Nq, Nk] allowed pairs: equal buckets (GQA: kv head h / g)
    and, when causal, j <= i + Nk - Nq."""
    b, hq, nq = qb.shape
    hk, nk = kb.shape[1], kb.shape[2]
    kbq = kb.repeat_interleave(hq // hk, dim=1)
    mask = qb[..., :, None] == kbq[..., None, :]
    if causal:
        i = torch.arange(nq, device=qb.device)[:, None]
        j = torch.arange(nk, device=qb.device)[None, :]
        mask = mask & (j <= i + (nk - nq))
    return mask


def drop_mask(kq, kk):
    b, hq, nq = kq.shape
    hk, nk = kk.shape[1], kk.shape[2]
    kkq = kk.repeat_interleave(hq // hk, dim=1)
    i = torch.arange(nq, device=kq.device)[:, None]
    j = torch.arange(nk, device=kq.device)[None, :]
    return kq[..., :, None] & kkq[..., None, :] & (j <= i + (nk - nq))


def compare(o, lse, q, k, v, mask):
    """Problems of (o, lse) against float32 attention with `mask`."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    ref_o, ref_lse = ba.attention_math(q, k, v, mask, scale, torch.float32)
    bf_o, _ = ba.attention_math(q, k, v, mask, scale, torch.bfloat16)
    problems = []
    if torch.isnan(o).any() or torch.isnan(lse).any():
        problems.append("NaN or unwritten output")
    err = (o.float() - ref_o).abs().max().item()
    torch_err = (bf_o.float() - ref_o).abs().max().item()
    if not err <= 2 * torch_err + ba.ABS_FLOOR:
        problems.append(f"O error {err:.2e} > 2 x torch {torch_err:.2e}")
    empty = ~mask.any(dim=-1)
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
    return err, torch_err, int(empty.sum()), problems


def poisoned(q, v):
    b, hq, nq, _ = q.shape
    o = torch.full((b, hq, nq, v.shape[-1]), float("nan"), dtype=q.dtype,
                   device=q.device)
    lse = torch.full((b, hq, nq), float("nan"), device=q.device)
    return o, lse


def random_qkv(b, hq, hk, nq, nk, d):
    return (torch.randn(b, hq, nq, d, device="cuda", dtype=torch.bfloat16),
            torch.randn(b, hk, nk, d, device="cuda", dtype=torch.bfloat16),
            torch.randn(b, hk, nk, d, device="cuda", dtype=torch.bfloat16))


def check_token_orders(bundles, seed):
    """Hash (bucket counts 2 to 64, uniform, all equal, all distinct) and
    drop (keep ratios 0, 0.3, 0.5, 1, every key dropped) bundles at D = 64
    and 128: odd N, GQA, Nq != Nk."""
    lines, failures = [], 0
    shapes = ((2, 8, 2, 1000, 1000), (1, 4, 4, 77, 77),
              (1, 2, 1, 4096, 4096), (1, 4, 2, 1000, 1500),
              (1, 2, 2, 1500, 1000))
    cases = []
    for d in (64, 128):
        for nb in (2, 8, 64):
            for shape in shapes:
                cases.append(("hash", d, nb, "uniform", shape))
        cases.append(("hash", d, 8, "equal", (1, 4, 2, 1000, 1000)))
        cases.append(("hash", d, 64, "distinct", (1, 2, 1, 64, 64)))
        for keep in (0.0, 0.3, 0.5, 1.0):
            for shape in shapes[:4]:
                cases.append(("drop", d, keep, "keep", shape))
        cases.append(("drop", d, 1.0, "nokey", (1, 4, 2, 300, 300)))
    cases.append(("hashfull", 64, 8, "uniform", (1, 4, 2, 1000, 1500)))
    for index, (kind, d, param, keys, (b, hq, hk, nq, nk)) in \
            enumerate(cases):
        torch.manual_seed(seed + index)
        q, k, v = random_qkv(b, hq, hk, nq, nk, d)
        o, lse = poisoned(q, v)
        if kind in ("hash", "hashfull"):
            nb = param
            if keys == "uniform":
                qb = torch.randint(0, nb, (b, hq, nq), device="cuda",
                                   dtype=torch.int32)
                kb = torch.randint(0, nb, (b, hk, nk), device="cuda",
                                   dtype=torch.int32)
            elif keys == "equal":
                qb = torch.zeros(b, hq, nq, device="cuda", dtype=torch.int32)
                kb = torch.zeros(b, hk, nk, device="cuda", dtype=torch.int32)
            else:  # distinct: token n in bucket n
                qb = torch.arange(nq, device="cuda",
                                  dtype=torch.int32).expand(b, hq, nq)
                kb = torch.arange(nk, device="cuda",
                                  dtype=torch.int32).expand(b, hk, nk)
                qb, kb = qb.contiguous(), kb.contiguous()
            name = f"hash{nb}_d{d}" if kind == "hash" else "hashfull8_d64"
            bundles[name](q, k, v, o, lse, qb, kb)
            mask = hash_mask(qb, kb, causal=(kind == "hash"))
        else:
            keep = param
            kq = torch.rand(b, hq, nq, device="cuda") < keep
            kk = torch.rand(b, hk, nk, device="cuda") < keep
            if keys == "nokey":
                kk[:] = False
            name = f"drop_d{d}"
            bundles[name](q, k, v, o, lse, kq, kk)
            mask = drop_mask(kq, kk)
        torch.cuda.synchronize()
        err, torch_err, empty, problems = compare(o, lse, q, k, v, mask)
        failures += bool(problems)
        line = (f"check {name:13} {keys:8} param={param} B={b} Hq={hq} "
                f"Hk={hk} Nq={nq} Nk={nk} err={err:.2e} "
                f"torch_err={torch_err:.2e} empty_rows={empty} "
                f"seed={seed + index} "
                f"{'ok' if not problems else 'FAIL: ' + '; '.join(problems)}")
        print(line, flush=True)
        lines.append(line)
    return lines, failures


def lsh_reference(x, rotation):
    """(ids, margin): the first maximum of (xR, -xR) in float64 and how far
    the kernel's choice may be from it (the score gap to the runner-up)."""
    p = x.double() @ rotation.double()
    scores = torch.cat([p, -p], dim=-1)
    return scores.argmax(dim=-1), scores


def check_examples(bundles, seed):
    """examples/hash.mlir (LSH ids from a rotation, hash attention) and
    examples/drop.mlir end to end, B = 2, H = 8, N = 2000, D = 64. LSH ids
    must be a maximum of (xR, -xR) within 1e-3 of the float64 best (f32
    accumulation), and O is checked against the mask of the bundle's own
    ids."""
    lines, failures = [], 0
    torch.manual_seed(seed)
    b, h, n, d = 2, 8, 2000, 64
    q, k, v = random_qkv(b, h, h, n, n, d)
    rotation = torch.randn(d, 4, device="cuda")
    rotation = rotation / rotation.norm(dim=0, keepdim=True)
    o, _ = poisoned(q, v)
    qb = torch.full((b, h, n), -1, device="cuda", dtype=torch.int32)
    kb = torch.full((b, h, n), -1, device="cuda", dtype=torch.int32)
    bundles["lsh_example"](q, k, v, o, rotation, qb, kb)
    torch.cuda.synchronize()
    problems = []
    for name, x, ids in (("q", q, qb), ("k", k, kb)):
        best, scores = lsh_reference(x, rotation)
        if ((ids < 0) | (ids >= 8)).any():
            problems.append(f"{name} ids out of range (unwritten)")
            continue
        chosen = scores.gather(-1, ids.long()[..., None])[..., 0]
        top = scores.gather(-1, best[..., None])[..., 0]
        gap = (top - chosen).max().item()
        if gap > 1e-3:
            problems.append(f"{name} id not a maximum (gap {gap:.1e})")
    mask = hash_mask(qb, kb)
    lse = torch.zeros(b, h, n, device="cuda")  # the example has no LSE
    scale = 1.0 / math.sqrt(d)
    ref_lse = ba.attention_math(q, k, v, mask, scale, torch.float32)[1]
    err, torch_err, empty, more = compare(o, ref_lse, q, k, v, mask)
    problems += [p for p in more if "LSE" not in p]
    failures += bool(problems)
    lines.append(f"check lsh_example (examples/hash.mlir) B={b} H={h} N={n} "
                 f"buckets_used={int(qb.unique().numel())} err={err:.2e} "
                 f"torch_err={torch_err:.2e} "
                 f"{'ok' if not problems else 'FAIL: ' + '; '.join(problems)}")
    print(lines[-1], flush=True)
    o, lse = poisoned(q, v)
    kq = torch.rand(b, h, n, device="cuda") < 0.5
    kk = torch.rand(b, h, n, device="cuda") < 0.5
    bundles["drop_example"](q, k, v, o, lse, kq, kk)
    torch.cuda.synchronize()
    err, torch_err, empty, problems = compare(o, lse, q, k, v,
                                              drop_mask(kq, kk))
    failures += bool(problems)
    lines.append(f"check drop_example (examples/drop.mlir) B={b} H={h} N={n} "
                 f"keep=0.5 err={err:.2e} torch_err={torch_err:.2e} "
                 f"empty_rows={empty} "
                 f"{'ok' if not problems else 'FAIL: ' + '; '.join(problems)}")
    print(lines[-1], flush=True)
    return lines, failures
