"""Activation functions. Each is one Function with a hand-written derivative (no chain of small ops),
so backward keeps one saved array instead of every intermediate.

A table row is `name: (forward(xp, x, *params), derivative(xp, saved, *params), saves)` where the
derivative is d out / d x evaluated from `saved`, the input ("x") or the output ("out").
"""
import math

import numpy as np

from ... import cpu_kernels
from ..._array import xp_of
from ...autograd.function import Function
from ...ops import elementwise as _elementwise
from ...ops import reduce as _reduce
from ...ops.elementwise import _erf, _sigmoid
from ...ops.inplace import apply_inplace
from ...ops.linalg import acc_dtype
from .linear import _use_fused

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "gelu", "silu", "sigmoid", "tanh", "softmax",
           "log_softmax", "elu", "elu_", "selu", "selu_", "celu", "celu_", "softplus", "mish", "glu", "hardtanh",
           "hardtanh_", "hardsigmoid", "hardswish", "softsign", "tanhshrink", "threshold", "threshold_", "prelu",
           "logsigmoid", "hardshrink", "softshrink", "gumbel_softmax"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_INV_SQRT2 = 1 / math.sqrt(2.0)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_GELU_K = math.sqrt(2 / math.pi)  # tanh approximation: 0.5 x (1 + tanh(k (x + 0.044715 x^3)))


def _softplus(xp, x, beta, threshold):
    bx = x * beta
    soft = xp.log1p(xp.exp(xp.minimum(bx, threshold))) / beta  # the min only avoids overflow warnings
    return xp.where(bx > threshold, x, soft)


def _gelu_tanh(xp, x):
    return xp.tanh(_GELU_K * (x + 0.044715 * x * x * x))


def _gelu_tanh_grad(xp, x):
    t = _gelu_tanh(xp, x)
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_K * (1 + 3 * 0.044715 * x * x)


def _mish_grad(xp, x):
    t = xp.tanh(_softplus(xp, x, 1.0, 20.0))
    return t + x * _sigmoid(xp, x) * (1 - t * t)


def _silu_grad(xp, x):
    s = _sigmoid(xp, x)
    return s * (1 + x * (1 - s))


def _hardswish_grad(xp, x):
    return xp.where(x <= -3, 0.0, xp.where(x < 3, x / 3 + 0.5, 1.0))


_TABLE = {
    "relu": (lambda xp, x: cpu_kernels.relu(x) if xp is np else xp.maximum(x, 0).astype(x.dtype),
             lambda xp, y: ~(y <= 0), "out"),  # threshold_backward: a nan passes its gradient
    "hardtanh": (lambda xp, x, lo, hi: xp.clip(x, lo, hi), lambda xp, x, lo, hi: (x > lo) & (x < hi), "x"),
    "leaky_relu": (lambda xp, x, slope: xp.where(x > 0, x, x * slope),
                   lambda xp, x, slope: xp.where(x > 0, 1.0, slope), "x"),
    "gelu": (lambda xp, x: 0.5 * x * (1 + _erf(xp, x * _INV_SQRT2)),
             lambda xp, x: 0.5 * (1 + _erf(xp, x * _INV_SQRT2)) + x * _INV_SQRT_2PI * xp.exp(-0.5 * x * x), "x"),
    "gelu_tanh": (lambda xp, x: 0.5 * x * (1 + _gelu_tanh(xp, x)), _gelu_tanh_grad, "x"),
    "silu": (lambda xp, x: x * _sigmoid(xp, x), _silu_grad, "x"),
    "elu": (lambda xp, x, alpha, scale: scale * xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0))),
            lambda xp, x, alpha, scale: scale * xp.where(x > 0, 1.0, alpha * xp.exp(xp.minimum(x, 0))), "x"),
    "celu": (lambda xp, x, alpha: xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0) / alpha)),
             lambda xp, x, alpha: xp.where(x > 0, 1.0, xp.exp(xp.minimum(x, 0) / alpha)), "x"),
    "softplus": (_softplus, lambda xp, x, beta, th: xp.where(x * beta > th, 1.0, _sigmoid(xp, x * beta)), "x"),
    "mish": (lambda xp, x: x * xp.tanh(_softplus(xp, x, 1.0, 20.0)), _mish_grad, "x"),
    "hardsigmoid": (lambda xp, x: xp.clip(x + 3, 0, 6) / 6, lambda xp, x: ((x > -3) & (x < 3)) / 6, "x"),
    "hardswish": (lambda xp, x: x * xp.clip(x + 3, 0, 6) / 6, _hardswish_grad, "x"),
    "softsign": (lambda xp, x: x / (1 + xp.abs(x)), lambda xp, x: 1 / ((1 + xp.abs(x)) ** 2), "x"),
    "tanhshrink": (lambda xp, x: x - xp.tanh(x), lambda xp, x: xp.tanh(x) ** 2, "x"),
    "threshold": (lambda xp, x, th, value: xp.where(x > th, x, value), lambda xp, x, th, value: x > th, "x"),
    "logsigmoid": (lambda xp, x: xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x))),
                   lambda xp, x: _sigmoid(xp, -x), "x"),
    "hardshrink": (lambda xp, x, lambd: xp.where(xp.abs(x) > lambd, x, 0),
                   lambda xp, x, lambd: xp.abs(x) > lambd, "x"),
    "softshrink": (lambda xp, x, lambd: xp.where(x > lambd, x - lambd, xp.where(x < -lambd, x + lambd, 0)),
                   lambda xp, x, lambd: xp.abs(x) > lambd, "x"),
}


