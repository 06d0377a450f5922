"""nn modules and AdamW with fused=True (Triton kernels, CPU interpreter) against the same modules unfused.

Every fused run must show its kernels in `mytorch.kernels.launch_counts`, so a silent fallback fails."""
import copy

import numpy as np
import pytest

import mytorch as mt
from mytorch import backends, kernels, nn, optim
from mytorch.nn import functional as F
from tests.kernels.kutil import assert_close, randn


@pytest.fixture(autouse=True)
def _clean_switch():
    assert not backends.fused.enabled
    kernels.launch_counts.clear()
    yield
    backends.fused.enabled = False


def _tensor(a, grad=True):
    return mt.tensor(a, requires_grad=grad) if a.dtype.kind == "f" else mt.tensor(a)


def _run(module, x, dy):
    """Forward, backward with upstream dy: (output, input grad, {param name: grad}) as numpy."""
    xt = _tensor(x)
    y = module(xt)
    y.backward(mt.tensor(dy))
    grads = {n: p.grad.numpy() for n, p in module.named_parameters() if p.grad is not None}
    return y.detach().numpy(), (xt.grad.numpy() if xt.grad is not None else None), grads


def _indices(*shape):
    idx = np.random.default_rng(3).integers(0, 19, shape)
    idx[0, 0] = idx[-1, -1] = 3  # repeated indices and the padding row
    return idx


LIN, ACT, SM = ["linear_fwd", "linear_bwd"], ["activation_fwd", "activation_bwd"], ["softmax_fwd", "softmax_bwd"]
# (name, factory(dtype), input(dtype), kernels that must launch)
MODULES = [
    ("linear", lambda dt: nn.Linear(13, 7, dtype=dt), lambda dt: randn(3, 5, 13, dtype=dt), LIN),
    ("linear_nobias", lambda dt: nn.Linear(10, 33, bias=False, dtype=dt), lambda dt: randn(17, 10, dtype=dt),
     LIN),
    ("gelu", lambda dt: nn.GELU(), lambda dt: randn(4, 37, dtype=dt), ACT),
    ("gelu_tanh", lambda dt: nn.GELU("tanh"), lambda dt: randn(3, 29, dtype=dt), ACT),
    ("silu", lambda dt: nn.SiLU(), lambda dt: randn(2, 3, 19, dtype=dt), ACT),
    ("relu", lambda dt: nn.ReLU(), lambda dt: randn(5, 23, dtype=dt), ACT),
    ("softmax_last", lambda dt: nn.Softmax(dim=-1), lambda dt: randn(3, 6, 11, dtype=dt), SM),
    ("softmax_dim1", lambda dt: nn.Softmax(dim=1), lambda dt: randn(3, 6, 11, dtype=dt), SM),
    ("log_softmax", lambda dt: nn.LogSoftmax(dim=-1), lambda dt: randn(7, 45, dtype=dt), SM),
    ("log_softmax_dim0", lambda dt: nn.LogSoftmax(dim=0), lambda dt: randn(9, 5, dtype=dt), SM),
    ("embedding", lambda dt: nn.Embedding(19, 10, padding_idx=3, dtype=dt), lambda dt: _indices(4, 6),
     ["embedding_fwd", "embedding_bwd"]),
]
DTYPES = {np.float32: mt.float32, np.float16: mt.float16}


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("name,factory,make_input,launched", MODULES, ids=[c[0] for c in MODULES])
def test_module_fused_matches_unfused(name, factory, make_input, launched, dtype):
    mt.manual_seed(0)
    plain = factory(DTYPES[dtype])
    fused = copy.deepcopy(plain)
    fused.fused = True
    assert "fused" not in repr(fused) and repr(fused) == repr(plain)
    x = make_input(dtype)
    y0 = plain(_tensor(x, grad=False))
    dy = randn(*y0.shape, dtype=dtype, seed=7)
    kernels.launch_counts.clear()
    ref = _run(plain, x, dy)
    assert not kernels.launch_counts, "the unfused module launched a kernel"
    out = _run(fused, x, dy)
    for k in launched:
        assert kernels.launch_counts[k] >= 1, f"{k} did not run: the fused module fell back"
    scale = 10 if name.startswith("linear") else 2
    assert out[0].dtype == ref[0].dtype and out[0].shape == ref[0].shape
    assert_close(out[0], ref[0], dtype, scale)
    if ref[1] is not None:
        assert_close(out[1], ref[1], dtype, scale)
    assert out[2].keys() == ref[2].keys()
    for n in ref[2]:
        assert out[2][n].dtype == ref[2][n].dtype
        assert_close(out[2][n], ref[2][n], dtype, scale)


