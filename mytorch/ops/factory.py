"""Tensor factories: tensor, zeros, ones, arange, randn, ... and their *_like forms."""
import builtins
import math

import numpy as np

from .. import _dtype
from .._array import CPU, array_module, device_of_array, factory_device, move_array, on_device, to_device, xp_of
from ..autograd.function import Function
from ..random import rng_for
from ..tensor import Tensor
from ._registry import public, tensor_methods


def _finish(arr, requires_grad):
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad = True
    return t


def _size(size):
    """zeros(2, 3), zeros((2, 3)), zeros([2, 3]), zeros(Size) -> (2, 3)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"size must be a sequence of ints, but got an element of type {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _np_dtype(dtype, default=None):
    d = _dtype.to_dtype(dtype)
    if d is None:
        d = default or _dtype.get_default_dtype()
    return d.np


def _infer_dtype(data):
    """The dtype PyTorch gives to nested Python data: bool < int64 < default float."""
    kind = 0
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, Tensor):
            kind = builtins.max(kind, 3 + x.dtype._kind) if x._data.ndim == 0 else 9
            if kind == 9:
                return None
        elif isinstance(x, (bool, np.bool_)):
            kind = builtins.max(kind, 1)
        elif isinstance(x, (int, np.integer)):
            kind = builtins.max(kind, 2)
        elif isinstance(x, (float, np.floating)):
            kind = builtins.max(kind, 5)
        elif isinstance(x, (complex, np.complexfloating)):
            kind = builtins.max(kind, 7)
        else:
            raise TypeError(f"Could not infer dtype of {type(x).__name__}")
    return {0: _dtype.get_default_dtype(), 1: _dtype.bool_, 2: _dtype.int64, 3: _dtype.bool_, 4: _dtype.int64,
            5: _dtype.get_default_dtype(), 6: _dtype.default_complex_dtype(),
            7: _dtype.default_complex_dtype()}[kind].np


def _to_numpy_nested(data):
    if isinstance(data, Tensor):
        return data._data if type(data._data) is np.ndarray else data._data.get()
    if isinstance(data, (list, tuple)):
        if data and builtins.any(isinstance(x, Tensor) for x in data):
            return np.stack([_to_numpy_nested(x) for x in data])
        return data
    return data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of `data` (a number, nested sequence, numpy array or tensor)."""
    dev = to_device(device) if device is not None else None
    if dev is None and not isinstance(data, Tensor):
        dev = factory_device(None)
    np_dtype = None if dtype is None else _np_dtype(dtype)
    if isinstance(data, Tensor):
        arr = data._data
        src_dev = data.device
        arr = arr.astype(np_dtype) if np_dtype is not None and arr.dtype != np_dtype else arr.copy()
        arr = move_array(arr, dev or src_dev)
        return _finish(arr, requires_grad)
    if isinstance(data, np.generic) and data.dtype.kind in "biufc":
        data = np.asarray(data)  # a numpy scalar keeps its dtype, as in PyTorch: tensor(np.int32(3)) is int32
    if isinstance(data, np.ndarray) or (not isinstance(data, (list, tuple, int, float, bool)) and hasattr(data, "__array__")
                                         and not isinstance(data, np.generic)):
        try:
            src_dev = device_of_array(data)
        except TypeError:
            data, src_dev = np.asarray(data), CPU
        if data.dtype.kind not in "biufc" or data.dtype == np.clongdouble:
            raise TypeError(f"can't convert np.ndarray of type {data.dtype}. The only supported types are: "
                            "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint8, "
                            "and bool.")
        xp = xp_of(data)
        arr = xp.array(data, dtype=np_dtype, copy=True)
        return _finish(move_array(arr, dev or src_dev), requires_grad)
    if np_dtype is None:
        np_dtype = _infer_dtype(data)
    nested = _to_numpy_nested(data)
    try:
        arr = np.array(nested, dtype=np_dtype)
    except (ValueError, TypeError) as e:
        raise ValueError(f"could not build a tensor from the given data: {e}") from None
    if arr.dtype == object:
        raise TypeError("could not build a tensor: data has a ragged or non-numeric structure")
    return _finish(move_array(arr, dev or CPU), requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like `tensor`, but shares memory with a tensor or numpy array when dtype and device allow."""
    dev = to_device(device) if device is not None else None
    if isinstance(data, Tensor):
        return data.to(device=dev or data.device, dtype=dtype or data.dtype)
    if isinstance(data, np.ndarray) and (dev is None or dev == CPU) and (
            dtype is None or _dtype.to_dtype(dtype).np == data.dtype) and data.dtype.kind in "biufc":
        return Tensor._make(data)
    return tensor(data, dtype=dtype, device=dev)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=None):
    """obj as a tensor, sharing its memory where dtype and device allow: a tensor, numpy array, DLPack or
    buffer-protocol object (bytes read as `dtype`, default float). copy=True always copies; copy=False refuses to.
    requires_grad=None keeps a tensor's own flag, with PyTorch's warning."""
    from .inplace import type_name

    dev = None if device is None else to_device(device)
    want = _dtype.to_dtype(dtype)
    if not isinstance(obj, (Tensor, np.ndarray)) and hasattr(obj, "__dlpack__"):
        obj = from_dlpack(obj)
    keep_grad = requires_grad if requires_grad is not None else isinstance(obj, Tensor) and obj._requires_grad
    if keep_grad and requires_grad is None:
        import warnings

        warnings.warn("torch.asarray: unspecified requires_grad now defaults to obj.requires_grad instead of False. "
                      "Pass requires_grad=False explicitly to get the old behavior and silence this warning.",
                      UserWarning, stacklevel=2)
    t, force_copy = None, copy is True
    if isinstance(obj, Tensor):
        t = obj
    elif isinstance(obj, np.generic):
        if copy is False:
            raise RuntimeError("can't alias NumPy scalars. Either remove copy=False or transform it in a ndarray. ")
        t, force_copy = from_numpy(np.array(obj)), False
    elif isinstance(obj, np.ndarray):
        t = from_numpy(obj)
    else:
        try:
            memoryview(obj)
        except TypeError:
            pass
        else:
            t = frombuffer(obj, dtype=want or _dtype.get_default_dtype())
    if t is None:  # a sequence or a number: always new memory
        if copy is False:
            raise ValueError("can't alias arbitrary sequence into a tensor.")
        t = tensor(obj, dtype=want, device=dev)
        return t.requires_grad_(True) if keep_grad else t
    wrong_device = dev is not None and dev != t.device
    wrong_dtype = want is not None and want != t.dtype
    if force_copy or (copy is None and (wrong_device or wrong_dtype)):
        t = t.to(device=dev or t.device, dtype=want or t.dtype, copy=True)
    elif wrong_device:
        raise ValueError(f"can't alias tensor from device '{t.device}' to '{dev}'.")
    elif wrong_dtype:
        raise ValueError(f"can't alias tensor with dtype '{type_name(t._data.dtype)}' into dtype "
                         f"'{type_name(want.np)}'.")
    if t.grad_fn is not None and not keep_grad:
        return t.detach()
    return t.requires_grad_(keep_grad)


def from_numpy(ndarray):
    """A CPU tensor sharing memory with `ndarray`."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dtype.from_numpy_dtype(ndarray.dtype)  # raises TypeError for unsupported dtypes
    return Tensor._make(ndarray)


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D CPU tensor over the bytes of an object with the buffer protocol (shared with it where the buffer
    is writable; a read-only one, such as bytes, is copied after PyTorch's warning)."""
    np_dtype = _dtype.to_dtype(dtype).np
    view = memoryview(buffer)
    if offset < 0 or offset > view.nbytes:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
                         f"({view.nbytes} bytes) minus 1")
    if count < 0 and (view.nbytes - offset) % np_dtype.itemsize:
        raise ValueError(f"buffer length ({view.nbytes - offset} bytes) after offset ({offset} bytes) must be a "
                         f"multiple of element size ({np_dtype.itemsize})")
    if count == 0 or (count < 0 and view.nbytes - offset < np_dtype.itemsize) or \
            (count > 0 and view.nbytes - offset < count * np_dtype.itemsize):
        raise ValueError(f"requested buffer length ({count} * {np_dtype.itemsize} bytes) after offset ({offset} "
                         f"bytes) must not be greater than actual buffer length ({view.nbytes} bytes)"
                         if count > 0 else f"both buffer length ({view.nbytes}) and count ({count}) must not be 0")
    data = np.frombuffer(buffer, dtype=np_dtype, count=count, offset=offset)
    if not data.flags.writeable:
        import warnings

        warnings.warn("The given buffer is not writable, and PyTorch does not support non-writable tensors. "
                      "mytorch copies it.", UserWarning, stacklevel=2)
        data = data.copy()
    t = Tensor._make(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


class _Capsule:
    """A bare DLPack capsule (from to_dlpack) in the protocol numpy's from_dlpack reads."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return 1, 0  # kDLCPU: a capsule of GPU memory is read by cupy instead


def from_dlpack(ext_tensor):
    """A tensor sharing the memory of a DLPack object (one with __dlpack__, or a capsule from to_dlpack)."""
    if type(ext_tensor).__name__ == "PyCapsule":
        for read in (lambda: np.from_dlpack(_Capsule(ext_tensor)),
                     lambda: array_module(to_device("cuda")).from_dlpack(ext_tensor)):  # host memory, else a GPU's
            try:
                return Tensor._make(read())
            except (BufferError, TypeError, ValueError, RuntimeError):
                pass
        raise RuntimeError("from_dlpack received an invalid capsule. Note that DLTensor capsules can be consumed "
                           "only once, so you might have already constructed a tensor from it once.")
    dev_type, _ = ext_tensor.__dlpack_device__()
    if dev_type == 1:
        return Tensor._make(np.from_dlpack(ext_tensor))
    return Tensor._make(array_module(to_device("cuda")).from_dlpack(ext_tensor))


def to_dlpack(tensor):
    """A DLPack capsule of the tensor's memory (the legacy, unversioned kind), for another library's
    from_dlpack. It may be consumed once."""
    return tensor._data.__dlpack__()


def _factory(fill):
    def make(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False,
             memory_format=None):
        dev = factory_device(device)
        with on_device(dev):
            arr = fill(array_module(dev), _size(size), _np_dtype(dtype))
        t = _finish(arr, requires_grad)
        if out is not None:
            out.set_data_(t)
            return out
        return t

    return make


zeros = _factory(lambda xp, shape, dt: xp.zeros(shape, dt))
ones = _factory(lambda xp, shape, dt: xp.ones(shape, dt))
empty = _factory(lambda xp, shape, dt: xp.empty(shape, dt))
zeros.__name__, ones.__name__, empty.__name__ = "zeros", "ones", "empty"


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    np_dtype = _np_dtype(dtype, _dtype.dtype_of_scalar(fill_value))
    dev = factory_device(device)
    with on_device(dev):
        arr = array_module(dev).full(_size((size,)) if not isinstance(size, int) else (size,), fill_value, np_dtype)
    return _finish(arr, requires_grad)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return full((), s, dtype=dtype or _dtype.get_default_dtype(), device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if not builtins.all(math.isfinite(v) for v in vals):
        raise RuntimeError(f"unsupported range: {start} -> {end}")
    if (end - start) / step < 0:
        raise RuntimeError(f"upper bound and larger bound inconsistent with step sign")
    is_int = builtins.all(isinstance(v, (int, np.integer)) for v in vals)
    np_dtype = _np_dtype(dtype, _dtype.int64 if is_int else None)
    dev = factory_device(device)
    xp = array_module(dev)
    n = int(math.ceil((end - start) / step))
    with on_device(dev):
        arr = (xp.arange(n, dtype=np.float64) * step + start).astype(np_dtype) if not is_int else xp.arange(
            start, end, step).astype(np_dtype)
    return _finish(arr, requires_grad)


def range_(start, end, step=1, *, dtype=None, device=None, requires_grad=False):
    """Deprecated torch.range: includes `end`."""
    return arange(start, end + step / 2 if step > 0 else end - abs(step) / 2, step, dtype=dtype or
                  _dtype.get_default_dtype(), device=device, requires_grad=requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dev = factory_device(device)
    with on_device(dev):
        arr = array_module(dev).linspace(start, end, steps).astype(_np_dtype(dtype))
    return _finish(arr, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    dev = factory_device(device)
    with on_device(dev):
        arr = array_module(dev).logspace(start, end, steps, base=base).astype(_np_dtype(dtype))
    return _finish(arr, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"{'n' if n < 0 else 'm'} must be greater or equal to 0, got {n if n < 0 else m}")
    dev = factory_device(device)
    with on_device(dev):
        arr = array_module(dev).eye(n, n if m is None else m, dtype=_np_dtype(dtype))
    return _finish(arr, requires_grad)


# random ----------------------------------------------------------------------------------------
def _random(draw):
    def make(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
             pin_memory=False):
        dev = factory_device(device)
        np_dtype = _np_dtype(dtype)
        if np_dtype.kind not in "fc":
            raise RuntimeError(f"\"{draw.__name__}\" not implemented for '{_dtype.from_numpy_dtype(np_dtype)}'")
        rng = rng_for(dev, generator)
        with on_device(dev):
            if np_dtype.kind == "c":  # complex: independent real and imaginary draws
                real = np.dtype(np.float64 if np_dtype == np.complex128 else np.float32)
                pairs = draw(rng, _size(size) + (2,), real)
                if draw is _draw_normal:
                    pairs *= real.type(0.5 ** 0.5)  # PyTorch's complex normal: E|z|^2 = 1
                arr = pairs.view(np_dtype)[..., 0]
            else:
                arr = draw(rng, _size(size), np_dtype)
        return _finish(arr, requires_grad)

    return make


def _draw_normal(rng, shape, np_dtype):
    if np_dtype in (np.float32, np.float64):
        return rng.standard_normal(shape, dtype=np_dtype)
    return rng.standard_normal(shape, dtype=np.float32).astype(np_dtype)


def _draw_uniform(rng, shape, np_dtype):
    if np_dtype in (np.float32, np.float64):
        return rng.random(shape, dtype=np_dtype)
    return rng.random(shape, dtype=np.float32).astype(np_dtype)


_draw_normal.__name__, _draw_uniform.__name__ = "normal_kernel", "uniform_kernel"
randn = _random(_draw_normal)
rand = _random(_draw_uniform)
randn.__name__, rand.__name__ = "randn", "rand"


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    # PyTorch's overloads: randint(high, size), randint(low, high, size), keywords for any of them
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dev = factory_device(device)
    with on_device(dev):
        arr = rng_for(dev, generator).integers(low, high, size=_size((size,)) if not isinstance(size, int) else (size,))
    return _finish(arr.astype(_np_dtype(dtype, _dtype.int64)), requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    dev = factory_device(device)
    rng = rng_for(dev, generator)
    with on_device(dev):  # cupy's Generator has no permutation(): sort uniform draws instead
        arr = rng.permutation(n) if dev.type == "cpu" else rng.random(n).argsort()
    return _finish(arr.astype(_np_dtype(dtype, _dtype.int64)), requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False,
           layout=None, pin_memory=False):
    """normal(mean, std, size) with floats, or elementwise with tensor mean and/or std."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        like = mean if isinstance(mean, Tensor) else std
        shape = np.broadcast_shapes(*(t.shape for t in (mean, std) if isinstance(t, Tensor)))
        z = randn(*shape, generator=generator, dtype=like.dtype, device=like.device)
        return (z * std + mean).detach()
    if size is None:
        raise TypeError("normal() needs a size when mean and std are numbers")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    z = randn(*_size((size,)) if not isinstance(size, int) else (size,), generator=generator, dtype=dtype,
              device=device)
    z._data = z._data * std + mean if std != 1 or mean != 0 else z._data
    z._data = z._data.astype(_np_dtype(dtype), copy=False)
    if requires_grad:
        z.requires_grad = True
    return z


def bernoulli(input, p=None, *, generator=None):
    probs = input._data if p is None else p
    rng = rng_for(input.device, generator)
    xp = xp_of(input._data)
    draw = rng.random(input.shape, dtype=np.float64 if input._data.dtype == np.float64 else np.float32)
    return Tensor._make((draw < probs).astype(input._data.dtype))


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Draw category indices from (rows of) non-negative weights."""
    data = input._data
    if data.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {data.ndim}")
    xp = xp_of(data)
    if bool((data < 0).any()) or not bool(xp.isfinite(data).all()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    probs = data.reshape(-1, data.shape[-1]).astype(np.float64)
    totals = probs.sum(-1, keepdims=True)
    if bool((totals == 0).any()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    n_cat = probs.shape[1]
    if not replacement and num_samples > n_cat:
        raise RuntimeError(f"cannot sample n_sample > prob_dist.size(-1) samples without replacement "
                           f"({num_samples} > {n_cat})")
    rng = rng_for(input.device, generator)
    if replacement:
        cdf = xp.cumsum(probs / totals, axis=-1)
        u = rng.random((probs.shape[0], num_samples))
        out = xp.stack([xp.searchsorted(cdf[r], u[r], side="right") for r in builtins.range(probs.shape[0])])
        out = xp.minimum(out, n_cat - 1)
    else:
        # Gumbel-top-k / exponential race: argsort of E/p gives a weighted sample without replacement
        e = rng.exponential(size=probs.shape)
        with np.errstate(divide="ignore"):
            keys = xp.where(probs > 0, e / probs, xp.inf)
        out = xp.argsort(keys, axis=-1)[:, :num_samples]
    out = out.astype(np.int64)
    return Tensor._make(out.reshape(num_samples) if data.ndim == 1 else out)


def _same_float_dtype(name, count, prob):
    if count._data.dtype.kind not in "fV":
        raise ValueError(f"{name} only supports floating-point dtypes for count, got: {_dtype.type_name(count)}")
    if prob._data.dtype != count._data.dtype:
        raise RuntimeError(f"Found dtype {_dtype.type_name(prob)} but expected {_dtype.type_name(count)}")


def binomial(count, prob, generator=None):
    """Binomial(count, prob) draws (count floored, clipped at 0; prob clipped to [0, 1]), broadcast; not
    differentiable (PyTorch's has no derivative)."""
    _same_float_dtype("binomial", count, prob)
    xp = xp_of(count._data)
    n = xp.maximum(xp.floor(count._data), 0).astype(np.int64)
    p = xp.clip(prob._data, 0, 1).astype(np.float64)
    draws = rng_for(count.device, generator).binomial(n, p)
    return Tensor._make(xp.asarray(draws).astype(count._data.dtype))


class Poisson(Function):
    """Poisson(rate) draws; the gradient is zero, as PyTorch's (PoissonBackward)."""

    @staticmethod
    def forward(ctx, rate, rng):
        ctx.shape = rate.shape
        return xp_of(rate).asarray(rng.poisson(rate.astype(np.float64))).astype(rate.dtype)

    @staticmethod
    def backward(ctx, grad):
        return xp_of(grad).zeros(ctx.shape, grad.dtype), None


def poisson(input, generator=None):
    if input._data.dtype.kind not in "fV":
        raise NotImplementedError(f"\"poisson_cpu\" not implemented for '{_dtype.type_name(input)}'")
    if not bool((input._data >= 0).all()):  # nan included
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return Poisson.apply(input, rng_for(input.device, generator))


# *_like ---------------------------------------------------------------------------------------
def _like(factory):
    def make(input, *, dtype=None, device=None, requires_grad=False, memory_format=None, layout=None):
        return factory(*input.shape, dtype=dtype or input.dtype, device=device or input.device,
                       requires_grad=requires_grad)

    make.__name__ = factory.__name__ + "_like"
    return make


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
randn_like = _like(randn)
rand_like = _like(rand)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return full(input.shape, fill_value, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False):
    return randint(low, high, input.shape, dtype=dtype or input.dtype, device=device or input.device)


def _new(factory):
    def method(self, *size, dtype=None, device=None, requires_grad=False):
        return factory(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    return method


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


tensor_methods(new_zeros=_new(zeros), new_ones=_new(ones), new_empty=_new(empty), new_full=_new_full,
               new_tensor=_new_tensor, bernoulli=bernoulli, multinomial=multinomial)
public(tensor, as_tensor, asarray, from_numpy, frombuffer, from_dlpack, to_dlpack, binomial, poisson, zeros, ones,
       empty, full, scalar_tensor, arange, linspace, logspace,
       eye, randn, rand, randint, randperm, normal, bernoulli, multinomial, zeros_like, ones_like, empty_like,
       randn_like, rand_like, full_like, randint_like)
