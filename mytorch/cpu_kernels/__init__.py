"""Compiled CPU bodies for the hot layers: the CPU counterpart of the Triton kernels in mytorch.kernels.

numpy runs an expression such as GELU's derivative as a dozen passes over memory, each writing a
temporary, on one core. These bodies, compiled with numba, do one pass per row block, keep the
intermediates in registers, and split the rows over `mytorch.get_num_threads()` threads (plain Python
threads that sleep while they wait, so a loaded machine slows them down gracefully instead of making
them spin). They are a second body inside the same autograd Functions as the numpy code, which stays
the reference the tests compare them with.

They are used for contiguous float32 numpy arrays of at least MIN_SIZE elements, when numba is
installed (`pip install "mytorch[cpu]"`) and MYTORCH_CPU_KERNELS is not "0". Everything else (other
dtypes, small or strided arrays, cupy arrays, no numba) takes the numpy path.
"""
import os

import numpy as np

from . import _parallel

MIN_SIZE = 1 << 15  # below this numpy's per-call cost is already small
_F32 = np.dtype(np.float32)
_state = {"available": None}


def available():
    """numba can be imported and the bodies are not switched off by MYTORCH_CPU_KERNELS=0."""
    if _state["available"] is None:
        ok = os.environ.get("MYTORCH_CPU_KERNELS", "1") != "0"
        if ok:
            try:
                import numba  # noqa: F401
            except ImportError:
                ok = False
        if ok:
            _drop_stale_cache()
        _state["available"] = ok
    return _state["available"]


def _drop_stale_cache():
    """numba's on-disk cache of a function is keyed on its own file only, so a kernel that inlines
    _math.py's functions would keep stale machine code after _math.py changes. Keep a hash of this
    package's sources next to the cache and empty the cache when it differs."""
    import hashlib

    here = os.path.dirname(os.path.abspath(__file__))
    cache = os.path.join(here, "__pycache__")
    digest = hashlib.sha256()
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            with open(os.path.join(here, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    stamp = os.path.join(cache, "sources.sha256")
    try:
        with open(stamp) as f:
            if f.read() == digest.hexdigest():
                return
    except OSError:
        pass
    try:
        os.makedirs(cache, exist_ok=True)
        for name in os.listdir(cache):
            if name.endswith((".nbi", ".nbc")):
                os.remove(os.path.join(cache, name))
        tmp = f"{stamp}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(digest.hexdigest())
        os.replace(tmp, stamp)
    except OSError:  # a read-only install: numba then caches in its user-wide directory, if anywhere
        pass


def use(*arrays):
    """True when the compiled bodies apply: every array a C-contiguous float32 numpy array, the first one
    with at least MIN_SIZE elements (None entries, e.g. a missing bias, are skipped)."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.size < MIN_SIZE or not available():
        return False
    return all(a is None or (type(a) is np.ndarray and a.dtype == _F32 and a.flags.c_contiguous) for a in arrays)


def use_small(*arrays):
    """As use(), for bodies that pay off at any size (one compiled call in place of many numpy calls)."""
    first = arrays[0]
    if type(first) is not np.ndarray or not available():
        return False
    return all(type(a) is np.ndarray and a.dtype == _F32 and a.flags.c_contiguous and a.shape == first.shape
               for a in arrays)


def warm_up():
    """Compile (or load from numba's on-disk cache) every body now instead of at first use: moves the
    one-time JIT cost (seconds cold, ~60 MB of LLVM code) out of the first training step."""
    if not available():
        return
    from . import activations, adam, layer_norm, scatter, softmax

    x = np.zeros((4, 8), np.float32)
    for name in activations.NAMES:
        activations.backward(name, x, activations.forward(name, x))
    for w in (None, x[0]):
        y, mean, rstd = layer_norm.forward(x, w, w, 1e-5, False)
        layer_norm.backward(x, x, w, mean, rstd, False, True, True)
        layer_norm.backward(x, x, w, mean, rstd, True, True, False)
    for log in (False, True):
        softmax.backward(x, softmax.forward(x, 1.0, 4, log), 1.0, log)
    adam.step(x, x, x, x, 0.9, 0.999, 1e-3, 1.0, 1e-8)
    for dtype in (np.float32, np.float64):
        scatter.add_rows(np.zeros((4, 8), dtype), np.arange(4), np.zeros((4, 8), dtype))


def contiguous_copy(a):
    """A C-contiguous copy of numpy array a; transposed float views of MIN_SIZE or more elements are
    copied tile by tile (mytorch.cpu_kernels.copy), everything else by numpy."""
    if type(a) is not np.ndarray:
        return a.copy()
    if a.size >= MIN_SIZE and a.dtype.char in "fd" and available():
        from . import copy

        if copy.is_transposed(a):
            out = copy.copy_c(a)
            if out is not None:
                return out
    if a.ndim and a.size >= _parallel.PAR_MIN:  # rows copied by several threads (numpy's copy drops the GIL)
        out = np.empty(a.shape, a.dtype)
        _parallel.run(np.copyto, (out, a))
        return out
    return np.array(a, order="C")
