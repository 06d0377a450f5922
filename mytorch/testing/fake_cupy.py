"""A strict stand-in for cupy, so the test suite can run `device="cuda"` code on a CPU machine.

Test-only: mytorch loads it only when MYTORCH_FAKE_CUDA=1 (see mytorch/_array.py), and `install()` puts it
into sys.modules as `cupy` / `cupyx`. Arrays compute with numpy underneath, but the fake is at least as
strict as real cupy, so host-only code fails here as it would on a GPU:

- `ndarray` is not a numpy.ndarray; `np.asarray(x)`, numpy functions and ufuncs on it, and arithmetic
  mixing it with a numpy array raise TypeError. Only `asnumpy` / `.get()` go to the host, `asarray` back.
- Only names the real package exposes exist (mytorch/testing/_cupy_names.py, read from a cupy wheel).
- Two devices (0 and 1); arrays live on the device current when they were made (`cuda.Device(i)`), and
  an op whose arrays are not all on the current device raises ValueError, as cupy does without peer access.
- dtypes cupy lacks (bfloat16 and other numpy extension dtypes) are refused.
"""
import sys
import threading
import types

import numpy as np

from ._cupy_names import CUPY_VERSION, NAMES

DEVICE_COUNT = 2
DEVICE_NAME = "Fake CUDA GPU (numpy)"
TOTAL_MEMORY = 16 * 2 ** 30
_SUPPORTED_KINDS = "biufc"

_state = threading.local()


def _current():
    return getattr(_state, "device", 0)


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind not in _SUPPORTED_KINDS or dtype.itemsize > 16 or dtype.type is np.longdouble:
        raise ValueError(f"Unsupported dtype {dtype}")
    return dtype


class ndarray:
    """A device array: a numpy array plus the id of the (fake) GPU it lives on."""

    __slots__ = ("_a", "_dev")
    __array_ufunc__ = None  # numpy ufuncs and numpy-array operators refuse us (TypeError)
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise TypeError("fake cupy.ndarray() takes no memptr or strides")
        self._a = np.empty(shape, _check_dtype(dtype), order=order)
        self._dev = _current()

    @classmethod
    def _wrap(cls, a, dev=None):
        obj = object.__new__(cls)
        obj._a = a
        obj._dev = _current() if dev is None else dev
        return obj

    # host <-> device: the only ways across ----------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented  # numpy then raises TypeError: no implementation found

    def get(self, stream=None, order="C", out=None, blocking=True):
        if out is not None:
            np.copyto(out, self._a)
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self._a.shape:
            raise ValueError("Shape mismatch")
        np.copyto(self._a, arr)

    # attributes ---------------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    dtype = property(lambda self: self._a.dtype)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    device = property(lambda self: Device(self._dev))
    T = property(lambda self: self._wrap(self._a.T, self._dev))
    mT = property(lambda self: self._wrap(np.swapaxes(self._a, -1, -2), self._dev))

    @property
    def base(self):
        return None if self._a.base is None else self._wrap(self._a.base, self._dev)

    @property
    def real(self):
        return self._wrap(self._a.real, self._dev)

    @property
    def imag(self):
        return self._wrap(self._a.imag, self._dev)

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self._a.__array_interface__["data"][0], device_id=self._dev,
                                     mem=None)

    def __dlpack_device__(self):
        return (2, self._dev)  # kDLCUDA

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        _check_devices([self])
        return (self._wrap(row, self._dev) for row in self._a)

    def __bool__(self):
        return bool(self._a)

    def __int__(self):
        return int(self._a)

    def __float__(self):
        return float(self._a)

    def __complex__(self):
        return complex(self._a)

    def __index__(self):
        return self._a.__index__()

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec) if self._a.ndim == 0 else str(self)

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        return (_rebuild, (self._a.copy(), self._dev))

    def __getitem__(self, key):
        _check_devices([self, key])
        return _result(self._a[_index(key)])

    def __setitem__(self, key, value):
        _check_devices([self, value])
        self._a[_index(key)] = _operand(value, setitem=True)

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        _check_dtype(dtype)
        kw = {} if casting is None else {"casting": casting}
        return self._wrap(self._a.astype(dtype, order=order, copy=copy, **kw), self._dev)

    def view(self, dtype=None):
        if dtype is None:
            return self._wrap(self._a.view(), self._dev)
        _check_dtype(dtype)
        return self._wrap(self._a.view(dtype), self._dev)


