"""More elementwise math: special functions (scipy.special / cupyx.scipy.special), log-space and IEEE helpers,
integer gcd/lcm and shifts. Forward and derivative side by side, like the unary table in elementwise.py.

scipy is optional: ops that need it raise a clear error without it (erfinv, lgamma, digamma, Bessel, ...).
"""
import math

import numpy as np

from .. import _dtype
from .._array import xp_of
from ..autograd.function import Function
from ..tensor import Tensor
from ._registry import public, tensor_methods
from ._util import float_input, promote, to_tensor_like


def special_module(xp):
    """scipy.special (numpy arrays) or cupyx.scipy.special (cupy arrays); for ops/_tensor_xp.py (a derivative
    formula evaluated on Tensors) the same names over mytorch's special functions."""
    if getattr(xp, "records", False):
        return xp.special
    try:
        if xp is np:
            import scipy.special as sp
        else:
            import cupyx.scipy.special as sp
    except ImportError as e:
        raise RuntimeError("this special function needs scipy (pip install scipy; on CUDA, cupy's "
                           "cupyx.scipy.special)") from e
    return sp


_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)


def _sinc(xp, x):
    px = math.pi * x
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.where(x == 0, 1.0, xp.sin(px) / xp.where(x == 0, 1, px)).astype(x.dtype, copy=False)


