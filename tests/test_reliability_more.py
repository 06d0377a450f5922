"""More silent wrong answers, each checked against PyTorch: the saved-tensor version check raises exactly
where PyTorch's does, bad arguments PyTorch refuses are refused with its exception type, softmax of inf."""
import numpy as np
import pytest
import torch

import mytorch
import mytorch.nn.functional as F


def _outcome(m, program):
    """(exception type or None, gradient) of program(m) -> (leaf, loss)."""
    try:
        leaf, loss = program(m)
        loss.backward()
    except Exception as e:  # noqa: BLE001 - the type is what's compared
        return type(e), None
    return None, leaf.grad.detach().numpy()


def _same_outcome(program):
    theirs, g_th = _outcome(torch, program)
    ours, g_mt = _outcome(mytorch, program)
    assert ours == theirs, f"PyTorch: {theirs}, mytorch: {ours}"
    if g_th is not None:
        np.testing.assert_allclose(g_mt, g_th, rtol=1e-5, atol=1e-6)


# saved-tensor version check: only what each backward reads is checked ------------------------------
UNARY = ["neg", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal", "abs",
         "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
         "sigmoid", "relu", "erf", "erfc", "sign", "sgn", "floor", "ceil", "trunc", "frac", "square"]


@pytest.mark.parametrize("edit", ["input", "output"])
@pytest.mark.parametrize("name", UNARY)
def test_unary_inplace_edit_after_forward(name, edit):
    values = [1.5, 2.0, 3.0] if name == "acosh" else [0.2, 0.5, 0.7]

    def program(m):
        leaf = m.tensor(values, requires_grad=True)
        x = leaf * 1.0  # a non-leaf, so it may be edited in place
        y = getattr(m, name)(x)
        (x if edit == "input" else y).mul_(1.0)  # same values, a new version
        return leaf, y.sum()

    _same_outcome(program)


@pytest.mark.parametrize("edit", ["a", "b", "out"])
@pytest.mark.parametrize("b_grad", [False, True])
@pytest.mark.parametrize("op", ["mul", "div", "pow", "pow_scalar"])
def test_binary_inplace_edit_after_forward(op, b_grad, edit):
    def program(m):
        leaf = m.tensor([0.5, 1.5, 2.0], requires_grad=True)
        a = leaf * 1.0
        b = m.tensor([1.5, 0.5, 2.0], requires_grad=b_grad) * 1.0
        out = a ** 2 if op == "pow_scalar" else getattr(m, op)(a, b)
        {"a": a, "b": b, "out": out}[edit].mul_(1.0)
        return leaf, out.sum()

    _same_outcome(program)


def test_edit_through_data_before_backward_is_unchecked():
    def program(m):
        leaf = m.tensor([0.5, 1.5], requires_grad=True)
        y = (leaf * leaf).sum()
        leaf.data.mul_(2.0)  # PyTorch: .data has its own version counter; backward sees the new values
        return leaf, y

    _same_outcome(program)


def test_edit_of_a_saved_tensor_still_raises():
    def program(m):
        leaf = m.tensor([0.5, 1.5], requires_grad=True)
        x = leaf * 1.0
        y = x.sin()
        x.add_(1.0)
        return leaf, y.sum()

    assert _outcome(mytorch, program)[0] is RuntimeError
    _same_outcome(program)


# softmax with +inf: the row is nan, as in PyTorch -----------------------------------------------------
INF = float("inf")


@pytest.mark.parametrize("row", [[INF, 0.0], [INF, -INF], [INF, INF], [-INF, -INF], [-INF, 0.0], [float("nan"), 1.0],
                                 [3.0, 1.0]])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_of_infinite_rows(fn, row):
    ours = getattr(mytorch, fn)(mytorch.tensor([row, [1.0, 2.0]]), 1).numpy()
    theirs = getattr(torch, fn)(torch.tensor([row, [1.0, 2.0]]), 1).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, equal_nan=True)


def test_cross_entropy_of_empty_batch_is_nan():
    ours = F.cross_entropy(mytorch.zeros(0, 5), mytorch.zeros(0, dtype=mytorch.long))
    assert np.isnan(ours.item()) and np.isnan(torch.nn.functional.cross_entropy(
        torch.zeros(0, 5), torch.zeros(0, dtype=torch.long)).item())


