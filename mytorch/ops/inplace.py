"""In-place ops (add_, mul_, clamp_, copy_, ...) and clone.

An in-place op computes the out-of-place result, writes it into the tensor's own storage (so
views see it) and bumps the version counter shared with those views. Under autograd the tensor's
grad_fn moves to the new op, whose inputs are a snapshot of the old value, so nothing the graph
saved is overwritten. A backward that needs a value overwritten later raises (see Node.saved_tensors).
"""
import numpy as np

from .. import _dtype
from .._array import xp_of
from ..autograd import grad_mode
from ..autograd.function import Function
from ..tensor import Tensor
from . import elementwise as ew
from ._registry import public, tensor_methods


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad

    differentiable_backward = backward


def clone(input, *, memory_format=None):
    return Clone.apply(input)


def _check_leaf(target):
    if target._requires_grad and target.grad_fn is None and grad_mode.is_grad_enabled():
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


def _snapshot(target):
    """A tensor standing for target's current value and graph position, on its own memory."""
    snap = Tensor._make(target._data.copy())
    snap._requires_grad = target._requires_grad
    snap.grad_fn = target.grad_fn
    snap._output_nr = target._output_nr
    if target._requires_grad and target.grad_fn is None:
        snap._accumulator = None
        snap.grad_fn = None
    return snap


def apply_inplace(target, op, *args, **kwargs):
    """Run out-of-place `op(target, *args)` and write the result into target."""
    _check_leaf(target)
    recording = grad_mode.is_grad_enabled() and (target._requires_grad or any(
        isinstance(a, Tensor) and a._requires_grad for a in args))
    on_view = _differentiable_view(target, recording)
    if recording:
        result = op(_snapshot(target), *args, **kwargs)
    else:
        with grad_mode.no_grad():
            result = op(target, *args, **kwargs)
    positions = _positions_in(target._base._data, target._data) if on_view else None
    write_into(target, result, getattr(op, "writes_overlap", False))
    if recording and result.grad_fn is not None:
        target.grad_fn = result.grad_fn
        target._output_nr = result._output_nr
        target._requires_grad = True
        if on_view:
            _rebase(target._base, result, positions)
    return target


def _differentiable_view(target, recording):
    """Whether an in-place op on target must also re-link its base: target is a view (not a detached one)
    of a tensor that requires grad, or of one that doesn't (then the base starts requiring grad)."""
    base = target._base
    if not recording or base is None:
        return False
    if base._requires_grad and target.grad_fn is None:
        return False  # a detached view, or one made under no_grad
    if base._requires_grad and base.grad_fn is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    return True


def _rebase(base, result, positions):
    """The base now holds result's values in the view's place (PyTorch's CopySlices)."""
    old_base = Tensor._make(base._data)  # only its place in the graph is needed
    old_base._requires_grad, old_base.grad_fn, old_base._output_nr = base._requires_grad, base.grad_fn, base._output_nr
    new_base = CopySlices.apply(old_base, result, positions)
    base.grad_fn, base._output_nr, base._requires_grad = new_base.grad_fn, 0, True


def _pairs(a):
    """A complex array as its (..., 2) real pairs (the same memory); a real array as it is."""
    return a[..., None].view(a.real.dtype) if a.dtype.kind == "c" else a


def _positions_in(base, view):
    """Flat (C-order) index in `base` of each element of `view`, an array sharing base's memory."""
    xp = xp_of(base)
    if view.dtype != base.dtype:  # z.real, z.imag, view_as_real / view_as_complex: index the real pairs
        base, view = _pairs(base), _pairs(view)

    def addresses(a):
        start = a.ctypes.data if xp is np else a.data.ptr
        offsets = sum(xp.arange(n).reshape((-1,) + (1,) * (a.ndim - 1 - i)) * st
                      for i, (n, st) in enumerate(zip(a.shape, a.strides)))
        return xp.broadcast_to(start + xp.asarray(offsets, dtype=np.int64), a.shape)

    flat = addresses(base).reshape(-1)
    order = xp.argsort(flat, kind="stable")
    return order[xp.searchsorted(flat[order], addresses(view))]


