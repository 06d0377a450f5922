"""Pooling and resampling, functional form: max/avg/lp pooling, adaptive pooling, max_unpool, interpolate.

Window pooling reuses conv's strided window view (N, C, *out, *kernel). Max pooling takes an argmax over
the flattened window and maps it to PyTorch's per-plane flat input index; its backward scatters dy to
those indices with one `bincount` (overlapping windows accumulate). Average pooling sums the view; its
backward is conv's col2im of dy / divisor.

Adaptive average pooling and interpolation are separable: one small resampling step per spatial axis.
Adaptive averages multiply by an (out, in) averaging matrix; interpolation gathers a few "taps" per output
position (1 nearest, 2 linear, 4 cubic) and weights them; the backward is a scatter-add (bincount).
"""
import math

import numpy as np

from ..._array import xp_of
from ...autograd.function import Function
from ...tensor import Tensor
from .conv import _batched, _col2im, _ntuple, _prod, _scatter_axis, _windows

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "max_unpool1d", "max_unpool2d", "max_unpool3d",
           "lp_pool1d", "lp_pool2d", "lp_pool3d", "interpolate", "upsample", "upsample_nearest",
           "upsample_bilinear"]


# ---- geometry -------------------------------------------------------------------------------------------

def _pool_out_size(size, k, s, p, dl, ceil_mode):
    """PyTorch's pooling_output_shape: ceil mode may add a last window that starts inside the input/left pad."""
    eff = dl * (k - 1) + 1
    out = (size + 2 * p - eff + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_geometry(fn, x, d, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = _ntuple(kernel_size, d, "kernel_size")
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        _ntuple(stride, d, "stride")
    padding, dilation = _ntuple(padding, d, "padding"), _ntuple(dilation, d, "dilation")
    if any(k <= 0 for k in kernel) or any(s <= 0 for s in stride) or any(dl <= 0 for dl in dilation):
        raise RuntimeError(f"{fn}: kernel_size, stride and dilation must be greater than zero, but got "
                           f"kernel_size={list(kernel)}, stride={list(stride)}, dilation={list(dilation)}")
    if any(p > k // 2 for k, p in zip(kernel, padding)):
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got "
                           f"padding={list(padding)}, kernel_size={list(kernel)}")
    spatial = x.shape[2:]
    out = tuple(_pool_out_size(sz, k, s, p, dl, ceil_mode)
                for sz, k, s, p, dl in zip(spatial, kernel, stride, padding, dilation))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, x.shape[1:]))}). Calculated output size: "
                           f"({'x'.join(map(str, (x.shape[1],) + out))}). Output size is too small")
    # right padding so that every window (including a ceil-mode one) lies inside the padded array
    pads = tuple((p, max(0, (o - 1) * s + dl * (k - 1) + 1 - sz - p))
                 for sz, o, k, s, p, dl in zip(spatial, out, kernel, stride, padding, dilation))
    return kernel, stride, pads, dilation, out


def _grid(xp, sizes):
    """Open index grids: the i-th array has shape sizes[i] on axis i and 1 elsewhere."""
    d = len(sizes)
    return [xp.arange(n).reshape((1,) * i + (n,) + (1,) * (d - i - 1)) for i, n in enumerate(sizes)]


# ---- max pooling ----------------------------------------------------------------------------------------

def _plane_strides(spatial):
    return [_prod(spatial[i + 1:]) for i in range(len(spatial))]


def _max_with_index(cands, flat_pos):
    """cands (N, C, *out, K), flat_pos (*out, K) per-plane input index of each candidate -> values, indices."""
    xp = xp_of(cands)
    arg = xp.argmax(cands, axis=-1)[..., None]
    values = xp.take_along_axis(cands, arg, axis=-1)[..., 0]
    index = xp.take_along_axis(xp.broadcast_to(flat_pos, cands.shape), arg, axis=-1)[..., 0]
    return values, index


