"""SPION in the GPU benchmark: the derivation bundles' checks against a
float64 reference of SEMANTICS.md's definition, examples/spion.mlir end to
end, and the timings (derivation against the map's read time; block-sparse
attention with a derived mask). bench_attention.py's main calls these."""

import math

import torch
import torch.nn.functional as F

from bench_attention import (ABS_FLOOR, BLOCK, attention_math,
                             interleaved_times, kernel_times,
                             time_block_sparse)


# The SPION derivation bundles scripts/prepare-bench.sh builds: name ->
# (variant, filter size, block size, density for conv_topk, score dtype).
# Block size 64 with filter 31 reads the map once (h < bs); block size 8
# takes the neighbourhood kernel (h >= bs); bf16 scores load 8 per vector.
SPION_BUNDLES = {
    "spion_conv_flood_fill": ("conv_flood_fill", 31, 64, None, "f32"),
    "spion_flood_fill": ("flood_fill", 31, 64, None, "f32"),
    "spion_conv_topk": ("conv_topk", 31, 64, 0.2, "f32"),
    "spion_conv_flood_fill_b8": ("conv_flood_fill", 31, 8, None, "f32"),
    "spion_conv_flood_fill_bf16": ("conv_flood_fill", 15, 32, None, "bf16"),
    "spion_conv_flood_fill_b128": ("conv_flood_fill", 31, 128, None, "f32"),
}


def spion_reference(scores, variant, conv=31, bs=64, q=0.9, density=None):
    """SEMANTICS.md's SPION-CF / SPION-F / SPION-C in float64 (the filter
    as a sum of shifted views, torch.quantile, the walks in Python; top-k
    by a stable sort): the block mask as a [nb, nb] int8 tensor on the
    CPU, and the smallest relative distance between two values any of its
    decisions compared (walk steps, value against the threshold, the
    top-k boundary)."""
    a = scores.double()
    n = a.shape[0]
    half = (conv - 1) // 2 if variant != "flood_fill" else 0
    if half:
        padded = F.pad(a, (half, half, half, half))
        c = sum(padded[half + t:half + t + n, half + t:half + t + n]
                for t in range(-half, half + 1))
    else:
        c = a
    nb = n // bs
    pooled = c.view(nb, bs, nb, bs).mean(dim=(1, 3))
    margins = [math.inf]

    def margin(a, b):
        """Relative distance of a compared pair (SEMANTICS.md's near-tie
        measure): the smallest one over all decisions is returned."""
        scale = max(abs(a), abs(b))
        if scale > 0:
            margins[0] = min(margins[0], abs(a - b) / scale)

    if variant == "conv_topk":
        keep = max(int(density * nb * nb - nb), 0)
        flat_values = pooled.flatten().cpu()
        order = torch.argsort(-flat_values, stable=True)
        flat = torch.zeros(nb * nb, dtype=torch.int8)
        flat[order[:keep]] = 1
        if 0 < keep < nb * nb:
            margin(flat_values[order[keep - 1]].item(),
                   flat_values[order[keep]].item())
        mask = flat.view(nb, nb)
        mask.diagonal().fill_(1)
        return mask, margins[0]
    tau = torch.quantile(pooled.flatten(), q).item()
    bm = pooled.cpu().tolist()
    mask = [[0] * nb for _ in range(nb)]

    def value(x, y):
        return bm[x][y] if x < nb and y < nb else 0.0

    def walk(x, y):
        while x < nb and y < nb:
            down, right, diag = value(x + 1, y), value(x, y + 1), \
                value(x + 1, y + 1)
            margin(down, right)
            if down > right:
                margin(down, diag)
                nx, ny = x + 1, (y if down > diag else y + 1)
            else:
                margin(right, diag)
                nx, ny = (x if right > diag else x + 1), y + 1
            if nx < nb and ny < nb:
                margin(value(nx, ny), tau)
                if value(nx, ny) > tau:
                    mask[nx][ny] = 1
            x, y = nx, ny

    for k in range(nb):
        walk(0, k)
    for k in range(nb):
        walk(k, 0)
    for d in range(nb):
        mask[d][d] = 1
    return torch.tensor(mask, dtype=torch.int8), margins[0]


