"""Cross-entropy of (M, N) float32 logit rows against (M,) class indices, with label smoothing ls, in one
pass per row that also writes each row's gradient (the CPU counterpart of mytorch.kernels.cross_entropy):
    loss_r = lse_r - (1 - ls) * x[r, t_r] - ls / N * sum_c x[r, c]         (0 where t_r == ignore_index)
    d loss_r / d x[r] = softmax(x[r]) - (1 - ls) * onehot(t_r) - ls / N    (0 where ignored)
Backward then only scales the saved gradient by the upstream one, so no softmax is computed twice.
"""
import math

import numba as nb
import numpy as np

from . import _math, _parallel

f32 = np.float32
_kernel = _parallel.kernel(fastmath=_math.FAST)


@_kernel
def _fwd(x, t, loss, dx, ignore_index, ls):
    """Fills loss (float64) and dx; returns the number of rows it could not do (no finite maximum or a nan
    sum: numpy has PyTorch's rules for those)."""
    n = x.shape[1]
    bad = 0
    for r in nb.prange(x.shape[0]):
        row, out = x[r], dx[r]
        tr = t[r]
        if tr == ignore_index:
            loss[r] = 0.0
            for j in range(n):
                out[j] = 0.0
            continue
        m = _math.row_max(row, n)
        if not (m > -np.inf and m < np.inf):
            bad += 1
            continue
        m32 = f32(m)
        for j in range(n):
            out[j] = _math.exp(row[j] - m32)
        s = _math.row_sum(out, n)
        if not s > 0.5:  # the maximum's own term is exp(0) = 1; a nan fails this
            bad += 1
            continue
        lse = m + math.log(s)
        value = lse - (1.0 - ls) * row[tr]
        smooth = f32(ls / n)
        if ls > 0.0:
            value -= ls / n * _math.row_sum(row, n)
        loss[r] = value
        inv = f32(1.0 / s)
        for j in range(n):
            out[j] = out[j] * inv - smooth
        out[tr] -= f32(1.0 - ls)
    return bad


def forward(x, target, ignore_index, label_smoothing):
    """x (M, N) float32 C-contiguous, target (M,) integers in [0, N) or ignore_index. Returns (loss (M,)
    float64 per row, d loss_row / d x (M, N) float32), or None when a row has no finite maximum or a nan."""
    loss = np.empty(len(x), np.float64)
    dx = np.empty_like(x)
    bad = _fwd(x, np.ascontiguousarray(target, dtype=np.int64), loss, dx, int(ignore_index), float(label_smoothing))
    return None if bad else (loss, dx)