def _window_candidates(x, kernel, stride, pads, dilation, out):
    xp = xp_of(x)
    d = len(kernel)
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xpad = x
    if any(lo or hi for lo, hi in pads):
        xpad = xp.pad(x, ((0, 0), (0, 0)) + tuple(pads), constant_values=fill)
    win = _windows(xpad, kernel, stride, dilation)
    win = win[(slice(None), slice(None)) + tuple(slice(0, o) for o in out)]
    cands = win.reshape(win.shape[:2 + d] + (-1,))
    # input coordinate of (output o, kernel offset k) along axis i: o * s - p + k * dilation
    o_grid, k_grid = _grid(xp, out), _grid(xp, kernel)
    flat = 0
    for i, ps in enumerate(_plane_strides(x.shape[2:])):
        k_i = xp.broadcast_to(k_grid[i], tuple(kernel)).reshape(-1)
        pos = o_grid[i][..., None] * stride[i] - pads[i][0] + k_i * dilation[i]
        flat = flat + pos * ps
    return cands, flat


def _adaptive_bounds(xp, size, out):
    i = xp.arange(out)
    return (i * size) // out, ((i + 1) * size + out - 1) // out


def _adaptive_candidates(x, out):
    """Gather each (variably sized) adaptive window padded to the longest one by repeating its last element."""
    xp = xp_of(x)
    d = len(out)
    idxs = []
    for size, o in zip(x.shape[2:], out):
        start, end = _adaptive_bounds(xp, size, o)
        longest = int((end - start).max())
        idxs.append(xp.minimum(start[:, None] + xp.arange(longest), end[:, None] - 1))  # (o, L)
    gather = tuple(idx.reshape((1,) * (2 * i) + idx.shape + (1,) * (2 * (d - i - 1))) for i, idx in enumerate(idxs))
    g = x[(slice(None), slice(None)) + gather]  # (N, C, o0, L0, o1, L1, ...)
    perm = (0, 1) + tuple(2 + 2 * i for i in range(d)) + tuple(3 + 2 * i for i in range(d))
    cands = g.transpose(perm).reshape(x.shape[:2] + tuple(out) + (-1,))
    flat = 0
    for idx, ps in zip(gather, _plane_strides(x.shape[2:])):
        flat = flat + idx * ps  # broadcasts to (o0, L0, o1, L1, ...)
    flat = flat.transpose(tuple(p - 2 for p in perm[2:])).reshape(tuple(out) + (-1,))
    return cands, flat


class _MaxPool(Function):
    @staticmethod
    def forward(ctx, x, candidates):
        """candidates: x -> (cands (N, C, *out, K), flat per-plane index of each candidate)."""
        values, index = _max_with_index(*candidates(x))
        ctx.mark_non_differentiable(index)
        ctx.save_for_backward(index)
        ctx.x_shape = x.shape
        return values, index

    @staticmethod
    def backward(ctx, dy, _):
        index, = ctx.saved_tensors
        return _scatter_planes(dy, index, ctx.x_shape), None

    @staticmethod
    def differentiable_backward(ctx, dy, _):
        from ...ops.index import scatter_into

        index, = ctx.saved_tensors
        shape = ctx.x_shape
        planes = shape[0] * shape[1]
        flat = index._data.reshape(planes, -1)
        rows = xp_of(flat).arange(planes)[:, None]
        dx = scatter_into(dy.reshape(planes, -1), (planes, _prod(shape[2:])), (rows, flat), accumulate=True)
        return dx.reshape(shape), None


def _scatter_planes(dy, index, x_shape):
    """dx[n, c, index[n, c, j]] += dy[n, c, j] in one bincount."""
    xp = xp_of(dy)
    planes = x_shape[0] * x_shape[1]
    plane_size = _prod(x_shape[2:])
    keys = (index.reshape(planes, -1) + (xp.arange(planes) * plane_size)[:, None]).ravel()
    dx = xp.bincount(keys, weights=dy.reshape(-1), minlength=planes * plane_size)
    return dx.reshape(x_shape).astype(dy.dtype, copy=False)


