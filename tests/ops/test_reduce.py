"""Reductions, scans and softmax against PyTorch: values, dtypes and input gradients (dims as int/tuple/
negative, keepdim, 0-d, empty, non-contiguous, float32/float64), plus gradchecks and error types."""
import math

import numpy as np
import pytest
import torch

import mytorch
from mytorch.autograd import gradcheck
from tests.helpers import assert_close, check_against_torch, randn

A = randn(3, 4, seed=1)
B = randn(2, 3, 4, seed=2)
V = randn(5, seed=3)
S0 = np.array(0.7)
POS = np.abs(B) + 0.5
TIES = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5], [-1.0, 2.0, -4.0, 2.0]])
ZEROS = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 2.0], [1.2, -0.7, 0.9, 1.1]])
EMPTY = np.zeros((2, 0))

# (name, args after the tensors are given as arrays, kwargs)
CASES = [
    ("sum", (A,), {}), ("sum", (B, 1), {}), ("sum", (B, (0, 2)), {}), ("sum", (B, -1, True), {}),
    ("sum", (B,), dict(dim=[]), ), ("sum", (S0,), {}), ("sum", (S0, 0), {}), ("sum", (EMPTY, 1), {}),
    ("sum", (A,), dict(dtype=torch.float64)),
    ("nansum", (A,), {}), ("nansum", (B, 1, True), {}),
    ("mean", (A,), {}), ("mean", (B, (-1, 0)), {}), ("mean", (B, 1), dict(keepdim=True)), ("mean", (S0,), {}),
    ("mean", (EMPTY,), {}), ("mean", (A,), dict(dtype=torch.float64)),
    ("nanmean", (A, 1), {}),
    ("var", (A,), {}), ("var", (B, 1), {}), ("var", (B, (0, 2), True, True), {}),
    ("var", (B,), dict(dim=1, correction=0)), ("var", (B,), dict(dim=-1, unbiased=False, keepdim=True)),
    ("var", (A, False), {}), ("var", (A,), dict(correction=2)),
    ("std", (A,), {}), ("std", (B, 1), {}), ("std", (B,), dict(dim=(0, 1), correction=0, keepdim=True)),
    ("var_mean", (B, 1), {}), ("std_mean", (A,), dict(dim=0, keepdim=True)),
    ("max", (A,), {}), ("max", (TIES,), {}), ("max", (A, 1), {}), ("max", (B, -2, True), {}),
    ("max", (S0, 0), {}), ("max", (A,), dict(dim=0)), ("max", (A, A.T.copy().T * 0.5), {}),
    ("min", (A,), {}), ("min", (B, 0), {}), ("min", (A, 1), dict(keepdim=True)), ("min", (A, np.zeros(4)), {}),
    ("amax", (TIES,), {}), ("amax", (TIES, 1), {}), ("amax", (B, (0, 2), True), {}), ("amax", (S0,), {}),
    ("amin", (TIES,), {}), ("amin", (TIES, -1, True), {}), ("amin", (B, (1,)), {}),
    ("aminmax", (B,), {}), ("aminmax", (B,), dict(dim=1, keepdim=True)),
    ("argmax", (A,), {}), ("argmax", (B, 1), {}), ("argmax", (B, -1, True), {}), ("argmax", (A,), dict(keepdim=True)),
    ("argmax", (S0, 0), {}), ("argmin", (A,), {}), ("argmin", (B, 0), dict(keepdim=True)),
    ("median", (A,), {}), ("median", (V,), {}), ("median", (B, 1), {}), ("median", (B, -1, True), {}),
    ("prod", (A,), {}), ("prod", (B, 1), {}), ("prod", (B, -1, True), {}), ("prod", (ZEROS,), {}),
    ("prod", (ZEROS, 1), {}), ("prod", (ZEROS, 0), {}), ("prod", (S0,), {}),
    ("cumsum", (A, 1), {}), ("cumsum", (B, 0), {}), ("cumsum", (S0, 0), {}), ("cumsum", (A, -1),
                                                                               dict(dtype=torch.float64)),
    ("cumprod", (A, 1), {}), ("cumprod", (B, -2), {}), ("cumprod", (ZEROS, 1), {}), ("cumprod", (ZEROS, 0), {}),
    ("logsumexp", (A, 1), {}), ("logsumexp", (B, (0, 2)), {}), ("logsumexp", (B * 300, -1, True), {}),
    ("logsumexp", (S0, 0), {}),
    ("softmax", (A, 1), {}), ("softmax", (B, 0), {}), ("softmax", (B * 500, -1), {}), ("softmax", (S0, 0), {}),
    ("softmax", (A, 1), dict(dtype=torch.float64)),
    ("log_softmax", (A, 1), {}), ("log_softmax", (B, -2), {}), ("log_softmax", (B * 500, -1), {}),
    ("norm", (A,), {}), ("norm", (B,), dict(p=2, dim=1)), ("norm", (B,), dict(p=1, dim=(0, 2), keepdim=True)),
    ("norm", (A,), dict(p=3)), ("norm", (A,), dict(p=0.5, dim=0)), ("norm", (A,), dict(p=math.inf, dim=1)),
    ("norm", (TIES,), dict(p=math.inf)), ("norm", (A,), dict(p=-math.inf)), ("norm", (A,), dict(p=0)),
    ("norm", (B,), dict(p="fro", dim=(1, 2))), ("norm", (B,), dict(p="nuc", dim=(1, 2))),
    ("norm", (A,), dict(p="nuc", keepdim=True)), ("norm", (np.zeros((2, 3)),), {}),
    ("norm", (np.zeros((2, 3)),), dict(p=3, dim=1)),
]

