"""The device layer: maps a device to its array library (numpy for "cpu", cupy for "cuda").

Everything above this module works on raw arrays through `xp = array_module(device)`, so the
same op code runs on numpy and cupy. cupy is imported lazily and is optional.
"""
import os

import numpy as np

_cupy = None
_cupy_checked = False
_cupy_error = None  # why cupy is unusable, for error messages


def cupy_module():
    """cupy if it is installed and sees a GPU, else None."""
    global _cupy, _cupy_checked, _cupy_error
    if not _cupy_checked:
        _cupy_checked = True
        if os.environ.get("MYTORCH_FAKE_CUDA") == "1":  # the test suite's strict fake GPU, numpy inside
            from .testing import fake_cupy

            fake_cupy.install()
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() > 0:
                _cupy = cupy
            else:
                _cupy_error = "cupy sees no GPU"
        except Exception as e:  # ImportError, or a CUDA runtime with no device/driver
            _cupy = None
            _cupy_error = f"{type(e).__name__}: {e}"
    return _cupy


class device:
    """`mytorch.device("cuda:1")`, `device("cpu")`, `device("cuda", 0)`."""

    __slots__ = ("type", "index")

    def __new__(cls, spec, index=None):
        if isinstance(spec, device):
            return spec
        if isinstance(spec, int):
            spec, index = "cuda", spec
        if not isinstance(spec, str):
            raise TypeError(f"device() expects a string or int, got {type(spec).__name__}")
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {spec}")
        if idx:
            if index is not None:
                raise RuntimeError(f"device string {spec!r} already names an index")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{spec}'")
            index = int(idx)
        key = (kind, index)
        cached = _DEVICES.get(key)
        if cached is None:
            cached = object.__new__(cls)
            object.__setattr__(cached, "type", kind)
            object.__setattr__(cached, "index", index)
            _DEVICES[key] = cached
        return cached

    def __setattr__(self, name, value):
        raise AttributeError("device is immutable")

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))

    # `with mytorch.device("cuda"):` makes it the factories' default device inside the block
    def __enter__(self):
        _DEFAULT_STACK.append(_DEFAULT["device"])
        _DEFAULT["device"] = self
        return self

    def __exit__(self, *exc):
        _DEFAULT["device"] = _DEFAULT_STACK.pop()
        return False


_DEVICES = {}
CPU = device("cpu")
_DEFAULT = {"device": None}  # set_default_device's device; None: the CPU
_DEFAULT_STACK = []


def set_default_device(spec):
    """The device factories (zeros, randn, tensor of Python data, nn layers' parameters) use when given none."""
    _DEFAULT["device"] = None if spec is None else device(spec)


def get_default_device():
    d = _DEFAULT["device"]
    if d is None:
        return CPU
    return to_device(d) if d.type == "cuda" else d


def factory_device(spec):
    """A factory's device argument: as given, else the default device."""
    if spec is None:
        spec = _DEFAULT["device"]
    return to_device(spec)


def to_device(spec):
    """Normalise a user device spec; CUDA without an index means the current GPU (0)."""
    if spec is None:
        return CPU
    d = device(spec)
    if d.type == "cuda":
        cp = cupy_module()
        if cp is None:
            raise RuntimeError(f"CUDA is not available ({_cupy_error}): pip install 'mytorch[gpu]' (CUDA 12) or "
                               "'mytorch[gpu-cuda13]' on a machine with an NVIDIA driver; or use device='cpu'")
        if d.index is None:
            d = device("cuda", cp.cuda.runtime.getDevice())
        n = cp.cuda.runtime.getDeviceCount()
        if d.index >= n:
            raise RuntimeError(f"CUDA error: invalid device ordinal {d.index} (this machine has {n} GPU(s))")
    return d


def array_module(dev):
    """numpy for a CPU device, cupy for a CUDA one."""
    return np if dev.type == "cpu" else cupy_module()


def device_of_array(arr):
    """The device an ndarray lives on (numpy scalars, e.g. a 0-d product in a backward, are on the CPU)."""
    if isinstance(arr, (np.ndarray, np.generic)):
        return CPU
    cp = cupy_module()
    if cp is not None and isinstance(arr, cp.ndarray):
        return device("cuda", arr.device.id)
    raise TypeError(f"expected a numpy or cupy array, got {type(arr).__name__}")