def _all_modules():
    return [(factory(mt.float32), make_input(np.float32)) for _, factory, make_input, _ in MODULES]


def test_switches_off_no_launch():
    """Master switch off and module flags off: everything stays on numpy, no kernel launches."""
    for module, x in _all_modules() + [(nn.Dropout(0.4), randn(6, 7))]:
        xt = _tensor(x)
        y = module(xt)
        y.sum().backward()
    lin = nn.Linear(4, 3)
    opt = optim.AdamW(lin.parameters())
    lin(mt.randn(2, 4)).sum().backward()
    opt.step()
    F.softmax(mt.randn(3, 4), dim=-1)
    assert not kernels.launch_counts


def test_master_switch_and_op_flags():
    x = mt.randn(3, 9, requires_grad=True)
    with backends.fused.flags(enabled=True):
        F.gelu(nn.Linear(9, 5)(x)).softmax(-1).sum().backward()  # unflagged modules, global switch on
    for k in ("linear_fwd", "linear_bwd", "activation_fwd", "activation_bwd", "softmax_fwd", "softmax_bwd"):
        assert kernels.launch_counts[k] == 1
    kernels.launch_counts.clear()
    with backends.fused.flags(enabled=True, linear=False, activation=False, softmax=False):
        F.gelu(nn.Linear(9, 5)(x)).softmax(-1).sum().backward()
    with backends.fused.flags(linear=False):
        nn.Linear(9, 5, fused=True)(x).sum().backward()  # the op flag also vetoes the module flag
    assert not kernels.launch_counts


def test_fused_falls_back_for_other_dtypes_and_options():
    w = mt.randn(19, 4, dtype=mt.float64, requires_grad=True)
    nn.Linear(4, 3, dtype=mt.float64, fused=True)(mt.randn(2, 4, dtype=mt.float64)).sum().backward()
    nn.Softmax(dim=0, fused=True)(mt.randn(3, dtype=mt.float64))
    nn.Embedding(19, 4, scale_grad_by_freq=True, fused=True)(mt.tensor([1, 1, 2])).sum().backward()
    F.embedding(mt.tensor([1, 2]), w).sum().backward()
    nn.Dropout2d(0.5, fused=True)(mt.randn(2, 3, 4, 4))
    assert not kernels.launch_counts


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_fused_statistics_and_backward(p, dtype):
    drop = nn.Dropout(p, fused=True)
    x = mt.tensor(np.ones((64, 301), dtype), requires_grad=True)
    y = drop(x)
    out = y.detach().numpy()
    assert out.dtype == dtype
    zeros = (out == 0).mean()
    assert abs(zeros - p) < 4 * np.sqrt(p * (1 - p) / out.size) + 1e-3
    np.testing.assert_allclose(out[out != 0], 1 / (1 - p), rtol=1e-3)
    dy = randn(64, 301, dtype=dtype, seed=2)
    y.backward(mt.tensor(dy))
    expected = np.where(out != 0, dy.astype(np.float32) / (1 - p), 0)
    assert_close(x.grad.numpy(), expected, dtype)
    assert kernels.launch_counts["dropout"] == 2  # forward and the regenerated mask in backward


def test_dropout_fused_seeding():
    drop = nn.Dropout(0.5, fused=True)
    x = mt.ones(40, 37)
    mt.manual_seed(11)
    a = drop(x).numpy()
    b = drop(x).numpy()
    mt.manual_seed(11)
    c = drop(x).numpy()
    np.testing.assert_array_equal(a, c)  # mytorch's seed picks the mask
    assert (a != b).any()  # a fresh seed per call
    drop.eval()
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
    assert kernels.launch_counts["dropout"] == 3


def test_dropout_fused_inplace():
    x = mt.randn(8, 13, requires_grad=True)
    h = x * 2
    y = nn.Dropout(0.3, inplace=True, fused=True)(h)
    assert y is h
    y.sum().backward()
    keep = y.detach().numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), np.where(keep, 2 / 0.7, 0), rtol=1e-5)
    assert kernels.launch_counts["dropout"] == 2


