"""Compiled CPU bodies for the hot layers: the CPU counterpart of the Triton kernels in mytorch.kernels.

numpy runs an expression such as GELU's derivative as a dozen passes over memory, each writing a
temporary, on one core. These bodies, compiled with numba, do one pass per row block, keep the
intermediates in registers, and split large inputs' rows over `mytorch.get_num_threads()` threads
(numba's OpenMP pool, see _parallel.py). They are a second body inside the same autograd Functions as
the numpy code, which stays the reference the tests compare them with.

They are used for contiguous float32 numpy arrays of at least MIN_SIZE elements, when numba is
installed (`pip install "mytorch[cpu]"`) and MYTORCH_CPU_KERNELS is not "0". Everything else (other
dtypes, small or strided arrays, cupy arrays, no numba) takes the numpy path. Elementwise arithmetic
(binary below) uses them only to add threads: on one thread numpy runs it.
"""
import os

import numpy as np

MIN_SIZE = 1 << 15  # below this numpy's per-call cost is already small
# elements from which a body runs on several threads (_parallel): compute-heavy bodies (GELU, softmax,
# layer norm, AdamW) from PAR_MIN; memory-bound ones (arithmetic, sums) from PAR_MIN_ARITH
PAR_MIN = 1 << 16
PAR_MIN_ARITH = 1 << 17
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
            _wide_vectors()
            _aligned_arrays()
        _state["available"] = ok
    return _state["available"]


def _wide_vectors():
    """Let numba's code use 512-bit vectors on AVX-512 CPUs. LLVM's tuning for Intel's AVX-512 cores
    (prefer-256-bit, from the days when 512-bit code lowered the clock) keeps loops to 8 float32 lanes; the
    compute-bound bodies (exp, tanh, GELU) run up to 1.75x faster on 16 (exp of 512K floats on one thread of
    a Xeon VM: 288 -> 164 us). numba reads the CPU's features once, when its code generator starts: this
    starts it with the host's features less that tuning, then leaves numba's config as it was. Not done where
    the CPU was chosen by hand (NUMBA_CPU_NAME / NUMBA_CPU_FEATURES) or numba has started already."""
    try:
        import llvmlite.binding as ll
        from numba.core import config, registry

        if config.CPU_NAME is not None or config.CPU_FEATURES is not None \
                or "_toplevel_target_context" in vars(registry.cpu_target):
            return
        features = ll.get_host_cpu_features().flatten()
        if "+avx512f" not in features.split(","):
            return
        config.CPU_FEATURES = features + ",-prefer-256-bit"
        try:
            registry.cpu_target.target_context  # noqa: B018  (starts the code generator with them)
        finally:
            config.CPU_FEATURES = None
    except Exception:  # another numba's internals: its own tuning then
        pass


