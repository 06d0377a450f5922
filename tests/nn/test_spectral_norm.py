"""nn.utils.spectral_norm (hook form) and nn.utils.parametrizations.spectral_norm against PyTorch: the same
buffers, outputs and gradients over training steps (power iteration each step) and in eval mode."""
import numpy as np
import pytest
import torch

import mytorch

MODULES = [lambda L: L.nn.Linear(5, 4, dtype=L.float64), lambda L: L.nn.Conv2d(2, 3, 3, dtype=L.float64),
           lambda L: L.nn.ConvTranspose2d(2, 3, 3, dtype=L.float64),
           lambda L: L.nn.Conv1d(3, 2, 2, dtype=L.float64)]
SHAPES = [(3, 5), (2, 2, 6, 6), (2, 2, 5, 5), (2, 3, 7)]


def _t(a):
    return mytorch.tensor(a.detach().numpy())


def _pair(make, form, **kwargs):
    """A torch module and a mytorch one with the same weights and the same power-iteration vectors."""
    tm, mm = make(torch), make(mytorch)
    mm.load_state_dict({k: _t(v) for k, v in tm.state_dict().items()})
    if form == "hook":
        torch.nn.utils.spectral_norm(tm, **kwargs)
        mytorch.nn.utils.spectral_norm(mm, **kwargs)
    else:
        torch.nn.utils.parametrizations.spectral_norm(tm, **kwargs)
        mytorch.nn.utils.parametrizations.spectral_norm(mm, **kwargs)
    assert sorted(mm.state_dict()) == sorted(tm.state_dict())
    mm.load_state_dict({k: _t(v) for k, v in tm.state_dict().items()})  # the random u, v as torch's
    return tm, mm


@pytest.mark.parametrize("form", ["hook", "parametrization"])
@pytest.mark.parametrize("index", range(len(MODULES)))
@pytest.mark.parametrize("n_power_iterations", [1, 3])
def test_training_steps_match_torch(form, index, n_power_iterations):
    tm, mm = _pair(MODULES[index], form, n_power_iterations=n_power_iterations)
    topt, mopt = torch.optim.SGD(tm.parameters(), lr=0.1), mytorch.optim.SGD(mm.parameters(), lr=0.1)
    rng = np.random.default_rng(index)
    for _ in range(3):
        x = rng.standard_normal(SHAPES[index])
        yt, ym = tm(torch.tensor(x)), mm(mytorch.tensor(x))
        np.testing.assert_allclose(ym.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        for opt, y in ((topt, yt), (mopt, ym)):
            opt.zero_grad()
            (y ** 2).sum().backward()
            opt.step()
        for (name, a), (_, b) in zip(sorted(mm.named_parameters()), sorted(tm.named_parameters())):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
        for k, v in tm.state_dict().items():
            np.testing.assert_allclose(mm.state_dict()[k].numpy(), v.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)
    tm.eval(), mm.eval()  # no power iteration: the buffers stay
    before = {k: v.numpy().copy() for k, v in mm.state_dict().items()}
    x = rng.standard_normal(SHAPES[index])
    np.testing.assert_allclose(mm(mytorch.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    assert all(np.array_equal(before[k], v.numpy()) for k, v in mm.state_dict().items())


@pytest.mark.parametrize("form", ["hook", "parametrization"])
def test_normalized_weight_has_spectral_norm_one(form):
    mytorch.manual_seed(0)
    lin = mytorch.nn.Linear(6, 9, dtype=mytorch.float64)
    if form == "hook":
        mytorch.nn.utils.spectral_norm(lin, n_power_iterations=50)
    else:
        mytorch.nn.utils.parametrizations.spectral_norm(lin, n_power_iterations=50)
    lin(mytorch.zeros(1, 6, dtype=mytorch.float64))
    assert np.linalg.svd(lin.weight.detach().numpy(), compute_uv=False)[0] == pytest.approx(1.0, abs=1e-8)


def test_remove_spectral_norm_keeps_the_normalized_weight():
    tm, mm = _pair(MODULES[0], "hook")
    x = np.ones((1, 5))
    tm(torch.tensor(x)), mm(mytorch.tensor(x))
    torch.nn.utils.remove_spectral_norm(tm)
    mytorch.nn.utils.remove_spectral_norm(mm)
    assert isinstance(mm.weight, mytorch.nn.Parameter) and sorted(mm.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(mm.weight.detach().numpy(), tm.weight.detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="not found"):
        mytorch.nn.utils.remove_spectral_norm(mm)


def test_bad_arguments():
    lin = mytorch.nn.Linear(3, 2)
    mytorch.nn.utils.spectral_norm(lin)
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        mytorch.nn.utils.spectral_norm(lin)
    with pytest.raises(ValueError, match="n_power_iterations"):
        mytorch.nn.utils.parametrizations.spectral_norm(mytorch.nn.Linear(3, 2), n_power_iterations=-1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        mytorch.nn.utils.parametrizations.spectral_norm(mytorch.nn.Linear(3, 2), dim=2)
