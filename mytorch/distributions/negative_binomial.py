import mytorch

from ..tensor import Size
from . import constraints
from ._sampling import poisson
from .distribution import Distribution
from .gamma import Gamma
from .utils import BinaryProbsLogits, softplus


def _log_sigmoid(x):
    return -softplus(-x)


class NegativeBinomial(BinaryProbsLogits, Distribution):
    """NegativeBinomial(total_count, probs=None, logits=None): successes (each with probability probs) before
    total_count failures; sampled as a Poisson whose rate is Gamma distributed."""

    arg_constraints = {"total_count": constraints.greater_than_eq(0), "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        super().__init__(self._set_probs_or_logits(probs, logits, total_count), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_binary(NegativeBinomial, batch_shape, ("total_count", "probs", "logits"), _instance)
        return new

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / (-self.logits).sigmoid()

    def sample(self, sample_shape=Size()):
        with mytorch.no_grad():
            rate = Gamma(self.total_count, (-self.logits).exp(), validate_args=False).sample(sample_shape)
            return poisson(rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        log_unnormalized = self.total_count * _log_sigmoid(-self.logits) + value * _log_sigmoid(self.logits)
        log_normalization = (-(self.total_count + value).lgamma() + (1.0 + value).lgamma()
                             + self.total_count.lgamma())
        # total_count = value = 0 is a certain event: its normalizer is 0, not lgamma(0) = inf
        log_normalization = mytorch.where(self.total_count + value == 0.0, 0.0, log_normalization)
        return log_unnormalized - log_normalization
