"""Thread control with PyTorch's names: `set_num_threads` sizes the thread pool of numpy's BLAS
(OpenBLAS, MKL or BLIS) at run time through threadpoolctl, the library that knows how to reach each
of them, and the pool of mytorch's compiled CPU bodies (mytorch.cpu_kernels). There is no inter-op
pool: the inter-op setting is kept for API compatibility only."""
import os

_controller = None
_interop_threads = None
_intra_op = None  # cached thread count for mytorch's own CPU kernels (mytorch.cpu_kernels)


def _blas_pools():
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            raise RuntimeError("controlling the number of threads needs threadpoolctl: pip install threadpoolctl") \
                from None
        _controller = ThreadpoolController()
    return _controller.select(user_api="blas")


def _check_positive(name, n):
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise RuntimeError(f"{name} expects a positive integer, got {n!r}")


def set_num_threads(int):  # noqa: A002  (PyTorch's parameter name)
    """Set the number of threads numpy's BLAS uses for matmuls and the like (this process only)."""
    global _intra_op
    _check_positive("set_num_threads", int)
    _blas_pools().limit(limits=int)
    _intra_op = int


def get_num_threads():
    """The number of threads of numpy's BLAS pool (the CPU count when no BLAS pool is found)."""
    info = _blas_pools().info()
    return max((pool["num_threads"] for pool in info), default=os.cpu_count() or 1)


def intra_op_threads():
    """Threads for mytorch's compiled CPU bodies: set_num_threads' value, by default numpy's BLAS thread
    count capped at the CPUs this process may run on. Cached: this is asked on every kernel call."""
    global _intra_op
    if _intra_op is None:
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cpus = os.cpu_count() or 1
        try:
            blas = get_num_threads()
        except RuntimeError:  # no threadpoolctl
            blas = cpus
        _intra_op = max(1, min(blas, cpus))
    return _intra_op


def set_num_interop_threads(int):  # noqa: A002
    global _interop_threads
    _check_positive("set_num_interop_threads", int)
    if _interop_threads is not None:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started or "
                           "set_num_interop_threads called")
    _interop_threads = int


def get_num_interop_threads():
    return _interop_threads if _interop_threads is not None else (os.cpu_count() or 1)