class CopySlices(Function):
    """Base after an in-place op on its view: the view's part of the gradient goes to the op's result,
    the rest to the base's previous graph."""

    @staticmethod
    def forward(ctx, base, view_values, positions):
        ctx.positions = positions
        # a real view of a complex base or the reverse: positions index the real pairs (see _positions_in)
        ctx.complex_view = view_values.dtype.kind == "c" if (base.dtype.kind == "c") != (
            view_values.dtype.kind == "c") else None
        return base  # the values are already in base's memory; this node only routes gradients

    @staticmethod
    def backward(ctx, grad):
        complex_view = ctx.complex_view
        pairs = _pairs(grad) if complex_view is False else grad
        flat = pairs.reshape(-1)
        g_view = flat[ctx.positions]
        if complex_view:
            g_view = xp_of(g_view).ascontiguousarray(g_view).view(np.complex128 if g_view.dtype == np.float64
                                                                  else np.complex64)[..., 0]
        g_base = None
        if ctx.needs_input_grad[0]:
            g_base = flat.copy()
            g_base[ctx.positions.reshape(-1)] = 0
            g_base = g_base.reshape(pairs.shape)
            if complex_view is False:
                g_base = g_base.view(grad.dtype)[..., 0]
        return g_base, g_view, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        from .index import IndexPut, take_key

        if ctx.complex_view is not None:
            raise RuntimeError("the derivative of an in-place write through a real/complex view is not "
                               "implemented for create_graph=True")
        flat = grad.reshape(-1)
        g_view = take_key(flat, (ctx.positions,))
        g_base = None
        if ctx.needs_input_grad[0]:
            g_base = IndexPut.apply(flat, grad.new_zeros(()), (ctx.positions.reshape(-1),), False).reshape(grad.shape)
        return g_base, g_view, None


def check_no_overlap(dst):
    """PyTorch refuses elementwise writes into a tensor whose elements share memory (an expanded one)."""
    if dst.size > 1 and any(st == 0 and n > 1 for st, n in zip(dst.strides, dst.shape)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")


type_name = _dtype.type_name


def write_into(target, result, allow_overlap=False):
    """Copy result's values into target's storage, with PyTorch's shape and casting checks.
    allow_overlap: fill_, masked_fill_, index_put_ and the like write an expanded tensor's shared memory."""
    src = result._data
    dst = target._data
    if src.shape != dst.shape:
        try:
            bshape = np.broadcast_shapes(src.shape, dst.shape)
        except ValueError:
            bshape = None
        if bshape != dst.shape:
            raise RuntimeError(f"output with shape {list(dst.shape)} doesn't match the broadcast shape "
                               f"{list(bshape) if bshape is not None else list(src.shape)}")
    if src.dtype != dst.dtype:
        src_k, dst_k = _dtype.from_numpy_dtype(src.dtype)._kind, _dtype.from_numpy_dtype(dst.dtype)._kind
        if src_k > dst_k:
            raise RuntimeError(f"result type {type_name(src.dtype)} can't be cast to the desired output type "
                               f"{type_name(dst.dtype)}")
    if not allow_overlap:
        check_no_overlap(dst)
    elif dst.size > 1 and any(st == 0 and n > 1 for st, n in zip(dst.strides, dst.shape)):
        # elements sharing memory: store only what the op changed, so each write lands in the shared
        # location (PyTorch's expanded index_put_) instead of being undone by a later unchanged copy
        src = xp_of(dst).broadcast_to(src, dst.shape)
        changed = src != dst
        dst[changed] = src[changed]
        target._version.value += 1
        return
    dst[...] = src
    target._version.value += 1


def _inplace(op, name=None):
    """The in-place method `name` (op's name + "_") of out-of-place `op`: op's result written back."""

    def method(self, *args, **kwargs):
        return apply_inplace(self, op, *args, **kwargs)

    method.__name__ = method.__qualname__ = name or op.__name__ + "_"
    return method


class Fill(Function):
    """x.fill_(v): the result is v everywhere; gradient flows only to a tensor value."""

    @staticmethod
    def forward(ctx, x, value):
        xp = xp_of(x)
        return xp.full(x.shape, value, dtype=x.dtype) if np.isscalar(value) else xp.broadcast_to(
            value.astype(x.dtype), x.shape).copy()

    @staticmethod
    def backward(ctx, grad):
        return None, grad.sum() if ctx.needs_input_grad[1] else None

    differentiable_backward = backward


def _fill(self, value):
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.dim()} dimensions.")
    return Fill.apply(self, value)


_fill.writes_overlap = True  # fill_/zero_ of an expanded tensor write its shared memory, as in PyTorch


def fill_(self, value):
    return apply_inplace(self, _fill, value)


def zero_(self):
    return apply_inplace(self, _fill, 0)


