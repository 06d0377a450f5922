"""conv2d as implicit GEMM (no im2col buffer), forward and backward, NCHW, stride/padding/dilation/groups.

Forward, per group g:  out[m, o] = sum_k X[m, k] W[k, o]  with rows m = (n, oh, ow), columns o (output
channel of the group) and reduction k = (c, kh, kw); X[m, k] = x[n, c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
is gathered on the fly with masked loads (zero padding = the mask).
Backward input: dx[(n, ih, iw), c] = sum_(o, kh, kw) dy[n, o, oh, ow] w[o, c, kh, kw] where
oh = (ih + ph - kh*dh) / sh must be a whole number inside [0, OH) (the gather mask).
Backward weight: dw[o, (c, kh, kw)] = sum_(n, oh, ow) dy[n, o, oh, ow] X[(n, oh, ow), (c, kh, kw)].
Bias gradient: dy summed over (n, oh, ow) on the host. float32 products: TF32 by default, as PyTorch's
cudnn convolutions (mytorch.backends.cudnn.allow_tf32); allow_tf32=False gives IEEE fp32.
"""
import numpy as np
import triton
import triton.language as tl

from . import check_float, count, dot_block, dot_precision, elem_strides, interpreting, launcher, to_triton, xp_of


TARGET_PROGRAMS = 264  # split-K aims at about two programs per SM of a 132-SM GPU


@triton.jit
def _unflatten3(i, B, C):
    """Split a flat index over (A, B, C) into its three coordinates (implicit-GEMM row/column ids)."""
    return i // (B * C), (i // C) % B, i % C


@triton.jit
def _conv_fwd_kernel(X, W, BIAS, OUT, N, C, H, Wd, O, OH, OW, KH, KW, Cg, Og, sh, sw, ph, pw, dh, dw,
                     sxn, sxc, sxh, sxw, swo, swc, swh, sww, HAS_BIAS: tl.constexpr, PRECISION: tl.constexpr,
                     BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    g = tl.program_id(2)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    ro = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    n, oh, ow = _unflatten3(rm, OH, OW)
    m_ok = rm < N * OH * OW
    o_ok = ro < Og
    K = Cg * KH * KW
    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    for k0 in range(0, K, BLOCK_K):
        rk = k0 + tl.arange(0, BLOCK_K)
        c, kh, kw = _unflatten3(rk, KH, KW)
        ih = oh[:, None] * sh - ph + kh[None, :] * dh
        iw = ow[:, None] * sw - pw + kw[None, :] * dw
        a_ok = m_ok[:, None] & (rk[None, :] < K) & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < Wd)
        a = tl.load(X + n[:, None].to(tl.int64) * sxn + (g * Cg + c[None, :]) * sxc + ih * sxh + iw * sxw,
                    mask=a_ok, other=0.0)
        b = tl.load(W + (g * Og + ro[None, :]) * swo + c[:, None] * swc + kh[:, None] * swh + kw[:, None] * sww,
                    mask=(rk[:, None] < K) & o_ok[None, :], other=0.0)
        acc += tl.dot(a, b, input_precision=PRECISION)
    if HAS_BIAS:
        acc += tl.load(BIAS + g * Og + ro, mask=o_ok, other=0.0).to(tl.float32)[None, :]
    out = OUT + ((n[:, None].to(tl.int64) * O + g * Og + ro[None, :]) * OH + oh[:, None]) * OW + ow[:, None]
    tl.store(out, acc.to(OUT.dtype.element_ty), mask=m_ok[:, None] & o_ok[None, :])


