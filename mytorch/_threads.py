"""Thread control with PyTorch's names: `set_num_threads` sizes the thread pool of numpy's BLAS
(OpenBLAS, MKL or BLIS) at run time through threadpoolctl, the library that knows how to reach each
of them, and the pool of mytorch's compiled CPU bodies (mytorch.cpu_kernels). There is no inter-op
pool: the inter-op setting is kept for API compatibility only.

The default follows the load. Until set_num_threads is called, and unless a thread count is fixed in the
environment (OMP_NUM_THREADS, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS, NUMBA_NUM_THREADS), the threads a
body runs on are re-read from the machine's load about twice a second (Linux): the CPUs this process may
use, less those other processes kept busy since the last look (/proc/stat, less this process's own
os.times()). Parallel code whose threads are preempted waits at every barrier for the slowest one: beside
one other CPU-bound process on 2 cores a GPT step on 2 threads ran 3x slower than on 1 (231 vs 75 ms). The count
goes down once the free CPUs fall half a CPU below it, back up once they are three quarters of a CPU
above it, never above the default (numpy's BLAS thread count, capped at those CPUs), and numpy's BLAS pool
is sized with it."""
import os
import time

_controller = None
_interop_threads = None
_intra_op = None  # set_num_threads' value (tests patch it); None: the default, adapted to the load
_adaptive = None  # the _Adaptive that sizes the default, made on first use

_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


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
    """Set the number of threads numpy's BLAS and mytorch's compiled bodies use (this process only); the
    count then stays as set, whatever the load."""
    global _intra_op
    _check_positive("set_num_threads", int)
    _blas_pools().limit(limits=int)
    _intra_op = int


_private = set()  # real paths of BLAS libraries loaded for mytorch's own pool (cpu_kernels.gemm), on one thread


def private_blas(path):
    """Leave the library at path out of the thread count: mytorch loaded it on its sequential layer, and it
    reports the machine's CPU count, not threads of its own."""
    _private.add(os.path.realpath(path))


def _blas_threads():
    info = [pool for pool in _blas_pools().info() if os.path.realpath(pool["filepath"]) not in _private]
    return max((pool["num_threads"] for pool in info), default=os.cpu_count() or 1)


def get_num_threads():
    """set_num_threads' value; by default numpy's BLAS thread count (the CPU count when no BLAS pool is found),
    the most the load-following default uses."""
    if _intra_op is not None:
        return _intra_op
    if _adaptive is not None:
        return _adaptive.ceiling
    return _blas_threads()


def _cpus():
    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # not on Linux
        return range(os.cpu_count() or 1)


def intra_op_threads():
    """Threads for mytorch's compiled CPU bodies: set_num_threads' value, else the default adapted to the
    load (see the module's doc). Asked on every kernel call: a clock read between two looks at the load."""
    if _intra_op is not None:
        return _intra_op
    if _adaptive is None:
        _start_adaptive()
    return _adaptive.threads()


def _start_adaptive():
    global _adaptive
    cpus = _cpus()
    try:
        blas = _blas_threads()
        limit = _limit_blas
    except RuntimeError:  # no threadpoolctl
        blas, limit = len(cpus), None
    ceiling = max(1, min(blas, len(cpus)))
    fixed = any(os.environ.get(name) for name in _THREAD_ENV)
    sampler = None if fixed or ceiling == 1 else _ProcStat.open(cpus)
    _adaptive = _Adaptive(ceiling, sampler, limit)


def _limit_blas(n):
    _blas_pools().limit(limits=n)


class _ProcStat:
    """Counters for the load: CPU time the given CPUs spent busy, and this process's own, both in clock ticks."""

    def __init__(self, cpus):
        self.names = {f"cpu{i}" for i in cpus}
        self.tick = os.sysconf("SC_CLK_TCK")

    @classmethod
    def open(cls, cpus):
        """A sampler, or None where /proc/stat can't be read (not Linux)."""
        try:
            sampler = cls(cpus)
            sampler()
            return sampler
        except (OSError, ValueError, AttributeError):
            return None

    def __call__(self):
        """(busy ticks of those CPUs, all their ticks, this process's ticks)."""
        busy = total = 0
        with open("/proc/stat", "rb") as f:
            for line in f:
                if not line.startswith(b"cpu"):
                    break
                fields = line.split()
                if fields[0].decode() in self.names:
                    ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
                    total += sum(ticks)
                    busy += sum(ticks) - ticks[3] - ticks[4]
        own = os.times()
        return busy, total, (own.user + own.system) * self.tick


class _Adaptive:
    """The default thread count, re-read from `sample` (a _ProcStat, or None: fixed) every `period` seconds."""

    period = 0.5

    def __init__(self, ceiling, sample, limit_blas=None, clock=time.monotonic):
        self.ceiling, self.current = ceiling, ceiling
        self.sample, self.limit_blas, self.clock = sample, limit_blas, clock
        self.ncpu = len(sample.names) if sample is not None else ceiling
        self.last = sample() if sample is not None else None
        self.due = clock() + self.period

    def threads(self):
        if self.sample is not None and self.clock() >= self.due:
            self.look()
        return self.current

    def look(self):
        self.due = self.clock() + self.period
        now = self.sample()
        (busy0, total0, own0), (busy1, total1, own1) = self.last, now
        self.last = now
        elapsed = (total1 - total0) / self.ncpu  # ticks of one CPU's clock
        if elapsed <= 0 or own1 < own0:  # no tick yet, or a fork() child's fresh counters
            return
        others = max(0.0, (busy1 - busy0) - (own1 - own0)) / elapsed
        free = self.ncpu - others
        n = self.current
        if free < n - 0.5:
            n = int(free + 0.5)
        elif free >= n + 0.75:
            n = int(free + 0.25)
        n = max(1, min(self.ceiling, n))
        if n != self.current:
            self.current = n
            if self.limit_blas is not None:
                self.limit_blas(n)

    def after_fork(self):
        if self.sample is not None:
            self.last = self.sample()
            self.due = self.clock() + self.period


def _forked_child():
    if _adaptive is not None:
        _adaptive.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked_child)


def set_num_interop_threads(int):  # noqa: A002
    global _interop_threads
    _check_positive("set_num_interop_threads", int)
    if _interop_threads is not None:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started or "
                           "set_num_interop_threads called")
    _interop_threads = int


def get_num_interop_threads():
    return _interop_threads if _interop_threads is not None else (os.cpu_count() or 1)
