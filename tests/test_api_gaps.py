"""The in-place methods, Tensor methods and top-level names that closed API gaps with PyTorch 2.13, against
PyTorch: values, autograd through the in-place op, `x.op_() is x`, the version counter, PyTorch's errors (leaf
tensors that require grad, dtypes), the shape-changing in-place ops (t_, squeeze_, as_strided_, ...), the
torch.<name> forms of nn.functional ops, asarray / DLPack, and the deprecated or removed names."""
import array
import warnings

import numpy as np
import pytest
import torch

import mytorch
from tests.helpers import assert_close, check_against_torch, randn

# public ops whose parity cases live here (tests/ops/test_coverage.py)
TOP_INPLACE = ["abs_", "acos_", "acosh_", "asin_", "asinh_", "atan_", "atanh_", "arccos_", "arccosh_", "arcsin_",
               "arcsinh_", "arctan_", "arctanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_", "cos_",
               "cosh_", "deg2rad_", "rad2deg_", "erf_", "erfc_", "exp_", "exp2_", "expm1_", "fill_", "fix_", "floor_",
               "frac_", "gcd_", "lcm_", "i0_", "index_put_", "ldexp_", "log_", "log10_", "log1p_", "log2_", "logit_",
               "nan_to_num_", "neg_", "negative_", "reciprocal_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_",
               "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "addmv_", "as_strided_"]
COVERED = set(TOP_INPLACE) | {
    "arccosh", "arcsinh", "arctanh", "arctan2", "fix", "asarray", "from_dlpack", "to_dlpack", "binomial", "poisson",
    "chain_matmul", "frobenius_norm", "nuclear_norm", "matrix_rank", "solve", "lstsq", "symeig", "eig",
    "detach_copy", "select_copy", "slice_copy", "split_copy", "view_as_real_copy", "view_as_complex_copy"}

RNG = np.random.default_rng(0)
SMALL = np.clip(RNG.standard_normal((3, 3)) * 0.4, -0.9, 0.9)  # inside (-1, 1): asin, atanh, erfinv
UNIT = RNG.uniform(0.2, 0.8, (3, 3))  # logit, digamma, igamma
BIG = RNG.uniform(1.5, 3.0, (3, 3))  # acosh, mvlgamma(p=2)
INTS = np.array([[3, 4, -6], [8, 1, 2], [0, 5, 7]], dtype=np.int64)
OTHER = RNG.standard_normal((3, 3))
VEC = RNG.standard_normal(3)
BATCH = RNG.standard_normal((2, 3, 3))


def _lib(L, a):
    """numpy arrays -> L tensors (float ones requiring grad when asked), everything else as it is."""
    if isinstance(a, np.ndarray):
        return L.tensor(a.copy())
    if isinstance(a, tuple):
        return tuple(_lib(L, x) for x in a)
    return a


# (method, input, args, kwargs, whether PyTorch differentiates the in-place form)
INPLACE = [
    ("absolute_", SMALL, (), {}, True), ("arccos_", SMALL, (), {}, True), ("arccosh_", BIG, (), {}, False),
    ("arcsin_", SMALL, (), {}, True), ("arcsinh_", SMALL, (), {}, False), ("arctan_", SMALL, (), {}, True),
    ("arctanh_", SMALL, (), {}, False), ("arctan2_", SMALL, (OTHER,), {}, True),
    ("addbmm_", SMALL, (BATCH, BATCH), {"beta": 0.5, "alpha": 2}, True),
    ("addmm_", SMALL, (OTHER, OTHER), {"beta": 0.5, "alpha": 2}, True), ("addmm_", SMALL, (OTHER, OTHER), {}, True),
    ("addr_", SMALL, (VEC, VEC), {"alpha": 3}, True), ("baddbmm_", BATCH, (BATCH, BATCH), {"beta": 2}, True),
    ("addmv_", VEC, (OTHER, VEC), {"alpha": 0.5}, True),
    ("bitwise_and_", INTS, (INTS[::-1].copy(),), {}, False), ("bitwise_or_", INTS, (INTS.T.copy(),), {}, False),
    ("bitwise_xor_", INTS, (5,), {}, False), ("bitwise_not_", INTS, (), {}, False),
    ("bitwise_left_shift_", INTS, (2,), {}, False), ("bitwise_right_shift_", INTS, (1,), {}, False),
    ("copysign_", SMALL, (OTHER,), {}, True), ("deg2rad_", SMALL, (), {}, True), ("rad2deg_", SMALL, (), {}, True),
    ("digamma_", UNIT, (), {}, True), ("erfinv_", SMALL, (), {}, True), ("fix_", BIG * 2, (), {}, True),
    ("float_power_", UNIT, (OTHER,), {}, True), ("float_power_", UNIT, (2.5,), {}, True),
    ("gcd_", INTS, (INTS.T.copy(),), {}, False), ("lcm_", INTS, (INTS.T.copy(),), {}, False),
    ("heaviside_", SMALL, (OTHER,), {}, False), ("hypot_", SMALL, (OTHER,), {}, True), ("i0_", SMALL, (), {}, True),
    ("igamma_", UNIT, (BIG,), {}, False), ("igammac_", UNIT, (BIG,), {}, False),
    ("ldexp_", SMALL, (np.abs(INTS),), {}, True), ("lgamma_", UNIT, (), {}, True),
    ("logical_and_", SMALL, (OTHER,), {}, False), ("logical_or_", SMALL * 0, (OTHER,), {}, False),
    ("logical_xor_", SMALL, (OTHER,), {}, False), ("logical_not_", SMALL, (), {}, False),
    ("logit_", UNIT, (), {}, True), ("logit_", UNIT, (0.3,), {}, True), ("mvlgamma_", BIG, (2,), {}, True),
    ("negative_", SMALL, (), {}, True), ("nextafter_", SMALL, (OTHER,), {}, False),
    ("polygamma_", UNIT, (1,), {}, True), ("renorm_", SMALL, (2, 0, 0.5), {}, True), ("sinc_", SMALL, (), {}, True),
    ("tril_", SMALL, (), {}, True), ("tril_", SMALL, (-1,), {}, True), ("triu_", SMALL, (1,), {}, True),
    ("xlogy_", UNIT, (BIG,), {}, True), ("xlogy_", UNIT, (2.0,), {}, True),
    ("index_reduce_", SMALL, (0, np.array([0, 2, 0]), OTHER, "prod"), {}, True),
    ("index_reduce_", SMALL, (1, np.array([1, 1, 0]), OTHER, "amax"), {"include_self": False}, True),
    ("fill_diagonal_", SMALL, (3.0,), {}, True), ("fill_diagonal_", SMALL, (3.0, True), {}, True),
    ("eq_", SMALL, (OTHER,), {}, True), ("eq_", SMALL.round(1), (0.1,), {}, True),
    ("ne_", SMALL, (OTHER,), {}, True), ("lt_", SMALL, (0,), {}, True), ("le_", SMALL, (OTHER,), {}, True),
    ("gt_", SMALL, (OTHER,), {}, True), ("ge_", SMALL, (OTHER,), {}, True), ("greater_", SMALL, (OTHER,), {}, True),
    ("greater_equal_", SMALL, (0.1,), {}, True), ("less_", SMALL, (OTHER,), {}, True),
    ("less_equal_", SMALL, (OTHER,), {}, True), ("not_equal_", SMALL, (OTHER,), {}, True),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(INPLACE)]


def _version(t):
    return t._version if isinstance(t, torch.Tensor) else t._version_value


@pytest.mark.parametrize("name,x,args,kwargs,diff", INPLACE, ids=IDS)
def test_inplace_values_identity_and_version(name, x, args, kwargs, diff):
    results = []
    for L in (torch, mytorch):
        t = _lib(L, x)
        before = _version(t)
        out = getattr(t, name)(*_lib(L, args), **kwargs)
        assert out is t
        results.append((t, _version(t) - before))
    assert_close(results[1][0], results[0][0], rtol=1e-8)  # polygamma's series agree to ~1e-9
    assert results[1][1] == results[0][1] == 1


@pytest.mark.parametrize("name,x,args,kwargs,diff", [c for c in INPLACE if c[4] and c[1].dtype.kind == "f"],
                         ids=[i for i, c in zip(IDS, INPLACE) if c[4] and c[1].dtype.kind == "f"])
def test_inplace_autograd(name, x, args, kwargs, diff):
    """On a non-leaf: the gradient reaches the leaf through the in-place op (zero for comparisons) and the
    float arguments; on the leaf itself PyTorch's error."""
    grads = []
    for L in (torch, mytorch):
        leaf = L.tensor(x.copy(), requires_grad=True)
        targs = [L.tensor(a.copy(), requires_grad=True) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else
                 _lib(L, a) for a in args]
        y = leaf * 1.0
        getattr(y, name)(*targs, **kwargs)
        assert y.requires_grad and y.grad_fn is not None
        (y * L.tensor(np.arange(y.numel(), dtype=np.float64).reshape(y.shape))).sum().backward()
        grads.append([leaf.grad] + [a.grad for a in targs if isinstance(a, L.Tensor) and a.requires_grad])
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            getattr(leaf, name)(*targs, **kwargs)
    assert_close(grads[1], grads[0], rtol=1e-8)


def test_comparison_inplace_keeps_the_tensor_in_the_graph_with_zero_gradient():
    for L in (torch, mytorch):
        other = L.tensor([1.0, 2.0], requires_grad=True)
        x = L.zeros(2)
        x.eq_(other)  # x did not require grad: it does now, as in PyTorch
        assert x.requires_grad and x.grad_fn is not None
        x.sum().backward()
        assert other.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("name,x,args,message", [
    ("sinc_", INTS, (), "result type Float can't be cast to the desired output type Long"),
    ("logit_", INTS, (), "result type Float can't be cast to the desired output type Long"),
    ("float_power_", UNIT.astype(np.float32), (2,), "the base given to float_power_ has dtype Float but the "
                                                     "operation's result requires dtype Double"),
    ("float_power_", INTS, (2,), "the base given to float_power_ has dtype Long but the operation's result "
                                 "requires dtype Double"),
    ("bitwise_not_", SMALL, (), "\"bitwise_not_cpu\" not implemented for 'Double'"),
    ("gcd_", SMALL, (SMALL,), "\"gcd_cpu\" not implemented for 'Double'"),
    ("bitwise_left_shift_", SMALL, (1,), "\"lshift_cpu\" not implemented for 'Double'"),
    ("fill_diagonal_", VEC, (1.0,), "dimensions must larger than 1"),
    ("fill_diagonal_", BATCH, (1.0,), "all dimensions of input must be of equal length"),
    ("t_", BATCH, (), "t_() expects a tensor with <= 2 dimensions, but self is 3D"),
])
def test_inplace_errors_match_torch(name, x, args, message):
    for L in (torch, mytorch):
        with pytest.raises(RuntimeError) as err:
            getattr(_lib(L, x), name)(*_lib(L, args))
        assert str(err.value) == message, L.__name__


def test_inplace_with_an_int_result_on_an_int_tensor():
    for L in (torch, mytorch):
        x = L.tensor([3, 5])
        x.eq_(L.tensor([3, 4]))
        assert x.tolist() == [1, 0] and x.dtype == L.int64
        b = L.tensor([True, False])
        assert b.lt_(0.5).tolist() == [False, True]
        assert L.zeros(2, 2, dtype=L.int64).fill_diagonal_(2.5).tolist() == [[2, 0], [0, 2]]


@pytest.mark.parametrize("op", ["__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__"])
def test_augmented_bitwise_assignment_is_in_place(op):
    results = []
    for L in (torch, mytorch):
        x = L.tensor(INTS.copy())
        assert getattr(x, op)(L.tensor([1, 2, 3])) is x
        results.append(x)
    assert_close(results[1], results[0])


def test_alias_methods_are_the_same_functions():
    T = mytorch.Tensor
    for alias, name in [("absolute_", "abs_"), ("arccos_", "acos_"), ("fix_", "trunc_"), ("negative_", "neg_"),
                        ("greater_", "gt_"), ("not_equal_", "ne_"), ("swapaxes_", "transpose_"),
                        ("swapdims_", "transpose_"), ("arccosh", "acosh"), ("arcsinh", "asinh"),
                        ("arctanh", "atanh"), ("arctan2", "atan2"), ("fix", "trunc")]:
        assert getattr(T, alias) is getattr(T, name), alias
    for alias, name in [("arccosh", "acosh"), ("arcsinh", "asinh"), ("arctanh", "atanh"), ("arctan2", "atan2"),
                        ("fix", "trunc")]:
        assert getattr(mytorch, alias) is getattr(mytorch, name), alias


def test_absolute_inplace_refuses_complex():
    for L in (torch, mytorch):
        with pytest.raises(RuntimeError, match="In-place abs is not supported for complex tensors."):
            L.tensor([1 + 1j]).absolute_()


@pytest.mark.parametrize("name,x,args", [
    ("arccosh", BIG, ()), ("arcsinh", SMALL, ()), ("arctanh", SMALL, ()), ("arctan2", SMALL, (OTHER,)),
    ("fix", BIG * 2 - 3, ()),
])
def test_alias_functions_match_torch(name, x, args):
    check_against_torch(getattr(mytorch, name), getattr(torch, name), x, *args)
    check_against_torch(lambda t, *a: getattr(t, name)(*a), lambda t, *a: getattr(t, name)(*a), x, *args)


# ---------------------------------------------------------------------------------------------------------
# shape-changing in-place ops: the tensor itself becomes the view
# ---------------------------------------------------------------------------------------------------------
SHAPE_CHANGES = [
    ("t_", ()), ("transpose_", (0, 1)), ("swapaxes_", (1, 0)), ("swapdims_", (0, -1)), ("squeeze_", ()),
    ("squeeze_", (1,)), ("unsqueeze_", (0,)), ("unsqueeze_", (-1,)), ("as_strided_", ((2, 2), (1, 2))),
    ("as_strided_", ((3,), (2,), 1)),
]


@pytest.mark.parametrize("name,args", SHAPE_CHANGES, ids=[f"{n}{a}" for n, a in SHAPE_CHANGES])
def test_shape_change_in_place(name, args):
    data = np.arange(6.0).reshape(2, 3) if not name.startswith("squeeze") else np.arange(3.0).reshape(3, 1)
    seen = []
    for L in (torch, mytorch):
        x = L.tensor(data.copy())
        ptr, before = x.data_ptr(), _version(x)
        assert getattr(x, name)(*args) is x
        seen.append((x.clone(), tuple(x.shape), x.stride(), x.data_ptr() - ptr, _version(x) - before))
        x.fill_(7)  # writes the original memory
    assert_close(seen[1][0], seen[0][0])
    assert seen[1][1:] == seen[0][1:]


@pytest.mark.parametrize("name,args", SHAPE_CHANGES, ids=[f"{n}{a}" for n, a in SHAPE_CHANGES])
def test_shape_change_in_place_autograd(name, args):
    data = randn(2, 3, seed=4) if not name.startswith("squeeze") else randn(3, 1, seed=4)
    grads = []
    for L in (torch, mytorch):
        leaf = L.tensor(data.copy(), requires_grad=True)
        y = leaf * 2.0
        getattr(y, name)(*args)
        assert y.grad_fn is not None
        (y * L.tensor(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape)))).sum().backward()
        grads.append(leaf.grad)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            getattr(leaf, name)(*args)
    assert_close(grads[1], grads[0])


