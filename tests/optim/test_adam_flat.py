"""Adam/AdamW's flat (foreach-style) update: the states of a group live as views in one buffer per name and
one array call updates every parameter. Used for GPU arrays; on numpy the module switch `_FLAT_ON_CPU`
turns it on so it can be checked here: bit-identical to the per-tensor update, and to torch.optim."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

import mytorch
import mytorch.optim as mo
from mytorch.optim import adam

SHAPES = [(7, 5), (13,), (3, 1, 4), (1,), (6, 6)]
CASES = [
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.03, betas=(0.8, 0.99), maximize=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),  # L2 decay
    ("Adam", dict(lr=0.02, amsgrad=True, maximize=True, eps=1e-6)),
]


def _grads(step):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def _run(lib, name, kw, steps, flat, monkeypatch, state=None):
    monkeypatch.setattr(adam, "_FLAT_ON_CPU", flat)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    make = mytorch.tensor if lib == "mt" else torch.tensor
    params = [make(a, requires_grad=True) for a in arrays]
    groups = [{"params": params[:3]}, {"params": params[3:], "lr": kw["lr"] / 2}]
    opt = getattr(mo if lib == "mt" else torch.optim, name)(groups, **kw)
    for step in range(steps):
        for i, (p, g) in enumerate(zip(params, _grads(step))):
            # parameter 1 sometimes has no gradient: the flat buffer must be rebuilt around it, its step lags
            p.grad = None if i == 1 and step % 3 == 1 else make(g)
        opt.step()
        if state is not None and step == steps // 2:  # round-trip the state mid-run
            sd = opt.state_dict()
            opt = getattr(mo, name)(groups, **kw)
            opt.load_state_dict(sd)
    return [p.detach().numpy().copy() for p in params], opt


@pytest.mark.parametrize("name,kw", CASES)
def test_flat_update_is_the_per_tensor_update(name, kw, monkeypatch):
    flat, flat_opt = _run("mt", name, kw, 8, True, monkeypatch)
    loop, loop_opt = _run("mt", name, kw, 8, False, monkeypatch)
    assert getattr(flat_opt, "_flat_states", None) and not getattr(loop_opt, "_flat_states", None)
    for a, b in zip(flat, loop):
        np.testing.assert_array_equal(a, b)
    for p, q in zip(flat_opt.param_groups[0]["params"], loop_opt.param_groups[0]["params"]):
        for key, value in loop_opt.state[q].items():
            np.testing.assert_array_equal(flat_opt.state[p][key].numpy(), value.numpy())
    ref, _ = _run("th", name, kw, 8, False, monkeypatch)
    for a, b in zip(flat, ref):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_flat_states_survive_state_dict_round_trip(monkeypatch):
    kw = dict(lr=0.05, weight_decay=0.1, amsgrad=True)
    flat, opt = _run("mt", "AdamW", kw, 8, True, monkeypatch, state=True)
    loop, _ = _run("mt", "AdamW", kw, 8, False, monkeypatch)
    for a, b in zip(flat, loop):
        np.testing.assert_array_equal(a, b)
    sd = opt.state_dict()  # ordinary per-parameter tensors, shaped like their parameters
    for pid, state in sd["state"].items():
        assert state["exp_avg"].shape == mytorch.Size(SHAPES[pid])


def test_flat_update_on_a_fake_gpu():
    """Under the strict fake cupy the flat path runs (GPU arrays) and matches the CPU per-tensor update."""
    code = """
import mytorch, mytorch.optim as mo
ps = [mytorch.randn(5, 3), mytorch.randn(7), mytorch.randn(2, 2)]
for name, kw in (("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)), ("Adam", dict(lr=0.05, weight_decay=0.1, maximize=True))):
    cpu = [p.clone().requires_grad_() for p in ps]
    gpu = [p.clone().to("cuda").requires_grad_() for p in ps]
    oc, og = getattr(mo, name)(cpu, **kw), getattr(mo, name)(gpu, **kw)
    for step in range(4):
        for c, g in zip(cpu, gpu):
            grad = mytorch.randn(*c.shape)
            c.grad, g.grad = grad, grad.to("cuda")
        oc.step(); og.step()
    assert og._flat_states and og.state[gpu[0]]["exp_avg"].device.type == "cuda"
    assert all(bool((c == g.cpu()).all()) for c, g in zip(cpu, gpu)), name
print("ok")
"""
    env = dict(os.environ, MYTORCH_FAKE_CUDA="1")
    root = pathlib.Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
