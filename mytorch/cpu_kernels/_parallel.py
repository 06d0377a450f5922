"""One or several threads for a compiled body.

A body is written once, with `numba.prange` over independent rows (or blocks of elements), and compiled
twice: serially, and with parallel=True, where numba's threading layer splits the prange loop over
`mytorch.get_num_threads()` threads. The parallel twin runs only where it pays and is safe:
    - the first array has at least cpu_kernels.PAR_MIN elements (below that one thread finishes sooner);
    - the threading layer is OpenMP or TBB (numba's fallback "workqueue" layer takes ~150 us per hand-off
      and is not thread-safe, so it isn't used). The pool is PyTorch's kind: one pool for the elementwise
      bodies and for the large matrix products (cpu_kernels.gemm runs numpy's OpenBLAS inside it, one
      OpenBLAS thread per worker), so that OpenBLAS's own threads stay asleep. Its threads spin for a while
      after each body, for the next one to find them awake: waking a sleeping thread costs 50-150 us on a
      2-core VM (and made 1M-element sums 3x slower there), against ~2 us for a spinning one. Unless
      OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, the pool is started with GOMP_SPINCOUNT=100000, ~0.2 ms of
      spinning: long enough to cover the Python between two ops of a training step (a GPT step at dim 128:
      38 ms with the GEMMs on OpenBLAS's pool and 1000 spins, 31.5 ms so), short enough to leave an idle
      process's cores alone. Where another library (PyTorch, say) has already loaded GNU OpenMP, its pool,
      spinning long, would be shared, and with numpy's BLAS beside it a step ran 4.6x slower: the serial
      twins run then (and numpy's matmul);
    - this process is not a fork() child of one that started the pool (GNU OpenMP can't be used after a
      fork: numba kills the child that tries). DataLoader workers and the like run the serial twin.
"""
import contextlib
import os
import threading
import types

import numba as nb

from .. import cpu_kernels as _package
from .._threads import intra_op_threads

SPINCOUNT = "100000"  # GNU OpenMP's idle spin, in turns of its wait loop (see above)
_state = {"layer": None, "forked": False, "forced": None}  # layer: None (not started), False (unusable) or a name
_set = threading.local()  # .threads: the count this thread last gave numba (numba's setting is per thread)


def _forked_child():
    if _state["layer"]:
        _state["forked"] = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked_child)


def _layer():
    """The name of numba's threading layer, starting it on first use; False when it's one we don't use."""
    if _state["layer"] is None:
        name = False
        try:
            from numba.np.ufunc import parallel

            ours = not ({"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & set(os.environ))
            if ours and _gomp_loaded():
                _state["layer"] = False
                return False
            if ours:  # read once, when GNU OpenMP loads; no lasting change to this process's environment
                os.environ["GOMP_SPINCOUNT"] = SPINCOUNT
            try:
                parallel._launch_threads()
            finally:
                if ours:
                    del os.environ["GOMP_SPINCOUNT"]
            name = nb.threading_layer()
        except (ImportError, ValueError, RuntimeError, OSError):
            pass
        _state["layer"] = name if name in ("omp", "tbb") else False
    return _state["layer"]


def _gomp_loaded():
    """GNU OpenMP is already mapped into this process (Linux; elsewhere: assume not)."""
    try:
        with open("/proc/self/maps") as f:
            return "libgomp" in f.read()
    except OSError:
        return False


@contextlib.contextmanager
def forced(n):
    """Within: every body runs on n threads whatever its size (warm_up compiles both twins so)."""
    _state["forced"] = n
    try:
        yield
    finally:
        _state["forced"] = None


def threads(size, min_size=None):
    """The threads a body over `size` elements runs on (1: the serial twin); min_size: PAR_MIN."""
    if _state["forced"] is not None:
        return _state["forced"]
    n = intra_op_threads()
    if n == 1 or size < (_package.PAR_MIN if min_size is None else min_size) or _state["forked"] or not _layer():
        return 1
    return min(n, nb.config.NUMBA_NUM_THREADS)


def _twin(fn):
    """A copy of fn under another name, so that numba caches the parallel compilation in its own file."""
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel", fn.__defaults__,
                              fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_parallel"
    twin.__module__ = fn.__module__
    twin.__doc__ = fn.__doc__
    return twin


class Kernel:
    """A body compiled serially (`.serial`) and in parallel; calling it picks by the first array's size."""

    def __init__(self, fn, options):
        options = {"nogil": True, "error_model": "numpy", "cache": True, **options}
        self.serial = nb.njit(**options)(fn)
        self.parallel = nb.njit(parallel=True, **options)(_twin(fn))
        self.__doc__, self.__name__ = fn.__doc__, fn.__name__

    def __call__(self, *args):
        return self.run(threads(args[0].size), *args)

    def run(self, n, *args):
        """On n threads (as threads() chose: callers that size per-thread buffers pass the same n)."""
        if n == 1:
            return self.serial(*args)
        if getattr(_set, "threads", None) != n:  # asking numba costs more than the body's hand-off
            nb.set_num_threads(n)
            _set.threads = n
        return self.parallel(*args)


def kernel(**options):
    """Decorator: a Kernel from a body written with numba.prange; options go to numba.njit."""
    return lambda fn: Kernel(fn, options)
