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

import json
import math
import time

import torch

import bench_attention as ba  # attribute access at call time: it imports us

HASH_BUCKETS = (2, 4, 8, 16, 32, 64)
FLEX_MAX_N = 8192


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
    # Q, K and V gathered into sorted order first (the _gather bundles).
    for d in (64, 128):
        for shape in shapes[:4]:
            cases.append(("hash_gather", d, 8, "uniform", shape))
            cases.append(("drop_gather", d, 0.5, "keep", shape))
    for index, (kind, d, param, keys, (b, hq, hk, nq, nk)) in \
            enumerate(cases):
        torch.manual_seed(seed + index)
        q, k, v = random_qkv(b, hq, hk, nq, nk, d)
        o, lse = poisoned(q, v)
        if kind in ("hash", "hashfull", "hash_gather"):
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
            name = {"hash": f"hash{nb}_d{d}", "hashfull": "hashfull8_d64",
                    "hash_gather": f"hash{nb}_d{d}_gather"}[kind]
            bundles[name](q, k, v, o, lse, qb, kb)
            mask = hash_mask(qb, kb, causal=(kind != "hashfull"))
        else:
            keep = param
            kq = torch.rand(b, hq, nq, device="cuda") < keep
            kk = torch.rand(b, hk, nk, device="cuda") < keep
            if keys == "nokey":
                kk[:] = False
            name = f"drop_d{d}" + ("_gather" if kind == "drop_gather" else "")
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


def check_bad_bucket_ids(bundles, seed):
    """Bucket ids outside [0, 8) on either side (-1 or 8, one element) of
    hash8_d64 and hash8_d128: the call must raise AttnError naming the
    argument and the count, O and LSE must keep their NaN poison (nothing
    written), and the next call with the id repaired must pass the usual
    check (the runtime zeroes the count again)."""
    from attn.runtime import AttnError
    lines, failures = [], 0
    b, hq, hk, nq, nk = 1, 4, 2, 1000, 1500
    index = 0
    for d in (64, 128):
        for side in ("query", "key"):
            for bad in (-1, 8):
                torch.manual_seed(seed + index)
                index += 1
                q, k, v = random_qkv(b, hq, hk, nq, nk, d)
                o, lse = poisoned(q, v)
                qb = torch.randint(0, 8, (b, hq, nq), device="cuda",
                                   dtype=torch.int32)
                kb = torch.randint(0, 8, (b, hk, nk), device="cuda",
                                   dtype=torch.int32)
                ids = qb if side == "query" else kb
                at = int(torch.randint(0, ids.numel(), ()).item())
                good = int(ids.view(-1)[at].item())
                ids.view(-1)[at] = bad
                problems = []
                expected = (f"argument '{side}_bucket_ids': 1 of its values "
                            "are bucket ids outside [0, 8)")
                try:
                    bundles[f"hash8_d{d}"](q, k, v, o, lse, qb, kb)
                    problems.append("accepted")
                except AttnError as error:
                    if expected not in str(error):
                        problems.append(f"message {str(error)!r}")
                torch.cuda.synchronize()
                written = int((~torch.isnan(o.float())).sum().item() +
                              (~torch.isnan(lse)).sum().item())
                if written:
                    problems.append(f"{written} output elements written")
                ids.view(-1)[at] = good
                bundles[f"hash8_d{d}"](q, k, v, o, lse, qb, kb)
                torch.cuda.synchronize()
                _, _, _, after = compare(o, lse, q, k, v, hash_mask(qb, kb))
                problems += [f"repaired call: {p}" for p in after]
                failures += bool(problems)
                line = (f"check hash8_d{d} bad {side} id {bad} at {at}: "
                        f"{'ok' if not problems else 'FAIL: ' + '; '.join(problems)}")
                print(line, flush=True)
                lines.append(line)
    return lines, failures