def _rebuild(a, dev):
    return ndarray._wrap(a, dev)


def _index(key):
    """Index keys: device arrays, ints, slices, None, Ellipsis, lists (cupy also takes host index arrays)."""
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    if isinstance(key, ndarray):
        return key._a
    return key


def _operand(x, setitem=False):
    """One argument of a cupy function or operator, as the numpy code underneath needs it."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray) and not setitem:
        raise TypeError(f"Unsupported type {type(x)}")
    if isinstance(x, (list, tuple)):
        return type(x)(_operand(v, setitem) for v in x)
    if isinstance(x, dict):
        return {k: _operand(v, setitem) for k, v in x.items()}
    return x


def _arrays_in(values):
    for v in values:
        if isinstance(v, ndarray):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from _arrays_in(v)


def _check_devices(values):
    cur = _current()
    for arr in _arrays_in(values):
        if arr._dev != cur:
            raise ValueError(f"The device where the array resides ({arr._dev}) is different from the current "
                             f"device ({cur}). Peer access is unavailable between these devices.")


def _result(r, out=None):
    if out is not None and isinstance(r, np.ndarray) and isinstance(out, ndarray) and r is out._a:
        return out
    if isinstance(r, np.ndarray):
        _check_dtype(r.dtype)
        return ndarray._wrap(r)
    if isinstance(r, np.generic):
        return ndarray._wrap(np.asarray(r))  # cupy reductions return 0-d arrays, never numpy scalars
    if isinstance(r, tuple):
        return tuple(_result(v) for v in r)
    if isinstance(r, list):
        return [_result(v) for v in r]
    return r


def _call(fn, args, kwargs, extra=()):
    _check_devices(list(args) + list(kwargs.values()) + list(extra))
    if "dtype" in kwargs and kwargs["dtype"] is not None:
        _check_dtype(kwargs["dtype"])
    r = fn(*_operand(tuple(args)), **_operand(kwargs))
    return _result(r, kwargs.get("out"))


def _method(name):
    if name in _SHAPE_METHODS:  # shape / axes arguments may be any integer sequence, host arrays included
        def method(self, *args, **kwargs):
            _check_devices([self])
            return _result(getattr(self._a, name)(*args, **kwargs))
    else:
        def method(self, *args, **kwargs):
            return _call(getattr(self._a, name), args, kwargs, [self])

    method.__name__ = name
    return method


_SHAPE_METHODS = {"reshape", "transpose", "swapaxes", "squeeze", "flatten", "ravel", "copy", "fill"}


def _binary(name):
    def op(self, other):
        if not isinstance(other, (ndarray, int, float, complex, bool, np.generic)):
            if isinstance(other, np.ndarray):
                raise TypeError(f"Unsupported type {type(other)}")
            return NotImplemented
        _check_devices([self, other])
        r = getattr(self._a, name)(_operand(other))
        return self if r is self._a else _result(r)

    op.__name__ = name
    return op


_OPERATORS = [f"__{p}{n}__" for n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and",
                                       "or", "xor", "lshift", "rshift", "divmod") for p in ("", "r", "i")
              if not (p == "i" and n == "divmod")] + [f"__{n}__" for n in ("eq", "ne", "lt", "le", "gt", "ge")]
for _name in _OPERATORS:
    setattr(ndarray, _name, _binary(_name))
for _name in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(ndarray, _name, _method(_name))
for _name in NAMES["cupy.ndarray"]:
    if not _name.startswith("_") and _name not in ndarray.__dict__ and callable(getattr(np.ndarray, _name, None)):
        setattr(ndarray, _name, _method(_name))


# module-level functions ---------------------------------------------------------------------------
def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    return np.asarray(a, order=order)


def asarray(a, dtype=None, order=None, *, blocking=False):
    if isinstance(a, ndarray) and a._dev == _current() and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    return array(a, dtype=dtype, copy=False, order=order or "K")


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    host = obj._a if isinstance(obj, ndarray) else obj  # a copy between devices: allowed, as in cupy
    if isinstance(host, (list, tuple)):
        host = _operand(host, setitem=True)
    a = np.array(host, dtype=dtype, copy=True, order=order, ndmin=ndmin)  # device memory is never shared
    _check_dtype(a.dtype)
    return ndarray._wrap(a)


def asanyarray(a, dtype=None, order=None):
    return asarray(a, dtype, order)


def ascontiguousarray(a, dtype=None):
    if not isinstance(a, ndarray):
        raise TypeError(f"Unsupported type {type(a)}")
    return _call(np.ascontiguousarray, (a,), {"dtype": dtype})


def get_array_module(*args):
    return sys.modules[__name__ + ".cupy"] if any(isinstance(a, ndarray) for a in args) else np


def scatter_add(a, slices, value):
    _check_devices([a, value])
    np.add.at(a._a, _index(slices), _operand(value))


def _scatter(ufunc):
    def scatter(a, slices, value):
        _check_devices([a, value])
        ufunc.at(a._a, _index(slices), _operand(value))

    return scatter


class _Ufunc:
    """cupy's ufunc: call, plus at / reduce / accumulate / outer / reduceat on device arrays."""

    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__
        self.nin, self.nout, self.nargs = uf.nin, uf.nout, uf.nargs

    def __call__(self, *args, **kwargs):
        return _call(self._uf, args, kwargs)

    def at(self, a, indices, b=None):
        _check_devices([a, b])
        args = (a._a, _index(indices)) + (() if b is None else (_operand(b),))
        self._uf.at(*args)

    def __getattr__(self, name):
        if name not in ("reduce", "accumulate", "outer", "reduceat", "types", "ntypes", "identity"):
            raise AttributeError(f"'cupy.ufunc' object has no attribute '{name}'")
        attr = getattr(self._uf, name)
        return (lambda *a, **k: _call(attr, a, k)) if callable(attr) else attr


