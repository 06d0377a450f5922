import math
from numbers import Number

import mytorch

from ..tensor import Size
from . import constraints
from ._sampling import uniform
from .distribution import Distribution
from .utils import broadcast_all


class GeneralizedPareto(Distribution):
    """GeneralizedPareto(loc, scale, concentration xi): survival (1 + xi z)^(-1/xi) with z = (x - loc) / scale,
    exp(-z) at xi = 0; the peaks-over-threshold law of extreme value theory."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        scalars = all(isinstance(v, Number) for v in (loc, scale, concentration))
        super().__init__(Size() if scalars else self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(GeneralizedPareto, batch_shape, ("loc", "scale", "concentration"), _instance)

    def _split(self):
        # xi == 0 takes the exponential limit; elsewhere a safe xi avoids 0 / 0 in the unused branch
        is_zero = mytorch.isclose(self.concentration, mytorch.zeros_like(self.concentration))
        return is_zero, mytorch.where(is_zero, mytorch.ones_like(self.concentration), self.concentration)

    def rsample(self, sample_shape=Size()):
        return self.icdf(uniform(self._extended_shape(sample_shape), self.loc))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        is_zero, xi = self._split()
        power = 1 / xi + 1
        nonzero = mytorch.where(power == 0, power, power * (xi * z).log1p())  # xi = -1: a flat density
        return -self.scale.log() - mytorch.where(is_zero, z, nonzero)

    def log_survival_function(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        is_zero, xi = self._split()
        return mytorch.where(is_zero, -z, -(xi * z).log1p() / xi)

    def log_cdf(self, value):
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value):
        return self.log_cdf(value).exp()

    def icdf(self, value):
        is_zero, xi = self._split()
        log_u = (-value).log1p()
        return mytorch.where(is_zero, self.loc - self.scale * log_u,
                             self.loc + self.scale / xi * (-xi * log_u).expm1())

    @property
    def mean(self):
        valid = self.concentration < 1
        xi = mytorch.where(valid, self.concentration, 0.5)
        return mytorch.where(valid, self.loc + self.scale / (1 - xi), math.nan)

    @property
    def variance(self):
        valid = self.concentration < 0.5
        xi = mytorch.where(valid, self.concentration, 0.25)
        return mytorch.where(valid, self.scale ** 2 / ((1 - xi) ** 2 * (1 - 2 * xi)), math.nan)

    @property
    def mode(self):
        return self.loc

    def entropy(self):
        return (self.scale.log() + self.concentration + 1).expand(self._batch_shape)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        upper = mytorch.where(self.concentration < 0, self.loc - self.scale / self.concentration, math.inf)
        return constraints.interval(self.loc, upper)
