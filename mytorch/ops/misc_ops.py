"""Ops built from others (meshgrid, cdist, cross, kron, quantile, block_diag, ...) and a few with their own
Function (cummax/cummin, logcumsumexp, scatters into views, as_strided). Composites get their gradient from
the ops they use; the Functions keep forward and backward together.
"""
import itertools
import math

import numpy as np

from .. import _dtype
from .._array import xp_of
from ..autograd.function import Function
from ..tensor import Tensor, wrap_dim
from ._registry import public, tensor_methods
from ._util import float_input


def _ops():
    import mytorch

    return mytorch


def _tensors(args):
    return list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)


# ---------------------------------------------------------------------------------------------
# grids, products, distances
# ---------------------------------------------------------------------------------------------
def meshgrid(*tensors, indexing=None):
    ts = _tensors(tensors)
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts = [ts[1], ts[0]] + ts[2:]
    shape = [t.numel() for t in ts]
    out = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        out.append(t.reshape(view).expand(*shape))
    if swap:  # 'xy': the grids of the swapped first two inputs, handed back in the inputs' order
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def cartesian_prod(*tensors):
    ts = _tensors(tensors)
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return _ops().stack([g.reshape(-1) for g in grids], dim=1)


def vander(x, N=None, increasing=False):
    """Columns x**(N-1), ..., x, 1 (increasing: 1, x, ..., x**(N-1)) of a 1-D x; N defaults to len(x)."""
    if x.ndim != 1:
        raise RuntimeError(f"x must be a one-dimensional tensor, got {x.ndim} dimensions")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError(f"N must be non-negative, got {n}")
    if x.dtype == _dtype.bool_ or not (x.is_floating_point() or x.is_complex()):
        x = x.to(_dtype.int64)  # integer (and bool) inputs give int64 powers, as in PyTorch
    if n == 0:
        return x.new_empty((x.shape[0], 0))
    # running products, so that the gradient is finite where x is 0
    cols = _ops().cat([x.new_ones((x.shape[0], 1)), x.unsqueeze(1).expand(x.shape[0], n - 1)], 1).cumprod(1)
    return cols if increasing else cols.flip(1)


def combinations(input, r=2, with_replacement=False):
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(pick(range(input.shape[0]), r))
    if not rows:
        return input.new_zeros((0,) if r == 0 else (0, r))
    idx = np.asarray(rows, dtype=np.int64)
    cols = [input.index_select(0, Tensor._make(xp_of(input._data).asarray(idx[:, j]))) for j in range(r)]
    return _ops().stack(cols, dim=1)


def cdist(x1, x2, p=2.0, compute_mode=None):
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return _vector_norm(diff, p, -1)


def _vector_norm(x, p, dim, keepdim=False):
    """A p-norm whose gradient at 0 is 0 (as PyTorch's distance ops define it)."""
    m = _ops()
    if p == 0:
        return (x != 0).to(x.dtype).sum(dim, keepdim=keepdim) + x.mul(0).sum(dim, keepdim=keepdim)
    if p == math.inf:
        return x.abs().amax(dim, keepdim=keepdim)
    a = x.abs()
    if p == 1:
        return a.sum(dim, keepdim=keepdim)
    zero = a == 0  # |x|^p at 0 has no finite derivative for p < 1: keep those elements out of the power
    s = m.where(zero, m.zeros_like(a), m.where(zero, m.ones_like(a), a) ** p).sum(dim, keepdim=keepdim)
    safe = m.where(s > 0, s, m.ones_like(s))
    return m.where(s > 0, safe ** (1.0 / p), m.zeros_like(s))


def dist(input, other, p=2):
    return _vector_norm((input - other).reshape(-1), float(p), 0)


def cross(input, other, dim=None):
    m = _ops()
    a, b = m.broadcast_tensors(input, other)
    if dim is None:
        dim = next((i for i, s in enumerate(a.shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    d = wrap_dim(dim, a.ndim)
    if a.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {a.shape[d]} and "
                           f"{b.shape[d]}")
    a0, a1, a2 = a.unbind(d)
    b0, b1, b2 = b.unbind(d)
    return m.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim=d)


def kron(input, other):
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    a_view = [s for sa in a.shape for s in (sa, 1)]
    b_view = [s for sb in b.shape for s in (1, sb)]
    out = a.reshape(a_view) * b.reshape(b_view)
    return out.reshape([sa * sb for sa, sb in zip(a.shape, b.shape)])


def block_diag(*tensors):
    m = _ops()
    ts = [t.reshape(1, 1) if t.ndim == 0 else t.reshape(1, -1) if t.ndim == 1 else t for t in tensors]
    for i, t in enumerate(ts):
        if t.ndim != 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions")
    if not ts:
        return m.empty(1, 0)
    dtype = ts[0].dtype
    for t in ts[1:]:
        dtype = _dtype.promote_types(dtype, t.dtype)
    width = sum(t.shape[1] for t in ts)
    rows, left = [], 0
    for t in ts:
        right = width - left - t.shape[1]
        rows.append(m.nn.functional.pad(t.to(dtype), (left, right)))
        left += t.shape[1]
    return m.cat(rows, dim=0)


def trace(input):
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    out = input.diagonal().sum()
    return out if input.dtype.is_floating_point or input.dtype.is_complex else out.to(_dtype.int64)


def vdot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return _ops().dot(input.conj(), other)  # the first vector conjugated (a no-op for real ones)


def diagflat(input, offset=0):
    return _ops().diag(input.reshape(-1), offset)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    m = _ops()
    d = wrap_dim(dim, input.ndim)
    parts = [t for t in (prepend, input, append) if t is not None]
    parts = [p if p.ndim else p.expand(*input.shape[:d], 1, *input.shape[d + 1:]) for p in parts]
    x = m.cat(parts, dim=d) if len(parts) > 1 else input
    for _ in range(n):
        length = x.shape[d]
        if length == 0:
            break
        hi, lo = x.narrow(d, 1, length - 1), x.narrow(d, 0, length - 1)
        x = (hi != lo) if x.dtype == _dtype.bool_ else hi - lo
    return x


def trapezoid(y, x=None, *, dx=None, dim=-1):
    d = wrap_dim(dim, y.ndim)
    n = y.shape[d]
    if n == 0:
        return y.sum(d) * 0
    mid = (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)) / 2
    if x is not None:
        step = diff(x, dim=dim if x.ndim > 1 else -1)
        if x.ndim == 1:
            step = step.reshape([-1 if i == d else 1 for i in range(y.ndim)])
        return (mid * step).sum(d)
    return (mid * (1 if dx is None else dx)).sum(d)


