"""Transforms of whole events (softmax and stick breaking onto the simplex, Cholesky and correlation factors,
positive-definite matrices, reshapes) and transforms that combine others (Independent, Cat, Stack), plus the CDF
transform. Re-exported by mytorch.distributions.transforms."""
import math

import mytorch

from ..tensor import Size
from . import constraints
from .transforms import Transform
from .utils import finfo, softplus, sum_rightmost, tril_matrix_to_vec, vec_to_tril_matrix


class SoftmaxTransform(Transform):
    """Real vectors to the simplex by softmax; not bijective (the inverse is defined up to a constant)."""

    domain = constraints.real_vector
    codomain = constraints.simplex

    def __eq__(self, other):
        return isinstance(other, SoftmaxTransform)

    def __hash__(self):
        return hash(SoftmaxTransform)

    def _call(self, x):
        logprobs = x
        probs = (logprobs - logprobs.max(-1, keepdim=True)[0]).exp()
        return probs / probs.sum(-1, keepdim=True)

    def _inverse(self, y):
        return y.log()

class StickBreakingTransform(Transform):
    """R^(n) -> the n+1 simplex by stick breaking: each coordinate takes a sigmoid share of what is left.

    The offset log(n + 1 - i) makes x = 0 map to the uniform point of the simplex."""

    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    def __eq__(self, other):
        return isinstance(other, StickBreakingTransform)

    def __hash__(self):
        return hash(StickBreakingTransform)

    @staticmethod
    def _offset(x, n):
        return (n + 1 - mytorch.arange(1, x.shape[-1] + 1, dtype=x.dtype, device=x.device)).log()

    def _call(self, x):
        z = (x - self._offset(x, x.shape[-1])).sigmoid()
        left = (1 - z).cumprod(-1)
        ones = mytorch.ones(x.shape[:-1] + (1,), dtype=x.dtype, device=x.device)
        return mytorch.cat([z, ones], -1) * mytorch.cat([ones, left], -1)

    def _inverse(self, y):
        y_crop = y[..., :-1]
        offset = (y.shape[-1] - mytorch.arange(1, y_crop.shape[-1] + 1, dtype=y.dtype, device=y.device)).log()
        remaining = (1 - y_crop.cumsum(-1)).clamp(min=float(finfo(y.dtype).tiny))
        return y_crop.log() - remaining.log() + offset

    def log_abs_det_jacobian(self, x, y):
        x = x - self._offset(x, x.shape[-1])
        return (-x - softplus(-x) + y[..., :-1].log()).sum(-1)

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("Too few dimensions on input")
        return shape[:-1] + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("Too few dimensions on input")
        return shape[:-1] + (shape[-1] - 1,)

class LowerCholeskyTransform(Transform):
    """Unconstrained square matrices to lower-triangular ones with a positive (exponentiated) diagonal."""

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.lower_cholesky

    def __eq__(self, other):
        return isinstance(other, LowerCholeskyTransform)

    def __hash__(self):
        return hash(LowerCholeskyTransform)

    def _call(self, x):
        return x.tril(-1) + x.diagonal(dim1=-2, dim2=-1).exp().diag_embed()

    def _inverse(self, y):
        return y.tril(-1) + y.diagonal(dim1=-2, dim2=-1).log().diag_embed()

class PositiveDefiniteTransform(Transform):
    """Unconstrained square matrices to positive-definite ones: L L^T with L from LowerCholeskyTransform."""

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def __eq__(self, other):
        return isinstance(other, PositiveDefiniteTransform)

    def __hash__(self):
        return hash(PositiveDefiniteTransform)

    def _call(self, x):
        L = LowerCholeskyTransform()(x)
        return L @ L.mT

    def _inverse(self, y):
        return LowerCholeskyTransform().inv(mytorch.linalg.cholesky(y))

