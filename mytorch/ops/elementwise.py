"""Elementwise ops: arithmetic, comparisons, logic, and unary math, forward and backward together.

Broadcasting needs no code here: the engine sums a broadcast gradient back to each input's shape.
"""
import math
import warnings

import numpy as np

from .. import _dtype, cpu_kernels
from .._array import device_of_array, move_array, xp_of
from ..autograd.function import Function
from ..tensor import Tensor
from ._registry import public, tensor_methods
from ._util import float_input, promote


def _conj(v):
    """The conjugate of a complex Tensor (a derivative in a complex gradient: grad * conj(f'(z))); else v."""
    return v.conj() if isinstance(v, Tensor) and v.is_complex() else v


def _detached(v):
    return v.detach() if isinstance(v, Tensor) else v


class ToCopy(Function):
    """Device and dtype conversion (tensor.to); the gradient goes back to the source device and dtype."""

    @staticmethod
    def forward(ctx, x, device, np_dtype):
        ctx.src = (x.dtype, device_of_array(x))
        out = move_array(x, device)
        if out.dtype != np_dtype:
            if out.dtype.kind == "c" and np_dtype.kind != "c":
                warnings.warn("Casting complex values to real discards the imaginary part", UserWarning, stacklevel=3)
                out = out.real
            out = out.astype(np_dtype)
        elif out is x:
            out = x.copy()
        return out

    @staticmethod
    def backward(ctx, grad):
        dtype, src_device = ctx.src
        if grad.dtype.kind == "c" and dtype.kind != "c":
            grad = grad.real  # complex -> real cast: only the real part flows back (as PyTorch)
        return move_array(grad, src_device).astype(dtype, copy=False), None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        dtype, src_device = ctx.src
        if grad.is_complex() and dtype.kind != "c":
            grad = grad.real
        return grad.to(device=src_device, dtype=_dtype.from_numpy_dtype(dtype)), None, None


# ---------------------------------------------------------------------------------------------
# binary arithmetic
# ---------------------------------------------------------------------------------------------
class Add(Function):
    broadcast_grads = True

    @staticmethod
    def forward(ctx, x, y):
        return cpu_kernels.binary(np.add, x, y) if type(x) is np.ndarray else x + y

    @staticmethod
    def backward(ctx, grad):
        return grad, grad

    differentiable_backward = backward


class Sub(Function):
    broadcast_grads = True

    @staticmethod
    def forward(ctx, x, y):
        return cpu_kernels.binary(np.subtract, x, y) if type(x) is np.ndarray else x - y

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)

    differentiable_backward = backward


class Mul(Function):
    broadcast_grads = True

    @staticmethod
    def forward(ctx, x, y):
        need_x, need_y = ctx.needs_input_grad
        ctx.save_for_backward(x if need_y else None, y if need_x else None)  # as PyTorch: only what's read
        return cpu_kernels.binary(np.multiply, x, y) if type(x) is np.ndarray else x * y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        if grad.dtype.kind == "c":  # holomorphic: grad * conj(derivative)
            x, y = (xp_of(x).conj(x) if need_y else x), (xp_of(y).conj(y) if need_x else y)
        if type(grad) is np.ndarray and type(x) is type(y) is np.ndarray:  # large float32: over threads
            return (cpu_kernels.binary(np.multiply, grad, y) if need_x else None), (
                cpu_kernels.binary(np.multiply, grad, x) if need_y else None)
        return (grad * y if need_x else None), (grad * x if need_y else None)

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        if grad.is_complex():
            x, y = _conj(x), _conj(y)
        return (grad * y if need_x else None), (grad * x if need_y else None)


class Div(Function):
    broadcast_grads = True

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, y)
        return x / y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        if grad.dtype.kind == "c":  # holomorphic: grad * conj(derivative)
            xp = xp_of(grad)
            x, y = (xp.conj(x) if need_y else x), xp.conj(y)
        gx = grad / y if need_x else None
        gy = -grad * x / (y * y) if need_y else None
        return gx, gy

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        if grad.is_complex():
            x, y = _conj(x), _conj(y)
        return (grad / y if need_x else None), (-grad * x / (y * y) if need_y else None)