INT = np.array([[1, 0, 3], [4, 5, 0]])
BOOL = np.array([[True, False, True], [False, False, True]])
# integer/bool inputs: result dtype and values only
INT_CASES = [
    ("sum", (INT,), {}), ("sum", (INT.astype(np.int32), 1), {}), ("sum", (BOOL,), {}), ("sum", (BOOL, 0), {}),
    ("sum", (INT,), dict(dtype=torch.float32)), ("prod", (INT.astype(np.int32),), {}),
    ("cumsum", (INT.astype(np.int32), 1), {}), ("cumprod", (BOOL, 1), {}), ("max", (INT, 1), {}),
    ("amax", (INT,), {}), ("argmin", (INT,), {}), ("logsumexp", (INT, 1), {}),
    ("mean", (INT,), dict(dtype=torch.float32)),
    ("all", (INT,), {}), ("all", (INT, 1), {}), ("all", (BOOL, (0, 1)), {}), ("all", (INT.astype(np.uint8),), {}),
    ("any", (BOOL,), {}), ("any", (BOOL, 0, True), {}), ("any", (np.zeros((2, 0)), 1), {}),
    ("any", (INT.astype(np.uint8), 1), {}),
    ("count_nonzero", (INT,), {}), ("count_nonzero", (INT, 1), {}), ("count_nonzero", (A > 0, (0, 1)), {}),
    ("all", (A,), {}), ("any", (A, 0), {}),
]


def _cast(args, dtype):
    return [a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]


