"""Reductions (sum, mean, var, max, norm, ...), scans (cumsum, cumprod) and softmax, forward and backward.

A reduction's backward broadcasts the (keepdim-shaped) gradient back over the reduced axes. On the CPU
`_unreduce` hands on a read-only broadcast view, as PyTorch hands on an expanded tensor: a backward that
passes it through (add, views, cat) or reads it (mul, relu) saves the pass over memory a copy costs, and a
leaf's gradient is filled from it once. The engine copies it for every other backward (stride-0 views send
numpy's matmul down a slow non-BLAS path, and some write to their gradient): see Function.broadcast_grads.
"""
import builtins
import collections
import math

import numpy as np

from .. import _dtype, cpu_kernels
from .._array import repeat_view, xp_of
from ..autograd.function import Function
from ..tensor import Tensor, wrap_dim
from ._registry import public, tensor_methods
from ._util import normalize_dims
from .elementwise import maximum, minimum



def _return_type(name, fields):
    """A namedtuple that prints like torch.return_types.<name>."""

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"mytorch.return_types.{name}(\n{body})"

    base = collections.namedtuple(name, fields)
    return type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__module__": "mytorch.return_types"})


MaxResult = _return_type("max", ["values", "indices"])
MinResult = _return_type("min", ["values", "indices"])
MedianResult = _return_type("median", ["values", "indices"])
AminmaxResult = _return_type("aminmax", ["min", "max"])

_LOW_PRECISION = ("float16", "bfloat16")


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _axes(ndim, dim):
    """dim None / () / [] -> every axis (PyTorch's full reduction); else sorted non-negative axes."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    axes = normalize_dims(dim, ndim)
    return axes if ndim else ()


def _numel(shape, axes):
    return math.prod(shape[a] for a in axes)


def _keep(arr, axes, keepdim):
    """A reduced array in keepdim form (size-1 axes where reduced)."""
    return arr if keepdim or not axes else xp_of(arr).expand_dims(arr, axes)


def _unreduce(grad, axes, keepdim, shape):
    """Broadcast a reduction's gradient back to the input shape (a view on the CPU, a copy on a GPU)."""
    xp = xp_of(grad)
    if xp is np and grad.size == 1:  # a full reduction's (loss.sum(), .mean())
        return repeat_view(grad, shape)
    view = xp.broadcast_to(_keep(grad, axes, keepdim), shape)
    return view if xp is np else view.copy()


def _keep_t(t, axes, keepdim):
    """_keep for a Tensor (a differentiable_backward's gradient): size-1 axes where reduced."""
    if keepdim:
        return t
    for a in axes:  # sorted, non-negative
        t = t.unsqueeze(a)
    return t


def _acc_dtype(x):
    """Accumulate float16/bfloat16 in float32, like PyTorch."""
    return np.float32 if x.dtype.name in _LOW_PRECISION else None


def _float_required(name, t):
    if t._data.dtype.kind not in "fcV":  # "V": ml_dtypes' bfloat16
        raise RuntimeError(f"{name}(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {_type_name(t)}")


_type_name = _dtype.type_name


def _cast(t, dtype):
    return t if dtype is None else t.to(_dtype.to_dtype(dtype))


def _check_nonempty(name, t, axes, dim_given):
    if t._data.size:
        return
    if not dim_given and name in ("argmax", "argmin"):
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
    if not dim_given:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                           f"reduction dim with the 'dim' argument.")
    for a in axes:
        if t._data.shape[a] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {a} to have non-zero size.")


def _even_split(x, out_keep, axes):
    """Where x equals the reduced value, 1/count of ties (amax/amin/median gradients)."""
    mask = x == out_keep
    count = mask.sum(axis=axes, keepdims=True)
    return mask / count


def _index_mask(shape, idx_keep, axis):
    """Boolean mask that is True at idx_keep (keepdim-shaped indices) along axis."""
    xp = xp_of(idx_keep)
    pos = xp.arange(shape[axis]).reshape((-1,) + (1,) * (len(shape) - axis - 1))
    return pos == idx_keep


# ---------------------------------------------------------------------------------------------
# sum / mean / var / std
# ---------------------------------------------------------------------------------------------
def _trailing(x, axes):
    """The compiled CPU sum applies: a large contiguous float32 array reduced over its last axes."""
    return bool(axes) and axes == tuple(range(x.ndim - len(axes), x.ndim)) and cpu_kernels.use(x)


