"""LR schedulers vs torch.optim.lr_scheduler: lr (and momentum) sequences, closed forms, state_dict."""
import copy
import math
import warnings

import numpy as np
import pytest
import torch

import mytorch
import mytorch.optim as mo
from mytorch.optim import lr_scheduler as mt_sched

LIBS = {"mt": (mytorch, mo, mt_sched), "th": (torch, torch.optim, torch.optim.lr_scheduler)}


def _optimizer(lib, kind="sgd"):
    tensor_lib, optim, _ = LIBS[lib]
    a = tensor_lib.zeros(2, requires_grad=True)
    b = tensor_lib.zeros(3, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.01}]
    if kind == "adam":
        return optim.Adam(groups, lr=0.1)
    return optim.SGD(groups, lr=0.1, momentum=0.9)


# name -> (optimizer kind, builder(S, opt)) where S is the scheduler module
CASES = {
    "LambdaLR": ("sgd", lambda S, o: S.LambdaLR(o, lambda e: 0.95 ** e)),
    "LambdaLR-list": ("sgd", lambda S, o: S.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1.0 / (e + 1)])),
    "MultiplicativeLR": ("sgd", lambda S, o: S.MultiplicativeLR(o, lambda e: 0.9 if e < 10 else 1.05)),
    "StepLR": ("sgd", lambda S, o: S.StepLR(o, step_size=5, gamma=0.5)),
    "MultiStepLR": ("sgd", lambda S, o: S.MultiStepLR(o, milestones=[3, 7, 7, 15], gamma=0.5)),
    "ConstantLR": ("sgd", lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=4)),
    "LinearLR-warmup": ("sgd", lambda S, o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=8)),
    "LinearLR-decay": ("sgd", lambda S, o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=10)),
    "ExponentialLR": ("sgd", lambda S, o: S.ExponentialLR(o, gamma=0.9)),
    "PolynomialLR": ("sgd", lambda S, o: S.PolynomialLR(o, total_iters=10, power=2.0)),
    "CosineAnnealingLR": ("sgd", lambda S, o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    "CosineAnnealingLR-long": ("sgd", lambda S, o: S.CosineAnnealingLR(o, T_max=7)),
    "WarmRestarts": ("sgd", lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=1e-3)),
    "WarmRestarts-mult1": ("sgd", lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=4)),
    "OneCycleLR-cos": ("sgd", lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=32)),
    "OneCycleLR-linear": ("sgd", lambda S, o: S.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=31,
                                                           anneal_strategy="linear", pct_start=0.25)),
    "OneCycleLR-3phase": ("sgd", lambda S, o: S.OneCycleLR(o, max_lr=0.5, epochs=4, steps_per_epoch=8,
                                                           three_phase=True)),
    "OneCycleLR-adam": ("adam", lambda S, o: S.OneCycleLR(o, max_lr=0.01, total_steps=40, div_factor=10.0,
                                                          final_div_factor=100.0)),
    "OneCycleLR-nomom": ("adam", lambda S, o: S.OneCycleLR(o, max_lr=0.01, total_steps=31, cycle_momentum=False)),
    "CyclicLR": ("sgd", lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4)),
    "CyclicLR-tri2": ("sgd", lambda S, o: S.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3,
                                                     step_size_down=5, mode="triangular2")),
    "CyclicLR-exp": ("adam", lambda S, o: S.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=5,
                                                     mode="exp_range", gamma=0.95)),
    "CyclicLR-custom": ("sgd", lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=4, cycle_momentum=False,
                                                       scale_fn=lambda x: 0.5 ** x, scale_mode="iterations")),
    "SequentialLR": ("sgd", lambda S, o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=5), S.ExponentialLR(o, gamma=0.9)], milestones=[5])),
    "SequentialLR-3": ("sgd", lambda S, o: S.SequentialLR(
        o, [S.ConstantLR(o, factor=0.5, total_iters=10), S.CosineAnnealingLR(o, T_max=8),
            S.StepLR(o, step_size=3, gamma=0.5)], milestones=[4, 12])),
    "ChainedScheduler": ("sgd", lambda S, o: S.ChainedScheduler(
        [S.ConstantLR(o, factor=0.1, total_iters=2), S.ExponentialLR(o, gamma=0.9)])),
    "ChainedScheduler-warmup-cos": ("sgd", lambda S, o: S.ChainedScheduler(
        [S.LinearLR(o, start_factor=0.2, total_iters=5), S.CosineAnnealingLR(o, T_max=30, eta_min=1e-4)],
        optimizer=o)),
}


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def _trace(lib, case, steps=30, opt_and_sched=None):
    kind, build = CASES[case]
    if opt_and_sched is None:
        opt = _optimizer(lib, kind)
        sched = build(LIBS[lib][2], opt)
    else:
        opt, sched = opt_and_sched
    out = [(list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups], _momenta(opt))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            opt.step()
            sched.step()
            out.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups], _momenta(opt)))
    return out


