"""mytorch.set_num_threads / get_num_threads control numpy's BLAS pool, with PyTorch's errors."""
import subprocess
import sys

import pytest
import torch

import mytorch


def test_set_num_threads_limits_the_blas_pool():
    before = mytorch.get_num_threads()
    try:
        mytorch.set_num_threads(1)
        assert mytorch.get_num_threads() == 1
        from threadpoolctl import threadpool_info

        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    finally:
        mytorch.set_num_threads(before)
    assert mytorch.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_bad_thread_counts_raise_like_pytorch(bad):
    with pytest.raises((RuntimeError, TypeError)):
        torch.set_num_threads(bad)
    with pytest.raises(RuntimeError, match="positive integer"):
        mytorch.set_num_threads(bad)


def test_interop_threads_set_once():
    code = ("import mytorch; mytorch.set_num_interop_threads(2); print(mytorch.get_num_interop_threads());"
            "\ntry:\n    mytorch.set_num_interop_threads(3)\nexcept RuntimeError as e:\n    print('refused')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.split()
    assert out == ["2", "refused"]


class _Counters:
    """Synthetic /proc/stat: `others` cores kept busy by other processes and `own` by this one, per step."""

    def __init__(self, ncpu):
        self.names = {f"cpu{i}" for i in range(ncpu)}
        self.ncpu, self.busy, self.total, self.mine = ncpu, 0, 0, 0
        self.others, self.own = 0.0, 0.0

    def step(self, ticks=50):
        self.total += self.ncpu * ticks
        self.busy += round((self.others + self.own) * ticks)
        self.mine += round(self.own * ticks)

    def __call__(self):
        return self.busy, self.total, self.mine


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _run(adaptive, counters, clock, seconds):
    for _ in range(int(seconds / adaptive.period)):
        counters.step()
        clock.t += adaptive.period
        adaptive.threads()
    return adaptive.threads()


def test_default_threads_follow_the_load():
    from mytorch._threads import _Adaptive

    counters, clock, limits = _Counters(2), _Clock(), []
    adaptive = _Adaptive(2, counters, limits.append, clock)
    counters.own = 2.0
    assert _run(adaptive, counters, clock, 2) == 2 and limits == []  # alone: both cores
    counters.others, counters.own = 0.7, 1.3  # another CPU-bound process takes its share
    assert _run(adaptive, counters, clock, 1) == 1 and limits == [1]  # and numpy's BLAS pool follows
    counters.others, counters.own = 1.0, 1.0
    assert _run(adaptive, counters, clock, 5) == 1  # still there: stays down, no flapping
    counters.others, counters.own = 0.0, 1.0
    assert _run(adaptive, counters, clock, 1) == 2 and limits == [1, 2]  # gone: back up to the default
    counters.others = 0.4  # a little background work: not worth a thread
    assert _run(adaptive, counters, clock, 3) == 2 and limits == [1, 2]


def test_default_threads_scale_on_a_larger_machine():
    from mytorch._threads import _Adaptive

    counters, clock = _Counters(8), _Clock()
    adaptive = _Adaptive(8, counters, None, clock)
    counters.others, counters.own = 3.0, 5.0
    assert _run(adaptive, counters, clock, 1) == 5
    counters.others, counters.own = 9.0, 0.5  # oversubscribed: one thread, never zero
    assert _run(adaptive, counters, clock, 1) == 1
    counters.others = 0.0
    assert _run(adaptive, counters, clock, 1) == 8  # never above the default


def test_set_num_threads_and_thread_env_fix_the_count():
    code = ("import mytorch, mytorch._threads as t; n = t.intra_op_threads();"
            "print(t._adaptive.sample is None, mytorch.get_num_threads())")
    env = {k: v for k, v in __import__("os").environ.items() if not k.endswith("NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**env, "OMP_NUM_THREADS": "1"}).stdout.split()
    assert out == ["True", "1"]
    code = "import mytorch, mytorch._threads as t; mytorch.set_num_threads(1); print(t.intra_op_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=env).stdout.split()
    assert out == ["1"]


@pytest.mark.skipif(not __import__("os").path.exists("/proc/stat"), reason="reads Linux's /proc/stat")
def test_proc_stat_sees_another_busy_process():
    import os
    import time

    from mytorch._threads import _ProcStat

    sample = _ProcStat.open(os.sched_getaffinity(0))
    assert sample is not None
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        (b0, t0, o0) = sample()
        time.sleep(1.0)
        (b1, t1, o1) = sample()
    finally:
        busy.kill()
        busy.wait()
    others = ((b1 - b0) - (o1 - o0)) / ((t1 - t0) / len(sample.names))
    assert others >= 0.3  # the busy loop, a whole core minus what a loaded CI box takes from it