def _cpu_sum(x, axes, keepdim, n=1):
    """sum (n = 1) or mean (n = count) over trailing axes, in x's dtype."""
    from ..cpu_kernels import reduce as cpu

    out = cpu.trailing_sum(x, len(axes))
    out = np.asarray(out / n if n != 1 else out, dtype=x.dtype)
    return np.expand_dims(out, axes) if keepdim else out


class Sum(Function):
    broadcast_grads = True

    @staticmethod
    def forward(ctx, x, axes, keepdim, out_dtype):
        ctx.meta = (x.shape, axes, keepdim)
        if out_dtype is None and _trailing(x, axes):
            return _cpu_sum(x, axes, keepdim)
        acc = _acc_dtype(x) or out_dtype
        out = x.sum(axis=axes, keepdims=keepdim, dtype=acc)
        return xp_of(x).asarray(out, dtype=out_dtype or x.dtype)

    @staticmethod
    def backward(ctx, grad):
        shape, axes, keepdim = ctx.meta
        return _unreduce(grad, axes, keepdim, shape), None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        shape, axes, keepdim = ctx.meta
        return _keep_t(grad, axes, keepdim).expand(shape), None, None, None


class Mean(Function):
    broadcast_grads = True

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        n = _numel(x.shape, axes)
        ctx.meta = (x.shape, axes, keepdim, n)
        if n and _trailing(x, axes):
            return _cpu_sum(x, axes, keepdim, n)
        total = x.sum(axis=axes, keepdims=keepdim, dtype=_acc_dtype(x))
        with np.errstate(invalid="ignore", divide="ignore"):
            return xp_of(x).asarray(total / n if n else total * np.nan, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        shape, axes, keepdim, n = ctx.meta
        return _unreduce(grad / n if n else grad, axes, keepdim, shape), None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        shape, axes, keepdim, n = ctx.meta
        return _keep_t(grad / n if n else grad, axes, keepdim).expand(shape), None, None


class Var(Function):
    """var = sum((x - mean)^2) / max(n - correction, 0); std = sqrt(var)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction, take_sqrt):
        xp = xp_of(x)
        xf = x.astype(np.float32) if _acc_dtype(x) else x
        n = _numel(x.shape, axes)
        mean = xf.mean(axis=axes, keepdims=True) if n else xp.full((1,) * x.ndim, np.nan, xf.dtype)
        centered = xf - mean
        denom = builtins.max(n - correction, 0)
        out_dtype = x.dtype
        if x.dtype.kind == "c":  # complex: the mean squared distance |x - mean|^2, a real result
            centered, out_dtype = centered.real, centered.real.dtype  # real part here, imaginary part below
            squares = centered * centered + (xf - mean).imag ** 2
        else:
            squares = centered * centered
        with np.errstate(invalid="ignore", divide="ignore"):
            out = squares.sum(axis=axes, keepdims=keepdim) / squares.dtype.type(denom)
        if take_sqrt:
            out = xp.sqrt(out)
        out = xp.asarray(out).astype(out_dtype, copy=False)  # an array (not a numpy scalar): the result is tracked
        ctx.save_for_backward(x, mean, out if take_sqrt else None)  # var's backward doesn't read its result
        ctx.meta = (axes, keepdim, denom, take_sqrt)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, mean, out = ctx.saved_tensors
        axes, keepdim, denom, take_sqrt = ctx.meta
        xp = xp_of(x)
        g = _keep(grad, axes, keepdim)
        if take_sqrt:  # d std = d var / (2 std); PyTorch sets it to 0 where std == 0
            std = _keep(out, axes, keepdim)
            with np.errstate(invalid="ignore", divide="ignore"):
                g = xp.where(std == 0, 0, g / (2 * std))
        with np.errstate(invalid="ignore", divide="ignore"):
            gx = (2.0 / denom if denom else np.inf) * g * (x - mean.astype(x.dtype, copy=False))
        return gx.astype(x.dtype, copy=False), None, None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, _, out = ctx.saved_tensors
        axes, keepdim, denom, take_sqrt = ctx.meta
        if x.is_complex():
            raise RuntimeError("the derivative of var/std of a complex tensor is not implemented for "
                               "create_graph=True")
        g = _keep_t(grad, axes, keepdim)
        if take_sqrt:
            std = _keep_t(out, axes, keepdim)
            g = (g / (2 * std)).masked_fill(std.detach() == 0, 0.0)
        centered = x - x.mean(axes, keepdim=True)  # the mean as a function of x: its derivative counts here
        return (2.0 / denom if denom else math.inf) * g * centered, None, None, None, None


class Std(Var):
    pass


def sum(input, dim=None, keepdim=False, *, dtype=None):
    if isinstance(dim, _dtype.dtype):  # sum(x, dtype) positional form
        dim, dtype = None, dim
    data = input._data
    out_dtype = _dtype.to_dtype(dtype).np if dtype is not None else (
        np.dtype(np.int64) if data.dtype.kind in "biu" else None)
    if out_dtype is not None and out_dtype != data.dtype and data.dtype.kind in "fc":
        input, out_dtype = input.to(_dtype.from_numpy_dtype(out_dtype)), None
    return Sum.apply(input, _axes(input.ndim, dim), bool(keepdim), out_dtype)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    if input._data.dtype.kind == "f":
        from .elementwise import where

        input = where(input.isnan(), 0.0, input)
    return sum(input, dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    input = _cast(input, dtype)
    _float_required("mean", input)
    return Mean.apply(input, _axes(input.ndim, dim), bool(keepdim))


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    input = _cast(input, dtype)
    _float_required("nanmean", input)
    count = sum((~input.isnan()), dim, keepdim)
    return nansum(input, dim, keepdim) / count


def _var_args(name, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # var(x, unbiased) legacy positional form
        dim, unbiased = None, dim
    if input._data.dtype.kind not in "fcV":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    elif unbiased is not None:
        raise RuntimeError(f"{name}: can't pass both unbiased and correction")
    return _axes(input.ndim, dim), bool(keepdim), correction


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    axes, keepdim, correction = _var_args("var", input, dim, unbiased, keepdim, correction)
    return Var.apply(input, axes, keepdim, correction, False)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    axes, keepdim, correction = _var_args("std", input, dim, unbiased, keepdim, correction)
    return Std.apply(input, axes, keepdim, correction, True)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(
        input, None if isinstance(dim, bool) else dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(
        input, None if isinstance(dim, bool) else dim, keepdim)


# ---------------------------------------------------------------------------------------------
# max / min family
# ---------------------------------------------------------------------------------------------
class AmaxAmin(Function):
    """amax/amin over axes; ties share the gradient evenly (as in PyTorch)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, is_max):
        out = x.max(axis=axes, keepdims=keepdim) if is_max else x.min(axis=axes, keepdims=keepdim)
        out = xp_of(x).asarray(out)
        ctx.save_for_backward(x, out)
        ctx.meta = (axes, keepdim)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        axes, keepdim = ctx.meta
        return _keep(grad, axes, keepdim) * _even_split(x, _keep(out, axes, keepdim), axes), None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, out = ctx.saved_tensors
        axes, keepdim = ctx.meta
        share = _even_split(x._data, _keep(out._data, axes, keepdim), axes)  # piecewise constant
        return _keep_t(grad, axes, keepdim) * Tensor._make(share), None, None, None