def _ids(cases):
    return [f"{c[0]}-{i}" for i, c in enumerate(cases)]


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=_ids(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_reduce(name, args, kwargs, dtype):
    kw = {k: (torch.float64 if v is torch.float64 else v) for k, v in kwargs.items()}
    mt_kw = {k: (mytorch.float64 if v is torch.float64 else v) for k, v in kw.items()}
    check_against_torch(getattr(mytorch, name), getattr(torch, name), *_cast(args, dtype), kwargs=mt_kw,
                        th_kwargs=kw)


_DTYPES = {torch.float32: mytorch.float32, torch.float64: mytorch.float64}


@pytest.mark.parametrize("name,args,kwargs", INT_CASES, ids=_ids(INT_CASES))
def test_integer_and_bool(name, args, kwargs):
    mt_kw = {k: _DTYPES.get(v, v) for k, v in kwargs.items()}
    check_against_torch(getattr(mytorch, name), getattr(torch, name), *args, kwargs=mt_kw, th_kwargs=kwargs)


METHOD_CASES = [
    ("sum", (1,), {}), ("mean", (), dict(dim=(0, 1))), ("var", (0,), {}), ("std", (), dict(unbiased=False)),
    ("max", (), {}), ("max", (1, True), {}), ("min", (0,), {}), ("amax", (0,), {}), ("argmax", (), dict(dim=1)),
    ("prod", (1,), {}), ("cumsum", (0,), {}), ("cumprod", (1,), {}), ("logsumexp", (1,), {}),
    ("softmax", (-1,), {}), ("log_softmax", (0,), {}), ("norm", (), dict(p=1)), ("median", (1,), {}),
    ("nansum", (), {}), ("aminmax", (), dict(dim=0)), ("count_nonzero", (), {}), ("all", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", METHOD_CASES, ids=_ids(METHOD_CASES))
def test_tensor_methods_non_contiguous(name, args, kwargs):
    check_against_torch(lambda x: getattr(x, name)(*args, **kwargs), lambda x: getattr(x, name)(*args, **kwargs),
                        np.abs(A) + 0.1, non_contiguous=True)


def test_max_returns_named_values_indices():
    x, xt = mytorch.tensor(A), torch.tensor(A)
    res, ref = mytorch.max(x, 1), torch.max(xt, 1)
    values, indices = res
    assert res.values is values and res.indices is indices
    assert indices.dtype == mytorch.int64
    assert_close(res.indices, ref.indices)
    assert type(mytorch.min(x, 0)).__name__ == "min"
    assert set(mytorch.aminmax(x)._fields) == {"min", "max"}


def test_float16_accumulates_in_float32():
    x = np.full(4096, 0.1, dtype=np.float16)
    for name in ("sum", "mean", "std"):
        assert_close(getattr(mytorch, name)(mytorch.tensor(x)), getattr(torch, name)(torch.tensor(x)), rtol=1e-3,
                     atol=1e-3)


def test_inplace_scans():
    x, xt = mytorch.tensor(A), torch.tensor(A)
    assert_close(x.cumsum_(1), xt.cumsum_(1))
    assert_close(x.cumprod_(0), xt.cumprod_(0))


GRADCHECK = [
    ("sum", lambda x: x.sum((0, 2))), ("mean", lambda x: x.mean(1, keepdim=True)), ("var", lambda x: x.var(1)),
    ("std", lambda x: x.std((0, 1))), ("amax", lambda x: x.amax(-1)), ("max", lambda x: x.max(1).values),
    ("prod", lambda x: x.prod(1)), ("cumprod", lambda x: x.cumprod(2)), ("cumsum", lambda x: x.cumsum(0)),
    ("logsumexp", lambda x: x.logsumexp(2)), ("softmax", lambda x: x.softmax(1)),
    ("log_softmax", lambda x: x.log_softmax(-1)), ("norm", lambda x: x.norm(p=3, dim=1)),
    ("norm_nuc", lambda x: mytorch.norm(x, p="nuc", dim=(1, 2))), ("median", lambda x: x.median(1).values),
]


@pytest.mark.parametrize("name,fn", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck(name, fn):
    x = mytorch.tensor(randn(2, 3, 3, seed=5), requires_grad=True)
    assert gradcheck(fn, (x,))


def test_cumprod_gradcheck_with_zeros():
    x = mytorch.tensor(ZEROS, requires_grad=True)
    assert gradcheck(lambda t: t.cumprod(1), (x,))
    assert gradcheck(lambda t: t.prod(0), (x,))


ERRORS = [
    (RuntimeError, lambda: mytorch.mean(mytorch.tensor([1, 2]))),
    (RuntimeError, lambda: mytorch.var(mytorch.tensor([1, 2]))),
    (RuntimeError, lambda: mytorch.max(mytorch.zeros(2, 0))),
    (IndexError, lambda: mytorch.max(mytorch.zeros(2, 0), 1)),
    (IndexError, lambda: mytorch.amax(mytorch.zeros(2, 0), 1)),
    (IndexError, lambda: mytorch.argmax(mytorch.zeros(0))),
    (IndexError, lambda: mytorch.sum(mytorch.zeros(2, 3), 2)),
    (IndexError, lambda: mytorch.sum(mytorch.zeros(2, 3), -3)),
    (RuntimeError, lambda: mytorch.sum(mytorch.zeros(2, 3), (1, -1))),
    (RuntimeError, lambda: mytorch.softmax(mytorch.tensor([1, 2]), 0)),
    (RuntimeError, lambda: mytorch.norm(mytorch.tensor([1, 2]))),
    (TypeError, lambda: mytorch.softmax(mytorch.zeros(3))),
    (TypeError, lambda: mytorch.cumsum(mytorch.zeros(3))),
]


@pytest.mark.parametrize("exc,fn", ERRORS)
def test_errors(exc, fn):
    with pytest.raises(exc):
        fn()


def test_error_messages_match_torch():
    for mt_fn, th_fn in [(lambda m: m.max(m.zeros(2, 0), 1), lambda t: t.max(t.zeros(2, 0), 1)),
                         (lambda m: m.mean(m.tensor([1, 2])), lambda t: t.mean(t.tensor([1, 2])))]:
        with pytest.raises(Exception) as ref:
            th_fn(torch)
        with pytest.raises(type(ref.value), match=str(ref.value).replace("(", r"\(").replace(")", r"\)")):
            mt_fn(mytorch)


COVERED = {c[0] for c in CASES} | {c[0] for c in INT_CASES}
