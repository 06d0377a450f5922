import os

import numpy as np
import pytest

os.environ.setdefault("WANDB_MODE", "offline")


@pytest.fixture(autouse=True)
def _seed():
    import mytorch

    np.random.seed(0)
    mytorch.manual_seed(0)
    yield


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run tests marked slow (full-length training runs); or set MYTORCH_RUN_SLOW=1")
    parser.addoption("--fake-cuda", action="store_true", default=False,
                     help="run CUDA code on mytorch.testing.fake_cupy, a strict numpy-backed stand-in for cupy "
                          "with two devices (same as MYTORCH_FAKE_CUDA=1)")


def pytest_configure(config):
    if config.getoption("--fake-cuda"):
        os.environ["MYTORCH_FAKE_CUDA"] = "1"  # read when mytorch first looks for cupy


def pytest_collection_modifyitems(config, items):
    import mytorch

    fake = os.environ.get("MYTORCH_FAKE_CUDA") == "1"
    if fake or not mytorch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a real NVIDIA GPU (the fake one runs no Triton kernels)" if fake else
                                "needs an NVIDIA GPU with cupy; none on this machine")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
    if not (config.getoption("--runslow") or os.environ.get("MYTORCH_RUN_SLOW") == "1"):
        skip_slow = pytest.mark.skip(reason="slow: run with --runslow or MYTORCH_RUN_SLOW=1")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip_slow)