class Amax(AmaxAmin):
    pass


class Amin(AmaxAmin):
    pass


class SelectAlong(Function):
    """values = x[index] along one axis (max/min/median with dim): gradient flows to that index only."""

    @staticmethod
    def forward(ctx, x, idx_keep, axis, keepdim):
        xp = xp_of(x)
        out = xp.take_along_axis(x, idx_keep, axis)
        ctx.meta = (x.shape, idx_keep, axis, keepdim)
        return out if keepdim else out.squeeze(axis)

    @staticmethod
    def backward(ctx, grad):
        shape, idx_keep, axis, keepdim = ctx.meta
        g = grad if keepdim else xp_of(grad).expand_dims(grad, axis)
        zero = grad.dtype.type(0)
        return xp_of(grad).where(_index_mask(shape, idx_keep, axis), g, zero), None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        shape, idx_keep, axis, keepdim = ctx.meta
        g = grad if keepdim else grad.unsqueeze(axis)
        return g.expand(shape).masked_fill(Tensor._make(~_index_mask(shape, idx_keep, axis)), 0.0), None, None, \
            None


def _arg_extreme(data, axis, is_max):
    xp = xp_of(data)
    idx = xp.argmax(data, axis=axis) if is_max else xp.argmin(data, axis=axis)
    return idx.astype(np.int64, copy=False)


def _select(input, idx_keep, axis, keepdim):
    if input.ndim == 0:
        return input.clone()
    return SelectAlong.apply(input, idx_keep, axis, keepdim)


