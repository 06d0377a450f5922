"""Shape ops against PyTorch: values and input gradients (negative dims, 0-d, non-contiguous inputs,
outputs used only in part), error types/messages, view semantics and version counters."""
import numpy as np
import pytest
import torch

import mytorch
from tests.helpers import assert_close, check_against_torch, randn

A = randn(2, 3, 4, seed=1)
M = randn(3, 4, seed=2)
SQ = randn(4, 4, seed=3)
V = randn(5, seed=4)
S0 = np.array(1.5)
COL = randn(2, 1, 4, seed=5)
IDS = np.array([1, 0, 2])  # int64 data for repeat_interleave repeats

# (public op name, fn(lib, *tensors), input arrays); lib is mytorch or torch
CASES = [
    ("transpose", lambda m, x: m.transpose(x, 0, 2), [A]),
    ("transpose", lambda m, x: x.transpose(-1, -2), [A]),
    ("transpose", lambda m, x: x.transpose(0, 0), [S0]),
    ("swapaxes", lambda m, x: m.swapaxes(x, 0, 1), [A]),
    ("swapdims", lambda m, x: m.swapdims(x, -1, 0), [A]),
    ("permute", lambda m, x: x.permute(2, 0, 1), [A]),
    ("permute", lambda m, x: m.permute(x, (-1, 0, 1)), [A]),
    ("t", lambda m, x: m.t(x), [M]),
    ("t", lambda m, x: x.t(), [V]),
    ("t", lambda m, x: x.T * 1, [M]),
    ("t", lambda m, x: x.mT, [A]),
    ("reshape", lambda m, x: m.reshape(x, (-1, 4)), [A]),
    ("reshape", lambda m, x: x.reshape(4, 6), [A]),
    ("reshape", lambda m, x: x.transpose(0, 2).reshape(-1), [A]),  # needs a copy
    ("reshape", lambda m, x: x.reshape(()), [np.array([2.0])]),
    ("reshape", lambda m, x: x.reshape(1, 1), [S0]),
    VIEW_CASE := ("reshape", lambda m, x: x.view(6, 4) + x.view(-1).view_as(x).reshape_as(x).view(6, 4), [A]),
    ("reshape", lambda m, x: x.transpose(0, 1).contiguous(), [A]),
    ("flatten", lambda m, x: m.flatten(x), [A]),
    ("flatten", lambda m, x: x.flatten(1), [A]),
    ("flatten", lambda m, x: x.flatten(0, -2), [A]),
    ("flatten", lambda m, x: x.flatten(), [S0]),
    ("ravel", lambda m, x: m.ravel(x.transpose(0, 1)), [A]),
    ("unflatten", lambda m, x: m.unflatten(x, 2, (2, 2)), [A]),
    ("unflatten", lambda m, x: x.unflatten(-1, (2, -1)), [A]),
    ("squeeze", lambda m, x: m.squeeze(x), [COL]),
    ("squeeze", lambda m, x: x.squeeze(1), [COL]),
    ("squeeze", lambda m, x: x.squeeze(0), [COL]),
    ("squeeze", lambda m, x: x.squeeze((1, -1)), [COL]),
    ("squeeze", lambda m, x: x.squeeze(), [S0]),
    ("unsqueeze", lambda m, x: m.unsqueeze(x, 0), [A]),
    ("unsqueeze", lambda m, x: x.unsqueeze(-1), [A]),
    ("unsqueeze", lambda m, x: x.unsqueeze(0), [S0]),
    ("broadcast_to", lambda m, x: x.expand(3, 2, 3, 4), [COL]),
    ("broadcast_to", lambda m, x: x.expand(-1, 5, -1) * 1, [COL]),
    ("broadcast_to", lambda m, x: x.expand(3, 2), [S0]),
    ("broadcast_to", lambda m, x: m.broadcast_to(x, (3, 2, 3, 4)), [A]),
    ("broadcast_to", lambda m, x, y: x.expand_as(y) + y, [COL, A]),
    ("broadcast_tensors", lambda m, x, y: m.broadcast_tensors(x, y), [COL, M]),
    ("broadcast_shapes", lambda m: m.ones(m.broadcast_shapes((2, 1), (3,), (4, 1, 1))), []),
    ("narrow", lambda m, x: m.narrow(x, 1, 1, 2), [A]),
    ("narrow", lambda m, x: x.narrow(-1, -3, 2), [A]),
    ("select", lambda m, x: m.select(x, 1, -1), [A]),
    ("diagonal", lambda m, x: m.diagonal(x), [SQ]),
    ("diagonal", lambda m, x: x.diagonal(1), [M]),
    ("diagonal", lambda m, x: x.diagonal(-1, 0, 2), [A]),
    ("diagonal", lambda m, x: x.diagonal(offset=-2, dim1=-1, dim2=1), [A]),
    ("movedim", lambda m, x: m.movedim(x, 0, -1), [A]),
    ("movedim", lambda m, x: x.movedim((0, 1), (2, 0)), [A]),
    ("moveaxis", lambda m, x: m.moveaxis(x, -1, 0), [A]),
    ("split", lambda m, x: m.split(x, 2, dim=2), [A]),
    ("split", lambda m, x: x.split([1, 2], 1), [A]),
    ("split", lambda m, x: x.split(2, -1)[1] * 3, [A]),  # only one output used
    ("chunk", lambda m, x: m.chunk(x, 2, 1), [A]),
    ("chunk", lambda m, x: x.chunk(3, -1), [A]),
    ("chunk", lambda m, x: x.chunk(3)[2], [V]),
    ("tensor_split", lambda m, x: m.tensor_split(x, 3, 2), [A]),
    ("tensor_split", lambda m, x: x.tensor_split([1, 3], 2), [A]),
    ("tensor_split", lambda m, x: x.tensor_split([3, 1], -1), [A]),  # overlapping pieces
    ("chunk", lambda m, x: x.chunk(3), [np.zeros((0, 2))]),
    ("hsplit", lambda m, x: m.hsplit(x, 3), [A]),
    ("vsplit", lambda m, x: m.vsplit(x, [1]), [A]),
    ("dsplit", lambda m, x: m.dsplit(x, 2), [A]),
    ("unbind", lambda m, x: m.unbind(x, 1), [A]),
    ("unbind", lambda m, x: x.unbind(-1)[2] * 2, [A]),
    ("unbind", lambda m, x: tuple(r * 2 for r in x), [M]),  # __iter__
    ("cat", lambda m, x, y: m.cat([x, y], 0), [A, A[:1]]),
    ("cat", lambda m, x, y: m.cat((x, y, x), -1), [M, M[:, :2]]),
    ("cat", lambda m, x, y: m.cat([x, y.float()]), [M, M]),  # float64 + float32 -> float64
    ("cat", lambda m, x, y: m.cat([x, y]), [M, np.zeros(0)]),  # legacy empty-1D rule
    ("concat", lambda m, x, y: m.concat([x, y], dim=1), [M, M]),
    ("concatenate", lambda m, x, y: m.concatenate([x, y], 1), [M, M]),
    ("stack", lambda m, x, y: m.stack([x, y]), [M, M * 2]),
    ("stack", lambda m, x, y: m.stack((x, y), -1), [M, M * 2]),
    ("stack", lambda m, x, y: m.stack((x, y), 0), [S0, S0]),
    ("hstack", lambda m, x, y: m.hstack([x, y]), [M, M]),
    ("hstack", lambda m, x, y: m.hstack([x, y]), [V, V]),
    ("vstack", lambda m, x, y: m.vstack([x, y]), [V, V]),
    ("row_stack", lambda m, x, y: m.row_stack([x, y]), [M, V[:4]]),
    ("dstack", lambda m, x, y: m.dstack([x, y]), [M, M]),
    ("column_stack", lambda m, x, y: m.column_stack([x, y]), [V[:3], M]),
    ("atleast_1d", lambda m, x: m.atleast_1d(x), [S0]),
    ("atleast_2d", lambda m, x, y: m.atleast_2d(x, y), [S0, V]),
    ("atleast_3d", lambda m, x, y: m.atleast_3d((x, y)), [V, M]),
    ("flip", lambda m, x: m.flip(x, (0, 2)), [A]),
    ("flip", lambda m, x: x.flip(-1), [A]),
    ("fliplr", lambda m, x: m.fliplr(x), [M]),
    ("flipud", lambda m, x: m.flipud(x), [M]),
    ("roll", lambda m, x: m.roll(x, 1), [A]),
    ("roll", lambda m, x: x.roll((1, -2), (0, 2)), [A]),
    ("roll", lambda m, x: x.roll(2, -2), [A]),
    ("tile", lambda m, x: m.tile(x, (2,)), [A]),
    ("tile", lambda m, x: x.tile((2, 1, 1, 3)), [A]),
    ("tile", lambda m, x: x.repeat(2, 1, 3), [A]),
    ("tile", lambda m, x: x.repeat(2, 3), [S0]),
    ("repeat_interleave", lambda m, x: m.repeat_interleave(x, 2), [M]),
    ("repeat_interleave", lambda m, x: x.repeat_interleave(3, dim=-1), [M]),
    ("repeat_interleave", lambda m, x, r: x.repeat_interleave(r, dim=0), [M, IDS]),
    ("repeat_interleave", lambda m, r: m.repeat_interleave(r), [IDS]),
    ("tril", lambda m, x: m.tril(x), [SQ]),
    ("tril", lambda m, x: x.tril(-1), [A]),
    ("triu", lambda m, x: m.triu(x, 1), [M]),
    ("triu", lambda m, x: x.triu(-2), [A]),
    ("diag", lambda m, x: m.diag(x), [V]),
    ("diag", lambda m, x: x.diag(2), [V]),
    ("diag", lambda m, x: m.diag(x, -1), [M]),
    ("diag", lambda m, x: m.diag(x, 1), [M]),
    ("diag_embed", lambda m, x: m.diag_embed(x), [M]),
    ("diag_embed", lambda m, x: m.diag_embed(x, 1, 0, 2), [M]),
    ("rot90", lambda m, x: m.rot90(x), [M]),
    ("rot90", lambda m, x: m.rot90(x, 2, (1, 2)), [A]),
    ("rot90", lambda m, x: m.rot90(x, -1, (0, 2)), [A]),
]
COVERED = {c[0] for c in CASES}


