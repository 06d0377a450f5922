"""Split a kernel's work into contiguous ranges, one per thread.

A kernel is a numba function compiled with nogil=True that takes row blocks of its arrays (the same
rows of each) followed by shared arguments. The calling thread runs the first range itself; the others go to a
small pool of plain Python threads, which block (never spin) while idle.
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._threads import intra_op_threads

MIN_PER_THREAD = 1 << 14  # elements: below this a thread hand-off costs more than it saves
_pool = {"executor": None, "size": 0}


def _executor(n):
    if _pool["executor"] is None or _pool["size"] < n:
        if _pool["executor"] is not None:
            _pool["executor"].shutdown(wait=False)
        _pool["executor"] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="mytorch-cpu")
        _pool["size"] = n
    return _pool["executor"]


def _forget_pool():  # a forked child has none of the parent's threads
    _pool["executor"], _pool["size"] = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def split(n, work_per_item=1):
    """Range bounds dividing n items over the threads worth using for n * work_per_item elements."""
    threads = max(1, min(intra_op_threads(), (n * work_per_item) // MIN_PER_THREAD, n))
    return [n * i // threads for i in range(threads + 1)]


def run(kernel, arrays, *args):
    """kernel(*(a[start:stop] for a in arrays), *args) for row ranges covering every row of the arrays
    (all with the same first dimension); returns the kernels' results in row order."""
    n = len(arrays[0])
    bounds = split(n, arrays[0].size // max(n, 1))
    if len(bounds) == 2:
        return [kernel(*arrays, *args)]
    pool = _executor(len(bounds) - 2)
    futures = [pool.submit(kernel, *(a[bounds[i]:bounds[i + 1]] for a in arrays), *args)
               for i in range(1, len(bounds) - 1)]
    first = kernel(*(a[:bounds[1]] for a in arrays), *args)
    return [first] + [f.result() for f in futures]


PAR_MIN = 1 << 18  # elements: below this one thread is as fast


def ufunc(f, *args):
    """f(*args) for a numpy ufunc; when the array arguments are large C-contiguous numpy arrays of one
    shape, their rows are split over the threads (numpy releases the GIL inside ufunc loops), writing
    into one output. Values are identical to f(*args): each element is computed by the same loop."""
    first = args[0]
    if type(first) is not np.ndarray or first.size < PAR_MIN or type(f) is not np.ufunc:  # the common case
        return f(*args)
    arrays = [a for a in args if type(a) is np.ndarray]
    if (intra_op_threads() == 1 or any(a.shape != first.shape or not a.flags.c_contiguous for a in arrays)
            or any(not (type(a) is np.ndarray or isinstance(a, (int, float))) for a in args)):
        return f(*args)
    out = np.empty(first.shape, np.result_type(*args))
    positions = [i for i, a in enumerate(args) if type(a) is np.ndarray]

    def part(o, *chunks):
        call = list(args)
        for i, c in zip(positions, chunks):
            call[i] = c
        f(*call, out=o)

    run(part, [out] + [args[i] for i in positions])
    return out
