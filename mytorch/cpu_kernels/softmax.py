"""Softmax / log-softmax over the last axis of (R, N) float32 rows, with an optional score scale and causal
mask (attention's softmax(q k^T * scale)), forward and backward.

Causal rows: row r is query i = r % lq and sees keys j <= i (PyTorch's top-left alignment); hidden keys
get probability 0 (log-probability -inf). Forward reports rows whose maximum is not finite (all -inf,
+inf or NaN inputs); the caller then takes the numpy path, which has PyTorch's rules for those.
    softmax:      y = exp(s - max) / sum,          dx = scale * y * (dy - sum(dy * y))
    log_softmax:  y = s - max - log(sum),          dx = scale * (dy - exp(y) * sum(dy))
"""
import math

import numba as nb
import numpy as np

from . import _math, _parallel

f32 = np.float32
_kernel = nb.njit(nogil=True, fastmath=_math.FAST, error_model="numpy", cache=True)


@_kernel
def _shift(x, row0, y, scale, lq):
    """y = x * scale - rowmax (hidden keys: -inf). row0: index of x's first row in the whole array (for
    the causal mask); lq = 0: no mask. False when a row has no finite maximum."""
    n = x.shape[1]
    for r in range(x.shape[0]):
        row, out = x[r], y[r]
        visible = n if lq == 0 else min(n, (row0 + r) % lq + 1)
        m = (_math.row_max(row, visible) if scale >= 0 else _math.row_min(row, visible)) * scale
        if not (m > -np.inf and m < np.inf):  # all -inf, or an inf: leave the row to numpy
            return False
        m32 = f32(m)
        for j in range(visible):
            out[j] = row[j] * scale - m32
        for j in range(visible, n):
            out[j] = -np.inf
    return True


@_kernel
def _normalize(e, z, log):
    """e = exp(z) row by row: softmax e / sum(e) into e, or log_softmax z - log(sum(e)) into z.
    False when a sum is not >= 1 (a nan: the maximum's own term is exp(0) = 1)."""
    n = e.shape[1]
    for r in range(e.shape[0]):
        s = _math.row_sum(e[r], n)
        if not s >= 1.0:
            return False
        if log:
            shift = f32(math.log(s))
            row = z[r]
            for j in range(n):
                row[j] -= shift
        else:
            inv = f32(1.0 / s)
            row = e[r]
            for j in range(n):
                row[j] *= inv
    return True


@_kernel
def _bwd(dy, y, dx, scale, log):
    n = y.shape[1]
    for r in range(y.shape[0]):
        g, p, out = dy[r], y[r], dx[r]
        if log:
            s32 = f32(_math.row_sum(g, n))
            for j in range(n):
                out[j] = scale * (g[j] - _math.exp_neg(p[j]) * s32)
        else:
            for j in range(n):
                out[j] = g[j] * p[j]
            s32 = f32(_math.row_sum(out, n))
            for j in range(n):
                out[j] = scale * (out[j] - p[j] * s32)


def forward(x, scale=1.0, causal_lq=0, log=False):
    """x (R, N) -> y (R, N), or None when some row has no finite maximum or holds a nan (use the numpy
    path). The exponentials are numpy's (its SIMD exp), between two compiled passes."""
    z = np.empty_like(x)
    rows = np.arange(len(x))  # split alongside x so that each block knows its first row
    ok = _parallel.run(lambda xb, zb, rb: _shift(xb, int(rb[0]) if len(rb) else 0, zb, f32(scale), causal_lq),
                       (x, z, rows))
    if not all(ok):
        return None
    e = _parallel.ufunc(np.exp, z)
    if not all(_parallel.run(_normalize, (e, z), log)):
        return None
    return z if log else e


def backward(dy, y, scale=1.0, log=False):
    dx = np.empty_like(y)
    _parallel.run(_bwd, (dy, y, dx), f32(scale), log)
    return dx