def _run(fn, arrays, **kw):
    check_against_torch(lambda *a: fn(mytorch, *a), lambda *a: fn(torch, *a), *arrays, **kw)


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_shape_op(name, fn, arrays):
    _run(fn, arrays)


NON_CONTIGUOUS = [c for c in CASES if c is not VIEW_CASE and c[0] in ("transpose", "permute", "reshape", "flatten", "squeeze", "split",
                                               "cat", "stack", "flip", "roll", "tile", "tril", "diagonal",
                                               "narrow", "unbind", "repeat_interleave")
                  and c[2] and all(a.ndim >= 2 for a in c[2])]


@pytest.mark.parametrize("name,fn,arrays", NON_CONTIGUOUS, ids=[f"{c[0]}-{i}" for i, c in enumerate(NON_CONTIGUOUS)])
def test_shape_op_non_contiguous(name, fn, arrays):
    _run(fn, arrays, non_contiguous=True)


@pytest.mark.parametrize("fn", [lambda x: x.permute(2, 0, 1).reshape(6, 3), lambda x: x.unbind(1)[0],
                                lambda x: mytorch.cat([x, x.flip(0)], 1).roll(1, 0),
                                lambda x: x.diagonal(0, 1, 2).tril(), lambda x: x.repeat(1, 2, 1).split(2, 1)[1]])