def _sinc_deriv(xp, x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.where(x == 0, 0.0, (xp.cos(math.pi * x) - y) / xp.where(x == 0, 1, x))


def _entr(xp, x):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = xp.where(x > 0, -x * xp.log(xp.where(x > 0, x, 1)), xp.where(x == 0, 0.0, -xp.inf))
    return xp.where(xp.isnan(x), x, out).astype(x.dtype, copy=False)


def _i1_deriv(xp, x, y):
    sp = special_module(xp)
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.where(x == 0, 0.5, sp.i0(x) - y / xp.where(x == 0, 1, x))


def _i1e_deriv(xp, x, y):
    sp = special_module(xp)
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.where(x == 0, 0.5, sp.i0e(x) - y * (xp.sign(x) + 1 / xp.where(x == 0, 1, x)))


def _sp(fn_name):
    return lambda xp, x: getattr(special_module(xp), fn_name)(x)


# name: (forward(xp, x), derivative(xp, x, out))
SPECIAL_UNARY = {
    "erfinv": (_sp("erfinv"), lambda xp, x, y: 0.5 * _SQRT_PI * xp.exp(y * y)),
    "lgamma": (_sp("gammaln"), lambda xp, x, y: special_module(xp).psi(x)),
    "digamma": (_sp("psi"), lambda xp, x, y: special_module(xp).polygamma(1, x)),
    "i0": (_sp("i0"), lambda xp, x, y: special_module(xp).i1(x)),
    "sinc": (_sinc, _sinc_deriv),
    "deg2rad": (lambda xp, x: x * (math.pi / 180), lambda xp, x, y: math.pi / 180),
    "rad2deg": (lambda xp, x: x * (180 / math.pi), lambda xp, x, y: 180 / math.pi),
    "special_i0e": (_sp("i0e"), lambda xp, x, y: special_module(xp).i1e(x) - xp.sign(x) * y),
    "special_i1": (_sp("i1"), _i1_deriv),
    "special_i1e": (_sp("i1e"), _i1e_deriv),
    "special_ndtr": (_sp("ndtr"), lambda xp, x, y: xp.exp(-0.5 * x * x) / _SQRT_2PI),
    "special_ndtri": (_sp("ndtri"), lambda xp, x, y: _SQRT_2PI * xp.exp(0.5 * y * y)),
    "special_log_ndtr": (_sp("log_ndtr"), lambda xp, x, y: xp.exp(-0.5 * x * x - y) / _SQRT_2PI),
    "special_erfcx": (_sp("erfcx"), lambda xp, x, y: 2 * x * y - 2 / _SQRT_PI),
    "special_entr": (_entr, lambda xp, x, y: xp.where(x > 0, -(xp.log(xp.where(x > 0, x, 1)) + 1),
                                                        xp.where(x == 0, -xp.inf, xp.nan))),
    "special_bessel_j0": (_sp("j0"), lambda xp, x, y: -special_module(xp).j1(x)),
    "special_bessel_j1": (_sp("j1"), lambda xp, x, y: special_module(xp).j0(x) - y / x),
    "special_bessel_y0": (_sp("y0"), lambda xp, x, y: -special_module(xp).y1(x)),
    "special_bessel_y1": (_sp("y1"), lambda xp, x, y: special_module(xp).y0(x) - y / x),
    "special_modified_bessel_i0": (_sp("i0"), lambda xp, x, y: special_module(xp).i1(x)),
    "special_modified_bessel_i1": (_sp("i1"), _i1_deriv),
    "special_modified_bessel_k0": (_sp("k0"), lambda xp, x, y: -special_module(xp).k1(x)),
    "special_modified_bessel_k1": (_sp("k1"), lambda xp, x, y: -special_module(xp).k0(x) - y / x),
    "special_scaled_modified_bessel_k0": (_sp("k0e"), lambda xp, x, y: y - special_module(xp).k1e(x)),
    "special_scaled_modified_bessel_k1": (_sp("k1e"), lambda xp, x, y: y * (1 - 1 / x) - special_module(xp).k0e(x)),
    "special_spherical_bessel_j0": (lambda xp, x: _sinc(xp, x / math.pi),  # sin(x) / x
                                    lambda xp, x, y: _sinc_deriv(xp, x / math.pi, y) / math.pi),
    "special_airy_ai": (lambda xp, x: special_module(xp).airy(x)[0], lambda xp, x, y: special_module(xp).airy(x)[1]),
}


class SpecialUnary(Function):
    """Base for the table above; subclasses set `fwd` and `deriv`. Computes in the input's float dtype."""

    @classmethod
    def forward(cls, ctx, x):
        xp = xp_of(x)
        with np.errstate(all="ignore"):
            out = xp.asarray(cls.fwd(xp, x)).astype(x.dtype, copy=False)
        ctx.save_for_backward(x, out)
        return out

    @classmethod
    def backward(cls, ctx, grad):
        x, out = ctx.saved_tensors
        with np.errstate(all="ignore"):
            return grad * xp_of(x).asarray(cls.deriv(xp_of(x), x, out)).astype(grad.dtype, copy=False)

    @classmethod
    def differentiable_backward(cls, ctx, grad):
        from . import _tensor_xp

        x, out = ctx.saved_tensors
        return grad * _tensor_xp.fit(cls.deriv(_tensor_xp, x, out), grad)


def _make(name, fwd, deriv):
    cls = type("".join(p.capitalize() for p in name.split("_")), (SpecialUnary,),
               {"fwd": staticmethod(fwd), "deriv": staticmethod(deriv), "__module__": __name__})

    def op(input, *, out=None):
        result = cls.apply(float_input(input))
        if out is not None:
            out.copy_(result)
            return out
        return result

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name.replace('special_', 'special.')}."
    return cls, op


UNARY_OPS = {}
for _name, (_fwd, _deriv) in SPECIAL_UNARY.items():
    _cls, UNARY_OPS[_name] = _make(_name, _fwd, _deriv)
    globals()[_cls.__name__] = _cls
globals().update(UNARY_OPS)


# ---------------------------------------------------------------------------------------------
# binary functions
# ---------------------------------------------------------------------------------------------
def _float_pair(name, a, b):
    a, b = promote(name, a, b)
    t = a if isinstance(a, Tensor) else b
    if t._data.dtype.kind in "biu":
        f = _dtype.get_default_dtype()
        a = a.to(f) if isinstance(a, Tensor) else float(a)
        b = b.to(f) if isinstance(b, Tensor) else float(b)
    if not isinstance(a, Tensor):
        a = to_tensor_like(a, b).to(b.dtype)
    if not isinstance(b, Tensor):
        b = to_tensor_like(b, a).to(a.dtype)
    return a, b


