"""Silent wrong answers found by probing mytorch side by side with PyTorch: each case here gives
PyTorch's value or PyTorch's exception."""
import warnings

import numpy as np
import pytest
import torch

import mytorch
import mytorch.nn.functional as F


def _both(fn_mt, fn_th, *arrays, grad=True):
    mt = [mytorch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    th = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    return mt, th, fn_mt(*mt), fn_th(*th)


@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.1}, {"reduction": "sum"}])
@pytest.mark.parametrize("targets", [np.full(4, -100), np.full(4, 3), np.array([], dtype=np.int64)],
                         ids=["all_ignored_default", "all_ignored_3", "empty"])
def test_cross_entropy_with_no_counted_target(kwargs, targets):
    ignore = 3 if targets.size and targets[0] == 3 else -100
    logits = np.random.randn(len(targets), 5).astype(np.float32)
    (x_mt,), (x_th,), l_mt, l_th = _both(
        lambda x: F.cross_entropy(x, mytorch.tensor(targets), ignore_index=ignore, **kwargs),
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(targets), ignore_index=ignore, **kwargs),
        logits)
    np.testing.assert_equal(l_mt.item(), l_th.item())  # nan for mean, 0 for sum
    l_mt.backward()
    l_th.backward()
    np.testing.assert_array_equal(x_mt.grad.numpy(), x_th.grad.numpy())  # zeros, never NaN


def test_nll_loss_all_ignored_gives_zero_gradient():
    logp = np.log(np.full((3, 4), 0.25, dtype=np.float32))
    (x_mt,), _, l_mt, l_th = _both(lambda x: F.nll_loss(x, mytorch.full((3,), -100)),
                                   lambda x: torch.nn.functional.nll_loss(x, torch.full((3,), -100)), logp)
    assert np.isnan(l_mt.item()) and np.isnan(l_th.item())
    l_mt.backward()
    assert not np.isnan(x_mt.grad.numpy()).any() and not x_mt.grad.numpy().any()


def test_fully_padded_batch_leaves_adam_weights_finite():
    model = mytorch.nn.Linear(4, 3)
    opt = mytorch.optim.Adam(model.parameters(), lr=1e-2)
    loss = F.cross_entropy(model(mytorch.randn(5, 4)), mytorch.full((5,), -100))
    loss.backward()
    opt.step()
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())


@pytest.mark.triton
def test_fused_cross_entropy_all_ignored():
    pytest.importorskip("triton")
    from mytorch import kernels

    if not kernels.is_available():
        pytest.skip("Triton kernels need a GPU or TRITON_INTERPRET=1")
    x = mytorch.randn(4, 7, requires_grad=True)
    with mytorch.backends.fused.flags(enabled=True):
        loss = F.cross_entropy(x, mytorch.full((4,), -100))
    loss.backward()
    assert np.isnan(loss.item())
    assert not x.grad.numpy().any()


@pytest.mark.parametrize("op", ["%", "remainder", "fmod", "tensor%", "rmod"])
def test_integer_modulo_by_zero_raises(op):
    calls = {
        "%": (lambda m: m.tensor([5, 3]) % 0),
        "remainder": (lambda m: m.remainder(m.tensor([5, 3]), 0)),
        "fmod": (lambda m: m.fmod(m.tensor([5, 3]), 0)),
        "tensor%": (lambda m: m.tensor([5, 3]) % m.tensor([1, 0])),
        "rmod": (lambda m: 7 % m.tensor([1, 0])),
    }
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        calls[op](torch)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        calls[op](mytorch)


def test_float_modulo_by_zero_is_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = mytorch.tensor([5.0, -2.0]) % 0
    np.testing.assert_array_equal(out.numpy(), (torch.tensor([5.0, -2.0]) % 0).numpy())


@pytest.mark.parametrize("op", ["index_select", "index_add", "index_copy"])
def test_negative_index_refused_like_pytorch(op):
    def call(m):
        x, i = m.zeros(3, 2), m.tensor([-1])
        if op == "index_select":
            return x.index_select(0, i)
        return getattr(x, op)(0, i, m.ones(1, 2))

    with pytest.raises(Exception) as th_err:
        call(torch)
    with pytest.raises(type(th_err.value)):
        call(mytorch)


def test_index_fill_still_wraps_negative_indices():
    out = mytorch.zeros(3, 2).index_fill(0, mytorch.tensor([-1]), 1.0)
    assert out.tolist() == torch.zeros(3, 2).index_fill(0, torch.tensor([-1]), 1.0).tolist()


def test_unique_keeps_each_nan():
    data = [float("nan"), float("nan"), 1.0, 1.0]
    ours = mytorch.unique(mytorch.tensor(data), return_counts=True)
    theirs = torch.unique(torch.tensor(data), return_counts=True)
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())


