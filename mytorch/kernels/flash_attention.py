"""Flash attention (FlashAttention-2 style), forward and backward, tiled with an online softmax.

Shapes: q (B, Hq, Lq, D), k/v (B, Hkv, Lk, D) with Hq % Hkv == 0 (GQA/MQA: q head h reads kv head
h // (Hq // Hkv)), any strides (a (B, L, H, D) tensor passes as a transposed view, no copy), D 16..128
(padded to a power of two with masked lanes), Lq != Lk allowed, tails masked.
Masks, combinable: causal (PyTorch's top-left alignment: key j visible to query i iff j <= i), a sliding
window (left, right): j in [i - left, i + right], attn_mask broadcastable to (B, Hq, Lq, Lk), boolean
(True = attend) or additive float. Rows with no visible key output 0 (PyTorch's math path gives NaN).
Dropout on the attention probabilities: keep iff tl.rand(seed, ((b*Hq + h)*Lq + i)*Lk + j) >= p (int64
counter), never stored; the backward regenerates it. Grids put B*H on axis 0 (no 65535 cap); offsets are int64.
float32 products are fp32-accurate (three-pass TF32) unless allow_tf32; NVIDIA's tl.dot default is TF32.
Forward per (query block, b*h): stream key blocks inside [lo, hi) (the window/causal band), keep the running
row max m, sum l and the output accumulator, rescaled by exp(m_old - m_new). Scores live in the log2
domain (exp2 is cheaper): the saved lse is log2(sum exp2(s)), +inf for fully masked rows.
Backward: delta = rowsum(dO * O); P = exp2(S - lse); dV += P^T dO; dP = dO V^T;
dS = P * (dP - delta); dK += dS^T Q; dQ += dS K. dK/dV: one program per (key block, b*kv_head) loops over
all q heads of its group, so GQA needs no atomics; dQ: one program per (query block, b*h). With dropout the
dK/dV programs also add dS K into an fp32 dQ with atomics (no dQ kernel), so each tile's scores and dropout
mask are drawn once in the backward (twice without dropout, where dQ stays deterministic, and for fp32 at
head dim > 64, where the extra accumulator would spill registers).
Not done: the gradient of an additive attn_mask.
"""
import math

import numpy as np
import triton
import triton.language as tl

from . import (check_float, count, dot_block, dot_precision, elem_strides, interpreting, launcher, next_pow2,
               to_triton, xp_of)

LOG2E = 1.4426950408889634


@triton.jit
def _scores(q, k, rows, cols, mask_ptr, smb, smh, smm, smn, b, h, Lq, Lk, qk_scale, win_left, win_right,
            MASK_KIND: tl.constexpr, PRECISION: tl.constexpr):
    """log2-domain scores of a (BLOCK_M, BLOCK_N) tile with every mask applied (-inf where hidden)."""
    s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale
    valid = (cols[None, :] < Lk) & (cols[None, :] >= rows[:, None] - win_left) & (cols[None, :] <= rows[:, None] + win_right)
    if MASK_KIND != 0:
        in_bounds = (rows[:, None] < Lq) & (cols[None, :] < Lk)
        mptr = mask_ptr + b * smb + h * smh + rows[:, None].to(tl.int64) * smm + cols[None, :].to(tl.int64) * smn
        if MASK_KIND == 1:
            valid = valid & (tl.load(mptr, mask=in_bounds, other=0) != 0)
        else:
            s += tl.load(mptr, mask=in_bounds, other=0.0).to(tl.float32) * 1.4426950408889634
    return tl.where(valid, s, -float("inf"))


@triton.jit
def _tile_range(pid, BLOCK: tl.constexpr, OTHER_BLOCK: tl.constexpr, before, after, n):
    """The [lo, hi) span of the other axis that tile `pid` can see: the window reaches `before`
    positions back and `after` forward; lo is aligned down to a whole OTHER_BLOCK tile."""
    lo = tl.maximum(pid * BLOCK - before, 0) // OTHER_BLOCK * OTHER_BLOCK
    hi = tl.minimum((pid + 1) * BLOCK + after, n)
    return lo, hi