def test_shape_change_of_a_view_writes_its_base_and_keeps_its_gradient():
    out = []
    for L in (torch, mytorch):
        base = L.zeros(2, 3)
        view = base[:, :2]
        view.t_()
        assert view._base is base and tuple(view.shape) == (2, 2)
        view[0].fill_(1.0)  # row 0 of the transposed view: column 0 of base
        leaf = L.tensor(randn(2, 3, seed=5), requires_grad=True)
        y = leaf * 1.0
        z = y[:, 1:]
        z.t_()
        z.mul_(L.tensor([[2.0, 3.0], [4.0, 5.0]]))
        y.sum().backward()
        out.append((base, leaf.grad))
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
            L.ones(2, 3, requires_grad=True)[0:1].t_()
    assert_close(out[1], out[0])


def test_shape_change_under_no_grad_on_a_leaf():
    for L in (torch, mytorch):
        leaf = L.ones(2, 3, requires_grad=True)
        with L.no_grad():
            leaf.t_()
        assert tuple(leaf.shape) == (3, 2) and leaf.is_leaf and leaf.requires_grad


# ---------------------------------------------------------------------------------------------------------
# fill_diagonal_, apply_ / map_ / map2_
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,wrap", [((7, 3), True), ((7, 3), False), ((3, 5), True), ((3, 3, 3), False),
                                        ((4, 2), True)])