class XLogY(Function):
    """x * log(y) (log1p(y) with `log1p`), 0 where x == 0 (unless y is nan)."""

    @staticmethod
    def forward(ctx, x, y, log1p):
        xp = xp_of(x)
        with np.errstate(all="ignore"):
            ly = xp.log1p(y) if log1p else xp.log(y)
            out = xp.where((x == 0) & ~xp.isnan(y), 0, x * ly).astype(x.dtype, copy=False)
        ctx.save_for_backward(x, y, ly)
        ctx.log1p = log1p
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y, ly = ctx.saved_tensors
        xp = xp_of(x)
        with np.errstate(all="ignore"):
            gx = grad * xp.where((x == 0) & ~xp.isnan(y), 0, ly) if ctx.needs_input_grad[0] else None
            gy = grad * x / ((1 + y) if ctx.log1p else y) if ctx.needs_input_grad[1] else None
        return gx, gy, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, y, _ = ctx.saved_tensors
        ly = y.log1p() if ctx.log1p else y.log()  # from y, so that its derivative counts
        gx = grad * ly.masked_fill((x == 0) & ~y.isnan(), 0.0) if ctx.needs_input_grad[0] else None
        gy = grad * x / ((1 + y) if ctx.log1p else y) if ctx.needs_input_grad[1] else None
        return gx, gy, None


def xlogy(input, other):
    a, b = _float_pair("xlogy", input, other)
    return XLogY.apply(a, b, False)


def special_xlog1py(input, other):
    a, b = _float_pair("xlog1py", input, other)
    return XLogY.apply(a, b, True)


class BinaryTable(Function):
    """Binary float ops with closed-form partial derivatives; subclasses set fwd(xp, x, y) and grads."""

    @classmethod
    def forward(cls, ctx, x, y):
        xp = xp_of(x)
        with np.errstate(all="ignore"):
            out = xp.asarray(cls.fwd(xp, x, y)).astype(x.dtype, copy=False)
        ctx.save_for_backward(x, y, out)
        return out

    @classmethod
    def backward(cls, ctx, grad):
        x, y, out = ctx.saved_tensors
        xp = xp_of(x)
        with np.errstate(all="ignore"):
            gx = grad * cls.dx(xp, x, y, out) if ctx.needs_input_grad[0] else None
            gy = grad * cls.dy(xp, x, y, out) if ctx.needs_input_grad[1] else None
        return gx, gy

    @classmethod
    def differentiable_backward(cls, ctx, grad):
        from . import _tensor_xp

        x, y, out = ctx.saved_tensors
        gx = grad * _tensor_xp.fit(cls.dx(_tensor_xp, x, y, out), grad) if ctx.needs_input_grad[0] else None
        gy = grad * _tensor_xp.fit(cls.dy(_tensor_xp, x, y, out), grad) if ctx.needs_input_grad[1] else None
        return gx, gy


def _no_derivative(what):
    """A partial derivative PyTorch doesn't define: backward raises its NotImplementedError."""
    def raise_(xp, x, y, o):
        raise NotImplementedError(f"the derivative for '{what}' is not implemented.")
    return raise_


def _logaddexp_grads(base):
    """d/dx log(b^x + b^y) = b^(x - out): each input's share of the sum."""

    def dx(xp, x, y, out):
        return xp.exp(x - out) if base == "e" else xp.exp2(x - out)

    def dy(xp, x, y, out):
        return xp.exp(y - out) if base == "e" else xp.exp2(y - out)

    return dx, dy


def _fmax_w(xp, x, y):
    # fmax/fmin ignore a nan operand: the gradient goes to the one that was picked
    return xp.where(xp.isnan(y), 1.0, xp.where(xp.isnan(x), 0.0, (x > y) + 0.5 * (x == y)))


def _fmin_w(xp, x, y):
    return xp.where(xp.isnan(y), 1.0, xp.where(xp.isnan(x), 0.0, (x < y) + 0.5 * (x == y)))