# inputs PyTorch refuses: the same exception type; inputs it accepts: the same value and dtype ---------
def _same_result(call):
    try:
        theirs = call(torch)
    except Exception as e:  # noqa: BLE001
        with pytest.raises(type(e)):
            call(mytorch)
        return
    ours = call(mytorch)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.detach().double().numpy(), theirs.detach().double().numpy(), rtol=1e-3)


_LOSS_DTYPES = {"L": [0, 1], "F": [0.25, 0.5], "D": ([0.25, 0.5], "float64"), "B": [False, True],
                "H": ([0.25, 0.5], "float16")}


def _t(m, code):
    v = _LOSS_DTYPES[code]
    return m.tensor(v[0], dtype=getattr(m, v[1])) if isinstance(v, tuple) else m.tensor(v)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtypes", ["LL", "LF", "FL", "FD", "DF", "FB", "BB", "HF"])
@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
                                  "binary_cross_entropy_with_logits", "kl_div", "soft_margin_loss",
                                  "poisson_nll_loss"])
def test_pointwise_loss_dtypes(loss, dtypes, reduction):
    a, b = dtypes
    _same_result(lambda m: getattr(m.nn.functional, loss)(_t(m, a), _t(m, b), reduction=reduction))


REFUSED = {
    "cross_entropy_long_logits": lambda m: m.nn.functional.cross_entropy(m.tensor([[1, 2]]), m.tensor([0])),
    "nll_loss_long_input": lambda m: m.nn.functional.nll_loss(m.tensor([[1, 2]]), m.tensor([0])),
    "nll_loss_weight_classes": lambda m: m.nn.functional.nll_loss(m.tensor([[0.1, 0.2, 0.3]]), m.tensor([0]),
                                                                  weight=m.ones(2)),
    "nll_loss_weight_classes_1d": lambda m: m.nn.functional.nll_loss(m.tensor([0.1, 0.2, 0.3]), m.tensor(0),
                                                                     weight=m.ones(4)),
    "bce_target_above_1": lambda m: m.nn.functional.binary_cross_entropy(m.tensor([0.5, 0.5]), m.tensor([1.5, 0.])),
    "bce_target_below_0": lambda m: m.nn.functional.binary_cross_entropy(m.tensor([0.5, 0.5]), m.tensor([1., -.5])),
    "bce_target_nan": lambda m: m.nn.functional.binary_cross_entropy(m.tensor([0.5, 0.5]),
                                                                     m.tensor([float("nan"), 0.])),
    "bce_input_above_1": lambda m: m.nn.functional.binary_cross_entropy(m.tensor([1.5, 0.5]), m.tensor([1., 0.])),
    "bce_input_nan": lambda m: m.nn.functional.binary_cross_entropy(m.tensor([float("nan"), 0.5]), m.tensor([1., 0.])),
    "matmul_bool": lambda m: m.matmul(m.ones(2, 2, dtype=m.bool), m.ones(2, 2, dtype=m.bool)),
    "matmul_bool_vec": lambda m: m.matmul(m.ones(2, 2, dtype=m.bool), m.ones(2, dtype=m.bool)),
    "matmul_bool_batched": lambda m: m.ones(2, 2, 2, dtype=m.bool) @ m.ones(2, 2, 2, dtype=m.bool),
    "matmul_bool_1d": lambda m: m.matmul(m.ones(2, dtype=m.bool), m.ones(2, dtype=m.bool)),
    "mm_bool": lambda m: m.mm(m.ones(2, 2, dtype=m.bool), m.ones(2, 2, dtype=m.bool)),
    "bmm_bool": lambda m: m.bmm(m.ones(1, 2, 2, dtype=m.bool), m.ones(1, 2, 2, dtype=m.bool)),
    "mv_bool": lambda m: m.mv(m.ones(2, 2, dtype=m.bool), m.ones(2, dtype=m.bool)),
    "dot_bool": lambda m: m.dot(m.ones(2, dtype=m.bool), m.ones(2, dtype=m.bool)),
    "batch_norm1d_channels": lambda m: m.nn.BatchNorm1d(3)(m.ones(2, 4)),
    "batch_norm1d_channels_eval": lambda m: m.nn.BatchNorm1d(3).eval()(m.ones(2, 4)),
    "batch_norm2d_channels": lambda m: m.nn.BatchNorm2d(3)(m.ones(2, 4, 2, 2)),
    "batch_norm_no_affine": lambda m: m.nn.BatchNorm1d(3, affine=False)(m.ones(2, 4)),
    "batch_norm_no_stats": lambda m: m.nn.BatchNorm1d(3, track_running_stats=False)(m.ones(2, 4)),
    "batch_norm_functional": lambda m: m.nn.functional.batch_norm(m.ones(2, 4), m.zeros(3), m.ones(3), training=True),
    "group_norm_channels": lambda m: m.nn.GroupNorm(2, 4)(m.ones(2, 6)),
}
for _d in (1, 2, 3):
    for _kw in ({"dilation": 0}, {"dilation": -1}, {"padding": -1}, {"stride": 0}, {"stride": -1}):
        for _tr in ("", "_transpose"):
            REFUSED[f"conv{_tr}{_d}d_{'_'.join(f'{k}{v}' for k, v in _kw.items())}"] = (
                lambda m, d=_d, kw=_kw, tr=_tr: getattr(m.nn.functional, f"conv{tr}{d}d")(
                    m.ones((1, 1) + (4,) * d), m.ones((1, 1) + (2,) * d), **kw))
    REFUSED[f"conv_transpose{_d}d_output_padding-1"] = lambda m, d=_d: getattr(
        m.nn.functional, f"conv_transpose{d}d")(m.ones((1, 1) + (4,) * d), m.ones((1, 1) + (2,) * d),
                                                output_padding=-1)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_pytorch_refuses_and_so_do_we(name):
    call = REFUSED[name]
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(mytorch)
    if "padding" in name or "stride" in name:  # the message too: it names the bad argument
        assert str(ours.value).split(",")[0] == str(theirs.value).split(",")[0]


