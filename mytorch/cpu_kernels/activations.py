"""GELU (exact and tanh), SiLU, exp and tanh, forward and derivative, one pass over contiguous float32 memory.

Forward: y = f(x). Backward: dx = dy * f'(x) from the saved input for GELU and SiLU, as the numpy bodies of
mytorch.nn.functional.activation do (nothing but x is kept), and from the saved output for tanh
(1 - y^2, as torch.tanh's backward); exp's backward is dy * y, plain arithmetic (cpu_kernels.binary).
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
        d = f32(0.5) * (f32(1.0) + _math.erf(v * _INV_SQRT2)) + v * _INV_SQRT_2PI * _math.exp(f32(-0.5) * v * v)
        out[i] = dy[i] * d


@_kernel
def _silu_fwd(x, out):
    for i in nb.prange(x.shape[0]):
        v = x[i]
        e = _math.exp(-abs(v))  # sigmoid from exp(-|x|), no overflow
        s = f32(1.0) / (f32(1.0) + e) if v >= 0 else e / (f32(1.0) + e)
        out[i] = v * s


@_kernel
def _silu_bwd(x, dy, out):
    for i in nb.prange(x.shape[0]):
        v = x[i]
        e = _math.exp(-abs(v))
        s = f32(1.0) / (f32(1.0) + e) if v >= 0 else e / (f32(1.0) + e)
        out[i] = dy[i] * s * (f32(1.0) + v * (f32(1.0) - s))


@_kernel
def _exp_fwd(x, out):
    for i in nb.prange(x.shape[0]):
        out[i] = _math.exp(x[i])


@_kernel
def _tanh_fwd(x, out):
    for i in nb.prange(x.shape[0]):
        out[i] = _math.tanh(x[i])


@_kernel
def _tanh_bwd(y, dy, out):
    for i in nb.prange(y.shape[0]):
        out[i] = dy[i] * (f32(1.0) - y[i] * y[i])


@_kernel
def _tanh_bwd_value(y, v, out):
    c = v[0]
    for i in nb.prange(y.shape[0]):
        out[i] = c * (f32(1.0) - y[i] * y[i])


_FWD = {"gelu": _gelu_fwd, "gelu_tanh": _gelu_tanh_fwd, "silu": _silu_fwd, "exp": _exp_fwd, "tanh": _tanh_fwd}
_BWD = {"gelu": _gelu_bwd, "gelu_tanh": _gelu_tanh_bwd, "silu": _silu_bwd}
NAMES = frozenset(_FWD)
GRAD_NAMES = frozenset(_BWD)  # those with a backward from x


def forward(name, x):
    out = np.empty_like(x)
    _FWD[name](x.reshape(-1), out.reshape(-1))
    return out


def backward(name, x, dy):
    out = np.empty_like(x)
    _BWD[name](x.reshape(-1), dy.reshape(-1), out.reshape(-1))
    return out


def tanh_grad(y, dy):
    """dy * (1 - y^2) from tanh's output y; dy of y's shape, or one value (a 1-element array) broadcast over it."""
    out = np.empty_like(y)
    (_tanh_bwd_value if dy.shape != y.shape else _tanh_bwd)(y.reshape(-1), dy.reshape(-1), out.reshape(-1))
    return out