class Pow(Function):
    @staticmethod
    def forward(ctx, x, y):
        xp = xp_of(x) if not np.isscalar(x) else xp_of(y)
        x_int = isinstance(x, (int, np.integer)) or np.dtype(getattr(x, "dtype", np.float32)).kind in "biu"
        if isinstance(y, (int, np.integer)) and x_int and y < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if getattr(y, "dtype", None) is not None and y.dtype.kind == "i" and x_int and bool((y < 0).any()):
            # integer x ** negative y truncates, as in C: 1 for x == 1, +-1 for x == -1, else 0
            odd = (y % 2) != 0
            neg = xp.where(x == 1, 1, xp.where(x == -1, xp.where(odd, -1, 1), 0))
            out = xp.where(y < 0, neg, xp.power(x, xp.maximum(y, 0))).astype(np.result_type(x, y))
        else:
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # nan / inf, silently, as PyTorch
                out = xp.power(x, y)
        ctx.save_for_backward(x, y, None if np.isscalar(y) else out)  # pow(Tensor, Scalar) keeps no result
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y, out = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        gx = gy = None
        if need_x:
            if np.isscalar(y) and grad.dtype.kind == "c":  # complex z ** c: grad * conj(c z^(c-1))
                gx = grad * xp_of(grad).conj(y * x ** (y - 1)) if y != 0 else grad * 0
            elif np.isscalar(y):
                gx = grad * (y * x ** (y - 1)) if y != 0 else grad * 0
            else:
                xp = xp_of(y)
                d = xp.where(y == 0, 0, y * xp.power(x, y - 1))
                gx = grad * (xp.conj(d) if d.dtype.kind == "c" else d)  # complex: grad * conj(derivative)
        if need_y:
            xp = xp_of(out)
            # d/dy x^y = x^y log x, taken as 0 where x == 0 and y >= 0 (PyTorch's convention)
            log_x = xp.log(xp.where(x == 0, 1, x)) if not np.isscalar(x) else math.log(x) if x > 0 else (
                float("-inf") if x == 0 else float("nan"))
            d = out * log_x
            gy = grad * (xp.conj(d) if getattr(d, "dtype", None) is not None and d.dtype.kind == "c" else d)
            if not np.isscalar(x):
                gy = xp.where((x == 0) & (y >= 0), 0, gy)
        return gx, gy

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, y, out = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        gx = gy = None
        if need_x:
            if np.isscalar(y):
                gx = _conj(y * x ** (y - 1)) * grad if y != 0 else grad * 0
            else:
                gx = grad * _conj(Tensor.where(y * x ** (y - 1), y != 0, 0.0))
        if need_y:
            import mytorch

            if np.isscalar(x):
                log_x = math.log(x) if x > 0 else float("-inf") if x == 0 else float("nan")
                gy = grad * _conj(out * log_x)
            else:
                gy = grad * _conj(out * mytorch.log(mytorch.where(x == 0, 1.0, x)))
                gy = mytorch.where((x == 0) & (y >= 0), 0.0, gy)
        return gx, gy


