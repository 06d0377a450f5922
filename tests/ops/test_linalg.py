"""Matrix products and einsum against PyTorch: values and gradients (1-D/2-D/batched with broadcast batch
dims, non-contiguous, float32/float64), gradchecks, and shape/dtype errors with torch's messages."""
import numpy as np
import pytest
import torch

import mytorch
from mytorch.autograd import gradcheck
from tests.helpers import assert_close, check_against_torch, randn


def r(*shape, seed=0):
    return randn(*shape, seed=seed + sum(shape))


CASES = [
    ("matmul", (r(4), r(4, seed=1)), {}), ("matmul", (r(3, 4), r(4, 5)), {}), ("matmul", (r(4), r(4, 5)), {}),
    ("matmul", (r(3, 4), r(4)), {}), ("matmul", (r(2, 3, 4), r(4, 5)), {}), ("matmul", (r(3, 4), r(2, 4, 5)), {}),
    ("matmul", (r(2, 3, 4), r(2, 4, 5)), {}), ("matmul", (r(2, 1, 3, 4), r(5, 4, 2)), {}),
    ("matmul", (r(2, 3, 4), r(4)), {}), ("matmul", (r(4), r(2, 4, 5)), {}), ("matmul", (r(0, 4), r(4, 3)), {}),
    ("mm", (r(3, 4), r(4, 5)), {}), ("bmm", (r(2, 3, 4), r(2, 4, 5)), {}), ("mv", (r(3, 4), r(4)), {}),
    ("dot", (r(6), r(6, seed=1)), {}), ("outer", (r(3), r(4)), {}), ("ger", (r(3), r(4)), {}),
    ("inner", (r(2, 3), r(4, 3)), {}), ("inner", (r(3), r(3, seed=2)), {}), ("inner", (np.array(2.0), r(2, 3)), {}),
    ("addmm", (r(5), r(3, 4), r(4, 5)), {}), ("addmm", (r(3, 5), r(3, 4), r(4, 5)), dict(beta=0.5, alpha=2.0)),
    ("addmm", (r(3, 1), r(3, 4), r(4, 5)), dict(beta=0, alpha=-1.0)),
    ("addmv", (r(3), r(3, 4), r(4)), dict(beta=2.0)), ("addr", (r(3, 4), r(3), r(4)), dict(alpha=0.5)),
    ("baddbmm", (r(4), r(2, 3, 5), r(2, 5, 4)), {}), ("baddbmm", (r(2, 3, 4), r(2, 3, 5), r(2, 5, 4)),
                                                       dict(beta=-1.0, alpha=3.0)),
    ("addbmm", (r(3, 4), r(2, 3, 5), r(2, 5, 4)), dict(beta=0.5)),
    ("tensordot", (r(2, 3, 4), r(3, 4, 5)), {}), ("tensordot", (r(2, 3), r(3, 4)), dict(dims=1)),
    ("tensordot", (r(2, 3), r(4, 5)), dict(dims=0)),
    ("tensordot", (r(2, 3, 4), r(4, 3, 5)), dict(dims=([1, 2], [1, 0]))),
    ("tensordot", (r(2, 3, 4), r(4, 3, 5)), dict(dims=([-1], [0]))),
]

EINSUM = [
    ("ij,jk->ik", (3, 4), (4, 5)), ("ij,jk", (3, 4), (4, 5)), ("ij,kj->ik", (3, 4), (5, 4)),
    ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)), ("bij,bjk->bik", (1, 3, 4), (2, 4, 5)), ("i,i->", (4,), (4,)),
    ("i,j->ij", (3,), (4,)), ("i,j", (3,), (4,)), ("ij,ij->ij", (3, 4), (3, 4)), ("ij,ij->", (3, 4), (3, 4)),
    ("ij->ji", (3, 4)), ("ij->", (3, 4)), ("ij->j", (3, 4)), ("ij", (3, 4)), ("ba", (3, 4)), ("ii->i", (3, 3)),
    ("ii", (3, 3)), ("iij->ij", (3, 3, 2)), ("ij,jk,kl->il", (2, 3), (3, 4), (4, 5)),
    ("...ij,...jk", (5, 2, 3), (3, 4)), ("...ij,...jk->...ik", (2, 1, 2, 3), (4, 3, 5)),
    ("i...->...i", (2, 3, 4)), ("...,...->", (2, 3), (3,)), ("ba,b", (2, 3), (2,)), ("Ab,bA", (3, 2), (2, 3)),
    ("ij,jk->k", (3, 4), (4, 5)), ("bhqd,bhkd->bhqk", (2, 2, 3, 4), (2, 2, 5, 4)), ("ijk,jl->il", (2, 3, 4), (3, 5)),
    ("i,ij->j", (3,), (3, 3)), ("ii,i->i", (3, 3), (3,)), ("i ,j -> ij", (2,), (3,)),
]


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linalg(name, args, kwargs, dtype):
    arrays = [a.astype(dtype) for a in args]
    check_against_torch(getattr(mytorch, name), getattr(torch, name), *arrays, kwargs=kwargs)


