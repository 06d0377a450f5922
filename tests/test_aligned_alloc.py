"""numpy arrays on 64-byte boundaries once the compiled CPU bodies load (mytorch.cpu_kernels.aligned): every
way numpy allocates (empty, zeros, growing and shrinking in place, huge blocks) keeps data intact."""
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba", reason="the aligned allocator is compiled with numba")
from mytorch.cpu_kernels import aligned  # noqa: E402

installed = aligned.install()
pytestmark = pytest.mark.skipif(not installed, reason="numpy without NEP 49 allocators, or MYTORCH_ALIGNED_ALLOC=0")


@pytest.mark.parametrize("n", [0, 1, 3, 17, 1000, 4096, 100_003, (1 << 22) // 4 + 5])
def test_new_arrays_are_aligned_and_hold_their_data(n):
    a = np.empty(n, np.float32)
    z = np.zeros(n, np.float64)
    assert a.ctypes.data % 64 == 0 and z.ctypes.data % 64 == 0
    assert not z.any()
    a[:] = np.arange(n, dtype=np.float32)
    assert np.array_equal(a, np.arange(n, dtype=np.float32))
    assert aligned._numpy_multiarray().get_handler_name(a) == aligned.NAME.decode()


@pytest.mark.parametrize("start, end", [(10, 1000), (100_000, 10), (1000, 3_000_000), (7, 8)])
def test_resizing_in_place_keeps_the_data(start, end):
    a = np.arange(start, dtype=np.float64)
    a.resize(end, refcheck=False)  # numpy's realloc
    keep = min(start, end)
    assert a.ctypes.data % 64 == 0
    assert np.array_equal(a[:keep], np.arange(keep, dtype=np.float64))
    if end > start:
        assert not a[start:].any()  # numpy zeroes the new part


def test_many_allocations_and_frees():
    arrays = [np.full(i, i, np.int32) for i in range(0, 3000, 7)]
    assert all(a.ctypes.data % 64 == 0 and (a == i).all() for a, i in zip(arrays, range(0, 3000, 7)))
    del arrays[::2]
    more = [np.ones((i, 3)) for i in range(200)]
    assert sum(int(m.sum()) for m in more) == 3 * sum(range(200))


def test_switched_off_by_the_environment():
    code = ("import numpy as np; from mytorch.cpu_kernels import aligned; print(aligned.install(), "
            "aligned._numpy_multiarray().get_handler_name())")
    env = {**os.environ, "MYTORCH_ALIGNED_ALLOC": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.stdout.split() == ["False", "default_allocator"], out.stderr[-2000:]
