"""optim.LBFGS against torch.optim.LBFGS: the same iterates, losses and evaluation counts on the same problems."""
import io

import numpy as np
import pytest
import torch

import mytorch
from tests.helpers import assert_close


def _rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def _run(lib, params, loss_fn, steps, **opt_kwargs):
    """(parameter values after each step, the step's returned loss, func_evals) for `steps` LBFGS steps."""
    opt = lib.optim.LBFGS(params, **opt_kwargs)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    history = []
    for _ in range(steps):
        loss = opt.step(closure)
        history.append(([p.detach().numpy().copy() for p in params], float(loss),
                        opt.state[params[0]]["func_evals"], opt.state[params[0]]["n_iter"]))
    return history, opt


def _compare(mine, ref, rtol):
    for (m_params, m_loss, m_evals, m_iter), (t_params, t_loss, t_evals, t_iter) in zip(mine, ref):
        for m, t in zip(m_params, t_params):
            np.testing.assert_allclose(m, t, rtol=rtol, atol=rtol)
        assert np.isclose(m_loss, t_loss, rtol=100 * rtol, atol=1e-9)  # the loss near a minimum: relative error grows
        assert (m_evals, m_iter) == (t_evals, t_iter)


@pytest.mark.parametrize("line_search_fn,lr,history_size", [(None, 0.1, 100), (None, 0.05, 3),
                                                            ("strong_wolfe", 1, 100), ("strong_wolfe", 1, 2)])
def test_rosenbrock_iterates_match_torch(line_search_fn, lr, history_size):
    start = np.array([-1.5, 2.0])
    xt = torch.tensor(start, requires_grad=True)
    xm = mytorch.tensor(start, requires_grad=True)
    kwargs = dict(lr=lr, max_iter=15, history_size=history_size, line_search_fn=line_search_fn)
    ref, _ = _run(torch, [xt], lambda: _rosenbrock(xt), 4, **kwargs)
    mine, _ = _run(mytorch, [xm], lambda: _rosenbrock(xm), 4, **kwargs)
    _compare(mine, ref, rtol=1e-7)
    if line_search_fn:  # strong Wolfe reaches the minimum (1, 1)
        np.testing.assert_allclose(mine[-1][0][0], [1.0, 1.0], atol=1e-4)


def _regression(lib, dtype):
    rng = np.random.default_rng(0)
    X, w_true = rng.standard_normal((32, 5)), rng.standard_normal((5, 2))
    Y = X @ w_true + 0.1 * rng.standard_normal((32, 2))
    model = lib.nn.Linear(5, 2).to(dtype)
    with lib.no_grad():  # the same starting weights on both sides
        model.weight.copy_(lib.tensor(rng.standard_normal((2, 5)), dtype=dtype))
        model.bias.copy_(lib.tensor(np.zeros(2), dtype=dtype))
    x, y = lib.tensor(X, dtype=dtype), lib.tensor(Y, dtype=dtype)
    return list(model.parameters()), lambda: lib.nn.functional.mse_loss(model(x), y)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_regression_two_parameters_match_torch(line_search_fn):
    """Weight and bias are one flat vector for LBFGS: the direction couples them."""
    kwargs = dict(lr=0.5 if line_search_fn is None else 1, max_iter=10, line_search_fn=line_search_fn)
    ref, _ = _run(torch, *_regression(torch, torch.float64), 3, **kwargs)
    mine, _ = _run(mytorch, *_regression(mytorch, mytorch.float64), 3, **kwargs)
    _compare(mine, ref, rtol=1e-7)


