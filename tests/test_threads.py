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