def trapz(y, x=None, *, dx=None, dim=-1):
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    d = wrap_dim(dim, y.ndim)
    n = y.shape[d]
    mid = (y.narrow(d, 1, max(n - 1, 0)) + y.narrow(d, 0, max(n - 1, 0))) / 2
    if x is not None:
        step = diff(x, dim=dim if x.ndim > 1 else -1)
        if x.ndim == 1:
            step = step.reshape([-1 if i == d else 1 for i in range(y.ndim)])
        return (mid * step).cumsum(d)
    return (mid * (1 if dx is None else dx)).cumsum(d)


def renorm(input, p, dim, maxnorm):
    d = wrap_dim(dim, input.ndim)
    others = [i for i in range(input.ndim) if i != d]
    norms = _vector_norm(input, float(p), others, keepdim=True) if others else input.abs()
    m = _ops()
    factor = m.where(norms > maxnorm, maxnorm / (norms + 1e-7), m.ones_like(norms))
    return input * factor


def cov(input, *, correction=1, fweights=None, aweights=None):
    x = input.reshape(1, -1) if input.ndim < 2 else input
    if input.ndim > 2:
        raise ValueError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                         f"{input.ndim} dimensions")
    x = float_input(x)
    w = None
    if fweights is not None:
        w = fweights.to(x.dtype)
    if aweights is not None:
        w = aweights.to(x.dtype) if w is None else w * aweights.to(x.dtype)
    n = x.shape[1]
    if w is None:
        avg = x.mean(1, keepdim=True)
        norm = n - correction
        c = (x - avg) @ (x - avg).t()
    else:
        w_sum = w.sum()
        avg = (x * w).sum(1, keepdim=True) / w_sum
        if aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * (w * aweights.to(x.dtype)).sum() / w_sum
        c = ((x - avg) * w) @ (x - avg).t()
    out = c / (norm if isinstance(norm, Tensor) else max(norm, 0))
    return out.reshape(()) if input.ndim < 2 or input.shape[0] == 1 else out  # one variable: a 0-d result


def corrcoef(input):
    c = cov(input)
    if c.ndim == 0 or c.shape == (1, 1):  # one variable: PyTorch returns a 0-d tensor
        c = c.reshape(())
        return c / c
    d = c.diagonal()
    std = d.sqrt()
    return (c / std.unsqueeze(1) / std.unsqueeze(0)).clamp(-1, 1)


# ---------------------------------------------------------------------------------------------
# scans: cummax / cummin / logcumsumexp
# ---------------------------------------------------------------------------------------------
def _cum_extreme(x, axis, is_max):
    xp = xp_of(x)
    xm = xp.moveaxis(x, axis, -1)
    n = xm.shape[-1]
    vals, idx = xm.copy(), xp.zeros(xm.shape, np.int64)
    for i in range(1, n):
        prev, cur = vals[..., i - 1], xm[..., i]
        # a tie moves the index to the newer element, as PyTorch does; a nan, once met, stays
        take = cur >= prev if is_max else cur <= prev
        if x.dtype.kind == "f":
            take = xp.isnan(cur) | (take & ~xp.isnan(prev))
        vals[..., i] = xp.where(take, cur, prev)
        idx[..., i] = xp.where(take, i, idx[..., i - 1])
    return xp.moveaxis(vals, -1, axis), xp.moveaxis(idx, -1, axis)


class CumExtreme(Function):
    @staticmethod
    def forward(ctx, x, axis, is_max):
        vals, idx = _cum_extreme(x, axis, is_max)
        ctx.meta = (x.shape, axis, idx)
        return vals, idx

    @staticmethod
    def backward(ctx, grad, grad_idx=None):
        shape, axis, idx = ctx.meta
        xp = xp_of(grad)
        out = xp.zeros(shape, grad.dtype)
        # each output position sends its gradient to the element it picked
        gm, im = xp.moveaxis(grad, axis, -1), xp.moveaxis(idx, axis, -1)
        om = xp.moveaxis(out, axis, -1)
        lead = np.indices(im.shape[:-1]) if im.ndim > 1 else ()
        for i in range(im.shape[-1]):
            key = tuple(lead) + (im[..., i],)
            xp.add.at(om, key, gm[..., i])
        return out, None, None