# activations with a Triton kernel (mytorch.kernels.activations), under the same names
_KERNELS = {"relu", "gelu", "gelu_tanh", "silu"}
# ... and with a compiled CPU body (mytorch.cpu_kernels.activations), used for large float32 arrays
_CPU_BODIES = {"gelu", "gelu_tanh", "silu"}


class _Pointwise(Function):
    """Base of the table's Functions: y = f(x, *params), dy/dx from the saved input or output.
    fused=True (relu/gelu/silu) runs the Triton elementwise kernels, saving the input."""

    name = fwd = deriv = None
    saves = "x"

    @classmethod
    def forward(cls, ctx, x, *params, fused=False):
        ctx.params, ctx.fused = params, fused
        if fused:
            from ...kernels import activations as kernel

            ctx.save_for_backward(x)
            return kernel.activation_fwd(x, cls.name)
        if cls.name in _CPU_BODIES and cpu_kernels.use(x):
            from ...cpu_kernels import activations as cpu

            ctx.save_for_backward(x)
            return cpu.forward(cls.name, x)
        xp = xp_of(x)
        # numpy's float16/bfloat16 math is slow and coarse: compute in float32 and round once, as PyTorch does
        out = cls.fwd(xp, x.astype(np.float32) if xp is np and acc_dtype(x) is not None else x, *params)
        if out.dtype != x.dtype:
            out = out.astype(x.dtype)  # python-float params must not promote float16/32 results
        ctx.save_for_backward(x if cls.saves == "x" else out)
        return out

    @classmethod
    def backward(cls, ctx, grad):
        (saved,) = ctx.saved_tensors
        if ctx.fused:
            from ...kernels import activations as kernel

            return (kernel.activation_bwd(grad, saved, cls.name),)
        if cls.name in _CPU_BODIES and cpu_kernels.use(saved, grad):
            from ...cpu_kernels import activations as cpu

            return (cpu.backward(cls.name, saved, grad),) + (None,) * len(ctx.params)
        xp = xp_of(saved)
        if cls.name == "relu" and xp is np:
            return (cpu_kernels.relu_grad(grad, saved),)
        if xp is np and acc_dtype(saved) is not None:  # float32, as in forward (the engine rounds to the input's dtype)
            saved, grad = saved.astype(np.float32), grad.astype(np.float32)
        d = cls.deriv(xp, saved, *ctx.params)
        if d.dtype != grad.dtype and d.dtype.kind == "f":
            d = d.astype(grad.dtype)  # where(x > 0, 1.0, slope) etc. come out float64
        if grad.dtype.kind == "c":  # complex input (silu, ...): PyTorch's convention is grad * conj(f'(z))
            d = xp.conj(d)
        return (cpu_kernels.binary(np.multiply, grad, d) if xp is np and type(d) is np.ndarray else grad * d,) + (
            None,) * len(ctx.params)

    @classmethod
    def differentiable_backward(cls, ctx, grad):
        from ...ops import _tensor_xp

        (saved,) = ctx.saved_tensors
        d = _tensor_xp.fit(cls.deriv(_tensor_xp, saved, *ctx.params), grad)
        if grad.is_complex():
            d = _tensor_xp.conj(d)
        return (grad * d,) + (None,) * len(ctx.params)


