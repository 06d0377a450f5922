"""Parity cases for the added ops that PyTorch's OpInfo samples (tests/test_opinfo.py) don't judge: the
top-level linear-algebra aliases, matrix_exp in float64, nextafter; plus behaviour the harness can't see
(clear errors, scipy-free paths)."""
import numpy as np
import pytest
import torch

import mytorch
from tests.helpers import check_against_torch, randn


def well_conditioned(n, batch=(), seed=0):
    return randn(*batch, n, n, seed=seed) + 3 * np.eye(n)


CASES = [
    ("det", (well_conditioned(4),), {}), ("det", (well_conditioned(3, (2,)),), {}),
    ("inverse", (well_conditioned(4),), {}), ("inverse", (well_conditioned(3, (2,)),), {}),
    ("slogdet", (well_conditioned(4),), {}), ("slogdet", (-well_conditioned(3, (2,)),), {}),
    ("matrix_power", (well_conditioned(3), 3), {}), ("matrix_power", (well_conditioned(3, (2,)), -2), {}),
    ("matrix_power", (well_conditioned(3), 0), {}),
    ("matrix_exp", (randn(4, 4, seed=1),), {}), ("matrix_exp", (2 * randn(2, 3, 3, seed=2),), {}),
]
COVERED = {c[0] for c in CASES} | {"nextafter"}


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_against_torch(name, args, kwargs):
    check_against_torch(getattr(mytorch, name), getattr(torch, name), *args, kwargs=kwargs)


def test_nextafter():
    a, b = randn(5, seed=3), np.array([np.inf, -np.inf, 0.0, 1.0, -1.0])
    for dtype in (np.float32, np.float64):
        mine = mytorch.nextafter(mytorch.tensor(a.astype(dtype)), mytorch.tensor(b.astype(dtype)))
        ref = torch.nextafter(torch.tensor(a.astype(dtype)), torch.tensor(b.astype(dtype)))
        np.testing.assert_array_equal(mine.numpy(), ref.numpy())


def test_linalg_errors_match_torch():
    with pytest.raises(RuntimeError, match="square"):
        mytorch.linalg.det(mytorch.ones(2, 3))
    with pytest.raises(RuntimeError, match="singular"):
        mytorch.linalg.inv(mytorch.zeros(3, 3))
    with pytest.raises(RuntimeError, match="positive-definite"):
        mytorch.linalg.cholesky(-mytorch.eye(3))


def test_special_without_scipy_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("no scipy")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(RuntimeError, match="needs scipy"):
        mytorch.special.ndtri(mytorch.tensor([0.3]))
    # the ops that need no scipy still work
    assert mytorch.special.sinc(mytorch.tensor([0.0])).item() == 1.0