def test_float32_follows_torch():
    """float32 stays float32 (the scalars too); rounding in the model's forward/backward differs slightly."""
    ref, _ = _run(torch, *_regression(torch, torch.float32), 2, lr=0.5, max_iter=8)
    mine, _ = _run(mytorch, *_regression(mytorch, mytorch.float32), 2, lr=0.5, max_iter=8)
    for (m, *_), (t, *_) in zip(mine, ref):
        for a, b in zip(m, t):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_stops_on_tolerances_like_torch():
    """A tight max_eval and loose tolerance_change end a step early, after the same evaluations."""
    for kwargs in (dict(max_iter=50, max_eval=7), dict(max_iter=50, tolerance_change=1e-2),
                   dict(max_iter=50, tolerance_grad=1.0)):
        xt = torch.tensor([-1.0, 1.0], dtype=torch.float64, requires_grad=True)
        xm = mytorch.tensor([-1.0, 1.0], dtype=mytorch.float64, requires_grad=True)
        ref, _ = _run(torch, [xt], lambda: _rosenbrock(xt), 2, lr=0.01, **kwargs)
        mine, _ = _run(mytorch, [xm], lambda: _rosenbrock(xm), 2, lr=0.01, **kwargs)
        _compare(mine, ref, rtol=1e-7)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_state_dict_round_trip_continues_the_same_run(line_search_fn):
    kwargs = dict(lr=0.5 if line_search_fn is None else 1, max_iter=4, history_size=5, line_search_fn=line_search_fn)
    params, loss_fn = _regression(mytorch, mytorch.float64)
    straight, _ = _run(mytorch, params, loss_fn, 4, **kwargs)

    params, loss_fn = _regression(mytorch, mytorch.float64)
    first, opt = _run(mytorch, params, loss_fn, 2, **kwargs)
    saved = opt.state_dict()
    assert set(saved["state"][0]) >= {"d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad",
                                      "func_evals", "n_iter"}
    params2, loss_fn2 = _regression(mytorch, mytorch.float64)
    with mytorch.no_grad():
        for p, q in zip(params2, params):
            p.copy_(q)
    opt2 = mytorch.optim.LBFGS(params2, **kwargs)
    buffer = io.BytesIO()  # through a checkpoint file, as a training script would
    mytorch.save(saved, buffer)
    buffer.seek(0)
    opt2.load_state_dict(mytorch.load(buffer))
    assert opt2.state[params2[0]]["d"] is not opt.state[params[0]]["d"]  # copied, not shared

    def closure():
        opt2.zero_grad()
        loss = loss_fn2()
        loss.backward()
        return loss

    for k in range(2, 4):
        loss = opt2.step(closure)
        assert np.isclose(float(loss), straight[k][1], rtol=1e-12)
        for p, expected in zip(params2, straight[k][0]):
            np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-12)


def test_loads_a_torch_lbfgs_state_dict():
    pt, ft = _regression(torch, torch.float64)
    ref, opt_t = _run(torch, pt, ft, 3, lr=0.5, max_iter=4)
    pm, fm = _regression(mytorch, mytorch.float64)
    _run(mytorch, pm, fm, 2, lr=0.5, max_iter=4)  # reach the same point, then take torch's state
    opt_m = mytorch.optim.LBFGS(pm, lr=0.5, max_iter=4)
    pt2, ft2 = _regression(torch, torch.float64)
    _, opt_t2 = _run(torch, pt2, ft2, 2, lr=0.5, max_iter=4)
    opt_m.load_state_dict(opt_t2.state_dict())

    def closure():
        opt_m.zero_grad()
        loss = fm()
        loss.backward()
        return loss

    opt_m.step(closure)
    for p, expected in zip(pm, ref[2][0]):
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-9)


def test_errors_match_torch():
    x = mytorch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="per-parameter options"):
        mytorch.optim.LBFGS([{"params": [x]}, {"params": [mytorch.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="Invalid learning rate"):
        mytorch.optim.LBFGS([x], lr=-1)
    opt = mytorch.optim.LBFGS([x])
    with pytest.raises(TypeError, match="closure"):
        opt.step()
    opt = mytorch.optim.LBFGS([x], line_search_fn="backtracking")

    def closure():
        opt.zero_grad()
        loss = ((x - 1) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
    assert opt.defaults["max_eval"] == 25 and opt.defaults["history_size"] == 100  # torch's defaults


def test_returns_the_first_loss_and_skips_at_an_optimum():
    x = mytorch.ones(3, dtype=mytorch.float64, requires_grad=True)
    opt = mytorch.optim.LBFGS([x])
    calls = []

    def closure():
        opt.zero_grad()
        loss = ((x - 1) ** 2).sum()
        loss.backward()
        calls.append(float(loss))
        return loss

    loss = opt.step(closure)
    assert isinstance(loss, mytorch.Tensor) and float(loss) == 0.0 and calls == [0.0]
    assert_close(x, torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_complex_parameter_matches_torch(line_search_fn):
    """The closure sees the complex parameter; the flat vectors hold its real and imaginary parts."""
    start, target = np.array([1 + 2j, -0.5 + 0.3j]), np.array([0.3 - 1j, 2 + 0.5j])
    runs = []
    for lib in (torch, mytorch):
        z, tgt = lib.tensor(start, requires_grad=True), lib.tensor(target)
        history, opt = _run(lib, [z], lambda: ((z - tgt).abs() ** 2).sum() + (z * z).real.sum() ** 2, 2, lr=0.5,
                            max_iter=5, line_search_fn=line_search_fn)
        assert str(z.dtype).endswith("complex128") and str(opt.state[z]["d"].dtype).endswith("float64")
        runs.append(history)
    _compare(runs[1], runs[0], rtol=1e-9)