def _cum_result(name):
    from .reduce import _return_type

    return _return_type(name, ["values", "indices"])


_CummaxResult, _CumminResult = _cum_result("cummax"), _cum_result("cummin")


def _cum(input, dim, is_max):
    d = wrap_dim(dim, input.ndim)
    if input.ndim == 0:
        x = input.reshape(1)
        v, i = CumExtreme.apply(x, 0, is_max)
        v, i = v.reshape(()), i.reshape(())
    else:
        v, i = CumExtreme.apply(input, d, is_max)
    i = i.detach()
    return (_CummaxResult if is_max else _CumminResult)(v, i)


def cummax(input, dim):
    return _cum(input, dim, True)


def cummin(input, dim):
    return _cum(input, dim, False)


class LogCumSumExp(Function):
    @staticmethod
    def forward(ctx, x, axis):
        xp = xp_of(x)
        with np.errstate(all="ignore"):
            out = xp.logaddexp.accumulate(x, axis=axis) if xp is np else _logaddexp_scan(xp, x, axis)
        ctx.save_for_backward(x, out)
        ctx.axis = axis
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        xp, axis = xp_of(x), ctx.axis
        # d out_j / d x_i = exp(x_i - out_j) for j >= i: a reversed cumulative sum, kept in float64
        with np.errstate(all="ignore"):
            g64, x64, o64 = grad.astype(np.float64), x.astype(np.float64), out.astype(np.float64)
            shift = xp.max(o64, axis=axis, keepdims=True)
            shift = xp.where(xp.isfinite(shift), shift, 0)
            w = g64 * xp.exp(shift - o64)
            rev = xp.flip(xp.cumsum(xp.flip(w, axis), axis), axis)
            gx = rev * xp.exp(x64 - shift)
            gx = xp.where(xp.isnan(gx) & (g64 == 0), 0, gx)
        return gx.astype(grad.dtype), None

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, out = ctx.saved_tensors
        axis = ctx.axis
        shift = out.detach().amax(axis, keepdim=True)  # a constant shift: exp(shift - out) stays finite
        shift = shift.masked_fill(~shift.isfinite(), 0.0)
        w = grad * (shift - out).exp()
        return w.flip(axis).cumsum(axis).flip(axis) * (x - shift).exp(), None


def _logaddexp_scan(xp, x, axis):
    xm = xp.moveaxis(x.copy(), axis, -1)
    for i in range(1, xm.shape[-1]):
        xm[..., i] = xp.logaddexp(xm[..., i - 1], xm[..., i])
    return xp.moveaxis(xm, -1, axis)


def logcumsumexp(input, dim):
    x = float_input(input)
    if x.ndim == 0:
        return LogCumSumExp.apply(x.reshape(1), 0).reshape(())
    return LogCumSumExp.apply(x, wrap_dim(dim, x.ndim))


# ---------------------------------------------------------------------------------------------
# counting, sets, quantiles
# ---------------------------------------------------------------------------------------------
def bincount(input, weights=None, minlength=0):
    x = input._data
    if input.ndim != 1 or x.dtype.kind not in "iu":
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if x.size and int(x.min()) < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    xp = xp_of(x)
    if weights is None:
        return Tensor._make(xp.bincount(x, minlength=minlength).astype(np.int64))
    w = weights._data
    out_dtype = w.dtype if w.dtype.kind == "f" else np.float64
    return Tensor._make(xp.bincount(x, weights=w.astype(np.float64), minlength=minlength).astype(out_dtype))


def histc(input, bins=100, min=0, max=0):
    x = input._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"\"histogram_cpu\" not implemented for '{input.dtype.name.capitalize()}'")
    xp = xp_of(x)
    lo, hi = float(min), float(max)
    if lo == hi and x.size:
        lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    counts, _ = xp.histogram(x.reshape(-1), bins=bins, range=(lo, hi))
    return Tensor._make(counts.astype(x.dtype))


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    e = elements._data if isinstance(elements, Tensor) else np.asarray(elements)
    t = test_elements._data if isinstance(test_elements, Tensor) else np.asarray(test_elements)
    xp = xp_of(e) if isinstance(elements, Tensor) else xp_of(t)
    return Tensor._make(xp.asarray(xp.isin(e, t, invert=invert)))