def _function(fn):
    if fn.__name__.endswith("_like"):  # cupy allocates these on the current GPU, whatever the prototype's
        def f(a, *args, **kwargs):
            return _result(fn(_operand(a), *_operand(args), **_operand(kwargs)))
    else:
        def f(*args, **kwargs):
            return _call(fn, args, kwargs)

    f.__name__ = getattr(fn, "__name__", "function")
    f.__doc__ = getattr(fn, "__doc__", None)
    return f


def _delegate(np_namespace, name):
    """The numpy object behind an allowed cupy name, adapted to take and give device arrays."""
    obj = getattr(np_namespace, name)
    if isinstance(obj, np.ufunc):
        return _Ufunc(obj)
    if isinstance(obj, type) or not callable(obj):
        return obj  # dtypes, scalar types, finfo/iinfo, constants: the same objects in cupy
    return _function(obj)


class _Namespace(types.ModuleType):
    """A fake cupy submodule: its own attributes, then allowed names delegated to numpy."""

    def __init__(self, name, allowed, numpy_side=None, **attrs):
        super().__init__(name)
        self.__dict__.update(attrs)
        self._allowed = allowed
        self._numpy = numpy_side

    def __getattr__(self, name):
        if name.startswith("__") or name not in self._allowed or self._numpy is None \
                or not hasattr(self._numpy, name):
            raise AttributeError(f"module '{self.__name__}' has no attribute '{name}'")
        value = _delegate(self._numpy, name)
        setattr(self, name, value)
        return value

    def __dir__(self):
        return sorted(set(self.__dict__) | {n for n in self._allowed if self._numpy and hasattr(self._numpy, n)})