def _max_pool(fn, d, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, unbatched = _batched(fn, input, d)
    kernel, stride, pads, dilation, out = _pool_geometry(fn, x, d, kernel_size, stride, padding, dilation,
                                                         ceil_mode)
    values, index = _MaxPool.apply(x, lambda a: _window_candidates(a, kernel, stride, pads, dilation, out))
    if unbatched:
        values, index = values.squeeze(0), index.squeeze(0)
    return (values, index) if return_indices else values


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---- average pooling ------------------------------------------------------------------------------------

def _avg_divisor(xp, spatial, out, kernel, stride, padding, count_include_pad, divisor_override, dtype):
    """Per-output divisor, a product of per-axis window sizes (PyTorch's rules for pads and ceil mode)."""
    if divisor_override:
        return dtype.type(divisor_override)
    div = 1
    for i, (sz, o, k, s, p) in enumerate(zip(spatial, out, kernel, stride, padding)):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, sz + p)
        count = end - start if count_include_pad else xp.minimum(end, sz) - xp.maximum(start, 0)
        div = div * count.reshape((o,) + (1,) * (len(out) - i - 1))
    return div.astype(dtype)


class _AvgPool(Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, pads, out, divisor):
        xp = xp_of(x)
        d = len(kernel)
        xpad = xp.pad(x, ((0, 0), (0, 0)) + tuple(pads)) if any(lo or hi for lo, hi in pads) else x
        win = _windows(xpad, kernel, stride, (1,) * d)
        win = win[(slice(None), slice(None)) + tuple(slice(0, o) for o in out)]
        ctx.geometry = (xpad.shape[2:], kernel, stride, pads, divisor, x.shape[2:])
        ctx.forward_args = (kernel, stride, pads, out, divisor)
        return (win.sum(axis=tuple(range(2 + d, 2 + 2 * d))) / divisor).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, dy):
        xp = xp_of(dy)
        padded, kernel, stride, pads, divisor, spatial = ctx.geometry
        g = (dy / divisor).astype(dy.dtype, copy=False)
        cols = xp.broadcast_to(g.reshape(g.shape[:2] + (1,) * len(kernel) + g.shape[2:]),
                               g.shape[:2] + tuple(kernel) + g.shape[2:])
        dx = _col2im(cols, padded, stride, (1,) * len(kernel))
        crop = tuple(slice(lo, lo + s) for (lo, _), s in zip(pads, spatial))
        return (dx[(slice(None), slice(None)) + crop],) + (None,) * 5

    @staticmethod
    def differentiable_backward(ctx, dy):
        return (_AvgPoolAdjoint.apply(dy, ctx.geometry, ctx.forward_args),) + (None,) * 5


class _AvgPoolAdjoint(Function):
    """avg_pool's backward as an op of its own (dy -> dx, linear): its derivative is avg_pool again."""

    @staticmethod
    def forward(ctx, dy, geometry, forward_args):
        ctx.forward_args = forward_args
        return _AvgPool.backward(_Geometry(geometry), dy)[0]

    @staticmethod
    def backward(ctx, g):
        return _AvgPool.forward(_Geometry(None), g, *ctx.forward_args), None, None

    @staticmethod
    def differentiable_backward(ctx, g):
        return _AvgPool.apply(g, *ctx.forward_args), None, None


class _Geometry:
    """A stand-in ctx for calling _AvgPool's array bodies directly."""

    def __init__(self, geometry):
        self.geometry = geometry


