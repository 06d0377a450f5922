"""Sums over the trailing axes of contiguous float32 arrays (x.sum(), x.sum(-1), x.mean(dim)),
accumulated in float64 in SIMD lanes, with the rows split over threads."""
import math

import numba as nb
import numpy as np

from . import _math, _parallel
from .. import cpu_kernels as _package

BLOCK = 1 << 14  # a full reduction sums blocks of this many elements, then the block sums


@_parallel.kernel(fastmath=_math.REDUCE)
def _row_sums(x, out):
    n = x.shape[1]
    for r in nb.prange(x.shape[0]):
        out[r] = _math.row_sum(x[r], n)


@_parallel.kernel(fastmath=_math.REDUCE)
def _flat_sum(flat, parts):
    """sum(flat) in float64: its BLOCK-element blocks summed in parallel into parts, then parts and the tail
    added up (one call: the adding-up in Python cost as much as a thread's share of a 1M-element sum)."""
    for i in nb.prange(parts.shape[0]):
        parts[i] = _math.row_sum(flat[i * BLOCK:(i + 1) * BLOCK], BLOCK)
    total = 0.0
    for i in range(parts.shape[0]):
        total += parts[i]
    cut = parts.shape[0] * BLOCK
    return total + _math.row_sum(flat[cut:], flat.shape[0] - cut)


def trailing_sum(x, k):
    """float64 sums of x (C-contiguous float32) over its last k axes: an array of x.shape[:-k]."""
    lead = x.shape[:x.ndim - k]
    rows = x.reshape(-1, x.size // max(math.prod(lead), 1)) if x.size else x.reshape(len(x) if lead else 1, 0)
    if len(rows) == 1 and rows.shape[1] >= 2 * BLOCK:  # one long row: sum blocks in parallel, then add up
        flat = rows[0]
        parts = np.empty(len(flat) // BLOCK, np.float64)
        total = _flat_sum.run(_parallel.threads(flat.size, _package.PAR_MIN_ARITH), flat, parts)
        return np.asarray(total).reshape(lead)
    out = np.empty(len(rows), np.float64)
    _row_sums.run(_parallel.threads(rows.size, _package.PAR_MIN_ARITH), rows, out)
    return out.reshape(lead)


COLUMN_CHUNK = 64  # rows summed in float32 before their sum joins the float64 total


@_parallel.kernel(fastmath=_math.REDUCE)
def _column_sums(x, out, parts):
    """out[j] = sum over rows of x[:, j]; the columns split into `parts` ranges (one per thread), each summed
    row by row (contiguous runs of a row: the loop is vectorised across columns), COLUMN_CHUNK rows at a time
    in float32, the chunks' sums in float64 (float64 all the way would halve the SIMD lanes)."""
    rows, cols = x.shape
    for t in nb.prange(parts):
        lo, hi = cols * t // parts, cols * (t + 1) // parts
        total = np.zeros(hi - lo, np.float64)
        acc = np.empty(hi - lo, np.float32)
        for start in range(0, rows, COLUMN_CHUNK):
            acc[:] = 0
            for i in range(start, min(rows, start + COLUMN_CHUNK)):
                seg = x[i, lo:hi]
                for j in range(seg.shape[0]):
                    acc[j] += seg[j]
            for j in range(acc.shape[0]):
                total[j] += acc[j]
        dst = out[lo:hi]
        for j in range(dst.shape[0]):
            dst[j] = total[j]


def column_sums(x):
    """x.sum(0) of a C-contiguous float32 (rows, cols) array, summed in float64, as float32."""
    out = np.empty(x.shape[1], x.dtype)
    n = _parallel.threads(x.size, _package.PAR_MIN_ARITH)
    n = max(1, min(n, x.shape[1] // 16))  # at least 16 columns (a 64-byte line) per thread
    _column_sums.run(n, x, out, n)
    return out
