"""Raw samplers drawn from mytorch's RNG (so `mytorch.manual_seed` reproduces them), and the implicit
reparameterisation gradient of a standard gamma sample.

A Gamma(alpha, 1) sample x has no closed-form inverse CDF, but its CDF P(alpha, x) (the regularised
lower incomplete gamma function) is fixed along the sampling path, so
    dx/dalpha = -(dP/dalpha) / (dP/dx),   dP/dx = x^(alpha-1) e^-x / Gamma(alpha)
(Figurnov et al. 2018, "Implicit Reparameterization Gradients"; PyTorch's _standard_gamma_grad).
dP/dalpha is taken by a central difference of the incomplete gamma function in float64."""
import numpy as np

from .._array import on_device, xp_of
from ..autograd.function import Function
from ..ops.special_math import special_module
from ..random import rng_for
from ..tensor import Tensor


def _draw(like, draw):
    """Run draw(rng, xp) on like's device and wrap the result as a tensor of like's dtype."""
    with on_device(like.device):
        arr = draw(rng_for(like.device), xp_of(like._data))
    return Tensor._make(arr.astype(like._data.dtype, copy=False))


def standard_gamma_grad(alpha, x):
    """dx/dalpha for x ~ Gamma(alpha, 1), elementwise on arrays (computed in float64)."""
    xp = xp_of(alpha)
    sp = special_module(xp)
    a, x64 = alpha.astype(np.float64), x.astype(np.float64)
    h = 1e-5 * xp.maximum(a, 1e-3)
    lower = sp.gammainc(a, x64)
    # difference the smaller of P and Q = 1 - P so the step isn't lost to rounding near 1
    use_upper = lower > 0.5
    fn_plus = xp.where(use_upper, -sp.gammaincc(a + h, x64), sp.gammainc(a + h, x64))
    fn_minus = xp.where(use_upper, -sp.gammaincc(a - h, x64), sp.gammainc(a - h, x64))
    dP_dalpha = (fn_plus - fn_minus) / (2 * h)
    with np.errstate(all="ignore"):
        log_density = (a - 1) * xp.log(x64) - x64 - sp.gammaln(a)
        grad = -dP_dalpha / xp.exp(log_density)
    return xp.where(xp.isfinite(grad), grad, 0.0).astype(alpha.dtype, copy=False)


class _GammaReparam(Function):
    """Passes a gamma sample through and gives it the implicit gradient w.r.t. the concentration."""

    @staticmethod
    def forward(ctx, alpha, sample):
        ctx.save_for_backward(alpha, sample)
        return sample

    @staticmethod
    def backward(ctx, grad):
        alpha, sample = ctx.saved_tensors
        return grad * standard_gamma_grad(alpha, sample), None


def standard_gamma(concentration):
    """One Gamma(concentration, 1) sample per element, differentiable w.r.t. concentration."""
    tiny = float(np.finfo(concentration._data.dtype).tiny)
    sample = _draw(concentration, lambda rng, xp: xp.maximum(
        rng.standard_gamma(concentration._data.astype(np.float64)), tiny))
    if concentration.requires_grad:
        return _GammaReparam.apply(concentration, sample)
    return sample


def poisson(rate):
    return _draw(rate, lambda rng, xp: rng.poisson(rate._data.astype(np.float64)))


def binomial(total_count, probs):
    return _draw(probs, lambda rng, xp: rng.binomial(total_count._data.astype(np.int64),
                                                      probs._data.astype(np.float64)))


def standard_exponential(shape, like):
    return _draw(like, lambda rng, xp: rng.standard_exponential(tuple(shape)))


def uniform(shape, like):
    """Uniform [0, 1) samples of like's dtype and device."""
    dtype = np.float64 if like._data.dtype == np.float64 else np.float32
    return _draw(like, lambda rng, xp: rng.random(tuple(shape), dtype=dtype))
