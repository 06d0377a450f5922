"""grid_sample / affine_grid (spatial transformers), 2-D and 3-D.

grid[..., 0] is x (the last input axis, W), grid[..., 1] is y (H), grid[..., 2] is z (D), each in [-1, 1].
A coordinate is unnormalised to pixel units (align_corners: -1 and 1 are the centres of the corner pixels,
else their outer edges), then the padding mode maps it: 'border' clips it into the image, 'reflection'
mirrors it at the edges, 'zeros' leaves it and reads 0 outside. Bilinear (trilinear in 3-D) mixes the 2^k
neighbours, nearest rounds half to even, bicubic (2-D only) mixes 4 x 4 taps with Keys' cubic (A = -0.75).
Every sampled value is a gather from the input viewed as (N, pixels, C); backward scatter-adds the same
weights into the input's gradient and differentiates the weights for the grid's.
"""
import functools
import itertools
import math
import operator
import warnings

import numpy as np

from ..._array import xp_of
from ...autograd.function import Function, autocast

__all__ = ["grid_sample", "affine_grid", "grid_sampler", "grid_sampler_2d", "grid_sampler_3d", "affine_grid_generator"]

_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
_PADDINGS = {"zeros": 0, "border": 1, "reflection": 2}
_CUBIC_A = -0.75


def _align_corners(align_corners):
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                      "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                      "grid_sample for details.", stacklevel=3)
        return False
    return bool(align_corners)


def _clip(xp, idx, size):
    """Clamp into [0, size - 1]; the derivative is 0 where clamped (PyTorch's clip_coordinates_set_grad)."""
    inside = (idx > 0) & (idx < size - 1)
    return xp.clip(idx, 0, size - 1), inside


def _reflect(xp, idx, twice_low, twice_high):
    """Mirror idx into [twice_low / 2, twice_high / 2]; also d(result)/d(idx) = +-1."""
    if twice_low == twice_high:
        return xp.zeros_like(idx), xp.zeros_like(idx)
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    sign = xp.where(idx < low, -1.0, 1.0)
    dist = xp.abs(idx - low)
    extra, flips = xp.fmod(dist, span), xp.floor(dist / span)
    even = flips % 2 == 0
    return xp.where(even, extra + low, span - extra + low), xp.where(even, sign, -sign)


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) * ((size - 1) / 2), (size - 1) / 2
    return ((coord + 1) * size - 1) / 2, size / 2


def _pad_coord(xp, idx, size, padding, align_corners):
    """The padding mode applied to pixel coordinates: (coordinate, its derivative factor)."""
    if padding == 1:
        idx, d = _clip(xp, idx, size)
        return idx, d.astype(idx.dtype)
    if padding == 2:
        idx, d = _reflect(xp, idx, 0, 2 * (size - 1)) if align_corners else _reflect(xp, idx, -1, 2 * size - 1)
        idx, inside = _clip(xp, idx, size)
        return idx, d * inside
    return idx, xp.ones_like(idx)


def _product(factors):
    return functools.reduce(operator.mul, factors) if factors else 1.0


def _cubic_coeffs(xp, t):
    """Keys' cubic weights of the taps at -1, 0, 1, 2 for a fraction t, and their derivatives in t."""
    A = _CUBIC_A

    def near(s):  # |s| <= 1
        return ((A + 2) * s - (A + 3)) * s * s + 1, (3 * (A + 2) * s - 2 * (A + 3)) * s

    def far(s):  # 1 < |s| < 2
        return ((A * s - 5 * A) * s + 8 * A) * s - 4 * A, (3 * A * s - 10 * A) * s + 8 * A

    (w0, d0), (w1, d1), (w2, d2), (w3, d3) = far(t + 1), near(t), near(1 - t), far(2 - t)
    return (w0, w1, w2, w3), (d0, d1, -d2, -d3)


def _taps(xp, coords, sizes, mode, padding, align_corners):
    """[(integer index per axis, weight, d weight / d coord per axis)] for each tap of each grid point.

    coords: pixel coordinates per axis (x first), already padded for bilinear/nearest."""
    k = len(coords)
    if mode == 1:
        idx = [xp.rint(c) for c in coords]
        return [(idx, xp.ones_like(coords[0]), [xp.zeros_like(coords[0])] * k)]
    if mode == 0:
        low = [xp.floor(c) for c in coords]
        frac = [c - f for c, f in zip(coords, low)]
        taps = []
        for corner in itertools.product((0, 1), repeat=k):
            ws = [f if hi else 1 - f for f, hi in zip(frac, corner)]
            dws = [xp.ones_like(f) if hi else -xp.ones_like(f) for f, hi in zip(frac, corner)]
            weight = _product(ws)
            dweight = [dws[a] * _product([ws[b] for b in range(k) if b != a]) for a in range(k)]
            taps.append(([f + hi for f, hi in zip(low, corner)], weight, dweight))
        return taps
    low = [xp.floor(c) for c in coords]  # bicubic: 4 x 4 taps, padding applied to each tap's index
    coeffs = [_cubic_coeffs(xp, c - f) for c, f in zip(coords, low)]
    taps = []
    for offsets in itertools.product(range(4), repeat=k):
        ws = [coeffs[a][0][o] for a, o in enumerate(offsets)]
        dws = [coeffs[a][1][o] for a, o in enumerate(offsets)]
        weight = _product(ws)
        dweight = [dws[a] * _product([ws[b] for b in range(k) if b != a]) for a in range(k)]
        idx = [_pad_coord(xp, f - 1 + o, size, padding, align_corners)[0]
               for f, o, size in zip(low, offsets, sizes)]
        taps.append((idx, weight, dweight))
    return taps