def _quantile(name, input, q, dim, keepdim, interpolation, ignore_nan):
    m = _ops()
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                           f"Got {interpolation}")
    if input.dtype not in (_dtype.float32, _dtype.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    scalar_q = not isinstance(q, Tensor) or q.ndim == 0
    qs = np.atleast_1d(np.asarray(q._data.tolist() if isinstance(q, Tensor) else q, dtype=np.float64))
    if ((qs < 0) | (qs > 1)).any():
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    if isinstance(q, Tensor) and q.ndim > 1:
        raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else wrap_dim(dim, input.ndim)
    if x.ndim == 0:
        x = x.reshape(1)
    x = x.movedim(d, -1)
    sorted_x = m.sort(x, dim=-1).values  # nans sort last
    xp = xp_of(x._data)
    nan = xp.isnan(x._data)
    n = x.shape[-1]
    valid = (n - nan.sum(-1)) if ignore_nan else xp.full(x.shape[:-1], n)
    outs = []
    for qv in qs:
        pos = qv * (xp.maximum(valid, 1) - 1)
        lo = xp.floor(pos).astype(np.int64)
        hi = xp.ceil(pos).astype(np.int64)
        frac = pos - lo
        if interpolation == "lower":
            hi, frac = lo, frac * 0
        elif interpolation == "higher":
            lo, frac = hi, frac * 0
        elif interpolation == "nearest":
            near = xp.round(pos).astype(np.int64)
            lo = hi = near
            frac = frac * 0
        elif interpolation == "midpoint":
            frac = xp.where(hi > lo, 0.5, 0.0)
        v_lo = sorted_x.gather(-1, Tensor._make(lo[..., None])).squeeze(-1)
        v_hi = sorted_x.gather(-1, Tensor._make(hi[..., None])).squeeze(-1)
        w = Tensor._make(xp.asarray(frac, dtype=x._data.dtype))
        val = v_lo + (v_hi - v_lo) * w
        bad = (valid == 0) if ignore_nan else nan.any(-1)
        if bad.any():
            val = m.where(Tensor._make(xp.asarray(bad)), m.full_like(val, float("nan")), val)
        outs.append(val)
    out = m.stack(outs, 0)
    if keepdim and input.ndim:
        if dim is None:
            out = out.reshape((len(qs),) + (1,) * input.ndim)
        else:
            out = out.unsqueeze(d + 1)
    return out[0] if scalar_q else out


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile("quantile", input, q, dim, keepdim, interpolation, ignore_nan=False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, ignore_nan=True)


def nanmedian(input, dim=None, keepdim=False):
    """The lower median of the non-nan values (nan where all are nan); with dim, also their indices."""
    from .reduce import MedianResult

    m = _ops()
    x = input.reshape(-1) if dim is None else input
    if x.ndim == 0:
        x = x.reshape(1)
    d = 0 if dim is None else wrap_dim(dim, input.ndim) if input.ndim else 0
    xm = x.movedim(d, -1)
    if xm.shape[-1] == 0:
        raise IndexError(f"nanmedian(): Expected reduction dim {d} to have non-zero size.")
    sorted_x, order = m.sort(xm, dim=-1)
    xp = xp_of(xm._data)
    valid = xm.shape[-1] - (xp.isnan(xm._data).sum(-1) if xm._data.dtype.kind == "f" else 0)
    k = xp.maximum((xp.asarray(valid) - 1) // 2, 0)[..., None].astype(np.int64)
    kt = Tensor._make(xp.asarray(k))
    values = sorted_x.gather(-1, kt).squeeze(-1)
    indices = order.gather(-1, kt).squeeze(-1)
    if dim is None:
        return values.reshape(())
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    elif keepdim:
        values, indices = values.unsqueeze(d), indices.unsqueeze(d)
    return MedianResult(values, indices)


# ---------------------------------------------------------------------------------------------
# index helpers and scatters into views
# ---------------------------------------------------------------------------------------------
def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _tri_indices(np.tril_indices, row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _tri_indices(np.triu_indices, row, col, offset, dtype, device)


def _tri_indices(fn, row, col, offset, dtype, device):
    r, c = fn(row, offset, col) if row and col else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    return _ops().tensor(np.stack([r, c]).astype(np.int64), dtype=dtype or _dtype.int64, device=device)


class ScatterInto(Function):
    """input with the view `key(input)` replaced by src; key(array) returns a writable view."""

    @staticmethod
    def forward(ctx, x, src, key):
        out = x.copy()
        key(out)[...] = src
        ctx.key = key
        return out

    @staticmethod
    def backward(ctx, grad):
        gx = grad.copy()
        key = ctx.key
        gs = key(grad).copy() if ctx.needs_input_grad[1] else None
        key(gx)[...] = 0
        return gx, gs, None


def _check_src(name, view_shape, src):
    if tuple(src.shape) != tuple(view_shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(view_shape)}")


def select_scatter(input, src, dim, index):
    d = wrap_dim(dim, input.ndim)
    i = index + input.shape[d] if index < 0 else index
    _check_src("select_scatter", input.select(d, i).shape, src)
    return slice_scatter(input, src.unsqueeze(d), d, i, i + 1)


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    d = wrap_dim(dim, input.ndim)

    def key(a):
        return a[(slice(None),) * d + (slice(start, end, step),)]

    _check_src("slice_scatter", key(input._data).shape, src)
    return ScatterInto.apply(input, src.to(input.dtype), key)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    d1, d2 = wrap_dim(dim1, input.ndim), wrap_dim(dim2, input.ndim)
    n1, n2 = input.shape[d1], input.shape[d2]
    length = max(0, min(n1 + min(offset, 0), n2 - max(offset, 0)))
    r = np.arange(length) - min(offset, 0)
    c = np.arange(length) + max(offset, 0)

    class _DiagView:
        def __init__(self, a):
            self.a = xp_of(a).moveaxis(a, (d1, d2), (-2, -1))
            self.shape = self.a.shape[:-2] + (length,)

        def __getitem__(self, k):
            return self.a[..., r, c]

        def copy(self):
            return self.a[..., r, c].copy()

        def __setitem__(self, k, v):
            self.a[..., r, c] = v

    _check_src("diagonal_scatter", _DiagView(input._data).shape, src)
    return ScatterInto.apply(input, src.to(input.dtype), _DiagView)


def _strided_index(size, stride, offset, storage_size):
    """Storage positions offset + sum(i_k * stride_k) of an as_strided view, shaped `size` (int64)."""
    idx = np.full(tuple(size), offset, dtype=np.int64)
    for k, (n, s) in enumerate(zip(size, stride)):
        idx = idx + (np.arange(n) * s).reshape([n if j == k else 1 for j in builtins_range(len(size))])
    if idx.size and (idx.max() >= storage_size or idx.min() < 0):
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset} "
                           f"out of bounds for storage of size {storage_size}")
    return idx


def _storage(input):
    """(flat storage, element offset, element strides) of input: its base tensor's memory when input is a
    view of one, as PyTorch's as_strided addresses the storage rather than the view."""
    x, base = input._data, input._base
    if base is not None and base._data.dtype == x.dtype and base._data.flags.c_contiguous and x.size:
        item = x.itemsize
        ptr = (lambda a: a.ctypes.data) if type(x) is np.ndarray else (lambda a: a.data.ptr)
        diff = ptr(x) - ptr(base._data)
        if 0 <= diff < base._data.nbytes and diff % item == 0 and all(st % item == 0 for st in x.strides):
            return base._data.reshape(-1), diff // item, tuple(st // item for st in x.strides)
    x = x if x.flags.c_contiguous else xp_of(x).ascontiguousarray(x)
    return x.reshape(-1), 0, tuple(st // x.itemsize for st in x.strides)


class AsStrided(Function):
    """Elements of input's storage at offset + sum(i_k * stride_k); the gradient adds back into the elements
    of input those positions hold (storage outside input gets none, as in PyTorch)."""

    @staticmethod
    def forward(ctx, x, storage, own_offset, own_strides, size, stride, offset):
        idx = _strided_index(size, stride, offset, storage.size)
        ctx.meta = (x.shape, own_offset, own_strides, storage.size, idx)
        return storage[xp_of(x).asarray(idx)]

    @staticmethod
    def backward(ctx, grad):
        shape, own_offset, own_strides, storage_size, idx = ctx.meta
        xp = xp_of(grad)
        own = _strided_index(shape, own_strides, own_offset, storage_size).reshape(-1)
        if own.size == storage_size and (own == np.arange(storage_size)).all():  # input is the storage, in order
            pos = idx
        else:  # which element of input sits at each storage position (-1: none)
            where = np.full(storage_size, -1, dtype=np.int64)
            where[own] = np.arange(own.size)
            pos = where[idx]
        pos = xp.asarray(pos)
        out = xp.zeros(math.prod(shape), grad.dtype)
        keep = pos >= 0
        xp.add.at(out, pos[keep], grad[keep])
        return (out.reshape(shape),) + (None,) * 6


def as_strided(input, size, stride, storage_offset=None):
    storage, own_offset, own_strides = _storage(input)
    offset = own_offset if storage_offset is None else int(storage_offset)
    return AsStrided.apply(input, storage, own_offset, own_strides, tuple(size), tuple(stride), offset)


class AsStridedScatter(Function):
    """out = input (contiguous) with out.as_strided(size, stride, offset) = src."""

    @staticmethod
    def forward(ctx, x, src, size, stride, offset):
        idx = xp_of(x).asarray(_strided_index(size, stride, offset, x.size))
        ctx.idx, ctx.shape = idx, x.shape
        out = x.reshape(-1).copy()
        out[idx] = src
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        flat = grad.reshape(-1)
        gx = flat.copy()
        gx[ctx.idx] = 0
        return gx.reshape(ctx.shape), flat[ctx.idx], None, None, None


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    size = tuple(size)
    if tuple(src.shape) != size:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(size)}")
    if src.dtype != input.dtype:
        raise RuntimeError(f"as_strided_scatter(): expected src dtype {input.dtype}, but got {src.dtype}")
    return AsStridedScatter.apply(input.contiguous(), src, size, tuple(stride), int(storage_offset or 0))


def _unfold(self, dimension, size, step):
    """Windows of `size` every `step` along dimension, as a new last dim."""
    d = wrap_dim(dimension, self.ndim) if self.ndim else 0
    x = self.reshape(1) if self.ndim == 0 else self
    n = x.shape[d]
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    count = (n - size) // step + 1
    idx = (np.arange(count)[:, None] * step + np.arange(size)).reshape(-1)
    picked = x.index_select(d, Tensor._make(xp_of(x._data).asarray(idx)))
    shape = list(x.shape[:d]) + [count, size] + list(x.shape[d + 1:])
    out = picked.reshape(shape).movedim(d + 1, -1)
    return out if self.ndim else out.reshape(size)  # a 0-d tensor gives one window of its one element


def _cauchy(rng, shape, median=0.0, sigma=1.0):
    return median + sigma * np.tan(math.pi * (rng.random(shape) - 0.5))


def _geometric(rng, shape, p):
    return rng.geometric(p, size=shape)


def _log_normal(rng, shape, mean=1.0, std=2.0):
    return np.exp(rng.standard_normal(shape) * std + mean)


def sum_to_size(self, *size):
    """Sum self down to `size` (which self must broadcast from)."""
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    lead = self.ndim - len(size)
    if lead < 0:
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(self.shape)}}}.")
    axes = list(range(lead)) + [lead + i for i, n in enumerate(size) if n == 1 and self.shape[lead + i] != 1]
    out = self.sum(axes, keepdim=True) if axes else self
    return out.reshape(size)


