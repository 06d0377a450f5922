from numbers import Number

import mytorch

from ..tensor import Size
from . import constraints
from ._sampling import uniform
from .bernoulli import _binary_cross_entropy_with_logits
from .distribution import Distribution
from .utils import broadcast_all, finfo, lazy_property, logits_to_probs, probs_to_logits


class Geometric(Distribution):
    """Geometric(probs=None, logits=None): the number of failures before the first success."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        param = self.probs if probs is not None else self.logits
        batch_shape = Size() if isinstance(probs if probs is not None else logits, Number) else param.shape
        super().__init__(batch_shape, validate_args=validate_args)
        if self._validate_args and probs is not None and not bool((self.probs > 0).all()):
            # probs == 0 passes unit_interval but has no geometric distribution
            invalid = self.probs.detach()[~(self.probs > 0)]
            raise ValueError(f"Expected parameter probs ({type(self.probs).__name__} of shape "
                             f"{tuple(self.probs.shape)}) of distribution {self!r} to be positive but found "
                             f"invalid values:\n{invalid}")

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Geometric, batch_shape, ("probs", "logits"), _instance)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return mytorch.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=Size()):
        # inverse CDF: floor(log(u) / log(1 - p)) for u uniform on (0, 1)
        shape = self._extended_shape(sample_shape)
        with mytorch.no_grad():
            tiny = float(finfo(self.probs.dtype).tiny)
            u = uniform(shape, self.probs).clamp(min=tiny)
            return (u.log() / (-self.probs).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # a certain success (p = 1) at value 0 has log-prob 0, not 0 * log(0)
        log_fail = mytorch.where((probs == 1) & (value == 0), 0.0, (-probs).log1p())
        return value * log_fail + self.probs.log()

    def entropy(self):
        return _binary_cross_entropy_with_logits(self.logits, self.probs) / self.probs