def _prepare(xp, grid, sizes, mode, padding, align_corners):
    """(taps, d coord / d grid per axis) with sizes listed x first."""
    coords, factors = [], []
    for a, size in enumerate(sizes):
        c, scale = _unnormalize(grid[..., a], size, align_corners)
        factor = xp.full_like(c, scale)
        if mode != 2:
            c, d = _pad_coord(xp, c, size, padding, align_corners)
            factor = factor * d
        coords.append(c)
        factors.append(factor)
    return _taps(xp, coords, sizes, mode, padding, align_corners), factors


def _flat_index(xp, idx, sizes):
    """Row of each tap in the (pixels,) axis, and whether the tap lies inside the image."""
    valid = functools.reduce(operator.and_, [(i >= 0) & (i <= s - 1) for i, s in zip(idx, sizes)])
    flat = xp.zeros(idx[0].shape, dtype=np.int64)
    stride = 1
    for i, s in zip(idx, sizes):  # x varies fastest
        flat += xp.clip(i, 0, s - 1).astype(np.int64) * stride
        stride *= s
    return flat, valid


def _scatter_planes(out, row, values):
    """out[:, c][row] += values[:, c] for out (C, rows) and values (C, taps), repeats accumulating; on the CPU one
    bincount per channel beats np.add.at by far."""
    if type(out) is np.ndarray:
        for c in range(out.shape[0]):
            out[c] += np.bincount(row, values[c], minlength=out.shape[1])
    else:
        from ...ops.index import add_at

        add_at(out, (slice(None), row), values)


class _GridSampler(Function):
    """Works on the input as channel-last rows (N * pixels, C): tap t of point p in sample n reads row
    n * pixels + flat[n, p], all channels at once."""

    @staticmethod
    def forward(ctx, x, grid, mode, padding, align_corners):
        xp = xp_of(x)
        N, C = x.shape[:2]
        sizes = x.shape[2:][::-1]  # x (W) first, as the grid lists them
        pixels = math.prod(sizes)
        g = grid.reshape(N, -1, len(sizes))
        taps, factors = _prepare(xp, g, sizes, mode, padding, align_corners)
        rows = xp.ascontiguousarray(xp.moveaxis(x.reshape(N, C, pixels), 1, 2)).reshape(N * pixels, C)
        start = (xp.arange(N) * pixels)[:, None]
        out = xp.zeros((N, g.shape[1], C), dtype=x.dtype)
        saved = []  # per tap: (input row, inside the image, weight, d weight / d coords)
        for idx, weight, dweight in taps:
            flat, valid = _flat_index(xp, idx, sizes)
            row = start + flat
            out += rows.take(row, axis=0) * (weight * valid)[..., None]
            saved.append((row, valid, weight, dweight))
        ctx.save_for_backward(x, grid)
        ctx.meta = (mode, rows, saved, factors)
        return xp.ascontiguousarray(xp.moveaxis(out, 2, 1)).reshape((N, C) + grid.shape[1:-1])

    @staticmethod
    def backward(ctx, gout):
        x, grid = ctx.saved_tensors
        mode, rows, saved, factors = ctx.meta
        xp = xp_of(gout)
        N, C = x.shape[:2]
        k = grid.shape[-1]
        gt = xp.moveaxis(gout.reshape(N, C, -1), 1, 2)  # (N, points, C)
        dgrid = xp.zeros(gt.shape[:2] + (k,), dtype=grid.dtype) if ctx.needs_input_grad[1] else None
        gc = xp.moveaxis(gout.reshape(N, C, -1), 1, 0)  # (C, N, points)
        dplanes = xp.zeros((C, rows.shape[0]), dtype=x.dtype) if ctx.needs_input_grad[0] else None
        for row, valid, weight, dweight in saved:
            if dplanes is not None:
                _scatter_planes(dplanes, row.reshape(-1), (gc * (weight * valid)).reshape(C, -1))
            if dgrid is not None and mode != 1:
                dot = (gt * rows.take(row, axis=0)).sum(-1) * valid  # d out / d weight, summed over channels
                for a in range(k):
                    dgrid[..., a] += dot * dweight[a]
        if dgrid is not None:
            dgrid = (dgrid * xp.stack(factors, -1)).reshape(grid.shape)
        dx = None
        if dplanes is not None:  # (C, N * pixels) -> (N, C, *spatial)
            dx = xp.ascontiguousarray(xp.moveaxis(dplanes.reshape(C, N, -1), 0, 1)).reshape(x.shape)
        return dx, dgrid, None, None, None