def zero_(input):
    return input.zero_()


def fill(input, value):
    m = _ops()
    v = value if isinstance(value, Tensor) else m.tensor(value, dtype=input.dtype, device=input.device)
    if v.ndim != 0:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {v.ndim} dimensions.")
    return m.where(m.ones_like(input, dtype=_dtype.bool_), v.to(input.dtype), input)


def unravel_index(indices, shape):
    m = _ops()
    idx = indices if isinstance(indices, Tensor) else m.tensor(indices)
    if idx.dtype.is_floating_point:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {idx.dtype}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    n = math.prod(shape)
    data = idx._data
    if data.size and (int(data.min()) < -n or int(data.max()) >= n):
        raise RuntimeError("'indices' must be in range [-{0}, {0})".format(n) if n else "'indices' must be empty")
    out = np.unravel_index(np.where(data < 0, data + n, data), shape) if shape else ()
    return tuple(Tensor._make(xp_of(data).asarray(o).astype(np.int64)) for o in out)


def split_with_sizes(input, split_sizes, dim=0):
    return _ops().split(input, list(split_sizes), dim)


def unsafe_split(input, split_size, dim=0):
    return _ops().split(input, split_size, dim)


def unsafe_chunk(input, chunks, dim=0):
    return _ops().chunk(input, chunks, dim)