BINARY = {
    "logaddexp": (lambda xp, x, y: xp.logaddexp(x, y), *_logaddexp_grads("e")),
    "logaddexp2": (lambda xp, x, y: xp.logaddexp2(x, y), *_logaddexp_grads("2")),
    "hypot": (lambda xp, x, y: xp.hypot(x, y), lambda xp, x, y, o: x / o, lambda xp, x, y, o: y / o),
    "copysign": (lambda xp, x, y: xp.copysign(x, y),
                 lambda xp, x, y, o: xp.where(x == 0, 0.0, xp.sign(x) * xp.where(xp.signbit(y), -1.0, 1.0)),
                 lambda xp, x, y, o: 0.0 * x),
    "fmax": (lambda xp, x, y: xp.fmax(x, y), lambda xp, x, y, o: _fmax_w(xp, x, y),
             lambda xp, x, y, o: 1 - _fmax_w(xp, x, y)),
    "fmin": (lambda xp, x, y: xp.fmin(x, y), lambda xp, x, y, o: _fmin_w(xp, x, y),
             lambda xp, x, y, o: 1 - _fmin_w(xp, x, y)),
    "special_zeta": (lambda xp, x, y: special_module(xp).zeta(x, y), _no_derivative("zeta"),
                     lambda xp, x, y, o: -x * special_module(xp).zeta(x + 1, y)),
    "igamma": (lambda xp, x, y: special_module(xp).gammainc(x, y), _no_derivative("igamma: input"),
               lambda xp, x, y, o: xp.exp((x - 1) * xp.log(y) - y - special_module(xp).gammaln(x))),
    "igammac": (lambda xp, x, y: special_module(xp).gammaincc(x, y), _no_derivative("igammac: input"),
                lambda xp, x, y, o: -xp.exp((x - 1) * xp.log(y) - y - special_module(xp).gammaln(x))),
}

BINARY_OPS = {}
for _name, (_fwd, _dx, _dy) in BINARY.items():
    _cls = type("".join(p.capitalize() for p in _name.split("_")), (BinaryTable,),
                {"fwd": staticmethod(_fwd), "dx": staticmethod(_dx), "dy": staticmethod(_dy), "__module__": __name__})
    globals()[_cls.__name__] = _cls

    def _op(input, other, *, out=None, _cls=_cls, _name=_name):
        a, b = _float_pair(_name, input, other)
        result = _cls.apply(a, b)
        if out is not None:
            out.copy_(result)
            return out
        return result

    _op.__name__ = _op.__qualname__ = _name
    BINARY_OPS[_name] = _op
globals().update(BINARY_OPS)


