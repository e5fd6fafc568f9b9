#!/usr/bin/env python3
"""Linear attention's definitions for bench/linear_bench.py, in PyTorch:
the dense float64 definition (docs/Semantics.md "Linear tiles") and the
final state, the chunked recurrence (the long check's reference), the
FLOP counts, ALiBi slopes, the bf16 criterion (judge), the inputs, and the
CPU self-test that the references agree with each other and with the
peers' own references (`linear_bench.py --self-test`)."""

import pathlib
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent
PEERS = HERE / "peers"

REL_FLOOR = 1e-4        # the absolute floor, relative to max |ref|
DEVICE = "cuda"         # of the checks (a CPU harness may set "cpu")


def tiled_flops(b, h, n, d, e, bt=64):
    """FLOPs of the tiled (Lightning-2) algorithm with chunks of bt rows,
    counted on whole chunks (a partial last chunk counts as full): per
    (batch, head) and chunk, Q K^T (2 bt bt D), (scores ⊙ mask) V
    (2 bt bt E), Q KV (2 bt D E) and K^T V (2 bt D E). Masking, decay
    scaling and the state's decay are not counted."""
    chunks = -(-n // bt)
    return b * h * chunks * (2 * bt * bt * d + 2 * bt * bt * e +
                             2 * bt * d * e + 2 * bt * d * e)


def causal_flops(b, h, n, d):
    """FLOPs of causal softmax attention as bench_attention counts them:
    4 B H D per allowed (q, k) pair."""
    return 4.0 * b * h * d * n * (n + 1) / 2


def alibi_slopes(h, device="cpu"):
    """The paper's slopes for a power-of-two head count:
    s_i = 2^(-8 (i + 1) / h) (lightning_attn.utils._build_slope_tensor)."""
    if h & (h - 1):
        raise ValueError(f"ALiBi slopes need a power-of-two H, got {h}")
    return torch.tensor([2.0 ** (-8.0 * (i + 1) / h) for i in range(h)],
                        dtype=torch.float32, device=device)


# ---------------------------------------------------------------- references


def dense_linear(q, k, v, s, kv0=None, dtype=torch.float64, rows=None,
                 key_start=0, block=1024):
    """O of the dense definition in `dtype` arithmetic (float64: the
    reference; bfloat16: PyTorch's own bf16 evaluation), for query rows
    rows = (r0, r1) (default all) and keys key_start .. i: scores = Q K^T
    (a `dtype` matmul), times the decay mask (computed in float64, cast to
    `dtype`), @ V; plus exp(-s (i + 1)) (q_i @ KV0) when kv0 is given.
    Query blocks of `block` rows bound the memory (block x N per head).
    Returns [B, H, r1 - r0, E] in `dtype`."""
    b, h, n, _ = q.shape
    e = v.shape[-1]
    r_start, r_end = rows if rows is not None else (0, n)
    dev = q.device
    s64 = s.to(device=dev, dtype=torch.float64)
    out = torch.empty(b, h, r_end - r_start, e, dtype=dtype, device=dev)
    for r0 in range(r_start, r_end, block):
        r1 = min(r_end, r0 + block)
        qb = q[:, :, r0:r1].to(dtype)
        scores = qb @ k[:, :, key_start:r1].to(dtype).transpose(-1, -2)
        i = torch.arange(r0, r1, device=dev, dtype=torch.float64)[:, None]
        j = torch.arange(key_start, r1, device=dev,
                         dtype=torch.float64)[None, :]
        delta = i - j
        mask = torch.where(delta >= 0,
                           torch.exp(-s64[:, None, None] * delta.clamp(min=0)),
                           torch.zeros((), dtype=torch.float64, device=dev))
        o = (scores * mask.to(dtype)) @ v[:, :, key_start:r1].to(dtype)
        if kv0 is not None:
            w = torch.exp(-s64[:, None] *
                          (torch.arange(r0, r1, device=dev,
                                        dtype=torch.float64) + 1))
            o = o + (qb @ kv0.to(dtype)) * w.to(dtype)[None, :, :, None]
        out[:, :, r0 - r_start:r1 - r_start] = o
    return out


def final_state(k, v, s, kv0=None, dtype=torch.float64):
    """KV_N = exp(-s N) KV0 + sum_j exp(-s (N - 1 - j)) k_j^T v_j in `dtype`
    arithmetic (bfloat16: the decayed K rounded to bf16, a bf16 matmul, the
    decayed KV0 rounded to bf16). Returns [B, H, D, E] in `dtype`."""
    n = k.shape[2]
    dev = k.device
    s64 = s.to(device=dev, dtype=torch.float64)
    j = torch.arange(n, device=dev, dtype=torch.float64)
    w = torch.exp(-s64[:, None] * (n - 1 - j)[None, :])        # [H, N]
    kw = (k.double() * w[None, :, :, None]).to(dtype)
    state = kw.transpose(-1, -2) @ v.to(dtype)
    if kv0 is not None:
        carry = torch.exp(-s64 * n)[None, :, None, None] * kv0.double()
        state = state + carry.to(dtype)
    return state


def chunked_linear(q, k, v, s, kv0=None, chunk=256, sink=None):
    """The Lightning-2 recurrence in float64: per chunk of `chunk` rows
    (local positions a, b), O = ((Q K^T) ⊙ D) V + exp(-s (a + 1)) Q KV with
    D[a, b] = exp(-s (a - b)) (a >= b), then
    KV <- exp(-s L) KV + (exp(-s (L - 1 - b)) K)^T V, L the chunk's length;
    KV starts at kv0 (or 0). When `sink` is given each chunk's O goes to
    sink(c0, c1, o) and O is not kept (bounded memory for long N). Returns
    (O [B, H, N, E] float64 or None, KV_N [B, H, D, E] float64)."""
    b, h, n, d = q.shape
    e = v.shape[-1]
    dev = q.device
    s64 = s.to(device=dev, dtype=torch.float64)
    state = (kv0.double().clone() if kv0 is not None else
             torch.zeros(b, h, d, e, dtype=torch.float64, device=dev))
    out = None if sink is not None else torch.empty(
        b, h, n, e, dtype=torch.float64, device=dev)
    local = torch.arange(chunk, device=dev, dtype=torch.float64)
    delta = local[:, None] - local[None, :]
    full_mask = torch.where(
        delta >= 0, torch.exp(-s64[:, None, None] * delta.clamp(min=0)),
        torch.zeros((), dtype=torch.float64, device=dev))      # [H, c, c]
    q_decay = torch.exp(-s64[:, None] * (local + 1)[None, :])  # [H, c]
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        length = c1 - c0
        qc = q[:, :, c0:c1].double()
        kc = k[:, :, c0:c1].double()
        vc = v[:, :, c0:c1].double()
        mask = full_mask[:, :length, :length]
        o = (qc @ kc.transpose(-1, -2) * mask) @ vc
        o = o + (qc @ state) * q_decay[None, :, :length, None]
        k_decay = torch.exp(-s64[:, None] *
                            (length - 1 - local[:length])[None, :])
        state = torch.exp(-s64 * length)[None, :, None, None] * state + \
            (kc * k_decay[None, :, :, None]).transpose(-1, -2) @ vc
        if sink is not None:
            sink(c0, c1, o)
        else:
            out[:, :, c0:c1] = o
    return out, state


def judge(out, ref, torch_out):
    """The criterion on one output: (stats dict, problems). `out` and
    `torch_out` are compared with the float64 `ref`."""
    problems = []
    if torch.isnan(out).any():
        problems.append("NaN or unwritten output")
    diff = out.double() - ref
    err = diff.abs().max().item() if diff.numel() else 0.0
    torch_err = (torch_out.double() - ref).abs().max().item() \
        if ref.numel() else 0.0
    scale = ref.abs().max().item() if ref.numel() else 0.0
    ref_norm = ref.norm().item()
    rel = diff.norm().item() / ref_norm if ref_norm else diff.norm().item()
    bound = 2 * torch_err + REL_FLOOR * scale
    if not err <= bound:  # NaN fails too
        problems.append(f"error {err:.3e} > 2 x torch bf16 {torch_err:.3e} "
                        f"+ 1e-4 x {scale:.3e}")
    return {"err": err, "torch_err": torch_err, "bound": bound,
            "rel_err": rel, "max_ref": scale}, problems


# ------------------------------------------------------------------- inputs


def random_inputs(b, h, n, d, e, gen, device=None):
    """q, k ~ N(0, 1) D^(-1/4) (so q . k is O(1)), v ~ N(0, 1), bf16."""
    device = device or DEVICE
    def randn(*shape):
        return torch.randn(*shape, generator=gen, device=device)
    q = (randn(b, h, n, d) * d ** -0.25).to(torch.bfloat16)
    k = (randn(b, h, n, d) * d ** -0.25).to(torch.bfloat16)
    v = randn(b, h, n, e).to(torch.bfloat16)
    return q, k, v


def random_state(b, h, d, e, gen, prefix=256, device=None):
    """An f32 initial state of the size a real one has after `prefix`
    tokens (q . KV0 ~ sqrt(prefix) = 16, like the rest of O)."""
    device = device or DEVICE
    return torch.randn(b, h, d, e, generator=gen, device=device) * \
        (prefix ** 0.5 * d ** -0.25)


def decays(kind, h, device=None):
    device = device or DEVICE
    if kind == "zero":
        return torch.zeros(h, dtype=torch.float32, device=device)
    return alibi_slopes(h, device)


def nan_like(shape, dtype, device=None):
    return torch.full(shape, float("nan"), dtype=dtype,
                      device=device or DEVICE)


def bnhd(x):
    return x.transpose(1, 2).contiguous()



# ------------------------------------------------------------- CPU self-test


def self_test_cpu():
    """The float64 references agree on the CPU: the chunked recurrence
    (chunks of 16, 64 and 256) against the dense definition at N = 130,
    with and without decay and initial state, O and the final state to
    1e-10 of max |ref|; and dense_linear by query blocks equals one
    block."""
    gen = torch.Generator().manual_seed(0)
    b, h, n, d, e = 2, 4, 130, 16, 24
    q, k, v = random_inputs(b, h, n, d, e, gen, device="cpu")
    problems = []
    for decay in ("zero", "alibi"):
        s = decays(decay, h, "cpu")
        for with_state in (False, True):
            kv0 = random_state(b, h, d, e, gen, device="cpu") \
                if with_state else None
            ref = dense_linear(q, k, v, s, kv0)
            sref = final_state(k, v, s, kv0)
            blocked = dense_linear(q, k, v, s, kv0, block=17)
            for chunk in (16, 64, 256):
                out, state = chunked_linear(q, k, v, s, kv0, chunk=chunk)
                o_err = (out - ref).abs().max().item() / ref.abs().max().item()
                s_err = (state - sref).abs().max().item() / \
                    sref.abs().max().item()
                line = (f"decay={decay} initial_state={with_state} "
                        f"chunk={chunk}: O {o_err:.1e}, state {s_err:.1e}")
                print(line)
                if not (o_err <= 1e-10 and s_err <= 1e-10):
                    problems.append(line)
            b_err = (blocked - ref).abs().max().item()
            if not b_err <= 1e-12 * ref.abs().max().item():
                problems.append(f"blocked dense differs by {b_err:.1e}")
            # A split run through the recurrence continues exactly.
            half = 64
            _, mid = chunked_linear(*(x[:, :, :half] for x in (q, k, v)), s,
                                    kv0, chunk=32)
            out2, end = chunked_linear(*(x[:, :, half:] for x in (q, k, v)),
                                       s, mid, chunk=32)
            h_err = max((out2 - ref[:, :, half:]).abs().max().item(),
                        (end - sref).abs().max().item())
            if not h_err <= 1e-10 * ref.abs().max().item():
                problems.append(f"split recurrence differs by {h_err:.1e}")
    # bf16 dense and final state run (dtype path) and stay near float64.
    s = decays("alibi", h, "cpu")
    bf = dense_linear(q, k, v, s, dtype=torch.bfloat16)
    ref = dense_linear(q, k, v, s)
    rel = ((bf.double() - ref).norm() / ref.norm()).item()
    print(f"bf16 dense vs float64: rel {rel:.2e}")
    if not rel < 2e-2:
        problems.append(f"bf16 dense rel error {rel:.2e}")
    # A long-check sink sees every row once.
    seen = []
    chunked_linear(q, k, v, s, chunk=48,
                   sink=lambda c0, c1, o: seen.append((c0, c1, o.shape[2])))
    if [c for c in seen] != [(c0, min(n, c0 + 48), min(n, c0 + 48) - c0)
                             for c0 in range(0, n, 48)]:
        problems.append(f"sink chunks {seen}")
    # The peers' own PyTorch definitions, where present: the paper's
    # linear_attn (float32 mask, no state) and fla's step-by-step
    # naive_recurrent_simple_gla (float32; S_t = e^(g_t) S_(t-1) + k_t^T v_t,
    # o_t = q_t S_t, from the initial state) with g = -s, scale 1: an
    # independent statement of the decay's sign and the state's offsets.
    for decay in ("zero", "alibi"):
        s = decays(decay, h, "cpu")
        kv0 = random_state(b, h, d, e, gen, device="cpu")
        ref, sref = dense_linear(q, k, v, s), final_state(k, v, s)
        ref0, sref0 = dense_linear(q, k, v, s, kv0), final_state(k, v, s, kv0)
        try:
            sys.path.insert(0, str(PEERS / "lightning-attention"))
            from lightning_attn.ops.torch.linear_attention import linear_attn
            out = linear_attn(q.double(), k.double(), v.double(),
                              s.view(-1, 1, 1))
            rel = (out - ref).abs().max().item() / ref.abs().max().item()
            print(f"paper's linear_attn, decay={decay}: {rel:.1e}")
            if not rel <= 1e-6:
                problems.append(f"paper's linear_attn differs by {rel:.1e}")
        except ImportError as error:
            print(f"paper's linear_attn not checked: {error}")
        try:
            sys.path.insert(0, str(PEERS / "fla" / "site"))
            sys.path.append(str(PEERS / "fla" / "fallback"))
            from fla.ops.simple_gla.naive import naive_recurrent_simple_gla
            for kv, want, want_state in ((None, ref, sref),
                                         (kv0, ref0, sref0)):
                g = (-s).view(1, 1, h).expand(b, n, h).contiguous()
                out, state = naive_recurrent_simple_gla(
                    bnhd(q.float()), bnhd(k.float()), bnhd(v.float()), g,
                    scale=1.0, initial_state=kv, output_final_state=True)
                rel = max((bnhd(out).double() - want).abs().max().item() /
                          want.abs().max().item(),
                          (state.double() - want_state).abs().max().item() /
                          want_state.abs().max().item())
                print(f"fla's naive_recurrent_simple_gla, decay={decay}, "
                      f"initial state={kv is not None}: {rel:.1e}")
                if not rel <= 1e-5:
                    problems.append(f"fla's naive recurrence differs by "
                                    f"{rel:.1e}")
        except ImportError as error:
            print(f"fla's naive recurrence not checked: {error}")
    print(f"tiled_flops(4, 32, 8192, 128, 128) = "
          f"{tiled_flops(4, 32, 8192, 128, 128):.4e}")
    print("self-test: " + ("ok" if not problems else
                           "FAIL: " + "; ".join(problems)))
    return 1 if problems else 0