def _max_min(name, input, dim, keepdim, is_max, other):
    if isinstance(dim, Tensor):  # max(a, b): elementwise
        dim, other = None, dim
    if other is not None:
        return maximum(input, other) if is_max else minimum(input, other)
    if dim is None:
        _check_nonempty(name, input, (), False)
        return (Amax if is_max else Amin).apply(input, tuple(range(input.ndim)), False, is_max)
    axis = wrap_dim(dim, input.ndim)
    _check_nonempty(name, input, (axis,), True)
    if input.ndim == 0:
        idx = xp_of(input._data).zeros((), np.int64)
        return (MaxResult if is_max else MinResult)(input.clone(), Tensor._make(idx))
    idx_keep = xp_of(input._data).expand_dims(_arg_extreme(input._data, axis, is_max), axis)
    values = _select(input, idx_keep, axis, keepdim)
    idx = idx_keep if keepdim else idx_keep.squeeze(axis)
    return (MaxResult if is_max else MinResult)(values, Tensor._make(idx))


def max(input, dim=None, keepdim=False, *, other=None):
    return _max_min("max", input, dim, keepdim, True, other)


def min(input, dim=None, keepdim=False, *, other=None):
    return _max_min("min", input, dim, keepdim, False, other)


def amax(input, dim=(), keepdim=False):
    axes = _axes(input.ndim, dim)
    _check_nonempty("amax", input, axes, dim not in ((), [], None))
    return Amax.apply(input, axes, bool(keepdim), True)


def amin(input, dim=(), keepdim=False):
    axes = _axes(input.ndim, dim)
    _check_nonempty("amin", input, axes, dim not in ((), [], None))
    return Amin.apply(input, axes, bool(keepdim), False)


def aminmax(input, *, dim=None, keepdim=False):
    if dim is None and input._data.size == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity.")
    axes = _axes(input.ndim, dim)
    if dim is not None:
        _check_nonempty("aminmax", input, axes, True)
    return AminmaxResult(Amin.apply(input, axes, bool(keepdim), False),
                         Amax.apply(input, axes, bool(keepdim), True))


def _argmax_argmin(name, input, dim, keepdim, is_max):
    data = input._data
    if data.dtype == np.bool_:
        raise RuntimeError(f"{name}(): does not support bool input")
    xp = xp_of(data)
    if dim is None:
        _check_nonempty(name, input, (), False)
        idx = _arg_extreme(data.reshape(-1), 0, is_max)
        return Tensor._make(idx.reshape((1,) * data.ndim) if keepdim else idx)
    axis = wrap_dim(dim, data.ndim)
    _check_nonempty(name, input, (axis,), True)
    if data.ndim == 0:
        return Tensor._make(xp.zeros((), np.int64))
    idx = _arg_extreme(data, axis, is_max)
    return Tensor._make(xp.expand_dims(idx, axis) if keepdim else idx)


def argmax(input, dim=None, keepdim=False):
    return _argmax_argmin("argmax", input, dim, keepdim, True)


def argmin(input, dim=None, keepdim=False):
    return _argmax_argmin("argmin", input, dim, keepdim, False)


