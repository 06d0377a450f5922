"""Guard: every public op is exercised by one of the op test tables (each module's COVERED set)."""
import importlib
import pathlib

import mytorch
from mytorch.ops._registry import PUBLIC_OPS

TABLES = ["elementwise", "reduce", "linalg", "shape", "index", "factory", "more_ops", "complex", "fft",
          "ops_gaps"]
# entries of PyTorch's OpInfo database that tests/test_opinfo.py holds passing also count as parity cases
OPINFO_RATCHET = pathlib.Path(__file__).parents[1] / "opinfo_passing.txt"


def opinfo_covered():
    entries = [line.strip() for line in OPINFO_RATCHET.read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    return {name for name in PUBLIC_OPS if any(e == name or e.startswith(name + ".") for e in entries)}

# creation/randomness helpers tested by behaviour in test_factory.py rather than by parity
NOT_PARITY = set()


def test_every_public_op_is_tested():
    covered = set()
    for name in TABLES:
        mod = importlib.import_module(f"tests.ops.test_{name}")
        covered |= set(getattr(mod, "COVERED"))
    covered |= importlib.import_module("tests.test_api_gaps").COVERED  # in-place variants, aliases, API gaps
    covered |= opinfo_covered()
    missing = sorted(set(PUBLIC_OPS) - covered - NOT_PARITY)
    assert not missing, f"public ops without a parity test: {missing}"


def test_public_ops_are_exported():
    for name in PUBLIC_OPS:
        assert hasattr(mytorch, name), name
