"""Elementwise ops against PyTorch: values and input gradients, with broadcasting, 0-d and
non-contiguous inputs, plus float64 gradchecks and dtype promotion."""
import numpy as np
import pytest
import torch

import mytorch
from tests.helpers import assert_close, check_against_torch, randn

A = randn(3, 4, seed=1)
B = randn(3, 4, seed=2)
ROW = randn(4, seed=3)
COL = randn(3, 1, seed=4)
SCALAR0D = np.array(0.7)
POS = np.abs(A) + 0.5
UNIT = np.tanh(A) * 0.9  # inside (-1, 1)
BIG = np.abs(A) + 1.5

# (name, inputs) — the op is looked up by name in both libraries
BINARY_CASES = [
    ("add", (A, B)), ("add", (A, ROW)), ("add", (A, COL)), ("add", (SCALAR0D, A)),
    ("sub", (A, B)), ("sub", (COL, ROW)),
    ("mul", (A, B)), ("mul", (A, ROW)), ("mul", (A, SCALAR0D)),
    ("div", (A, POS)), ("div", (ROW, COL + 3)),
    ("true_divide", (A, POS)),
    ("pow", (POS, B)), ("pow", (POS, ROW)),
    ("maximum", (A, B)), ("minimum", (A, ROW)),
    ("fmod", (A, POS)), ("remainder", (A, POS)),
    ("atan2", (A, B)),
    ("subtract", (A, B)), ("multiply", (A, COL)), ("divide", (A, POS)),
    ("lerp", (A, B, POS / 4)),
    ("addcmul", (A, B, ROW)), ("addcdiv", (A, B, POS)),
    ("rsub", (A, B)),
]

UNARY_CASES = [
    ("neg", A), ("negative", A), ("exp", A), ("exp2", A), ("expm1", A), ("log", POS), ("log2", POS),
    ("log10", POS), ("log1p", POS), ("sqrt", POS), ("rsqrt", POS), ("reciprocal", POS), ("abs", A),
    ("absolute", A), ("sin", A), ("cos", A), ("tan", UNIT), ("asin", UNIT), ("arcsin", UNIT), ("acos", UNIT),
    ("arccos", UNIT), ("atan", A), ("arctan", A), ("sinh", A), ("cosh", A), ("tanh", A), ("asinh", A),
    ("acosh", BIG), ("atanh", UNIT), ("sigmoid", A * 10), ("relu", A), ("erf", A), ("erfc", A), ("sign", A),
    ("sgn", A), ("floor", A * 3), ("ceil", A * 3), ("trunc", A * 3), ("frac", A * 3), ("square", A),
    ("positive", A), ("round", A * 3), ("nan_to_num", A),
]


