"""Test-only helpers. Nothing here is imported by mytorch unless MYTORCH_FAKE_CUDA=1 asks for the fake GPU."""

# Test files whose CUDA-capable tests run with MYTORCH_TEST_DEVICE=cuda (tests/helpers.pair builds CUDA tensors):
# under the fake GPU in CI (tests/test_fake_cuda.py::test_suite_under_fake_cuda) and on a real GPU by
# `python -m mytorch.utils.gpu_report --part tests`. Paths are relative to the repository root.
SMOKE_DEVICE_TEST_FILES = ("tests/ops/test_reduce.py", "tests/ops/test_linalg.py", "tests/ops/test_shape.py",
                           "tests/ops/test_elementwise.py", "tests/nn/test_pooling.py", "tests/nn/test_normalization.py")
DEVICE_TEST_FILES = ("tests/test_fake_cuda.py",) + SMOKE_DEVICE_TEST_FILES
# pytest -k for those files: leaves out tests that build CPU tensors of their own next to pair()'s CUDA ones
# (or check CPU-only behaviour), so they would fail for a reason that is no device bug
DEVICE_TEST_SELECT = ("not test_where and not test_device_mismatch_message and not test_max_unpool "
                      "and not running_stats_functional and not functional_running_stats")

from ._comparison import assert_allclose, assert_close  # noqa: E402,F401  (torch.testing's comparisons)
from ._creation import make_tensor  # noqa: E402,F401
