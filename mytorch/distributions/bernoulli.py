import mytorch

from ..tensor import Size
from . import constraints
from ._sampling import uniform
from .distribution import ExponentialFamily
from .utils import BinaryProbsLogits, broadcast_all


def _binary_cross_entropy_with_logits(logits, target):
    # max(l, 0) - l * t + log(1 + exp(-|l|)): stable for large |logits|
    return logits.clamp(min=0) - logits * target + (-logits.abs()).exp().log1p()


class Bernoulli(BinaryProbsLogits, ExponentialFamily):
    """Bernoulli(probs=None, logits=None): 1 with probability probs (= sigmoid(logits)), else 0."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        super().__init__(self._set_probs_or_logits(probs, logits), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._expand_binary(Bernoulli, batch_shape, ("probs", "logits"), _instance)
        return new

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return mytorch.where(self.probs == 0.5, float("nan"), mode)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        with mytorch.no_grad():
            probs = self.probs.expand(shape)
            return (uniform(shape, probs) < probs).to(probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_binary_cross_entropy_with_logits(logits, value)

    def entropy(self):
        return _binary_cross_entropy_with_logits(self.logits, self.probs)

    def enumerate_support(self, expand=True):
        values = mytorch.arange(2, dtype=self._param.dtype, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + self._batch_shape) if expand else values

