"""KL divergences between different families, registered into kl.py's table.

Most are KL(p || q) = -H(p) - E_p[log q(X)], with E_p[log q] written through p's moments (mean, variance,
E[log X], E[exp(-X / s)]); a pair whose p puts mass where q has none is infinite."""
import math

import mytorch

from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .cauchy import Cauchy
from .continuous_bernoulli import ContinuousBernoulli
from .exponential import Exponential
from .gamma import Gamma
from .geometric import Geometric
from .gumbel import Gumbel
from .half_normal import HalfNormal
from .kl import _kl_normal_normal, register_kl
from .laplace import Laplace
from .normal import Normal
from .pareto import Pareto
from .poisson import Poisson
from .uniform import Uniform

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _infinite_like(t):
    return mytorch.full_like(t, math.inf)


# E_p[log q(X)] for each q, from p's moments -------------------------------------------------------------
def _expected_log_normal(q, mean, variance):
    return -q.scale.log() - _HALF_LOG_2PI - (variance + (mean - q.loc).pow(2)) / (2 * q.scale.pow(2))


def _expected_log_exponential(q, mean):
    return q.rate.log() - q.rate * mean


def _expected_log_gamma(q, mean, mean_log):
    a, b = q.concentration, q.rate
    return a * b.log() - a.lgamma() + (a - 1) * mean_log - b * mean


def _expected_log_gumbel(q, mean, mgf_at_minus_inv_scale):
    # log q(x) = -log s - z - exp(-z), z = (x - loc) / s; E[exp(-z)] = exp(loc / s) E[exp(-x / s)]
    return -q.scale.log() - (mean - q.loc) / q.scale - (q.loc / q.scale).exp() * mgf_at_minus_inv_scale


def _expected_log_continuous_bernoulli(q, mean):
    return mean * q.logits + (-q.probs).log1p() + q._log_normalizer_probs()


def _moments_log(p):
    """E_p[log X] for the positive-support families that need it."""
    if isinstance(p, Beta):
        return p.concentration1.digamma() - (p.concentration1 + p.concentration0).digamma()
    if isinstance(p, Gamma):
        return p.concentration.digamma() - p.rate.log()
    if isinstance(p, Pareto):
        return p.scale.log() + p.alpha.reciprocal()
    raise TypeError(type(p).__name__)


# same family ---------------------------------------------------------------------------------------------
@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    return ((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)).log() - (4 * p.scale * q.scale).log()


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    # log p(x) = log alpha + alpha log s - (alpha + 1) log x on x >= s
    result = ((p.alpha / q.alpha).log() + p.alpha * p.scale.log() - q.alpha * q.scale.log()
              + (q.alpha - p.alpha) * _moments_log(p))
    return mytorch.where(p.scale < q.scale, math.inf, result)


# discrete ---------------------------------------------------------------------------------------------------
@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Poisson, Bernoulli)
@register_kl(Poisson, Binomial)
def _kl_poisson_infinity(p, q):
    return _infinite_like(p.rate)  # a Poisson puts mass on every count, a (Bi)nomial on finitely many


# p with bounded support ---------------------------------------------------------------------------------
@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    return -p.entropy() - _expected_log_continuous_bernoulli(q, p.mean)


@register_kl(Beta, Exponential)
@register_kl(ContinuousBernoulli, Exponential)
def _kl_unit_exponential(p, q):
    return -p.entropy() - _expected_log_exponential(q, p.mean)


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    return -p.entropy() - _expected_log_gamma(q, p.mean, _moments_log(p))


@register_kl(Beta, Normal)
@register_kl(ContinuousBernoulli, Normal)
@register_kl(Gamma, Normal)
@register_kl(Exponential, Normal)
@register_kl(Gumbel, Normal)
@register_kl(Laplace, Normal)
@register_kl(Pareto, Normal)
def _kl_to_normal(p, q):
    return -p.entropy() - _expected_log_normal(q, p.mean, p.variance)


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return mytorch.where((q.low > 0) | (q.high < 1), math.inf, result)


