"""numpy's names over recorded Tensor ops, for derivative formulas that are written once against an `xp` module.

The unary and activation tables (ops/elementwise.py, nn/functional/activation.py) write each derivative as
`deriv(xp, x, ...)`. Backward evaluates it with xp = numpy or cupy on arrays; a backward that records
(create_graph=True, higher-order gradients) evaluates the same formula with xp = this module on Tensors, so the
derivative of the derivative comes from the ops the formula is made of.
"""
import math

import mytorch

records = True  # formulas that take a shortcut for numpy/cupy check this to stay on Tensor ops


def where(cond, a, b):
    if not isinstance(a, mytorch.Tensor) and not isinstance(b, mytorch.Tensor):
        # two numbers (where(x > 0, 1.0, slope)): float64, as numpy computes them; the formula rounds the result
        # to the gradient's dtype once (`fit`), so a float32 slope isn't rounded twice
        a = mytorch.tensor(a, dtype=mytorch.float64, device=cond.device)
    return mytorch.where(cond, a, b)


def fit(d, grad):
    """A derivative in grad's dtype, as the array formulas cast theirs (float64 constants -> float32)."""
    if isinstance(d, mytorch.Tensor) and d.is_floating_point() and d.dtype != grad.dtype:
        return d.to(grad.dtype)
    return d


def _extreme(op, clamp_kw):
    def f(a, b):  # with a number on either side: a clamp (numpy broadcasts numbers; mytorch's op wants tensors)
        if not isinstance(b, mytorch.Tensor):
            return mytorch.clamp(a, **{clamp_kw: b})
        if not isinstance(a, mytorch.Tensor):
            return mytorch.clamp(b, **{clamp_kw: a})
        return op(a, b)
    return f


minimum, maximum = _extreme(mytorch.minimum, "max"), _extreme(mytorch.maximum, "min")


def logaddexp(a, b):
    if not isinstance(a, mytorch.Tensor):
        a = mytorch.full((), a, dtype=b.dtype, device=b.device)
    if not isinstance(b, mytorch.Tensor):
        b = mytorch.full((), b, dtype=a.dtype, device=a.device)
    return mytorch.logaddexp(a, b)


def clip(x, lo, hi):
    return mytorch.clamp(x, lo, hi)


def exp2(x):
    return mytorch.exp(x * math.log(2))


def conj(x):
    return x.conj() if isinstance(x, mytorch.Tensor) and x.is_complex() else x


def power(x, y):
    return x ** y


exp, expm1, log, log2, log10, log1p = (mytorch.exp, mytorch.expm1, mytorch.log, mytorch.log2, mytorch.log10,
                                       mytorch.log1p)
sqrt, sin, cos, tan, sinh, cosh, tanh = mytorch.sqrt, mytorch.sin, mytorch.cos, mytorch.tan, mytorch.sinh, \
    mytorch.cosh, mytorch.tanh
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = mytorch.asin, mytorch.acos, mytorch.atan, mytorch.asinh, \
    mytorch.acosh, mytorch.atanh
nan = math.nan
signbit = mytorch.signbit
abs, sign, erf, sigmoid, isnan = mytorch.abs, mytorch.sign, mytorch.erf, mytorch.sigmoid, mytorch.isnan

inf = math.inf


class special:
    """scipy.special's names (ops/special_math.py's derivative formulas) over mytorch's special functions."""

    gammaln, psi, i0 = staticmethod(mytorch.lgamma), staticmethod(mytorch.digamma), staticmethod(mytorch.i0)

    @staticmethod
    def polygamma(n, x):
        return mytorch.polygamma(n, x)

    def __getattr__(self, name):  # i1, i1e, i0e, ndtr, log_ndtr, erfcx, ndtri: the same names in mytorch.special
        return getattr(mytorch.special, name)


special = special()


def __getattr__(name):
    raise RuntimeError(f"a derivative formula uses numpy's {name}, which has no recorded counterpart here: that "
                       "derivative is not implemented for create_graph=True")