# PyTorch's exception types where numpy's leaked ---------------------------------------------------------
@pytest.mark.parametrize("name,call", [
    ("conv2d_negative_padding", lambda m: m.nn.functional.conv2d(m.ones(1, 1, 4, 4), m.ones(1, 1, 2, 2), padding=-1)),
    ("add_into_expanded", lambda m: m.zeros(1, 3).expand(2, 3).add_(1)),
    ("batch_norm_channels", lambda m: m.nn.BatchNorm1d(3)(m.ones(2, 4))),
    ("eye_negative", lambda m: m.eye(-1)),
    ("repeat_negative", lambda m: m.zeros(2).repeat(-1)),
    ("where_no_broadcast", lambda m: m.where(m.tensor([True, False]), m.zeros(3), m.zeros(2))),
    ("negate_bool", lambda m: -m.tensor([True])),
    ("arange_to_inf", lambda m: m.arange(0, float("inf"))),
    ("amax_of_empty", lambda m: m.zeros(0).amax()),
])
def test_pytorch_exception_type_not_numpys(name, call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(mytorch)
    assert type(ours.value) is type(theirs.value)


# writes into an expanded tensor: PyTorch writes the shared memory, refusing only elementwise ops -------
EXPANDED_WRITES = {
    "fill_": lambda m, e: e.fill_(1.0),
    "zero_": lambda m, e: e.zero_(),
    "copy_": lambda m, e: e.copy_(m.ones(2, 3)),
    "add_": lambda m, e: e.add_(1),
    "exp_": lambda m, e: e.exp_(),
    "clamp_": lambda m, e: e.clamp_(0, 1),
    "uniform_": lambda m, e: e.uniform_(),
    "scatter_": lambda m, e: e.scatter_(1, m.tensor([[0], [0]]), 1.0),
    "set_element": lambda m, e: e.__setitem__((0, 0), 5.0),
    "set_two_elements": lambda m, e: (e.__setitem__((0, 0), 5.0), e.__setitem__((1, 2), 7.0)),
    "set_row": lambda m, e: e.__setitem__(0, m.tensor([1.0, 2.0, 3.0])),
    "set_all": lambda m, e: e.__setitem__(Ellipsis, 1.0),
    "set_column": lambda m, e: e.__setitem__((slice(None), 0), 5.0),
    "set_mask": lambda m, e: e.__setitem__(m.tensor([[True, False, False], [True, False, False]]), 5.0),
    "set_index": lambda m, e: e.__setitem__(m.tensor([0]), 5.0),
    "masked_fill_": lambda m, e: e.masked_fill_(m.tensor([[False, True, False], [False, True, False]]), 2.0),
    "index_fill_": lambda m, e: e.index_fill_(1, m.tensor([2]), 2.0),
    "index_put_": lambda m, e: e.index_put_((m.tensor([0]),), m.tensor(1.0)),
    "row_add_": lambda m, e: e[0].add_(1),
    "column_add_": lambda m, e: e[:, 0].add_(1),
}


@pytest.mark.parametrize("name", sorted(EXPANDED_WRITES))
def test_write_into_expanded_tensor(name):
    results = []
    for m in (torch, mytorch):
        base = m.zeros(1, 3)
        expanded = base.expand(2, 3)
        try:
            EXPANDED_WRITES[name](m, expanded)
        except Exception as e:  # noqa: BLE001
            results.append(type(e))
            continue
        results.append((base.tolist(), expanded.tolist()) if name != "uniform_" else None)
    assert results[1] == results[0]


def test_write_through_data_is_seen_by_the_tensor():
    for m in (torch, mytorch):
        x = m.tensor([1.0, 2.0])
        v = x._version
        x.data.mul_(3.0)
        assert x.tolist() == [3.0, 6.0] and x._version == v


# in-place ops on a view of a non-leaf: the base's gradient routes through the op (PyTorch's CopySlices) --
VIEW_PROGRAMS = {
    "row_mul": lambda m, b: b[0].mul_(3.0),
    "column_exp": lambda m, b: b[:, 1].exp_(),
    "transpose_add_tensor": lambda m, b: b.t().add_(m.arange(6.0).reshape(3, 2)),
    "strided_sigmoid": lambda m, b: b.view(-1)[::2].sigmoid_(),
    "narrow_fill": lambda m, b: b.narrow(1, 0, 2).fill_(1.0),
    "setitem_slice": lambda m, b: b.__setitem__((slice(None), slice(1, None)), 7.0),
    "two_views": lambda m, b: (b[0].mul_(2.0), b[1].add_(b[0])),
    "view_of_view": lambda m, b: b[1][1:].pow_(2),
}


@pytest.mark.parametrize("name", sorted(VIEW_PROGRAMS))
def test_inplace_on_view_of_non_leaf(name):
    grads = []
    for m in (torch, mytorch):
        leaf = m.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], requires_grad=True)
        base = leaf * 2.0
        VIEW_PROGRAMS[name](m, base)
        (base * m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
        grads.append((base.detach().numpy().copy(), leaf.grad.numpy().copy()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-6)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-6)


def test_inplace_on_view_then_using_the_view():
    grads = []
    for m in (torch, mytorch):
        leaf = m.tensor([0.5, -1.0, 2.0, 3.0], requires_grad=True)
        base = leaf * leaf
        v = base[1:3]
        v.mul_(leaf[:2])
        (v.sum() * 2 + base.sum()).backward()
        grads.append(leaf.grad.numpy().copy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)


def test_inplace_on_view_of_a_leaf_raises():
    for m in (torch, mytorch):
        leaf = m.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="view of a leaf Variable"):
            leaf[0].mul_(2)