@pytest.mark.parametrize("eq,shapes", [(e[0], e[1:]) for e in EINSUM], ids=[e[0] for e in EINSUM])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_einsum(eq, shapes, dtype):
    arrays = [randn(*s, seed=i).astype(dtype) for i, s in enumerate(shapes)]
    check_against_torch(lambda *xs: mytorch.einsum(eq, *xs), lambda *xs: torch.einsum(eq, *xs), *arrays)


def test_einsum_sublist_format():
    check_against_torch(lambda a, b: mytorch.einsum(a, [0, 1], b, [1, 2], [0, 2]),
                        lambda a, b: torch.einsum(a, [0, 1], b, [1, 2], [0, 2]), r(2, 3), r(3, 4))
    check_against_torch(lambda a: mytorch.einsum(a, [Ellipsis, 30]), lambda a: torch.einsum(a, [Ellipsis, 30]),
                        r(2, 3))


def test_einsum_view_result_is_a_copy():
    x = mytorch.tensor(r(3, 3))
    y = mytorch.einsum("ij->ji", x)
    y.add_(1.0)
    assert_close(x, torch.tensor(r(3, 3)))


def test_einsum_list_operands():
    check_against_torch(lambda a, b: mytorch.einsum("ij,jk->ik", [a, b]),
                        lambda a, b: torch.einsum("ij,jk->ik", [a, b]), r(2, 3), r(3, 4))


NON_CONTIGUOUS = [("matmul", (r(3, 4), r(4, 5))), ("matmul", (r(2, 3, 4), r(4, 5))), ("mm", (r(3, 4), r(4, 2))),
                  ("bmm", (r(2, 3, 4), r(2, 4, 5))), ("mv", (r(3, 4), r(4)))]


@pytest.mark.parametrize("name,args", NON_CONTIGUOUS, ids=[c[0] for c in NON_CONTIGUOUS])
def test_non_contiguous(name, args):
    check_against_torch(getattr(mytorch, name), getattr(torch, name), *args, non_contiguous=True)


def test_operators_and_methods():
    a, b = r(2, 3, 4), r(4, 5)
    check_against_torch(lambda x, y: x @ y, lambda x, y: x @ y, a, b)
    check_against_torch(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), a, b)
    for lhs, rhs in [(a, mytorch.tensor(b)), (mytorch.tensor(a), b.tolist())]:  # like torch: no implicit conversion
        with pytest.raises(TypeError, match="unsupported operand"):
            lhs @ rhs
    for name, args in [("mm", (r(3, 4), r(4, 2))), ("mv", (r(3, 4), r(4))), ("dot", (r(3), r(3))),
                       ("outer", (r(2), r(3))), ("addmm", (r(2), r(3, 4), r(4, 2)))]:
        check_against_torch(lambda *t: getattr(t[0], name)(*t[1:]), lambda *t: getattr(t[0], name)(*t[1:]), *args)


def test_integer_matmul():
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    check_against_torch(mytorch.matmul, torch.matmul, a, b)


