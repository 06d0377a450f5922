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
_kernel = _parallel.kernel(fastmath=_math.FAST)


@_kernel
def _fwd(x, y, scale, lq, log):
    """y = softmax (or log_softmax) of x * scale row by row (lq > 0: causal, hidden keys 0 / -inf). Returns
    the number of rows it could not do: no finite maximum (all -inf, an inf) or a nan sum; numpy has
    PyTorch's rules for those."""
    n = x.shape[1]
    bad = 0
    for r in nb.prange(x.shape[0]):
        visible = n if lq == 0 else min(n, r % lq + 1)
        # views of the visible keys: loops from 0 over a view vectorise where ones up to `visible` stayed scalar
        row, out = x[r, :visible], y[r, :visible]
        m = (_math.row_max(row, visible) if scale >= 0 else _math.row_min(row, visible)) * scale
        if m > -np.inf and m < np.inf:
            m32 = f32(m)
            if log:
                for j in range(visible):
                    out[j] = row[j] * scale - m32
                s = _math.exp_sum(out, visible)
            else:
                for j in range(visible):
                    out[j] = _math.exp(row[j] * scale - m32)
                s = _math.row_sum(out, visible)
            if s > 0.5:  # the maximum's own term is exp(~0) ~ 1 (within rounding); a nan fails this
                if log:
                    shift = f32(math.log(s))
                    for j in range(visible):
                        out[j] -= shift
                    hidden = -np.inf
                else:
                    inv = f32(1.0 / s)
                    for j in range(visible):
                        out[j] *= inv
                    hidden = 0.0
                rest = y[r, visible:]
                for j in range(rest.shape[0]):
                    rest[j] = hidden
            else:
                bad += 1
        else:
            bad += 1
    return bad


@_kernel
def _bwd(dy, y, dx, scale, log):
    n = y.shape[1]
    for r in nb.prange(y.shape[0]):
        g, p, out = dy[r], y[r], dx[r]
        if log:
            s32 = f32(_math.row_sum(g, n))
            for j in range(n):
                out[j] = scale * (g[j] - _math.exp(p[j]) * s32)
        else:
            for j in range(n):
                out[j] = g[j] * p[j]
            s32 = f32(_math.row_sum(out, n))
            for j in range(n):
                out[j] = scale * (out[j] - p[j] * s32)


def forward(x, scale=1.0, causal_lq=0, log=False):
    """x (R, N) -> y (R, N), or None when some row has no finite maximum or holds a nan (use the numpy
    path)."""
    y = np.empty_like(x)
    return None if _fwd(x, y, f32(scale), causal_lq, log) else y


def backward(dy, y, scale=1.0, log=False):
    dx = np.empty_like(y)
    _bwd(dy, y, dx, f32(scale), log)
    return dx
