"""Indexing ops: tensor[...] (read and write), gather/scatter, index_*, masked_*, sort/topk, unique,
searchsorted. Forward and backward together, on raw arrays.

Backward of a read is a scatter-add of the gradient (`add_at`), so repeated indices accumulate;
where the positions are known to be distinct (slices, masks, permutations) a plain assignment does.
"""
import collections
import math

import numpy as np

from .._array import xp_of
from ..autograd import grad_mode
from ..autograd.function import Function
from ..tensor import Tensor, wrap_dim
from ._registry import public, tensor_methods
from .inplace import _check_leaf, apply_inplace, check_no_overlap


def add_at(out, key, values):
    """out[key] += values, accumulating over repeated indices (numpy and cupy)."""
    if type(out) is np.ndarray:
        np.add.at(out, key, values)
    else:
        import cupyx

        cupyx.scatter_add(out, key, values)


def _along(index, dim):
    """Index tuple selecting out[i, j, ..., index[i, j, ...], ...] (gather/scatter addressing)."""
    xp = xp_of(index)
    nd = index.ndim
    return tuple(index if d == dim else xp.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
                 for d, n in enumerate(index.shape))


def _as_index_array(idx, xp, what="index"):
    arr = idx._data if isinstance(idx, Tensor) else xp.asarray(idx)
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"{what}(): Expected dtype int64 for index")
    return arr


# ---------------------------------------------------------------------------------------------
# tensor[key]
# ---------------------------------------------------------------------------------------------
def _prepare_key(x, key):
    """Validate `key` like PyTorch and turn it into a numpy key. Returns (key, advanced, unique):
    advanced -> numpy will copy; unique -> no position is addressed twice (safe to assign)."""
    xp = xp_of(x._data)
    if not isinstance(key, tuple):
        key = (key,)
    items = []
    for k in key:
        if isinstance(k, Tensor):
            arr = k._data
            if arr.dtype == np.uint8:
                arr = arr.astype(bool)
            if arr.dtype.kind not in "biu":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            items.append(arr if xp is xp_of(arr) else xp.asarray(arr))
        elif isinstance(k, (bool, np.bool_)):
            items.append(xp.asarray(bool(k)))
        elif k is None or k is Ellipsis or isinstance(k, (int, np.integer)):
            items.append(k)
        elif isinstance(k, slice):
            items.append(slice(*(int(v) if isinstance(v, Tensor) else v for v in (k.start, k.stop, k.step))))
            if items[-1].step is not None and items[-1].step <= 0:
                raise ValueError("step must be greater than zero")
        elif isinstance(k, (list, np.ndarray)):
            arr = np.asarray([int(v) if isinstance(v, Tensor) else v for v in k] if isinstance(k, list) else k)
            if arr.size == 0:
                arr = arr.astype(np.int64)
            if arr.dtype.kind not in "biu":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            items.append(arr if xp is np else xp.asarray(arr))
        else:
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                             f"are valid indices (got {type(k).__name__})")

    def consumed(k):
        if k is None or k is Ellipsis:
            return 0
        if hasattr(k, "dtype") and k.dtype == np.bool_:
            return k.ndim
        return 1

    shape = x._data.shape
    used = sum(consumed(k) for k in items)
    if used > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    out, dim, advanced, has_int_array = [], 0, False, False
    for k in items:
        if k is Ellipsis:
            dim += len(shape) - used
        elif k is None:
            pass
        elif isinstance(k, (int, np.integer)):
            n = shape[dim]
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of bounds for dimension {dim} with size {n}")
            dim += 1
        elif isinstance(k, slice):
            dim += 1
        elif k.dtype == np.bool_:
            if k.ndim == 0:
                k = None if bool(k) else k  # x[True] adds a dim; x[False] selects nothing
                out.append(k)
                advanced |= k is not None
                continue
            for j, n in enumerate(k.shape):
                if shape[dim + j] != n:
                    raise IndexError(f"The shape of the mask {list(k.shape)} at index {j} does not match the "
                                     f"shape of the indexed tensor {list(shape)} at index {dim + j}")
            out.extend(k.nonzero())  # a mask is the tuple of its nonzero coordinates
            dim += k.ndim
            advanced = True
            continue
        else:
            n = shape[dim]
            if k.size:
                lo, hi = int(k.min()), int(k.max())
                if lo < -n or hi >= n:
                    raise IndexError(f"index {hi if hi >= n else lo} is out of bounds for dimension {dim} "
                                     f"with size {n}")
            dim += 1
            advanced = has_int_array = True
        out.append(k)
    if not advanced and Ellipsis not in items:
        out.append(Ellipsis)  # keeps x[0] a 0-d view rather than a numpy scalar
    return tuple(out), advanced, not has_int_array


def scatter_into(grad, shape, key, accumulate=False):
    """A Tensor of zeros shaped `shape` with grad put at (or added into) key: an indexing op's gradient as a
    recorded op (its own gradient is grad's indexing again: higher-order derivatives)."""
    return IndexPut.apply(grad.new_zeros(shape), grad, key, accumulate)