GRADCHECK = [
    ("matmul", lambda a, b: a @ b, (2, 3, 4), (4, 2)),
    ("matmul_broadcast", lambda a, b: a @ b, (2, 1, 3, 4), (3, 4, 2)),
    ("matmul_vec", lambda a, b: a @ b, (4,), (2, 4, 3)),
    ("einsum_diag", lambda a, b: mytorch.einsum("iij,jk->ik", a, b), (3, 3, 2), (2, 2)),
    ("einsum_sum_only", lambda a, b: mytorch.einsum("ij,k->ik", a, b), (2, 3), (4,)),
    ("addbmm", lambda a, b: mytorch.addbmm(mytorch.zeros(3, 2, dtype=mytorch.float64), a, b, alpha=2.0),
     (2, 3, 4), (2, 4, 2)),
    ("tensordot", lambda a, b: mytorch.tensordot(a, b, dims=([0, 2], [2, 0])), (2, 3, 4), (4, 3, 2)),
]


@pytest.mark.parametrize("name,fn,sa,sb", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck(name, fn, sa, sb):
    a = mytorch.tensor(randn(*sa, seed=1), requires_grad=True)
    b = mytorch.tensor(randn(*sb, seed=2), requires_grad=True)
    assert gradcheck(fn, (a, b))


# (op, shapes, extra): mytorch must raise the same type and message as torch
ERRORS = [
    ("matmul", [(2, 3), (4, 5)]), ("matmul", [(3,), (4,)]), ("matmul", [(3,), (4, 5)]), ("matmul", [(2, 3), (4,)]),
    ("matmul", [(2, 2, 3), (3, 3, 4)]), ("matmul", [(2, 2, 3), (2, 4, 4)]), ("matmul", [(2, 2, 3), (4,)]),
    ("matmul", [(), (2,)]), ("mm", [(2, 3), (4, 5)]), ("mm", [(2,), (4, 5)]), ("mm", [(2, 3), (3,)]),
    ("bmm", [(2, 3), (4, 5)]), ("bmm", [(2, 2, 3), (4, 5)]), ("bmm", [(2, 2, 3), (2, 4, 5)]),
    ("bmm", [(2, 2, 3), (3, 3, 5)]), ("mv", [(2, 3), (4,)]), ("mv", [(2,), (4,)]), ("dot", [(2, 3), (4,)]),
    ("dot", [(3,), (4,)]), ("outer", [(2, 3), (4,)]), ("addmm", [(3,), (2, 3), (4, 5)]),
    ("tensordot", [(2, 3), (4, 5)], dict(dims=1)),
    ("einsum", [(2, 3), (4, 5)], "ij,jk"), ("einsum", [(2, 3)], "ij,jk->ik"), ("einsum", [(2, 3)], "ij->ik"),
    ("einsum", [(2, 3)], "ijk->ij"),
]


@pytest.mark.parametrize("case", ERRORS, ids=[f"{c[0]}-{i}" for i, c in enumerate(ERRORS)])
def test_shape_errors_match_torch(case):
    name, shapes = case[0], case[1]
    extra = case[2] if len(case) > 2 else None
    th = [torch.zeros(s) for s in shapes]
    mt = [mytorch.zeros(*s) for s in shapes]

    def call(lib, tensors):
        if name == "einsum":
            return lib.einsum(extra, *tensors)
        return getattr(lib, name)(*tensors, **(extra or {}))

    with pytest.raises(RuntimeError) as ref:
        call(torch, th)
    with pytest.raises(RuntimeError) as mine:
        call(mytorch, mt)
    assert str(mine.value) == str(ref.value)


@pytest.mark.parametrize("name,shapes", [("matmul", [(2, 3), (3, 4)]), ("mm", [(2, 3), (3, 4)]),
                                         ("dot", [(3,), (3,)]), ("bmm", [(2, 2, 3), (2, 3, 2)])])
def test_dtype_mismatch_errors_match_torch(name, shapes):
    with pytest.raises(RuntimeError) as ref:
        getattr(torch, name)(torch.zeros(shapes[0]), torch.zeros(shapes[1], dtype=torch.float64))
    with pytest.raises(RuntimeError) as mine:
        getattr(mytorch, name)(mytorch.zeros(*shapes[0]), mytorch.zeros(*shapes[1], dtype=mytorch.float64))
    assert str(mine.value) == str(ref.value)


def test_matmul_rejects_non_tensor():
    with pytest.raises(TypeError):
        mytorch.matmul(mytorch.zeros(2, 2), [[1.0, 0.0], [0.0, 1.0]])


COVERED = {c[0] for c in CASES} | {"einsum"}