# p on the positive half-line ------------------------------------------------------------------------------
@register_kl(Gamma, Exponential)
@register_kl(Pareto, Exponential)
def _kl_positive_exponential(p, q):
    return -p.entropy() - _expected_log_exponential(q, p.mean)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    return -p.entropy() - _expected_log_gamma(q, p.mean, _moments_log(p))


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    mgf = p.rate / (p.rate + q.scale.reciprocal())
    return -p.entropy() - _expected_log_gumbel(q, p.mean, mgf)


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    mgf = (p.rate / (p.rate + q.scale.reciprocal())).pow(p.concentration)
    return -p.entropy() - _expected_log_gumbel(q, p.mean, mgf)


# p on the real line ------------------------------------------------------------------------------------------
@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    mgf = (-p.loc / q.scale + p.scale.pow(2) / (2 * q.scale.pow(2))).exp()
    return -p.entropy() - _expected_log_gumbel(q, p.mean, mgf)


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    # E|X - m| for X ~ Normal(mu, s), d = mu - m: s sqrt(2/pi) exp(-d^2 / 2s^2) + d erf(d / (s sqrt 2))
    d = p.loc - q.loc
    mean_abs = (p.scale * math.sqrt(2 / math.pi) * (-d.pow(2) / (2 * p.scale.pow(2))).exp()
                + d * mytorch.erf(d / (p.scale * math.sqrt(2))))
    return -p.entropy() + (2 * q.scale).log() + mean_abs / q.scale


# p uniform ---------------------------------------------------------------------------------------------------------
def _uniform_mean_log(low, high):
    # E[log X] for X uniform on [low, high], 0 <= low < high
    return (mytorch.xlogy(high, high) - mytorch.xlogy(low, low)) / (high - low) - 1


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    a, b = q.concentration1, q.concentration0
    log_beta = a.lgamma() + b.lgamma() - (a + b).lgamma()
    lo, hi = p.low.clamp(min=0, max=1), p.high.clamp(min=0, max=1)
    expected = (a - 1) * _uniform_mean_log(lo, hi) + (b - 1) * _uniform_mean_log(1 - hi, 1 - lo) - log_beta
    result = -p.entropy() - expected
    return mytorch.where((p.low < 0) | (p.high > 1), math.inf, result)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    result = -p.entropy() - _expected_log_continuous_bernoulli(q, p.mean)
    return mytorch.where((p.low < 0) | (p.high > 1), math.inf, result)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = -p.entropy() - _expected_log_exponential(q, p.mean)
    return mytorch.where(p.low < 0, math.inf, result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    result = -p.entropy() - _expected_log_gamma(q, p.mean, _uniform_mean_log(p.low.clamp(min=0), p.high))
    return mytorch.where(p.low < 0, math.inf, result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    s = q.scale
    mgf = s * ((-p.low / s).exp() - (-p.high / s).exp()) / (p.high - p.low)
    return -p.entropy() - _expected_log_gumbel(q, p.mean, mgf)


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    lo = p.low.clamp(min=0)
    expected = q.alpha.log() + q.alpha * q.scale.log() - (q.alpha + 1) * _uniform_mean_log(lo, p.high)
    result = -p.entropy() - expected
    return mytorch.where(p.low < q.scale, math.inf, result)


# p puts mass where q has none ------------------------------------------------------------------------------------
def _infinite_in(param):
    return lambda p, q: _infinite_like(getattr(p, param))


_REAL_LINE = {Normal: "loc", Laplace: "loc", Gumbel: "loc"}
_POSITIVE = {Exponential: "rate", Gamma: "concentration", Pareto: "scale"}
for _type_p, _param in _REAL_LINE.items():
    for _type_q in (Beta, ContinuousBernoulli, Exponential, Gamma, Pareto, Uniform):
        register_kl(_type_p, _type_q)(_infinite_in(_param))
for _type_p, _param in _POSITIVE.items():
    for _type_q in (Beta, ContinuousBernoulli, Uniform) + (() if _type_p is Pareto else (Pareto,)):
        register_kl(_type_p, _type_q)(_infinite_in(_param))
register_kl(Beta, Pareto)(_infinite_in("concentration1"))
register_kl(ContinuousBernoulli, Pareto)(_infinite_in("probs"))