def test_fill_diagonal(shape, wrap):
    out = [L.zeros(*shape).fill_diagonal_(5.0, wrap=wrap) for L in (torch, mytorch)]
    assert_close(out[1], out[0])


def test_python_callable_maps():
    for L in (torch, mytorch):
        x = L.zeros(2, 3)
        before = _version(x)
        assert x.apply_(lambda v: v + 1) is x
        assert x.map_(L.ones(3), lambda a, b: a + b + 1) is x  # the other broadcasts
        assert x.map2_(L.ones(2, 3), L.full((3,), 2.0), lambda a, b, c: a * b + c) is x
        assert x.tolist() == [[5.0] * 3] * 2 and _version(x) == before  # PyTorch doesn't count these writes
        assert L.tensor([1, 2]).apply_(lambda v: v * 2.7).tolist() == [2, 5]
        with pytest.raises(RuntimeError, match=r"Can't call apply_\(\) on Variable that requires grad. Use "
                                               r"var.detach\(\).apply_\(\) instead."):
            L.zeros(3, requires_grad=True).apply_(lambda v: v)
        with pytest.raises(RuntimeError, match=r"Can't call map_\(\) on Variable that requires grad"):
            L.zeros(3).map_(L.ones(3, requires_grad=True), lambda a, b: b)
        with pytest.raises(TypeError, match=r"map_: expected torch.FloatTensor for 'other' \(got torch.LongTensor\)"):
            L.zeros(3).map_(L.ones(3, dtype=L.int64), lambda a, b: b)
        with pytest.raises(RuntimeError, match=r"the number of sizes provided \(1\) must be greater or equal"):
            L.zeros(3).map_(L.ones(2, 3), lambda a, b: b)