_OPS = {name: type("".join(w.capitalize() for w in name.split("_")), (_Pointwise,),
                   {"name": name, "fwd": staticmethod(f), "deriv": staticmethod(d), "saves": s,
                    "__module__": __name__})
        for name, (f, d, s) in _TABLE.items()}


def _run(name, input, *params, inplace=False, fused=False):
    """fused: the caller's (nn module's) request for the Triton kernel; the global switch can also ask."""
    op = _OPS[name]
    fused = name in _KERNELS and _use_fused("activation", fused, input)
    if inplace:
        return apply_inplace(input, lambda t: op.apply(t, *params, fused=fused))
    return op.apply(input, *params, fused=fused)


def relu(input, inplace=False):
    return _run("relu", input, inplace=inplace)


def relu_(input):
    return relu(input, inplace=True)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _run("hardtanh", input, min_val, max_val, inplace=inplace)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _run("leaky_relu", input, negative_slope, inplace=inplace)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def gelu(input, approximate="none"):
    return _gelu(input, approximate)


def _gelu(input, approximate, fused=False):
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _run("gelu" if approximate == "none" else "gelu_tanh", input, fused=fused)


def silu(input, inplace=False):
    return _run("silu", input, inplace=inplace)


def sigmoid(input):
    return _elementwise.sigmoid(input)  # defined once, with the other unary ops


def tanh(input):
    return _elementwise.tanh(input)


def elu(input, alpha=1.0, inplace=False):
    return _run("elu", input, alpha, 1.0, inplace=inplace)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):
    return _run("elu", input, _SELU_ALPHA, _SELU_SCALE, inplace=inplace)


def selu_(input):
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _run("celu", input, alpha, inplace=inplace)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def softplus(input, beta=1.0, threshold=20.0):
    return _run("softplus", input, beta, threshold)


def mish(input, inplace=False):
    return _run("mish", input, inplace=inplace)


def hardsigmoid(input, inplace=False):
    return _run("hardsigmoid", input, inplace=inplace)


def hardswish(input, inplace=False):
    return _run("hardswish", input, inplace=inplace)


def softsign(input):
    return _run("softsign", input)


def tanhshrink(input):
    # composed, as PyTorch's: backward keeps tanh's result, not the input, so editing the input is allowed
    return input - input.tanh()


def threshold(input, threshold, value, inplace=False):
    return _run("threshold", input, threshold, value, inplace=inplace)


def threshold_(input, threshold, value):
    return _run("threshold", input, threshold, value, inplace=True)


def logsigmoid(input):
    return _run("logsigmoid", input)


def hardshrink(input, lambd=0.5):
    return _run("hardshrink", input, lambd)


def softshrink(input, lambd=0.5):
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return _run("softshrink", input, lambd)


# ---------------------------------------------------------------------------------------------
# activations with more than one input or output axis
# ---------------------------------------------------------------------------------------------
class GLU(Function):
    """glu(x) = a * sigmoid(b), with x split into halves a, b along `axis`."""

    @staticmethod
    def forward(ctx, x, axis):
        xp = xp_of(x)
        a, b = xp.split(x, 2, axis=axis)
        ctx.save_for_backward(x)  # backward splits it again (its derivative then reaches x: create_graph)
        ctx.axis = axis
        return a * _sigmoid(xp, b)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = xp_of(x)
        a, b = xp.split(x, 2, axis=ctx.axis)
        s = _sigmoid(xp, b)
        grad_a = grad * s
        grad_b = grad_a * a * (1 - s)
        return xp.concatenate([grad_a, grad_b], axis=ctx.axis), None

    @staticmethod
    def differentiable_backward(ctx, grad):
        from ...ops.shape import cat

        (x,) = ctx.saved_tensors
        a, b = x.chunk(2, ctx.axis)
        s = b.sigmoid()
        grad_a = grad * s
        return cat([grad_a, grad_a * a * (1 - s)], ctx.axis), None


