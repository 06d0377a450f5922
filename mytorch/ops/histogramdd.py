"""torch.histogramdd: a D-dimensional histogram of the rows of an (..., D) tensor.

Bin placement follows PyTorch's CPU kernel, so results agree at bin edges too: with bin counts the edges
are a linspace of each dimension's range and a position is interpolated, then corrected by a binary search
among the two neighbouring edges; with explicit edge tensors it is a binary search (std::upper_bound's,
which also defines the answer for edges that are not sorted). The last edge is inclusive; points outside
the range (or nan) are dropped.
"""
import numpy as np

from .._array import CPU, device_of_array, move_array
from ..tensor import Tensor
from ._registry import public
from .reduce import _return_type

HistogramddResult = _return_type("histogramdd", ["hist", "bin_edges"])


def _upper_bound(edges, values, lo, hi):
    """std::upper_bound(edges + lo, edges + hi, value) for every value at once (lo/hi: per-value bounds)."""
    first, length = lo.copy(), hi - lo
    while (length > 0).any():
        half = length >> 1
        middle = first + half
        go_left = values < edges[np.clip(middle, 0, len(edges) - 1)]
        active = length > 0
        first = np.where(active & ~go_left, middle + 1, first)
        length = np.where(active, np.where(go_left, half, length - half - 1), 0)
    return first


def _linspace(left, right, steps, dtype):
    """PyTorch's CPU linspace: from the start for the first half, from the end for the second."""
    left, right = dtype.type(left), dtype.type(right)
    step = (right - left) / dtype.type(steps - 1)
    idx = np.arange(steps)
    half = steps // 2
    return np.where(idx < half, left + step * idx.astype(dtype), right - step * (steps - idx - 1).astype(dtype))


def _outer_edges(column, bounds, dtype):
    if bounds is not None:
        left, right = dtype.type(bounds[0]), dtype.type(bounds[1])
    elif column.size:
        left, right = column.min(), column.max()
    else:
        left, right = dtype.type(0), dtype.type(1)
    if not (np.isfinite(left) and np.isfinite(right)):
        raise ValueError(f"histogramdd: range of [{left}, {right}] is not finite")
    if left > right:
        raise ValueError(f"histogramdd: min should not exceed max, but got min {left} max {right}")
    if left == right:
        left, right = left - dtype.type(0.5), right + dtype.type(0.5)
    return left, right


def histogramdd(input, bins, *, range=None, weight=None, density=False):
    if input.ndim < 2:
        raise RuntimeError(f"torch.histogramdd: input tensor should have at least 2 dimensions, but got "
                           f"{input.ndim}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"torch.histogramdd: input tensor should have a floating point dtype, but got "
                           f"{input.dtype}")
    dev = device_of_array(input._data)
    x = move_array(input._data, CPU)
    D = x.shape[-1]
    points = x.reshape(-1, D)
    given = not isinstance(bins, int) and len(bins) and isinstance(bins[0], Tensor)
    counts = [bins] * D if isinstance(bins, int) else list(bins)
    if len(counts) != D:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost dimension of the input.")
    if range is not None and len(range) != 2 * D:
        raise RuntimeError(f"histogramdd: for a {D}-dimensional histogram, range should have {2 * D} elements, "
                           f"but got {len(range)}")
    w = None if weight is None else move_array(weight._data, CPU).reshape(-1)
    if w is not None and w.size != points.shape[0]:
        raise RuntimeError(f"histogramdd: if weight tensor is provided it should have the same shape as the input "
                           f"tensor excluding its innermost dimension, but got input with shape "
                           f"{list(input.shape)} and weight with shape {list(weight.shape)}")
    keep = np.ones(points.shape[0], dtype=bool)
    positions, edges_out = [], []
    for d in builtins_range(D):
        col = points[:, d]
        if given:
            edges = move_array(bins[d]._data, CPU).astype(x.dtype, copy=False)
            n = edges.size
            lo, hi = np.zeros(col.shape, np.int64), np.full(col.shape, n, np.int64)
        else:
            n = int(counts[d]) + 1
            left, right = _outer_edges(col, None if range is None else range[2 * d:2 * d + 2], x.dtype)
            edges = _linspace(left, right, n, x.dtype)
            guess = ((col - left) * x.dtype.type(n - 1) / (right - left))
            guess = np.nan_to_num(guess, nan=0.0, posinf=0.0, neginf=0.0).astype(np.int64)
            lo, hi = np.maximum(guess - 1, 0), np.minimum(guess + 2, n)
        keep &= (col >= edges[0]) & (col <= edges[-1])
        pos = _upper_bound(edges, col, lo, hi) - 1
        positions.append(np.clip(np.where(pos == n - 1, pos - 1, pos), 0, max(n - 2, 0)))
        edges_out.append(edges.copy())
    hist = np.zeros(tuple(max(e.size - 1, 0) for e in edges_out), dtype=x.dtype)
    if keep.any():
        np.add.at(hist, tuple(p[keep] for p in positions), 1 if w is None else w[keep].astype(x.dtype))
    if density:
        hist = hist / hist.sum()
        for d, e in enumerate(edges_out):
            shape = [1] * D
            shape[d] = e.size - 1
            hist = hist / np.diff(e).reshape(shape)
    return HistogramddResult(Tensor._make(move_array(hist.astype(x.dtype, copy=False), dev)),
                             tuple(Tensor._make(move_array(e, dev)) for e in edges_out))


builtins_range = range
public(histogramdd)