# ---------------------------------------------------------------------------------------------------------
# top-level in-place functions: torch.<name>_(x, ...) is the method
# ---------------------------------------------------------------------------------------------------------
TOP_ARGS = {"clamp_": (-0.1, 0.2), "clamp_max_": (0.1,), "clamp_min_": (0.0,), "clip_": (-0.2, 0.2), "fill_": (2.5,),
            "gcd_": (INTS.T.copy(),), "lcm_": (INTS.T.copy(),), "ldexp_": (INTS,), "logit_": (0.1,),
            "index_put_": ((np.array([0, 2]),), np.array([1.0, 2.0]), True), "nan_to_num_": (0.0, 1.0, -1.0),
            "xlogy_": (BIG,), "addmv_": (OTHER, VEC), "as_strided_": ((2, 2), (1, 3), 1)}
TOP_INPUT = {"acosh_": BIG, "arccosh_": BIG, "gcd_": INTS, "lcm_": INTS, "logit_": UNIT, "log_": UNIT, "log10_": UNIT,
             "log2_": UNIT, "sqrt_": UNIT, "rsqrt_": UNIT, "addmv_": VEC, "xlogy_": UNIT, "fix_": BIG * 2 - 3,
             "index_put_": VEC}


@pytest.mark.parametrize("name", TOP_INPLACE)
def test_top_level_inplace_functions(name):
    out = []
    for L in (torch, mytorch):
        x = L.tensor(TOP_INPUT.get(name, SMALL).copy())
        assert getattr(L, name)(x, *_lib(L, TOP_ARGS.get(name, ()))) is x
        out.append(x)
    assert_close(out[1], out[0])
    assert getattr(mytorch, name) is getattr(mytorch.Tensor, name)


# ---------------------------------------------------------------------------------------------------------
# Tensor methods and properties
# ---------------------------------------------------------------------------------------------------------
def test_tensor_predicates_and_properties():
    for L in (torch, mytorch):
        x = L.arange(6.0).reshape(2, 3)
        assert L.tensor(3.0).is_nonzero() and not L.is_nonzero(L.tensor([0]))
        for bad, what in [(L.tensor([]), "no values"), (L.ones(2), "more than one value")]:
            with pytest.raises(RuntimeError, match=f"Boolean value of Tensor with {what} is ambiguous"):
                bad.is_nonzero()
        assert x.is_same_size(L.zeros(2, 3)) and not L.is_same_size(x, x.t())
        assert x.is_signed() and not L.tensor([1], dtype=L.uint8).is_signed() and not L.is_signed(L.tensor([True]))
        assert not x.is_inference() and not L.is_inference(x)
        assert x.get_device() == -1 and L.get_device(x) == -1
        assert (x.storage_offset(), x[1].storage_offset(), x[1, 1:].storage_offset(), x.t()[1].storage_offset(),
                x[:, 2].storage_offset()) == (0, 3, 4, 1, 2)
        assert x.layout is L.strided
        assert not any((x.is_sparse, x.is_sparse_csr, x.is_quantized, x.is_meta, x.is_mkldnn, x.is_nested))


@pytest.mark.parametrize("shape,perm", [((2, 3, 5, 7), (0, 1, 2, 3)), ((2, 3, 5, 7), (0, 2, 3, 1)),
                                        ((2, 3, 5, 7), (3, 1, 0, 2)), ((1, 2, 3, 4), (0, 1, 2, 3)),
                                        ((1, 2, 3, 4), (0, 2, 3, 1)), ((2, 1, 3), (2, 0, 1)), ((4,), (0,)), ((), ())])
@pytest.mark.parametrize("check", [False, True, "formats"])
def test_dim_order(shape, perm, check):
    out = []
    for L in (torch, mytorch):
        x = L.zeros(*[shape[p] for p in perm]).permute(*np.argsort(perm).tolist()) if shape else L.zeros(())
        ambiguity = [L.contiguous_format, L.channels_last] if check == "formats" else check
        try:
            out.append(x.dim_order(ambiguity_check=ambiguity))
        except RuntimeError as e:
            out.append(str(e))
    assert out[1] == out[0]
    with pytest.raises(TypeError, match="The ambiguity_check argument must be a bool or a list of memory formats."):
        mytorch.zeros(2).dim_order(ambiguity_check="x")


