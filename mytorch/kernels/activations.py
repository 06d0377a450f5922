"""Elementwise activations gelu (exact / tanh), relu, silu and swiglu, forward and backward.

The math lives in two @triton.jit helpers, `act_fwd(z, ACT)` and `act_grad(z, ACT)` (d act / dz), reused
by the linear epilogue. ACT codes: 0 none, 1 gelu (erf), 2 gelu_tanh, 3 relu, 4 silu.
Flat kernels over contiguous arrays (BLOCK elements per program); swiglu works on 2-D rows with row
strides so a and b can be the two halves of one (..., 2H) array without copies: y = silu(a) * b.
"""
import numpy as np
import triton
import triton.language as tl

from . import check_float, count, interpreting, launcher, to_triton, xp_of

ACTIVATIONS = {"none": 0, "gelu": 1, "gelu_tanh": 2, "relu": 3, "silu": 4}
SQRT_2_OVER_PI = 0.7978845608028654


@triton.jit
def _tanh(x):
    return 2.0 / (1.0 + tl.exp(-2.0 * x)) - 1.0


@triton.jit
def act_fwd(z, ACT: tl.constexpr):
    if ACT == 1:
        return 0.5 * z * (1.0 + tl.erf(z * 0.7071067811865476))
    elif ACT == 2:
        return 0.5 * z * (1.0 + _tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)))
    elif ACT == 3:
        return tl.maximum(z, 0.0)
    elif ACT == 4:
        return z / (1.0 + tl.exp(-z))
    else:
        return z


@triton.jit
def act_grad(z, ACT: tl.constexpr):
    if ACT == 1:
        cdf = 0.5 * (1.0 + tl.erf(z * 0.7071067811865476))
        return cdf + z * 0.3989422804014327 * tl.exp(-0.5 * z * z)
    elif ACT == 2:
        inner = 0.7978845608028654 * (z + 0.044715 * z * z * z)
        t = _tanh(inner)
        return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 0.134145 * z * z)
    elif ACT == 3:
        return tl.where(z > 0.0, 1.0, 0.0)
    elif ACT == 4:
        sig = 1.0 / (1.0 + tl.exp(-z))
        return sig * (1.0 + z * (1.0 - sig))
    else:
        return z * 0.0 + 1.0


@triton.jit
def _act_fwd_kernel(x_ptr, y_ptr, n, ACT: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    z = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(y_ptr + offs, act_fwd(z, ACT).to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _act_bwd_kernel(dy_ptr, x_ptr, dx_ptr, n, ACT: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    z = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    dy = tl.load(dy_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(dx_ptr + offs, (dy * act_grad(z, ACT)).to(dx_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _swiglu_kernel(a_ptr, b_ptr, dy_ptr, y_ptr, da_ptr, db_ptr, n_cols, a_stride, b_stride, dy_stride,
                   BACKWARD: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < n_cols
    a = tl.load(a_ptr + row * a_stride + cols, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + row * b_stride + cols, mask=mask, other=0.0).to(tl.float32)
    sig = 1.0 / (1.0 + tl.exp(-a))
    if BACKWARD:
        dy = tl.load(dy_ptr + row * dy_stride + cols, mask=mask, other=0.0).to(tl.float32)
        da = dy * b * sig * (1.0 + a * (1.0 - sig))
        tl.store(da_ptr + row * n_cols + cols, da.to(da_ptr.dtype.element_ty), mask=mask)
        tl.store(db_ptr + row * n_cols + cols, (dy * a * sig).to(db_ptr.dtype.element_ty), mask=mask)
    else:
        tl.store(y_ptr + row * n_cols + cols, (a * sig * b).to(y_ptr.dtype.element_ty), mask=mask)


def _code(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[activation]


def _block(block_size):
    return block_size or (256 if interpreting() else 1024)


@launcher
def activation_fwd(x, activation, block_size=None):
    """y = act(x) elementwise, any shape, fp16/fp32; activation in ACTIVATIONS."""
    check_float(activation, x)
    xp = xp_of(x)
    x = xp.ascontiguousarray(x)
    y = xp.empty_like(x)
    if x.size:
        block = _block(block_size)
        _act_fwd_kernel[(triton.cdiv(x.size, block),)](to_triton(x), to_triton(y), x.size, ACT=_code(activation),
                                                         BLOCK=block)
        count("activation_fwd")
    return y


@launcher
def activation_bwd(dy, x, activation, block_size=None):
    """dx = dy * act'(x), x the forward input."""
    xp = xp_of(x)
    x, dy = xp.ascontiguousarray(x), xp.ascontiguousarray(dy)
    dx = xp.empty_like(x)
    if x.size:
        block = _block(block_size)
        _act_bwd_kernel[(triton.cdiv(x.size, block),)](to_triton(dy), to_triton(x), to_triton(dx), x.size,
                                                         ACT=_code(activation), BLOCK=block)
        count("activation_bwd")
    return dx


def _rows(a):
    a2 = a.reshape(-1, a.shape[-1])
    if a2.strides[-1] != a2.itemsize:
        a2 = xp_of(a).ascontiguousarray(a2)
    return a2


def _swiglu(a, b, dy, block_size):
    check_float("swiglu", a, b)
    if a.shape != b.shape:
        raise ValueError(f"swiglu: a and b shapes differ: {a.shape} vs {b.shape}")
    xp = xp_of(a)
    a2, b2 = _rows(a), _rows(b)
    n_rows, n_cols = a2.shape
    dy2 = _rows(dy) if dy is not None else a2
    outs = [xp.empty((n_rows, n_cols), a.dtype) for _ in range(1 if dy is None else 2)]
    if a.size:
        block = block_size or min(1024, triton.next_power_of_2(n_cols))
        t = to_triton
        y, da, db = (outs[0], outs[0], outs[0]) if dy is None else (outs[0], outs[0], outs[1])
        _swiglu_kernel[(n_rows, triton.cdiv(n_cols, block))](
            t(a2), t(b2), t(dy2), t(y), t(da), t(db), n_cols, a2.strides[0] // a2.itemsize,
            b2.strides[0] // b2.itemsize, dy2.strides[0] // dy2.itemsize, BACKWARD=dy is not None, BLOCK=block)
        count("swiglu_bwd" if dy is not None else "swiglu_fwd")
    return tuple(o.reshape(a.shape) for o in outs)


@launcher
def swiglu_fwd(a, b, block_size=None):
    """y = silu(a) * b; a, b same shape (e.g. x[..., :H] and x[..., H:], views are fine)."""
    return _swiglu(a, b, None, block_size)[0]


@launcher
def swiglu_bwd(dy, a, b, block_size=None):
    """Returns (da, db)."""
    return _swiglu(a, b, dy, block_size)


def reference(x, activation):
    """float64 numpy (value, derivative) of an activation."""
    from math import erf, pi, sqrt

    z = x.astype(np.float64)
    if activation == "gelu":
        cdf = 0.5 * (1 + np.vectorize(erf)(z / sqrt(2)))
        return z * cdf, cdf + z * np.exp(-0.5 * z * z) / sqrt(2 * pi)
    if activation == "gelu_tanh":
        t = np.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z ** 3))
        return 0.5 * z * (1 + t), 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * z * z)
    if activation == "relu":
        return np.maximum(z, 0), (z > 0).astype(np.float64)
    if activation == "silu":
        s = 1 / (1 + np.exp(-z))
        return z * s, s * (1 + z * (1 - s))
    return z, np.ones_like(z)
