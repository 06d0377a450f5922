"""Rprop, ASGD and swa_utils (AveragedModel, SWALR, update_bn) against PyTorch."""
import numpy as np
import pytest
import torch

import mytorch


def _run(lib, make_opt, steps=8, **kw):
    w0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.2, -0.7]], np.float64)
    w = lib.nn.Parameter(lib.tensor(w0))
    opt = make_opt(lib, [w], **kw)
    for i in range(steps):
        opt.zero_grad()
        loss = ((w - 0.3) ** 4).sum() + (w * lib.tensor(float(i % 3 - 1), dtype=w.dtype)).sum()
        loss.backward()
        opt.step()
    return w.detach().numpy(), opt


@pytest.mark.parametrize("kw", [{}, {"lr": 0.1, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}, {"maximize": True}])
def test_rprop_matches_torch(kw):
    mine, opt = _run(mytorch, lambda L, p, **k: L.optim.Rprop(p, **k), **kw)
    ref, ropt = _run(torch, lambda L, p, **k: L.optim.Rprop(p, **k), **kw)
    np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-12)
    state, rstate = next(iter(opt.state.values())), next(iter(ropt.state.values()))
    np.testing.assert_allclose(state["step_size"].numpy(), rstate["step_size"].numpy(), rtol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"lr": 0.05, "lambd": 1e-2, "alpha": 0.5, "t0": 3, "weight_decay": 0.1}])
def test_asgd_matches_torch(kw):
    mine, opt = _run(mytorch, lambda L, p, **k: L.optim.ASGD(p, **k), **kw)
    ref, ropt = _run(torch, lambda L, p, **k: L.optim.ASGD(p, **k), **kw)
    np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-12)
    s, r = next(iter(opt.state.values())), next(iter(ropt.state.values()))
    for name in ("ax", "eta", "mu"):
        np.testing.assert_allclose(s[name].numpy(), r[name].numpy(), rtol=1e-12, err_msg=name)


def test_bad_arguments():
    p = [mytorch.nn.Parameter(mytorch.zeros(2))]
    with pytest.raises(ValueError, match="eta"):
        mytorch.optim.Rprop(p, etas=(1.5, 1.2))
    with pytest.raises(ValueError, match="learning rate"):
        mytorch.optim.ASGD(p, lr=-1)


def _model(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 1))


@pytest.mark.parametrize("kind", ["swa", "ema", "ema_multi"])
def test_averaged_model_matches_torch(kind):
    results = []
    for lib in (torch, mytorch):
        model = _model(lib)
        if lib is mytorch:
            model.load_state_dict({k: mytorch.tensor(v.numpy()) for k, v in ref_state.items()})
        else:
            ref_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        su = lib.optim.swa_utils
        kw = {"swa": {}, "ema": {"avg_fn": su.get_ema_avg_fn(0.9)}, "ema_multi": {"multi_avg_fn": su.get_ema_multi_avg_fn(0.9),
                                                                                  "use_buffers": True}}[kind]
        avg = su.AveragedModel(model, **kw)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        x = lib.tensor(np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3))
        for _ in range(4):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
            avg.update_parameters(model)
        results.append({k: v.detach().numpy() for k, v in avg.state_dict().items()})
    assert list(results[0]) == list(results[1])
    for k in results[0]:
        np.testing.assert_allclose(results[1][k], results[0][k], rtol=1e-5, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("strategy,epochs", [("cos", 3), ("linear", 2), ("cos", 0)])
def test_swalr_schedule_matches_torch(strategy, epochs):
    lrs = []
    for lib in (torch, mytorch):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(1))], lr=0.5)
        sched = lib.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=epochs, anneal_strategy=strategy)
        seq = []
        for _ in range(6):
            opt.step()
            sched.step()
            seq.append(opt.param_groups[0]["lr"])
        lrs.append(seq)
    np.testing.assert_allclose(lrs[1], lrs[0], rtol=1e-12)


def test_update_bn_matches_torch():
    stats = []
    ref = _model(torch)
    for lib in (torch, mytorch):
        model = ref if lib is torch else _model(lib)
        if lib is mytorch:
            model.load_state_dict({k: mytorch.tensor(v.numpy()) for k, v in ref.state_dict().items()})
        data = [lib.tensor(np.arange(12, dtype=np.float32).reshape(4, 3) * s) for s in (0.5, -1.0, 2.0)]
        lib.optim.swa_utils.update_bn([(d, None) for d in data], model)
        bn = model[1]
        stats.append((bn.running_mean.numpy().copy(), bn.running_var.numpy().copy(), bn.momentum, model.training))
    np.testing.assert_allclose(stats[1][0], stats[0][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats[1][1], stats[0][1], rtol=1e-5, atol=1e-6)
    assert stats[1][2:] == stats[0][2:]


def test_closure_sees_complex_parameters():
    """The step works on real views of complex parameters; the closure must still see the complex ones."""
    results = []
    for lib in (torch, mytorch):
        z = lib.nn.Parameter(lib.tensor([1.0 + 2.0j, -0.5 + 0.3j]))
        opt = lib.optim.SGD([z], lr=0.1, momentum=0.9)

        def closure(z=z, opt=opt, lib=lib):
            opt.zero_grad()
            loss = (z * z.conj()).real.sum() + (z.real * 3).sum()
            loss.backward()
            return loss
        losses = [opt.step(closure).item() for _ in range(3)]
        results.append((losses, z.detach().numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-6)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-6)
