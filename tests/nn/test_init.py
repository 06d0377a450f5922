"""nn.init against PyTorch: gains and fans exactly, random schemes by their statistics."""
import math

import numpy as np
import pytest
import torch

import mytorch
from mytorch import nn
from mytorch.nn import init


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None),
    ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 1), ("selu", None)])
def test_calculate_gain(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        init.calculate_gain("foo")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5), (16, 4, 3, 3), (2, 3, 2, 2, 2), (5, 0)])
def test_fans_equal_torch(shape):
    mine = init._calculate_fan_in_and_fan_out(mytorch.empty(*shape))
    assert mine == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    for mode in ("fan_in", "fan_out", "FAN_IN"):
        assert init._calculate_correct_fan(mytorch.empty(*shape), mode) == \
            torch.nn.init._calculate_correct_fan(torch.empty(*shape), mode)


def test_fan_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(mytorch.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(mytorch.empty(3, 3), mode="fan_avg")


# (name, call on either init module, expected (mean, std), bounds or None)
SHAPE = (256, 128, 3)
FAN_IN, FAN_OUT = 128 * 3, 256 * 3
STATS = [
    ("uniform", lambda i, t: i.uniform_(t, -2.0, 4.0), (1.0, 6 / math.sqrt(12)), (-2.0, 4.0)),
    ("normal", lambda i, t: i.normal_(t, 0.5, 2.0), (0.5, 2.0), None),
    ("trunc_normal", lambda i, t: i.trunc_normal_(t, 0.0, 1.0, -1.0, 1.5), None, (-1.0, 1.5)),
    ("xavier_uniform", lambda i, t: i.xavier_uniform_(t, gain=2.0),
     (0.0, 2.0 * math.sqrt(2.0 / (FAN_IN + FAN_OUT))), None),
    ("xavier_normal", lambda i, t: i.xavier_normal_(t), (0.0, math.sqrt(2.0 / (FAN_IN + FAN_OUT))), None),
    ("kaiming_uniform", lambda i, t: i.kaiming_uniform_(t, a=math.sqrt(5)),
     (0.0, math.sqrt(2 / 6) / math.sqrt(FAN_IN)), (-1 / math.sqrt(FAN_IN), 1 / math.sqrt(FAN_IN))),
    ("kaiming_normal_relu", lambda i, t: i.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
     (0.0, math.sqrt(2.0 / FAN_OUT)), None),
    ("kaiming_uniform_tanh", lambda i, t: i.kaiming_uniform_(t, nonlinearity="tanh"),
     (0.0, 5 / 3 / math.sqrt(FAN_IN)), None),
    ("orthogonal", lambda i, t: i.orthogonal_(t, gain=1.5), (0.0, 1.5 / math.sqrt(128 * 3)), None),
]


@pytest.mark.parametrize("name,fn,moments,bounds", STATS, ids=[s[0] for s in STATS])
def test_random_init_statistics(name, fn, moments, bounds):
    mine = fn(init, mytorch.empty(*SHAPE)).numpy()
    ref = fn(torch.nn.init, torch.empty(*SHAPE)).numpy()
    assert mine.dtype == np.float32
    # same distribution as torch's draw (mean and std within sampling error)
    assert abs(mine.mean() - ref.mean()) < 0.02 * ref.std() + 1e-3
    assert abs(mine.std() / ref.std() - 1) < 0.02
    if moments is not None:
        assert abs(mine.mean() - moments[0]) < 0.02 * moments[1] + 1e-3
        assert abs(mine.std() / moments[1] - 1) < 0.02
    if bounds is not None:
        assert mine.min() >= bounds[0] and mine.max() <= bounds[1]


def test_init_is_in_place_no_grad_and_seeded():
    p = nn.Parameter(mytorch.empty(30, 20))
    version = p._version.value
    assert init.kaiming_uniform_(p) is p
    assert p.is_leaf and p.grad_fn is None and p.requires_grad and p._version.value > version
    for fn in (init.uniform_, init.normal_, init.xavier_normal_, init.orthogonal_, init.trunc_normal_):
        mytorch.manual_seed(3)
        a = fn(mytorch.empty(6, 5)).numpy().copy()
        mytorch.manual_seed(3)
        b = fn(mytorch.empty(6, 5)).numpy()
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, fn(mytorch.empty(6, 5)).numpy())
    gen = mytorch.Generator().manual_seed(5)
    c = init.normal_(mytorch.empty(4), generator=gen).numpy().copy()
    d = init.normal_(mytorch.empty(4), generator=mytorch.Generator().manual_seed(5)).numpy()
    np.testing.assert_array_equal(c, d)


@pytest.mark.parametrize("fn,shape", [
    (lambda i, t: i.constant_(t, 0.3), (3, 4)), (lambda i, t: i.zeros_(t), (2, 5)),
    (lambda i, t: i.ones_(t), (4,)), (lambda i, t: i.eye_(t), (3, 5)), (lambda i, t: i.eye_(t), (4, 2)),
    (lambda i, t: i.dirac_(t), (4, 2, 3, 3)), (lambda i, t: i.dirac_(t, groups=2), (4, 4, 3)),
    (lambda i, t: i.dirac_(t), (2, 3, 3, 3, 3))])
def test_deterministic_inits_equal_torch(fn, shape):
    np.testing.assert_array_equal(fn(init, mytorch.empty(*shape)).numpy(),
                                  fn(torch.nn.init, torch.empty(*shape)).numpy())


@pytest.mark.parametrize("shape", [(6, 6), (4, 10), (10, 4), (8, 2, 3)])
def test_orthogonal_rows_or_columns_orthonormal(shape):
    w = init.orthogonal_(mytorch.empty(*shape, dtype=mytorch.float64)).numpy().reshape(shape[0], -1)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-10)


def test_sparse_zero_fraction():
    w = init.sparse_(mytorch.empty(50, 40), sparsity=0.3, std=0.5).numpy()
    zeros_per_column = (w == 0).sum(axis=0)
    assert (zeros_per_column == math.ceil(0.3 * 50)).all()
    assert abs(w[w != 0].std() - 0.5) < 0.05


def test_init_errors():
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(mytorch.empty(2, 2, 2))
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions"):
        init.dirac_(mytorch.empty(3, 3))
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        init.orthogonal_(mytorch.empty(3))
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(mytorch.empty(0, 3))


@pytest.mark.parametrize("ctor", [lambda m: m.Linear(300, 200), lambda m: m.Bilinear(30, 40, 50),
                                  lambda m: m.Embedding(300, 64), lambda m: m.PReLU(3)])
def test_default_layer_init_matches_torch_distribution(ctor):
    mine, ref = ctor(nn), ctor(torch.nn)
    th_params = dict(ref.named_parameters())
    for name, p in mine.named_parameters():
        a, b = p.detach().numpy(), th_params[name].detach().numpy()
        assert a.shape == b.shape and a.dtype == b.dtype
        assert abs(a).max() <= abs(b).max() * 1.5 + 1e-7, name
        if a.size < 1000:  # too few samples for moment checks
            continue
        assert abs(a.std() - b.std()) <= 0.1 * b.std() + 1e-7, name
        assert abs(a.mean() - b.mean()) <= 0.1 * b.std() + 0.02 * abs(b.mean()) + 1e-7, name