# ---------------------------------------------------------------------------------------------
# AdamW
# ---------------------------------------------------------------------------------------------
ADAM_CASES = [  # (optimizer class, kwargs, kernel expected)
    (optim.AdamW, dict(lr=1e-2), True),
    (optim.AdamW, dict(lr=3e-2, weight_decay=0.1, amsgrad=True), True),
    (optim.AdamW, dict(lr=1e-2, betas=(0.8, 0.99), maximize=True), True),
    (optim.Adam, dict(lr=1e-2), True),
    (optim.Adam, dict(lr=1e-2, weight_decay=0.1), False),  # L2 decay: not the kernel's update, stays unfused
]


@pytest.mark.parametrize("cls,kwargs,uses_kernel", ADAM_CASES)
def test_adamw_fused_matches_unfused(cls, kwargs, uses_kernel):
    mt.manual_seed(0)
    models = [nn.Linear(13, 5), None]
    models[1] = copy.deepcopy(models[0])
    opts = [cls(models[0].parameters(), **kwargs), cls(models[1].parameters(), fused=True, **kwargs)]
    for step in range(5):
        for model, opt in zip(models, opts):
            for i, p in enumerate(model.parameters()):
                p.grad = mt.tensor(randn(*p.shape, seed=10 * step + i))
            opt.step()
    assert kernels.launch_counts["adamw"] == (5 if uses_kernel else 0)  # one multi-tensor launch per step
    for p0, p1 in zip(models[0].parameters(), models[1].parameters()):
        assert_close(p1.detach().numpy(), p0.detach().numpy())
    s0, s1 = opts[0].state_dict(), opts[1].state_dict()
    assert s0["state"].keys() == s1["state"].keys()
    for k in s0["state"]:
        assert s0["state"][k].keys() == s1["state"][k].keys()
        for name, v in s0["state"][k].items():
            w = s1["state"][k][name]
            assert v.shape == w.shape and v.dtype == w.dtype
            assert_close(w.numpy(), v.numpy())


def test_adamw_fused_groups_tensor_lr_and_missing_grads():
    """Two groups (one with a tensor lr), one parameter skipping steps so its step count lags: one launch per
    group and step value, same numbers as the unfused optimizer and as torch.optim.AdamW."""
    import torch

    shapes = [(6, 5), (5,), (3, 7), (1,)]
    arrays = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    runs = []
    for fused in (False, True):
        params = [mt.tensor(a.copy(), requires_grad=True) for a in arrays]
        groups = [{"params": params[:2], "lr": mt.tensor(0.02)}, {"params": params[2:], "weight_decay": 0.0}]
        runs.append((params, optim.AdamW(groups, lr=0.01, fused=fused, amsgrad=True)))
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    topt = torch.optim.AdamW([{"params": tparams[:2], "lr": torch.tensor(0.02)},
                              {"params": tparams[2:], "weight_decay": 0.0}], lr=0.01, amsgrad=True)
    for step in range(4):
        grads = [randn(*s, seed=20 + 10 * step + i) for i, s in enumerate(shapes)]
        for params, opt in runs:
            for i, (p, g) in enumerate(zip(params, grads)):
                p.grad = None if i == 1 and step == 1 else mt.tensor(g)
            opt.step()
        for i, (p, g) in enumerate(zip(tparams, grads)):
            p.grad = None if i == 1 and step == 1 else torch.tensor(g)
        topt.step()
    # group 0: 1 launch at step 0 and 1, then 2 (parameter 1 is one step behind); group 1: 1 per step
    assert kernels.launch_counts["adamw"] == 4 + 1 + 1 + 2 + 2
    for p0, p1, tp in zip(runs[0][0], runs[1][0], tparams):
        assert_close(p1.detach().numpy(), p0.detach().numpy())
        assert_close(p1.detach().numpy(), tp.detach().numpy())


def test_adamw_fused_fp16_params_fall_back():
    lin = nn.Linear(4, 3, dtype=mt.float16)
    opt = optim.AdamW(lin.parameters(), fused=True)
    lin(mt.randn(2, 4, dtype=mt.float16)).sum().backward()
    opt.step()
    assert not kernels.launch_counts  # float16 states would not fit the kernel's float32 moments
    assert opt.state[lin.weight]["exp_avg"].dtype == mt.float16
