"""Large float32 elementwise arithmetic on several threads: x + y, x - y, x * y, x / y (same shape, y one
row broadcast over x's rows, as a bias, or one operand a broadcast value, as a reduction's gradient), relu,
relu's gradient and where(cond, x, y). Each element is the IEEE result of the one operation numpy would do
(no fast-math), so the values equal numpy's bit for bit; the gain is the second core numpy leaves idle.
"""
import numba as nb
import numpy as np

from . import _parallel

OPS = {np.add: 0, np.subtract: 1, np.multiply: 2, np.divide: 3}


@nb.njit(inline="always", error_model="numpy", cache=True)
def _arith(op, a, b):
    """a op b, op an OPS code (loop-invariant where called: LLVM hoists the branch out of the loop)."""
    if op == 0:
        return a + b
    if op == 1:
        return a - b
    if op == 2:
        return a * b
    return a / b


@_parallel.kernel()
def _binary(x, y, out, op):
    for i in nb.prange(x.shape[0]):
        out[i] = _arith(op, x[i], y[i])


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
def _binary_value(x, v, out, op, left):
    """out = v op x (left) or x op v, v a 1-element array."""
    c = v[0]
    for i in nb.prange(x.shape[0]):
        out[i] = _arith(op, c, x[i]) if left else _arith(op, x[i], c)


@_parallel.kernel()
def _relu(x, out):
    for i in nb.prange(x.shape[0]):
        v = x[i]
        out[i] = v if not v <= 0 else np.float32(0.0)  # a nan stays nan, as in np.maximum(x, 0)


@_parallel.kernel()
def _relu_grad(g, y, out):
    for i in nb.prange(g.shape[0]):
        out[i] = np.float32(0.0) if y[i] <= 0 else g[i]


@_parallel.kernel()
def _relu_grad_value(y, v, out):
    c = v[0]
    for i in nb.prange(y.shape[0]):
        out[i] = np.float32(0.0) if y[i] <= 0 else c


def binary(ufunc, x, y, threads):
    """ufunc(x, y) for C-contiguous float32 x and y, y of x's shape or of x.shape[-1:]."""
    out = np.empty(x.shape, np.float32)
    if y.shape == x.shape:
        _binary.run(threads, x.reshape(-1), y.reshape(-1), out.reshape(-1), OPS[ufunc])
    else:
        n = y.shape[0]
        _binary_row.run(threads, x.reshape(-1, n), y, out.reshape(-1, n), OPS[ufunc])
    return out


@_parallel.kernel()
def _where(c, x, y, out, xs, ys):
    """out = where(c, x, y), x (y) of c's size or, where xs (ys) is 0, one value. Both sides are read before
    the select, so that LLVM emits a branch-free blend (a branch on a random mask costs ~25x)."""
    n = c.shape[0]
    if xs and ys:
        for i in nb.prange(n):
            a, b = x[i], y[i]
            out[i] = a if c[i] else b
    elif xs:
        b = y[0]
        for i in nb.prange(n):
            a = x[i]
            out[i] = a if c[i] else b
    elif ys:
        a = x[0]
        for i in nb.prange(n):
            b = y[i]
            out[i] = a if c[i] else b
    else:
        a, b = x[0], y[0]
        for i in nb.prange(n):
            out[i] = a if c[i] else b


def where(c, x, y, threads):
    """where(c, x, y): c a C-contiguous bool array; x and y float32, each a C-contiguous array of c's shape
    or a 1-element array (one value broadcast)."""
    out = np.empty(c.shape, np.float32)
    _where.run(threads, c.reshape(-1), x.reshape(-1), y.reshape(-1), out.reshape(-1), x.size != 1, y.size != 1)
    return out


def binary_value(ufunc, x, v, left, threads):
    """ufunc(v, x) (left) or ufunc(x, v) for C-contiguous float32 x and a 1-element float32 array v."""
    out = np.empty(x.shape, np.float32)
    _binary_value.run(threads, x.reshape(-1), v, out.reshape(-1), OPS[ufunc], left)
    return out


def relu(x, threads):
    out = np.empty_like(x)
    _relu.run(threads, x.reshape(-1), out.reshape(-1))
    return out


def relu_grad(g, y, threads):
    """where(y <= 0, 0, g), y the saved output (or input) of relu, g of y's shape or one value (a 1-element array)
    broadcast over it (PyTorch's threshold_backward: a nan input passes its gradient through)."""
    out = np.empty(y.shape, np.float32)
    if g.ndim == 1 and g.shape[0] == 1 and g.shape != y.shape:  # one value broadcast over y
        _relu_grad_value.run(threads, y.reshape(-1), g, out.reshape(-1))
    else:
        _relu_grad.run(threads, g.reshape(-1), y.reshape(-1), out.reshape(-1))
    return out