# random -------------------------------------------------------------------------------------------
class Generator:
    """cupy.random.Generator over numpy's PCG64 (cupy uses XORWOW: the streams differ, the API is the same)."""

    def __init__(self, seed=None):
        self._rng = np.random.Generator(np.random.PCG64(seed))

    def __getattr__(self, name):
        if name.startswith("_") or name not in NAMES["cupy.random.Generator"]:
            raise AttributeError(f"'cupy.random._generator_api.Generator' object has no attribute '{name}'")
        fn = getattr(self._rng, name)
        return lambda *a, **k: _result(np.asarray(fn(*_operand(a), **_operand(k))), k.get("out"))


def default_rng(seed=None):
    return Generator(seed)


class RandomState:
    def __init__(self, seed=None):
        self._rs = np.random.RandomState(seed)

    def __getattr__(self, name):
        if name.startswith("_") or name not in NAMES["cupy.random.RandomState"] or not hasattr(self._rs, name):
            raise AttributeError(f"'RandomState' object has no attribute '{name}'")
        fn = getattr(self._rs, name)
        return lambda *a, **k: _result(fn(*_operand(a), **_operand(k)))


_random_state = RandomState()


class _RandomModule(_Namespace):
    def __getattr__(self, name):
        if name in self._allowed and hasattr(_random_state._rs, name):
            return getattr(_random_state, name)
        return super().__getattr__(name)


# cuda: devices, runtime, streams, memory ----------------------------------------------------------
class Device:
    """cupy.cuda.Device(i): `with Device(i):` makes i current, `.use()` sets it."""

    def __init__(self, device=None):
        self.id = _current() if device is None else int(device)
        self._stack = []

    def _validate(self):
        if not 0 <= self.id < DEVICE_COUNT:
            raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    def use(self):
        self._validate()
        _state.device = self.id

    def __enter__(self):
        self._validate()
        self._stack.append(_current())
        _state.device = self.id
        return self

    def __exit__(self, *exc):
        _state.device = self._stack.pop()

    def synchronize(self):
        pass

    @property
    def compute_capability(self):
        return "90"

    @property
    def mem_info(self):
        return (TOTAL_MEMORY - _memory_pool.used_bytes(), TOTAL_MEMORY)

    @property
    def attributes(self):
        return {"MultiProcessorCount": 132, "MaxThreadsPerBlock": 1024, "WarpSize": 32}

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class CUDARuntimeError(RuntimeError):
    pass


def _get_device_properties(i):
    Device(i)._validate()
    return {"name": f"{DEVICE_NAME} {i}".encode(), "totalGlobalMem": TOTAL_MEMORY, "major": 9, "minor": 0,
            "multiProcessorCount": 132, "warpSize": 32, "maxThreadsPerBlock": 1024, "l2CacheSize": 50 * 2 ** 20}


def _set_device(i):
    Device(i).use()


class MemoryPool:
    """Counts nothing real: numpy owns the memory. used/total stay 0 unless blocks are tracked by callers."""

    def __init__(self):
        self._used = 0

    def used_bytes(self):
        return self._used

    def total_bytes(self):
        return self._used

    def free_bytes(self):
        return 0

    def free_all_blocks(self, stream=None):
        pass

    def n_free_blocks(self):
        return 0

    def get_limit(self):
        return 0

    def set_limit(self, size=None, fraction=None):
        pass


_memory_pool = MemoryPool()


