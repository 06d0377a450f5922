"""LayerNorm / RMSNorm over the last axis of (M, N) float32 rows, forward and backward in one pass per row.

Statistics accumulate in float64. Forward saves only the (M,) mean and rstd, as the numpy body does;
backward recomputes xhat from x:
    g = dy * w,  dx = rstd * (g - xhat * mean(g * xhat) - mean(g))      (RMS: no mean(g) term)
    dw = sum over rows of dy * xhat,  db = sum over rows of dy          (per-thread partial sums)
"""
import math

import numba as nb
import numpy as np

from . import _math, _parallel

f32 = np.float32
_kernel = _parallel.kernel(fastmath=_math.FAST)
# the row sums are separate functions (not inlined): reassociated into SIMD lanes once, so that the serial
# and parallel twins of a body, compiled apart, still add in the same order and agree bit for bit
_sum = nb.njit(inline="never", fastmath=_math.REDUCE, error_model="numpy", cache=True)


@_sum
def _sq_dev(row, mu, n):
    ss = 0.0
    for j in range(n):
        d = row[j] - mu
        ss += d * d
    return ss


@_sum
def _grad_sums(grow, w, row, mu, rs, has_w, n):
    """sum(g * xhat), sum(g) for g = dy * w."""
    c1 = 0.0
    c2 = 0.0
    for j in range(n):
        g = grow[j] * w[j] if has_w else grow[j]
        c1 += g * ((row[j] - mu) * rs)
        c2 += g
    return c1, c2


@_kernel
def _fwd(x, y, mean, rstd, w, b, eps, rms, has_w, has_b):
    n = x.shape[1]
    for r in nb.prange(x.shape[0]):
        row = x[r]
        mu = 0.0 if rms else _math.row_sum(row, n) / n
        ss = _sq_dev(row, mu, n)
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
def _bwd(dy, x, dx, mean, rstd, w, rms, has_w, need_dx, need_dw, dw, db):
    """dx; and dw[t], db[t]: float64 partial sums over the t-th of len(dw) row blocks (one per thread)."""
    m, n = x.shape
    parts = dw.shape[0]
    for t in nb.prange(parts):
        for r in range(m * t // parts, m * (t + 1) // parts):
            mu, rs = mean[r], rstd[r]
            row, grow = x[r], dy[r]
            if need_dw:
                pw, pb = dw[t], db[t]
                for j in range(n):
                    xh = (row[j] - mu) * rs
                    pw[j] += grow[j] * xh
                    pb[j] += grow[j]
            if need_dx:
                c1, c2 = _grad_sums(grow, w, row, mu, rs, has_w, n)
                c1 = f32(c1 / n)
                c2 = f32(0.0) if rms else f32(c2 / n)
                out = dx[r]
                for j in range(n):
                    g = grow[j] * w[j] if has_w else grow[j]
                    out[j] = rs * (g - (row[j] - mu) * rs * c1 - c2)


_EMPTY = np.zeros(1, np.float32)  # stands for a missing weight / bias (numba compiles one signature)


def forward(x, w, b, eps, rms):
    """x (M, N); w, b (N,) or None. Returns y (M, N), mean (M,) (zeros for RMS), rstd (M,)."""
    m = x.shape[0]
    y = np.empty_like(x)
    mean = np.empty(m, np.float32)
    rstd = np.empty(m, np.float32)
    _fwd(x, y, mean, rstd, _EMPTY if w is None else w, _EMPTY if b is None else b, float(eps), rms,
         w is not None, b is not None)
    return y, mean, rstd


def backward(dy, x, w, mean, rstd, rms, need_dx, need_dw):
    """Returns dx (or None), and the summed dw, db (float32, or None when not needed)."""
    dx = np.empty_like(x) if need_dx else np.empty((len(x), 0), np.float32)
    threads = _parallel.threads(x.size)
    parts = max(1, min(threads, len(x)))
    dw = np.zeros((parts, x.shape[1] if need_dw else 0), np.float64)
    db = np.zeros_like(dw)
    _bwd.run(threads, dy, x, dx, mean, rstd, _EMPTY if w is None else w, rms, w is not None, need_dx, need_dw, dw, db)
    if not need_dw:
        return (dx if need_dx else None), None, None
    return (dx if need_dx else None), dw.sum(0).astype(np.float32), db.sum(0).astype(np.float32)
