"""Large float32 elementwise arithmetic on several threads: x + y, x - y, x * y, x / y (same shape, or y
one row broadcast over x's rows, as a bias), relu and relu's gradient. Each element is the IEEE result of
the one operation numpy would do (no fast-math), so the values equal numpy's bit for bit; the gain is
the second core numpy leaves idle.
"""
import numba as nb
import numpy as np

from . import _parallel

OPS = {np.add: 0, np.subtract: 1, np.multiply: 2, np.divide: 3}


@_parallel.kernel()
def _binary(x, y, out, op):
    for i in nb.prange(x.shape[0]):
        a, b = x[i], y[i]
        if op == 0:
            out[i] = a + b
        elif op == 1:
            out[i] = a - b
        elif op == 2:
            out[i] = a * b
        else:
            out[i] = a / b


@_parallel.kernel()
def _binary_row(x, y, out, op):
    n = x.shape[1]
    for r in nb.prange(x.shape[0]):
        a, o = x[r], out[r]
        if op == 0:
            for j in range(n):
                o[j] = a[j] + y[j]
        elif op == 1:
            for j in range(n):
                o[j] = a[j] - y[j]
        elif op == 2:
            for j in range(n):
                o[j] = a[j] * y[j]
        else:
            for j in range(n):
                o[j] = a[j] / y[j]


@_parallel.kernel()
def _relu(x, out):
    for i in nb.prange(x.shape[0]):
        v = x[i]
        out[i] = v if not v <= 0 else np.float32(0.0)  # a nan stays nan, as in np.maximum(x, 0)


@_parallel.kernel()
def _relu_grad(g, y, out):
    for i in nb.prange(g.shape[0]):
        out[i] = np.float32(0.0) if y[i] <= 0 else g[i]


def binary(ufunc, x, y, threads):
    """ufunc(x, y) for C-contiguous float32 x and y, y of x's shape or of x.shape[-1:]."""
    out = np.empty(x.shape, np.float32)
    if y.shape == x.shape:
        _binary.run(threads, x.reshape(-1), y.reshape(-1), out.reshape(-1), OPS[ufunc])
    else:
        n = y.shape[0]
        _binary_row.run(threads, x.reshape(-1, n), y, out.reshape(-1, n), OPS[ufunc])
    return out


def relu(x, threads):
    out = np.empty_like(x)
    _relu.run(threads, x.reshape(-1), out.reshape(-1))
    return out


def relu_grad(g, y, threads):
    """where(y <= 0, 0, g), y the saved output (or input) of relu, of g's shape (PyTorch's threshold_backward:
    a nan input passes its gradient through)."""
    out = np.empty_like(g)
    _relu_grad.run(threads, g.reshape(-1), y.reshape(-1), out.reshape(-1))
    return out
