"""LayerNorm / RMSNorm over the last axis of (M, N) float32 rows, forward and backward in one pass per row.

Statistics accumulate in float64. Forward saves only the (M,) mean and rstd, as the numpy body does;
backward recomputes xhat from x:
    g = dy * w,  dx = rstd * (g - xhat * mean(g * xhat) - mean(g))      (RMS: no mean(g) term)
    dw = sum over rows of dy * xhat,  db = sum over rows of dy          (per-thread partial sums)
"""
import math

import numba as nb
import numpy as np

from . import _parallel

f32 = np.float32
_kernel = nb.njit(nogil=True, fastmath=True, error_model="numpy", cache=True)


@_kernel
def _fwd(x, y, mean, rstd, w, b, eps, rms, has_w, has_b):
    n = x.shape[1]
    for r in range(x.shape[0]):
        row = x[r]
        mu = 0.0
        if not rms:
            s = 0.0
            for j in range(n):
                s += row[j]
            mu = s / n
        ss = 0.0
        for j in range(n):
            d = row[j] - mu
            ss += d * d
        rs = 1.0 / math.sqrt(ss / n + eps)
        mu32, rs32 = f32(mu), f32(rs)
        out = y[r]
        for j in range(n):
            v = (row[j] - mu32) * rs32
            if has_w:
                v = v * w[j]
            if has_b:
                v = v + b[j]
            out[j] = v
        mean[r] = mu32
        rstd[r] = rs32


@_kernel
def _bwd(dy, x, dx, mean, rstd, w, rms, has_w, need_dx, need_dw):
    m, n = x.shape
    dw = np.zeros(n if need_dw else 0, np.float64)
    db = np.zeros(n if need_dw else 0, np.float64)
    for r in range(m):
        mu, rs = mean[r], rstd[r]
        row, grow = x[r], dy[r]
        if need_dw:
            for j in range(n):
                xh = (row[j] - mu) * rs
                dw[j] += grow[j] * xh
                db[j] += grow[j]
        if need_dx:
            c1 = 0.0
            c2 = 0.0
            for j in range(n):
                g = grow[j] * w[j] if has_w else grow[j]
                c1 += g * ((row[j] - mu) * rs)
                c2 += g
            c1 = f32(c1 / n)
            c2 = f32(0.0) if rms else f32(c2 / n)
            out = dx[r]
            for j in range(n):
                g = grow[j] * w[j] if has_w else grow[j]
                out[j] = rs * (g - (row[j] - mu) * rs * c1 - c2)
    return dw, db


_EMPTY = np.zeros(1, np.float32)  # stands for a missing weight / bias (numba compiles one signature)


def forward(x, w, b, eps, rms):
    """x (M, N); w, b (N,) or None. Returns y (M, N), mean (M,) (zeros for RMS), rstd (M,)."""
    m = x.shape[0]
    y = np.empty_like(x)
    mean = np.empty(m, np.float32)
    rstd = np.empty(m, np.float32)
    _parallel.run(_fwd, (x, y, mean, rstd), _EMPTY if w is None else w, _EMPTY if b is None else b,
                  float(eps), rms, w is not None, b is not None)
    return y, mean, rstd


def backward(dy, x, w, mean, rstd, rms, need_dx, need_dw):
    """Returns dx (or None), and the summed dw, db (float32, or None when not needed)."""
    dx = np.empty_like(x) if need_dx else np.empty((len(x), 0), np.float32)
    parts = _parallel.run(_bwd, (dy, x, dx, mean, rstd), _EMPTY if w is None else w, rms, w is not None,
                          need_dx, need_dw)
    dw = db = None
    if need_dw:
        dw = sum(p[0] for p in parts).astype(np.float32)
        db = sum(p[1] for p in parts).astype(np.float32)
    return (dx if need_dx else None), dw, db