class MedianAll(Function):
    """Lower median of all elements (NaN if any is NaN); ties share the gradient evenly."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        flat = x.reshape(-1)
        k = (flat.size - 1) // 2
        out = xp.partition(flat, k)[k]
        if flat.dtype.kind == "f" and xp.isnan(flat).any():
            out = flat.dtype.type(np.nan)
        out = xp.asarray(out, dtype=x.dtype)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        return grad * _even_split(x, out, tuple(range(x.ndim)))

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, out = ctx.saved_tensors
        return grad * Tensor._make(_even_split(x._data, out._data, tuple(range(x.ndim))))


def median(input, dim=None, keepdim=False):
    if input._data.dtype == np.bool_ and input._data.size:
        raise NotImplementedError("\"median_cpu\" not implemented for 'Bool'")
    if dim is None:
        if input._data.size == 0:  # NaN, or what NaN converts to in an integer type (as PyTorch)
            kind = input._data.dtype.kind
            empty = True if kind == "b" else np.iinfo(input._data.dtype).min if kind in "iu" else np.nan
            return Tensor._make(xp_of(input._data).asarray(empty, dtype=input._data.dtype))
        return MedianAll.apply(input)
    axis = wrap_dim(dim, input.ndim)
    _check_nonempty("median", input, (axis,), True)
    data = input._data
    xp = xp_of(data)
    if data.ndim == 0:
        return MedianResult(input.clone(), Tensor._make(xp.zeros((), np.int64)))
    k = (data.shape[axis] - 1) // 2
    idx_keep = xp.argpartition(data, k, axis=axis)[(slice(None),) * axis + (slice(k, k + 1),)]
    if data.dtype.kind == "f":  # NaN propagates: point at the first NaN
        nan = xp.isnan(data)
        has_nan = nan.any(axis=axis, keepdims=True)
        idx_keep = xp.where(has_nan, xp.expand_dims(xp.argmax(nan, axis=axis), axis), idx_keep)
    idx_keep = idx_keep.astype(np.int64, copy=False)
    values = _select(input, idx_keep, axis, keepdim)
    return MedianResult(values, Tensor._make(idx_keep if keepdim else idx_keep.squeeze(axis)))


# ---------------------------------------------------------------------------------------------
# prod, cumsum, cumprod
# ---------------------------------------------------------------------------------------------
class Prod(Function):
    """Gradient of a product: out / x, with zeros handled (one zero: product of the others; more: 0)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp = xp_of(x)
        out = xp.asarray(x.prod(axis=axes, keepdims=keepdim, dtype=_acc_dtype(x)), dtype=x.dtype)
        ctx.save_for_backward(x, out)
        ctx.meta = (axes, keepdim)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        axes, keepdim = ctx.meta
        xp = xp_of(x)
        g = _keep(grad, axes, keepdim)
        is_zero = x == 0
        if not is_zero.any():
            d = _keep(out, axes, keepdim) / x
            return g * (xp.conj(d) if d.dtype.kind == "c" else d), None, None  # complex: grad * conj(derivative)
        zeros = is_zero.sum(axis=axes, keepdims=True)
        prod_nonzero = xp.where(is_zero, 1, x).prod(axis=axes, keepdims=True)
        gx = xp.where(zeros == 0, _keep(out, axes, keepdim) / xp.where(is_zero, 1, x),
                      xp.where((zeros == 1) & is_zero, prod_nonzero, 0))
        gx = xp.conj(gx) if gx.dtype.kind == "c" else gx
        return (g * gx).astype(x.dtype, copy=False), None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, out = ctx.saved_tensors
        axes, keepdim = ctx.meta
        if bool((x._data == 0).any()):
            raise RuntimeError("the derivative of prod over a zero is not implemented for create_graph=True")
        d = _keep_t(out, axes, keepdim) / x
        return _keep_t(grad, axes, keepdim) * (d.conj() if d.is_complex() else d), None, None