class Polygamma(Function):
    @staticmethod
    def forward(ctx, x, n):
        ctx.save_for_backward(x)
        ctx.n = n
        xp = xp_of(x)
        return xp.asarray(special_module(xp).polygamma(n, x)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * special_module(xp_of(x)).polygamma(ctx.n + 1, x).astype(grad.dtype, copy=False), None

    @staticmethod
    def differentiable_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * Polygamma.apply(x, ctx.n + 1), None


def polygamma(n, input):
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma.apply(float_input(input), int(n))


def mvlgamma(input, p):
    """Multivariate log-gamma: sum_i lgamma(x - i/2) + p(p-1)/4 log(pi)."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    x = float_input(input)  # no domain check: PyTorch 2 answers inf / nan outside x > (p - 1) / 2 too
    total = None
    for i in range(p):
        term = lgamma(x - i / 2)  # noqa: F821  (from the table above)
        total = term if total is None else total + term
    return total + p * (p - 1) / 4 * math.log(math.pi)


def logit(input, eps=None):
    x = float_input(input)
    if eps is not None:
        x = x.clamp(eps, 1 - eps)
    return (x / (1 - x)).log()


def float_power(input, exponent):
    """pow computed in float64."""
    if isinstance(input, Tensor):
        return input.double() ** (exponent.double() if isinstance(exponent, Tensor) else exponent)
    return to_tensor_like(float(input), exponent).double() ** exponent.double()


def heaviside(input, values):
    if input.dtype != values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    xp = xp_of(input._data)
    x, v = input._data, values._data
    return Tensor._make(xp.where(x == 0, v, (x > 0)).astype(x.dtype))


def signbit(input):
    x = input._data
    xp = xp_of(x)
    return Tensor._make(xp.signbit(x) if x.dtype.kind == "f" else (x < 0))


def _int_binary(name, ufunc):
    def op(input, other):
        a, b = promote(name, input, other)
        ad = a._data if isinstance(a, Tensor) else a
        bd = b._data if isinstance(b, Tensor) else b
        t = a if isinstance(a, Tensor) else b
        if t._data.dtype.kind not in "biu":
            kernel = {"bitwise_left_shift": "lshift", "bitwise_right_shift": "rshift"}.get(name, name)
            raise NotImplementedError(f"\"{kernel}_cpu\" not implemented for '{_dtype.type_name(t)}'")
        xp = xp_of(t._data)
        return Tensor._make(xp.asarray(getattr(xp, ufunc)(ad, bd)).astype(t._data.dtype, copy=False))

    op.__name__ = op.__qualname__ = name
    return op


gcd = _int_binary("gcd", "gcd")
lcm = _int_binary("lcm", "lcm")
bitwise_left_shift = _int_binary("bitwise_left_shift", "left_shift")
bitwise_right_shift = _int_binary("bitwise_right_shift", "right_shift")


def ldexp(input, other):
    """input * 2 ** other."""
    x = float_input(input)
    return x * (2.0 ** (other.to(x.dtype) if isinstance(other, Tensor) else other))


class Frexp(Function):
    """mantissa * 2 ** exponent == x; the mantissa's gradient is grad / 2 ** exponent."""

    @staticmethod
    def forward(ctx, x):
        m, e = xp_of(x).frexp(x)
        ctx.scale = xp_of(x).ldexp(xp_of(x).ones_like(x), -e)
        return m, e.astype(np.int32)

    @staticmethod
    def backward(ctx, grad_m, grad_e=None):
        return grad_m * ctx.scale


def frexp(input):
    if input._data.dtype.kind != "f":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    m, e = Frexp.apply(input)
    return _FrexpResult(m, e.detach())


class Nextafter(Function):
    """PyTorch's derivative: 1 for input (the step is below any resolution), 0 for other."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.b_shape = b.shape
        return xp_of(a).nextafter(a, b)

    @staticmethod
    def backward(ctx, grad):
        return grad, (xp_of(grad).zeros(ctx.b_shape, grad.dtype) if ctx.needs_input_grad[1] else None)


def nextafter(input, other):
    a, b = promote("nextafter", input, other)
    return Nextafter.apply(a, b if isinstance(b, Tensor) else to_tensor_like(b, a))


def isreal(input):
    return Tensor._make(xp_of(input._data).ones(input.shape, dtype=bool))


def real(input):
    return input


def conj(input):
    return input


def angle(input):
    """0 for x >= 0, pi for x < 0 (nan stays nan): real tensors only."""
    x = float_input(input)
    xp = xp_of(x._data)
    value = Tensor._make(xp.where(x._data < 0, math.pi, xp.where(xp.isnan(x._data), x._data, 0)).astype(
        x._data.dtype))
    return x.mul(0).nan_to_num(0.0, 0.0, 0.0) + value  # the gradient of a real angle is zero


def _frexp_type():
    from .reduce import _return_type

    return _return_type("frexp", ["mantissa", "exponent"])


_FrexpResult = _frexp_type()

_METHODS = dict(UNARY_OPS, **BINARY_OPS)
_METHODS = {k: v for k, v in _METHODS.items() if not k.startswith("special_")}
tensor_methods(xlogy=xlogy, polygamma=lambda self, n: polygamma(n, self), mvlgamma=mvlgamma, logit=logit,
               float_power=float_power, heaviside=heaviside, signbit=signbit, gcd=gcd, lcm=lcm,
               bitwise_left_shift=bitwise_left_shift, bitwise_right_shift=bitwise_right_shift,
               __lshift__=bitwise_left_shift, __rshift__=bitwise_right_shift, ldexp=ldexp, frexp=frexp,
               nextafter=nextafter, isreal=isreal, conj=conj, angle=angle, **_METHODS)
public(xlogy, polygamma, mvlgamma, logit, float_power, heaviside, signbit, gcd, lcm, bitwise_left_shift,
       bitwise_right_shift, ldexp, frexp, nextafter, isreal, real, conj, angle, *_METHODS.values())