class GridSampler2D(_GridSampler):
    pass


class GridSampler3D(_GridSampler):
    pass


def _grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """torch.grid_sampler: integer modes (0 bilinear, 1 nearest, 2 bicubic; 0 zeros, 1 border, 2 reflection)."""
    if autocast.enabled:
        input, grid = autocast.cast("grid_sampler", input, grid)
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, but "
                           f"got input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if input.device != grid.device:
        raise RuntimeError(f"grid_sampler(): expected input and grid to be on same device, but input is on "
                           f"{input.device} and grid is on {grid.device}")
    if input.dtype != grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}".replace("mytorch.", "torch."))
    if not input.is_floating_point():
        raise RuntimeError(f"grid_sampler(): expected a floating point input, got {input.dtype}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got input with "
                           f"sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    k = input.ndim - 2
    if grid.shape[-1] != k:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {k} in last dimension, but got grid with "
                           f"sizes {list(grid.shape)}")
    if any(s == 0 for s in input.shape[2:]):
        raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                           f"sizes {list(input.shape)} with dimension {2 + list(input.shape[2:]).index(0)} being "
                           f"empty")
    if interpolation_mode == 2 and k == 3:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    fn = GridSampler2D if k == 2 else GridSampler3D
    return fn.apply(input, grid, int(interpolation_mode), int(padding_mode), bool(align_corners))


def grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners):
    if input.ndim != 4:
        raise RuntimeError(f"grid_sampler_2d(): expected 4D input, got {list(input.shape)}")
    return _grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def grid_sampler_3d(input, grid, interpolation_mode, padding_mode, align_corners):
    if input.ndim != 5:
        raise RuntimeError(f"grid_sampler_3d(): expected 5D input, got {list(input.shape)}")
    return _grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


grid_sampler = _grid_sampler


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    if mode not in _MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in _PADDINGS:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    return _grid_sampler(input, grid, _MODES[mode], _PADDINGS[padding_mode], _align_corners(align_corners))


# ---------------------------------------------------------------------------------------------
# affine_grid: grid[n, ..., :] = theta[n] @ (x, y[, z], 1) over a base grid of pixel centres
# ---------------------------------------------------------------------------------------------
def _linspace(xp, steps, align_corners, dtype):
    if steps <= 1:
        return xp.zeros(max(steps, 0), dtype=dtype)
    ramp = xp.linspace(-1, 1, steps, dtype=dtype)
    return ramp if align_corners else ramp * ((steps - 1) / steps)


def _base_grid(xp, sizes, align_corners, dtype):
    """(*sizes, k + 1): the coordinates (x first) and a 1 of every output pixel; sizes are (D,) H, W."""
    axes = [_linspace(xp, s, align_corners, dtype) for s in sizes]
    mesh = xp.meshgrid(*axes, indexing="ij")
    return xp.stack(list(mesh[::-1]) + [xp.ones_like(mesh[0])], -1)


class AffineGridGenerator(Function):
    @staticmethod
    def forward(ctx, theta, sizes, align_corners):
        xp = xp_of(theta)
        base = _base_grid(xp, sizes, align_corners, theta.dtype).reshape(-1, len(sizes) + 1)
        ctx.base = base
        out = base @ xp.swapaxes(theta, 1, 2)  # (N, pixels, k)
        return out.reshape((theta.shape[0],) + tuple(sizes) + (len(sizes),))

    @staticmethod
    def backward(ctx, g):
        g = g.reshape(g.shape[0], -1, g.shape[-1])  # (N, pixels, k)
        return xp_of(g).swapaxes(g, 1, 2) @ ctx.base, None, None


def affine_grid_generator(theta, size, align_corners):
    """torch.affine_grid_generator: size is (N, C, H, W) or (N, C, D, H, W)."""
    return AffineGridGenerator.apply(theta, tuple(int(s) for s in size[2:]), bool(align_corners))


def affine_grid(theta, size, align_corners=None):
    size = tuple(int(s) for s in size)
    align_corners = _align_corners(align_corners)
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {list(size)}. "
                             f"Got {list(theta.shape)}.")
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {list(size)}. "
                             f"Got {list(theta.shape)}.")
        spatial = size[-3:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {list(size)}.")
    if theta.shape[0] != size[0]:
        raise ValueError(f"Expected theta batch size {theta.shape[0]} to equal size[0] = {size[0]}")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {list(size)}")
    return AffineGridGenerator.apply(theta, spatial, bool(align_corners))
