import math

import mytorch

from ..tensor import Size
from . import constraints
from ._sampling import uniform
from .distribution import Distribution
from .utils import broadcast_all, lazy_property


def _log_i0(x):
    # log I0(x) = log(i0e(x)) + x, exact and differentiable through i0e
    return mytorch.special.i0e(x).log() + x


class VonMises(Distribution):
    """VonMises(loc, concentration): a circular distribution over angles, density exp(k cos(x - loc)) / (2 pi I0(k)).

    mean and variance are the circular ones; samples lie in [-pi, pi)."""

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, Size(), validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(VonMises, batch_shape, ("loc", "concentration"), _instance)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.concentration * (value - self.loc).cos() - math.log(2 * math.pi) - _log_i0(self.concentration)

    @lazy_property
    def _proposal_r(self):
        kappa = self.concentration.double()
        tau = 1 + (1 + 4 * kappa ** 2).sqrt()
        rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
        # second-order Taylor expansion for tiny kappa, where the closed form loses all precision
        return mytorch.where(kappa < 1e-5, 1 / kappa + kappa, (1 + rho ** 2) / (2 * rho))

    def sample(self, sample_shape=Size()):
        """Best & Fisher (1979) rejection sampling, in float64, redrawing only where nothing was accepted yet."""
        with mytorch.no_grad():
            shape = self._extended_shape(sample_shape)
            kappa = self.concentration.double().expand(shape)
            r = self._proposal_r.expand(shape)
            x = mytorch.zeros(shape, dtype=mytorch.float64, device=self.loc.device)
            done = mytorch.zeros(shape, dtype=mytorch.bool, device=self.loc.device)
            while not bool(done.all()):
                u = uniform((3,) + tuple(shape), x)
                u1, u2, u3 = u[0], u[1], u[2]
                z = (math.pi * u1).cos()
                f = (1 + r * z) / (r + z)
                c = kappa * (r - f)
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                accept = accept & ~done
                x = mytorch.where(accept, (u3 - 0.5).sign() * f.acos(), x)
                done = done | accept
            return ((x + math.pi + self.loc.double()) % (2 * math.pi) - math.pi).to(self.loc.dtype)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        k = self.concentration
        return 1 - mytorch.special.i1e(k) / mytorch.special.i0e(k)  # 1 - I1(k) / I0(k)
