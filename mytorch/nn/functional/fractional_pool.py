"""Fractional max pooling (Graham, 2014): max over kernel-sized windows whose starts follow a random,
per-plane pseudo-random sequence, so the output size need not divide the input size.

For an axis of input size n, output size m, kernel k and sample u in [0, 1) (one per batch, channel and
axis: `_random_samples` (N, C, dims), ordered (W, H) in 2-D and (T, H, W) in 3-D as in PyTorch), window i starts at
int((i + u) * a) - int(u * a) with a = (n - k) / (m - 1), and the last window at n - k (PyTorch's rule).
"""
import numpy as np

from ..._array import xp_of
from ...autograd.function import Function
from .pooling import _max_with_index, _scatter_planes

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices"]


def _starts(xp, u, n, m, k):
    """Window starts (N, C, m) for samples u (N, C)."""
    if m == 1:
        return xp.full(u.shape + (1,), n - k, dtype=np.int64)
    alpha = (n - k) / (m - 1)
    i = xp.arange(m - 1)
    seq = ((i + u[..., None]) * alpha).astype(np.int64) - (u[..., None] * alpha).astype(np.int64)
    return xp.concatenate([seq, xp.full(u.shape + (1,), n - k, dtype=np.int64)], -1)


def _candidates(x, samples, kernel, out):
    """(cands (N, C, *out, K), per-plane flat input index of each) for 2 or 3 spatial axes."""
    xp = xp_of(x)
    d = len(kernel)
    spatial = x.shape[2:]
    N, C = x.shape[:2]
    flat = xp.zeros((N, C) + tuple(out) + tuple(kernel), dtype=np.int64)
    stride = 1
    for axis in range(d - 1, -1, -1):
        sample = samples[:, :, d - 1 - axis] if d == 2 else samples[:, :, axis]  # PyTorch's orders: (W, H), (T, H, W)
        st = _starts(xp, sample, spatial[axis], out[axis], kernel[axis])
        pos = st[..., None] + xp.arange(kernel[axis])  # (N, C, m, k)
        shape = [N, C] + [1] * (2 * d)
        shape[2 + axis], shape[2 + d + axis] = out[axis], kernel[axis]
        flat = flat + pos.reshape(shape) * stride
        stride *= spatial[axis]
    flat = flat.reshape((N, C) + tuple(out) + (-1,))
    planes = x.reshape(N, C, -1)
    cands = xp.take_along_axis(planes, flat.reshape(N, C, -1), 2).reshape(flat.shape)
    return cands, flat


class _FractionalMaxPool(Function):
    @staticmethod
    def forward(ctx, x, samples, kernel, out):
        values, index = _max_with_index(*_candidates(x, samples, kernel, out))
        ctx.mark_non_differentiable(index)
        ctx.x_shape = x.shape
        ctx.save_for_backward(index)
        return values, index

    @staticmethod
    def backward(ctx, dy, _):
        (index,) = ctx.saved_tensors
        return _scatter_planes(dy, index, ctx.x_shape), None, None, None


class FractionalMaxPool2D(_FractionalMaxPool):
    pass


class FractionalMaxPool3D(_FractionalMaxPool):
    pass


def _tuple(v, d):
    return tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v),) * d


def _fractional_max_pool(d, input, kernel_size, output_size, output_ratio, return_indices, _random_samples):
    from ...ops.factory import rand

    name = f"fractional_max_pool{d}d"
    if input.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"{name}(): Expected {d + 1}D or {d + 2}D tensor, but got: {list(input.shape)}")
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    unbatched = input.ndim == d + 1
    x = input.unsqueeze(0) if unbatched else input
    spatial = tuple(x.shape[2:])
    kernel = _tuple(kernel_size, d)
    if output_size is None:
        ratio = tuple(float(r) for r in output_ratio) if isinstance(output_ratio, (tuple, list)) else \
            (float(output_ratio),) * d
        if not all(0 < r < 1 for r in ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")
        out = tuple(int(n * r) for n, r in zip(spatial, ratio))
    else:
        out = _tuple(output_size, d)
    if len(kernel) != d or len(out) != d:
        raise RuntimeError(f"{name}(): kernel_size and output_size must have {d} values")
    for axis, (n, m, k) in enumerate(zip(spatial, out, kernel)):
        if k <= 0 or m <= 0:
            raise RuntimeError(f"{name}(): kernel_size and output_size must be greater than zero, got kernel "
                               f"{list(kernel)} and output {list(out)}")
        if m + k - 1 > n:
            raise RuntimeError(f"{name}(): pool size {k} too large relative to input size {n} for output size {m} "
                               f"at spatial dimension {axis}")
    N, C = x.shape[:2]
    if _random_samples is None:
        samples = rand(N, C, d, dtype=x.dtype, device=x.device)
    else:
        samples = _random_samples.unsqueeze(0) if unbatched and _random_samples.ndim == 2 else _random_samples
        if tuple(samples.shape) != (N, C, d):
            raise RuntimeError(f"{name}(): expected _random_samples of shape {[N, C, d]}, got "
                               f"{list(_random_samples.shape)}")
    fn = FractionalMaxPool2D if d == 2 else FractionalMaxPool3D
    values, index = fn.apply(x, samples.detach()._data, kernel, out)
    if unbatched:
        values, index = values.squeeze(0), index.squeeze(0)
    return (values, index) if return_indices else values


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    return _fractional_max_pool(2, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    return _fractional_max_pool(3, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return _fractional_max_pool(2, input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return _fractional_max_pool(3, input, kernel_size, output_size, output_ratio, True, _random_samples)
