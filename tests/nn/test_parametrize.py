"""nn.utils.parametrize, parametrizations.weight_norm and the hook-based weight_norm against PyTorch."""
import numpy as np
import pytest
import torch

import mytorch


def _pair(make):
    torch.manual_seed(0)
    ref = make(torch)
    mine = make(mytorch)
    mine.load_state_dict({k: mytorch.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    return mine, ref


def _grads(module, lib, x):
    module.zero_grad()
    out = module(lib.tensor(x))
    out.pow(2).sum().backward()
    return out.detach().numpy(), {n: p.grad.numpy() for n, p in module.named_parameters()}


@pytest.mark.parametrize("make,shape", [(lambda lib: lib.nn.Linear(4, 3), (5, 4)),
                                        (lambda lib: lib.nn.Conv1d(2, 3, 3), (2, 2, 7))])
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_both_forms(make, shape, dim):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for form in ("hooks", "parametrization"):
        def build(lib, make=make):
            m = make(lib)
            if form == "hooks":
                return lib.nn.utils.weight_norm(m, dim=dim)
            return lib.nn.utils.parametrizations.weight_norm(m, dim=dim)
        mine, ref = _pair(build)
        assert list(mine.state_dict()) == list(ref.state_dict())
        assert [n for n, _ in mine.named_parameters()] == [n for n, _ in ref.named_parameters()]
        (out, g), (rout, rg) = _grads(mine, mytorch, x), _grads(ref, torch, x)
        np.testing.assert_allclose(out, rout, rtol=1e-5, atol=1e-6)
        for name in rg:
            np.testing.assert_allclose(g[name], rg[name], rtol=1e-4, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(mine.weight.detach().numpy(), ref.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_remove_weight_norm_restores_the_weight():
    m = mytorch.nn.utils.weight_norm(mytorch.nn.Linear(3, 2))
    w = m.weight.detach().numpy().copy()
    mytorch.nn.utils.remove_weight_norm(m)
    assert sorted(n for n, _ in m.named_parameters()) == ["bias", "weight"]
    np.testing.assert_allclose(m.weight.detach().numpy(), w, rtol=1e-6)
    with pytest.raises(ValueError):
        mytorch.nn.utils.remove_weight_norm(m)


def test_custom_parametrization_like_the_tutorial():
    P = mytorch.nn.utils.parametrize

    class Symmetric(mytorch.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    layer = mytorch.nn.Linear(3, 3)
    P.register_parametrization(layer, "weight", Symmetric())
    w = layer.weight.detach().numpy()
    np.testing.assert_array_equal(w, w.T)
    assert P.is_parametrized(layer) and P.is_parametrized(layer, "weight") and not P.is_parametrized(layer, "bias")
    assert P.type_before_parametrizations(layer) is mytorch.nn.Linear
    assert "parametrizations.weight.original" in layer.state_dict()
    out = layer(mytorch.ones(2, 3))
    out.sum().backward()
    assert layer.parametrizations.weight.original.grad is not None
    with P.cached():
        assert layer.weight is layer.weight
    P.remove_parametrizations(layer, "weight")
    assert type(layer) is mytorch.nn.Linear and isinstance(layer.weight, mytorch.nn.Parameter)
    np.testing.assert_array_equal(layer.weight.detach().numpy(), w)
