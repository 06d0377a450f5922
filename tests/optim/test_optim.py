"""Optimizers vs torch.optim: same params, same gradients, 10+ steps; state_dict; errors; reprs."""
import copy
import pickle

import numpy as np
import pytest
import torch

import mytorch
import mytorch.optim as mo

SHAPES = [(4, 3), (3,), (2, 2)]

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, maximize=True)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.05, maximize=True)),
    ("AdamW", dict(lr=0.05, fused=None, foreach=None)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, maximize=True, eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5)),
    ("Adadelta", dict(weight_decay=0.1)),
    ("Adadelta", dict(maximize=True, eps=1e-4)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1, maximize=True, betas=(0.8, 0.9))),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.9, 0.9), weight_decay=0.1)),  # rho_t > 5 from step 7: both branches
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.8), weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for name, kw in CONFIGS]


def _init_arrays(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _grad(x, i, step):
    """A smooth, non-quadratic gradient field: different per parameter and per step."""
    coef = 0.5 + 0.25 * i
    return (coef * x + 0.3 * np.sin(3 * x + step) + 0.1 * (i - 1)).astype(x.dtype)


def _set_grads(params, step, to_tensor):
    for i, p in enumerate(params):
        if i == 2 and step % 3 == 1:  # sometimes no gradient: the optimizer must skip the parameter
            p.grad = None
            continue
        data = p.detach().cpu().numpy() if isinstance(p, torch.Tensor) else p.detach().numpy()
        p.grad = to_tensor(_grad(np.array(data), i, step))


def _make(lib, name, arrays, kw, groups):
    if lib == "mt":
        params = [mytorch.tensor(a.copy(), requires_grad=True) for a in arrays]
        opt_cls = getattr(mo, name)
    else:
        params = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
        opt_cls = getattr(torch.optim, name)
    if groups:  # two param groups, the second with its own lr
        lr2 = kw.get("lr", 1e-3) * 0.5
        spec = [{"params": params[:2]}, {"params": params[2:], "lr": lr2}]
    else:
        spec = params
    return params, opt_cls(spec, **kw)


def _run(lib, params, opt, steps, start=0):
    to_tensor = mytorch.tensor if lib == "mt" else torch.tensor
    for step in range(start, start + steps):
        _set_grads(params, step, to_tensor)
        opt.step()


def _compare(mt_params, th_params, rtol, atol):
    for m, t in zip(mt_params, th_params):
        assert m.dtype == getattr(mytorch, str(t.dtype).split(".")[-1])
        np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype,rtol,atol", [(np.float32, 2e-5, 2e-6), (np.float64, 1e-11, 1e-12)])
@pytest.mark.parametrize("groups", [False, True])
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_matches_torch(name, kw, groups, dtype, rtol, atol):
    arrays = _init_arrays(dtype)
    mt_params, mt_opt = _make("mt", name, arrays, kw, groups)
    th_params, th_opt = _make("th", name, arrays, kw, groups)
    _run("mt", mt_params, mt_opt, 12)
    _run("th", th_params, th_opt, 12)
    _compare(mt_params, th_params, rtol, atol)
    # the state looks like torch's: same keys, same step counts, same buffers
    for m, t in zip(mt_params, th_params):
        mt_state, th_state = mt_opt.state[m], th_opt.state[t]
        assert sorted(mt_state) == sorted(th_state)
        for key, value in th_state.items():
            np.testing.assert_allclose(mt_state[key].numpy(), value.numpy(), rtol=rtol * 10, atol=atol)
            if key in ("step", "mu_product"):
                assert mt_state[key].shape == () and mt_state[key].dtype == mytorch.float32
            else:
                assert mt_state[key].dtype == m.dtype


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_state_dict_layout_matches_torch(name, kw):
    arrays = _init_arrays(np.float32)
    mt_params, mt_opt = _make("mt", name, arrays, kw, groups=True)
    th_params, th_opt = _make("th", name, arrays, kw, groups=True)
    _run("mt", mt_params, mt_opt, 2)
    _run("th", th_params, th_opt, 2)
    mt_sd, th_sd = mt_opt.state_dict(), th_opt.state_dict()
    assert mt_sd["param_groups"] == th_sd["param_groups"]
    assert sorted(mt_sd["state"]) == sorted(th_sd["state"])
    for pid, th_state in th_sd["state"].items():
        assert sorted(mt_sd["state"][pid]) == sorted(th_state)
    assert repr(mt_opt) == repr(th_opt)


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_state_dict_resume_is_exact(name, kw):
    arrays = _init_arrays(np.float32)
    full_params, full_opt = _make("mt", name, arrays, kw, groups=True)
    _run("mt", full_params, full_opt, 10)

    params, opt = _make("mt", name, arrays, kw, groups=True)
    _run("mt", params, opt, 5)
    saved = pickle.loads(pickle.dumps(opt.state_dict()))  # as if written to disk
    saved_values = [p.detach().numpy().copy() for p in params]
    params2, opt2 = _make("mt", name, saved_values, dict(kw, lr=123.0) if "lr" in kw else kw, groups=True)
    opt2.load_state_dict(saved)
    _run("mt", params2, opt2, 5, start=5)
    for a, b in zip(params2, full_params):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    _run("mt", params, opt, 5, start=5)  # the original keeps its own state (load copies)
    for a, b in zip(params, full_params):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("name,kw", CONFIGS[::2], ids=IDS[::2])
def test_load_torch_state_dict(name, kw):
    """Resume a mytorch optimizer from a torch optimizer's state_dict."""
    arrays = _init_arrays(np.float64)
    th_params, th_opt = _make("th", name, arrays, kw, groups=True)
    _run("th", th_params, th_opt, 5)
    current = [p.detach().numpy().copy() for p in th_params]
    mt_params, mt_opt = _make("mt", name, current, kw, groups=True)
    mt_opt.load_state_dict(th_opt.state_dict())
    th_params, th_opt2 = _make("th", name, current, kw, groups=True)  # torch resuming the same way
    th_opt2.load_state_dict(th_opt.state_dict())
    th_opt = th_opt2
    _run("th", th_params, th_opt, 5, start=5)
    _run("mt", mt_params, mt_opt, 5, start=5)
    _compare(mt_params, th_params, 1e-11, 1e-12)


def test_step_with_autograd_and_closure():
    w_np = np.array([[1.0, -2.0], [0.5, 3.0]])
    w_mt = mytorch.tensor(w_np, requires_grad=True)
    w_th = torch.tensor(w_np, requires_grad=True)
    opt_mt = mo.SGD([w_mt], lr=0.1, momentum=0.9)
    opt_th = torch.optim.SGD([w_th], lr=0.1, momentum=0.9)

    def closure(w, opt, ones):
        def fn():
            opt.zero_grad()
            loss = w * w * 0.5 + (w * 2.0).sin()
            loss.backward(ones)
            return loss
        return fn

    for _ in range(10):
        out_mt = opt_mt.step(closure(w_mt, opt_mt, mytorch.ones(2, 2, dtype=mytorch.float64)))
        out_th = opt_th.step(closure(w_th, opt_th, torch.ones(2, 2, dtype=torch.float64)))
        np.testing.assert_allclose(out_mt.detach().numpy(), out_th.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(w_mt.detach().numpy(), w_th.detach().numpy(), rtol=1e-12)
    assert not w_mt.grad.requires_grad


def _catch(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__, str(exc)
    return None


ERROR_CASES = [
    ("SGD", dict(lr=-1.0)),
    ("SGD", dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, weight_decay=-1)),
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(lr=-0.1)),
    ("Adam", dict(eps=-1.0)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))),
    ("Adam", dict(weight_decay=-0.1)),
    ("AdamW", dict(lr=-1.0)),
    ("AdamW", dict(betas=(0.9, 1.5))),
    ("RMSprop", dict(alpha=-0.1)),
    ("RMSprop", dict(momentum=-0.1)),
    ("RMSprop", dict(eps=-0.1)),
    ("Adagrad", dict(lr_decay=-0.1)),
    ("Adagrad", dict(initial_accumulator_value=-1.0)),
    ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(lr=-1.0)),
    ("NAdam", dict(momentum_decay=-1.0)),
    ("RAdam", dict(betas=(0.9, 1.0))),
    ("Adamax", dict(eps=-1.0)),
]


