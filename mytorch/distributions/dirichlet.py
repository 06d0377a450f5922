import mytorch

from ..tensor import Size
from . import constraints
from ._sampling import standard_gamma
from .distribution import ExponentialFamily
from .utils import finfo


class Dirichlet(ExponentialFamily):
    """Dirichlet(concentration) over the probability simplex (the last dimension is the event).

    rsample normalises standard gamma samples, whose implicit gradients carry the reparameterisation."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Dirichlet, batch_shape, ("concentration",), _instance)

    def rsample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        gammas = standard_gamma(self.concentration.expand(shape))
        info = finfo(gammas.dtype)
        return (gammas / gammas.sum(-1, keepdim=True)).clamp(min=float(info.tiny), max=1 - float(info.eps))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return (mytorch.xlogy(c - 1.0, value).sum(-1) + mytorch.lgamma(c.sum(-1))
                - mytorch.lgamma(c).sum(-1))

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        # (c - 1) / (sum c - k), clamped at 0. When every c < 1 the density peaks at the corners; PyTorch
        # then puts all the mass on the first category, and so do we.
        excess = (self.concentration - 1).clamp(min=0.0)
        total = excess.sum(-1, keepdim=True)
        mode = excess / mytorch.where(total == 0, 1.0, total)
        all_below_one = (self.concentration < 1).all(-1, keepdim=True)
        first_corner = (mytorch.arange(self.concentration.shape[-1], device=mode.device) == 0).type_as(mode)
        return mytorch.where(all_below_one, first_corner, mode)

    @property
    def variance(self):
        c0 = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (c0 - self.concentration) / (c0.pow(2) * (c0 + 1))

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        c0 = c.sum(-1)
        return (mytorch.lgamma(c).sum(-1) - mytorch.lgamma(c0) - (k - c0) * mytorch.digamma(c0)
                - ((c - 1.0) * mytorch.digamma(c)).sum(-1))