class CopyFrom(Function):
    @staticmethod
    def forward(ctx, x, src):
        ctx.src_dtype = src.dtype
        xp = xp_of(x)
        out = xp.broadcast_to(src, x.shape).astype(x.dtype)
        return out

    @staticmethod
    def backward(ctx, grad):
        return None, grad

    differentiable_backward = backward


def copy_(self, src, non_blocking=False):
    """Copy src's values (broadcast, cast, moved across devices) into self."""
    if not isinstance(src, Tensor):
        from .factory import tensor

        src = tensor(src)
    if src.device != self.device:
        src = src.to(self.device)
    _check_leaf(self)
    recording = grad_mode.is_grad_enabled() and (self._requires_grad or src._requires_grad)
    on_view = _differentiable_view(self, recording)
    with grad_mode.set_grad_enabled(recording):
        result = CopyFrom.apply(_snapshot(self) if recording else self, src)
    check_no_overlap(self._data)
    positions = _positions_in(self._base._data, self._data) if on_view else None
    self._data[...] = result._data
    self._version.value += 1
    if recording and result.grad_fn is not None:
        self.grad_fn = result.grad_fn
        self._output_nr = 0
        self._requires_grad = True
        if on_view:
            _rebase(self._base, result, positions)
    return self


def set_data_(self, other):
    """Replace self's storage with other's (used by out= arguments)."""
    self._data = other._data
    self._version.value += 1
    return self


def _random_inplace(draw):
    def method(self, *args, generator=None, **kwargs):
        from .._array import xp_of as _xp  # noqa: F401
        from ..random import rng_for

        rng = rng_for(self.device, generator)
        check_no_overlap(self._data)
        with grad_mode.no_grad():
            if self._data.dtype.kind == "c" and draw in (_uniform, _normal):  # both parts drawn, as PyTorch
                pairs = draw(rng, self._data.shape + (2,), *args, **kwargs)
                if draw is _normal:  # each part N(mean, std^2 / 2): E|z - mean|^2 = std^2
                    mean = args[0] if args else kwargs.get("mean", 0.0)
                    pairs = (pairs - mean) * 0.5 ** 0.5 + mean
                vals = pairs[..., 0] + 1j * pairs[..., 1]
            else:
                vals = draw(rng, self._data.shape, *args, **kwargs)
            self._data[...] = vals
        self._version.value += 1
        return self

    return method


def _uniform(rng, shape, a=0.0, b=1.0):
    return rng.random(shape) * (b - a) + a


def _normal(rng, shape, mean=0.0, std=1.0):
    return rng.standard_normal(shape) * std + mean


def _random_(rng, shape, low=0, high=None):
    if high is None:
        low, high = 0, low
    return rng.integers(low, high, size=shape)


def _exponential(rng, shape, lambd=1.0):
    return rng.exponential(1.0 / lambd, size=shape)


def _bernoulli(rng, shape, p=0.5):
    return rng.random(shape) < p


_METHODS = {"add": ew.add, "sub": ew.sub, "subtract": ew.sub, "mul": ew.mul, "multiply": ew.mul, "div": ew.div,
            "divide": ew.div, "true_divide": ew.div, "floor_divide": ew.floor_divide, "pow": ew.pow,
            "fmod": ew.fmod, "remainder": ew.remainder, "clamp": ew.clamp, "clip": ew.clamp,
            "clamp_min": ew.clamp_min, "clamp_max": ew.clamp_max, "maximum": ew.maximum, "minimum": ew.minimum,
            "lerp": ew.lerp, "addcmul": ew.addcmul, "addcdiv": ew.addcdiv, "round": ew.round,
            "nan_to_num": ew.nan_to_num, "atan2": ew.atan2}
_METHODS.update(ew._UNARY_FUNCS)

tensor_methods(**{name + "_": _inplace(fn) for name, fn in _METHODS.items()},
               __iadd__=_inplace(ew.add), __isub__=_inplace(ew.sub), __imul__=_inplace(ew.mul),
               __itruediv__=_inplace(ew.div), __ifloordiv__=_inplace(ew.floor_divide),
               __imod__=_inplace(ew.remainder), __ipow__=_inplace(ew.pow),
               clone=clone, fill_=fill_, zero_=zero_, copy_=copy_, set_data_=set_data_,
               uniform_=_random_inplace(_uniform), normal_=_random_inplace(_normal),
               random_=_random_inplace(_random_), exponential_=_random_inplace(_exponential),
               bernoulli_=_random_inplace(_bernoulli))
public(clone)
