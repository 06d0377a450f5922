"""Rotary position embedding (RoPE), forward and backward.

x (B, H, L, D) with any strides (pass a (B, L, H, D) array as x.transpose(0, 2, 1, 3)); cos, sin (L, R/2)
for rotary dim R <= D (the last D - R features pass through). Pairs (x1, x2) are rotated by the angle of
their position: out1 = x1 cos - x2 sin, out2 = x2 cos + x1 sin. Pairs are the two halves of the first
R features ("rotate_half", GPT-NeoX/LLaMA) or adjacent features (interleaved=True, GPT-J).
Rotation is orthogonal, so the backward is the same kernel with sin negated.
"""
import numpy as np
import triton
import triton.language as tl

from . import check_float, count, elem_strides, launcher, next_pow2, to_triton, xp_of


@triton.jit
def _rotary_kernel(x_ptr, cos_ptr, sin_ptr, out_ptr, H, L, D, half, sxb, sxh, sxl, sxd, sob, soh, sol, sod,
                   INTERLEAVED: tl.constexpr, BACKWARD: tl.constexpr, BLOCK_H: tl.constexpr,
                   BLOCK_D: tl.constexpr):
    row = tl.program_id(0)  # one (b, h, l) row of D features
    b = (row // (H * L)).to(tl.int64)
    h = ((row // L) % H).to(tl.int64)
    pos = (row % L).to(tl.int64)
    x_row = x_ptr + b * sxb + h * sxh + pos * sxl
    o_row = out_ptr + b * sob + h * soh + pos * sol
    j = tl.arange(0, BLOCK_H)
    jm = j < half
    if INTERLEAVED:
        i1, i2 = 2 * j, 2 * j + 1
    else:
        i1, i2 = j, j + half
    x1 = tl.load(x_row + i1 * sxd, mask=jm, other=0.0).to(tl.float32)
    x2 = tl.load(x_row + i2 * sxd, mask=jm, other=0.0).to(tl.float32)
    c = tl.load(cos_ptr + pos * half + j, mask=jm, other=0.0).to(tl.float32)
    s = tl.load(sin_ptr + pos * half + j, mask=jm, other=0.0).to(tl.float32)
    if BACKWARD:
        s = -s
    tl.store(o_row + i1 * sod, (x1 * c - x2 * s).to(out_ptr.dtype.element_ty), mask=jm)
    tl.store(o_row + i2 * sod, (x2 * c + x1 * s).to(out_ptr.dtype.element_ty), mask=jm)
    d = 2 * half + tl.arange(0, BLOCK_D)  # pass-through tail features
    dm = d < D
    tl.store(o_row + d * sod, tl.load(x_row + d * sxd, mask=dm), mask=dm)


def _rotary(x, cos, sin, interleaved, backward, block_size):
    check_float("rotary", x)
    if x.ndim != 4 or cos.shape != sin.shape or cos.ndim != 2:
        raise ValueError(f"rotary: expected x (B, H, L, D) and cos/sin (L, R/2), got {x.shape}, {cos.shape}, {sin.shape}")
    B, H, L, D = x.shape
    half = cos.shape[1]
    if cos.shape[0] < L or 2 * half > D:
        raise ValueError(f"rotary: cos/sin {cos.shape} do not cover seq len {L} and head dim {D}")
    xp = xp_of(x)
    cos, sin = xp.ascontiguousarray(cos[:L]), xp.ascontiguousarray(sin[:L])
    out = xp.empty_like(x)  # same memory layout as x
    if x.size:
        _rotary_kernel[(B * H * L,)](to_triton(x), to_triton(cos), to_triton(sin), to_triton(out), H, L, D, half,
                                     *elem_strides(x), *elem_strides(out), INTERLEAVED=interleaved, BACKWARD=backward,
                                     BLOCK_H=block_size or max(next_pow2(half), 1),
                                     BLOCK_D=max(next_pow2(D - 2 * half), 1))
        count("rotary_bwd" if backward else "rotary_fwd")
    return out


@launcher
def rotary_fwd(x, cos, sin, interleaved=False, block_size=None):
    """Returns the rotated x, same shape, dtype and memory layout as x."""
    return _rotary(x, cos, sin, interleaved, False, block_size)


@launcher
def rotary_bwd(dy, cos, sin, interleaved=False, block_size=None):
    return _rotary(dy, cos, sin, interleaved, True, block_size)


def rotary_cos_sin(seq_len, rotary_dim, base=10000.0, xp=np):
    """The usual fp32 tables: angle[l, j] = l * base^(-2j / rotary_dim)."""
    inv_freq = base ** (-np.arange(0, rotary_dim, 2, dtype=np.float64) / rotary_dim)
    ang = np.arange(seq_len)[:, None] * inv_freq[None, :]
    return xp.asarray(np.cos(ang).astype(np.float32)), xp.asarray(np.sin(ang).astype(np.float32))


def reference(x, cos, sin, interleaved=False):
    x = x.astype(np.float64)
    half = cos.shape[1]
    L = x.shape[2]
    c, s = cos[:L].astype(np.float64), sin[:L].astype(np.float64)
    out = x.copy()
    if interleaved:
        x1, x2 = x[..., 0:2 * half:2], x[..., 1:2 * half:2]
        out[..., 0:2 * half:2], out[..., 1:2 * half:2] = x1 * c - x2 * s, x2 * c + x1 * s
    else:
        x1, x2 = x[..., :half], x[..., half:2 * half]
        out[..., :half], out[..., half:2 * half] = x1 * c - x2 * s, x2 * c + x1 * s
    return out