@pytest.mark.parametrize("name,kw", ERROR_CASES)
def test_invalid_arguments_like_torch(name, kw):
    mine = _catch(lambda: getattr(mo, name)([mytorch.zeros(2, requires_grad=True)], **kw))
    ref = _catch(lambda: getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw))
    assert ref is not None and mine == ref


def _both(fn):
    mt_p = [mytorch.zeros(2, requires_grad=True), mytorch.ones(3, requires_grad=True)]
    th_p = [torch.zeros(2, requires_grad=True), torch.ones(3, requires_grad=True)]
    return _catch(lambda: fn(mo, mt_p, mytorch)), _catch(lambda: fn(torch.optim, th_p, torch))


@pytest.mark.parametrize("case", [
    lambda optim, p, lib: optim.SGD([], lr=0.1),
    lambda optim, p, lib: optim.SGD(p[0], lr=0.1),
    lambda optim, p, lib: optim.SGD([{"params": {p[0], p[1]}}], lr=0.1),
    lambda optim, p, lib: optim.SGD([p[0], 3.0], lr=0.1),
    lambda optim, p, lib: optim.SGD([p[0] * 2], lr=0.1),
    lambda optim, p, lib: optim.SGD([{"params": [p[0]]}, {"params": [p[0], p[1]]}], lr=0.1),
    lambda optim, p, lib: optim.SGD([p[0]], lr=0.1).add_param_group({"params": p[0]}),
    lambda optim, p, lib: optim.SGD([p[0]], lr=0.1).add_param_group([p[1]]),
    lambda optim, p, lib: optim.SGD([p[0]], lr=0.1).load_state_dict(
        optim.SGD([{"params": [p[0]]}, {"params": [p[1]]}], lr=0.1).state_dict()),
    lambda optim, p, lib: optim.SGD([p[0]], lr=0.1).load_state_dict(optim.SGD(p, lr=0.1).state_dict()),
], ids=["empty", "tensor", "set", "non-tensor", "non-leaf", "dup-groups", "dup-add", "add-non-dict",
        "load-groups", "load-sizes"])
