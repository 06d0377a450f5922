"""Helpers shared by the distributions: broadcasting parameters, probs <-> logits, cached properties."""
import math
import numbers

import numpy as np

import mytorch

from ..tensor import Tensor


euler_constant = 0.57721566490153286061  # Euler-Mascheroni constant


def finfo(dtype):
    """numpy's finfo for a mytorch float dtype (eps, tiny, min, max)."""
    return np.finfo(dtype.np)


def broadcast_all(*values):
    """Broadcast tensors and numbers to one shape; numbers become tensors of the tensors' dtype and device."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, torch.Tensor or objects "
                         "implementing __torch_function__.")
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is None:
        dtype = mytorch.get_default_dtype()
        return tuple(mytorch.tensor(float(v), dtype=dtype) for v in values)
    values = [v if isinstance(v, Tensor) else mytorch.tensor(v, dtype=like.dtype, device=like.device)
              for v in values]
    return tuple(mytorch.broadcast_tensors(*values))


def sum_rightmost(value, dim):
    """Sum out the `dim` rightmost dimensions of `value`."""
    if dim == 0:
        return value
    return value.reshape(value.shape[:-dim] + (-1,)).sum(-1)


def standard_normal(shape, dtype, device):
    return mytorch.randn(*shape, dtype=dtype, device=device)


def clamp_probs(probs):
    """Keep probabilities inside (0, 1) so their logs and log1p(-p) stay finite."""
    eps = float(finfo(probs.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    return logits.sigmoid() if is_binary else mytorch.softmax(logits, -1)


def probs_to_logits(probs, is_binary=False):
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return ps_clamped.log() - (-ps_clamped).log1p()
    return ps_clamped.log()


def softplus(x):
    """log(1 + exp(x)) without overflow."""
    return x.clamp(min=0) + (-x.abs()).exp().log1p()


class lazy_property:
    """A property computed on first access and then stored on the instance (PyTorch's lazy_property).

    The value is built with grad enabled, so a parameter derived from a leaf keeps its graph."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with mytorch.enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


class BinaryProbsLogits:
    """Mixin of the two-outcome parameterizations (Bernoulli, Binomial, NegativeBinomial, LogitRelaxedBernoulli):
    whichever of probs / logits was given, the other is computed on first use; `_param` is the given one."""

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self):
        return self._param.shape

    def _set_probs_or_logits(self, probs, logits, total_count=None):
        """Store the given one of probs / logits (exactly one must be) as `_param`, broadcast with total_count
        when given (which then takes its dtype); returns the batch shape."""
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        name, value = ("probs", probs) if probs is not None else ("logits", logits)
        if total_count is None:
            (param,) = broadcast_all(value)
            shape = mytorch.Size() if isinstance(value, numbers.Number) else param.shape
        else:
            count, param = broadcast_all(total_count, value)
            self.total_count = count.type_as(param)
            shape = param.shape
        setattr(self, name, param)
        self._param = param
        return shape

    def _expand_binary(self, cls, batch_shape, names, _instance):
        new = self._expand_params(cls, batch_shape, names, _instance)
        new._param = new.probs if "probs" in self.__dict__ else new.logits
        return new


def batch_mv(bmat, bvec):
    """Matrix-vector product over broadcast batch dimensions: (..., n, m) x (..., m) -> (..., n)."""
    return (bmat @ bvec.unsqueeze(-1)).squeeze(-1)


def batch_mahalanobis(scale_tril, diff):
    """Squared Mahalanobis distance diff^T (L L^T)^-1 diff, solving with the Cholesky factor L.

    diff may carry extra leading (sample) dimensions; those ride along as columns of one triangular solve
    instead of copying L once per sample."""
    n = diff.shape[-1]
    batch = mytorch.broadcast_shapes(scale_tril.shape[:-2], diff.shape[:-1])
    sample_ndim = len(batch) - len(scale_tril.shape[:-2])
    sample_shape, mat_batch = batch[:sample_ndim], batch[sample_ndim:]
    num_samples = math.prod(sample_shape) if sample_shape else 1
    L = scale_tril.expand(mat_batch + (n, n))
    cols = diff.expand(batch + (n,)).reshape((num_samples,) + mat_batch + (n,))
    cols = cols.permute(*range(1, len(mat_batch) + 2), 0)  # (*mat_batch, n, num_samples)
    solved = mytorch.linalg.solve_triangular(L, cols, upper=False)
    m = solved.pow(2).sum(-2)  # (*mat_batch, num_samples)
    m = m.permute(len(mat_batch), *range(len(mat_batch)))
    return m.reshape(batch)


def _tril_mask(n, diag, device):
    arange = mytorch.arange(n, device=device)
    return arange < arange.reshape(-1, 1) + (diag + 1)


def tril_matrix_to_vec(mat, diag=0):
    """The entries on and below diagonal `diag` of the last two dims, row by row, as a vector."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    return mat[..., _tril_mask(n, diag, mat.device)]


def vec_to_tril_matrix(vec, diag=0):
    """The inverse of tril_matrix_to_vec: a square matrix with zeros above diagonal `diag`."""
    # solve n (n + 1) / 2 + diag-dependent correction = len(vec) for n
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * vec.shape[-1] + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    eps = float(finfo(vec.dtype).eps)
    if round(n) - n > eps:
        raise ValueError(f"The size of last dimension is {vec.shape[-1]} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    n = round(n.item()) if isinstance(n, Tensor) else round(n)
    mat = vec.new_zeros(vec.shape[:-1] + (n, n))
    mat[..., _tril_mask(n, diag, vec.device)] = vec
    return mat