@triton.jit
def _conv_dx_kernel(DY, W, DX, N, C, H, Wd, O, OH, OW, KH, KW, Cg, Og, sh, sw, ph, pw, dh, dw,
                    swo, swc, swh, sww, PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    g = tl.program_id(2)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rc = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    n, ih, iw = _unflatten3(rm, H, Wd)
    m_ok = rm < N * H * Wd
    c_ok = rc < Cg
    K = Og * KH * KW
    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    for k0 in range(0, K, BLOCK_K):
        rk = k0 + tl.arange(0, BLOCK_K)
        o, kh, kw = _unflatten3(rk, KH, KW)
        th = ih[:, None] + ph - kh[None, :] * dh
        tw = iw[:, None] + pw - kw[None, :] * dw
        oh = th // sh
        ow = tw // sw
        a_ok = (m_ok[:, None] & (rk[None, :] < K) & (th >= 0) & (tw >= 0) & (oh * sh == th) & (ow * sw == tw)
                & (oh < OH) & (ow < OW))
        a = tl.load(DY + ((n[:, None].to(tl.int64) * O + g * Og + o[None, :]) * OH + oh) * OW + ow,
                    mask=a_ok, other=0.0)
        b = tl.load(W + (g * Og + o[:, None]) * swo + rc[None, :] * swc + kh[:, None] * swh + kw[:, None] * sww,
                    mask=(rk[:, None] < K) & c_ok[None, :], other=0.0)
        acc += tl.dot(a, b, input_precision=PRECISION)
    out = DX + ((n[:, None].to(tl.int64) * C + g * Cg + rc[None, :]) * H + ih[:, None]) * Wd + iw[:, None]
    tl.store(out, acc.to(DX.dtype.element_ty), mask=m_ok[:, None] & c_ok[None, :])


@triton.jit
def _conv_dw_kernel(DY, X, DW, N, C, H, Wd, O, OH, OW, KH, KW, Cg, Og, sh, sw, ph, pw, dh, dw,
                    sxn, sxc, sxh, sxw, split, r_chunk, PRECISION: tl.constexpr, BLOCK_M: tl.constexpr,
                    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    # tile: BLOCK_M output channels x BLOCK_N of (c, kh, kw); reduction over BLOCK_K of (n, oh, ow).
    # split-K: program (.., .., g * split + part) sums rows [part * r_chunk, (part + 1) * r_chunk) into its
    # own fp32 slice DW[part] (summed on the host: deterministic, no atomics)
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    g = tl.program_id(2) // split
    part = tl.program_id(2) % split
    ro = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rq = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    c, kh, kw = _unflatten3(rq, KH, KW)
    o_ok = ro < Og
    q_ok = rq < Cg * KH * KW
    R = N * OH * OW
    r_begin = part * r_chunk
    r_end = tl.minimum(r_begin + r_chunk, R)
    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    for r0 in range(r_begin, r_end, BLOCK_K):
        rr = r0 + tl.arange(0, BLOCK_K)
        n, oh, ow = _unflatten3(rr, OH, OW)
        r_ok = rr < r_end
        a = tl.load(DY + ((n[None, :].to(tl.int64) * O + g * Og + ro[:, None]) * OH + oh[None, :]) * OW + ow[None, :],
                    mask=o_ok[:, None] & r_ok[None, :], other=0.0)
        ih = oh[:, None] * sh - ph + kh[None, :] * dh
        iw = ow[:, None] * sw - pw + kw[None, :] * dw
        b_ok = r_ok[:, None] & q_ok[None, :] & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < Wd)
        b = tl.load(X + n[:, None].to(tl.int64) * sxn + (g * Cg + c[None, :]) * sxc + ih * sxh + iw * sxw,
                    mask=b_ok, other=0.0)
        acc += tl.dot(a, b, input_precision=PRECISION)
    out = DW + (part.to(tl.int64) * O + g * Og + ro[:, None]) * (Cg * KH * KW) + rq[None, :]
    tl.store(out, acc.to(DW.dtype.element_ty), mask=o_ok[:, None] & q_ok[None, :])


def _pair(v):
    return (int(v), int(v)) if np.isscalar(v) else tuple(int(u) for u in v)


class _Geometry:
    def __init__(self, x_shape, w_shape, stride, padding, dilation, groups):
        self.N, self.C, self.H, self.W = x_shape
        self.O, cg, self.KH, self.KW = w_shape
        self.sh, self.sw = _pair(stride)
        self.ph, self.pw = _pair(padding)
        self.dh, self.dw = _pair(dilation)
        self.groups = groups
        if self.C != cg * groups or self.O % groups:
            raise RuntimeError(f"conv2d: input {x_shape} with weight {w_shape} and groups={groups} do not match")
        self.Cg, self.Og = cg, self.O // groups
        self.OH = (self.H + 2 * self.ph - self.dh * (self.KH - 1) - 1) // self.sh + 1
        self.OW = (self.W + 2 * self.pw - self.dw * (self.KW - 1) - 1) // self.sw + 1
        if self.OH <= 0 or self.OW <= 0:
            raise RuntimeError(f"conv2d: kernel {w_shape[2:]} larger than padded input {x_shape[2:]}")

    def args(self):
        return (self.N, self.C, self.H, self.W, self.O, self.OH, self.OW, self.KH, self.KW, self.Cg, self.Og,
                self.sh, self.sw, self.ph, self.pw, self.dh, self.dw)


def _blocks(blocks):
    if blocks:
        return tuple(dot_block(b, "blocks") for b in blocks)
    return (16, 16, 16) if interpreting() else (64, 64, 32)


def launch_options(dtype, allow_tf32=None):
    """(PRECISION, extra launch kwargs). float32 follows PyTorch's cudnn default: TF32 allowed
    (mytorch.backends.cudnn.allow_tf32 = True); pass allow_tf32=False for IEEE fp32 products. The
    (64, 64) tile's gather indices need 8 warps to stay clear of register spills."""
    if allow_tf32 is None:
        from ..backends import cudnn

        allow_tf32 = cudnn.allow_tf32
    return dot_precision(dtype, allow_tf32), ({} if interpreting() else {"num_warps": 8, "num_stages": 2})


@launcher
def conv2d_fwd(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, blocks=None, allow_tf32=None):
    """x (N, C, H, W), weight (O, C/groups, KH, KW), bias (O,) -> out (N, O, OH, OW) contiguous.
    padding is an int or pair (numbers; resolve 'same'/'valid' before calling). allow_tf32: see
    launch_options."""
    check_float("conv2d", x, weight, bias)
    geo = _Geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    out = xp_of(x).empty((geo.N, geo.O, geo.OH, geo.OW), x.dtype)
    bm, bn, bk = _blocks(blocks)
    precision, extra = launch_options(x.dtype, allow_tf32)
    if out.size:
        grid = (triton.cdiv(geo.N * geo.OH * geo.OW, bm), triton.cdiv(geo.Og, bn), groups)
        t = to_triton
        _conv_fwd_kernel[grid](t(x), t(weight), t(bias) if bias is not None else t(weight), t(out), *geo.args(),
                               *elem_strides(x), *elem_strides(weight), HAS_BIAS=bias is not None,
                               PRECISION=precision, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, **extra)
        count("conv2d_fwd")
    return out


@launcher
def conv2d_bwd(dy, x, weight, stride=1, padding=0, dilation=1, groups=1, need_dx=True, need_dweight=True,
               need_dbias=True, blocks=None, allow_tf32=None, split_k=None):
    """Returns (dx like x | None, dweight like weight | None, dbias (O,) | None).

    split_k: programs along the dW reduction over (n, oh, ow); default: enough to fill the GPU (a 64->64 3x3
    conv has 9 output tiles for 132 SMs), 1 when interpreting."""
    xp = xp_of(x)
    geo = _Geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    dy = xp.ascontiguousarray(dy)
    bm, bn, bk = _blocks(blocks)
    precision, extra = launch_options(x.dtype, allow_tf32)
    t = to_triton
    dx = dw = db = None
    if need_dx:
        dx = xp.zeros(x.shape, x.dtype)
        if dx.size and dy.size:
            grid = (triton.cdiv(geo.N * geo.H * geo.W, bm), triton.cdiv(geo.Cg, bn), groups)
            _conv_dx_kernel[grid](t(dy), t(weight), t(dx), *geo.args(), *elem_strides(weight),
                                  PRECISION=precision, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, **extra)
    if need_dweight:
        dw = xp.zeros(weight.shape, weight.dtype)
        if dw.size and dy.size:
            q = geo.Cg * geo.KH * geo.KW
            tiles = triton.cdiv(geo.Og, bm) * triton.cdiv(q, bn) * groups
            r_steps = triton.cdiv(geo.N * geo.OH * geo.OW, bk)
            split = split_k or (1 if interpreting() else max(1, min(TARGET_PROGRAMS // tiles, r_steps // 8)))
            split = max(1, min(int(split), r_steps))
            r_chunk = triton.cdiv(r_steps, split) * bk
            parts = xp.empty((split,) + weight.shape, np.float32)
            grid = (triton.cdiv(geo.Og, bm), triton.cdiv(q, bn), groups * split)
            _conv_dw_kernel[grid](t(dy), t(x), t(parts), *geo.args(), *elem_strides(x), split, r_chunk,
                                  PRECISION=precision, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, **extra)
            dw = (parts.sum(0) if split > 1 else parts[0]).astype(weight.dtype, copy=False)
    if need_dbias:
        db = dy.sum((0, 2, 3), dtype=np.float32).astype(weight.dtype)
    count("conv2d_bwd")
    return dx, dw, db