class CorrCholeskyTransform(Transform):
    """A vector of D (D - 1) / 2 reals to the Cholesky factor of a D x D correlation matrix.

    tanh maps each entry into (-1, 1); row by row, stick breaking on the squares makes each row unit length
    (Stan reference manual, "Cholesky factors of correlation matrices")."""

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    bijective = True

    def _call(self, x):
        eps = float(finfo(x.dtype).eps)
        r = vec_to_tril_matrix(x.tanh().clamp(min=-1 + eps, max=1 - eps), diag=-1)
        # entry (i, j) = r_ij * sqrt(what is left of row i's unit length after entries 0..j-1)
        left = (1 - r.pow(2)).sqrt().cumprod(-1)
        ones = mytorch.ones(r.shape[:-1] + (1,), dtype=r.dtype, device=r.device)
        r = r + mytorch.eye(r.shape[-1], dtype=r.dtype, device=r.device)
        return r * mytorch.cat([ones, left[..., :-1]], -1)

    def _inverse(self, y):
        remaining = 1 - (y * y).cumsum(-1)
        ones = mytorch.ones(y.shape[:-1] + (1,), dtype=y.dtype, device=y.device)
        remaining_before = mytorch.cat([ones, remaining[..., :-1]], -1)
        t = tril_matrix_to_vec(y, diag=-1) / tril_matrix_to_vec(remaining_before, diag=-1).sqrt()
        return (t.log1p() - (-t).log1p()) / 2  # atanh

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        # with respect to the flattened strictly-lower part of y (domain and codomain differ in size)
        remaining = 1 - (y * y).cumsum(-1)
        stick_breaking = 0.5 * tril_matrix_to_vec(remaining, diag=-2).log().sum(-1)
        tanh = -2 * (x + softplus(-2 * x) - math.log(2.0)).sum(-1)
        return stick_breaking + tanh

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("Too few dimensions on input")
        N = shape[-1]
        D = round((0.25 + 2 * N) ** 0.5 + 0.5)
        if D * (D - 1) // 2 != N:
            raise ValueError("Input is not a flattened lower-diagonal number")
        return Size(shape[:-1]) + (D, D)

    def inverse_shape(self, shape):
        if len(shape) < 2:
            raise ValueError("Too few dimensions on input")
        if shape[-2] != shape[-1]:
            raise ValueError("Input is not square")
        D = shape[-1]
        return Size(shape[:-2]) + (D * (D - 1) // 2,)

class IndependentTransform(Transform):
    """Wraps a transform so its rightmost reinterpreted_batch_ndims dimensions count as one event."""

    def __init__(self, base_transform, reinterpreted_batch_ndims, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.base_transform = base_transform.with_cache(cache_size)
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return IndependentTransform(self.base_transform, self.reinterpreted_batch_ndims, cache_size=cache_size)

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        return constraints.independent(self.base_transform.domain, self.reinterpreted_batch_ndims)

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        return constraints.independent(self.base_transform.codomain, self.reinterpreted_batch_ndims)

    @property
    def bijective(self):
        return self.base_transform.bijective

    @property
    def sign(self):
        return self.base_transform.sign

    def _call(self, x):
        return self.base_transform(x)

    def _inverse(self, y):
        return self.base_transform.inv(y)

    def log_abs_det_jacobian(self, x, y):
        return sum_rightmost(self.base_transform.log_abs_det_jacobian(x, y), self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)

    def __repr__(self):
        return f"{type(self).__name__}({self.base_transform!r}, {self.reinterpreted_batch_ndims})"

class ReshapeTransform(Transform):
    """Reshapes the rightmost in_shape dimensions to out_shape (unit Jacobian)."""

    bijective = True

    def __init__(self, in_shape, out_shape, cache_size=0):
        self.in_shape, self.out_shape = Size(in_shape), Size(out_shape)
        if self.in_shape.numel() != self.out_shape.numel():
            raise ValueError("in_shape, out_shape have different numbers of elements")
        super().__init__(cache_size=cache_size)

    @constraints.dependent_property
    def domain(self):
        return constraints.independent(constraints.real, len(self.in_shape))

    @constraints.dependent_property
    def codomain(self):
        return constraints.independent(constraints.real, len(self.out_shape))

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else ReshapeTransform(self.in_shape, self.out_shape, cache_size)

    def _call(self, x):
        return x.reshape(x.shape[:x.dim() - len(self.in_shape)] + self.out_shape)

    def _inverse(self, y):
        return y.reshape(y.shape[:y.dim() - len(self.out_shape)] + self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        return x.new_zeros(x.shape[:x.dim() - len(self.in_shape)])

    @staticmethod
    def _swap_event(shape, old, new):
        if len(shape) < len(old):
            raise ValueError("Too few dimensions on input")
        cut = len(shape) - len(old)
        if shape[cut:] != old:
            raise ValueError(f"Shape mismatch: expected {shape[cut:]} but got {old}")
        return shape[:cut] + new

    def forward_shape(self, shape):
        return self._swap_event(Size(shape), self.in_shape, self.out_shape)

    def inverse_shape(self, shape):
        return self._swap_event(Size(shape), self.out_shape, self.in_shape)

class CatTransform(Transform):
    """transforms[i] applied to consecutive slices of lengths[i] along dim, results concatenated."""

    def __init__(self, tseq, dim=0, lengths=None, cache_size=0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise TypeError("All elements of tseq must be Transform instances")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = list(tseq)
        self.lengths = [1] * len(self.transforms) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.transforms):
            raise ValueError(f"lengths ({len(self.lengths)}) must match transforms ({len(self.transforms)})")
        self.dim = dim

    @property
    def event_dim(self):
        return max(t.event_dim for t in self.transforms)

    @property
    def length(self):
        return sum(self.lengths)

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else CatTransform(self.transforms, self.dim, self.lengths,
                                                                        cache_size)

    def _check(self, x, name):
        if x.shape[self.dim] != self.length:
            raise ValueError(f"{name}.size({self.dim}) = {x.shape[self.dim]} must equal length {self.length}")

    def _slices(self, x):
        start = 0
        for t, length in zip(self.transforms, self.lengths):
            yield t, x.narrow(self.dim, start, length)
            start += length

    def _call(self, x):
        self._check(x, "x")
        return mytorch.cat([t(part) for t, part in self._slices(x)], self.dim)

    def _inverse(self, y):
        self._check(y, "y")
        return mytorch.cat([t.inv(part) for t, part in self._slices(y)], self.dim)

    def log_abs_det_jacobian(self, x, y):
        self._check(x, "x")
        self._check(y, "y")
        terms = []
        for (t, x_part), (_, y_part) in zip(self._slices(x), self._slices(y)):
            term = t.log_abs_det_jacobian(x_part, y_part)
            terms.append(sum_rightmost(term, self.event_dim - t.event_dim))
        # dim inside the event: the pieces' log-dets add up; in the batch: they sit side by side
        dim = (self.dim - x.dim() if self.dim >= 0 else self.dim) + self.event_dim
        return mytorch.cat(terms, dim) if dim < 0 else sum(terms)

    @property
    def bijective(self):
        return all(t.bijective for t in self.transforms)

    @constraints.dependent_property
    def domain(self):
        return constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths)

    @constraints.dependent_property
    def codomain(self):
        return constraints.cat([t.codomain for t in self.transforms], self.dim, self.lengths)

class StackTransform(Transform):
    """transforms[i] applied to x.select(dim, i), results stacked back along dim."""

    def __init__(self, tseq, dim=0, cache_size=0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise TypeError("All elements of tseq must be Transform instances")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = list(tseq)
        self.dim = dim

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else StackTransform(self.transforms, self.dim, cache_size)

    def _parts(self, x):
        return [x.select(self.dim, i) for i in range(x.shape[self.dim])]

    def _call(self, x):
        return mytorch.stack([t(part) for part, t in zip(self._parts(x), self.transforms)], self.dim)

    def _inverse(self, y):
        return mytorch.stack([t.inv(part) for part, t in zip(self._parts(y), self.transforms)], self.dim)

    def log_abs_det_jacobian(self, x, y):
        terms = [t.log_abs_det_jacobian(xp, yp) for xp, yp, t in zip(self._parts(x), self._parts(y), self.transforms)]
        return mytorch.stack(terms, self.dim)

    @property
    def bijective(self):
        return all(t.bijective for t in self.transforms)

    @constraints.dependent_property
    def domain(self):
        return constraints.stack([t.domain for t in self.transforms], self.dim)

    @constraints.dependent_property
    def codomain(self):
        return constraints.stack([t.codomain for t in self.transforms], self.dim)

class CumulativeDistributionTransform(Transform):
    """y = F(x), the CDF of a univariate distribution: maps its support onto the unit interval."""

    bijective = True
    codomain = constraints.unit_interval
    sign = +1

    def __init__(self, distribution, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    @property
    def domain(self):
        return self.distribution.support

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else CumulativeDistributionTransform(self.distribution,
                                                                                            cache_size=cache_size)

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)  # dF/dx is the density