def wall_per_call(fn, calls=20):
    """Median wall time of one call of `fn` (which synchronizes), over
    `calls` calls after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def load_peers():
    """The paper's forward kernels (bench/peers/scfa, see
    scripts/prepare-bench.sh), or None. Their kernels take D = 64 only and
    use strict causality (j < i); the timing wrappers below prepare their
    inputs the way the paper's attention_fn does, from given bucket ids or
    keep flags (not from its own random LSH or flags)."""
    import importlib.util
    import pathlib
    folder = pathlib.Path(__file__).resolve().parent / "peers" / "scfa"
    peers = {}
    for name in ("hsparse_attn", "qksparse_attn"):
        path = folder / f"{name}.py"
        if not path.exists():
            return None
        spec = importlib.util.spec_from_file_location(f"scfa_{name}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as error:  # e.g. a Triton version it predates
            print(f"  paper kernels unavailable: {str(error)[:100]}")
            return None
        peers[name] = module
    return peers


def peer_hash(module, q, k, v, qb, kb):
    """The paper's hash pipeline from given ids: stable sorts, gathers of Q,
    K, V, its kernel, the scatter of O (hsparse_attn.attention_fn)."""
    b, h, nq, d = q.shape
    nk = k.shape[2]
    q_idx = torch.arange(nq, dtype=torch.int32,
                         device=q.device).view(1, 1, -1).expand(b, h, -1)
    k_idx = torch.arange(nk, dtype=torch.int32,
                         device=q.device).view(1, 1, -1).expand(b, h, -1)
    sorted_q = qb.sort(dim=-1, stable=True)
    sorted_k = kb.sort(dim=-1, stable=True)
    q_idx = torch.gather(q_idx, -1, sorted_q.indices).contiguous()
    k_idx = torch.gather(k_idx, -1, sorted_k.indices).contiguous()
    qs = torch.gather(q, -2, sorted_q.indices.unsqueeze(-1).expand_as(q))
    ks = torch.gather(k, -2, sorted_k.indices.unsqueeze(-1).expand_as(k))
    vs = torch.gather(v, -2, sorted_k.indices.unsqueeze(-1).expand_as(v))
    y = module.attention(qs.contiguous(), ks.contiguous(), vs.contiguous(),
                         q_idx, k_idx, sorted_q.values.contiguous(),
                         sorted_k.values.contiguous(), 1.0 / math.sqrt(d))
    return y.new_zeros(b, h, nq, d).scatter(
        -2, q_idx.long().unsqueeze(-1).expand(-1, -1, -1, d), y)


def peer_drop(module, q, k, v, kq, kk):
    """The paper's QK-drop pipeline from given flags (qksparse_attn's
    attention_fn without its key normalisation): compaction by stable
    sort, padded indices, gathers, its kernel, the scatter of O."""
    b, h, n, d = q.shape
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))  # [B, N, H, D]
    alphas_q = kq.transpose(1, 2).float()
    alphas_k = kk.transpose(1, 2).float()
    q_c, index_q, iph_q = module.compact(alphas_q, qt)
    k_c, index_k, iph_k = module.compact(alphas_k, kt)
    v_c, _, _ = module.compact(alphas_k, vt, index=index_k)
    index_q_padded = module.pad_index(index_q, iph_q, pad_idx=-1)
    index_k_padded = module.pad_index(index_k, iph_k, pad_idx=1e9)
    cq, ck = q_c.shape[1], k_c.shape[1]
    q_c = q_c.view(b, cq, h, d).transpose(1, 2).contiguous()
    k_c = k_c.view(b, ck, h, d).transpose(1, 2).contiguous()
    v_c = v_c.view(b, ck, h, d).transpose(1, 2).contiguous()
    y_c = module.attention(q_c, k_c, v_c,
                           index_q_padded.transpose(1, 2).contiguous(),
                           index_k_padded.transpose(1, 2).contiguous(),
                           1.0 / math.sqrt(d)).transpose(1, 2)
    return torch.zeros(b, n, h, d, dtype=q.dtype, device=q.device).scatter(
        1, index_q.long().view(b, -1, h, 1).expand(b, -1, h, d), y_c)


def hash_pairs(qb, kb, nb):
    """Allowed (i, j) pairs of causal hash attention: Σ_i #{j <= i :
    kb[j] = qb[i]} (Nq = Nk, no GQA)."""
    counts = torch.nn.functional.one_hot(kb.long(), nb).cumsum(dim=-2)
    return int(counts.gather(-1, qb.long()[..., None]).sum())


def drop_pairs(kq, kk):
    kept_keys = kk.int().cumsum(dim=-1)
    return int((kept_keys * kq.int()).sum())


def time_token_orders(bundles, dense, n, d, rounds, peers, b=None, h=None,
                      flex_at=(8, 0.5)):
    """One (N, D): hash for every bucket count and drop for every keep
    ratio, each against our dense causal kernel, SDPA cuDNN causal, the
    paper's pipeline (D = 64) and, at `flex_at`, FlexAttention with the
    equivalent mask_mod (its block mask built beforehand, untimed; the
    build is timed once on its own)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention.flex_attention import create_block_mask
    b = b or max(1, ba.TOKENS // n)
    h = h or ba.HIDDEN // d
    rows = []
    q, k, v = random_qkv(b, h, h, n, n, d)
    o = torch.empty_like(q)
    lse = torch.empty(b, h, n, device="cuda")
    causal_pairs = b * h * n * (n + 1) // 2

    def cudnn(*_):
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            torch.nn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=True)

    # "equal": every token in bucket 0 of the nb = 2 bundle, the causal
    # attention through the sorted-token machinery (the identity order):
    # its time against our dense causal kernel is the machinery's cost.
    settings = [("hash", nb) for nb in (2, 4, 8, 16, 32)] + \
        [("drop", keep) for keep in (0.3, 0.5, 0.7)] + [("equal", 2)]
    for kind, param in settings:
        if kind in ("hash", "equal"):
            high = param if kind == "hash" else 1
            qb = torch.randint(0, high, (b, h, n), device="cuda",
                               dtype=torch.int32)
            kb = torch.randint(0, high, (b, h, n), device="cuda",
                               dtype=torch.int32)
            ours = bundles[f"hash{param}_d{d}"]
            keys = (qb, kb)
            pairs = hash_pairs(qb, kb, param)
        else:
            kq = torch.rand(b, h, n, device="cuda") < param
            kk = torch.rand(b, h, n, device="cuda") < param
            ours = bundles[f"drop_d{d}"]
            keys = (kq, kk)
            pairs = drop_pairs(kq, kk)
        variant = bundles.get(
            f"hash{param}_d{d}_gather" if kind == "hash"
            else f"drop_d{d}_gather")

        def checked_call():
            ours.read_input_checks = True
            try:
                ours(q, k, v, o, lse, *keys)
            finally:
                ours.read_input_checks = False

        # Timed with the input checks' read-back off (the kernels, the
        # counts' zeroing and the in-kernel checks all run): the read-back
        # synchronizes the stream, which would put each call's host launch
        # time on the GPU timeline (and, interleaved, the next contender's).
        # Its cost is measured apart (hash nb = 8 only): wall time per
        # default call against an unchecked call followed by a stream
        # synchronization.
        for bundle in (ours, variant):
            if bundle is not None:
                bundle.read_input_checks = False
        contenders = {
            "attn": lambda: ours(q, k, v, o, lse, *keys),
            "attn_causal": lambda: dense(q, k, v, o, lse),
            "cudnn_causal": cudnn,
        }
        if variant is not None and kind != "equal":
            contenders["attn_gather"] = lambda: variant(q, k, v, o, lse,
                                                        *keys)
        if peers and d == 64 and kind != "equal":
            if kind == "hash":
                contenders["paper"] = lambda: peer_hash(
                    peers["hsparse_attn"], q, k, v, *keys)
            else:
                contenders["paper"] = lambda: peer_drop(
                    peers["qksparse_attn"], q, k, v, *keys)
        flex_build = None
        # FlexAttention's create_block_mask for a per-(b, h) mask took 121
        # and 146 s at N = 16384 on an H200 (2026-12-01): flex is timed up
        # to N = 8192 only.
        if n <= FLEX_MAX_N and ((kind == "hash" and param == flex_at[0]) or
                                (kind == "drop" and param == flex_at[1])):
            first, second = keys

            if kind == "hash":
                def mask_mod(bi, hi, qi, ki):
                    return (first[bi, hi, qi] == second[bi, hi, ki]) & \
                        (qi >= ki)
            else:
                def mask_mod(bi, hi, qi, ki):
                    return first[bi, hi, qi] & second[bi, hi, ki] & \
                        (qi >= ki)
            t0 = time.time()
            block_mask = create_block_mask(mask_mod, b, h, n, n,
                                           device="cuda", _compile=True)
            torch.cuda.synchronize()
            flex_build = time.time() - t0
            flex = ba.compiled_flex()
            flex(q, k, v, block_mask=block_mask)
            contenders["flex"] = lambda: flex(q, k, v, block_mask=block_mask)
        seconds = ba.interleaved_times(
            {name: (lambda fn=fn: fn()) for name, fn in contenders.items()},
            [()], rounds)
        per_pair = {name: seconds[name] / pairs for name in seconds}
        per_pair["attn_causal"] = seconds["attn_causal"] / causal_pairs
        if "attn_gather" in seconds:
            per_pair["attn_gather"] = seconds["attn_gather"] / pairs
        row = {"kind": kind, "param": param, "n": n, "d": d, "b": b, "h": h,
               "pairs": pairs, "seconds": seconds,
               "speedup_vs": {name: seconds[name] / seconds["attn"]
                              for name in seconds if name != "attn"},
               "pair_time_vs_dense_causal":
                   per_pair["attn"] / per_pair["attn_causal"],
               "flex_block_mask_build_s": flex_build}
        if kind == "hash" and param == 8 and n == 16384:
            row["kernels"] = ba.kernel_times(contenders["attn"], ())
        if kind == "hash" and param == 8:
            def synchronized():
                ours(q, k, v, o, lse, *keys)
                torch.cuda.synchronize()
            row["checked_wall_vs_synchronized"] = \
                wall_per_call(checked_call) / wall_per_call(synchronized)
        for bundle in (ours, variant):
            if bundle is not None:
                bundle.read_input_checks = True
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def format_rows(rows):
    """The hash/drop table of the report (markdown)."""
    def ms(x):
        return "-" if x is None else f"{x * 1e3:.3f}"

    def ratio(row, name):
        value = row["speedup_vs"].get(name)
        return "-" if value is None else f"{value:.2f}"

    lines = ["", "Hash buckets and dropped keys/queries (causal, bf16; "
             "times include preprocessing, with the input checks' read-back "
             "off; checked call = wall time of the default call, whose "
             "read-back synchronizes the stream, over an unchecked call "
             "and a synchronization; speedup = their time / ours; "
             "pair time = our time per allowed pair / our dense causal "
             "kernel's; the paper's kernels take D = 64 only):", "",
             "| N | D | B x H | mask | attn ms | speedup vs our causal | "
             "vs cuDNN causal | vs paper | vs flex | pair time | "
             "gather pass / ours | checked call / ours |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        mask = {"hash": f"hash nb={row['param']}",
                "drop": f"drop keep={row['param']}",
                "equal": "one bucket (= causal)"}[row["kind"]]
        checked = row.get("checked_wall_vs_synchronized")
        checked = "-" if checked is None else f"{checked:.3f}"
        lines.append(
            f"| {row['n']} | {row['d']} | {row['b']}x{row['h']} | {mask} | "
            f"{ms(row['seconds']['attn'])} | {ratio(row, 'attn_causal')} | "
            f"{ratio(row, 'cudnn_causal')} | {ratio(row, 'paper')} | "
            f"{ratio(row, 'flex')} | "
            f"{row['pair_time_vs_dense_causal']:.2f} | "
            f"{ratio(row, 'attn_gather')} | {checked} |")
    return "\n".join(lines) + "\n"
