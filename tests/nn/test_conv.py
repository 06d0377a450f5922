"""Convolutions vs PyTorch: conv1d/2d/3d, conv_transpose, unfold/fold, in functional form (values, input,
weight and bias grads) and as modules (torch weights copied in through load_state_dict, reprs, init)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import mytorch
import mytorch.nn.functional as F
from mytorch import nn
from tests.helpers import assert_close, check_against_torch, pair, randn

F32_TOL = {"rtol": 1e-4, "atol": 1e-5}
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")

# (id, spatial dims, input shape, out channels, kernel, kwargs)
CONV = [
    ("1d_basic", 1, (2, 4, 9), 6, 3, {}),
    ("1d_stride_pad", 1, (2, 4, 10), 3, 4, dict(stride=3, padding=2)),
    ("1d_dilation_same", 1, (2, 3, 9), 5, 3, dict(padding="same", dilation=2)),
    ("1d_same_even_kernel", 1, (1, 2, 8), 2, 4, dict(padding="same")),
    ("1d_groups_valid", 1, (2, 4, 7), 6, 2, dict(groups=2, padding="valid")),
    ("1d_unbatched", 1, (3, 8), 2, 3, dict(padding=1)),
    ("2d_basic", 2, (2, 3, 7, 6), 4, 3, {}),
    ("2d_stride_pad", 2, (2, 3, 9, 8), 4, (3, 2), dict(stride=(2, 3), padding=(1, 2))),
    ("2d_dilation", 2, (2, 2, 9, 7), 3, 3, dict(dilation=(2, 1), padding=1)),
    ("2d_depthwise", 2, (2, 3, 6, 6), 6, 3, dict(groups=3, padding=1)),
    ("2d_groups2_stride", 2, (1, 4, 7, 9), 6, (2, 3), dict(groups=2, stride=2, dilation=(1, 2))),
    ("2d_same_even", 2, (2, 2, 6, 5), 3, (4, 2), dict(padding="same", dilation=(1, 3))),
    ("2d_1x1", 2, (2, 5, 4, 3), 2, 1, {}),
    ("2d_wide_out_col2im", 2, (2, 2, 5, 6), 8, 3, dict(padding=(2, 1), dilation=(1, 2))),
    ("2d_kernel_eq_input", 2, (2, 2, 3, 3), 4, 3, {}),
    ("2d_unbatched", 2, (3, 5, 6), 2, 3, dict(stride=2)),
    ("3d", 3, (1, 2, 4, 5, 4), 3, (2, 3, 2), dict(stride=(1, 2, 1), padding=(1, 0, 1))),
]


def _conv_fns(d):
    return getattr(F, f"conv{d}d"), getattr(TF, f"conv{d}d")


@pytest.mark.parametrize("case", CONV, ids=[c[0] for c in CONV])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_functional(case, dtype, bias):
    _, d, shape, out_ch, kernel, kw = case
    groups = kw.get("groups", 1)
    batched = len(shape) == d + 2
    c_in = shape[1] if batched else shape[0]
    kernel = (kernel,) * d if isinstance(kernel, int) else kernel
    x = randn(*shape, seed=0, dtype=dtype)
    w = randn(out_ch, c_in // groups, *kernel, seed=1, dtype=dtype)
    arrays = [x, w] + ([randn(out_ch, seed=2, dtype=dtype)] if bias else [])
    mt, th = _conv_fns(d)
    tol = {} if dtype == np.float64 else F32_TOL
    check_against_torch(lambda *a: mt(*a, **kw), lambda *a: th(*a, **kw), *arrays, **tol)


def test_conv_non_contiguous_input():
    x = randn(2, 3, 6, 7, seed=3)
    w = randn(4, 3, 3, 3, seed=4)
    check_against_torch(lambda a, b: F.conv2d(a, b, padding=1), lambda a, b: TF.conv2d(a, b, padding=1), x, w,
                        non_contiguous=True)


# (id, spatial dims, input shape, out channels, kernel, kwargs)
CONV_T = [
    ("1d_basic", 1, (2, 4, 5), 3, 3, {}),
    ("1d_stride_outpad", 1, (2, 4, 6), 2, 4, dict(stride=3, padding=1, output_padding=2)),
    ("1d_dilation_outpad", 1, (2, 2, 5), 3, 3, dict(dilation=2, output_padding=1)),
    ("1d_unbatched", 1, (3, 4), 2, 2, dict(stride=2)),
    ("2d_basic", 2, (2, 3, 4, 5), 4, 3, {}),
    ("2d_stride_pad", 2, (2, 4, 5, 4), 6, (3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                                       groups=2)),
    ("2d_dilation", 2, (1, 2, 4, 4), 2, 3, dict(stride=2, dilation=(2, 1), padding=2)),
    ("2d_depthwise", 2, (2, 3, 3, 4), 3, 2, dict(groups=3, stride=2)),
    ("2d_stride1_narrow_out", 2, (1, 6, 3, 4), 2, 3, dict(padding=1)),
    ("2d_stride1_wide_out", 2, (1, 2, 3, 4), 6, 3, dict(padding=(0, 1), dilation=2, output_padding=1)),
    ("3d", 3, (1, 2, 3, 2, 3), 2, 2, dict(stride=(2, 1, 2), output_padding=(1, 0, 0))),
]


@pytest.mark.parametrize("case", CONV_T, ids=[c[0] for c in CONV_T])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_transpose_functional(case, dtype):
    _, d, shape, out_ch, kernel, kw = case
    groups = kw.get("groups", 1)
    c_in = shape[1] if len(shape) == d + 2 else shape[0]
    kernel = (kernel,) * d if isinstance(kernel, int) else kernel
    x = randn(*shape, seed=0, dtype=dtype)
    w = randn(c_in, out_ch // groups, *kernel, seed=1, dtype=dtype)
    b = randn(out_ch, seed=2, dtype=dtype)
    mt, th = getattr(F, f"conv_transpose{d}d"), getattr(TF, f"conv_transpose{d}d")
    tol = {} if dtype == np.float64 else F32_TOL
    check_against_torch(lambda *a: mt(*a, **kw), lambda *a: th(*a, **kw), x, w, b, **tol)


FOLD = [
    ("basic", (2, 3, 5, 6), dict(kernel_size=2)),
    ("all", (2, 2, 7, 6), dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1))),
    ("stride_gt_kernel", (1, 2, 7, 7), dict(kernel_size=2, stride=3)),
    ("unbatched", (3, 4, 5), dict(kernel_size=3, padding=1)),
]


@pytest.mark.parametrize("case", FOLD, ids=[c[0] for c in FOLD])
def test_unfold_fold(case):
    _, shape, kw = case
    x = randn(*shape, seed=5)
    check_against_torch(lambda a: F.unfold(a, **kw), lambda a: TF.unfold(a, **kw), x)
    cols = TF.unfold(torch.tensor(x), **kw).numpy()
    out_size = shape[-2:]
    check_against_torch(lambda a: F.fold(a, out_size, **kw), lambda a: TF.fold(a, out_size, **kw), cols)
    m, t = nn.Unfold(**kw), torch.nn.Unfold(**kw)
    assert repr(m) == repr(t)
    assert_close(m(mytorch.tensor(x)), t(torch.tensor(x)))
    m, t = nn.Fold(out_size, **kw), torch.nn.Fold(out_size, **kw)
    assert repr(m) == repr(t)
    assert_close(m(mytorch.tensor(cols)), t(torch.tensor(cols)))


# ---- modules ------------------------------------------------------------------------------------------

def _module_pair(name, args, kwargs, dtype):
    th = getattr(torch.nn, name)(*args, **kwargs).to(torch.float64 if dtype == np.float64 else torch.float32)
    mt = getattr(nn, name)(*args, **kwargs)
    if dtype == np.float64:
        mt = mt.double()
    mt.load_state_dict({k: mytorch.tensor(v.detach().numpy()) for k, v in th.state_dict().items()})
    return mt, th


def _check_module(mt, th, x, dtype, call_kwargs=None):
    call_kwargs = call_kwargs or {}
    xm, xt = pair(x, requires_grad=True)
    ym, yt = mt(xm, **call_kwargs), th(xt, **call_kwargs)
    tol = {} if dtype == np.float64 else F32_TOL
    assert_close(ym, yt, msg="forward", **tol)
    g = randn(*yt.shape, seed=9, dtype=dtype)
    (ym * mytorch.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    assert_close(xm.grad, xt.grad, msg="input grad", **tol)
    mine = dict(mt.named_parameters())
    for pname, p in th.named_parameters():
        assert_close(mine[pname].grad, p.grad, msg=f"{pname} grad", **tol)


# (module, constructor args, constructor kwargs, input shape)
MODULES = [
    ("Conv1d", (4, 6, 3), dict(stride=2, padding=1, groups=2), (2, 4, 9)),
    ("Conv1d", (3, 2, 3), dict(padding=2, padding_mode="reflect"), (2, 3, 7)),
    ("Conv1d", (3, 2, 4), dict(padding="same", padding_mode="circular", bias=False), (2, 3, 7)),
    ("Conv2d", (3, 4, 3), {}, (2, 3, 7, 6)),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2), (2, 4, 8, 7)),
    ("Conv2d", (3, 4, 3), dict(padding=(1, 2), padding_mode="reflect"), (2, 3, 5, 6)),
    ("Conv2d", (3, 4, 3), dict(padding=1, stride=2, padding_mode="replicate"), (2, 3, 6, 5)),
    ("Conv2d", (2, 3, (3, 4)), dict(padding=(2, 1), padding_mode="circular"), (2, 2, 5, 6)),
    ("Conv2d", (2, 3, 3), dict(padding="same", dilation=2, padding_mode="reflect"), (1, 2, 6, 7)),
    ("Conv2d", (2, 3, 3), dict(padding="valid", bias=False), (2, 5, 4)),
    ("Conv3d", (2, 3, 2), dict(padding=1), (1, 2, 3, 4, 3)),
    ("ConvTranspose1d", (4, 2, 3), dict(stride=2, output_padding=1, groups=2), (2, 4, 5)),
    ("ConvTranspose2d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 4, 5)),
    ("ConvTranspose2d", (2, 4, (2, 3)), dict(stride=(1, 2), dilation=2, bias=False), (3, 2, 3, 4)),
    ("ConvTranspose3d", (2, 2, 2), dict(stride=2), (1, 2, 2, 3, 2)),
]


@pytest.mark.parametrize("case", MODULES, ids=[f"{c[0]}-{i}" for i, c in enumerate(MODULES)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_module_matches_torch(case, dtype):
    name, args, kwargs, shape = case
    mt, th = _module_pair(name, args, kwargs, dtype)
    assert repr(mt) == repr(th)
    _check_module(mt, th, randn(*shape, seed=0, dtype=dtype), dtype)


@pytest.mark.parametrize("output_size", [None, (9, 12), [1, 4, 10, 11]])
def test_conv_transpose_output_size(output_size):
    mt, th = _module_pair("ConvTranspose2d", (4, 3, 3), dict(stride=2, padding=1), np.float64)
    _check_module(mt, th, randn(1, 4, 5, 6, seed=1), np.float64, dict(output_size=output_size))


def test_conv_transpose_output_size_out_of_range():
    m = nn.ConvTranspose2d(2, 2, 3, stride=2)
    with pytest.raises(ValueError, match="requested an output size"):
        m(mytorch.randn(1, 2, 4, 4), output_size=(20, 9))


REPRS = [
    ("Conv1d", (16, 33, 3), dict(stride=2)),
    ("Conv2d", (3, 16, 3), {}),
    ("Conv2d", (16, 33, (3, 5)), dict(stride=(2, 1), padding=(4, 2), dilation=(3, 1))),
    ("Conv2d", (4, 8, 3), dict(padding="same", groups=4, bias=False, padding_mode="reflect")),
    ("Conv2d", (4, 8, 1), dict(padding="valid", padding_mode="circular")),
    ("Conv3d", (2, 4, 3), dict(stride=2, padding=1)),
    ("ConvTranspose1d", (4, 2, 3), dict(output_padding=0)),
    ("ConvTranspose2d", (16, 33, (3, 5)), dict(stride=(2, 1), padding=(4, 2), output_padding=(1, 0), groups=1,
                                                dilation=2)),
    ("ConvTranspose3d", (4, 4, 2), dict(groups=2, bias=False)),
]


@pytest.mark.parametrize("case", REPRS, ids=[f"{c[0]}-{i}" for i, c in enumerate(REPRS)])
def test_repr_and_init(case):
    name, args, kwargs = case
    mt, th = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(mt) == repr(th)
    assert tuple(mt.weight.shape) == tuple(th.weight.shape)
    assert [n for n, _ in mt.named_parameters()] == [n for n, _ in th.named_parameters()]
    assert mt.weight.dtype == mytorch.float32 and mt.weight.requires_grad
    # kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
    fan_in = th.weight.shape[1] * math.prod(th.weight.shape[2:])
    bound = 1 / math.sqrt(fan_in)
    w = mt.weight.detach().numpy()
    assert np.abs(w).max() <= bound and w.std() > bound / 4
    if mt.bias is not None:
        assert np.abs(mt.bias.detach().numpy()).max() <= bound


def test_fused_kwarg_and_dtype():
    m = nn.Conv2d(3, 4, 3, fused=True, dtype=mytorch.float64)
    assert m.fused is True and "fused" not in repr(m)
    assert m.weight.dtype == mytorch.float64 and m.bias.dtype == mytorch.float64
    assert nn.Conv1d(2, 2, 1).fused is False
    out = m(mytorch.randn(1, 3, 5, 5, dtype=mytorch.float64))
    assert tuple(out.shape) == (1, 4, 3, 3)


ERRORS = [
    # (description, call on (mytorch|torch) namespace pair, exception)
    ("channels", lambda F_, T: F_.conv2d(T.randn(1, 4, 5, 5), T.randn(2, 3, 3, 3)), RuntimeError),
    ("input dims", lambda F_, T: F_.conv2d(T.randn(5, 5), T.randn(2, 3, 3, 3)), RuntimeError),
    ("kernel too big", lambda F_, T: F_.conv2d(T.randn(1, 3, 2, 2), T.randn(2, 3, 3, 3)), RuntimeError),
    ("same strided", lambda F_, T: F_.conv1d(T.randn(1, 3, 8), T.randn(2, 3, 3), stride=2, padding="same"),
     RuntimeError),
    ("dtype mismatch", lambda F_, T: F_.conv1d(T.randn(1, 3, 8), T.randn(2, 3, 3, dtype=T.float64)), RuntimeError),
    ("fold blocks", lambda F_, T: F_.fold(T.randn(1, 12, 10), (4, 5), 2), RuntimeError),
    ("transpose outpad", lambda F_, T: F_.conv_transpose1d(T.randn(1, 2, 4), T.randn(2, 2, 3), output_padding=2),
     RuntimeError),
]


@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_functional_errors(case):
    _, call, exc = case
    with pytest.raises(exc):
        call(TF, torch)
    with pytest.raises(exc):
        call(F, mytorch)


@pytest.mark.parametrize("kwargs", [dict(padding="same", stride=2), dict(padding="full"), dict(padding_mode="zero"),
                                    dict(groups=2)])
def test_module_constructor_errors(kwargs):
    with pytest.raises(ValueError):
        torch.nn.Conv2d(3, 4, 3, **kwargs)
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3, **kwargs)


def test_conv_transpose_padding_mode_error():
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