# the same probe over activations, reductions, matmul/linear, losses, indexing and views --------------------
MORE_OPS = {
    "gelu": lambda m, x: m.nn.functional.gelu(x),
    "gelu_tanh": lambda m, x: m.nn.functional.gelu(x, approximate="tanh"),
    "silu": lambda m, x: m.nn.functional.silu(x),
    "softplus": lambda m, x: m.nn.functional.softplus(x),
    "elu": lambda m, x: m.nn.functional.elu(x),
    "leaky_relu": lambda m, x: m.nn.functional.leaky_relu(x),
    "hardtanh": lambda m, x: m.nn.functional.hardtanh(x),
    "mish": lambda m, x: m.nn.functional.mish(x),
    "logsigmoid": lambda m, x: m.nn.functional.logsigmoid(x),
    "relu6": lambda m, x: m.nn.functional.relu6(x),
    "selu": lambda m, x: m.nn.functional.selu(x),
    "hardswish": lambda m, x: m.nn.functional.hardswish(x),
    "hardsigmoid": lambda m, x: m.nn.functional.hardsigmoid(x),
    "celu": lambda m, x: m.nn.functional.celu(x),
    "softsign": lambda m, x: m.nn.functional.softsign(x),
    "tanhshrink": lambda m, x: m.nn.functional.tanhshrink(x),
    "softmax": lambda m, x: x.softmax(-1),
    "log_softmax": lambda m, x: x.log_softmax(-1),
    "sum": lambda m, x: x.sum(),
    "mean": lambda m, x: x.mean(),
    "prod": lambda m, x: x.prod(),
    "amax": lambda m, x: x.amax(),
    "max": lambda m, x: x.max(),
    "norm": lambda m, x: x.norm(),
    "cumsum": lambda m, x: x.cumsum(0),
    "cumprod": lambda m, x: x.cumprod(0),
    "var": lambda m, x: x.var(),
    "std": lambda m, x: x.std(),
    "logsumexp": lambda m, x: x.logsumexp(0),
    "clamp": lambda m, x: x.clamp(0.3, 0.6),
    "where": lambda m, x: m.where(x > 0.4, x, 0.0),
    "matmul": lambda m, x: x @ m.ones(3, 2),
    "mul_const_t": lambda m, x: x * m.ones(3),
    "div_by": lambda m, x: m.ones(3) / x,
    "atan2": lambda m, x: m.atan2(x, m.ones(3)),
    "maximum": lambda m, x: m.maximum(x, m.full((3,), 0.5)),
    "lerp": lambda m, x: m.lerp(x, m.ones(3), 0.3),
    "layer_norm": lambda m, x: m.nn.functional.layer_norm(x, (3,)),
    "normalize": lambda m, x: m.nn.functional.normalize(x, dim=0),
    "dropout_eval": lambda m, x: m.nn.functional.dropout(x, 0.5, training=False),
    "sort": lambda m, x: x.sort().values,
    "topk": lambda m, x: x.topk(2).values,
    "index": lambda m, x: x[m.tensor([0, 2])],
    "gather": lambda m, x: x.gather(0, m.tensor([1, 1])),
    "expand": lambda m, x: x.expand(2, 3),
    "reshape": lambda m, x: x.reshape(3, 1),
    "t_mul": lambda m, x: x.unsqueeze(0).t() * 2,
    "pow_t": lambda m, x: x.pow(m.full((3,), 2.0)),
    "rpow": lambda m, x: 2.0 ** x,
    "sqrt_": lambda m, x: x.sqrt(),
    "mse": lambda m, x: m.nn.functional.mse_loss(x, m.zeros(3)),
    "ce": lambda m, x: m.nn.functional.cross_entropy(x.unsqueeze(0), m.tensor([1])),
    "bce": lambda m, x: m.nn.functional.binary_cross_entropy(x, m.full((3,), 0.5)),
    "linear": lambda m, x: m.nn.functional.linear(x, m.ones(2, 3)),
    "cosine": lambda m, x: m.nn.functional.cosine_similarity(x, m.ones(3), dim=0),
    "nan_to_num": lambda m, x: x.nan_to_num(),
    "log1p": lambda m, x: x.log1p(),
}