def take_key(t, key):
    """t[key] for a numpy-style key, recorded: a view for a basic key, else a gather (whose gradient adds up
    repeated positions)."""
    if all(isinstance(k, (int, slice, type(None), type(Ellipsis))) for k in key):
        return BasicIndex.apply(t, key)
    return AdvancedIndex.apply(t, key, False)


class BasicIndex(Function):
    broadcast_grads = True
    is_view = True

    @staticmethod
    def forward(ctx, x, key):
        ctx.in_shape, ctx.key = x.shape, key
        return x[key]

    @staticmethod
    def backward(ctx, grad):
        out = xp_of(grad).zeros(ctx.in_shape, grad.dtype)
        out[ctx.key] = grad
        return out, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        return scatter_into(grad, ctx.in_shape, ctx.key), None


class AdvancedIndex(Function):
    @staticmethod
    def forward(ctx, x, key, unique):
        ctx.in_shape, ctx.key, ctx.unique = x.shape, key, unique
        return x[key]

    @staticmethod
    def backward(ctx, grad):
        out = xp_of(grad).zeros(ctx.in_shape, grad.dtype)
        if ctx.unique:
            out[ctx.key] = grad
        else:
            add_at(out, ctx.key, grad)
        return out, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        return scatter_into(grad, ctx.in_shape, ctx.key, accumulate=not ctx.unique), None, None


_PLAIN = (int, type(None))


def _basic_key(x, key):
    """The numpy key for the common case, in a few checks: a key of Python ints within range, slices of ints
    and None with a positive step, and None; else None, and _prepare_key sees to the key."""
    items = key if type(key) is tuple else (key,)
    shape = x._data.shape
    dim = 0
    for k in items:
        t = type(k)
        if t is slice:
            if type(k.start) not in _PLAIN or type(k.stop) not in _PLAIN or type(k.step) not in _PLAIN or (
                    k.step is not None and k.step <= 0):
                return None
        elif t is int:
            if dim >= len(shape) or not -shape[dim] <= k < shape[dim]:
                return None
        elif k is None:
            continue
        else:
            return None
        dim += 1
    if dim > len(shape):
        return None
    return items + (Ellipsis,)  # keeps x[0] a 0-d view rather than a numpy scalar


def getitem(self, key):
    basic = _basic_key(self, key)
    if basic is not None:
        return BasicIndex.apply(self, basic)
    key, advanced, unique = _prepare_key(self, key)
    return AdvancedIndex.apply(self, key, unique) if advanced else BasicIndex.apply(self, key)


class IndexPut(Function):
    """out = x with out[key] = value (or += value when accumulating)."""

    @staticmethod
    def forward(ctx, x, value, key, accumulate):
        ctx.key, ctx.accumulate, ctx.value_shape = key, accumulate, value.shape
        out = x.copy()
        if accumulate:
            add_at(out, key, xp_of(x).broadcast_to(value.astype(x.dtype, copy=False), out[key].shape))
        else:
            out[key] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        key = ctx.key
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = grad
            if not ctx.accumulate:
                gx = grad.copy()
                gx[key] = 0
        if ctx.needs_input_grad[1]:
            gv = grad[key]
            extra = len(ctx.value_shape) - gv.ndim
            if extra > 0:  # value had extra leading 1s, which numpy's assignment drops
                gv = gv.reshape((1,) * extra + gv.shape)
        return gx, gv, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        key = ctx.key
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = grad if ctx.accumulate else IndexPut.apply(grad, grad.new_zeros(()), key, False)
        if ctx.needs_input_grad[1]:
            gv = take_key(grad, key)
            extra = len(ctx.value_shape) - gv.ndim
            if extra > 0:
                gv = gv.reshape((1,) * extra + tuple(gv.shape))
        return gx, gv, None, None


def _index_put_op(x, key, value, accumulate=False):
    return IndexPut.apply(x, value, key, accumulate)


def _value_tensor(value, like):
    if isinstance(value, Tensor):
        if value.device != like.device:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{value.device} and {like.device}!")
        return value
    return Tensor._make(xp_of(like._data).asarray(value, dtype=like._data.dtype))


def setitem(self, key, value):
    value_grad = isinstance(value, Tensor) and value._requires_grad
    recording = grad_mode.is_grad_enabled() and (self._requires_grad or value_grad)
    np_key, _, _ = _prepare_key(self, key)
    if not recording:  # plain write into our storage: no copy of the whole tensor
        _check_leaf(self)
        if 0 in self._data.strides:  # an expanded tensor: a view into it is written elementwise, as copy_
            dst = self._data[np_key]
            if xp_of(self._data).may_share_memory(dst, self._data):
                check_no_overlap(dst)
        self._data[np_key] = value._data if isinstance(value, Tensor) else value
        self._version.value += 1
        return
    apply_inplace(self, _index_put_op, np_key, _value_tensor(value, self))


def index_put(input, indices, values, accumulate=False):
    key, _, _ = _prepare_key(input, tuple(indices))
    return IndexPut.apply(input, _value_tensor(values, input), key, accumulate)


