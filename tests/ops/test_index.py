"""Indexing ops against PyTorch: tensor[...] reads and writes, gather/scatter, index_*, masks, sort/topk,
unique, searchsorted. Values and input gradients (repeated indices must accumulate), error types."""
import numpy as np
import pytest
import torch

import mytorch
from tests.helpers import assert_close, check_against_torch, randn

A = randn(3, 4, 5, seed=1)
M = randn(3, 4, seed=2)
V = randn(6, seed=3)
S0 = np.array(0.5)
MASK = M > 0
IDX = np.array([2, 0, 2, 1])  # repeated index
SORTED = np.sort(randn(7, seed=4))
TIES = np.array([[3.0, 1.0, 3.0, 2.0, 1.0, 3.0], [0.0, 0.0, -1.0, 5.0, 5.0, 0.0]])


def T(arr, lib):
    return lib.tensor(np.asarray(arr))


# (public op name, fn(lib, *tensors), input arrays); lib is mytorch or torch
CASES = [
    # reads: basic
    ("getitem", lambda m, x: x[1], [A]),
    ("getitem", lambda m, x: x[-1, 2], [A]),
    ("getitem", lambda m, x: x[0, 1, 2], [A]),
    ("getitem", lambda m, x: x[1:3], [A]),
    ("getitem", lambda m, x: x[::2, 1:, ::3], [A]),
    ("getitem", lambda m, x: x[None, ..., 1], [A]),
    ("getitem", lambda m, x: x[1, ..., None, 2:], [A]),
    ("getitem", lambda m, x: x[-2:, None], [M]),
    ("getitem", lambda m, x: x[...], [S0]),
    ("getitem", lambda m, x: x[None], [S0]),
    # reads: advanced (repeated indices accumulate)
    ("getitem", lambda m, x: x[[0, 2, 2]], [A]),
    ("getitem", lambda m, x: x[T(IDX, m)], [M]),
    ("getitem", lambda m, x: x[T(-IDX - 1, m)], [M]),
    ("getitem", lambda m, x: x[T(MASK, m)], [M]),
    ("getitem", lambda m, x: x[T(MASK[:, 0], m)], [M]),
    ("getitem", lambda m, x: x[:, T(MASK[0], m)], [M]),
    ("getitem", lambda m, x: x[T(MASK, m), 1:4], [A]),
    ("getitem", lambda m, x: x[T([0, 2], m), :, T([1, 4], m)], [A]),
    ("getitem", lambda m, x: x[:, T([0, 1, 1], m), T([1, 2, 2], m)], [A]),
    ("getitem", lambda m, x: x[T([[0], [2]], m), T([0, 3, 3], m)], [M]),
    ("getitem", lambda m, x: x[1, T([3, 3], m)], [A]),
    ("getitem", lambda m, x: x[..., T([4, 0, 4], m)], [A]),
    ("getitem", lambda m, x: x[T(np.array(2), m)], [M]),
    ("getitem", lambda m, x: x[T(np.zeros(0, np.int64), m)], [M]),
    # writes: gradient flows to the overwritten tensor (zero where written) and to the value
    ("setitem", lambda m, x, v: _set(x, (slice(1, None), 0), v), [M, randn(2, seed=5)]),
    ("setitem", lambda m, x, v: _set(x, 1, v), [M, randn(1, 4, seed=5)]),
    ("setitem", lambda m, x, v: _set(x, (Ellipsis, 2), v), [A, randn(4, seed=6)]),
    ("setitem", lambda m, x, v: _set(x, T(MASK, m), v), [M, S0]),
    ("setitem", lambda m, x, v: _set(x, (T([0, 2], m), slice(None), T([1, 3], m)), v), [A, randn(2, 4, seed=7)]),
    ("setitem", lambda m, x: _set(x, (0, slice(None, None, 2)), 7.0), [A]),
    ("setitem", lambda m, x: _set(x, T(MASK, m), -1.0), [M]),
    ("index_put", lambda m, x, v: m.index_put(x, (T(IDX, m),), v, accumulate=True), [M, randn(4, 4, seed=8)]),
    ("index_put", lambda m, x, v: x.index_put((T([0, 2], m), T([1, 3], m)), v), [M, randn(2, seed=8)]),
    ("index_put", lambda m, x, v: (x * 1).index_put_((T(IDX, m),), v, accumulate=True), [M, randn(4, seed=8)]),
    # gather / scatter
    ("gather", lambda m, x: m.gather(x, 1, T([[0, 0], [3, 1], [2, 2]], m)), [M]),
    ("gather", lambda m, x: x.gather(0, T([[2, 2, 0, 1], [0, 0, 0, 0]], m)), [M]),
    ("gather", lambda m, x: x.gather(-1, T(np.zeros((2, 3, 2), np.int64), m)), [A]),
    ("scatter", lambda m, x, s: m.scatter(x, 1, T([[0, 1], [3, 2], [1, 0]], m), s), [M, randn(3, 2, seed=9)]),
    ("scatter", lambda m, x: x.scatter(0, T([[2, 1, 0, 1]], m), 9.0), [M]),
    ("scatter", lambda m, x: x.scatter(0, T([[2, 1, 0, 1]], m), value=9.0), [M]),
    ("scatter_add", lambda m, x, s: m.scatter_add(x, 0, T([[2, 2, 0, 1], [2, 0, 1, 1]], m), s),
     [M, randn(2, 4, seed=10)]),
    ("scatter_add", lambda m, x, s: x.scatter_add(-1, T([[0, 0], [1, 1], [3, 0]], m), s), [M, randn(3, 2, seed=10)]),
    ("take_along_dim", lambda m, x: m.take_along_dim(x, T([[0, 3], [1, 1], [2, 0]], m), 1), [M]),
    ("take_along_dim", lambda m, x: m.take_along_dim(x, T([[0], [2], [1]], m), dim=-1), [M]),  # broadcasts
    ("take_along_dim", lambda m, x: x.take_along_dim(T([7, 0, 7], m)), [M]),
    # index_* along one dim
    ("index_select", lambda m, x: m.index_select(x, 0, T(IDX, m)), [M]),
    ("index_select", lambda m, x: x.index_select(-1, T([4, 4, 0], m)), [A]),
    ("index_add", lambda m, x, s: m.index_add(x, 0, T(IDX, m), s), [M, randn(4, 4, seed=11)]),
    ("index_add", lambda m, x, s: x.index_add(1, T([3, 0, 3], m), s, alpha=2.5), [M, randn(3, 3, seed=11)]),
    ("index_copy", lambda m, x, s: m.index_copy(x, 1, T([3, 0], m), s), [M, randn(3, 2, seed=12)]),
    ("index_fill", lambda m, x: m.index_fill(x, 1, T([3, 0], m), -2.0), [M]),
    ("index_fill", lambda m, x, v: x.index_fill(0, T([1], m), v), [M, S0]),
    # masks
    ("masked_fill", lambda m, x: m.masked_fill(x, T(MASK, m), 0.0), [M]),
    ("masked_fill", lambda m, x: x.masked_fill(T(MASK[0], m), -1.0), [M]),  # broadcast mask
    ("masked_fill", lambda m, x, v: x.masked_fill(T(MASK, m), v), [M, S0]),
    ("masked_select", lambda m, x: m.masked_select(x, T(MASK, m)), [M]),
    ("masked_select", lambda m, x: x.masked_select(T(MASK[:, :1], m)), [M]),
    ("masked_scatter", lambda m, x, s: m.masked_scatter(x, T(MASK, m), s), [M, randn(4, 4, seed=13)]),
    # flat index
    ("take", lambda m, x: m.take(x, T([[0, 11], [-1, 0]], m)), [M]),
    ("put", lambda m, x, s: m.put(x, T([0, 11, -2], m), s), [M, randn(3, seed=14)]),
    ("put", lambda m, x, s: x.put(T([0, 0, 5], m), s, accumulate=True), [M, randn(3, seed=14)]),
    # in-place variants on a non-leaf copy
    ("scatter", lambda m, x, s: (x * 1).scatter_(1, T([[0], [3], [1]], m), s), [M, randn(3, 1, seed=15)]),
    ("scatter_add", lambda m, x, s: (x * 1).scatter_add_(0, T([[2, 2, 0, 0]], m), s), [M, randn(1, 4, seed=15)]),
    ("index_add", lambda m, x, s: (x * 1).index_add_(0, T(IDX, m), s), [M, randn(4, 4, seed=16)]),
    ("index_fill", lambda m, x: (x * 1).index_fill_(1, T([1], m), 3.0), [M]),
    ("index_copy", lambda m, x, s: (x * 1).index_copy_(0, T([2], m), s), [M, randn(1, 4, seed=16)]),
    ("masked_fill", lambda m, x: (x * 1).masked_fill_(T(MASK, m), 0.0), [M]),
    ("masked_scatter", lambda m, x, s: (x * 1).masked_scatter_(T(MASK, m), s), [M, randn(12, seed=17)]),
    ("put", lambda m, x, s: (x * 1).put_(T([1, 4], m), s), [M, randn(2, seed=17)]),
    ("scatter_reduce", lambda m, x, s: (x * 1).scatter_reduce_(0, T([[1, 1, 0, 2]], m), s, "amax"),
     [M, randn(1, 4, seed=17)]),
    # nonzero / where / sort family
    ("nonzero", lambda m, x: m.nonzero(x > 0), [M]),
    ("nonzero", lambda m, x: (x > 0).nonzero(as_tuple=True), [A]),
    ("nonzero", lambda m, x: m.nonzero(x > 0), [S0]),
    ("argwhere", lambda m, x: m.argwhere(x > 0), [A]),
    ("where", lambda m, x: m.where(x > 0), [M]),
    ("sort", lambda m, x: m.sort(x), [M]),
    ("sort", lambda m, x: x.sort(0, descending=True), [M]),
    ("sort", lambda m, x: m.sort(x, dim=-1, stable=True), [TIES]),
    ("sort", lambda m, x: m.sort(x, dim=-1, descending=True, stable=True), [TIES]),
    ("sort", lambda m, x: x.sort(dim=1, stable=True), [A]),
    ("argsort", lambda m, x: m.argsort(x, dim=1, stable=True), [TIES]),
    ("argsort", lambda m, x: x.argsort(descending=True, stable=True), [TIES]),
    ("msort", lambda m, x: m.msort(x), [M]),
    ("topk", lambda m, x: m.topk(x, 2), [M]),
    ("topk", lambda m, x: x.topk(3, dim=0, largest=False), [A]),
    ("topk", lambda m, x: x.topk(6), [V]),
    ("kthvalue", lambda m, x: m.kthvalue(x, 2), [M]),
    ("kthvalue", lambda m, x: x.kthvalue(1, 0, keepdim=True), [A]),
]
COVERED = {c[0] for c in CASES} - {"getitem", "setitem"}