class Maximum(Function):
    @staticmethod
    def forward(ctx, x, y):
        xp = xp_of(x)
        ctx.save_for_backward(x, y)
        return xp.maximum(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        # ties split the gradient evenly, as PyTorch does
        w = (x > y) + 0.5 * (x == y)
        return grad * w, grad * (1 - w)

    differentiable_backward = backward


class Minimum(Function):
    @staticmethod
    def forward(ctx, x, y):
        xp = xp_of(x)
        ctx.save_for_backward(x, y)
        return xp.minimum(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        w = (x < y) + 0.5 * (x == y)
        return grad * w, grad * (1 - w)

    differentiable_backward = backward


class Fmod(Function):
    """x - trunc(x / y) * y (the sign of x); Remainder below is the floor version (the sign of y)."""

    ufunc, rounding = "fmod", "trunc"

    @classmethod
    def forward(cls, ctx, x, y):
        ctx.save_for_backward(x, y)
        xp = xp_of(x) if not np.isscalar(x) else xp_of(y)
        with np.errstate(invalid="ignore", divide="ignore"):  # float x % 0 is nan, silently, as in PyTorch
            return getattr(xp, cls.ufunc)(x, y)

    @classmethod
    def backward(cls, ctx, grad):
        x, y = ctx.saved_tensors
        quotient = getattr(xp_of(grad), cls.rounding)(x / y)
        return grad, (-grad * quotient if ctx.needs_input_grad[1] else None)

    @classmethod
    def differentiable_backward(cls, ctx, grad):
        x, y = ctx.saved_tensors
        quotient = getattr(_detached(x) / _detached(y), cls.rounding)()  # piecewise constant
        return grad, (-grad * quotient if ctx.needs_input_grad[1] else None)


class Remainder(Fmod):
    ufunc, rounding = "remainder", "floor"


class Atan2(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return xp_of(x).arctan2(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        denom = x * x + y * y
        return grad * y / denom, -grad * x / denom

    differentiable_backward = backward


class NonDiffBinary(Function):
    """Comparisons, logic, integer division: results carry no gradient."""

    differentiable = False

    @staticmethod
    def forward(ctx, x, y, ufunc):
        xp = xp_of(x) if not np.isscalar(x) else xp_of(y)
        return getattr(xp, ufunc)(x, y)


def _binary(fn, name, a, b, *extra):
    a, b = promote(name, a, b)
    return fn.apply(a, b, *extra)


def add(input, other, *, alpha=1, out=None):
    if alpha != 1:
        other = other * alpha
    return _out(_binary(Add, "add", input, other), out)


def _check_bool_sub(input, other):
    bools = [isinstance(t, Tensor) and t._data.dtype == np.bool_ for t in (input, other)]
    if all(bools):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead.")
    if any(bools):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")


def sub(input, other, *, alpha=1, out=None):
    _check_bool_sub(input, other)
    if alpha != 1:
        other = other * alpha
    return _out(_binary(Sub, "sub", input, other), out)


def rsub(input, other, *, alpha=1):
    return sub(other, input * alpha if alpha != 1 else input)


def mul(input, other, *, out=None):
    return _out(_binary(Mul, "mul", input, other), out)


def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode is None:
        a, b = promote("div", input, other)
        # true division: integers divide as the default float type
        t = a if isinstance(a, Tensor) else b
        if t._data.dtype.kind in "biu":
            f = _dtype.get_default_dtype()
            a = a.to(f) if isinstance(a, Tensor) else a
            b = b.to(f) if isinstance(b, Tensor) else b
        return _out(Div.apply(a, b), out)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                         f"'{rounding_mode}'")
    a, b = promote("div", input, other)
    t = a if isinstance(a, Tensor) else b
    if t._data.dtype.kind in "iu":
        _check_int_zero_div(b)
        ufunc = "floor_divide" if rounding_mode == "floor" else "_trunc_div"
        if ufunc == "_trunc_div":
            return _out(_int_trunc_div(a, b), out)
        return _out(NonDiffBinary.apply(a, b, ufunc), out)
    if rounding_mode == "floor":
        return _out(FloorDivFloat.apply(a, b), out)
    q = Div.apply(a, b)
    return _out(RoundOp.apply(q, rounding_mode), out)


def _check_int_zero_div(b):
    zero = (b._data == 0).any() if isinstance(b, Tensor) else b == 0
    if zero:
        raise RuntimeError("ZeroDivisionError")


def _int_trunc_div(a, b):
    xa = a._data if isinstance(a, Tensor) else a
    xb = b._data if isinstance(b, Tensor) else b
    xp = xp_of(xa) if not np.isscalar(xa) else xp_of(xb)
    q = xp.floor_divide(xa, xb)
    # floor -> trunc: add one where the signs differ and the division is inexact
    fix = ((xa % xb) != 0) & ((xa < 0) != (xb < 0))
    return Tensor._make((q + fix).astype(q.dtype))


class RoundOp(Function):
    """floor/trunc after a float division (gradient zero almost everywhere)."""

    @staticmethod
    def forward(ctx, x, mode):
        xp = xp_of(x)
        return xp.floor(x) if mode == "floor" else xp.trunc(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0, None

    differentiable_backward = backward


class FloorDivFloat(Function):
    """Float floor division computed as PyTorch does, through fmod: inf // 2 is nan, x // 0 is x / 0.
    The gradient is zero almost everywhere."""

    @staticmethod
    def forward(ctx, x, y):
        xp = xp_of(x) if not np.isscalar(x) else xp_of(y)
        with np.errstate(invalid="ignore", divide="ignore"):
            mod = xp.fmod(x, y)
            div = (x - mod) / y
            div = xp.where((mod != 0) & ((y < 0) != (mod < 0)), div - 1, div)
            floor = xp.floor(div)
            floor = xp.where(div - floor > 0.5, floor + 1, floor)
            out = xp.where(div == 0, xp.copysign(0, x / y), floor)
            out = xp.where(y == 0, x / y, out)
        return xp.asarray(out).astype(y.dtype if np.isscalar(x) else x.dtype, copy=False)  # promoted by div

    @staticmethod
    def backward(ctx, grad):
        return grad * 0, grad * 0

    differentiable_backward = backward


def true_divide(input, other):
    return div(input, other)


def floor_divide(input, other):
    return div(input, other, rounding_mode="floor")


def pow(input, exponent):
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("pow(): expected at least one Tensor argument")
    a, b = promote("pow", input, exponent)
    if (a if isinstance(a, Tensor) else b)._data.dtype == np.bool_:
        raise NotImplementedError("\"pow\" not implemented for 'Bool'")
    return Pow.apply(a, b)


def maximum(input, other):
    return _binary(Maximum, "maximum", input, other)


def minimum(input, other):
    return _binary(Minimum, "minimum", input, other)


def _mod(fn, name, input, other):
    a, b = promote(name, input, other)
    t = a if isinstance(a, Tensor) else b
    if t._data.dtype == np.bool_:
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for 'Bool'")
    if t._data.dtype.kind in "iu":  # integer x % 0 is an error in PyTorch, not numpy's silent 0
        _check_int_zero_div(b)
    return fn.apply(a, b)


def fmod(input, other):
    return _mod(Fmod, "fmod", input, other)


def remainder(input, other):
    return _mod(Remainder, "remainder", input, other)


def atan2(input, other):
    a, b = promote("atan2", input, other)
    return Atan2.apply(float_input(a), float_input(b) if isinstance(b, Tensor) else b)


def _compare(ufunc):
    ordering = ufunc not in ("equal", "not_equal")
    kernel = {"less": "lt", "less_equal": "le", "greater": "gt", "greater_equal": "ge"}.get(ufunc)

    def op(input, other):
        a, b = promote(ufunc, input, other)
        if ordering and isinstance(a, Tensor) and a._data.dtype.kind == "c":  # complex numbers have no order
            raise NotImplementedError(f"\"{kernel}_cpu\" not implemented for '{a.type().rsplit('.', 1)[-1][:-6]}'")
        return NonDiffBinary.apply(a, b, ufunc)

    return op


eq = _compare("equal")
ne = _compare("not_equal")
lt = _compare("less")
le = _compare("less_equal")
gt = _compare("greater")
ge = _compare("greater_equal")
for _fn, _name in ((eq, "eq"), (ne, "ne"), (lt, "lt"), (le, "le"), (gt, "gt"), (ge, "ge")):
    _fn.__name__ = _fn.__qualname__ = _name
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _logical(ufunc):
    def op(input, other):
        a = input._data if isinstance(input, Tensor) else input
        b = other._data if isinstance(other, Tensor) else other
        xp = xp_of(a) if not np.isscalar(a) else xp_of(b)
        return Tensor._make(getattr(xp, ufunc)(a, b))

    op.__name__ = ufunc
    return op


logical_and = _logical("logical_and")
logical_or = _logical("logical_or")
logical_xor = _logical("logical_xor")


def logical_not(input):
    return Tensor._make(xp_of(input._data).logical_not(input._data))


def _bitwise(ufunc, name):
    def op(input, other):
        a, b = promote(name, input, other)
        t = a if isinstance(a, Tensor) else b
        if t._data.dtype.kind == "f":
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_dtype.type_name(t)}'")
        return NonDiffBinary.apply(a, b, ufunc)

    op.__name__ = name
    return op


bitwise_and = _bitwise("bitwise_and", "bitwise_and")
bitwise_or = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor")


def bitwise_not(input):
    if input._data.dtype.kind == "f":
        raise NotImplementedError(f"\"bitwise_not_cpu\" not implemented for '{_dtype.type_name(input)}'")
    return Tensor._make(xp_of(input._data).invert(input._data))


def _no_invert(input):
    raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")


def equal(input, other):
    """True if both tensors have the same shape and elements."""
    return input.shape == other.shape and bool((input._data == other._data).all())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(xp_of(input._data).allclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    b = other._data if isinstance(other, Tensor) else other
    return Tensor._make(xp_of(input._data).isclose(input._data, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


# ---------------------------------------------------------------------------------------------
# unary math: one table, forward next to derivative
# ---------------------------------------------------------------------------------------------
def _negate(x):
    if x.dtype == np.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")
    return -x


def _erf(xp, x):
    if getattr(xp, "records", False):  # ops/_tensor_xp.py: on Tensors, for a recorded derivative
        return xp.erf(x)
    if xp is np:
        try:
            from scipy.special import erf
        except ImportError:
            return _erf_numpy(x)
        return erf(x)
    from cupyx.scipy.special import erf

    return erf(x)


def _erf_numpy(x):
    """erf without scipy: math.erf elementwise for float64, a 1.5e-7-accurate formula otherwise."""
    if x.dtype == np.float64:
        return np.frompyfunc(math.erf, 1, 1)(x).astype(np.float64)
    # Abramowitz & Stegun 7.1.26, evaluated in float64
    z = np.abs(x.astype(np.float64))
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (np.sign(x) * (1.0 - poly * np.exp(-z * z))).astype(x.dtype)


_SQRT_2_OVER_PI = 2.0 / math.sqrt(math.pi)

# name: (forward(xp, x), derivative(xp, x, out) -> d out / d x, integer inputs become float)
UNARY = {
    "neg": (lambda xp, x: _negate(x), lambda xp, x, y: -1, False),
    "exp": (lambda xp, x: cpu_kernels.exp(x) if xp is np else xp.exp(x), lambda xp, x, y: y, True),
    "exp2": (lambda xp, x: xp.exp2(x), lambda xp, x, y: y * math.log(2), True),
    "expm1": (lambda xp, x: xp.expm1(x), lambda xp, x, y: y + 1, True),
    "log": (lambda xp, x: xp.log(x), lambda xp, x, y: 1 / x, True),
    "log2": (lambda xp, x: xp.log2(x), lambda xp, x, y: 1 / (x * math.log(2)), True),
    "log10": (lambda xp, x: xp.log10(x), lambda xp, x, y: 1 / (x * math.log(10)), True),
    "log1p": (lambda xp, x: xp.log1p(x), lambda xp, x, y: 1 / (1 + x), True),
    "sqrt": (lambda xp, x: xp.sqrt(x), lambda xp, x, y: 0.5 / y, True),
    "rsqrt": (lambda xp, x: 1 / xp.sqrt(x), lambda xp, x, y: -0.5 * y * y * y, True),
    "reciprocal": (lambda xp, x: 1 / x, lambda xp, x, y: -y * y, True),
    "abs": (lambda xp, x: xp.abs(_no_bool("abs_cpu", x)), lambda xp, x, y: xp.sign(x), False),
    "sin": (lambda xp, x: xp.sin(x), lambda xp, x, y: xp.cos(x), True),
    "cos": (lambda xp, x: xp.cos(x), lambda xp, x, y: -xp.sin(x), True),
    "tan": (lambda xp, x: xp.tan(x), lambda xp, x, y: 1 + y * y, True),
    "asin": (lambda xp, x: xp.arcsin(x), lambda xp, x, y: 1 / xp.sqrt(1 - x * x), True),
    "acos": (lambda xp, x: xp.arccos(x), lambda xp, x, y: -1 / xp.sqrt(1 - x * x), True),
    "atan": (lambda xp, x: xp.arctan(x), lambda xp, x, y: 1 / (1 + x * x), True),
    "sinh": (lambda xp, x: xp.sinh(x), lambda xp, x, y: xp.cosh(x), True),
    "cosh": (lambda xp, x: xp.cosh(x), lambda xp, x, y: xp.sinh(x), True),
    "tanh": (lambda xp, x: cpu_kernels.tanh(x) if xp is np else xp.tanh(x), lambda xp, x, y: 1 - y * y, True),
    "asinh": (lambda xp, x: xp.arcsinh(x), lambda xp, x, y: 1 / xp.sqrt(x * x + 1), True),
    "acosh": (lambda xp, x: xp.arccosh(x), lambda xp, x, y: 1 / xp.sqrt(x * x - 1), True),
    "atanh": (lambda xp, x: xp.arctanh(x), lambda xp, x, y: 1 / (1 - x * x), True),
    "sigmoid": (lambda xp, x: _sigmoid(xp, x), lambda xp, x, y: y * (1 - y), True),
    "relu": (lambda xp, x: cpu_kernels.relu(_no_bool_relu(x)) if xp is np else xp.maximum(x, 0).astype(x.dtype),
             lambda xp, x, y: ~(y <= 0), False),  # threshold_backward: a nan passes its gradient
    "erf": (lambda xp, x: _erf(xp, x), lambda xp, x, y: _SQRT_2_OVER_PI * xp.exp(-x * x), True),
    "erfc": (lambda xp, x: 1 - _erf(xp, x), lambda xp, x, y: -_SQRT_2_OVER_PI * xp.exp(-x * x), True),
    "sign": (lambda xp, x: _sign(xp, x), lambda xp, x, y: 0, False),
    "sgn": (lambda xp, x: _sign(xp, x), lambda xp, x, y: 0, False),
    "floor": (lambda xp, x: xp.floor(x) if x.dtype.kind == "f" else _no_bool("floor_vml_cpu", x).copy(),
              lambda xp, x, y: 0, False),
    "ceil": (lambda xp, x: xp.ceil(x) if x.dtype.kind == "f" else _no_bool("ceil_vml_cpu", x).copy(),
             lambda xp, x, y: 0, False),
    "trunc": (lambda xp, x: xp.trunc(x) if x.dtype.kind == "f" else _no_bool("trunc_vml_cpu", x).copy(),
              lambda xp, x, y: 0, False),
    "frac": (lambda xp, x: x - xp.trunc(_float_only("frac_cpu", x)), lambda xp, x, y: 1, False),
    "square": (lambda xp, x: (x.astype(np.int64) if x.dtype == np.bool_ else x) ** 2, lambda xp, x, y: 2 * x, False),
    "positive": (lambda xp, x: x, lambda xp, x, y: 1, False),
}


# which of x (the input) and y (the output) each derivative reads, as PyTorch saves them: only
# those are kept for backward, so editing the other one in place afterwards is allowed
_DERIV_USES = {
    "y": {"exp", "exp2", "expm1", "sqrt", "rsqrt", "reciprocal", "tan", "tanh", "sigmoid", "relu"},
    "x": {"log", "log2", "log10", "log1p", "abs", "sin", "cos", "asin", "acos", "atan", "sinh", "cosh", "asinh",
          "acosh", "atanh", "erf", "erfc", "square"},
    "": {"neg", "sign", "floor", "ceil", "trunc", "frac", "positive"},
}  # anything else (sgn, as PyTorch) keeps both


def _no_bool(kernel, x):
    if x.dtype == np.bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    return x


def _no_bool_relu(x):
    if x.dtype == np.bool_:
        raise RuntimeError("Boolean inputs not supported for relu")
    return x


_INT_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _float_only(kernel, x):
    if x.dtype.kind not in "fV":
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_INT_NAMES[x.dtype.name]}'")
    return x


def _sign(xp, x):
    if x.dtype == np.bool_:
        return x.copy()
    out = xp.sign(x)
    return xp.where(xp.isnan(x), 0, out).astype(x.dtype, copy=False) if x.dtype.kind == "f" else out  # sign(nan) = 0


def _sigmoid(xp, x):
    if getattr(xp, "records", False):
        return xp.sigmoid(x)
    if x.dtype.kind == "c":  # complex: no sign to split on; the plain formula, as PyTorch
        return 1 / (1 + xp.exp(-x))
    # stable for large |x|: exp only ever of a non-positive number
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class Unary(Function):
    """Base for table-driven unary ops; subclasses set `fwd`, `deriv` and `uses` ("x", "y", "xy" or "")."""

    broadcast_grads = True
    uses = "x"
    cpu_grad = None  # (grad, y) -> grad * f'(x) in one compiled pass (_CPU_GRADS), or None where it doesn't apply

    @classmethod
    def forward(cls, ctx, x):
        xp = xp_of(x)
        out = xp.asarray(cls.fwd(xp, x))
        if out.dtype != x.dtype and out.dtype.kind == x.dtype.kind:
            out = out.astype(x.dtype)
        ctx.save_for_backward(x if "x" in cls.uses else None, out if "y" in cls.uses else None)
        return out

    @classmethod
    def backward(cls, ctx, grad):
        x, out = ctx.saved_tensors
        xp = xp_of(grad)
        if grad.dtype.kind == "c":  # a complex result of a holomorphic op: grad * conj(f'(z))
            return grad * xp.conj(cls.deriv(xp, x, out))
        if cls.cpu_grad is not None and xp is np:
            dx = cls.cpu_grad(grad, out)
            if dx is not None:
                return dx
        d = cls.deriv(xp, x, out)
        return cpu_kernels.binary(np.multiply, grad, d) if type(d) is np.ndarray else grad * d

    @classmethod
    def differentiable_backward(cls, ctx, grad):
        from . import _tensor_xp

        x, out = ctx.saved_tensors
        d = _tensor_xp.fit(cls.deriv(_tensor_xp, x, out), grad)
        return grad * (_conj(d) if grad.is_complex() else d)


# derivatives from the saved output with a compiled CPU body (mytorch.cpu_kernels)
_CPU_GRADS = {"relu": cpu_kernels.relu_grad, "tanh": cpu_kernels.tanh_grad}


def _make_unary(name, fwd, deriv, to_float):
    uses = next((u for u, names in _DERIV_USES.items() if name in names), "xy")
    grad = _CPU_GRADS.get(name)
    cls = type(name.capitalize(), (Unary,), {"fwd": staticmethod(fwd), "deriv": staticmethod(deriv), "uses": uses,
                                             "cpu_grad": staticmethod(grad) if grad else None})
    cls.__module__ = __name__

    if to_float:
        def op(input):
            return cls.apply(float_input(input))
    else:
        def op(input):
            return cls.apply(input)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}."
    return cls, op


_UNARY_FUNCS = {}
for _name, (_fwd, _deriv, _to_float) in UNARY.items():
    _cls, _op = _make_unary(_name, _fwd, _deriv, _to_float)
    globals()[_cls.__name__] = _cls
    _UNARY_FUNCS[_name] = _op
globals().update(_UNARY_FUNCS)
absolute, arcsin, arccos, arctan, negative = abs, asin, acos, atan, neg  # noqa: F821  (defined above)


def round(input, decimals=0):
    data = input._data
    _no_bool("round_vml_cpu", data)
    return RoundDecimals.apply(input, decimals) if data.dtype.kind == "f" else input.clone()


class RoundDecimals(Function):
    @staticmethod
    def forward(ctx, x, decimals):
        return xp_of(x).round(x, decimals)  # numpy rounds half to even, like PyTorch

    @staticmethod
    def backward(ctx, grad):
        return grad * 0, None

    differentiable_backward = backward


def _is(fn_name):
    def op(input):
        data = input._data
        xp = xp_of(data)
        if data.dtype.kind not in "fc":
            return Tensor._make(xp.zeros(data.shape, bool) if fn_name != "isfinite" else xp.ones(data.shape, bool))
        return Tensor._make(getattr(xp, fn_name)(data))

    op.__name__ = fn_name
    return op


isnan = _is("isnan")
isinf = _is("isinf")
isfinite = _is("isfinite")


def isposinf(input):
    return Tensor._make(xp_of(input._data).isposinf(input._data))


def isneginf(input):
    return Tensor._make(xp_of(input._data).isneginf(input._data))


class NanToNum(Function):
    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        xp = xp_of(x)
        ctx.save_for_backward(x)
        info = xp.finfo(x.dtype)
        return xp.nan_to_num(x, nan=nan, posinf=info.max if posinf is None else posinf,
                             neginf=info.min if neginf is None else neginf)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * xp_of(x).isfinite(x), None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x.isfinite(), None, None, None


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    if input._data.dtype.kind != "f":
        return input.clone()
    return NanToNum.apply(input, nan, posinf, neginf)


class Clamp(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = xp_of(x)
        ctx.save_for_backward(x, lo, hi)
        out = x
        if lo is not None:
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
        return out.astype(x.dtype, copy=False) if out is not x else x.copy()

    @staticmethod
    def backward(ctx, grad):
        x, lo, hi = ctx.saved_tensors
        keep = True
        if lo is not None:
            keep = keep & (x >= lo)
        if hi is not None:
            keep = keep & (x <= hi)
        g = grad * keep
        glo = ghi = None
        if ctx.needs_input_grad[1]:  # where min > max the result is max: min gets no gradient there
            glo = grad * ((x < lo) & (lo < hi) if hi is not None else (x < lo))
        if ctx.needs_input_grad[2]:
            ghi = grad * ((x > hi) | (hi < lo) if lo is not None else (x > hi))
        return g, glo, ghi

    differentiable_backward = backward


class ClampMin(Clamp):  # Clamp under PyTorch's grad_fn names for clamp_min / clamp_max
    pass


class ClampMax(Clamp):
    pass


def clamp(input, min=None, max=None):
    return _clamp(input, min, max, Clamp)


def _clamp(input, min, max, fn):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    x = input
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        from .factory import tensor as _tensor

        rt = _dtype.result_type(x, *(v for v in (min, max) if v is not None))
        x = x.to(rt)
        min = min.to(rt) if isinstance(min, Tensor) else min
        max = max.to(rt) if isinstance(max, Tensor) else max
    elif any(isinstance(v, float) for v in (min, max)) and x._data.dtype.kind in "biu":
        x = x.to(_dtype.get_default_dtype())
    elif x._data.dtype == np.bool_ and any(isinstance(v, int) and not isinstance(v, bool) for v in (min, max)):
        x = x.to(_dtype.int64)  # bool clamped by integers counts in int64, as in PyTorch
    return fn.apply(x, min, max)


def clamp_min(input, min):
    return _clamp(input, min, None, ClampMin)


def clamp_max(input, max):
    return _clamp(input, None, max, ClampMax)


clip = clamp


class Where(Function):
    broadcast_grads = True

    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.save_for_backward(cond)
        return cpu_kernels.where(cond, x, y) if type(cond) is np.ndarray else xp_of(cond).where(cond, x, y)

    @staticmethod
    def backward(ctx, grad):
        (cond,) = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad[1:]
        xp = xp_of(grad)
        select = cpu_kernels.where if xp is np else xp.where
        zero = xp.zeros((), grad.dtype)
        return None, (select(cond, grad, zero) if need_x else None), (select(cond, zero, grad) if need_y else None)

    @staticmethod
    def differentiable_backward(ctx, grad):
        (cond,) = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad[1:]
        zero = grad.new_zeros(())
        return None, (Tensor.where(grad, cond, zero) if need_x else None), (
            Tensor.where(zero, cond, grad) if need_y else None)


def where(condition, input=None, other=None):
    if input is None and other is None:
        from .index import nonzero

        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError("where(): condition must be a Tensor")
    if condition._data.dtype != np.bool_:
        if condition._data.dtype != np.uint8:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with "
                               f"dtype {condition.dtype.name.capitalize()}")
        condition = condition.bool()
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):  # two numbers: their promoted dtype
        dtype = _dtype.promote_types(_dtype.dtype_of_scalar(input), _dtype.dtype_of_scalar(other))
        input = Tensor._make(xp_of(condition._data).asarray(input, dtype=dtype.np))
    a, b = promote("where", input, other)
    if not isinstance(a, Tensor):
        a = _scalar_tensor(a, b)
    if not isinstance(b, Tensor):
        b = _scalar_tensor(b, a)
    return Where.apply(condition, a, b)


def _scalar_tensor(value, like):
    return Tensor._make(xp_of(like._data).asarray(value, dtype=like._data.dtype))


class Lerp(Function):
    @staticmethod
    def forward(ctx, start, end, weight):
        need_w = ctx.needs_input_grad[2]  # start and end are read only for the weight's gradient
        ctx.save_for_backward(start if need_w else None, end if need_w else None, weight)
        return start + weight * (end - start)

    @staticmethod
    def backward(ctx, grad):
        start, end, weight = ctx.saved_tensors
        gw = grad * (end - start) if ctx.needs_input_grad[2] else None
        return grad * (1 - weight), grad * weight, gw

    differentiable_backward = backward


def lerp(input, end, weight):
    return Lerp.apply(input, end, weight)


def addcmul(input, tensor1, tensor2, *, value=1):
    return input + value * tensor1 * tensor2


def addcdiv(input, tensor1, tensor2, *, value=1):
    return input + value * tensor1 / tensor2


def _out(result, out):
    if out is None:
        return result
    out.copy_(result) if out.shape == result.shape else out.set_data_(result)
    return out


# ---------------------------------------------------------------------------------------------
# Python operators and Tensor methods
# ---------------------------------------------------------------------------------------------
def _reflect(fn):
    def reflected(self, other):
        return fn(other, self)

    return reflected


tensor_methods(
    __add__=add, __radd__=_reflect(add), __sub__=sub, __rsub__=_reflect(sub),
    __mul__=mul, __rmul__=_reflect(mul), __truediv__=div, __rtruediv__=_reflect(div),
    __floordiv__=floor_divide, __rfloordiv__=_reflect(floor_divide),
    __mod__=remainder, __rmod__=_reflect(remainder),
    __pow__=pow, __rpow__=_reflect(pow),
    __neg__=neg, __pos__=positive, __abs__=abs,  # noqa: F821
    __eq__=eq, __ne__=ne, __lt__=lt, __le__=le, __gt__=gt, __ge__=ge,
    __and__=bitwise_and, __or__=bitwise_or, __xor__=bitwise_xor, __invert__=lambda self: (
        logical_not(self) if self._data.dtype == np.bool_ else bitwise_not(self) if self._data.dtype.kind in "iu"
        else _no_invert(self)),
    __rand__=_reflect(bitwise_and), __ror__=_reflect(bitwise_or), __rxor__=_reflect(bitwise_xor),
    add=add, sub=sub, subtract=sub, mul=mul, multiply=mul, div=div, divide=div, true_divide=true_divide,
    floor_divide=floor_divide, pow=pow, maximum=maximum, minimum=minimum, fmod=fmod, remainder=remainder,
    atan2=atan2, eq=eq, ne=ne, lt=lt, le=le, gt=gt, ge=ge, greater=gt, greater_equal=ge, less=lt,
    less_equal=le, not_equal=ne, logical_and=logical_and, logical_or=logical_or, logical_xor=logical_xor,
    logical_not=logical_not, bitwise_and=bitwise_and, bitwise_or=bitwise_or, bitwise_xor=bitwise_xor,
    bitwise_not=bitwise_not, equal=equal, allclose=allclose, isclose=isclose,
    round=round, isnan=isnan, isinf=isinf, isfinite=isfinite, isposinf=isposinf, isneginf=isneginf,
    nan_to_num=nan_to_num, clamp=clamp, clip=clamp, clamp_min=clamp_min, clamp_max=clamp_max,
    where=lambda self, condition, other: where(condition, self, other), lerp=lerp,
    addcmul=addcmul, addcdiv=addcdiv, rsub=rsub,
    absolute=abs, arcsin=asin, arccos=acos, arctan=atan, negative=neg,  # noqa: F821
    **_UNARY_FUNCS,
)

public(add, sub, rsub, mul, div, true_divide, floor_divide, pow, maximum, minimum, fmod, remainder, atan2,
       eq, ne, lt, le, gt, ge, logical_and, logical_or, logical_xor, logical_not, bitwise_and, bitwise_or,
       bitwise_xor, bitwise_not, round, isnan, isinf, isfinite, isposinf, isneginf, nan_to_num, clamp,
       clamp_min, clamp_max, where, lerp, addcmul, addcdiv, *_UNARY_FUNCS.values())
public(subtract=sub, multiply=mul, divide=div, greater=gt, greater_equal=ge, less=lt, less_equal=le,
       not_equal=ne, clip=clamp, absolute=abs, arcsin=asin, arccos=acos, arctan=atan,  # noqa: F821
       negative=neg, equal=equal, allclose=allclose, isclose=isclose)  # noqa: F821