def index_put_(self, indices, values, accumulate=False):
    key, _, _ = _prepare_key(self, tuple(indices))
    return apply_inplace(self, _index_put_op, key, _value_tensor(values, self), accumulate)


# ---------------------------------------------------------------------------------------------
# gather / scatter
# ---------------------------------------------------------------------------------------------
class Gather(Function):
    """out = x[along(index, dim)]; `unique`: positions are distinct (sort/topk), assignment suffices."""

    @staticmethod
    def forward(ctx, x, dim, index, unique=False):
        ctx.in_shape, ctx.key, ctx.unique = x.shape, _along(index, dim), unique
        if not unique:
            ctx.save_for_backward(x)  # unread, but PyTorch's gather keeps its input: editing it is an error
        return x[ctx.key]

    @staticmethod
    def backward(ctx, grad):
        ctx.saved_tensors  # the version check
        out = xp_of(grad).zeros(ctx.in_shape, grad.dtype)
        if ctx.unique:
            out[ctx.key] = grad
        else:
            add_at(out, ctx.key, grad)
        return out, None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        return scatter_into(grad, ctx.in_shape, ctx.key, accumulate=not ctx.unique), None, None, None


def _check_gather_index(op, x, dim, index, src=None):
    if index.ndim != x.ndim and not (index.ndim <= 1 and x.ndim <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as input tensor")
    for d in range(index.ndim):
        if d != dim and index.shape[d] > (x.shape[d] if x.ndim else 1):
            raise RuntimeError(f"Size does not match at dimension {d} expected index {list(index.shape)} to be "
                               f"no larger than self {list(x.shape)} apart from dimension {dim}")
        if src is not None and index.shape[d] > src.shape[d]:
            raise RuntimeError(f"Size does not match at dimension {d} expected index {list(index.shape)} to be "
                               f"no larger than src {list(src.shape)}")
    n = x.shape[dim] if x.ndim else 1
    if index.size:
        lo, hi = int(index.min()), int(index.max())
        if lo < 0 or hi >= n:
            raise RuntimeError(f"index {hi if hi >= n else lo} is out of bounds for dimension {dim} with size {n}")


def gather(input, dim, index, *, sparse_grad=False):
    d = wrap_dim(dim, input.ndim)
    idx = _as_index_array(index, xp_of(input._data), "gather")
    if idx.size == 0:  # PyTorch checks nothing else for an empty index: the result has its shape
        return input.reshape(-1)[:0].reshape(idx.shape)
    if idx.dtype not in (np.int32, np.int64):
        raise RuntimeError("gather(): Expected dtype int32/int64 for index")
    _check_gather_index("gather", input, d, idx)
    if input.ndim == 0:
        return Gather.apply(input.reshape(1), 0, idx.reshape(-1)).reshape(idx.shape)
    return Gather.apply(input, d, idx)


class Scatter(Function):
    """out = x with out[along(index)] = src (reduce None), += src ('add'/'sum') or *= src ('multiply')."""

    @staticmethod
    def forward(ctx, x, src, dim, index, reduce):
        key = _along(index, dim)
        ctx.key, ctx.reduce, ctx.index_shape = key, reduce, index.shape
        xp = xp_of(x)
        if isinstance(src, np.ndarray) or not np.isscalar(src):
            ctx.src_shape = src.shape
            vals = src[tuple(slice(0, n) for n in index.shape)].astype(x.dtype, copy=False)
        else:
            ctx.src_shape = None
            vals = xp.asarray(src, dtype=x.dtype)
        out = x.copy()
        if reduce is None:
            out[key] = vals
        elif reduce in ("add", "sum"):  # "sum": scatter_add, which has a derivative
            add_at(out, key, xp.broadcast_to(vals, index.shape))
        else:
            xp.multiply.at(out, key, xp.broadcast_to(vals, index.shape))
        return out

    @staticmethod
    def differentiable_backward(ctx, grad):
        if ctx.reduce in ("add", "multiply"):
            raise RuntimeError("derivative for aten::scatter is not implemented")
        key = ctx.key
        gx = grad if ctx.reduce is not None else IndexPut.apply(grad, grad.new_zeros(()), key, False)
        gsrc = None
        if ctx.needs_input_grad[1] and ctx.src_shape is not None:
            gsrc = scatter_into(take_key(grad, key), ctx.src_shape, tuple(slice(0, n) for n in ctx.index_shape))
        return gx, gsrc, None, None, None

    @staticmethod
    def backward(ctx, grad):
        if ctx.reduce in ("add", "multiply"):  # PyTorch defines no derivative for scatter(reduce=...)
            raise RuntimeError("derivative for aten::scatter is not implemented")
        key = ctx.key
        gx = grad
        if ctx.reduce is None:
            gx = xp_of(grad).array(grad)  # a copy that stays an array for 0-d grads (numpy scalars)
            gx[key] = 0
        gsrc = None
        if ctx.needs_input_grad[1] and ctx.src_shape is not None:
            gsrc = xp_of(grad).zeros(ctx.src_shape, grad.dtype)
            gsrc[tuple(slice(0, n) for n in ctx.index_shape)] = grad[key]
        return gx, gsrc, None, None, None


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    if src is None:
        src = value
    if reduce not in (None, "add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    d = wrap_dim(dim, input.ndim)
    idx = _as_index_array(index, xp_of(input._data), "scatter")
    _check_gather_index("scatter", input, d, idx, src if isinstance(src, Tensor) else None)
    if isinstance(src, Tensor) and src.dtype != input.dtype:
        raise RuntimeError(f"scatter(): Expected self.dtype to be equal to src.dtype")
    return Scatter.apply(input, src, d, idx, reduce)


def scatter_add(input, dim, index, src):
    d = wrap_dim(dim, input.ndim)
    idx = _as_index_array(index, xp_of(input._data), "scatter_add")
    _check_gather_index("scatter_add", input, d, idx, src)
    return Scatter.apply(input, src, d, idx, "sum")


class ScatterReduce(Function):
    @staticmethod
    def forward(ctx, x, src, dim, index, reduce, include_self):
        xp = xp_of(x)
        key = _along(index, dim)
        vals = src[tuple(slice(0, n) for n in index.shape)]
        touched = xp.zeros(x.shape, bool)
        touched[key] = True
        out = x.copy()
        if not include_self:
            ident = {"sum": 0, "mean": 0, "prod": 1}.get(reduce)
            if ident is None:
                info = xp.finfo(x.dtype) if x.dtype.kind == "f" else xp.iinfo(x.dtype)
                ident = info.min if reduce == "amax" else info.max
            out[touched] = ident
        ufunc = {"sum": xp.add, "mean": xp.add, "prod": xp.multiply, "amax": xp.maximum, "amin": xp.minimum}[reduce]
        if reduce in ("sum", "mean"):
            add_at(out, key, vals)
        else:
            ufunc.at(out, key, vals)
        count = xp.zeros(x.shape, x.dtype)
        add_at(count, key, xp.ones(index.shape, x.dtype))
        if include_self:
            count += 1
        if reduce == "mean":
            safe = xp.maximum(count, 1)
            out = out // safe if x.dtype.kind in "iu" else out / safe
            out = xp.where(touched, out, x).astype(x.dtype, copy=False)
        ctx.save_for_backward(x, vals, out, touched, count)
        ctx.args = (key, reduce, include_self, src.shape, index.shape)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, vals, out, touched, count = ctx.saved_tensors
        key, reduce, include_self, src_shape, index_shape = ctx.args
        xp = xp_of(grad)
        if reduce in ("sum", "mean"):
            g = grad / xp.maximum(count, 1) if reduce == "mean" else grad
            g = xp.where(touched, g, grad)
            gx, gv = g, g[key]
        elif reduce in ("amax", "amin"):
            # ties share the gradient evenly, as PyTorch does (which counts a tying self value even
            # when include_self=False)
            hit_x = (x == out) & touched
            hit_v = vals == out[key]
            ties = hit_x.astype(grad.dtype)
            add_at(ties, key, hit_v.astype(grad.dtype))
            share = grad / xp.maximum(ties, 1)
            gx = xp.where(touched, share * hit_x, grad)
            gv = share[key] * hit_v
        else:  # prod: d/de of a product = product of the other factors (zeros handled exactly)
            nz_prod = xp.where(x == 0, 1, x) if include_self else xp.ones(x.shape, x.dtype)
            xp.multiply.at(nz_prod, key, xp.where(vals == 0, 1, vals))
            zeros = ((x == 0) & touched).astype(np.int64) if include_self else xp.zeros(x.shape, np.int64)
            add_at(zeros, key, (vals == 0).astype(np.int64))

            def others(e, p, z):
                return xp.where(z == 0, p / xp.where(e == 0, 1, e), xp.where((z == 1) & (e == 0), p, 0))

            gx = xp.where(touched, grad * others(x, nz_prod, zeros), grad)
            gv = grad[key] * others(vals, nz_prod[key], zeros[key])
        if not include_self:
            gx = xp.where(touched, 0, gx)
        gsrc = xp.zeros(src_shape, grad.dtype)
        gsrc[tuple(slice(0, n) for n in index_shape)] = gv
        return gx, gsrc, None, None, None, None


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    d = wrap_dim(dim, input.ndim)
    idx = _as_index_array(index, xp_of(input._data), "scatter_reduce")
    _check_gather_index("scatter_reduce", input, d, idx, src)
    return ScatterReduce.apply(input, src, d, idx, reduce, include_self)


# ---------------------------------------------------------------------------------------------
# index_* along one dim with a 1-D index
# ---------------------------------------------------------------------------------------------
def _dim_index(op, x, dim, index):
    d = wrap_dim(dim, x.ndim)
    idx = _as_index_array(index, xp_of(x._data), op)
    if idx.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    idx = idx.reshape(-1)
    n = x.shape[d] if x.ndim else 1
    # PyTorch wraps negative indices only in index_fill; the others refuse them
    low = -n if op == "index_fill" else 0
    if idx.size and (int(idx.min()) < low or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < low else int(idx.max())
        if op == "index_select":
            raise IndexError("index out of range in self")
        err = RuntimeError if op == "index_add" else IndexError
        raise err(f"{op}(): index {bad} is out of bounds for dimension {d} with size {n}")
    return d, idx


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.in_shape, ctx.key = x.shape, (slice(None),) * dim + (index,)
        return xp_of(x).take(x, index, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        out = xp_of(grad).zeros(ctx.in_shape, grad.dtype)
        add_at(out, ctx.key, grad)
        return out, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        return scatter_into(grad, ctx.in_shape, ctx.key, accumulate=True), None, None


class IndexUpdate(Function):
    """x with x[..., index, ...] (on dim) replaced by ('copy'), increased by ('add') or filled with source."""

    @staticmethod
    def forward(ctx, x, source, dim, index, mode, alpha=1):
        key = (slice(None),) * dim + (index,)
        ctx.key, ctx.mode, ctx.alpha = key, mode, alpha
        out = x.copy()
        if mode == "add":
            add_at(out, key, source * alpha if alpha != 1 else source)
        else:  # copy / fill
            out[key] = source
        return out

    @staticmethod
    def backward(ctx, grad):
        key, mode = ctx.key, ctx.mode
        gx = grad
        if mode != "add":
            gx = grad.copy()
            gx[key] = 0
        gs = None
        if ctx.needs_input_grad[1]:
            gs = grad[key]
            if mode == "add" and ctx.alpha != 1:
                gs = gs * ctx.alpha
            elif mode == "fill":
                gs = (grad - gx).sum()  # each filled position once, even for a repeated index
        return gx, gs, None, None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        key, mode = ctx.key, ctx.mode
        gx = grad if mode == "add" else IndexPut.apply(grad, grad.new_zeros(()), key, False)
        gs = None
        if ctx.needs_input_grad[1]:
            gs = take_key(grad, key)
            if mode == "add" and ctx.alpha != 1:
                gs = gs * ctx.alpha
            elif mode == "fill":
                gs = (grad - gx).sum()
        return gx, gs, None, None, None, None


def index_select(input, dim, index):
    if input.ndim > 1 and input.shape[wrap_dim(dim, input.ndim)] == 0 and isinstance(index, Tensor) and index.numel():
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    d, idx = _dim_index("index_select", input, dim, index)
    if input.ndim == 0:
        return IndexSelect.apply(input.reshape(1), 0, idx).reshape(())
    return IndexSelect.apply(input, d, idx)


def _check_source(op, input, d, idx, source):
    """index_add / index_copy: source is input's shape with len(index) along d (PyTorch's messages)."""
    if input.ndim == 0 or source.ndim == 0:
        return
    if source.ndim != input.ndim or any(a != b for i, (a, b) in enumerate(zip(source.shape, input.shape)) if i != d):
        if op == "index_copy":
            i = next((i for i, (a, b) in enumerate(zip(source.shape, input.shape)) if i != d and a != b), 0)
            raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice shapes. Destination "
                               f"slice shape: {input.shape[i]} at dimension {i} and source slice shape: "
                               f"{source.shape[i] if i < source.ndim else 1} at dimension {i}.")
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the specified dimension. "
                           f"Got self.shape = {list(input.shape)} source.shape = {list(source.shape)}")
    if source.shape[d] != len(idx):
        raise RuntimeError(f"{op}_(): Number of indices ({len(idx)}) should be equal to source.size(dim): "
                           f"({source.shape[d]}), for dim: {d}")


def index_add(input, dim, index, source, *, alpha=1):
    d, idx = _dim_index("index_add", input, dim, index)
    _check_source("index_add", input, d, idx, source)
    if input.ndim == 0:  # a 0-d tensor acts as one element along dim 0
        return IndexUpdate.apply(input.reshape(1), source.reshape(-1), 0, idx, "add", alpha).reshape(())
    return IndexUpdate.apply(input, source, d, idx, "add", alpha)


def index_copy(input, dim, index, source):
    d, idx = _dim_index("index_copy", input, dim, index)
    _check_source("index_copy", input, d, idx, source)
    if input.ndim == 0:
        return IndexUpdate.apply(input.reshape(1), source.reshape(-1), 0, idx, "copy").reshape(())
    return IndexUpdate.apply(input, source, d, idx, "copy")


def index_fill(input, dim, index, value):
    d, idx = _dim_index("index_fill", input, dim, index)
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value.ndim} dimension(s).")
    if input.ndim == 0:
        return IndexUpdate.apply(input.reshape(1), value, 0, idx, "fill").reshape(())
    return IndexUpdate.apply(input, value, d, idx, "fill")


# ---------------------------------------------------------------------------------------------
# masks, take, put
# ---------------------------------------------------------------------------------------------
class MaskedFill(Function):
    @staticmethod
    def forward(ctx, x, mask, value):
        xp = xp_of(x)
        ctx.save_for_backward(mask)
        return xp.where(mask, xp.asarray(value, dtype=x.dtype), x)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        xp = xp_of(grad)
        zero = grad.dtype.type(0)
        gv = xp.where(mask, grad, zero).sum() if ctx.needs_input_grad[2] else None
        return xp.where(mask, zero, grad), None, gv

    @staticmethod
    def differentiable_backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        gv = grad.masked_fill(~mask, 0.0).sum() if ctx.needs_input_grad[2] else None
        return grad.masked_fill(mask, 0.0), None, gv


def _check_mask(op, mask):
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        got = mask.dtype.name.capitalize() if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {got}")


def masked_fill(input, mask, value):
    _check_mask("masked_fill_", mask)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        value = value.to(input.dtype) if value.dtype != input.dtype else value
    return MaskedFill.apply(input, mask, value)


class MaskedSelect(Function):
    @staticmethod
    def forward(ctx, x, mask):
        xp = xp_of(x)
        shape = np.broadcast_shapes(x.shape, mask.shape)
        mask = xp.broadcast_to(mask, shape)
        ctx.save_for_backward(mask)
        return xp.broadcast_to(x, shape)[mask]

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        out = xp_of(grad).zeros(mask.shape, grad.dtype)
        out[mask] = grad
        return out, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return scatter_into(grad, tuple(mask.shape), (mask._data,)), None


def masked_select(input, mask):
    _check_mask("masked_select:", mask)
    return MaskedSelect.apply(input, mask)


class MaskedScatter(Function):
    @staticmethod
    def forward(ctx, x, mask, source):
        xp = xp_of(x)
        shape = np.broadcast_shapes(x.shape, mask.shape)  # input broadcasts to the mask too
        mask = xp.broadcast_to(mask, shape)
        n = int(mask.sum())
        if n > source.size:
            raise RuntimeError("masked_scatter: expected source to have at least as many elements as ones in mask")
        ctx.save_for_backward(mask)
        ctx.src_shape, ctx.n = source.shape, n
        out = xp.broadcast_to(x, shape).copy()
        out[mask] = source.reshape(-1)[:n]
        return out

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        xp = xp_of(grad)
        gs = None
        if ctx.needs_input_grad[2]:
            gs = xp.zeros(math.prod(ctx.src_shape), grad.dtype)
            gs[:ctx.n] = grad[mask]
            gs = gs.reshape(ctx.src_shape)
        return xp.where(mask, grad.dtype.type(0), grad), None, gs


def masked_scatter(input, mask, source):
    _check_mask("masked_scatter_", mask)
    return MaskedScatter.apply(input, mask, source)


def _flat_index(op, x, index):
    idx = _as_index_array(index, xp_of(x._data), op)
    n = x.numel()
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        bad = int(idx.max()) if int(idx.max()) >= n else int(idx.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    return idx


def take(input, index):
    idx = _flat_index("take", input, index)
    return getitem(input.reshape(-1), Tensor._make(idx))


def _wrap_negative(indices, n):
    """take_along_dim(dim=d) counts negative indices from the end (gather does not)."""
    idx = indices._data
    if idx.size and int(idx.min()) < 0:
        idx = xp_of(idx).where(idx < 0, idx + n, idx)
    return Tensor._make(idx)


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))  # PyTorch wraps negatives only along a dim
    d = wrap_dim(dim, input.ndim)
    indices = _wrap_negative(indices, input.shape[d] if input.ndim else 1)
    # broadcast every dim except `dim`, then gather
    shape_x, shape_i = list(input.shape), list(indices.shape)
    shape_x[d] = shape_i[d] = 1
    common = list(np.broadcast_shapes(tuple(shape_x), tuple(shape_i)))
    tx, ti = common.copy(), common.copy()
    tx[d], ti[d] = input.shape[d], indices.shape[d]
    return gather(input.expand(*tx), d, indices.expand(*ti))