def check_flood_fill(bundles, seed):
    """The SPION bundles against spion_reference: equal on integer maps and
    on tie-heavy maps of a few values (every sum exact in f32). On random
    maps a disagreement passes only when the reference made a decision
    between values within 1e-6 relative of each other (SEMANTICS.md's
    near-tie): the f32 map may then decide the other way; with every
    decision further apart than that, the masks must be equal."""
    lines, failures = [], 0
    torch.manual_seed(seed)
    for name, bundle in bundles.items():
        variant, conv, bs, density, dtype = SPION_BUNDLES[name]
        sizes = ((1024, "integers"), (4096, "integers"), (1024, "ties"),
                 (4096, "random"))
        if bs < 32:
            sizes = ((512, "integers"), (1024, "ties"), (1024, "random"))
        for n, kind in sizes:
            if kind == "integers":
                scores = torch.randint(0, 10, (n, n), device="cuda").float()
            elif kind == "ties":
                scores = torch.randint(0, 2, (n, n), device="cuda").float()
            else:
                scores = torch.rand(n, n, device="cuda")
            scores = scores.to(getattr(torch, {"f32": "float32",
                                               "bf16": "bfloat16"}[dtype]))
            blocks = torch.full((n // bs, n // bs), 7, dtype=torch.int8,
                                device="cuda")
            bundle(scores, blocks)
            torch.cuda.synchronize()
            expected, closest = spion_reference(scores, variant, conv, bs,
                                                density=density)
            got = blocks.cpu()
            unwritten = int(((got != 0) & (got != 1)).sum())
            differ = int((got != expected).sum())
            near_tie = kind == "random" and closest < 1e-6
            ok = unwritten == 0 and (differ == 0 or near_tie)
            failures += not ok
            lines.append(f"check {name:27} N={n:5} {kind:8} "
                         f"blocks_on={int(got.clamp(0, 1).sum())}/"
                         f"{got.numel()} differ={differ} "
                         f"closest_decision={closest:.1e} "
                         f"unwritten={unwritten} "
                         f"{'ok' if ok else 'FAIL'}")
            print(lines[-1], flush=True)
    return lines, failures


def check_spion_example(bundle, seed):
    """examples/spion.mlir end to end (B = 2, H = 16, N = 4096, D = 64): the
    bundle derives the 64 x 64 block mask from a banded + global score map
    and attends with it. The mask must equal spion_reference's (or differ
    only where the reference decided a near-tie); O is checked against
    float32 attention with the mask the bundle wrote."""
    torch.manual_seed(seed)
    b, h, n, d = 2, 16, 4096, 64
    scores = banded_global_map(n, "cuda", seed=seed)
    q, k, v = (torch.randn(b, h, n, d, device="cuda", dtype=torch.bfloat16)
               for _ in range(3))
    o = torch.full_like(q, float("nan"))
    blocks = torch.zeros(n // 64, n // 64, dtype=torch.bool, device="cuda")
    bundle(q, k, v, o, scores, blocks)
    torch.cuda.synchronize()
    expected, closest = spion_reference(scores, "conv_flood_fill")
    differ = int((blocks.cpu().to(torch.int8) != expected).sum())
    i = torch.arange(n, device="cuda")
    mask = blocks[i[:, None] // 64, i[None, :] // 64]
    ref_o, _ = attention_math(q, k, v, mask, 1.0 / math.sqrt(d),
                              torch.float32)
    bf_o, _ = attention_math(q, k, v, mask, 1.0 / math.sqrt(d),
                             torch.bfloat16)
    err = (o.float() - ref_o).abs().max().item()
    torch_err = (bf_o.float() - ref_o).abs().max().item()
    ok = (not torch.isnan(o).any() and err <= 2 * torch_err + ABS_FLOOR
          and (differ == 0 or closest < 1e-6))
    line = (f"check spion_example (examples/spion.mlir) B={b} H={h} N={n} "
            f"blocks_on={int(blocks.sum())}/{blocks.numel()} "
            f"mask_differ={differ} closest_decision={closest:.1e} "
            f"err={err:.2e} torch_err={torch_err:.2e} "
            f"{'ok' if ok else 'FAIL'}")
    print(line, flush=True)
    return [line], int(not ok)


def banded_global_map(n, device, band=256, globals_=64, seed=0):
    """A synthetic attention map with the structure SPION targets: each row
    a softmax over a local band (scores falling off with distance), a few
    global key columns and noise; rows sum to 1. f32, [n, n]."""
    g = torch.Generator(device=device).manual_seed(seed)
    scores = torch.empty(n, n, device=device)
    chunk = 2048
    j = torch.arange(n, device=device)[None, :]
    for start in range(0, n, chunk):
        i = torch.arange(start, min(start + chunk, n), device=device)[:, None]
        logits = -(i - j).abs().float() / band
        logits = logits + 4.0 * (j < globals_).float()
        logits = logits + 0.5 * torch.randn(logits.shape, device=device,
                                            generator=g)
        scores[start:start + chunk] = torch.softmax(logits, dim=-1)
    return scores


def time_flood_fill(bundles, rounds):
    """SPION-CF, -F and -C from a stored 16384² f32 map, against the time
    to read the map once at the copy bandwidth this GPU measures (a
    device-to-device copy reads and writes the map: half its time)."""
    n = 16384
    scores = torch.rand(n, n, device="cuda")
    copy = torch.empty_like(scores)
    blocks = torch.empty(n // 64, n // 64, dtype=torch.int8, device="cuda")
    names = {"spion_cf": "spion_conv_flood_fill", "spion_f": "spion_flood_fill",
             "spion_c": "spion_conv_topk"}
    contenders = {key: (lambda s, c, m, name=name: bundles[name](s, m))
                  for key, name in names.items()}
    contenders["copy"] = lambda s, c, m: c.copy_(s)
    seconds = interleaved_times(contenders, [(scores, copy, blocks)], rounds)
    read = seconds["copy"] / 2
    kernels = {key: kernel_times(contenders[key], (scores, copy, blocks))
               for key in names}
    return {"n": n, "seconds": seconds, "read_once_s": read,
            "ratio_to_read": {key: seconds[key] / read for key in names},
            "read_bandwidth_gbs": scores.numel() * 4 / read / 1e9,
            "kernels": kernels}


def time_spion_attention(bundles, spion, d, n, rounds):
    """SPION end to end at block 128: the CF mask derived (by our bundle)
    from a synthetic banded + global attention map, then block-sparse
    causal attention with it against flex_attention with the same
    BlockMask and the dense kernels (time_block_sparse)."""
    scores = banded_global_map(n, "cuda")
    blocks = torch.empty(n // BLOCK, n // BLOCK, dtype=torch.int8,
                         device="cuda")
    spion["spion_conv_flood_fill_b128"](scores, blocks)
    del scores
    blocks = blocks.bool()
    density = float(blocks.float().mean())
    row = time_block_sparse(bundles, d, n, density, rounds, blocks=blocks,
                            label=f"spion_cf{density:.3f}")
    return row