def _set(x, key, value):
    y = x * 1  # writes go to a non-leaf
    y[key] = value
    return y


def _run(fn, arrays, **kw):
    return check_against_torch(lambda *a: fn(mytorch, *a), lambda *a: fn(torch, *a), *arrays, **kw)


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_index_op(name, fn, arrays):
    _run(fn, arrays)


NON_CONTIGUOUS = [c for c in CASES if c[0] in ("getitem", "gather", "index_select", "masked_fill", "sort")
                  and c[2][0].ndim == 2 and len(c[2]) == 1]


@pytest.mark.parametrize("name,fn,arrays", NON_CONTIGUOUS, ids=[f"{c[0]}-{i}" for i, c in enumerate(NON_CONTIGUOUS)])
def test_index_op_non_contiguous(name, fn, arrays):
    _run(fn, arrays, non_contiguous=True)


# scatter_reduce: every reduction, with and without self, ties and repeated indices
SR_INDEX = np.array([[0, 0, 2, 1], [0, 2, 2, 1]])
SR_SRC = np.array([[1.0, 2.0, -1.0, 0.5], [2.0, 2.0, 3.0, -4.0]])
SR_SELF = np.array([[2.0, 0.0, 1.0, 0.5], [1.5, 2.0, -1.0, 3.0], [0.25, 4.0, 3.0, 1.0]])


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(reduce, include_self):
    _run(lambda m, x, s: m.scatter_reduce(x, 0, T(SR_INDEX, m), s, reduce, include_self=include_self),
         [SR_SELF, SR_SRC])