def glu(input, dim=-1):
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    axis = input._wrap_dim(dim)
    if input.shape[axis] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {axis} is size {input.shape[axis]}")
    return GLU.apply(input, axis)


class PReLU(Function):
    """prelu(x, w) = x if x > 0 else w * x; w has one value per channel (dim 1) or a single value."""

    @staticmethod
    def forward(ctx, x, weight):
        w = _channel_view(weight, x.ndim)
        ctx.save_for_backward(x, weight)
        return xp_of(x).where(x > 0, x, w * x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        xp = xp_of(x)
        pos = x > 0
        grad_x = xp.where(pos, grad, _channel_view(weight, x.ndim) * grad) if ctx.needs_input_grad[0] else None
        grad_w = None
        if ctx.needs_input_grad[1]:
            contrib = xp.where(pos, 0, grad * x)
            if weight.size == 1:
                grad_w = contrib.sum().reshape(weight.shape)
            else:
                axes = tuple(i for i in range(x.ndim) if i != 1)
                grad_w = contrib.sum(axis=axes).reshape(weight.shape)
        return grad_x, grad_w

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, weight = ctx.saved_tensors
        pos = x.detach() > 0
        w = weight.reshape(()) if weight.numel() == 1 else weight.reshape((-1,) + (1,) * (x.ndim - 2))
        grad_x = _elementwise.where(pos, grad, w * grad) if ctx.needs_input_grad[0] else None
        grad_w = None
        if ctx.needs_input_grad[1]:
            contrib = (grad * x).masked_fill(pos, 0.0)
            axes = tuple(i for i in range(x.ndim) if i != 1)
            grad_w = (contrib.sum() if weight.numel() == 1 else contrib.sum(axes)).reshape(weight.shape)
        return grad_x, grad_w


def _channel_view(weight, ndim):
    """Shape the per-channel weight to broadcast along dim 1 of an ndim input."""
    if weight.size == 1:
        return weight.reshape(())
    shape = [1] * ndim
    shape[1 if ndim >= 2 else 0] = weight.size
    return weight.reshape(shape)


def prelu(input, weight):
    if weight.numel() != 1:
        channels = input.shape[1] if input.dim() >= 2 else (input.shape[0] if input.dim() == 1 else 1)
        if input.dim() == 0 or weight.numel() != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{weight.numel()} and channel size = {channels}.")
    return PReLU.apply(input, weight)


# ---------------------------------------------------------------------------------------------
# softmax family: the Function lives in ops/reduce.py (mytorch.softmax)
# ---------------------------------------------------------------------------------------------
def _softmax_dim(ndim):
    # PyTorch's legacy implicit choice when dim is not given
    import warnings

    warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax(input, dim, dtype, False)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax(input, dim, dtype, True)


def _softmax(input, dim, dtype, log, fused=False):
    """softmax / log_softmax with nn.Softmax's `fused` request (any dim: the kernel sees it moved last)."""
    if dim is None:
        dim = _softmax_dim(input.dim())
    name = "log_softmax" if log else "softmax"
    return _reduce._softmax(name, input, dim, dtype, log, _use_fused("softmax", fused))


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + g) / tau) with g ~ Gumbel(0, 1) drawn from mytorch's generator. hard=True returns
    one-hot vectors whose gradient is the soft sample's (the straight-through estimator). eps is unused,
    as in PyTorch (kept for compatibility)."""
    from ...ops import factory

    gumbels = -factory.empty_like(logits, memory_format=None).exponential_().log()
    y_soft = _softmax((logits + gumbels) / tau, dim, None, False)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = factory.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft
