"""Factories: shapes, dtypes and values like PyTorch's; random draws reproducible and well distributed."""
import numpy as np
import pytest
import torch

import mytorch
from tests.helpers import assert_close

DETERMINISTIC = [
    ("zeros", (2, 3), {}), ("zeros", ((2, 3),), {"dtype": "int32"}), ("ones", (4,), {}),
    ("ones", ([2, 2],), {"dtype": "float64"}), ("full", ((2, 2), 3.5), {}), ("full", ((3,), 7), {}),
    ("full", ((2,), True), {}), ("arange", (5,), {}), ("arange", (1, 7, 2), {}), ("arange", (0.0, 1.0, 0.25), {}),
    ("arange", (10, 0, -3), {}), ("linspace", (0, 1, 5), {}), ("linspace", (-2, 2, 7), {"dtype": "float64"}),
    ("logspace", (0, 2, 3), {}), ("eye", (3,), {}), ("eye", (2, 4), {}), ("tensor", ([1, 2],), {}),
    ("tensor", ([1.0, 2],), {}), ("tensor", ([True, False],), {}), ("tensor", (3.5,), {}),
    ("tensor", ([[1, 2], [3, 4]],), {"dtype": "float16"}), ("as_tensor", ([1, 2, 3],), {}),
    ("scalar_tensor", (2,), {}), ("empty", (0, 3), {}),
]


def _kw(lib, kwargs):
    return {k: getattr(lib, v) if k == "dtype" else v for k, v in kwargs.items()}


@pytest.mark.parametrize("name,args,kwargs", DETERMINISTIC)
def test_deterministic_factories(name, args, kwargs):
    mine = getattr(mytorch, name)(*args, **_kw(mytorch, kwargs))
    ref = getattr(torch, name)(*args, **_kw(torch, kwargs))
    assert_close(mine, ref)


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "randn_like", "rand_like"])
def test_like(name):
    x = mytorch.ones(2, 3, dtype=mytorch.float64)
    y = getattr(mytorch, name)(x)
    assert y.shape == (2, 3) and y.dtype == mytorch.float64 and not y.requires_grad
    assert getattr(mytorch, name)(x, dtype=mytorch.float32).dtype == mytorch.float32


def test_full_like_and_randint_like():
    x = mytorch.zeros(2, 2, dtype=mytorch.int32)
    assert_close(mytorch.full_like(x, 7), torch.full_like(torch.zeros(2, 2, dtype=torch.int32), 7))
    r = mytorch.randint_like(x, 0, 5)
    assert r.dtype == mytorch.int32 and int(r.max()) < 5


def test_numpy_dtype_kept_and_shared_memory():
    arr = np.arange(4.0)
    assert mytorch.tensor(arr).dtype == mytorch.float64
    shared = mytorch.from_numpy(arr)
    arr[0] = 42
    assert shared[0].item() == 42
    assert mytorch.as_tensor(arr).data_ptr() == shared.data_ptr()
    assert mytorch.tensor(arr).data_ptr() != shared.data_ptr()
    with pytest.raises(TypeError):
        mytorch.from_numpy(np.array(["a"]))


def test_random_reproducible():
    mytorch.manual_seed(3)
    a = mytorch.randn(5)
    mytorch.manual_seed(3)
    assert mytorch.equal(a, mytorch.randn(5))
    g = mytorch.Generator().manual_seed(9)
    b = mytorch.rand(4, generator=g)
    assert mytorch.equal(b, mytorch.rand(4, generator=mytorch.Generator().manual_seed(9)))


def test_random_statistics():
    mytorch.manual_seed(0)
    n = mytorch.randn(100_000)
    assert abs(n.mean().item()) < 0.02 and abs(n.std().item() - 1) < 0.02
    u = mytorch.rand(100_000)
    assert 0 <= u.min().item() and u.max().item() < 1 and abs(u.mean().item() - 0.5) < 0.01
    r = mytorch.randint(3, 7, (10_000,))
    assert r.dtype == mytorch.int64 and set(r.tolist()) == {3, 4, 5, 6}
    p = mytorch.randperm(10)
    assert sorted(p.tolist()) == list(range(10))
    nm = mytorch.normal(2.0, 3.0, (50_000,))
    assert abs(nm.mean().item() - 2) < 0.1 and abs(nm.std().item() - 3) < 0.1
    t = mytorch.normal(mytorch.zeros(3), mytorch.ones(3))
    assert t.shape == (3,)


def test_multinomial_and_bernoulli():
    mytorch.manual_seed(0)
    w = mytorch.tensor([0.0, 1.0, 3.0])
    s = mytorch.multinomial(w, 4000, replacement=True)
    counts = np.bincount(s.numpy(), minlength=3)
    assert counts[0] == 0 and abs(counts[2] / counts[1] - 3) < 0.4
    no_rep = mytorch.multinomial(mytorch.ones(2, 5), 5)
    assert all(sorted(row) == list(range(5)) for row in no_rep.tolist())
    with pytest.raises(RuntimeError):
        mytorch.multinomial(w, 5)
    b = mytorch.bernoulli(mytorch.full((10_000,), 0.25))
    assert abs(b.mean().item() - 0.25) < 0.02


def test_requires_grad_and_errors():
    x = mytorch.zeros(2, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        mytorch.zeros(2, dtype=mytorch.int64, requires_grad=True)
    with pytest.raises(RuntimeError, match="negative dimension"):
        mytorch.zeros(-1)
    with pytest.raises(TypeError):
        mytorch.zeros("a")
    with pytest.raises((ValueError, TypeError)):
        mytorch.tensor([[1, 2], [3]])


COVERED = {"tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "empty", "full", "scalar_tensor",
           "arange", "linspace", "logspace", "eye", "randn", "rand", "randint", "randperm", "normal", "bernoulli",
           "multinomial", "zeros_like", "ones_like", "empty_like", "randn_like", "rand_like", "full_like",
           "randint_like", "clone", "frombuffer", "vander"}


def test_frombuffer_shares_writable_buffers_as_torch():
    import array
    import warnings

    buf = bytearray(np.arange(6, dtype=np.float32).tobytes())
    t = mytorch.frombuffer(buf, dtype=mytorch.float32, count=3, offset=8)
    ref = torch.frombuffer(bytearray(buf), dtype=torch.float32, count=3, offset=8)
    np.testing.assert_array_equal(t.numpy(), ref.numpy())
    t[0] = 10.0  # the same memory
    assert np.frombuffer(buf, np.float32)[2] == 10.0
    ints = mytorch.frombuffer(array.array("i", [1, 2, 3]), dtype=mytorch.int32, requires_grad=False)
    assert ints.tolist() == [1, 2, 3] and ints.dtype == mytorch.int32
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert mytorch.frombuffer(b"\x01\x02", dtype=mytorch.uint8).tolist() == [1, 2]
    assert any("not writable" in str(w.message) for w in caught)
    for bad in (dict(count=7), dict(offset=25), dict(count=0)):
        with pytest.raises(ValueError) as mine:
            mytorch.frombuffer(bytearray(24), dtype=mytorch.float32, **bad)
        with pytest.raises(ValueError) as theirs:
            torch.frombuffer(bytearray(24), dtype=torch.float32, **bad)
        assert str(mine.value) == str(theirs.value)


@pytest.mark.parametrize("N", [None, 0, 1, 3, 6])
@pytest.mark.parametrize("increasing", [False, True])
def test_vander_matches_torch(N, increasing):
    x = np.array([2.0, -3.0, 0.0, 0.5])
    for data in (x, x.astype(np.int64)):
        got = mytorch.vander(mytorch.tensor(data), N=N, increasing=increasing)
        want = torch.vander(torch.tensor(data), N=N, increasing=increasing)
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
        np.testing.assert_allclose(got.numpy(), want.numpy())
    # the gradient of x**k summed over the columns (PyTorch's own vander backward fails on this input)
    n = len(x) if N is None else N
    if n:
        t = mytorch.tensor(x, requires_grad=True)
        mytorch.vander(t, N=N, increasing=increasing).sum().backward()
        want = sum(k * x ** (k - 1) if k else 0 * x for k in range(n))
        np.testing.assert_allclose(t.grad.numpy(), want)
    with pytest.raises(RuntimeError, match="one-dimensional"):
        mytorch.vander(mytorch.ones(2, 2))