def test_scatter_reduce_prod_with_zeros():
    src = SR_SRC.copy()
    src[0, 0] = 0.0  # one zero at a position: its grad is the product of the others
    x = SR_SELF.copy()
    x[2, 2] = 0.0  # two zeros at position (2, 2): every grad there is 0
    _run(lambda m, x, s: x.scatter_reduce(0, T(SR_INDEX, m), s, "prod"), [x, src])


UNIQUE = np.array([[3, 1, 3], [2, 1, 1], [3, 1, 3]])
SEQ2 = np.sort(randn(2, 6, seed=5), -1)
VALUES = randn(2, 4, seed=6)
NO_GRAD_CASES = [
    ("scatter", lambda m, x, s: m.scatter(x, 1, T([[0, 1], [3, 2], [1, 0]], m), s), [M, randn(3, 3, seed=9)]),
    ("scatter", lambda m, x, s: x.scatter(0, T([[2, 2, 0, 1], [2, 0, 1, 1]], m), s, reduce="add"),
     [M, randn(2, 4, seed=9)]),
    ("scatter", lambda m, x, s: x.scatter(0, T([[2, 2, 0, 1]], m), s, reduce="multiply"), [M, randn(2, 4, seed=9)]),
    ("scatter_add", lambda m, x, s: m.scatter_add(x, 1, T([[0, 0], [1, 1], [3, 0]], m), s), [M, randn(3, 5, seed=9)]),
    ("unique", lambda m, x: m.unique(x), [UNIQUE]),
    ("unique", lambda m, x: x.unique(return_inverse=True, return_counts=True), [UNIQUE]),
    ("unique", lambda m, x: m.unique(x, return_counts=True, dim=0), [UNIQUE]),
    ("unique", lambda m, x: m.unique(x, return_inverse=True, dim=1), [UNIQUE]),
    ("unique_consecutive", lambda m, x: m.unique_consecutive(x, return_inverse=True, return_counts=True),
     [np.array([1, 1, 2, 2, 3, 1, 1, 2])]),
    ("searchsorted", lambda m, s, v: m.searchsorted(s, v), [SORTED, V]),
    ("searchsorted", lambda m, s, v: m.searchsorted(s, v, right=True), [SORTED, np.r_[SORTED[:3], 9.0]]),
    ("searchsorted", lambda m, s, v: m.searchsorted(s, v, side="right", out_int32=True), [SORTED, SORTED]),
    ("searchsorted", lambda m, s: m.searchsorted(s, 0.1), [SORTED]),
    ("searchsorted", lambda m, s, v: m.searchsorted(s, v), [SEQ2, VALUES]),
    ("searchsorted", lambda m, s, v: m.searchsorted(s, v, right=True), [SEQ2, np.c_[SEQ2[:, 1:3], VALUES]]),
    ("searchsorted", lambda m, s, v: m.searchsorted(s, v, sorter=m.argsort(s)), [V, M.ravel()]),
    ("bucketize", lambda m, v, b: m.bucketize(v, b), [M, SORTED]),
    ("bucketize", lambda m, v, b: m.bucketize(v, b, right=True), [np.r_[SORTED, 0.0], SORTED]),
    ("bucketize", lambda m, b: m.bucketize(0.3, b), [SORTED]),
]
COVERED |= {c[0] for c in NO_GRAD_CASES}


