"""GELU (exact and tanh) and SiLU, forward and derivative, one pass over contiguous float32 memory.

Forward: y = f(x). Backward: dx = dy * f'(x) from the saved input, as the numpy bodies of
mytorch.nn.functional.activation do (nothing but x is kept).
"""
import math

import numba as nb
import numpy as np

from . import _math, _parallel

f32 = np.float32
_K = f32(math.sqrt(2.0 / math.pi))  # tanh form: 0.5 x (1 + tanh(K (x + 0.044715 x^3)))
_C = f32(0.044715)
_INV_SQRT2 = f32(1.0 / math.sqrt(2.0))
_INV_SQRT_2PI = f32(1.0 / math.sqrt(2.0 * math.pi))
# error_model="numpy" (_parallel's default): no ZeroDivisionError checks, which would stop LLVM vectorizing
_kernel = _parallel.kernel(fastmath=_math.FAST)


@_kernel
def _gelu_tanh_fwd(x, out):
    for i in nb.prange(x.shape[0]):
        v = x[i]
        out[i] = f32(0.5) * v * (f32(1.0) + _math.tanh(_K * (v + _C * v * v * v)))


@_kernel
def _gelu_tanh_bwd(x, dy, out):
    for i in nb.prange(x.shape[0]):
        v = x[i]
        u = _K * (v + _C * v * v * v)
        t = _math.tanh(u)
        d = f32(0.5) * (f32(1.0) + t) + f32(0.5) * v * _math.sech2(u, t) * _K * (f32(1.0) + f32(3.0) * _C * v * v)
        out[i] = dy[i] * d


@_kernel
def _gelu_fwd(x, out):
    for i in nb.prange(x.shape[0]):
        v = x[i]
        out[i] = f32(0.5) * v * (f32(1.0) + _math.erf(v * _INV_SQRT2))


@_kernel
def _gelu_bwd(x, dy, out):
    for i in nb.prange(x.shape[0]):
        v = x[i]
        d = f32(0.5) * (f32(1.0) + _math.erf(v * _INV_SQRT2)) + v * _INV_SQRT_2PI * _math.exp_neg(f32(-0.5) * v * v)
        out[i] = dy[i] * d


@_kernel
def _silu_fwd(x, out):
    for i in nb.prange(x.shape[0]):
        v = x[i]
        e = _math.exp_neg(-abs(v))  # sigmoid from exp(-|x|), no overflow
        s = f32(1.0) / (f32(1.0) + e) if v >= 0 else e / (f32(1.0) + e)
        out[i] = v * s


@_kernel
def _silu_bwd(x, dy, out):
    for i in nb.prange(x.shape[0]):
        v = x[i]
        e = _math.exp_neg(-abs(v))
        s = f32(1.0) / (f32(1.0) + e) if v >= 0 else e / (f32(1.0) + e)
        out[i] = dy[i] * s * (f32(1.0) + v * (f32(1.0) - s))


_FWD = {"gelu": _gelu_fwd, "gelu_tanh": _gelu_tanh_fwd, "silu": _silu_fwd}
_BWD = {"gelu": _gelu_bwd, "gelu_tanh": _gelu_tanh_bwd, "silu": _silu_bwd}
NAMES = frozenset(_FWD)


def forward(name, x):
    out = np.empty_like(x)
    _FWD[name](x.reshape(-1), out.reshape(-1))
    return out


def backward(name, x, dy):
    out = np.empty_like(x)
    _BWD[name](x.reshape(-1), dy.reshape(-1), out.reshape(-1))
    return out