def test_gradcheck(fn):
    x = mytorch.tensor(randn(2, 3, 3, seed=9), requires_grad=True)
    assert mytorch.autograd.gradcheck(fn, (x,))


def test_float32_stays_float32():
    x = mytorch.tensor(A.astype(np.float32), requires_grad=True)
    for out in (x.transpose(0, 1), x.reshape(-1), mytorch.cat([x, x]), x.repeat(2, 1, 1), x.flip(0)):
        assert out.dtype == mytorch.float32


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
ERRORS = [
    (lambda m: m.zeros(2, 3).t().view(6), RuntimeError, "view size is not compatible"),
    (lambda m: m.zeros(2, 3).reshape(4, 4), RuntimeError, r"shape '\[4, 4\]' is invalid for input of size 6"),
    (lambda m: m.zeros(2, 3).view(-1, -1), RuntimeError, "only one dimension can be inferred"),
    (lambda m: m.zeros(2, 3).expand(2, 4), RuntimeError, "must match the existing size"),
    (lambda m: m.zeros(2, 3).expand(3), RuntimeError, "must be greater or equal to the number of dimensions"),
    (lambda m: m.cat([m.zeros(2, 3), m.zeros(3, 4)], 1), RuntimeError,
     "Sizes of tensors must match except in dimension 1. Expected size 2 but got size 3 for tensor number 1"),
    (lambda m: m.cat([m.zeros(2, 3), m.zeros(3)], 1), RuntimeError, "Tensors must have same number of dimensions"),
    (lambda m: m.cat([]), ValueError, "expected a non-empty list of Tensors"),
    (lambda m: m.stack([m.zeros(2, 3), m.zeros(3)]), RuntimeError, "stack expects each tensor to be equal size"),
    (lambda m: m.zeros(5).split([2, 2]), RuntimeError, "split_with_sizes expects split_sizes to sum exactly to 5"),
    (lambda m: m.zeros(3, 4).squeeze(3), IndexError, "Dimension out of range"),
    (lambda m: m.zeros(3, 4).transpose(0, 2), IndexError, "Dimension out of range"),
    (lambda m: m.zeros(3, 4).permute(0), RuntimeError, "does not match the length"),
    (lambda m: m.zeros(3, 4).permute(0, 0), RuntimeError, "duplicate dims are not allowed"),
    (lambda m: m.zeros(3, 4).narrow(0, 2, 2), RuntimeError, "exceeds dimension size"),
    (lambda m: m.zeros(3, 4).repeat(2), RuntimeError, "Number of dimensions of repeat dims"),
    (lambda m: m.zeros(3).tril(), RuntimeError, "tril"),
    (lambda m: m.zeros(3, 4).flip((0, 0)), RuntimeError, "dim 0 appears multiple times"),
]