def constant_pad_nd(input, pad, value=0):
    return _ops().nn.functional.pad(input, list(pad), value=value)


def empty_permuted(size, physical_layout, *, dtype=None, device=None, requires_grad=False, layout=None,
                   pin_memory=False):
    return _ops().empty(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def _copy_variant(name, view_fn):
    """The `<view>_copy` ops: the same values as the view, in new memory."""

    def op(*args, **kwargs):
        out = view_fn(*args, **kwargs)
        return tuple(o.clone() for o in out) if isinstance(out, (tuple, list)) else out.clone()

    op.__name__ = op.__qualname__ = name
    return op


def _slice(input, dim=0, start=None, end=None, step=1):
    """input[..., start:end:step, ...] along dim (aten's slice)."""
    return input[(slice(None),) * wrap_dim(dim, input.ndim) + (slice(start, end, step),)]


def _views():
    from . import shape

    return {"alias": lambda x: x, "diagonal": shape.diagonal, "expand": lambda x, *s: x.expand(*s),
            "narrow": shape.narrow, "permute": shape.permute, "squeeze": shape.squeeze, "t": shape.t,
            "transpose": shape.transpose, "unbind": shape.unbind, "unfold": _unfold, "unsqueeze": shape.unsqueeze,
            "view": lambda x, *s: x.view(*s), "split_with_sizes": split_with_sizes, "as_strided": as_strided,
            "detach": lambda x: x.detach(), "select": shape.select, "slice": _slice, "split": shape.split,
            "view_as_real": lambda x: _ops().view_as_real(x), "view_as_complex": lambda x: _ops().view_as_complex(x)}


COPY_OPS = {f"{k}_copy": _copy_variant(f"{k}_copy", v) for k, v in _views().items()}



# ---------------------------------------------------------------------------------------------
# histograms, numerical gradient, strided allocation, resize
# ---------------------------------------------------------------------------------------------
def histogram(input, bins, *, range=None, weight=None, density=False):
    """(hist, bin_edges) like numpy.histogram, in input's dtype."""
    from .reduce import _return_type

    x = input._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the same dtype, but got "
                           f"input {input.dtype} and bins {input.dtype}")
    xp = xp_of(x)
    edges = bins._data if isinstance(bins, Tensor) else int(bins)
    w = None if weight is None else weight._data.reshape(-1)
    hist, edge_arr = xp.histogram(x.reshape(-1), bins=edges, range=range, weights=w, density=density)
    result = _return_type("histogram", ["hist", "bin_edges"])
    return result(Tensor._make(hist.astype(x.dtype)), Tensor._make(xp.asarray(edge_arr).astype(x.dtype)))


