"""Lazy modules against PyTorch: inferred shapes, becoming the plain class, same init statistics, optimizers
built before the first forward, loading a state_dict into an uninitialized module."""
import numpy as np
import pytest
import torch

import mytorch

nn = mytorch.nn


@pytest.mark.parametrize("make,shape,plain", [
    (lambda lib: lib.nn.LazyLinear(5), (3, 7), "Linear"),
    (lambda lib: lib.nn.LazyConv1d(4, 3, padding=1), (2, 6, 9), "Conv1d"),
    (lambda lib: lib.nn.LazyConv2d(4, 3, stride=2, groups=2), (2, 6, 9, 9), "Conv2d"),
    (lambda lib: lib.nn.LazyConv3d(2, 2), (1, 3, 4, 4, 4), "Conv3d"),
    (lambda lib: lib.nn.LazyConvTranspose2d(3, 2), (2, 4, 5, 5), "ConvTranspose2d"),
    (lambda lib: lib.nn.LazyBatchNorm1d(), (4, 6), "BatchNorm1d"),
    (lambda lib: lib.nn.LazyBatchNorm2d(affine=False), (2, 3, 4, 4), "BatchNorm2d"),
])
def test_lazy_modules_become_plain(make, shape, plain):
    mine, ref = make(mytorch), make(torch)
    assert mine.has_uninitialized_params()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ref(torch.tensor(x))
    mine_state = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    out = mine(mytorch.tensor(x))
    assert type(mine).__name__ == type(ref).__name__ == plain
    assert {k: tuple(v.shape) for k, v in mine.state_dict().items()} == {k: v.shape for k, v in mine_state.items()}
    assert repr(mine) == repr(ref)
    mine.load_state_dict({k: mytorch.tensor(v) for k, v in ref.state_dict().items()})
    np.testing.assert_allclose(mine(mytorch.tensor(x)).detach().numpy(), ref(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    assert tuple(out.shape) == tuple(ref(torch.tensor(x)).shape)


def test_optimizer_built_before_the_first_forward_trains_the_materialized_weights():
    model = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
    opt = mytorch.optim.SGD(model.parameters(), lr=0.1)
    x, y = mytorch.randn(16, 3), mytorch.randn(16, 1)
    losses = []
    for _ in range(20):
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert model[0].weight.shape == (8, 3) and opt.param_groups[0]["params"][0] is model[0].weight


def test_lazy_init_matches_torch_statistics():
    mytorch.manual_seed(0)
    m = nn.LazyLinear(300)
    m(mytorch.zeros(2, 400))
    bound = 1 / np.sqrt(400)
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= bound and abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound


def test_load_state_dict_materializes():
    src = nn.Linear(4, 2)
    lazy = nn.LazyLinear(2)
    lazy.load_state_dict(src.state_dict())
    assert type(lazy) is nn.Linear and lazy.in_features == 4
    np.testing.assert_array_equal(lazy.weight.detach().numpy(), src.weight.detach().numpy())