class Stream:
    null = None

    def __init__(self, null=False, non_blocking=False, ptr=0, priority=0):
        self.ptr, self.device_id = 0 if null else id(self), _current()

    def synchronize(self):
        pass

    def use(self):
        return self

    def wait_event(self, event):
        pass

    def record(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


Stream.null = Stream(null=True)


class Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self._time = None
        self.disable_timing = disable_timing

    def record(self, stream=None):
        import time

        self._time = time.perf_counter()

    def synchronize(self):
        pass

    @property
    def done(self):
        return True


def get_elapsed_time(start_event, end_event):
    if start_event.disable_timing or end_event.disable_timing:
        raise CUDARuntimeError("cudaErrorInvalidResourceHandle: invalid resource handle")
    return (end_event._time - start_event._time) * 1e3


def _cuda_namespace(parent):
    runtime = _Namespace(parent + ".cuda.runtime", NAMES["cupy.cuda.runtime"],
                         getDeviceCount=lambda: DEVICE_COUNT, getDevice=_current, setDevice=_set_device,
                         getDeviceProperties=_get_device_properties, deviceSynchronize=lambda: None,
                         memGetInfo=lambda: Device().mem_info, driverGetVersion=lambda: 12040,
                         runtimeGetVersion=lambda: 12040, CUDARuntimeError=CUDARuntimeError, is_hip=False)
    cuda = _Namespace(parent + ".cuda", NAMES["cupy.cuda"], Device=Device, runtime=runtime, Stream=Stream,
                      Event=Event, MemoryPool=MemoryPool, get_elapsed_time=get_elapsed_time,
                      get_current_stream=lambda device=None: Stream.null, is_available=lambda: True,
                      get_device_id=_current)
    return cuda


def _as_strided(x, shape=None, strides=None):
    _check_devices([x])
    return ndarray._wrap(np.lib.stride_tricks.as_strided(x._a, shape, strides), x._dev)


def _special():
    import math

    try:
        import scipy.special as sp
    except ImportError:
        sp = None

    def erf(x):
        fn = sp.erf if sp is not None else np.vectorize(math.erf, otypes=[x.dtype])
        return _call(fn, (x,), {})

    return _Namespace("cupyx.scipy.special", {"erf"}, None, erf=erf)


def build():
    """Fresh fake `cupy` and `cupyx` module objects."""
    cupy = _Namespace("cupy", NAMES["cupy"], np, ndarray=ndarray, asnumpy=asnumpy, asarray=asarray, array=array,
                      asanyarray=asanyarray, ascontiguousarray=ascontiguousarray,
                      get_array_module=get_array_module, get_default_memory_pool=lambda: _memory_pool,
                      __version__=CUPY_VERSION, __fake__=True)
    cupy.cuda = _cuda_namespace("cupy")
    cupy.random = _RandomModule("cupy.random", NAMES["cupy.random"], None, default_rng=default_rng,
                                Generator=Generator, RandomState=RandomState)
    stride_tricks = _Namespace("cupy.lib.stride_tricks", {"as_strided", "broadcast_to"}, None,
                               as_strided=_as_strided)
    cupy.lib = _Namespace("cupy.lib", {"stride_tricks"}, None, stride_tricks=stride_tricks)
    cupy.linalg = _Namespace("cupy.linalg", NAMES["cupy.linalg"], np.linalg)
    cupy.fft = _Namespace("cupy.fft", NAMES["cupy.fft"], np.fft)
    scipy = _Namespace("cupyx.scipy", {"special"}, None, special=_special())
    cupyx = _Namespace("cupyx", NAMES["cupyx"], None, scatter_add=scatter_add, scatter_max=_scatter(np.maximum),
                       scatter_min=_scatter(np.minimum), scipy=scipy)
    return cupy, cupyx


def install():
    """Register the fake as `cupy` and `cupyx` in sys.modules (idempotent); returns the cupy module."""
    existing = sys.modules.get("cupy")
    if existing is not None and getattr(existing, "__fake__", False):
        return existing
    cupy, cupyx = build()
    mods = {"cupy": cupy, "cupy.cuda": cupy.cuda, "cupy.cuda.runtime": cupy.cuda.runtime,
            "cupy.random": cupy.random, "cupy.lib": cupy.lib, "cupy.lib.stride_tricks": cupy.lib.stride_tricks,
            "cupy.linalg": cupy.linalg, "cupy.fft": cupy.fft, "cupyx": cupyx,
            "cupyx.scipy": cupyx.scipy, "cupyx.scipy.special": cupyx.scipy.special}
    sys.modules.update(mods)
    sys.modules[__name__ + ".cupy"] = cupy
    return cupy