def move_array(arr, dev):
    """Copy an array to another device (no copy when it is already there)."""
    src = device_of_array(arr)
    if src == dev:
        return arr
    cp = cupy_module()
    if dev.type == "cpu":
        return cp.asnumpy(arr)
    with cp.cuda.Device(dev.index):
        return cp.asarray(arr)


def get_array_module(arr):
    """numpy or cupy, whichever owns `arr`."""
    if isinstance(arr, np.ndarray) or np.isscalar(arr):
        return np
    cp = cupy_module()
    if cp is not None:
        return cp.get_array_module(arr)
    return np


def xp_of(arr):
    """Fast array-module lookup for the hot path."""
    return np if type(arr) is np.ndarray else get_array_module(arr)


def _data_reader():
    """A fast reader of a numpy array's data address. ndarray.ctypes.data builds a ctypes helper object on
    every call (~0.7 us); numpy's C struct keeps the address right after the object header (PyArrayObject's
    `data`, fixed since numpy 1.0), which ctypes reads in ~0.1 us where id() is the object's address
    (CPython). Checked against ctypes.data on a view here; elsewhere the ctypes way."""
    import ctypes

    read = ctypes.c_void_p.from_address
    offset = object.__basicsize__
    probe = np.zeros((3, 5), np.float32)[1:, 2:]
    try:
        if read(id(probe) + offset).value == probe.ctypes.data:
            return lambda a: read(id(a) + offset).value
    except (OSError, ValueError, TypeError):
        pass
    return lambda a: a.ctypes.data


data_address = _data_reader()  # data_address(a): the address of numpy array a's first element


def repeat_view(one, shape):
    """A read-only view showing the one element of `one` at every index of `shape` (all strides 0): what
    broadcast_to makes of it, built directly on numpy (broadcast_to's argument handling costs ~4 us)."""
    if type(one) is np.ndarray and one.flags.c_contiguous:
        view = np.ndarray(shape, one.dtype, buffer=one, strides=(0,) * len(shape))
        view.flags.writeable = False
        return view
    return xp_of(one).broadcast_to(one.reshape(()), shape)


def gpu_guard(op, arrays):
    """The cupy device context an op on GPU arrays runs under (PyTorch's device guard).

    Checks the arrays share one GPU, as PyTorch does: 0-d CPU arrays (Python-scalar-like) may join in,
    nothing else. Without the guard cupy would allocate the result on the *current* GPU, or refuse.
    """
    cp = cupy_module()
    dev = None
    for a in arrays:
        if isinstance(a, np.ndarray):
            if a.ndim == 0:
                continue
            where = "cpu"
        elif cp is not None and isinstance(a, cp.ndarray):
            where = a.device.id
        else:
            continue
        if dev is None:
            dev = where
        elif where != dev:
            names = sorted(f"cuda:{d}" if d != "cpu" else d for d in (dev, where))
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{names[-1]} and {names[0]}! (when checking arguments for {op})")
    if dev is None or dev == "cpu" or dev == cp.cuda.runtime.getDevice():
        return _NO_GUARD
    return cp.cuda.Device(dev)


class _NoGuard:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NO_GUARD = _NoGuard()


def on_device(dev):
    """`with on_device(dev):` new GPU arrays land on `dev` (cupy allocates on the current GPU)."""
    if dev.type == "cpu" or dev.index == cupy_module().cuda.runtime.getDevice():
        return _NO_GUARD
    return cupy_module().cuda.Device(dev.index)


def scalars_to_gpu(arrays):
    """0-d CPU arrays among a GPU op's inputs, copied to the current GPU (cupy takes no numpy arrays);
    PyTorch lets CPU scalar tensors join CUDA ops."""
    cp = cupy_module()
    if cp is None or not any(type(a) is np.ndarray for a in arrays):
        return arrays
    return [cp.asarray(a) if type(a) is np.ndarray and a.ndim == 0 else a for a in arrays]