def _avg_pool(fn, d, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override=None):
    x, unbatched = _batched(fn, input, d)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"\"{fn}\" not implemented for '{x.dtype}'")
    kernel, stride, pads, _, out = _pool_geometry(fn, x, d, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    xp = xp_of(x._data)
    divisor = _avg_divisor(xp, x.shape[2:], out, kernel, stride, [p for p, _ in pads], count_include_pad,
                           divisor_override, x._data.dtype)
    y = _AvgPool.apply(x, kernel, stride, pads, out, divisor)
    return y.squeeze(0) if unbatched else y


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _lp_pool(avg_fn, d, input, norm_type, kernel_size, stride, ceil_mode):
    """(sum over the window of x^p)^(1/p), as PyTorch: avg_pool(x^p) * window size, then the root."""
    kernel = _ntuple(kernel_size, d, "kernel_size")
    p = float(norm_type)
    out = avg_fn(input ** p, kernel, stride, 0, ceil_mode)
    return (out.sign() * out.abs() * _prod(kernel)) ** (1.0 / p)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(avg_pool1d, 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(avg_pool2d, 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(avg_pool3d, 3, input, norm_type, kernel_size, stride, ceil_mode)


# ---- adaptive pooling -----------------------------------------------------------------------------------

def _adaptive_size(fn, x, d, output_size):
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * d
    output_size = tuple(output_size)
    if len(output_size) != d:
        raise ValueError(f"{fn}: output_size must be an int or a tuple of {d} ints, got {output_size}")
    out = tuple(int(s) if o is None else int(o) for o, s in zip(output_size, x.shape[2:]))
    if any(o < 0 for o in out) or any(s == 0 for s in x.shape[2:]):
        raise RuntimeError(f"{fn}(): Expected input to have non-zero size for non-batch dimensions, but input has "
                           f"sizes {list(x.shape)} with output_size {list(out)}")
    return out


def _apply_axis(x, mat, axis):
    """Multiply the (out, in) matrix into `axis` of x."""
    xp = xp_of(x)
    if axis == x.ndim - 1:
        return xp.matmul(x, mat.T)
    if axis == x.ndim - 2:
        return xp.matmul(mat, x)
    return xp.moveaxis(xp.matmul(mat, xp.moveaxis(x, axis, -2)), -2, axis)


class _AxisMatmul(Function):
    @staticmethod
    def forward(ctx, x, mats):
        """mats: one (out, in) matrix per trailing axis."""
        first = x.ndim - len(mats)
        for i, m in enumerate(mats):
            x = _apply_axis(x, m, first + i)
        ctx.mats = mats
        return x

    @staticmethod
    def backward(ctx, g):
        first = g.ndim - len(ctx.mats)
        for i, m in enumerate(ctx.mats):
            g = _apply_axis(g, m.T, first + i)
        return g, None

    @staticmethod
    def differentiable_backward(ctx, g):
        return _AxisMatmul.apply(g, tuple(m.T for m in ctx.mats)), None


def _average_matrix(xp, size, out, dtype):
    start, end = _adaptive_bounds(xp, size, out)
    cols = xp.arange(size)
    inside = (cols[None, :] >= start[:, None]) & (cols[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_avg_pool(fn, d, input, output_size):
    x, unbatched = _batched(fn, input, d)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"\"{fn}\" not implemented for '{x.dtype}'")
    out = _adaptive_size(fn, x, d, output_size)
    xp = xp_of(x._data)
    mats = tuple(_average_matrix(xp, s, o, x._data.dtype) for s, o in zip(x.shape[2:], out))
    y = _AxisMatmul.apply(x, mats)
    return y.squeeze(0) if unbatched else y


def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg_pool("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max_pool(fn, d, input, output_size, return_indices):
    x, unbatched = _batched(fn, input, d)
    out = _adaptive_size(fn, x, d, output_size)
    values, index = _MaxPool.apply(x, lambda a: _adaptive_candidates(a, out))
    if unbatched:
        values, index = values.squeeze(0), index.squeeze(0)
    return (values, index) if return_indices else values


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max_pool("adaptive_max_pool3d", 3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool3d(input, output_size, True)


# ---- max unpooling ---------------------------------------------------------------------------------------

class _MaxUnpool(Function):
    @staticmethod
    def forward(ctx, x, index, out_spatial):
        xp = xp_of(x)
        planes = x.shape[0] * x.shape[1]
        size = _prod(out_spatial)
        if index.size and (int(index.min()) < 0 or int(index.max()) >= size):
            raise RuntimeError(f"Found an invalid max index: {int(index.max())} (output volumes are of size "
                               f"{'x'.join(map(str, out_spatial))}")
        keys = (index.reshape(planes, -1) + (xp.arange(planes) * size)[:, None]).ravel()
        y = xp.zeros(planes * size, x.dtype)
        y[keys] = x.reshape(-1)
        ctx.keys, ctx.x_shape = keys, x.shape
        return y.reshape(x.shape[:2] + tuple(out_spatial))

    @staticmethod
    def backward(ctx, g):
        return g.reshape(-1)[ctx.keys].reshape(ctx.x_shape), None, None


def _max_unpool(fn, d, input, indices, kernel_size, stride, padding, output_size):
    x, unbatched = _batched(fn, input, d)
    idx = indices.unsqueeze(0) if unbatched else indices
    if tuple(idx.shape) != tuple(x.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(x.shape)}) but got indices tensor with shape: {list(idx.shape)}")
    kernel = _ntuple(kernel_size, d, "kernel_size")
    stride = kernel if stride is None else _ntuple(stride, d, "stride")
    padding = _ntuple(padding, d, "padding")
    default = tuple((i - 1) * s - 2 * p + k for i, s, p, k in zip(x.shape[2:], stride, padding, kernel))
    if output_size is None:
        out = default
    else:
        out = tuple(int(s) for s in output_size)[-d:]
        if len(tuple(output_size)) not in (d, d + 2):
            raise ValueError(f"output_size should be a sequence containing {d} or {d + 2} elements, but it has a "
                             f"length of '{len(tuple(output_size))}'")
        for o, dflt, s in zip(out, default, stride):
            if not dflt - s < o < dflt + s:
                raise ValueError(f"invalid output_size \"{list(out)}\" (dim {out.index(o)} must be between "
                                 f"{dflt - s} and {dflt + s})")
    y = _MaxUnpool.apply(x, idx, out)
    return y.squeeze(0) if unbatched else y


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)


# ---- interpolate -----------------------------------------------------------------------------------------

def _linear_scale(in_size, out_size, align_corners, scale, dt):
    """PyTorch's area_pixel_compute_scale, in the op's compute dtype."""
    if align_corners:
        return dt(in_size - 1) / dt(out_size - 1) if out_size > 1 else dt(0)
    return dt(1.0 / scale) if scale is not None and scale > 0 else dt(in_size) / dt(out_size)


def _taps(xp, mode, in_size, out_size, align_corners, scale, dt):
    """[(source index array, weight array or None)] along one axis: output[j] = sum_t w_t[j] x[idx_t[j]]."""
    dst = np.arange(out_size)
    if mode in ("nearest", "nearest-exact"):
        s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(in_size) / np.float32(out_size)
        if mode == "nearest":
            src = np.floor(dst.astype(np.float32) * s)
        else:
            src = np.floor(((dst + 0.5) * np.float64(s)).astype(np.float32))
        idx = np.minimum(src.astype(np.int64), in_size - 1)
        if mode == "nearest" and out_size == in_size:
            idx = dst
        return [(xp.asarray(idx), None)]
    s = _linear_scale(in_size, out_size, align_corners, scale, dt)
    j = dst.astype(dt)
    if align_corners:
        src = s * j
    else:
        src = s * (j + dt(0.5)) - dt(0.5)
    if mode == "linear":
        src = np.maximum(src, dt(0))
        i0 = np.minimum(src.astype(np.int64), in_size - 1)
        lam1 = np.clip(src - i0.astype(dt), dt(0), dt(1))
        i1 = np.minimum(i0 + 1, in_size - 1)
        return [(xp.asarray(i0), xp.asarray(dt(1) - lam1)), (xp.asarray(i1), xp.asarray(lam1))]
    # bicubic (A = -0.75), taps at floor(src) - 1 .. + 2, clamped to the border
    a = dt(-0.75)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    t = np.clip(src - i0.astype(dt), dt(0), dt(1))

    def near(v):  # |v| <= 1
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def far(v):  # 1 < |v| < 2
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a

    weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    return [(xp.asarray(np.clip(i0 - 1 + k, 0, in_size - 1)), xp.asarray(w.astype(dt))) for k, w in enumerate(weights)]


class _Resample(Function):
    @staticmethod
    def forward(ctx, x, plan):
        """plan: one (axis, input length, taps) per resampled axis."""
        xp = xp_of(x)
        for axis, _, taps in plan:
            y = None
            shape = (-1,) + (1,) * (x.ndim - axis - 1)
            for idx, w in taps:
                t = xp.take(x, idx, axis=axis)
                if w is not None:
                    t = t * w.astype(x.dtype, copy=False).reshape(shape)
                y = t if y is None else y + t
            x = y
        ctx.plan = plan
        return x

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(g)
        for axis, size, taps in reversed(ctx.plan):
            shape = (-1,) + (1,) * (g.ndim - axis - 1)
            parts = [g if w is None else g * w.astype(g.dtype, copy=False).reshape(shape) for _, w in taps]
            idx = xp.concatenate([i for i, _ in taps]) if len(taps) > 1 else taps[0][0]
            g = _scatter_axis(xp.concatenate(parts, axis=axis) if len(parts) > 1 else parts[0], idx, size, axis)
        return g, None

    @staticmethod
    def differentiable_backward(ctx, g):
        from ...ops.index import scatter_into

        for axis, size, taps in reversed(ctx.plan):
            shape = (-1,) + (1,) * (g.ndim - axis - 1)
            target = tuple(g.shape[:axis]) + (size,) + tuple(g.shape[axis + 1:])
            total = None
            for idx, w in taps:
                part = g if w is None else g * Tensor._make(w.astype(g._data.dtype, copy=False).reshape(shape))
                part = scatter_into(part, target, (slice(None),) * axis + (idx,), accumulate=True)
                total = part if total is None else total + part
            g = total
        return g, None


_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate(): argument 'input' must be Tensor, not {type(input).__name__}")
    d = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != d:
                raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                                 f"with spatial dimensions of {list(input.shape[2:])} and output size of {size}. "
                                 "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                                 "(o1, o2, ...,oK) format.")
            output_size = [int(s) for s in size]
        else:
            output_size = [int(size)] * d
        scales = [None] * d
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != d:
                raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got "
                                 f"input with spatial dimensions of {list(input.shape[2:])} and scale_factor of "
                                 f"shape {scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                                 "format and scale_factor in (s1, s2, ...,sK) format.")
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * d
        output_size = [int(math.floor(float(n) * s)) for n, s in zip(input.shape[2:], scales)]
        if mode == "area" or recompute_scale_factor:
            scales = [None] * d
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    else:
        align_corners = bool(align_corners)
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by mytorch")
    if d not in (1, 2, 3) or mode not in ("nearest", "nearest-exact", "area", *_MODE_DIMS):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
                                  "the modes: nearest | linear | bilinear | bicubic | trilinear | area | "
                                  f"nearest-exact (got {mode})")
    if mode in _MODE_DIMS and _MODE_DIMS[mode] != d:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {_MODE_DIMS[mode] + 2}D input")
    if mode == "area":
        return _adaptive_avg_pool("adaptive_avg_pool", d, input, output_size)
    if any(o <= 0 for o in output_size):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(map(str, input.shape[2:]))}) and output "
                           f"({', '.join(map(str, output_size))})")
    xp = xp_of(input._data)
    dt = np.float32 if input._data.dtype.itemsize < 4 else input._data.dtype.type
    kind = "linear" if mode in ("bilinear", "trilinear") else mode
    plan = tuple((2 + i, n, _taps(xp, kind, n, o, align_corners, s, dt))
                 for i, (n, o, s) in enumerate(zip(input.shape[2:], output_size, scales)))
    return _Resample.apply(input, plan)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
