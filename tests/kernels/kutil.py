import numpy as np
import pytest

triton = pytest.importorskip("triton", reason="triton is not installed; the fused kernels cannot run")

TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float16: dict(rtol=2e-2, atol=2e-2)}


def assert_close(actual, expected, dtype=np.float32, scale=1.0):
    tol = TOL[np.dtype(dtype).type]
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               rtol=tol["rtol"], atol=tol["atol"] * scale)


def randn(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed + len(shape)).standard_normal(shape).astype(dtype)