def _assert_traces_equal(mine, ref):
    assert len(mine) == len(ref)
    for i, (m, r) in enumerate(zip(mine, ref)):
        np.testing.assert_allclose(np.array(m, dtype=float), np.array(r, dtype=float), rtol=1e-12, atol=1e-15,
                                   err_msg=f"step {i}")


@pytest.mark.parametrize("case", list(CASES))
def test_lr_sequence_matches_torch(case):
    _assert_traces_equal(_trace("mt", case), _trace("th", case))


@pytest.mark.parametrize("case", list(CASES))
def test_param_groups_match_torch(case):
    """Schedulers write the same extra keys (initial_lr, max_lr, max_momentum, ...) into param groups."""
    kind, build = CASES[case]
    mt_opt, th_opt = _optimizer("mt", kind), _optimizer("th", kind)
    build(mt_sched, mt_opt)
    build(torch.optim.lr_scheduler, th_opt)
    for m, t in zip(mt_opt.state_dict()["param_groups"], th_opt.state_dict()["param_groups"]):
        assert sorted(m) == sorted(t)
        for key in t:
            assert m[key] == pytest.approx(t[key], rel=1e-12) if isinstance(t[key], float) else m[key] == t[key]


@pytest.mark.parametrize("case", list(CASES))
def test_state_dict_round_trip(case):
    kind, build = CASES[case]
    full = _trace("mt", case, steps=20)
    opt = _optimizer("mt", kind)
    sched = build(mt_sched, opt)
    first = _trace("mt", case, steps=10, opt_and_sched=(opt, sched))
    saved_sched = copy.deepcopy(sched.state_dict())
    saved_opt = copy.deepcopy(opt.state_dict())
    opt2 = _optimizer("mt", kind)
    sched2 = build(mt_sched, opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    rest = _trace("mt", case, steps=10, opt_and_sched=(opt2, sched2))
    _assert_traces_equal(first + rest[1:], full)
    assert "optimizer" not in saved_sched


@pytest.mark.parametrize("case,epochs", [
    ("WarmRestarts", [0, 0.5, 1.2, 4.9, 5, 7.3, 15.5, 16, 35.0, 3, 100.25]),
    ("WarmRestarts-mult1", [0.1, 3.9, 4, 4.5, 9.99, 12, 2]),
    ("StepLR", [0, 4, 5, 11, 3, 20]),
    ("MultiStepLR", [0, 3, 7, 8, 16, 2]),
    ("ConstantLR", [0, 3, 4, 10]),
    ("LinearLR-warmup", [0, 2, 5, 8, 12]),
    ("ExponentialLR", [0, 1, 5, 2]),
    ("PolynomialLR", [0, 3, 10, 15]),
    ("CosineAnnealingLR", [0, 3, 10, 15, 20]),
])
def test_step_with_epoch_matches_torch(case, epochs):
    """step(epoch) uses the closed form (fractional epochs for warm restarts)."""
    traces = {}
    for lib in ("mt", "th"):
        kind, build = CASES[case]
        opt = _optimizer(lib, kind)
        sched = build(LIBS[lib][2], opt)
        values = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in epochs:
                opt.step()
                sched.step(e)
                values.append(list(sched.get_last_lr()) + [sched.last_epoch])
        traces[lib] = values
    _assert_traces_equal(traces["mt"], traces["th"])


PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.7, 0.7, 0.7, 0.7,
                   0.7, 0.69999, 0.7, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77, 0.5, 0.5, 0.5]


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(patience=2, factor=0.5),
    dict(patience=1, factor=0.5, cooldown=2),
    dict(mode="max", patience=2, factor=0.3),
    dict(patience=0, factor=0.5, threshold=0.05, threshold_mode="abs"),
    dict(mode="max", patience=1, threshold=0.01, threshold_mode="abs", cooldown=1),
    dict(patience=0, factor=0.1, min_lr=[0.001, 0.0005]),
    dict(patience=0, factor=0.9, min_lr=0.05, eps=0.01),
])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    traces = {}
    for lib in ("mt", "th"):
        opt = _optimizer(lib)
        sched = LIBS[lib][2].ReduceLROnPlateau(opt, **kwargs)
        trace = []
        for metric in PLATEAU_METRICS:
            opt.step()
            sched.step(metric)
            trace.append([g["lr"] for g in opt.param_groups] + list(sched.get_last_lr())
                         + [sched.num_bad_epochs, sched.cooldown_counter, sched.best, sched.last_epoch])
        traces[lib] = trace
    _assert_traces_equal(traces["mt"], traces["th"])


