"""Gradient clipping: scale (or clamp) the .grad of a set of parameters in place."""
import math

import numpy as np

from ... import _dtype
from ..._array import on_device, xp_of
from ...autograd import grad_mode
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _vector_norm(x, p):
    """||x||_p of a whole array, computed in x's dtype (like torch.linalg.vector_norm)."""
    xp = xp_of(x)
    flat = x.reshape(-1)
    if p == 2:
        return xp.sqrt(xp.dot(flat, flat)) if flat.size else xp.zeros((), x.dtype)
    if p == math.inf:
        return xp.abs(flat).max() if flat.size else xp.zeros((), x.dtype)
    if p == -math.inf:
        return xp.abs(flat).min()
    if p == 0:
        return (flat != 0).sum().astype(x.dtype)
    if p == 1:
        return xp.abs(flat).sum()
    return (xp.abs(flat) ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of all tensors together, as if they were concatenated into one vector."""
    tensors = [t for t in _as_list(tensors) if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._make(np.zeros((), dtype=_dtype.get_default_dtype().np))
    arrays = [t._data for t in tensors]
    xp = xp_of(arrays[0])
    out_dtype = arrays[0].dtype
    with on_device(tensors[0].device):  # cupy computes on the current GPU
        norms = xp.stack([_vector_norm(a, norm_type).astype(out_dtype) for a in arrays])
        total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    with on_device(tensors[0].device):
        return Tensor._make(xp.asarray(total, dtype=out_dtype))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every grad by min(1, max_norm / (total_norm + 1e-6))."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else total_norm
    xp = xp_of(grads[0]._data)
    with on_device(grads[0].device):
        clip_coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    with grad_mode.no_grad(), on_device(grads[0].device):
        for g in grads:
            g._data *= clip_coef.astype(g._data.dtype)
            g._version.value += 1


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescale grads so their joint norm is at most max_norm; returns the norm before clipping."""
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    import warnings

    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every grad element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            g = p.grad._data
            xp_of(g).clip(g, -clip_value, clip_value, out=g)
            p.grad._version.value += 1
