"""mytorch.func against torch.func: functional_call, grad, vjp, jacrev, vmap and per-sample gradients."""
import numpy as np
import pytest
import torch

import mytorch


def _model(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 1))


def _same_weights():
    ref, mine = _model(torch), _model(mytorch)
    mine.load_state_dict({k: mytorch.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    return mine, ref


def test_functional_call_uses_the_given_tensors_and_leaves_the_module_alone():
    mine, ref = _same_weights()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    new = {k: v * 2 for k, v in ref.state_dict().items()}
    want = torch.func.functional_call(ref, new, (torch.tensor(x),))
    got = mytorch.func.functional_call(mine, {k: mytorch.tensor(v.numpy()) for k, v in new.items()},
                                       (mytorch.tensor(x),))
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mine(mytorch.tensor(x)).detach().numpy(), ref(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert mytorch.nn.utils.stateless.functional_call is mytorch.func.functional_call
    with pytest.raises(RuntimeError, match="Unexpected key"):
        mytorch.func.functional_call(mine, {"nope": mytorch.zeros(1)}, (mytorch.tensor(x),))


def test_per_sample_gradients_match_torch_func():
    mine, ref = _same_weights()
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((6, 3)).astype(np.float32), rng.standard_normal((6, 1)).astype(np.float32)
    results = []
    for lib, model in ((torch, ref), (mytorch, mine)):
        params = {k: v.detach() for k, v in model.named_parameters()}

        def loss(p, xi, yi, lib=lib, model=model):
            out = lib.func.functional_call(model, p, (xi.unsqueeze(0),))
            return ((out - yi.unsqueeze(0)) ** 2).mean()
        per = lib.func.vmap(lib.func.grad(loss), in_dims=(None, 0, 0))(params, lib.tensor(x), lib.tensor(y))
        results.append({k: v.detach().numpy() for k, v in per.items()})
    for k in results[0]:
        assert results[1][k].shape == results[0][k].shape == (6,) + tuple(ref.state_dict()[k].shape)
        np.testing.assert_allclose(results[1][k], results[0][k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_grad_vjp_jacrev_vmap():
    x = np.array([0.3, -1.2, 2.0], np.float32)
    f = {lib: (lambda t, lib=lib: (lib.sin(t) * t).sum()) for lib in (torch, mytorch)}
    np.testing.assert_allclose(mytorch.func.grad(f[mytorch])(mytorch.tensor(x)).numpy(),
                               torch.func.grad(f[torch])(torch.tensor(x)).numpy(), rtol=1e-6)
    g = {lib: (lambda t, lib=lib: lib.stack([t[0] * t[1], t[2] ** 2])) for lib in (torch, mytorch)}
    np.testing.assert_allclose(mytorch.func.jacrev(g[mytorch])(mytorch.tensor(x)).numpy(),
                               torch.func.jacrev(g[torch])(torch.tensor(x)).numpy(), rtol=1e-6)
    out, fn = mytorch.func.vjp(g[mytorch], mytorch.tensor(x))
    rout, rfn = torch.func.vjp(g[torch], torch.tensor(x))
    ct = np.array([1.0, -2.0], np.float32)
    np.testing.assert_allclose(fn(mytorch.tensor(ct))[0].numpy(), rfn(torch.tensor(ct))[0].numpy(), rtol=1e-6)
    m = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_allclose(mytorch.vmap(lambda r: r.sum() * r, in_dims=1)(mytorch.tensor(m)).numpy(),
                               torch.vmap(lambda r: r.sum() * r, in_dims=1)(torch.tensor(m)).numpy())
    with pytest.raises(RuntimeError, match="scalar"):
        mytorch.func.grad(lambda t: t * 2)(mytorch.tensor(x))