@pytest.mark.parametrize("name,fn,arrays", NO_GRAD_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(NO_GRAD_CASES)])
def test_no_grad_op(name, fn, arrays):
    _run(fn, arrays, grad=False)


@pytest.mark.parametrize("fn", [lambda x: x[[0, 2, 2], 1:], lambda x: x[x.detach() > 0] * 2,
                                lambda x: x.gather(1, mytorch.tensor([[0, 0], [2, 1], [3, 3]])),
                                lambda x: x.index_select(0, mytorch.tensor([1, 1, 0])),
                                lambda x: x.sort(1).values, lambda x: x.topk(2, 0).values,
                                lambda x: x.masked_fill(x.detach() > 0.5, 0.0),
                                lambda x: x.scatter_add(0, mytorch.tensor([[2, 2, 0, 0]]), x[:1] * 3)])
def test_gradcheck(fn):
    x = mytorch.tensor(M, requires_grad=True)
    assert mytorch.autograd.gradcheck(fn, (x,))


def test_setitem_gradcheck():
    def fn(x, v):
        y = x * 2
        y[1:, [0, 2]] = v
        return y * y

    x = mytorch.tensor(M, requires_grad=True)
    v = mytorch.tensor(randn(2, 2, seed=3), requires_grad=True)
    assert mytorch.autograd.gradcheck(fn, (x, v))