@pytest.mark.parametrize("edit", ["input", "output"])
@pytest.mark.parametrize("name", sorted(MORE_OPS))
def test_inplace_edit_after_forward_more_ops(name, edit):
    def program(m):
        leaf = m.tensor([0.2, 0.5, 0.7], requires_grad=True)
        x = leaf * 1.0
        y = MORE_OPS[name](m, x)
        (x if edit == "input" else y).mul_(1.0)
        return leaf, y.sum()

    _same_outcome(program)


@pytest.mark.parametrize("write", ["add_", "copy_", "setitem_of_view", "setitem_column", "detached_view"])
def test_inplace_on_view_of_tensor_without_grad(write):
    """out = zeros(); out[i].copy_(f(x)): the base starts requiring grad and its gradient reaches x."""
    results = []
    for m in (torch, mytorch):
        leaf = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        out = m.zeros(2, 3)
        if write == "add_":
            out[0].add_(leaf * 2)
        elif write == "copy_":
            out[1].copy_(leaf * 3)
        elif write == "setitem_of_view":
            out[1][0:2] = leaf[:2] * 4
        elif write == "setitem_column":
            out[:, 1] = leaf[:2] * 4
        else:
            out.detach()[0].add_(leaf)  # a detached view: out itself stays out of the graph
        results.append((out.requires_grad, out.detach().numpy().copy()))
        if out.requires_grad:
            (out * m.arange(6.0).reshape(2, 3)).sum().backward()
            results.append(leaf.grad.numpy().copy())
    half = len(results) // 2
    assert results[0][0] == results[half][0]
    np.testing.assert_array_equal(results[0][1], results[half][1])
    if half == 2:
        np.testing.assert_allclose(results[3], results[1])