def prod(input, dim=None, keepdim=False, *, dtype=None):
    if isinstance(dim, _dtype.dtype):
        dim, dtype = None, dim
    if dtype is not None:
        input = _cast(input, dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(_dtype.int64)
    axes = tuple(range(input.ndim)) if dim is None else _axes(input.ndim, wrap_dim(dim, input.ndim))
    return Prod.apply(input, axes, bool(keepdim) and dim is not None)


def _rev_cumsum(a, axis):
    xp = xp_of(a)
    return xp.flip(xp.cumsum(xp.flip(a, axis), axis=axis), axis)


class Cumsum(Function):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return xp_of(x).cumsum(x, axis=axis, dtype=_acc_dtype(x)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return _rev_cumsum(grad, ctx.axis), None

    @staticmethod
    def differentiable_backward(ctx, grad):
        return grad.flip(ctx.axis).cumsum(ctx.axis).flip(ctx.axis), None


class Cumprod(Function):
    """d out_j / d x_k = out_j / x_k for j >= k. At the first zero z of a slice the gradient is
    sum_{j>=z} g_j * prod_{i<=j, i!=z} x_i; after it, zero."""

    @staticmethod
    def forward(ctx, x, axis):
        out = xp_of(x).cumprod(x, axis=axis, dtype=_acc_dtype(x)).astype(x.dtype, copy=False)
        ctx.save_for_backward(x, out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        axis = ctx.axis
        xp = xp_of(x)
        if x.dtype.kind == "c":  # every term is a product of x's: conjugate them all (grad * conj(derivative))
            x, out = xp.conj(x), xp.conj(out)
        is_zero = x == 0
        if not is_zero.any():
            return _rev_cumsum(grad * out, axis) / x, None
        seen = xp.cumsum(is_zero, axis=axis)
        before, first_zero = seen == 0, is_zero & (seen == 1)
        g_before = _rev_cumsum(grad * out, axis) / xp.where(before, x, 1)
        others = xp.cumprod(xp.where(first_zero, 1, x), axis=axis)  # product skipping the first zero
        g_zero = _rev_cumsum(grad * others, axis)
        return xp.where(before, g_before, xp.where(first_zero, g_zero, 0)).astype(x.dtype, copy=False), None

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, out = ctx.saved_tensors
        if bool((x._data == 0).any()):
            raise RuntimeError("the derivative of cumprod over a zero is not implemented for create_graph=True")
        if x.is_complex():
            x, out = x.conj(), out.conj()
        axis = ctx.axis
        return (grad * out).flip(axis).cumsum(axis).flip(axis) / x, None


def _scan(fn, input, dim, dtype):
    if dtype is not None:
        input = _cast(input, dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(_dtype.int64)
    axis = wrap_dim(dim, input.ndim)
    if input.ndim == 0:
        return fn.apply(input.reshape(1), 0).reshape(())
    return fn.apply(input, axis)


def cumsum(input, dim, *, dtype=None):
    return _scan(Cumsum, input, dim, dtype)


def cumprod(input, dim, *, dtype=None):
    return _scan(Cumprod, input, dim, dtype)


# ---------------------------------------------------------------------------------------------
# logsumexp, softmax, log_softmax
# ---------------------------------------------------------------------------------------------
def _stable_max(x, axes, keep_posinf=False):
    """The max used to shift exponentials; infinite maxima are replaced by 0 to avoid inf - inf.
    keep_posinf: softmax keeps a +inf max, so a row holding +inf is all nan, as in PyTorch."""
    xp = xp_of(x)
    m = x.max(axis=axes, keepdims=True) if x.size else xp.zeros((1,) * x.ndim, x.dtype)
    keep = xp.isfinite(m) | (m > 0) if keep_posinf else xp.isfinite(m)
    return xp.where(keep, m, 0).astype(x.dtype, copy=False)


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp = xp_of(x)
        m = _stable_max(x.real if x.dtype.kind == "c" else x, axes)  # complex: shift by the real parts (PyTorch)
        with np.errstate(divide="ignore"):
            out_keep = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        out = out_keep if keepdim else out_keep.squeeze(axes)
        ctx.save_for_backward(x, out)  # the returned array, so editing the result in place is caught
        ctx.meta = (axes, keepdim)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        axes, keepdim = ctx.meta
        out_keep = _keep(out, axes, keepdim)
        softmax = xp_of(x).exp(x - out_keep)
        if softmax.dtype.kind == "c":  # holomorphic: grad * conj(derivative)
            softmax = softmax.conj()
        return _keep(grad, axes, keepdim) * softmax, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, out = ctx.saved_tensors
        axes, keepdim = ctx.meta
        softmax = (x - _keep_t(out, axes, keepdim)).exp()
        return _keep_t(grad, axes, keepdim) * (softmax.conj() if softmax.is_complex() else softmax), None, None


class Softmax(Function):
    """fused=True (float16/32 only) runs the Triton row kernel (mytorch.kernels.softmax) on `axis` moved last."""

    @staticmethod
    def forward(ctx, x, axis, log, fused=False):
        xp = xp_of(x)
        ctx.fused = fused
        ctx.meta = (axis, log)
        if fused:
            from ..kernels import softmax as kernel

            out = xp.moveaxis(kernel.softmax_fwd(xp.moveaxis(x, axis, -1), log), -1, axis)
            ctx.save_for_backward(out)
            return out
        ctx.cpu = axis in (-1, x.ndim - 1) and cpu_kernels.use(x)
        if ctx.cpu:  # the compiled CPU body, one pass per row; None: a row without a finite max
            from ..cpu_kernels import softmax as cpu

            out = cpu.forward(x.reshape(-1, x.shape[-1]), log=log)
            ctx.cpu = out is not None
            if ctx.cpu:
                ctx.save_for_backward(out.reshape(x.shape))
                return out.reshape(x.shape)
        out = x - _stable_max(x, (axis,), keep_posinf=True)  # a fresh array: the steps below work in place on it
        if log:
            out -= xp.log(xp.exp(out).sum(axis=axis, keepdims=True))
        else:
            xp.exp(out, out=out)
            out /= out.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        axis, log = ctx.meta
        xp = xp_of(out)
        if ctx.fused:
            from ..kernels import softmax as kernel

            dx = kernel.softmax_bwd(xp.moveaxis(grad, axis, -1), xp.moveaxis(out, axis, -1), log)
            return xp.moveaxis(dx, -1, axis), None, None
        if ctx.cpu and type(grad) is np.ndarray and grad.dtype == out.dtype:
            from ..cpu_kernels import softmax as cpu

            n = out.shape[-1]
            return cpu.backward(np.ascontiguousarray(grad).reshape(-1, n), out.reshape(-1, n), log=log).reshape(
                out.shape), None, None
        if log:  # d log_softmax: g - softmax * sum(g)
            dx = xp.exp(out)
            dx *= grad.sum(axis=axis, keepdims=True)
            return xp.subtract(grad, dx, out=dx), None, None
        dx = grad * out  # d softmax: y * (g - sum(g * y))
        dx -= out * dx.sum(axis=axis, keepdims=True)
        return dx, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        (out,) = ctx.saved_tensors
        axis, log = ctx.meta
        if log:
            return grad - out.exp() * grad.sum(axis, keepdim=True), None, None
        dx = grad * out
        return dx - out * dx.sum(axis, keepdim=True), None, None


class LogSoftmax(Softmax):
    pass


def logsumexp(input, dim, keepdim=False):
    if input._data.dtype.kind in "biu":
        input = input.to(_dtype.get_default_dtype())
    return LogSumExp.apply(input, _axes(input.ndim, dim), bool(keepdim))


def _softmax(name, input, dim, dtype, log, fused=None):
    """fused: nn.functional's request for the Triton kernel (None: mytorch.backends.fused decides),
    honoured for float16/float32 inputs."""
    input = _cast(input, dtype)
    if input._data.dtype.kind not in "fcV":
        if input._data.size == 0:
            return input.clone()
        raise NotImplementedError(f"\"{name}_lastdim_kernel_impl\" not implemented for '{_type_name(input)}'")
    if input.ndim == 0:
        return _softmax(name, input.reshape(1), 0, None, log).reshape(())
    if fused is None:
        from .. import backends

        fused = backends.fused.use("softmax")
    fused = fused and input._data.dtype in (np.float16, np.float32)
    return (LogSoftmax if log else Softmax).apply(input, wrap_dim(dim, input.ndim), log, fused=fused)


def softmax(input, dim, dtype=None):
    return _softmax("softmax", input, dim, dtype, False)


def log_softmax(input, dim, dtype=None):
    return _softmax("log_softmax", input, dim, dtype, True)


# ---------------------------------------------------------------------------------------------
# norms
# ---------------------------------------------------------------------------------------------
class VectorNorm(Function):
    """||x||_p over axes. Gradients: p=2 x/||x||, p=1 sign(x), inf ties split evenly, general
    sign(x)|x|^(p-1)/||x||^(p-1); zero where the norm is zero (PyTorch's subgradient)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, p):
        xp = xp_of(x)
        a = xp.abs(x)
        if p == 2:
            out = xp.sqrt((x * x).sum(axis=axes, keepdims=keepdim))
        elif p == 1:
            out = a.sum(axis=axes, keepdims=keepdim)
        elif p == math.inf:
            out = a.max(axis=axes, keepdims=keepdim) if x.size else xp.zeros(_reduced(x, axes, keepdim), x.dtype)
        elif p == -math.inf:
            out = a.min(axis=axes, keepdims=keepdim)
        elif p == 0:
            out = (x != 0).sum(axis=axes, keepdims=keepdim)
        else:
            out = (a ** p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)
        out = xp.asarray(out, dtype=x.dtype)
        ctx.save_for_backward(x, out)
        ctx.meta = (axes, keepdim, p)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        axes, keepdim, p = ctx.meta
        xp = xp_of(x)
        g, norm = _keep(grad, axes, keepdim), _keep(out, axes, keepdim)
        if p == 0:
            return xp.zeros_like(x), None, None, None
        if p == 1:
            return g * xp.sign(x), None, None, None
        with np.errstate(invalid="ignore", divide="ignore"):
            if p == 2:
                gx = x * xp.where(norm == 0, 0, g / norm)
            elif abs(p) == math.inf:
                gx = g * xp.sign(x) * _even_split(xp.abs(x), norm, axes)
            else:
                scale = xp.where(norm == 0, 0, g / norm ** (p - 1))
                gx = xp.where(x == 0, 0, xp.sign(x) * xp.abs(x) ** (p - 1) * scale)
        return gx.astype(x.dtype, copy=False), None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, out = ctx.saved_tensors
        axes, keepdim, p = ctx.meta
        g, norm = _keep_t(grad, axes, keepdim), _keep_t(out, axes, keepdim)
        zero = norm.detach() == 0
        if p == 0:
            return x * 0, None, None, None
        if p == 1:
            return g * x.sign(), None, None, None
        if p == 2:
            return x * (g / norm).masked_fill(zero, 0.0), None, None, None
        if abs(p) == math.inf:
            share = _even_split(xp_of(x._data).abs(x._data), norm._data, axes)
            return g * x.sign() * Tensor._make(share), None, None, None
        scale = (g / norm ** (p - 1)).masked_fill(zero, 0.0)
        return (x.sign() * x.abs() ** (p - 1) * scale).masked_fill(x.detach() == 0, 0.0), None, None, None


def _reduced(x, axes, keepdim):
    return tuple(1 if i in axes else n for i, n in enumerate(x.shape) if keepdim or i not in axes)


class NuclearNorm(Function):
    """Sum of singular values over the last two axes; gradient U V^T."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        u, s, vh = xp.linalg.svd(x, full_matrices=False)
        ctx.save_for_backward(u, vh)
        return s.sum(axis=-1).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        u, vh = ctx.saved_tensors
        return grad[..., None, None] * (u @ vh)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    input = _cast(input, dtype)
    if input._data.dtype.kind not in "fcV":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_type_name(input)}")
    if isinstance(dim, (int, np.integer)):
        dim = (dim,)
    if input._data.dtype.kind == "c" and p != "nuc":  # a norm of the magnitudes (abs carries the gradient)
        input = input.abs()
    if p == "nuc":
        axes = _axes(input.ndim, dim)
        if len(axes) != 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, axes))}")
        from .shape import movedim

        out = NuclearNorm.apply(movedim(input, axes, (-2, -1)))
        if keepdim:
            out = out.reshape(tuple(1 if i in axes else n for i, n in enumerate(input.shape)))
        return out
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str):
        raise RuntimeError(f"norm(): unsupported p={p!r}; use a number, 'fro' or 'nuc'")
    return VectorNorm.apply(input, _axes(input.ndim, dim), bool(keepdim), float(p))