def _gradient_along(f, d, h, coords, edge_order):
    """Second-order accurate differences inside, first/second order at the edges (numpy.gradient's)."""
    m = _ops()
    n = f.shape[d]
    if n < edge_order + 1:
        raise RuntimeError(f"torch.gradient expected each dimension size to be at least edge_order+1")

    def sl(start, length):
        return f.narrow(d, start, length)

    def vec(v):  # a 1-D coordinate difference shaped to broadcast along d
        return v.reshape([-1 if i == d else 1 for i in builtins_range(f.ndim)])

    if coords is None:
        inner = (sl(2, n - 2) - sl(0, n - 2)) / (2 * h) if n > 2 else None
        if edge_order == 1:
            left, right = (sl(1, 1) - sl(0, 1)) / h, (sl(n - 1, 1) - sl(n - 2, 1)) / h
        else:
            left = (-1.5 * sl(0, 1) + 2 * sl(1, 1) - 0.5 * sl(2, 1)) / h
            right = (0.5 * sl(n - 3, 1) - 2 * sl(n - 2, 1) + 1.5 * sl(n - 1, 1)) / h
    else:
        dx = coords[1:] - coords[:-1]
        inner = None
        if n > 2:
            hl, hr = vec(dx[:-1]), vec(dx[1:])
            inner = (hl * hl * sl(2, n - 2) - hr * hr * sl(0, n - 2) + (hr * hr - hl * hl) * sl(1, n - 2)) / (
                hl * hr * (hl + hr))
        if edge_order == 1:
            left = (sl(1, 1) - sl(0, 1)) / dx[0]
            right = (sl(n - 1, 1) - sl(n - 2, 1)) / dx[-1]
        else:
            d1, d2 = dx[0], dx[1]
            left = (-(2 * d1 + d2) / (d1 * (d1 + d2)) * sl(0, 1) + (d1 + d2) / (d1 * d2) * sl(1, 1)
                    - d1 / (d2 * (d1 + d2)) * sl(2, 1))
            d1, d2 = dx[-2], dx[-1]
            right = (d2 / (d1 * (d1 + d2)) * sl(n - 3, 1) - (d2 + d1) / (d1 * d2) * sl(n - 2, 1)
                     + (2 * d2 + d1) / (d2 * (d1 + d2)) * sl(n - 1, 1))
    parts = [left] + ([inner] if inner is not None else []) + [right]
    return m.cat(parts, dim=d)


