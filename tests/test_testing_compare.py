"""mytorch.testing.assert_close: PyTorch's verdicts and messages on the same inputs."""
import pytest
import torch

import mytorch

CASES = [
    (lambda L: (L.tensor([1.0, 2.0, 3.0]), L.tensor([1.0, 2.5, 3.0])), {}),
    (lambda L: (L.tensor([1, 2]), L.tensor([1, 3])), {}),
    (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0], dtype=L.float64)), {}),
    (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0, 3.0])), {}),
    (lambda L: (1.0, 1.1), {}),
    (lambda L: ([L.tensor(1.0)], [L.tensor(2.0)]), {}),
    (lambda L: ({"a": L.tensor([1.0])}, {"a": L.tensor([1.5])}), {}),
    (lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.1])), {"rtol": 0.1, "atol": 0.0}),
    (lambda L: (L.tensor([float("nan")]), L.tensor([float("nan")])), {}),
    (lambda L: (L.tensor([float("nan")]), L.tensor([float("nan")])), {"equal_nan": True}),
    (lambda L: (L.tensor([1.0, float("inf")]), L.tensor([1.0 + 1e-7, float("inf")])), {}),
    (lambda L: (L.tensor([1.0], dtype=L.float16), L.tensor([1.0005], dtype=L.float16)), {}),
]


def _outcome(lib, make, kw):
    a, b = make(lib)
    try:
        lib.testing.assert_close(a, b, **kw)
        return None
    except AssertionError as e:
        return str(e)


@pytest.mark.parametrize("make,kw", CASES)
def test_same_verdict_and_message_as_torch(make, kw):
    assert _outcome(mytorch, make, kw) == _outcome(torch, make, kw)


def test_tolerances_must_come_together():
    with pytest.raises(ValueError):
        mytorch.testing.assert_close(mytorch.tensor([1.0]), mytorch.tensor([1.0]), rtol=1e-3)