def test_new_legacy_constructor():
    for L in (torch, mytorch):
        x = L.arange(6.0).reshape(2, 3)
        assert tuple(x.new(2, 3).shape) == (2, 3) and x.new(2, 3).dtype == L.float32
        assert tuple(x.new().shape) == (0,) and tuple(x.new(L.Size([4])).shape) == (4,)
        assert x.new((2, 3)).tolist() == [2.0, 3.0]  # a tuple is data, as in PyTorch
        assert L.tensor([1, 2]).new([1.5, 2]).tolist() == [1, 2]
        alias = x.new(x)
        assert alias is not x and alias.data_ptr() == x.data_ptr()
        with pytest.raises(TypeError, match=r"new\(\): data must be a sequence \(got float\)"):
            x.new(3.5)
        with pytest.raises(TypeError):
            x.new(L.ones(2, dtype=L.int64))


@pytest.mark.parametrize("name,args", [("narrow_copy", (1, 1, 2)), ("cov", ()), ("corrcoef", ()),
                                       ("hardshrink", (0.6,)), ("hardshrink", ())])
def test_methods_over_existing_ops(name, args):
    check_against_torch(lambda t: getattr(t, name)(*args), lambda t: getattr(t, name)(*args), randn(2, 4, seed=2))


def test_prelu_method():
    check_against_torch(lambda x, w: x.prelu(w), lambda x, w: x.prelu(w), randn(2, 3, 4, seed=3), randn(3, seed=4))


# ---------------------------------------------------------------------------------------------------------
# torch.<name> forms of nn.functional ops
# ---------------------------------------------------------------------------------------------------------
SAME_AS_F = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "bilinear",
             "prelu", "hardshrink", "avg_pool1d", "adaptive_avg_pool1d", "rms_norm", "relu_", "selu_", "celu_",
             "threshold_"]


@pytest.mark.parametrize("name", SAME_AS_F)
def test_top_level_nn_functions_are_the_functional_ones(name):
    assert getattr(mytorch, name) is getattr(mytorch.nn.functional, name)


X1, X2 = randn(2, 3, 8, seed=10), randn(2, 3, 6, 6, seed=11)
LOGP = np.log(np.random.default_rng(12).dirichlet(np.ones(4), (6, 2)))
PROBS = np.random.default_rng(13).uniform(0.1, 0.9, (4, 3))
SIGNS = np.array([1.0, -1, 1, -1])
NN_TOP = [
    ("conv1d", (X1, randn(4, 3, 3, seed=1), randn(4, seed=2), 1, 1)),
    ("conv_transpose2d", (X2, randn(3, 2, 3, 3, seed=3))),
    ("convolution", (X2, randn(4, 3, 3, 3, seed=4), randn(4, seed=5), [1, 1], [1, 1], [1, 1], False, [0, 0], 1)),
    ("convolution", (X1, randn(3, 4, 3, seed=6), None, [2], [1], [1], True, [1], 1)),
    ("batch_norm", (X2, randn(3, seed=7), randn(3, seed=8), ("const", np.zeros(3)), ("const", np.ones(3)), True,
                    0.1, 1e-5, False)),
    ("batch_norm", (X2, None, None, ("const", np.full(3, 0.5)), ("const", np.full(3, 2.0)), False, 0.1, 1e-5,
                    True)),
    ("instance_norm", (X2, randn(3, seed=9), randn(3, seed=10), None, None, True, 0.1, 1e-5, False)),
    ("layer_norm", (X2, [6, 6], randn(6, 6, seed=11), randn(6, 6, seed=12), 1e-5, True)), ("layer_norm", (X2, (6,))),
    ("group_norm", (X2, 3, randn(3, seed=13), randn(3, seed=14), 1e-5, True)), ("rms_norm", (X2, [6])),
    ("dropout", (X2, 0.5, False)), ("dropout", (X2, 1.0, True)), ("alpha_dropout", (X2, 0.3, False)),
    ("feature_alpha_dropout", (X2, 0.3, False)), ("feature_dropout", (X2, 1.0, True)),
    ("feature_dropout", (X2, 0.0, True)),
    ("embedding", (randn(5, 3, seed=15), ("const", np.array([0, 2, 2, 4, 1])))),
    ("embedding", (randn(5, 3, seed=15), ("const", np.array([0, 2, 2, 4, 1])), 2)),
    ("embedding", (randn(5, 3, seed=15), ("const", np.array([0, 2, 2, 4, 1])), -1, True)),
    ("selu", (X1,)), ("celu", (X1, 0.5)), ("threshold", (X1, 0.1, 2.0)),
    ("kl_div", (np.log(PROBS), PROBS[::-1].copy())), ("kl_div", (np.log(PROBS), PROBS, 2)),
    ("kl_div", (np.log(PROBS), np.log(PROBS), 1), {"log_target": True}),
    ("margin_ranking_loss", (randn(4, seed=16), randn(4, seed=17), ("const", SIGNS), 0.2, 2)),
    ("hinge_embedding_loss", (randn(4, seed=18), ("const", SIGNS))),
    ("cosine_embedding_loss", (randn(4, 3, seed=19), randn(4, 3, seed=20), ("const", SIGNS), 0.1, 1)),
    ("triplet_margin_loss", (randn(4, 3, seed=21), randn(4, 3, seed=22), randn(4, 3, seed=23), 1.0, 2.0, 1e-6,
                             True, 1)),
    ("poisson_nll_loss", (randn(4, seed=24), ("const", np.abs(randn(4, seed=25))), True, True, 1e-8, 2)),
    ("binary_cross_entropy_with_logits", (randn(4, 3, seed=26), PROBS, None, ("const", np.abs(randn(3, seed=27))),
                                          1)),
    ("ctc_loss", (LOGP, ("const", np.array([[1, 2], [3, 3]])), [6, 5], [2, 2], 0, 1, False)),
    ("ctc_loss", (LOGP, ("const", np.array([[1, 2], [3, 3]])), [6, 5], [2, 2])),
    ("max_pool1d", (X1, 2)), ("max_pool2d", (X2, 3, 2, 1, 1, True)), ("max_pool3d", (randn(1, 2, 4, 4, 4, seed=28), 2)),
    ("max_pool1d_with_indices", (X1, 3, 2)), ("adaptive_max_pool1d", (X1, 3)),
]