def test_structural_errors_like_torch(case):
    mine, ref = _both(case)
    assert ref is not None and mine == ref


def test_param_groups_add_and_options():
    a, b = mytorch.zeros(2, requires_grad=True), mytorch.zeros(3, requires_grad=True)
    opt = mo.Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.01, "betas": (0.5, 0.6)})
    assert len(opt.param_groups) == 2
    g = opt.param_groups[1]
    assert g["params"] == [b] and g["lr"] == 0.01 and g["betas"] == (0.5, 0.6) and g["eps"] == 1e-8
    assert opt.defaults["lr"] == 0.1
    with pytest.warns(UserWarning, match="duplicate parameters"):
        mo.SGD([a, a], lr=0.1)
    named = mo.SGD([("w", a), ("b", b)], lr=0.1)
    assert named.param_groups[0]["param_names"] == ["w", "b"]
    assert mo.AdamW([a]).defaults["weight_decay"] == 0.01
    assert mo.AdamW([a], fused=True).defaults["fused"] is True


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    p = mytorch.tensor([1.0, 2.0], requires_grad=True)
    p.grad = mytorch.tensor([3.0, 4.0])
    grad = p.grad
    mo.SGD([p], lr=0.1).zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert p.grad is None
    else:
        assert p.grad is grad and grad.tolist() == [0.0, 0.0]


def test_hooks_and_state_dict_hooks():
    p = mytorch.tensor([1.0, 2.0], requires_grad=True)
    opt = mo.SGD([p], lr=0.5)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o is opt)))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", p.tolist())))
    opt.register_state_dict_post_hook(lambda o, sd: dict(sd, extra=1))
    p.grad = mytorch.tensor([1.0, 1.0])
    opt.step()
    assert calls == [("pre", True), ("post", [0.5, 1.5])]
    h1.remove()
    opt.step()
    assert calls[-1] == ("post", [0.0, 1.0]) and len(calls) == 3
    assert opt.state_dict()["extra"] == 1


def test_no_grad_params_skipped_and_deepcopy():
    a, b = mytorch.tensor([1.0, 2.0], requires_grad=True), mytorch.tensor([3.0], requires_grad=True)
    opt = mo.Adam([a, b], lr=0.1)
    a.grad = mytorch.tensor([1.0, -1.0])
    opt.step()
    assert b.tolist() == [3.0] and b not in opt.state and a in opt.state
    clone = copy.deepcopy(opt)
    assert len(clone.state) == 1 and clone.param_groups[0]["lr"] == 0.1


def test_float32_stays_float32():
    p = mytorch.tensor(np.ones((3, 3), np.float32), requires_grad=True)
    for cls in (mo.SGD, mo.Adam, mo.AdamW, mo.RMSprop, mo.Adagrad, mo.Adadelta, mo.Adamax, mo.NAdam, mo.RAdam):
        opt = cls([p], lr=0.1)
        p.grad = mytorch.tensor(np.full((3, 3), 0.5, np.float32))
        data = p._data
        opt.step()
        assert p._data is data and p.dtype == mytorch.float32  # updated in place
        assert all(v.dtype == mytorch.float32 for v in opt.state[p].values())


@pytest.mark.parametrize("name,kw", [("AdamW", dict(lr=0.05)), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                     ("RMSprop", dict(lr=0.01, centered=True))])
def test_nn_parameters_with_autograd(name, kw):
    """Parameters trained through autograd: loss = sum(tanh(w * x + b) - y)^2, elementwise."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    w0, b0 = rng.standard_normal(3), rng.standard_normal(3)
    mt_w, mt_b = mytorch.nn.Parameter(mytorch.tensor(w0)), mytorch.nn.Parameter(mytorch.tensor(b0))
    th_w, th_b = torch.nn.Parameter(torch.tensor(w0)), torch.nn.Parameter(torch.tensor(b0))
    mt_opt = getattr(mo, name)([mt_w, mt_b], **kw)
    th_opt = getattr(torch.optim, name)([th_w, th_b], **kw)
    for lib, (w, b, opt) in (("mt", (mt_w, mt_b, mt_opt)), ("th", (th_w, th_b, th_opt))):
        tensor = mytorch.tensor if lib == "mt" else torch.tensor
        for _ in range(10):
            opt.zero_grad()
            err = (w * tensor(x) + b).tanh() - tensor(y)
            (err * err).backward(tensor(np.ones((8, 3))))
            opt.step()
    assert isinstance(mt_w, mytorch.nn.Parameter) and mt_w in mt_opt.state
    np.testing.assert_allclose(mt_w.detach().numpy(), th_w.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(mt_b.detach().numpy(), th_b.detach().numpy(), rtol=1e-10)
    clone = copy.deepcopy({"w": mt_w, "opt": mt_opt})  # a checkpoint-style copy keeps the keying
    assert clone["w"] in clone["opt"].state