# more ops; conv and pooling are left out: PyTorch keeps their input and refuses an edit, mytorch doesn't need it
EVEN_MORE_OPS = {
    "soft_ce": lambda m, x: m.nn.functional.cross_entropy(x.unsqueeze(0), m.tensor([[0.2, 0.3, 0.5]])),
    "nll": lambda m, x: m.nn.functional.nll_loss(x.unsqueeze(0), m.tensor([1])),
    "embedding_w": lambda m, x: m.nn.functional.embedding(m.tensor([0, 2]), x.reshape(3, 1)),
    "layer_norm_w": lambda m, x: m.nn.functional.layer_norm(m.ones(2, 3), (3,), weight=x),
    "group_norm": lambda m, x: m.nn.functional.group_norm(x.reshape(1, 3, 1), 1),
    "batch_norm": lambda m, x: m.nn.functional.batch_norm(x.reshape(3, 1), None, None, training=True),
    "pad": lambda m, x: m.nn.functional.pad(x, (1, 1)),
    "cumsum": lambda m, x: x.cumsum(0),
    "flip": lambda m, x: x.flip(0),
    "cat": lambda m, x: m.cat([x, x]),
    "amax": lambda m, x: x.amax(0),
    "min": lambda m, x: x.min(),
    "mul_self": lambda m, x: x * x,
    "div_self_scalar": lambda m, x: x / 2,
    "sub": lambda m, x: x - 1,
    "sdpa": lambda m, x: m.nn.functional.scaled_dot_product_attention(
        x.reshape(1, 3, 1), x.reshape(1, 3, 1), x.reshape(1, 3, 1)),
    "einsum": lambda m, x: m.einsum("i,i->", x, m.ones(3)),
    "outer": lambda m, x: m.outer(x, m.ones(2)),
    "masked_fill": lambda m, x: x.masked_fill(m.tensor([True, False, False]), 0.0),
    "clamp_min": lambda m, x: x.clamp(min=0.4),
    "addcmul": lambda m, x: m.addcmul(m.zeros(3), x, m.ones(3)),
    "rms_norm": lambda m, x: m.nn.functional.rms_norm(x, (3,)) if hasattr(m.nn.functional, "rms_norm") else x,
}


@pytest.mark.parametrize("edit", ["input", "output"])
@pytest.mark.parametrize("name", sorted(EVEN_MORE_OPS))
def test_inplace_edit_after_forward_nn_ops(name, edit):
    def program(m):
        leaf = m.tensor([0.2, 0.5, 0.7], requires_grad=True)
        x = leaf * 1.0
        y = EVEN_MORE_OPS[name](m, x)
        (x if edit == "input" else y).mul_(1.0)
        return leaf, y.sum()

    _same_outcome(program)
