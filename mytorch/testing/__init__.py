"""Test-only helpers. Nothing here is imported by mytorch unless MYTORCH_FAKE_CUDA=1 asks for the fake GPU."""

# Test files whose CUDA-capable tests run with MYTORCH_TEST_DEVICE=cuda (tests/helpers.pair builds CUDA tensors):
# on a real GPU by `python -m mytorch.utils.gpu_report --part tests`, and the smoke slice under the fake GPU in CI
# (tests/test_fake_cuda.py::test_suite_under_fake_cuda). Paths are relative to the repository root.
SMOKE_DEVICE_TEST_FILES = ("tests/ops/test_reduce.py", "tests/ops/test_linalg.py")
DEVICE_TEST_FILES = ("tests/test_fake_cuda.py", "tests/ops/test_shape.py") + SMOKE_DEVICE_TEST_FILES