def test_reduce_lr_on_plateau_state_dict_round_trip():
    opt = _optimizer("mt")
    sched = mt_sched.ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=1)
    for metric in PLATEAU_METRICS[:12]:
        sched.step(metric)
    saved = copy.deepcopy(sched.state_dict())
    opt2 = _optimizer("mt")
    opt2.load_state_dict(opt.state_dict())
    sched2 = mt_sched.ReduceLROnPlateau(opt2)
    sched2.load_state_dict(saved)
    for metric in PLATEAU_METRICS[12:]:
        sched.step(metric)
        sched2.step(metric)
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


def _catch(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__, str(exc)
    return None


@pytest.mark.parametrize("build", [
    lambda S, o: S.ConstantLR(o, factor=1.5),
    lambda S, o: S.LinearLR(o, start_factor=0.0),
    lambda S, o: S.LinearLR(o, end_factor=1.5),
    lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=0),
    lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
    lambda S, o: S.OneCycleLR(o, max_lr=1.0),
    lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1),
    lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"),
    lambda S, o: S.OneCycleLR(o, max_lr=[1.0], total_steps=10),
    lambda S, o: (lambda s: [s.step() for _ in range(4)])(S.OneCycleLR(o, max_lr=1.0, total_steps=3)),
    lambda S, o: S.ReduceLROnPlateau(o, factor=1.0),
    lambda S, o: S.ReduceLROnPlateau(o, mode="avg"),
    lambda S, o: S.ReduceLROnPlateau(o, threshold_mode="x"),
    lambda S, o: S.ReduceLROnPlateau(o, min_lr=[0.1]),
    lambda S, o: S.LambdaLR(o, [lambda e: 1.0]),
    lambda S, o: S.SequentialLR(o, [S.StepLR(o, 2)], milestones=[3]),
    lambda S, o: S.SequentialLR(o, [], milestones=[]),
    lambda S, o: S.ChainedScheduler([S.StepLR(o, 2), S.ReduceLROnPlateau(o)]),
    lambda S, o: S.StepLR(o, 2, last_epoch=5),
    lambda S, o: S.StepLR(object(), 2),
    lambda S, o: S.CyclicLR(o, 0.01, 0.1, mode="zigzag"),
])
def test_errors_like_torch(build):
    mine = _catch(lambda: build(mt_sched, _optimizer("mt")))
    ref = _catch(lambda: build(torch.optim.lr_scheduler, _optimizer("th")))
    assert ref is not None
    assert mine == ref


def test_cycle_momentum_needs_momentum():
    opt = mo.Adagrad([mytorch.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        mt_sched.OneCycleLR(opt, max_lr=0.1, total_steps=10)


def test_warnings():
    opt = _optimizer("mt")
    sched = mt_sched.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(3)


def test_tensor_lr_is_updated_in_place():
    p = mytorch.zeros(2, requires_grad=True)
    lr = mytorch.tensor(0.1)
    opt = mo.SGD([p], lr=lr)
    sched = mt_sched.ExponentialLR(opt, gamma=0.5)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] is lr and math.isclose(lr.item(), 0.05, rel_tol=1e-6)