# ---------------------------------------------------------------------------------------------
# logical reductions
# ---------------------------------------------------------------------------------------------
def _logical_reduce(name, input, dim, keepdim):
    data = input._data
    axes = _axes(data.ndim, dim)
    out = getattr(data, name)(axis=axes, keepdims=bool(keepdim))
    out = xp_of(data).asarray(out)
    return Tensor._make(out.astype(np.uint8) if data.dtype == np.uint8 else out)


def all(input, dim=None, keepdim=False):
    return _logical_reduce("all", input, dim, keepdim)


def any(input, dim=None, keepdim=False):
    return _logical_reduce("any", input, dim, keepdim)


def count_nonzero(input, dim=None):
    data = input._data
    out = (data != 0).sum(axis=_axes(data.ndim, dim), dtype=np.int64)
    return Tensor._make(xp_of(data).asarray(out))


# ---------------------------------------------------------------------------------------------
# Tensor methods and public names
# ---------------------------------------------------------------------------------------------
def _max_method(self, dim=None, keepdim=False):
    return max(self, dim, keepdim)


def _min_method(self, dim=None, keepdim=False):
    return min(self, dim, keepdim)


def _inplace_scan(fn):
    def method(self, dim, *, dtype=None):
        from .inplace import apply_inplace

        return apply_inplace(self, fn, dim, dtype=dtype)

    method.__name__ = fn.__name__ + "_"
    return method


tensor_methods(
    sum=sum, nansum=nansum, mean=mean, nanmean=nanmean, var=var, std=std, max=_max_method, min=_min_method,
    amax=amax, amin=amin, aminmax=aminmax, argmax=argmax, argmin=argmin, median=median, prod=prod,
    cumsum=cumsum, cumprod=cumprod, cumsum_=_inplace_scan(cumsum), cumprod_=_inplace_scan(cumprod),
    logsumexp=logsumexp, softmax=softmax, log_softmax=log_softmax, norm=norm, all=all, any=any,
    count_nonzero=count_nonzero,
)

public(sum, nansum, mean, nanmean, var, std, var_mean, std_mean, max, min, amax, amin, aminmax, argmax, argmin,
       median, prod, cumsum, cumprod, logsumexp, softmax, log_softmax, norm, all, any, count_nonzero)