class Put(Function):
    """out = x with out.view(-1)[index] = source (or += source); index and source are flat."""

    @staticmethod
    def forward(ctx, x, source, index, accumulate):
        ctx.index, ctx.accumulate, ctx.source_shape = index, accumulate, source.shape
        out = x.copy().reshape(-1)
        if accumulate:
            add_at(out, index, source.reshape(-1))
        else:
            out[index] = source.reshape(-1)
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        flat = grad.reshape(-1)
        gx = grad
        if not ctx.accumulate:
            gx = flat.copy()
            gx[ctx.index] = 0
            gx = gx.reshape(grad.shape)
        return gx, flat[ctx.index].reshape(ctx.source_shape), None, None


def put(input, index, source, accumulate=False):
    idx = _flat_index("put", input, index)
    if idx.size != source.numel():
        raise RuntimeError(f"put_(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {source.numel()}, index.numel() = {idx.size}")
    return Put.apply(input, source, idx.reshape(-1), accumulate)


# ---------------------------------------------------------------------------------------------
# nonzero, sort, topk, unique, searchsorted
# ---------------------------------------------------------------------------------------------
def nonzero(input, *, as_tuple=False):
    data = input._data
    xp = xp_of(data)
    if data.ndim == 0:
        hit = int(bool(data))
        if as_tuple:
            return (Tensor._make(xp.zeros(hit, np.int64)),)
        return Tensor._make(xp.zeros((hit, 0), np.int64))
    coords = xp.nonzero(data)
    if as_tuple:
        return tuple(Tensor._make(c.astype(np.int64, copy=False)) for c in coords)
    return Tensor._make(xp.stack(coords, axis=1).astype(np.int64, copy=False))


