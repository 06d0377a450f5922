import math

import mytorch

from ..tensor import Size
from . import constraints
from .beta import Beta
from .distribution import Distribution
from .utils import broadcast_all, finfo


class LKJCholesky(Distribution):
    """LKJCholesky(dim, concentration=1.0): the Cholesky factor L of a correlation matrix L L^T whose density is
    proportional to det(L L^T)^(concentration - 1) (Lewandowski, Kurowicka & Joe 2009).

    Sampling is the onion method: row i of L is sqrt(y_i) times a uniform direction in its first i entries,
    with y_i ~ Beta, and a diagonal entry that makes the row unit length."""

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        # row i (i >= 1) has squared off-diagonal norm y_i ~ Beta(i / 2, eta + (d - 2) / 2 - (i - 1) / 2), the
        # onion method of LKJ (2009) section 3.2; row 0 has no off-diagonal entries (its draw is unused).
        # PyTorch 2.13 uses i - 1/2 as the first parameter, which widens the correlations of rows 2, 3, ...
        rows = mytorch.arange(dim, dtype=self.concentration.dtype, device=self.concentration.device)
        marginal = self.concentration + 0.5 * (dim - 2)
        self._beta = Beta((rows / 2).clamp(min=0.5), marginal.unsqueeze(-1) - 0.5 * (rows - 1).clamp(min=0))
        super().__init__(self.concentration.shape, Size((dim, dim)), validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(batch_shape + (self.dim,))
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=Size()):
        with mytorch.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            normal = mytorch.randn(*self._extended_shape(sample_shape), dtype=y.dtype, device=y.device).tril(-1)
            norms = normal.pow(2).sum(-1, keepdim=True).sqrt()
            direction = normal / mytorch.where(norms == 0, 1.0, norms)  # row 0 has no off-diagonal entries
            w = y.sqrt() * direction
            diagonal = (1 - w.pow(2).sum(-1)).clamp(min=float(finfo(w.dtype).tiny)).sqrt()
            return w + mytorch.diag_embed(diagonal)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diag = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = mytorch.arange(2, self.dim + 1, dtype=self.concentration.dtype, device=self.concentration.device)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized = (order * diag.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        normalizer = 0.5 * dm1 * math.log(math.pi) + mytorch.mvlgamma(alpha - 0.5, dm1) - mytorch.lgamma(alpha) * dm1
        return unnormalized - normalizer