def _nn_args(L, args):
    out = []
    for a in args:
        if isinstance(a, tuple) and a and a[0] == "const":
            out.append(L.tensor(a[1].copy()))
        elif isinstance(a, np.ndarray):
            out.append(L.tensor(a.copy(), requires_grad=True))
        else:
            out.append(a)
    return out


@pytest.mark.parametrize("case", NN_TOP, ids=[f"{c[0]}-{i}" for i, c in enumerate(NN_TOP)])
def test_top_level_nn_wrappers_match_torch(case):
    name, args = case[0], case[1]
    kwargs = case[2] if len(case) > 2 else {}
    results = []
    for L in (torch, mytorch):
        targs = _nn_args(L, args)
        out = getattr(L, name)(*targs, **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        floats = [o for o in outs if o.requires_grad]
        if floats:
            sum((o * o).sum() for o in floats).backward()
        results.append((outs, [a.grad for a in targs if isinstance(a, L.Tensor) and a.requires_grad]))
    assert_close(results[1], results[0])


@pytest.mark.parametrize("mode,padding_idx,dtype", [(0, None, np.float32), (0, None, np.float64), (1, None, np.float64),
                                                    (2, None, np.float64), (2, 2, np.float64), (1, 2, np.float32),
                                                    (0, 2, np.float64)])
def test_top_level_embedding_bag_returns_its_four_tensors(mode, padding_idx, dtype):
    weight = randn(5, 3, seed=30).astype(dtype)
    results = []
    for L in (torch, mytorch):
        w = L.tensor(weight.copy(), requires_grad=True)
        out = L.embedding_bag(w, L.tensor([0, 2, 2, 4, 1]), L.tensor([0, 2, 2]), False, mode, False, None, False,
                              padding_idx)
        out[0].sum().backward()
        results.append(out + (w.grad,))
    assert_close(results[1], results[0])


@pytest.mark.parametrize("call,exc,message", [
    (lambda L: L.feature_dropout(L.ones(3), 0.5, True), RuntimeError,
     "Feature dropout requires at least 2 dimensions in the input"),
    (lambda L: L.feature_alpha_dropout(L.ones(3), 0.5, True), RuntimeError,
     "Feature dropout requires at least 2 dimensions in the input"),
    (lambda L: L.dropout(L.ones(3), 1.5, False), RuntimeError,
     "dropout probability has to be between 0 and 1, but got 1.5"),
    (lambda L: L.kl_div(L.ones(3), L.ones(3), "mean"), TypeError,
     "kl_div(): argument 'reduction' (position 3) must be int, not str"),
])
def test_top_level_nn_errors(call, exc, message):
    for L in (torch, mytorch):
        with pytest.raises(exc) as err:
            call(L)
        assert str(err.value) == message


@pytest.mark.parametrize("name", ["dropout_", "alpha_dropout_", "feature_dropout_", "feature_alpha_dropout_"])
def test_top_level_inplace_dropouts(name):
    for L in (torch, mytorch):
        x = L.ones(4, 3)
        assert getattr(L, name)(x, 0.5, False) is x and x.tolist() == [[1.0] * 3] * 4
        y = L.ones(64, 8)
        before = _version(y)
        assert getattr(L, name)(y, 0.5, True) is y and _version(y) > before
        assert len(set(np.round(y.numpy().ravel(), 5))) == 2  # two values: dropped and kept (scaled)
    mytorch.manual_seed(0)
    z = mytorch.ones(16, 4, 5)
    mytorch.feature_dropout_(z, 0.5, True)
    assert ((z == 0).all(-1) | (z != 0).all(-1)).all()  # one draw per (sample, channel)


def test_embedding_renorm_in_place():
    out = []
    for L in (torch, mytorch):
        w = L.tensor(randn(5, 3, seed=31) * 3)
        assert L.embedding_renorm_(w, L.tensor([0, 2, 2]), 1.0, 2.0) is w
        out.append(w)
    assert_close(out[1], out[0])


# ---------------------------------------------------------------------------------------------------------
# asarray, DLPack
# ---------------------------------------------------------------------------------------------------------
def _describe(t, src=None):
    share = None if src is None else bool(np.shares_memory(t.detach().numpy(), src))
    return t.tolist(), str(t.dtype).split(".")[-1], t.requires_grad, t.is_leaf, share


ASARRAY = [
    lambda L, n: L.asarray(n), lambda L, n: L.asarray(n, dtype=L.float32), lambda L, n: L.asarray(n, copy=True),
    lambda L, n: L.asarray(n[::2]), lambda L, n: L.asarray(n.tolist()), lambda L, n: L.asarray([1, 2]),
    lambda L, n: L.asarray(3), lambda L, n: L.asarray(3.5), lambda L, n: L.asarray(np.float32(2.0)),
    lambda L, n: L.asarray(np.int32(2)), lambda L, n: L.asarray(n.tolist(), dtype=L.float64, requires_grad=True),
    lambda L, n: L.asarray(np.arange(3), dtype=L.float32, requires_grad=True),
    lambda L, n: L.asarray(array.array("f", [1, 2])), lambda L, n: L.asarray(bytearray(b"\x01\x02"), dtype=L.uint8),
]


@pytest.mark.parametrize("make", ASARRAY)
def test_asarray_of_numpy_data_and_buffers(make):
    out = []
    for L in (torch, mytorch):
        n = np.arange(4.0)
        t = make(L, n)
        out.append(_describe(t, n))
    assert out[1] == out[0]


def test_asarray_of_tensors():
    for L in (torch, mytorch):
        t = L.arange(4.0)
        assert L.asarray(t) is t
        assert L.asarray(t, dtype=L.float64).data_ptr() != t.data_ptr()
        assert L.asarray(t, copy=True).data_ptr() != t.data_ptr()
        leaf = L.ones(2, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert L.asarray(leaf) is leaf
            d = L.asarray(leaf * 2)
        assert d.requires_grad and not d.is_leaf
        assert any("unspecified requires_grad now defaults to obj.requires_grad" in str(w.message) for w in caught)
        detached = L.asarray(leaf * 2, requires_grad=False)
        assert not detached.requires_grad and detached.is_leaf
        c = L.asarray(leaf, copy=True, requires_grad=True)
        assert c.grad_fn is not None and c.data_ptr() != leaf.data_ptr()
        plain = L.zeros(2)
        assert L.asarray(plain, requires_grad=True) is plain and plain.requires_grad  # set on obj itself


def test_asarray_shares_memory_and_errors():
    for L in (torch, mytorch):
        buf = bytearray(8)
        L.asarray(buf, dtype=L.float32)[0] = 1
        assert bytes(buf) == b"\x00\x00\x80?\x00\x00\x00\x00"
        n = np.arange(3.0)
        L.asarray(n)[0] = 5
        assert n[0] == 5
        for call, exc, message in [
                (lambda: L.asarray(L.arange(2.0), dtype=L.float64, copy=False), ValueError,
                 "can't alias tensor with dtype 'Float' into dtype 'Double'."),
                (lambda: L.asarray(np.arange(2.0), dtype=L.float32, copy=False), ValueError,
                 "can't alias tensor with dtype 'Double' into dtype 'Float'."),
                (lambda: L.asarray([1, 2], copy=False), ValueError, "can't alias arbitrary sequence into a tensor."),
                (lambda: L.asarray(np.float32(1), copy=False), RuntimeError, "can't alias NumPy scalars. Either "
                                                                             "remove copy=False or transform it in a "
                                                                             "ndarray. "),
                (lambda: L.asarray(bytearray(3)), ValueError, "buffer length (3 bytes) after offset (0 bytes) must be "
                                                              "a multiple of element size (4)"),
                (lambda: L.asarray(L.tensor([1, 2]), requires_grad=True), RuntimeError,
                 "Only Tensors of floating point and complex dtype can require gradients")]:
            with pytest.raises(exc) as err:
                call()
            assert str(err.value) == message


def test_dlpack_round_trips():
    from mytorch.utils import dlpack

    for L, utils in ((torch, torch.utils.dlpack), (mytorch, dlpack)):
        capsule = utils.to_dlpack(L.arange(3.0))
        assert L.from_dlpack(capsule).tolist() == [0.0, 1.0, 2.0] and utils.from_dlpack is L.from_dlpack
        with pytest.raises(RuntimeError, match="from_dlpack received an invalid capsule"):
            L.from_dlpack(capsule)  # a capsule is consumed once
        n = np.arange(3.0)
        L.from_dlpack(n)[0] = 5
        assert n[0] == 5
        with pytest.raises(BufferError, match="Can't export tensors that require gradient, use tensor.detach()"):
            L.ones(1, requires_grad=True).__dlpack__()
        assert utils.DLDeviceType.kDLCPU == 1
    shared = mytorch.arange(3.0)
    torch.from_dlpack(shared)[0] = 7  # torch reads mytorch's memory, and the reverse
    assert shared.tolist() == [7.0, 1.0, 2.0]
    assert mytorch.from_dlpack(torch.arange(2.0)).tolist() == [0.0, 1.0]
    assert mytorch.asarray(torch.arange(2.0)).tolist() == [0.0, 1.0]


# ---------------------------------------------------------------------------------------------------------
# linear algebra spellings, random draws, *_copy ops, global switches
# ---------------------------------------------------------------------------------------------------------
def test_chain_matmul():
    with pytest.warns(UserWarning, match="torch.chain_matmul is deprecated"):
        check_against_torch(lambda *m: mytorch.chain_matmul(*m), lambda *m: torch.chain_matmul(*m),
                            randn(2, 3, seed=1), randn(3, 4, seed=2), randn(4, 2, seed=3))
    warnings.simplefilter("ignore")
    for L in (torch, mytorch):
        a = L.ones(2, 3)
        single = L.chain_matmul(a)
        assert single is not a and single.tolist() == a.tolist()
        for args, message in [((), "chain_matmul(): Expected one or more matrices"),
                              ((L.ones(2, 3, 3), L.ones(3, 4)), "Tensor dimension is 3, expected 2 instead."),
                              ((a, L.ones(4, 4)), "multi_dot(): tensors 0 and 1 with shapes [2, 3] and [4, 4] cannot "
                                                  "be multiplied")]:
            with pytest.raises(RuntimeError) as err:
                L.chain_matmul(*args)
            assert str(err.value) == message


@pytest.mark.parametrize("call", [lambda L, x: L.frobenius_norm(x, (0, 1)), lambda L, x: L.frobenius_norm(x, 1, True),
                                  lambda L, x: L.nuclear_norm(x), lambda L, x: L.nuclear_norm(x, True),
                                  lambda L, x: L.nuclear_norm(x.reshape(2, 2, 3), (1, 2))])
def test_deprecated_norms(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_against_torch(lambda x: call(mytorch, x), lambda x: call(torch, x), randn(4, 3, seed=5))


@pytest.mark.parametrize("name,args", [("lstsq", 2), ("solve", 2), ("eig", 1), ("symeig", 1), ("matrix_rank", 1)])
def test_removed_functions_raise_their_removal_errors(name, args):
    messages = []
    for L in (torch, mytorch):
        a = L.eye(3)
        with pytest.raises(RuntimeError) as err:
            getattr(L, name)(*(a,) * args)
        messages.append(str(err.value))
        if name != "matrix_rank":
            with pytest.raises(RuntimeError) as err:
                getattr(a, name)(*(a,) * (args - 1))
            assert str(err.value) == messages[-1]
    assert messages[1] == messages[0]


def test_binomial_and_poisson():
    counts, probs = mytorch.tensor([10.0, 50.0, 0.0, 7.0]), mytorch.tensor([0.5, 0.1, 0.3, 1.0])
    draws = mytorch.binomial(counts.expand(2000, 4), probs.expand(2000, 4))
    assert draws.dtype == mytorch.float32 and tuple(draws.shape) == (2000, 4)
    assert_close(draws.mean(0), torch.tensor([5.0, 5.0, 0.0, 7.0]), atol=0.3, rtol=0)
    rates = mytorch.tensor([1.0, 4.0], dtype=mytorch.float64)
    p = mytorch.poisson(rates.expand(4000, 2))
    assert p.dtype == mytorch.float64 and (p == p.round()).all()
    assert_close(p.mean(0), torch.tensor([1.0, 4.0], dtype=torch.float64), atol=0.15, rtol=0)
    g1, g2 = mytorch.Generator().manual_seed(3), mytorch.Generator().manual_seed(3)
    assert mytorch.poisson(rates, generator=g1).tolist() == mytorch.poisson(rates, generator=g2).tolist()
    assert mytorch.binomial(counts, probs, generator=g1).tolist() == mytorch.binomial(counts, probs,
                                                                                       generator=g2).tolist()
    for L in (torch, mytorch):
        x = L.tensor([2.0], requires_grad=True)
        L.poisson(x).sum().backward()
        assert x.grad.tolist() == [0.0]  # PoissonBackward: zero
        assert L.binomial(L.tensor([10.0]), L.tensor([1.5])).tolist() == [10.0]
        for call, exc, message in [
                (lambda: L.binomial(L.tensor([10]), L.tensor([0.5])), ValueError,
                 "binomial only supports floating-point dtypes for count, got: Long"),
                (lambda: L.binomial(L.tensor([1.0]), L.tensor([0.5], dtype=L.float64)), RuntimeError,
                 "Found dtype Double but expected Float"),
                (lambda: L.poisson(L.tensor([1, 4])), NotImplementedError,
                 "\"poisson_cpu\" not implemented for 'Long'"),
                (lambda: L.poisson(L.tensor([-1.0])), RuntimeError,
                 "invalid Poisson rate, expected rate to be non-negative")]:
            with pytest.raises(exc) as err:
                call()
            assert str(err.value) == message


@pytest.mark.parametrize("name,args", [("detach_copy", ()), ("select_copy", (1, 2)), ("slice_copy", (1, 0, 3, 2)),
                                       ("slice_copy", ()), ("split_copy", (2, 1)), ("unsqueeze_copy", (0,))])
def test_copy_ops(name, args):
    check_against_torch(lambda x: getattr(mytorch, name)(x, *args), lambda x: getattr(torch, name)(x, *args),
                        randn(2, 4, seed=6), grad=name != "detach_copy")  # PyTorch has no detach_copy derivative
    x = mytorch.arange(8.0).reshape(2, 4)
    out = getattr(mytorch, name)(x, *args)
    for o in out if isinstance(out, tuple) else (out,):
        assert not np.shares_memory(o.numpy(), x.numpy())


def test_complex_view_copies():
    for name, data in [("view_as_real_copy", np.array([1 + 2j, 3 - 1j])), ("view_as_complex_copy", randn(3, 2))]:
        out = [getattr(L, name)(L.tensor(data)) for L in (torch, mytorch)]
        assert_close(out[1], out[0])


def test_set_default_tensor_type():
    try:
        for L in (torch, mytorch):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                L.set_default_tensor_type(L.DoubleTensor)
                assert L.get_default_dtype() == L.float64 and L.tensor([1.0]).dtype == L.float64
                L.set_default_tensor_type("torch.FloatTensor")
                assert L.get_default_dtype() == L.float32
                for t, exc, message in [(L.LongTensor, TypeError, "only floating-point types are supported as the "
                                                                  "default type"),
                                        (L.float64, TypeError, "invalid type object: only floating-point types are "
                                                               "supported as the default type"),
                                        ("torch.Foo", AttributeError, "module 'torch' has no attribute 'Foo'")]:
                    with pytest.raises(exc) as err:
                        L.set_default_tensor_type(t)
                    assert str(err.value) == message
    finally:
        torch.set_default_dtype(torch.float32)
        mytorch.set_default_dtype(mytorch.float32)


def test_warn_always_and_device_module():
    for L in (torch, mytorch):
        assert L.is_warn_always_enabled() is False
        L.set_warn_always(True)
        assert L.is_warn_always_enabled() is True
        L.set_warn_always(False)
        assert L.get_device_module("cpu") is L.cpu and L.get_device_module(L.device("cpu")) is L.cpu
        assert L.get_device_module("cuda:0") is L.cuda
        with pytest.raises(RuntimeError, match="Invalid value of device '3', expect torch.device, str, or None"):
            L.get_device_module(3)
    assert mytorch.get_device_module() is (mytorch.cuda if mytorch.cuda.is_available() else mytorch.cpu)