def argwhere(input):
    return nonzero(input)


SortResult = collections.namedtuple("sort", ["values", "indices"])
TopkResult = collections.namedtuple("topk", ["values", "indices"])
KthvalueResult = collections.namedtuple("kthvalue", ["values", "indices"])


def _argsort(data, dim, descending, stable=True):
    xp = xp_of(data)
    if not descending:
        return xp.argsort(data, axis=dim, kind="stable")
    # stable descending: stable-sort the reversed array, reverse back, map indices back
    n = data.shape[dim]
    rev = xp.flip(data, dim)
    return (n - 1) - xp.flip(xp.argsort(rev, axis=dim, kind="stable"), dim)


def argsort(input, dim=-1, descending=False, stable=False):
    if input.ndim == 0:
        return Tensor._make(xp_of(input._data).zeros((), np.int64))
    d = wrap_dim(dim, input.ndim)
    return Tensor._make(_argsort(input._data, d, descending).astype(np.int64, copy=False))


def sort(input, dim=-1, descending=False, stable=False):
    idx = argsort(input, dim, descending, stable)
    if input.ndim == 0:
        return SortResult(input.clone(), idx)
    d = wrap_dim(dim, input.ndim)
    return SortResult(Gather.apply(input, d, idx._data, True), idx)


def msort(input):
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    if input._data.dtype == np.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    data = input._data
    xp = xp_of(data)
    d = wrap_dim(dim, max(input.ndim, 1))
    if input.ndim == 0:
        data = data.reshape(1)
    n = data.shape[d]
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    if k == 0:
        idx = xp.zeros(data.shape[:d] + (0,) + data.shape[d + 1:], np.int64)
    else:
        # argpartition puts the k wanted entries at one end in O(n); NaN counts as largest
        part = xp.argpartition(data, n - k if largest else k - 1, axis=d)
        sel = (slice(None),) * d + (slice(n - k, n) if largest else slice(0, k),)
        idx = part[sel]
        if sorted:
            vals = xp.take_along_axis(data, idx, d)
            idx = xp.take_along_axis(idx, _argsort(vals, d, largest), d)
    idx = idx.astype(np.int64, copy=False)
    if input.ndim == 0:
        idx = idx.reshape(())
        return TopkResult(input.clone(), Tensor._make(idx))
    return TopkResult(Gather.apply(input, d, idx, True), Tensor._make(idx))