builtins_range = range


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    if edge_order not in (1, 2):
        raise RuntimeError(f"torch.gradient only supports edge_order=1 and edge_order=2.")
    x = float_input(input)
    dims = list(builtins_range(x.ndim)) if dim is None else [dim] if isinstance(dim, int) else list(dim)
    dims = [wrap_dim(d, x.ndim) for d in dims]
    if spacing is None:
        spacing = 1
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                               f"arguments to have the same length, but got a spacing argument of length "
                               f"{len(spacing)} and a dim argument of length {len(dims)}.")
        spacings = list(spacing)
    else:
        spacings = [spacing] * len(dims)
    out = []
    for d, h in zip(dims, spacings):
        if isinstance(h, Tensor) and h.ndim == 1:
            out.append(_gradient_along(x, d, None, h.to(x.dtype), edge_order))
        else:
            out.append(_gradient_along(x, d, float(h.item() if isinstance(h, Tensor) else h), None, edge_order))
    return tuple(out)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    return _ops().empty(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def _new_empty_strided(self, size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                       pin_memory=False):
    return _ops().empty(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def _resize_(self, *sizes, memory_format=None):
    """Resize in place: the first elements keep their values, new ones are zero."""
    size = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else tuple(sizes)
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    xp = xp_of(self._data)
    flat = self._data.reshape(-1)
    n = math.prod(size)
    if n > flat.size:
        flat = xp.concatenate([flat, xp.zeros(n - flat.size, flat.dtype)])
    self._data = flat[:n].reshape(size).copy()
    self._version.value += 1
    return self


def _resize_as_(self, the_template, memory_format=None):
    return _resize_(self, tuple(the_template.shape))


def resize_as_(input, the_template, *, memory_format=None):
    return _resize_as_(input, the_template)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along dim (the smallest on a tie) and the last index where it occurs."""
    from .reduce import _return_type

    m = _ops()
    x = input.reshape(1) if input.ndim == 0 else input
    d = wrap_dim(dim, x.ndim)
    xm = x._data
    xp = xp_of(xm)
    moved = xp.moveaxis(xm, d, -1)
    n = moved.shape[-1]
    srt = xp.sort(moved, axis=-1)
    # run lengths in the sorted rows: the longest run (first one on a tie) is the mode
    same = xp.concatenate([xp.zeros(srt.shape[:-1] + (1,), bool), srt[..., 1:] == srt[..., :-1]], -1)
    run = xp.zeros(srt.shape, np.int64)
    for i in builtins_range(1, n):
        run[..., i] = xp.where(same[..., i], run[..., i - 1] + 1, 0)
    best = xp.argmax(run, axis=-1)[..., None]  # the end of the first longest run
    value = xp.take_along_axis(srt, best, -1)
    hits = moved == value
    last = n - 1 - xp.argmax(hits[..., ::-1], axis=-1)
    idx = Tensor._make(xp.moveaxis(last[..., None], -1, d).astype(np.int64))
    values = x.gather(d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    if input.ndim == 0:
        values, idx = values.reshape(()), idx.reshape(())
    return _return_type("mode", ["values", "indices"])(values, idx)


class IndexReduce(Function):
    """input with source's slices folded in at `index` along dim by prod / mean / amax / amin."""

    @staticmethod
    def forward(ctx, x, src, dim, index, reduce, include_self):
        xp = xp_of(x)
        key = (slice(None),) * dim + (index,)
        out = x.copy()
        hit = xp.zeros(x.shape[dim], bool)
        hit[index] = True
        hit = hit.reshape([-1 if i == dim else 1 for i in builtins_range(x.ndim)])
        if not include_self:
            identity = {"prod": 1, "mean": 0, "amax": -np.inf, "amin": np.inf}[reduce]
            out = xp.where(hit, xp.asarray(identity, dtype=x.dtype), out)
        ufunc = {"prod": xp.multiply, "mean": xp.add, "amax": xp.maximum, "amin": xp.minimum}[reduce]
        ufunc.at(out, key, src)
        if reduce == "prod":  # the product of the sources alone: self's gradient without dividing by self
            sources = xp.ones_like(x)
            xp.multiply.at(sources, key, src)
            ctx.sources = sources
        count = None
        if reduce == "mean":
            count = xp.zeros(x.shape[dim], x.dtype)
            xp.add.at(count, index, 1)
            count = count + (1 if include_self else 0)
            count = xp.maximum(count, 1).reshape([-1 if i == dim else 1 for i in builtins_range(x.ndim)])
            out = xp.where(hit, out / count, out)
        ctx.save_for_backward(x, src, out)
        ctx.meta = (key, dim, index, reduce, include_self, hit, count)
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        x, src, out = ctx.saved_tensors
        key, dim, index, reduce, include_self, hit, count = ctx.meta
        xp = xp_of(grad)
        keep_self = hit if not include_self else xp.zeros_like(hit)
        if reduce == "mean":
            g_self = xp.where(keep_self, 0, grad / xp.where(hit, count, 1))
            g_src = (grad / count)[key]
        elif reduce == "prod":
            with np.errstate(all="ignore"):
                g_self = xp.where(keep_self, 0, xp.where(hit, grad * ctx.sources, grad))
                g_src = xp.zeros_like(src)
                base = x if include_self else xp.ones_like(x)
                pre = (slice(None),) * dim
                for j in builtins_range(len(index)):  # product of everything else at that slot (zeros allowed)
                    others = xp.ones_like(x)
                    rest = np.delete(np.arange(len(index)), j)
                    xp.multiply.at(others, pre + (index[rest],), src[pre + (rest,)])
                    g_src[pre + (j,)] = (grad * base * others)[pre + (index[j],)]
        else:
            self_is = (x == out) & ~keep_self
            src_is = src == out[key]
            n = self_is.astype(grad.dtype)
            xp.add.at(n, key, src_is.astype(grad.dtype))
            share = grad / xp.maximum(n, 1)
            g_self = xp.where(self_is, share, 0)
            g_src = xp.where(src_is, share[key], 0)
        return g_self, g_src, None, None, None, None


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    x = input.reshape(1) if input.ndim == 0 else input
    src = source.reshape(1) if source.ndim == 0 else source
    d = wrap_dim(dim, x.ndim)
    idx = index._data.reshape(-1).astype(np.int64)
    out = IndexReduce.apply(x, src.to(x.dtype), d, idx, reduce, include_self)
    return out.reshape(()) if input.ndim == 0 else out

def hardshrink(self, lambd=0.5):
    return _ops().nn.functional.hardshrink(self, lambd)


def prelu(self, weight):
    return _ops().nn.functional.prelu(self, weight)


from .inplace import _random_inplace  # noqa: E402

tensor_methods(cauchy_=_random_inplace(_cauchy), geometric_=_random_inplace(_geometric),
               log_normal_=_random_inplace(_log_normal), sum_to_size=sum_to_size, histogram=histogram,
               new_empty_strided=_new_empty_strided, resize_=_resize_, resize_as_=_resize_as_, mode=mode,
               index_reduce=index_reduce)
tensor_methods(cross=cross, kron=kron, trace=trace, vdot=vdot, diagflat=diagflat, diff=diff, renorm=renorm,
               cummax=cummax, cummin=cummin, logcumsumexp=logcumsumexp, bincount=bincount, histc=histc,
               quantile=quantile, nanquantile=nanquantile, nanmedian=nanmedian, select_scatter=select_scatter,
               slice_scatter=slice_scatter, diagonal_scatter=diagonal_scatter, as_strided=as_strided,
               as_strided_scatter=as_strided_scatter,
               unfold=_unfold, split_with_sizes=split_with_sizes, unsafe_split=unsafe_split,
               unsafe_chunk=unsafe_chunk, dist=dist, cov=cov, corrcoef=corrcoef, hardshrink=hardshrink, prelu=prelu,
               narrow_copy=COPY_OPS["narrow_copy"])
public(meshgrid, cartesian_prod, combinations, vander, cdist, dist, cross, kron, block_diag, trace, vdot, diagflat, diff,
       trapezoid, trapz, cumulative_trapezoid, renorm, cov, corrcoef, cummax, cummin, logcumsumexp, bincount, histc,
       isin, quantile, nanquantile, nanmedian, tril_indices, triu_indices, select_scatter, slice_scatter,
       diagonal_scatter, as_strided, as_strided_scatter, fill, unravel_index, split_with_sizes, unsafe_split, unsafe_chunk,
       constant_pad_nd, empty_permuted, zero_, histogram, gradient, empty_strided, resize_as_, mode, index_reduce,
       **COPY_OPS)

from . import histogramdd as _histogramdd  # noqa: E402,F401  (registers torch.histogramdd)