# PyTorch's exception types where numpy's used to leak ----------------------------------------------
@pytest.mark.parametrize("name,call", [
    ("write_into_expanded", lambda m: m.zeros(1, 3).expand(2, 3).add_(1)),
    ("eye_negative", lambda m: m.eye(-1)),
    ("repeat_negative", lambda m: m.zeros(2).repeat(-1)),
    ("negate_bool", lambda m: -m.tensor([True])),
    ("arange_to_inf", lambda m: m.arange(0, float("inf"))),
    ("amax_of_empty", lambda m: m.zeros(0).amax()),
    ("where_no_broadcast", lambda m: m.where(m.tensor([True, False]), m.zeros(3), m.zeros(2))),
])
def test_pytorch_exception_types(name, call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)):
        call(mytorch)


def test_integer_power_with_negative_tensor_exponent():
    base, exp = [2, 3, 1, -1, -1, 0, 5], [-1, 2, -1, -1, -2, 3, 0]
    ours = mytorch.tensor(base) ** mytorch.tensor(exp)
    theirs = torch.tensor(base) ** torch.tensor(exp)
    assert ours.dtype == mytorch.int64 and ours.tolist() == theirs.tolist()


def test_no_numpy_warnings_leak_from_ops():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"mytorch(\.|$)")  # what import set
        mytorch.log(mytorch.tensor([0.0]))
        mytorch.softmax(mytorch.tensor([float("-inf"), float("-inf")]), 0)
        p = mytorch.nn.Parameter(mytorch.ones(2))
        opt = mytorch.optim.Adam([p])
        p.grad = mytorch.tensor([float("inf"), 1.0])
        opt.step()
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_import_installs_the_warning_filter_only_for_mytorch():
    import subprocess
    import sys

    code = ("import warnings, numpy as np, mytorch\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    mytorch.log(mytorch.tensor([0.0])); np.log(np.zeros(1))\n"
            "print(len([x for x in w if issubclass(x.category, RuntimeWarning)]))")
    out = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "1"  # the user's own numpy call still warns


# autograd and optimizer state checks ---------------------------------------------------------------
def _wrong_shape_function(m):
    class Fn(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return m.ones(5)

    return Fn


def test_custom_function_with_wrong_gradient_shape_raises():
    for m in (torch, mytorch):
        x = m.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match=r"invalid gradient at index 0 - got \[5\] but expected shape "
                                               r"compatible with \[3\]"):
            _wrong_shape_function(m).apply(x).sum().backward()


def test_broadcast_gradient_of_custom_function_is_summed():
    class Fn(mytorch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return mytorch.ones(2, 3)

    x = mytorch.ones(3, requires_grad=True)
    Fn.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("value,message", [
    (lambda m: m.ones(4), r"gradient of size '\[4\]' to a tensor of size '\[3\]'"),
    (lambda m: m.ones(3, dtype=m.float64), "gradient with dtype"),
])
def test_assigning_a_mismatched_grad_raises(value, message):
    for m in (torch, mytorch):
        x = m.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match=message):
            x.grad = value(m)
    x = mytorch.ones(3, requires_grad=True)
    x.grad = mytorch.zeros(3)
    del x.grad
    assert x.grad is None


def test_optimizer_state_of_another_model_is_refused_at_load():
    small = mytorch.nn.Linear(3, 2)
    opt = mytorch.optim.Adam(small.parameters())
    small(mytorch.randn(4, 3)).sum().backward()
    opt.step()
    big = mytorch.nn.Linear(4, 2)
    with pytest.raises(ValueError, match=r"'exp_avg' has shape \[2, 3\], but its parameter has shape \[2, 4\]"):
        mytorch.optim.Adam(big.parameters()).load_state_dict(opt.state_dict())


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_ignored_row_with_minus_inf_logit_is_finite(label_smoothing):
    logits = np.random.randn(3, 4).astype(np.float32)
    logits[0, 0] = -np.inf  # row 0 is ignored: its -inf must not turn the loss into nan (0 * -inf)
    targets = np.array([-100, 1, 2])
    (x_mt,), (x_th,), l_mt, l_th = _both(
        lambda x: F.cross_entropy(x, mytorch.tensor(targets), label_smoothing=label_smoothing),
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(targets), label_smoothing=label_smoothing),
        logits)
    np.testing.assert_allclose(l_mt.item(), l_th.item(), rtol=1e-6)
    l_mt.backward()
    l_th.backward()
    np.testing.assert_allclose(x_mt.grad.numpy(), x_th.grad.numpy(), atol=1e-6)