@triton.jit
def _keep(seed, bh, rows, cols, Lq, Lk, dropout_p):
    # int64 counters (int32 would wrap at 2**32: heads 256 apart would share masks at 4k x 4k), the same
    # expression in every kernel, so forward and backward draw the same Philox stream
    offsets = (bh.to(tl.int64) * Lq + rows[:, None]) * Lk + cols[None, :]
    return tl.rand(seed, offsets) >= dropout_p


@triton.jit
def _attn_fwd_kernel(Q, K, V, O, LSE, MASK, sqb, sqh, sqm, sqd, skb, skh, skn, skd, svb, svh, svn, svd,
                     sob, soh, som, sod, smb, smh, smm, smn, H, Lq, Lk, D, GROUP, qk_scale, win_left, win_right,
                     dropout_p, seed, MASK_KIND: tl.constexpr, DROPOUT: tl.constexpr, PRECISION: tl.constexpr,
                     BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    bh = tl.program_id(0)
    pid_m = tl.program_id(1)
    b = (bh // H).to(tl.int64)
    h = (bh % H).to(tl.int64)
    hk = h // GROUP
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    d_ok = offs_d[None, :] < D
    q = tl.load(Q + b * sqb + h * sqh + rows[:, None].to(tl.int64) * sqm + offs_d[None, :] * sqd,
                mask=(rows[:, None] < Lq) & d_ok, other=0.0)
    m_i = tl.full([BLOCK_M], -float("inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    lo, hi = _tile_range(pid_m, BLOCK_M, BLOCK_N, win_left, win_right, Lk)
    k_base = K + b * skb + hk * skh
    v_base = V + b * svb + hk * svh
    for start_n in range(lo, hi, BLOCK_N):
        cols = start_n + offs_n
        kv_mask = (cols[:, None] < Lk) & d_ok
        k = tl.load(k_base + cols[:, None].to(tl.int64) * skn + offs_d[None, :] * skd, mask=kv_mask, other=0.0)
        s = _scores(q, k, rows, cols, MASK, smb, smh, smm, smn, b, h, Lq, Lk, qk_scale, win_left, win_right,
                    MASK_KIND, PRECISION)
        m_new = tl.maximum(m_i, tl.max(s, 1))
        m_safe = tl.where(m_new == -float("inf"), 0.0, m_new)
        p = tl.exp2(s - m_safe[:, None])
        alpha = tl.exp2(m_i - m_safe)
        l_i = l_i * alpha + tl.sum(p, 1)
        if DROPOUT:
            p = tl.where(_keep(seed, bh, rows, cols, Lq, Lk, dropout_p), p / (1.0 - dropout_p), 0.0)
        v = tl.load(v_base + cols[:, None].to(tl.int64) * svn + offs_d[None, :] * svd, mask=kv_mask, other=0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
        m_i = m_new
    empty = l_i == 0.0
    out = acc / tl.where(empty, 1.0, l_i)[:, None]
    tl.store(O + b * sob + h * soh + rows[:, None].to(tl.int64) * som + offs_d[None, :] * sod, out.to(O.dtype.element_ty),
             mask=(rows[:, None] < Lq) & d_ok)
    lse = tl.where(empty, float("inf"), m_i + tl.log2(tl.where(empty, 1.0, l_i)))
    tl.store(LSE + bh.to(tl.int64) * Lq + rows, lse, mask=rows < Lq)


@triton.jit
def _attn_bwd_delta_kernel(O, DO, DELTA, sob, soh, som, sod, sdb, sdh, sdm, sdd, H, Lq, D,
                           BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr):
    bh = tl.program_id(0)
    pid_m = tl.program_id(1)
    b = (bh // H).to(tl.int64)
    h = (bh % H).to(tl.int64)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mask = (rows[:, None] < Lq) & (offs_d[None, :] < D)
    o = tl.load(O + b * sob + h * soh + rows[:, None].to(tl.int64) * som + offs_d[None, :] * sod, mask=mask, other=0.0)
    do = tl.load(DO + b * sdb + h * sdh + rows[:, None].to(tl.int64) * sdm + offs_d[None, :] * sdd, mask=mask, other=0.0)
    delta = tl.sum(o.to(tl.float32) * do.to(tl.float32), 1)
    tl.store(DELTA + bh.to(tl.int64) * Lq + rows, delta, mask=rows < Lq)


@triton.jit
def _attn_bwd_dkdv_kernel(Q, K, V, DO, LSE, DELTA, DK, DV, DQ, MASK, sqb, sqh, sqm, sqd, skb, skh, skn, skd,
                          svb, svh, svn, svd, sdb, sdh, sdm, sdd, smb, smh, smm, smn, H, HKV, Lq, Lk, D, GROUP,
                          qk_scale, sm_scale, win_left, win_right, dropout_p, seed, MASK_KIND: tl.constexpr,
                          DROPOUT: tl.constexpr, DQ_ATOMIC: tl.constexpr, PRECISION: tl.constexpr,
                          BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    bhk = tl.program_id(0)
    pid_n = tl.program_id(1)
    b = (bhk // HKV).to(tl.int64)
    hk = (bhk % HKV).to(tl.int64)
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    d_ok = offs_d[None, :] < D
    kv_mask = (cols[:, None] < Lk) & d_ok
    k = tl.load(K + b * skb + hk * skh + cols[:, None].to(tl.int64) * skn + offs_d[None, :] * skd, mask=kv_mask, other=0.0)
    v = tl.load(V + b * svb + hk * svh + cols[:, None].to(tl.int64) * svn + offs_d[None, :] * svd, mask=kv_mask, other=0.0)
    dk = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    lo, hi = _tile_range(pid_n, BLOCK_N, BLOCK_M, win_right, win_left, Lq)
    for g in range(0, GROUP):
        h = hk * GROUP + g
        bh = b * H + h
        for start_m in range(lo, hi, BLOCK_M):
            rows = start_m + offs_m
            q_mask = (rows[:, None] < Lq) & d_ok
            q = tl.load(Q + b * sqb + h * sqh + rows[:, None].to(tl.int64) * sqm + offs_d[None, :] * sqd, mask=q_mask, other=0.0)
            do = tl.load(DO + b * sdb + h * sdh + rows[:, None].to(tl.int64) * sdm + offs_d[None, :] * sdd, mask=q_mask, other=0.0)
            lse = tl.load(LSE + bh * Lq + rows, mask=rows < Lq, other=float("inf"))
            delta = tl.load(DELTA + bh * Lq + rows, mask=rows < Lq, other=0.0)
            s = _scores(q, k, rows, cols, MASK, smb, smh, smm, smn, b, h, Lq, Lk, qk_scale, win_left, win_right,
                        MASK_KIND, PRECISION)
            p = tl.exp2(s - lse[:, None])
            dp = tl.dot(do, tl.trans(v), input_precision=PRECISION).to(tl.float32)
            if DROPOUT:
                keep = _keep(seed, bh, rows, cols, Lq, Lk, dropout_p)
                p_drop = tl.where(keep, p / (1.0 - dropout_p), 0.0)
                dp = tl.where(keep, dp / (1.0 - dropout_p), 0.0)
            else:
                p_drop = p
            dv += tl.dot(tl.trans(p_drop.to(do.dtype)), do, input_precision=PRECISION)
            ds = p * (dp - delta[:, None])
            dk += tl.dot(tl.trans(ds.to(q.dtype)), q, input_precision=PRECISION)
            if DQ_ATOMIC:  # dQ from the same tile (DQ: fp32, contiguous (B, Hq, Lq, D)): no dQ kernel redoing it
                dq = tl.dot(ds.to(k.dtype), k, input_precision=PRECISION) * sm_scale
                tl.atomic_add(DQ + (bh * Lq + rows[:, None]) * D + offs_d[None, :], dq, mask=q_mask)
    dk *= sm_scale
    out = (bhk.to(tl.int64) * Lk + cols[:, None]) * D + offs_d[None, :]  # dk, dv contiguous (B, Hkv, Lk, D)
    tl.store(DK + out, dk.to(DK.dtype.element_ty), mask=kv_mask)
    tl.store(DV + out, dv.to(DV.dtype.element_ty), mask=kv_mask)


@triton.jit
def _attn_bwd_dq_kernel(Q, K, V, DO, LSE, DELTA, DQ, MASK, sqb, sqh, sqm, sqd, skb, skh, skn, skd,
                        svb, svh, svn, svd, sdb, sdh, sdm, sdd, smb, smh, smm, smn, H, Lq, Lk, D, GROUP,
                        qk_scale, sm_scale, win_left, win_right, dropout_p, seed, MASK_KIND: tl.constexpr,
                        DROPOUT: tl.constexpr, PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                        BLOCK_D: tl.constexpr):
    bh = tl.program_id(0)
    pid_m = tl.program_id(1)
    b = (bh // H).to(tl.int64)
    h = (bh % H).to(tl.int64)
    hk = h // GROUP
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    d_ok = offs_d[None, :] < D
    q_mask = (rows[:, None] < Lq) & d_ok
    q = tl.load(Q + b * sqb + h * sqh + rows[:, None].to(tl.int64) * sqm + offs_d[None, :] * sqd, mask=q_mask, other=0.0)
    do = tl.load(DO + b * sdb + h * sdh + rows[:, None].to(tl.int64) * sdm + offs_d[None, :] * sdd, mask=q_mask, other=0.0)
    lse = tl.load(LSE + bh.to(tl.int64) * Lq + rows, mask=rows < Lq, other=float("inf"))
    delta = tl.load(DELTA + bh.to(tl.int64) * Lq + rows, mask=rows < Lq, other=0.0)
    dq = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    lo, hi = _tile_range(pid_m, BLOCK_M, BLOCK_N, win_left, win_right, Lk)
    for start_n in range(lo, hi, BLOCK_N):
        cols = start_n + offs_n
        kv_mask = (cols[:, None] < Lk) & d_ok
        k = tl.load(K + b * skb + hk * skh + cols[:, None].to(tl.int64) * skn + offs_d[None, :] * skd, mask=kv_mask, other=0.0)
        v = tl.load(V + b * svb + hk * svh + cols[:, None].to(tl.int64) * svn + offs_d[None, :] * svd, mask=kv_mask, other=0.0)
        s = _scores(q, k, rows, cols, MASK, smb, smh, smm, smn, b, h, Lq, Lk, qk_scale, win_left, win_right,
                    MASK_KIND, PRECISION)
        p = tl.exp2(s - lse[:, None])
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION).to(tl.float32)
        if DROPOUT:
            dp = tl.where(_keep(seed, bh, rows, cols, Lq, Lk, dropout_p), dp / (1.0 - dropout_p), 0.0)
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k.dtype), k, input_precision=PRECISION)
    dq *= sm_scale
    out = (bh.to(tl.int64) * Lq + rows[:, None]) * D + offs_d[None, :]  # dq contiguous (B, Hq, Lq, D)
    tl.store(DQ + out, dq.to(DQ.dtype.element_ty), mask=q_mask)


@triton.jit
def _dropout_keep_kernel(KEEP, H, Lq, Lk, dropout_p, seed, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    bh = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK_M + tl.arange(0, BLOCK_M)
    for start_n in range(0, Lk, BLOCK_N):
        cols = start_n + tl.arange(0, BLOCK_N)
        keep = _keep(seed, bh, rows, cols, Lq, Lk, dropout_p)
        ptr = KEEP + (bh.to(tl.int64) * Lq + rows[:, None]) * Lk + cols[None, :]
        tl.store(ptr, keep.to(tl.int8), mask=(rows[:, None] < Lq) & (cols[None, :] < Lk))


def _tiles(dtype, block_d, masked=False):
    """(forward, dK/dV, dQ, dK/dV with dQ by atomics or None) launch configs {BLOCK_M, BLOCK_N, num_warps,
    num_stages} on a GPU, chosen so the compiled kernels do not spill on sm_80/sm_90 at head dims up to 128
    (benchmarks/results/kernels_compile.md); fp32 runs three-pass TF32 products, whose operand tiles take
    three times the registers: smaller tiles, and at head dim 128 no room for the dQ accumulation (None: a
    separate dQ kernel). An attn_mask tile (masked) takes registers too: shorter dK/dV query tiles.
    The interpreter runs 16x16 tiles (fast on CPU, still several tiles per test case)."""
    tile = lambda m, n, warps, stages: {"BLOCK_M": m, "BLOCK_N": n, "num_warps": warps, "num_stages": stages}
    if interpreting():
        small = {"BLOCK_M": 16, "BLOCK_N": 16}
        return small, small, small, small
    if np.dtype(dtype) == np.float32:
        if block_d <= 64:
            dkdv_m = 16 if masked or block_d <= 32 else 32  # (BLOCK_D 32 lays out tf32x3 operands worse than 64)
            return tile(32, 32, 8, 2), tile(dkdv_m, 32, 8, 1), tile(32, 32, 8, 1), tile(16, 32, 8, 1)
        return tile(32, 16, 8, 2), tile(16, 16, 8, 1), tile(16, 16, 8, 1), None
    if block_d <= 64:
        return tile(64, 64, 4, 2), tile(32 if masked else 64, 64, 8, 1), tile(64, 64, 8, 2), tile(32, 64, 8, 1)
    return tile(64, 64, 8, 2), tile(32, 64, 8, 1), tile(32, 64, 8, 1), tile(16 if masked else 32, 64, 8, 1)


def _with_blocks(config, block_m, block_n):
    config = dict(config)
    if block_m:
        config["BLOCK_M"] = dot_block(block_m, "block_m")
    if block_n:
        config["BLOCK_N"] = dot_block(block_n, "block_n")
    return config


class _Launch:
    """Checked shapes, the mask's 4-D element strides and the window, shared by forward and backward."""

    def __init__(self, q, k, v, attn_mask, causal, window, scale, block_m, block_n, allow_tf32=None):
        check_float("flash_attention", q, k, v)
        if q.ndim != 4 or k.ndim != 4 or v.shape != k.shape or q.shape[0] != k.shape[0] or q.shape[3] != k.shape[3]:
            raise ValueError(f"flash_attention: expected q (B, Hq, Lq, D), k and v (B, Hkv, Lk, D), "
                             f"got {q.shape}, {k.shape}, {v.shape}")
        if q.dtype != k.dtype or q.dtype != v.dtype:
            raise TypeError(f"flash_attention: q, k, v dtypes differ: {q.dtype}, {k.dtype}, {v.dtype}")
        self.B, self.H, self.Lq, self.D = q.shape
        self.Hkv, self.Lk = k.shape[1], k.shape[2]
        if self.H % self.Hkv:
            raise ValueError(f"flash_attention: {self.H} query heads is not a multiple of {self.Hkv} kv heads")
        self.group = self.H // self.Hkv
        self.scale = 1.0 / math.sqrt(self.D) if scale is None else float(scale)
        big = self.Lq + self.Lk + 1
        left, right = (big, big) if window is None else (big if w is None or w < 0 else int(w) for w in window)
        if causal:
            right = min(right, 0)
        self.win_left, self.win_right = left, right
        self.mask_kind, self.mask, self.mask_strides = 0, q, (0, 0, 0, 0)
        if attn_mask is not None:
            target = (self.B, self.H, self.Lq, self.Lk)
            m = attn_mask.reshape((1,) * (4 - attn_mask.ndim) + attn_mask.shape)
            if m.ndim != 4 or any(s not in (1, t) for s, t in zip(m.shape, target)):
                raise RuntimeError(f"flash_attention: attn_mask of shape {attn_mask.shape} does not broadcast to {target}")
            self.mask_kind = 1 if m.dtype == np.bool_ else 2
            self.mask = m
            self.mask_strides = tuple(0 if n == 1 else s for n, s in zip(m.shape, elem_strides(m)))
        self.block_d = max(16, next_pow2(self.D))
        fwd, dkdv, dq, dkdv_dq = _tiles(q.dtype, self.block_d, masked=self.mask_kind != 0)
        self.fwd, self.dkdv, self.dq = (_with_blocks(t, block_m, block_n) for t in (fwd, dkdv, dq))
        self.dkdv_dq = _with_blocks(dkdv_dq, block_m, block_n) if dkdv_dq is not None else None
        if allow_tf32 is None:
            from ..backends import cuda

            allow_tf32 = cuda.matmul.allow_tf32  # PyTorch's SDPA math path is a matmul: no TF32 by default
        self.precision = dot_precision(q.dtype, allow_tf32)

    def grid(self, length, block, heads):
        """(B * heads, blocks along the sequence): B*H goes on axis 0, whose limit is 2**31 - 1 (axis 1 and
        2 stop at 65535, which B=2048, H=32 decoding would pass)."""
        return (self.B * heads, triton.cdiv(length, block))


@launcher
def flash_attention_fwd(q, k, v, attn_mask=None, causal=False, window=None, scale=None, dropout_p=0.0, seed=0,
                        block_m=None, block_n=None, allow_tf32=None):
    """Returns (out, lse): out (B, Hq, Lq, D) contiguous in q's dtype, lse (B, Hq, Lq) fp32 (log2 domain),
    saved for flash_attention_bwd. window: None or (left, right), None/-1 meaning unbounded on that side.
    allow_tf32: TF32 products for float32 inputs (default mytorch.backends.cuda.matmul.allow_tf32, False)."""
    c = _Launch(q, k, v, attn_mask, causal, window, scale, block_m, block_n, allow_tf32)
    xp = xp_of(q)
    out = xp.empty(q.shape, q.dtype)
    lse = xp.empty((c.B, c.H, c.Lq), np.float32)
    if out.size:
        t = to_triton
        _attn_fwd_kernel[c.grid(c.Lq, c.fwd["BLOCK_M"], c.H)](
            t(q), t(k), t(v), t(out), t(lse), t(c.mask), *elem_strides(q), *elem_strides(k), *elem_strides(v),
            *elem_strides(out), *c.mask_strides, c.H, c.Lq, c.Lk, c.D, c.group, c.scale * LOG2E, c.win_left,
            c.win_right, float(dropout_p), int(seed), MASK_KIND=c.mask_kind, DROPOUT=dropout_p > 0,
            PRECISION=c.precision, BLOCK_D=c.block_d, **c.fwd)
        count("flash_attention_fwd")
    return out, lse


@launcher
def flash_attention_bwd(dout, q, k, v, out, lse, attn_mask=None, causal=False, window=None, scale=None,
                        dropout_p=0.0, seed=0, block_m=None, block_n=None, allow_tf32=None, deterministic=None):
    """Returns (dq, dk, dv), contiguous, shaped and typed like q, k, v. Same options as the forward.
    deterministic: no atomics (with dropout, dQ then gets its own kernel); default
    mytorch.use_deterministic_algorithms' setting."""
    c = _Launch(q, k, v, attn_mask, causal, window, scale, block_m, block_n, allow_tf32)
    xp = xp_of(q)
    dq, dk, dv = xp.empty(q.shape, q.dtype), xp.empty(k.shape, k.dtype), xp.empty(v.shape, v.dtype)
    if not q.size or not k.size:
        dq[...] = 0
        dk[...] = 0
        dv[...] = 0
        return dq, dk, dv
    t = to_triton
    delta = xp.empty((c.B, c.H, c.Lq), np.float32)
    _attn_bwd_delta_kernel[c.grid(c.Lq, c.dq["BLOCK_M"], c.H)](
        t(out), t(dout), t(delta), *elem_strides(out), *elem_strides(dout), c.H, c.Lq, c.D,
        BLOCK_M=c.dq["BLOCK_M"], BLOCK_D=c.block_d)
    common = dict(MASK_KIND=c.mask_kind, DROPOUT=dropout_p > 0, PRECISION=c.precision, BLOCK_D=c.block_d)
    strides = (*elem_strides(q), *elem_strides(k), *elem_strides(v), *elem_strides(dout), *c.mask_strides)
    # with dropout, dQ is accumulated (fp32 atomics) by the dK/dV programs: each tile's scores and dropout
    # mask are then computed once in the backward instead of twice (once more for the dQ kernel)
    if deterministic is None:
        from .._determinism import are_deterministic_algorithms_enabled

        deterministic = are_deterministic_algorithms_enabled()
    dq_atomic = dropout_p > 0 and c.dkdv_dq is not None and not deterministic
    dq32 = (dq if q.dtype == np.float32 else xp.empty(q.shape, np.float32)) if dq_atomic else None
    if dq_atomic:
        dq32[...] = 0
    dkdv = c.dkdv_dq if dq_atomic else c.dkdv
    _attn_bwd_dkdv_kernel[c.grid(c.Lk, dkdv["BLOCK_N"], c.Hkv)](
        t(q), t(k), t(v), t(dout), t(lse), t(delta), t(dk), t(dv), t(dq32) if dq_atomic else t(dk), t(c.mask),
        *strides, c.H, c.Hkv, c.Lq, c.Lk, c.D, c.group, c.scale * LOG2E, c.scale, c.win_left, c.win_right,
        float(dropout_p), int(seed), DQ_ATOMIC=dq_atomic, **common, **dkdv)
    if dq_atomic:
        if dq32 is not dq:
            dq[...] = dq32
    else:
        _attn_bwd_dq_kernel[c.grid(c.Lq, c.dq["BLOCK_M"], c.H)](
            t(q), t(k), t(v), t(dout), t(lse), t(delta), t(dq), t(c.mask), *strides, c.H, c.Lq, c.Lk, c.D, c.group,
            c.scale * LOG2E, c.scale, c.win_left, c.win_right, float(dropout_p), int(seed), **common, **c.dq)
    count("flash_attention_bwd")
    return dq, dk, dv


def dropout_keep_mask(B, H, Lq, Lk, dropout_p, seed, xp=np):
    """The (B, H, Lq, Lk) boolean keep mask that the kernels regenerate (for tests and debugging)."""
    keep = xp.empty((B, H, Lq, Lk), np.int8)
    _dropout_keep_kernel[(B * H, triton.cdiv(Lq, 16))](to_triton(keep), H, Lq, Lk, float(dropout_p), int(seed),
                                                       BLOCK_M=16, BLOCK_N=16)
    return keep.astype(bool)


def reference_mask(B, H, Lq, Lk, attn_mask=None, causal=False, window=None):
    """(visible bool (B|1, H|1, Lq, Lk), additive float or 0) as the kernels see them."""
    i, j = np.arange(Lq)[:, None], np.arange(Lk)[None, :]
    visible = np.ones((Lq, Lk), bool)
    if causal:
        visible &= j <= i
    if window is not None:
        left, right = window
        if left is not None and left >= 0:
            visible &= j >= i - left
        if right is not None and right >= 0:
            visible &= j <= i + right
    visible = np.broadcast_to(visible, (1, 1, Lq, Lk))
    additive = 0.0
    if attn_mask is not None:
        if attn_mask.dtype == np.bool_:
            visible = visible & attn_mask
        else:
            additive = attn_mask.astype(np.float64)
    return visible, additive