@pytest.mark.parametrize("fn,exc,msg", ERRORS)
def test_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn(torch)
    with pytest.raises(exc, match=msg):
        fn(mytorch)


# ---------------------------------------------------------------------------------------------
# view semantics: shared storage, version counter, saved-tensor checks
# ---------------------------------------------------------------------------------------------
VIEWS = [lambda x: x.transpose(0, 1), lambda x: x.view(-1), lambda x: x.reshape(12), lambda x: x.unsqueeze(0),
         lambda x: x[0:2].squeeze(), lambda x: x.narrow(1, 1, 2), lambda x: x.diagonal(), lambda x: x.unbind(0)[1],
         lambda x: x.split(1, 1)[2], lambda x: x.chunk(2)[1], lambda x: x.T, lambda x: x.mT, lambda x: x.permute(1, 0),
         lambda x: x.flatten(), lambda x: x.select(0, 1)]


@pytest.mark.parametrize("make_view", VIEWS)
def test_views_share_storage_and_version(make_view):
    x = mytorch.zeros(3, 4)
    v = make_view(x)
    before = x._version_value
    v.add_(1.0)
    assert x._version_value == before + 1
    assert float(x.abs().sum()) == v.numel()  # the write landed in x's storage


def test_reshape_copy_is_not_a_view():
    x = mytorch.zeros(3, 4)
    y = x.t().reshape(12)
    y.add_(1)
    assert float(x.abs().sum()) == 0 and x._version_value == 0


def test_copies_do_not_alias():
    x = mytorch.zeros(3, 4)
    for y in (x.flip(0), x.roll(1), x.repeat(1, 1), x.diag(), x.t().contiguous(), mytorch.cat([x]), x.tril()):
        y.add_(1)
    assert float(x.abs().sum()) == 0


def test_inplace_through_view_breaks_saved_tensor():
    w = mytorch.tensor(randn(3, 4, seed=3))
    x = mytorch.tensor(randn(3, 4, seed=4), requires_grad=True)
    y = (x * w).sum()  # saves w
    w.view(-1).mul_(2)  # in-place through a view bumps w's shared version
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_contiguous_returns_self_when_contiguous():
    x = mytorch.zeros(3, 4)
    assert x.contiguous() is x
    assert x.t().contiguous().is_contiguous()
    assert_close(x.t().contiguous(), torch.zeros(3, 4).t())


def test_view_as_dtype_reinterprets_bits():
    data = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    mine, ref = mytorch.tensor(data).view(mytorch.int32), torch.tensor(data).view(torch.int32)
    assert_close(mine, ref)
    mine.add_(0)  # shares the version counter with its source
    assert mine._version_value == 1