@pytest.mark.parametrize("name,inputs", BINARY_CASES, ids=[c[0] for c in BINARY_CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary(name, inputs, dtype):
    arrays = [x.astype(dtype) for x in inputs]
    check_against_torch(getattr(mytorch, name), getattr(torch, name), *arrays)


@pytest.mark.parametrize("name,x", UNARY_CASES, ids=[c[0] for c in UNARY_CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unary(name, x, dtype):
    check_against_torch(getattr(mytorch, name), getattr(torch, name), x.astype(dtype))


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "mul", "div"])
def test_non_contiguous(name):
    fn_m, fn_t = getattr(mytorch, name), getattr(torch, name)
    arrays = (A,) if name in ("exp", "tanh", "sigmoid") else (A, POS)
    check_against_torch(fn_m, fn_t, *arrays, non_contiguous=True)


@pytest.mark.parametrize("kwargs", [dict(min=-0.5), dict(max=0.3), dict(min=-0.2, max=0.4)])
def test_clamp(kwargs):
    check_against_torch(mytorch.clamp, torch.clamp, A, kwargs=kwargs)
    check_against_torch(mytorch.clip, torch.clip, A, kwargs=kwargs)
    if "min" in kwargs and "max" not in kwargs:
        check_against_torch(mytorch.clamp_min, torch.clamp_min, A, kwargs=kwargs)
    if "max" in kwargs and "min" not in kwargs:
        check_against_torch(mytorch.clamp_max, torch.clamp_max, A, kwargs=kwargs)


def test_clamp_tensor_bounds():
    check_against_torch(mytorch.clamp, torch.clamp, A, ROW - 0.5, ROW + 0.5)


def test_where():
    cond = A > 0
    check_against_torch(lambda x, y: mytorch.where(mytorch.tensor(cond), x, y),
                        lambda x, y: torch.where(torch.tensor(cond), x, y), A, ROW)
    check_against_torch(lambda x: mytorch.where(mytorch.tensor(cond), x, 0.0),
                        lambda x: torch.where(torch.tensor(cond), x, 0.0), A)


@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_div_rounding_modes(mode):
    check_against_torch(lambda a, b: mytorch.div(a, b, rounding_mode=mode),
                        lambda a, b: torch.div(a, b, rounding_mode=mode), A * 5, POS, grad=mode is None)
    ia, ib = np.array([7, -7, 9, -9]), np.array([2, 2, -4, -4])
    assert_close(mytorch.div(mytorch.tensor(ia), mytorch.tensor(ib), rounding_mode=mode),
                 torch.div(torch.tensor(ia), torch.tensor(ib), rounding_mode=mode))


COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal"]
LOGICAL = ["logical_and", "logical_or", "logical_xor"]
BITWISE = ["bitwise_and", "bitwise_or", "bitwise_xor"]


@pytest.mark.parametrize("name", COMPARISONS + LOGICAL)
def test_comparison_and_logic(name):
    a, b = np.round(A), np.round(ROW)
    check_against_torch(getattr(mytorch, name), getattr(torch, name), a, b, grad=False)


@pytest.mark.parametrize("name", BITWISE)
def test_bitwise(name):
    a, b = np.array([[1, 6, 3]]), np.array([[5], [2]])
    check_against_torch(getattr(mytorch, name), getattr(torch, name), a, b)
    check_against_torch(getattr(mytorch, name), getattr(torch, name), a > 2, b > 2)


def test_unary_predicates():
    x = np.array([1.0, np.nan, np.inf, -np.inf, 0.0])
    for name in ["isnan", "isinf", "isfinite", "isposinf", "isneginf", "logical_not", "nan_to_num"]:
        check_against_torch(getattr(mytorch, name), getattr(torch, name), x, grad=False)
    check_against_torch(mytorch.bitwise_not, torch.bitwise_not, np.array([1, -3, 0]))


def test_isclose_allclose_equal():
    a, b = mytorch.tensor([1.0, 2.0]), mytorch.tensor([1.0, 2.0 + 1e-5])
    assert mytorch.allclose(a, b) and not mytorch.equal(a, b) and mytorch.equal(a, a.clone())
    assert mytorch.isclose(a, b).tolist() == [True, True]


def test_operators_match_functions():
    x, y = mytorch.tensor(A), mytorch.tensor(POS)
    tx, ty = torch.tensor(A), torch.tensor(POS)
    for op in [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
               lambda a, b: a ** b, lambda a, b: a // b, lambda a, b: a % b, lambda a, b: 2 - a,
               lambda a, b: 3 / b, lambda a, b: 2 ** a, lambda a, b: -a, lambda a, b: abs(a),
               lambda a, b: a < b, lambda a, b: (a > 0) & (b > 1), lambda a, b: ~(a > 0)]:
        assert_close(op(x, y), op(tx, ty))


# dtype promotion: (left, right) -> compared against torch's result dtype
PROMOTIONS = [
    (np.array([1, 2], np.int32), 2.5), (np.array([1, 2], np.int64), 2), (np.array([1.0], np.float16), 2.0),
    (np.array([1, 2], np.int32), np.array([1.0, 2.0], np.float32)), (np.array([1], np.uint8), np.array([1], np.int8)),
    (np.array([True]), 1), (np.array([True]), 1.5), (np.array([1.0], np.float32), np.array(2.0, np.float64)),
    (np.array([1], np.int32), np.array(2.0, np.float64)), (np.array([1.0], np.float16), np.array([2], np.int64)),
    (np.array(3, np.int32), 2.5),
]


@pytest.mark.parametrize("left,right", PROMOTIONS)
def test_promotion(left, right):
    def make(lib, v):
        return lib.tensor(v) if isinstance(v, np.ndarray) else v

    for op in (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a / b):
        assert_close(op(make(mytorch, left), make(mytorch, right)), op(make(torch, left), make(torch, right)))


def test_device_mismatch_message():
    with pytest.raises(RuntimeError, match="CUDA is not available|cuda"):
        mytorch.ones(2, device="cuda")


@pytest.mark.parametrize("name", ["exp", "sigmoid", "tanh", "erf", "log1p"])
def test_gradcheck_unary(name):
    x = mytorch.tensor(randn(5, seed=7) * 0.5 + (1.5 if name == "log1p" else 0), requires_grad=True)
    assert mytorch.autograd.gradcheck(getattr(mytorch, name), (x,))


def test_gradcheck_binary_broadcast():
    x = mytorch.tensor(randn(2, 3, seed=1), requires_grad=True)
    y = mytorch.tensor(np.abs(randn(3, seed=2)) + 0.5, requires_grad=True)
    for fn in (mytorch.add, mytorch.mul, mytorch.div, mytorch.maximum, lambda a, b: b ** a):
        assert mytorch.autograd.gradcheck(fn, (x, y))


def test_integer_unary_promotes_to_float():
    assert_close(mytorch.exp(mytorch.tensor([1, 2])), torch.exp(torch.tensor([1, 2])))
    assert_close(mytorch.sqrt(mytorch.tensor([True])), torch.sqrt(torch.tensor([True])))


COVERED = ({c[0] for c in BINARY_CASES} | {c[0] for c in UNARY_CASES} | set(COMPARISONS) | set(LOGICAL)
           | set(BITWISE) | {"clamp", "clip", "clamp_min", "clamp_max", "where", "isnan", "isinf", "isfinite",
                             "isposinf", "isneginf", "logical_not", "bitwise_not", "floor_divide", "allclose",
                             "isclose", "equal"})


@pytest.mark.parametrize("shapes", [((2, 3), (4, 3)), ((5, 2, 3), (2, 4)), ((3,), (4,))])
@pytest.mark.parametrize("op", ["add", "mul", "sub", "div", "maximum", "pow"])
def test_broadcast_error_matches_torch(shapes, op):
    a, b = shapes
    with pytest.raises(RuntimeError) as ours:
        getattr(mytorch, op)(mytorch.rand(*a) + 0.5, mytorch.rand(*b) + 0.5)
    with pytest.raises(RuntimeError) as theirs:
        getattr(torch, op)(torch.rand(*a) + 0.5, torch.rand(*b) + 0.5)
    assert str(ours.value) == str(theirs.value)