def _aligned_arrays():
    """New numpy arrays on 64-byte boundaries, as PyTorch's tensors (aligned.py: MKL's GEMMs run up to 10%
    faster so); where numpy or numba can't, arrays stay as numpy makes them."""
    try:
        from . import aligned

        aligned.install()
    except Exception:  # an older numpy, another numba's internals
        pass


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
    one-time JIT cost (seconds cold, ~60 MB of LLVM code) out of the first training step. Where the
    parallel twins can run, they are compiled too (and the thread pool started)."""
    if not available():
        return
    from . import (_parallel, activations, adam, copy, cross_entropy, elementwise, gemm, layer_norm, reduce, scatter,
                   softmax)

    x = np.zeros((4, 8), np.float32)
    for threads in sorted({1, _parallel.threads(1 << 62)}):
        with _parallel.forced(threads):
            for name in activations.NAMES:
                y = activations.forward(name, x)
                if name in activations.GRAD_NAMES:
                    activations.backward(name, x, y)
            for dy in (x, x[0, :1]):
                activations.tanh_grad(x, dy)
            for w in (None, x[0]):
                y, mean, rstd = layer_norm.forward(x, w, w, 1e-5, False)
                layer_norm.backward(x, x, w, mean, rstd, False, True, True)
                layer_norm.backward(x, x, w, mean, rstd, True, True, False)
            for log in (False, True):
                softmax.backward(x, softmax.forward(x, 1.0, 4, log), 1.0, log)
            adam.step(x, x, x, x, 0.9, 0.999, 1e-3, 1.0, 1e-8)
            cross_entropy.forward(x, np.zeros(4, np.int64), -100, 0.0)
            for ufunc in elementwise.OPS:
                elementwise.binary(ufunc, x, x[0], threads)
                elementwise.binary(ufunc, x, x, threads)
            elementwise.relu_grad(x, elementwise.relu(x, threads), threads)
            elementwise.relu_grad(x[0, :1], x, threads)
            for a, b in ((x, x), (x, x[0, :1]), (x[0, :1], x), (x[0, :1], x[0, :1])):
                elementwise.where(x > 0, a, b, threads)
            for left in (False, True):
                elementwise.binary_value(np.multiply, x, x[0, :1], left, threads)
            for v in (np.zeros((8, 4), np.float32).T, x, np.broadcast_to(x[:1], x.shape)):
                copy.copy_c(v, threads)
            copy.copy_into(np.zeros((4, 16), np.float32)[:, 8:], x, threads)  # a piece of a concatenation
            reduce.trailing_sum(x, 1)
            reduce.trailing_sum(np.zeros(2 * reduce.BLOCK, np.float32), 1)  # one long row: the block sums
            reduce.column_sums(np.zeros((4, 64), np.float32))  # 16 columns or more per thread
            for dtype in (np.float32, np.float64):  # large enough for the pool (gemm.MIN_FLOPS)
                square = np.zeros((80, 80), dtype)
                gemm.matmul(square, square)
    for dtype in (np.float32, np.float64):
        scatter.add_rows(np.zeros((4, 8), dtype), np.arange(4), np.zeros((4, 8), dtype))


def contiguous_copy(a):
    """A C-contiguous copy of numpy array a. Float views of MIN_SIZE or more elements are copied by the
    compiled bodies (mytorch.cpu_kernels.copy) where they beat numpy: transposed views tile by tile,
    broadcast views (a zero stride) as fills, and the rest when large enough to split over threads."""
    if type(a) is not np.ndarray:
        return a.copy()
    if a.size >= MIN_SIZE and a.dtype.char in "fd" and available():
        from . import _parallel, copy

        if copy.is_transposed(a):
            out = copy.copy_c(a, _parallel.threads(a.size))
        else:
            n = _threads(a.size)
            out = copy.copy_c(a, n) if n > 1 or 0 in a.strides else None
        if out is not None:
            return out
    return np.array(a, order="C")


def concatenate(arrays, axis):
    """np.concatenate(arrays, axis); float arrays of one dtype with MIN_SIZE or more elements in all are
    copied into place piece by piece over the threads (numpy copies on one)."""
    first = arrays[0]
    total = sum(a.size for a in arrays)
    if type(first) is np.ndarray and first.dtype.char in "fd" and axis >= 0 and len(arrays) > 1 and \
            total >= MIN_SIZE and available():
        dtype, shape = first.dtype, first.shape
        if all(type(a) is np.ndarray and a.dtype == dtype and a.ndim == first.ndim > axis for a in arrays) and all(
                a.shape[:axis] == shape[:axis] and a.shape[axis + 1:] == shape[axis + 1:] for a in arrays):
            n = _threads(total)
            if n > 1:
                from . import copy

                out_shape = shape[:axis] + (sum(a.shape[axis] for a in arrays),) + shape[axis + 1:]
                out = np.empty(out_shape, dtype)
                start, lead = 0, (slice(None),) * axis
                for a in arrays:
                    dst = out[lead + (slice(start, start + a.shape[axis]),)]
                    start += a.shape[axis]
                    if a.size and not (a.size >= MIN_SIZE and copy.copy_into(dst, a, n)):
                        dst[...] = a
                return out
    return np.concatenate(arrays, axis)


def broadcast_value(a):
    """The one value of a numpy array a whose every stride is 0 (a reduction's gradient, x.expand(...)), as
    a 1-element C-contiguous array; else None."""
    if a.ndim and not any(a.strides):
        return np.array(a.reshape(-1)[:1])
    return None


def _threads(size):
    """Threads for memory-bound work over `size` elements (1: numpy, or the serial twin, does it)."""
    if size < PAR_MIN_ARITH or not available():
        return 1
    from . import _parallel

    return _parallel.threads(size, PAR_MIN_ARITH)


def binary(ufunc, x, y):
    """ufunc(x, y) (np.add, np.subtract, np.multiply or np.divide), split over threads for large float32
    operands: C-contiguous of one shape, y a row broadcast over x (a bias), or either one a broadcast value
    (a reduction's gradient) beside a C-contiguous other. Bit-identical to numpy's."""
    if type(x) is np.ndarray and type(y) is np.ndarray and x.size >= PAR_MIN_ARITH and x.dtype == _F32 == y.dtype:
        if x.flags.c_contiguous and y.flags.c_contiguous and (
                y.shape == x.shape or (y.ndim == 1 and x.ndim > 1 and y.shape[0] == x.shape[-1])):
            n = _threads(x.size)
            if n > 1:
                from . import elementwise

                return elementwise.binary(ufunc, x, y, n)
        elif x.shape == y.shape:
            v, left = broadcast_value(x), True
            if v is None:
                v, left = broadcast_value(y), False
            other = y if left else x
            if v is not None and other.flags.c_contiguous:
                from . import elementwise

                return elementwise.binary_value(ufunc, other, v, left, _threads(other.size))
    return ufunc(x, y)


def _select_operand(a, shape):
    """a as where()'s compiled body takes it (a C-contiguous float32 array of `shape`, or one value as a
    1-element array), else None."""
    if type(a) is np.float32:
        return np.full(1, a)
    if type(a) is np.ndarray and a.dtype == _F32:
        if a.shape == shape and a.flags.c_contiguous:
            return a
        if a.ndim <= len(shape) and a.size == 1:
            return a.reshape(1)
        if a.shape == shape:
            return broadcast_value(a)
    return None


def where(cond, x, y):
    """np.where(cond, x, y); for a large C-contiguous bool cond and float32 x and y (each of cond's shape or
    one value), by a compiled body: numpy's where branches on every element (4 ms per million of random
    mask here, against 0.2 ms)."""
    if (type(cond) is np.ndarray and cond.dtype == np.bool_ and cond.size >= MIN_SIZE and cond.flags.c_contiguous
            and available()):
        xa, ya = _select_operand(x, cond.shape), _select_operand(y, cond.shape)
        if xa is not None and ya is not None:
            from . import elementwise

            return elementwise.where(cond, xa, ya, _threads(cond.size))
    return np.where(cond, x, y)


def relu(x):
    """max(x, 0) with nan kept, as np.maximum(x, 0); float32 arrays by the compiled body (3-7x faster than
    numpy's maximum loop, and on several threads when large)."""
    if type(x) is np.ndarray and x.size >= MIN_SIZE and x.dtype == _F32 and x.flags.c_contiguous and available():
        from . import elementwise

        return elementwise.relu(x, _threads(x.size))
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def _elementwise(name, x, numpy_fn):
    """numpy_fn(x); large float32 arrays by the compiled body `name` of activations.py, on several threads."""
    if use(x):
        from . import activations

        return activations.forward(name, x)
    return numpy_fn(x)


def exp(x):
    """np.exp(x), the compiled body to 1 ulp."""
    return _elementwise("exp", x, np.exp)


def tanh(x):
    """np.tanh(x), the compiled body within 5 ulp."""
    return _elementwise("tanh", x, np.tanh)


def tanh_grad(grad, y):
    """grad * (1 - y^2) for tanh's saved output y in one pass where both are large float32 arrays (grad may be
    a reduction's broadcast value); None elsewhere (the derivative's numpy form applies)."""
    if type(grad) is np.ndarray and grad.shape == y.shape and grad.dtype == _F32 and use(y):
        g = grad if grad.flags.c_contiguous else broadcast_value(grad)
        if g is not None:
            from . import activations

            return activations.tanh_grad(y, g)
    return None


def relu_grad(grad, y):
    """where(y <= 0, 0, grad) for relu's saved output y (PyTorch's threshold_backward: where y is nan, the
    gradient passes); grad may be a broadcast value (a reduction's gradient)."""
    if (type(grad) is np.ndarray and type(y) is np.ndarray and y.size >= MIN_SIZE and grad.dtype == _F32 == y.dtype
            and grad.shape == y.shape and y.flags.c_contiguous and available()):
        g = grad if grad.flags.c_contiguous else broadcast_value(grad)
        if g is not None:
            from . import elementwise

            return elementwise.relu_grad(g, y, _threads(y.size))
    return grad * ~(y <= 0)  # np.where(y <= 0, 0, grad) is ~10x slower