def test_float32_stays_float32():
    x = mytorch.tensor(M.astype(np.float32), requires_grad=True)
    outs = [x[[0, 1]], x[x > 0], x.gather(0, mytorch.tensor([[0, 1, 2, 0]])), x.sort().values,
            x.masked_fill(x > 0, 1.0), x.index_add(0, mytorch.tensor([0]), x[:1])]
    assert all(o.dtype == mytorch.float32 for o in outs)


def test_setitem_without_grad_writes_in_place():
    x = mytorch.zeros(3, 4)
    v = x[1]
    x[1, 2] = 5.0
    x[mytorch.tensor([0, 2])] = mytorch.tensor([1.0, 2.0, 3.0, 4.0])
    assert float(v[2]) == 5.0 and x._version_value == 2
    assert_close(x, torch.tensor([[1.0, 2, 3, 4], [0, 0, 5, 0], [1, 2, 3, 4]]))


def test_setitem_on_leaf_requiring_grad_raises():
    x = mytorch.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 1.0


def test_inplace_write_invalidates_saved_tensor():
    w = mytorch.tensor(M)
    x = mytorch.tensor(M, requires_grad=True)
    y = (x * w[0]).sum()  # saves a view of w
    w[0, 1] = 3.0  # bumps the version shared by w and its views
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_repeated_index_grad_accumulates():
    x = mytorch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 0, 2]].backward(mytorch.ones(4))
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
ERRORS = [
    (lambda m: m.zeros(3)[5], IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda m: m.zeros(2, 3)[:, -4], IndexError, "index -4 is out of bounds for dimension 1 with size 3"),
    (lambda m: m.zeros(3)[m.tensor([0, 5])], IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda m: m.zeros(3, 4)[m.tensor([True, False])], IndexError, r"The shape of the mask \[2\] at index 0"),
    (lambda m: m.zeros(3, 4)[0, 0, 0], IndexError, "too many indices for tensor of dimension 2"),
    (lambda m: m.zeros(3)[m.tensor([0.5])], IndexError, "tensors used as indices must be long"),
    (lambda m: m.zeros(3, 4).gather(0, m.tensor([[5]])), RuntimeError, "index 5 is out of bounds"),
    (lambda m: m.zeros(3, 4).index_select(0, m.tensor([5])), IndexError, "index out of range in self"),
    (lambda m: m.zeros(3, 4).masked_fill(m.zeros(3, 4), 1.0), RuntimeError, "only supports boolean masks"),
    (lambda m: m.zeros(3).topk(4), RuntimeError, "selected index k out of range"),
    (lambda m: m.zeros(3).take(m.tensor([3])), IndexError, "out of range"),
    (lambda m: m.zeros(3, 4).masked_fill_(m.zeros(2, 3, 4, dtype=m.bool), 1.0), RuntimeError,
     r"output with shape \[3, 4\] doesn't match the broadcast shape \[2, 3, 4\]"),
    (lambda m: m.zeros(3, 4, requires_grad=True).scatter(0, m.tensor([[1]]), m.ones(1, 1), reduce="add").sum()
     .backward(), RuntimeError, "derivative for aten::scatter is not implemented"),
]


@pytest.mark.parametrize("fn,exc,msg", ERRORS)
def test_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn(torch)
    with pytest.raises(exc, match=msg):
        fn(mytorch)