def kthvalue(input, k, dim=-1, keepdim=False):
    if input._data.dtype == np.bool_:
        raise NotImplementedError("\"kthvalue_cpu\" not implemented for 'Bool'")
    d = wrap_dim(dim, max(input.ndim, 1))
    src = input if input.ndim else input.reshape(1)
    data = src._data
    n = data.shape[d]
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    xp = xp_of(data)
    idx = xp.argpartition(data, k - 1, axis=d)[(slice(None),) * d + (slice(k - 1, k),)].astype(np.int64)
    values = Gather.apply(src, d, idx, True)
    if not keepdim or input.ndim == 0:
        values, idx = values.squeeze(d), idx.squeeze(d)
    if input.ndim == 0:
        values, idx = values.reshape(()), idx.reshape(())
    return KthvalueResult(values, Tensor._make(idx))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    data = input._data
    xp = xp_of(data)
    # NaNs are never equal to each other, so each stays its own value (PyTorch's unique)
    res = xp.unique(data if dim is not None else data.reshape(-1), return_inverse=True, return_counts=True,
                    axis=None if dim is None else wrap_dim(dim, data.ndim), equal_nan=False)
    values, inverse, counts = res
    inverse = inverse.reshape(data.shape if dim is None else -1).astype(np.int64, copy=False)
    out = [Tensor._make(values)]
    if return_inverse:
        out.append(Tensor._make(inverse))
    if return_counts:
        out.append(Tensor._make(counts.astype(np.int64, copy=False)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    if dim is not None:
        raise RuntimeError("unique_consecutive: only dim=None is supported by mytorch")
    data = input._data.reshape(-1)
    xp = xp_of(data)
    starts = xp.ones(data.shape, bool)
    starts[1:] = data[1:] != data[:-1]
    out = [Tensor._make(data[starts])]
    if return_inverse:
        out.append(Tensor._make((xp.cumsum(starts) - 1).reshape(input._data.shape).astype(np.int64)))
    if return_counts:
        pos = xp.flatnonzero(starts)
        out.append(Tensor._make(xp.diff(xp.append(pos, data.size)).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def _batched_searchsorted(seq, values, right):
    """Row-wise searchsorted on (..., M) and (..., K) with one stable sort of the merged rows:
    the answer for a value is how many sequence entries precede it in the merged order."""
    xp = xp_of(seq)
    m, k = seq.shape[-1], values.shape[-1]
    merged = xp.concatenate([seq, values] if right else [values, seq], -1)
    is_seq = xp.zeros(merged.shape[-1], np.int64)
    if right:
        is_seq[:m] = 1
    else:
        is_seq[k:] = 1
    order = xp.argsort(merged, axis=-1, kind="stable")
    seq_flags = is_seq[order]
    seq_before = xp.cumsum(seq_flags, -1) - seq_flags
    rank = xp.argsort(order, axis=-1)  # inverse permutation: where each merged entry landed
    value_rank = rank[..., m:] if right else rank[..., :k]
    return xp.take_along_axis(seq_before, value_rank, -1)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    seq = sorted_sequence._data
    xp = xp_of(seq)
    scalar = not isinstance(input, Tensor)
    vals = xp.asarray(input) if scalar else input._data
    if (seq.dtype == np.bool_ or vals.dtype == np.bool_) and seq.size and vals.size:
        raise NotImplementedError("\"searchsorted_out_cpu\" not implemented for 'Bool'")
    if sorter is not None:
        seq = xp.take_along_axis(seq, sorter._data, -1)
    if seq.dtype.kind == "f" and (xp.isnan(seq).any() or xp.isnan(vals).any()):
        out = _nan_searchsorted(xp, seq, vals, right)
    elif seq.ndim == 1:
        out = xp.searchsorted(seq, vals, side="right" if right else "left")
    else:
        if seq.shape[:-1] != vals.shape[:-1]:
            raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                               f"dimensions of boundaries tensor and input value tensor must match, but we got "
                               f"boundaries tensor {list(seq.shape)} and input value tensor {list(vals.shape)}")
        out = _batched_searchsorted(seq, vals.astype(seq.dtype, copy=False), right)
    return Tensor._make(xp.asarray(out).astype(np.int32 if out_int32 else np.int64))


def _nan_searchsorted(xp, seq, vals, right):
    """PyTorch's binary search, step for step: with NaNs its answer is not numpy's (NaN sorted last)."""
    seq2 = seq.reshape(1, -1) if seq.ndim == 1 else seq.reshape(-1, seq.shape[-1])
    v2 = vals.reshape(1, -1) if seq.ndim == 1 else vals.reshape(seq2.shape[0], -1)
    rows = xp.arange(seq2.shape[0])[:, None]
    start = xp.zeros(v2.shape, np.int64)
    end = xp.full(v2.shape, seq2.shape[1], np.int64)
    while bool((start < end).any()):
        active = start < end
        mid = start + (end - start) // 2
        mid_val = seq2[rows, xp.minimum(mid, seq2.shape[1] - 1)]
        go_right = ~(mid_val > v2) if right else ~(mid_val >= v2)
        start = xp.where(active & go_right, mid + 1, start)
        end = xp.where(active & ~go_right, mid, end)
    return start.reshape(vals.shape)


def bucketize(input, boundaries, *, out_int32=False, right=False):
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


# ---------------------------------------------------------------------------------------------
# Tensor methods, in-place variants, public functions
# ---------------------------------------------------------------------------------------------
def _inplace(op):
    def method(self, *args, **kwargs):
        return apply_inplace(self, op, *args, **kwargs)

    method.__name__ = op.__name__ + "_"
    return method


# these write an expanded tensor's shared memory rather than refuse it, as in PyTorch
masked_fill.writes_overlap = index_fill.writes_overlap = _index_put_op.writes_overlap = True


def _masked_fill_(self, mask, value):
    _check_mask("masked_fill_", mask)
    if tuple(np.broadcast_shapes(self.shape, mask.shape)) != tuple(self.shape):
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                           f"{list(np.broadcast_shapes(self.shape, mask.shape))}")
    return apply_inplace(self, masked_fill, mask, value)


tensor_methods(
    __getitem__=getitem, __setitem__=setitem, index_put=index_put, index_put_=index_put_,
    gather=gather, scatter=scatter, scatter_add=scatter_add, scatter_reduce=scatter_reduce,
    index_select=index_select, index_add=index_add, index_copy=index_copy, index_fill=index_fill,
    masked_fill=masked_fill, masked_select=masked_select, masked_scatter=masked_scatter, take=take,
    take_along_dim=take_along_dim, put=put, nonzero=nonzero, argwhere=argwhere, sort=sort, argsort=argsort,
    msort=msort, topk=topk, kthvalue=kthvalue, unique=unique, unique_consecutive=unique_consecutive,
    scatter_=_inplace(scatter), scatter_add_=_inplace(scatter_add), scatter_reduce_=_inplace(scatter_reduce),
    index_add_=_inplace(index_add), index_copy_=_inplace(index_copy), index_fill_=_inplace(index_fill),
    masked_fill_=_masked_fill_, masked_scatter_=_inplace(masked_scatter), put_=_inplace(put),
)

public(index_put, gather, scatter, scatter_add, scatter_reduce, index_select, index_add, index_copy, index_fill,
       masked_fill, masked_select, masked_scatter, take, take_along_dim, put, nonzero, argwhere, sort, argsort,
       msort, topk, kthvalue, unique, unique_consecutive, searchsorted, bucketize)
