"""Linear / Bilinear / Embedding / Dropout / activation layers against PyTorch: values, input and
parameter gradients, train and eval mode, reprs."""
import warnings

import numpy as np
import pytest
import torch

import mytorch
import mytorch.nn.functional as F
from mytorch import nn
from tests.helpers import assert_close, check_against_torch, pair, randn


def copy_weights(mt_module, th_module):
    """Load torch's parameters/buffers into the mytorch module (the path users take too)."""
    state = {k: mytorch.tensor(v.detach().numpy()) for k, v in th_module.state_dict().items()}
    result = mt_module.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys


def th_repr(module):
    return repr(module).replace("torch.", "mytorch.")


def run_module_pair(mt_mod, th_mod, *arrays, dtype=np.float64, atol=None, rtol=None):
    """Forward + backward both modules on the same inputs; compare outputs, input grads, param grads."""
    if dtype == np.float64:
        mt_mod.double()
        th_mod.double()
    copy_weights(mt_mod, th_mod)
    mt_in, th_in = [], []
    for a in arrays:
        m, t = pair(a.astype(dtype) if a.dtype.kind == "f" else a, requires_grad=a.dtype.kind == "f")
        mt_in.append(m)
        th_in.append(t)
    out_m, out_t = mt_mod(*mt_in), th_mod(*th_in)
    assert_close(out_m, out_t, rtol, atol, "forward")
    w = randn(*out_t.shape, seed=3).astype(dtype)
    (out_m * mytorch.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    for i, (m, t) in enumerate(zip(mt_in, th_in)):
        if t.requires_grad:
            assert_close(m.grad, t.grad, rtol, atol, f"input grad {i}")
    th_params = dict(th_mod.named_parameters())
    for name, p in mt_mod.named_parameters():
        assert_close(p.grad, th_params[name].grad, rtol, atol, f"grad of {name}")


# (mytorch module, torch module, input shapes); inputs are standard normal (plus exact kink points below)
MODULES = [
    ("Linear", lambda m: m.Linear(5, 3), [(4, 5)]),
    ("Linear-nobias", lambda m: m.Linear(5, 3, bias=False), [(2, 4, 5)]),
    ("Linear-1d", lambda m: m.Linear(5, 2), [(5,)]),
    ("Bilinear", lambda m: m.Bilinear(3, 4, 2), [(6, 3), (6, 4)]),
    ("Bilinear-nobias", lambda m: m.Bilinear(3, 4, 2, bias=False), [(2, 5, 3), (2, 5, 4)]),
    ("Identity", lambda m: m.Identity(7, foo=1), [(3, 2)]),
    ("Flatten", lambda m: m.Flatten(), [(2, 3, 4)]),
    ("Flatten-0", lambda m: m.Flatten(0, 1), [(2, 3, 4)]),
    ("Unflatten", lambda m: m.Unflatten(1, (2, 3)), [(4, 6)]),
    ("ReLU", lambda m: m.ReLU(), [(4, 6)]),
    ("ReLU6", lambda m: m.ReLU6(), [(4, 6)]),
    ("LeakyReLU", lambda m: m.LeakyReLU(0.2), [(4, 6)]),
    ("GELU", lambda m: m.GELU(), [(4, 6)]),
    ("GELU-tanh", lambda m: m.GELU(approximate="tanh"), [(4, 6)]),
    ("SiLU", lambda m: m.SiLU(), [(4, 6)]),
    ("Sigmoid", lambda m: m.Sigmoid(), [(4, 6)]),
    ("Tanh", lambda m: m.Tanh(), [(4, 6)]),
    ("Softmax", lambda m: m.Softmax(dim=1), [(4, 6)]),
    ("Softmax-0", lambda m: m.Softmax(dim=0), [(4, 6)]),
    ("LogSoftmax", lambda m: m.LogSoftmax(dim=-1), [(3, 4, 6)]),
    ("Softmin", lambda m: m.Softmin(dim=1), [(4, 6)]),
    ("ELU", lambda m: m.ELU(alpha=0.7), [(4, 6)]),
    ("SELU", lambda m: m.SELU(), [(4, 6)]),
    ("CELU", lambda m: m.CELU(alpha=1.5), [(4, 6)]),
    ("Softplus", lambda m: m.Softplus(), [(4, 6)]),
    ("Softplus-beta", lambda m: m.Softplus(beta=2.0, threshold=1.0), [(4, 6)]),
    ("Mish", lambda m: m.Mish(), [(4, 6)]),
    ("GLU", lambda m: m.GLU(), [(4, 6)]),
    ("GLU-0", lambda m: m.GLU(dim=0), [(4, 6)]),
    ("Hardtanh", lambda m: m.Hardtanh(), [(4, 6)]),
    ("Hardtanh-range", lambda m: m.Hardtanh(-0.5, 2.0), [(4, 6)]),
    ("Hardsigmoid", lambda m: m.Hardsigmoid(), [(4, 6)]),
    ("Hardswish", lambda m: m.Hardswish(), [(4, 6)]),
    ("Softsign", lambda m: m.Softsign(), [(4, 6)]),
    ("Tanhshrink", lambda m: m.Tanhshrink(), [(4, 6)]),
    ("Threshold", lambda m: m.Threshold(0.1, 20.0), [(4, 6)]),
    ("PReLU", lambda m: m.PReLU(), [(4, 3, 5)]),
    ("PReLU-channels", lambda m: m.PReLU(3, init=0.1), [(4, 3, 5)]),
    ("LogSigmoid", lambda m: m.LogSigmoid(), [(4, 6)]),
    ("Hardshrink", lambda m: m.Hardshrink(0.3), [(4, 6)]),
    ("Softshrink", lambda m: m.Softshrink(0.3), [(4, 6)]),
    ("Dropout-eval", lambda m: m.Dropout(0.3), [(4, 6)]),
]

# exact kink points: x = 0, +-1, +-3, +-6 and the thresholds used above
KINKS = np.array([0.0, 1.0, -1.0, 3.0, -3.0, 6.0, -6.0, 0.1, 0.3, -0.3, 2.0, -0.5, 25.0, -25.0])


def make_input(shape, seed):
    x = randn(*shape, seed=seed) * 2.5
    flat = x.reshape(-1)
    n = min(len(KINKS), flat.size // 2)
    flat[:n] = KINKS[:n]  # kinks go in the first half so GLU's gate half stays random
    return x


@pytest.mark.parametrize("name,ctor,shapes", MODULES, ids=[m[0] for m in MODULES])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_module_matches_torch(name, ctor, shapes, mode):
    mt_mod, th_mod = ctor(nn), ctor(torch.nn)
    if mode == "eval" or name.endswith("-eval"):
        mt_mod.eval()
        th_mod.eval()
    arrays = [make_input(s, seed=i) for i, s in enumerate(shapes)]
    # torch's hardsigmoid backward multiplies by a float32 1/6 even in float64
    rtol = 1e-7 if name == "Hardsigmoid" else None
    run_module_pair(mt_mod, th_mod, *arrays, rtol=rtol)
    assert repr(mt_mod) == th_repr(th_mod)


@pytest.mark.parametrize("name,ctor,shapes", [m for m in MODULES if m[0].startswith(("Linear", "GELU", "Softmax",
                                                                                        "SiLU", "Mish"))],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_module_float32(name, ctor, shapes):
    mt_mod, th_mod = ctor(nn), ctor(torch.nn)
    arrays = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    run_module_pair(mt_mod, th_mod, *arrays, dtype=np.float32, rtol=1e-4, atol=1e-5)
    x = mytorch.randn(*shapes[0])
    assert mt_mod(x).dtype == mytorch.float32


INPLACE = [
    ("relu", lambda f, x: f.relu(x, inplace=True)),
    ("relu_", lambda f, x: f.relu_(x)),
    ("leaky_relu", lambda f, x: f.leaky_relu(x, 0.1, inplace=True)),
    ("elu", lambda f, x: f.elu(x, 0.5, inplace=True)),
    ("selu", lambda f, x: f.selu(x, inplace=True)),
    ("hardtanh", lambda f, x: f.hardtanh(x, -0.5, 0.5, inplace=True)),
    ("relu6", lambda f, x: f.relu6(x, inplace=True)),
    ("silu", lambda f, x: f.silu(x, inplace=True)),
    ("threshold", lambda f, x: f.threshold(x, 0.2, -1.0, inplace=True)),
]


@pytest.mark.parametrize("name,fn", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_functional(name, fn):
    def mt(x):
        y = x * 1.5  # in-place on a non-leaf
        out = fn(F, y)
        assert out is y
        return y

    def th(x):
        y = x * 1.5
        return fn(torch.nn.functional, y)

    check_against_torch(mt, th, randn(3, 5, seed=1))


def test_inplace_leaf_error():
    x = mytorch.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        F.relu(x, inplace=True)


@pytest.mark.parametrize("kwargs", [{}, {"dtype": mytorch.float64}])
def test_softmax_functional(kwargs):
    th_kwargs = {k: torch.float64 for k in kwargs}
    check_against_torch(lambda x: F.softmax(x, dim=1, **kwargs), lambda x: torch.nn.functional.softmax(
        x, dim=1, **th_kwargs), randn(3, 4, dtype=np.float32), rtol=1e-5, atol=1e-6)
    check_against_torch(lambda x: F.log_softmax(x, 0), lambda x: torch.nn.functional.log_softmax(x, 0),
                        randn(3, 4))


def test_softmax_implicit_dim_warns():
    x = randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = nn.Softmax()(mytorch.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = torch.nn.Softmax()(torch.tensor(x))
    assert_close(out, ref)


def test_activation_errors():
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(mytorch.randn(3, 5))
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers"):
        nn.PReLU(4)(mytorch.randn(2, 3, 5))
    with pytest.raises(ValueError):
        nn.Hardtanh(1.0, -1.0)


def test_module_reprs_with_inplace():
    pairs = [lambda m: m.ReLU(inplace=True), lambda m: m.LeakyReLU(0.2, True), lambda m: m.ELU(inplace=True),
             lambda m: m.ReLU6(True), lambda m: m.Hardtanh(-2, 2, True), lambda m: m.Hardswish(True),
             lambda m: m.SiLU(True), lambda m: m.Threshold(0.1, 20, True), lambda m: m.Softmax(dim=None),
             lambda m: m.Embedding(10, 3, padding_idx=0, max_norm=1.0),
             lambda m: m.Embedding(5, 2, norm_type=1.0, scale_grad_by_freq=True),
             lambda m: m.Dropout1d(0.2), lambda m: m.Dropout2d(inplace=True), lambda m: m.AlphaDropout(),
             lambda m: m.Linear(2, 2), lambda m: m.Bilinear(2, 3, 4, bias=False)]
    for ctor in pairs:
        assert repr(ctor(nn)) == th_repr(ctor(torch.nn))


def test_fused_flag_kept_out_of_repr():
    for mod in (nn.Linear(2, 2, fused=True), nn.Embedding(3, 2, fused=True), nn.Dropout(fused=True),
                nn.Softmax(dim=1, fused=True)):
        assert mod.fused is True
        assert "fused" not in repr(mod)


# ---------------------------------------------------------------------------------------------
# linear / bilinear functional and errors
# ---------------------------------------------------------------------------------------------
def test_linear_functional():
    check_against_torch(F.linear, torch.nn.functional.linear, randn(2, 3, 4), randn(5, 4), randn(5))
    check_against_torch(lambda x, w: F.linear(x, w), lambda x, w: torch.nn.functional.linear(x, w),
                        randn(3, 4), randn(5, 4))
    check_against_torch(F.bilinear, torch.nn.functional.bilinear, randn(4, 2), randn(4, 3), randn(5, 2, 3),
                        randn(5))


def test_linear_errors():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        F.linear(mytorch.randn(2, 3), mytorch.randn(5, 4))
    with pytest.raises(RuntimeError, match="mat1 and mat2 must have the same dtype"):
        F.linear(mytorch.randn(2, 4).double(), mytorch.randn(5, 4))


def test_linear_default_init_like_torch():
    mytorch.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound  # uniform(-a, a) has std a/sqrt(3)
    assert layer.weight.dtype == mytorch.float32
    assert nn.Linear(3, 2, dtype=mytorch.float64).weight.dtype == mytorch.float64


def test_training_steps_match_torch():
    """A small MLP trained with plain SGD from the same weights follows torch's loss curve."""
    def build(m):
        return m.Sequential(m.Linear(6, 16), m.GELU(), m.Linear(16, 16), m.Tanh(), m.Linear(16, 3),
                            m.LogSoftmax(dim=1))

    th_model, mt_model = build(torch.nn).double(), build(nn).double()
    copy_weights(mt_model, th_model)
    x = randn(32, 6, seed=5)
    target = np.random.default_rng(0).integers(0, 3, 32)
    xm, xt = mytorch.tensor(x), torch.tensor(x)
    onehot_m = F.one_hot(mytorch.tensor(target), 3).double()
    onehot_t = torch.nn.functional.one_hot(torch.tensor(target), 3).double()
    for _ in range(5):
        loss_m = -(mt_model(xm) * onehot_m).sum() / 32
        loss_t = -(th_model(xt) * onehot_t).sum() / 32
        assert_close(loss_m, loss_t)
        mt_model.zero_grad()
        th_model.zero_grad()
        loss_m.backward()
        loss_t.backward()
        with mytorch.no_grad():
            for p in mt_model.parameters():
                p -= 0.5 * p.grad
        with torch.no_grad():
            for p in th_model.parameters():
                p -= 0.5 * p.grad
    for (name, p), q in zip(mt_model.named_parameters(), th_model.parameters()):
        assert_close(p, q, msg=name)


# ---------------------------------------------------------------------------------------------
# embedding and one_hot
# ---------------------------------------------------------------------------------------------
EMBEDDINGS = [
    ({}, [[1, 2, 4], [4, 3, 9]]),
    ({"padding_idx": 0}, [[0, 2, 0], [4, 3, 9]]),
    ({"padding_idx": -1}, [[9, 2, 9], [4, 3, 0]]),
    ({"scale_grad_by_freq": True}, [[1, 1, 4], [4, 1, 9]]),
    ({"max_norm": 1.0}, [[1, 2, 4], [4, 3, 9]]),
    ({"max_norm": 2.0, "norm_type": 1.0}, [[1, 2, 2], [5, 3, 9]]),
]


@pytest.mark.parametrize("kwargs,idx", EMBEDDINGS)
def test_embedding_matches_torch(kwargs, idx):
    mt_mod, th_mod = nn.Embedding(10, 4, **kwargs).double(), torch.nn.Embedding(10, 4, **kwargs).double()
    copy_weights(mt_mod, th_mod)
    out_m, out_t = mt_mod(mytorch.tensor(idx)), th_mod(torch.tensor(idx))
    assert_close(out_m, out_t)
    assert_close(mt_mod.weight, th_mod.weight)  # max_norm renormalises rows in place
    w = randn(*out_t.shape, seed=2)
    (out_m * mytorch.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    assert_close(mt_mod.weight.grad, th_mod.weight.grad)
    assert repr(mt_mod) == th_repr(th_mod)


def test_embedding_padding_row_zero_and_errors():
    emb = nn.Embedding(5, 3, padding_idx=2)
    assert not emb.weight[2].detach().numpy().any()
    with pytest.raises(IndexError, match="index out of range"):
        emb(mytorch.tensor([0, 5]))
    with pytest.raises(IndexError, match="index out of range"):
        emb(mytorch.tensor([-1]))
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices'"):
        emb(mytorch.tensor([0.0, 1.0]))
    with pytest.raises(AssertionError):
        nn.Embedding(5, 3, padding_idx=5)


def test_embedding_from_pretrained():
    weights = mytorch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    emb = nn.Embedding.from_pretrained(weights)
    assert not emb.weight.requires_grad
    assert_close(emb(mytorch.tensor([2, 0])), torch.tensor([[5.0, 6.0], [1.0, 2.0]]))
    trainable = nn.Embedding.from_pretrained(weights, freeze=False, padding_idx=1)
    assert trainable.weight.requires_grad
    trainable(mytorch.tensor([1, 2, 2])).sum().backward()
    assert_close(trainable.weight.grad, torch.tensor([[0.0, 0.0], [0.0, 0.0], [2.0, 2.0]]))
    with pytest.raises(AssertionError):
        nn.Embedding.from_pretrained(mytorch.zeros(3))


@pytest.mark.parametrize("idx,num_classes", [([0, 2, 1], -1), ([[1, 0], [3, 3]], 5), ([], 3)])
def test_one_hot(idx, num_classes):
    out = F.one_hot(mytorch.tensor(idx, dtype=mytorch.int64), num_classes)
    ref = torch.nn.functional.one_hot(torch.tensor(idx, dtype=torch.int64), num_classes)
    assert_close(out, ref)


def test_one_hot_errors():
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(mytorch.tensor([3]), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(mytorch.tensor([-1]), 3)


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics_and_grad(p):
    x = mytorch.ones(200, 500, requires_grad=True)
    out = F.dropout(x, p)
    vals = out.detach().numpy()
    kept = vals != 0
    assert abs(1 - kept.mean() - p) < 0.01
    np.testing.assert_allclose(vals[kept], 1 / (1 - p), rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), vals, rtol=1e-6)  # grad = mask / (1 - p)
    assert out.dtype == mytorch.float32


def test_dropout_modes_and_seed():
    x = mytorch.randn(50, 40)
    layer = nn.Dropout(0.5)
    layer.eval()
    assert layer(x) is x
    layer.train()
    mytorch.manual_seed(7)
    a = layer(x)
    mytorch.manual_seed(7)
    b = layer(x)
    assert_close(a, b.detach().numpy())
    assert F.dropout(x, 0.5, training=False) is x
    assert not F.dropout(x, 1.0).detach().numpy().any()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError):
        nn.Dropout(-0.1)


def test_dropout_inplace():
    x = mytorch.ones(100, 100, requires_grad=True)
    y = x * 1.0
    out = F.dropout(y, 0.25, inplace=True)
    assert out is y
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())


@pytest.mark.parametrize("fn,shape", [(F.dropout1d, (8, 16, 30)), (F.dropout1d, (16, 30)),
                                      (F.dropout2d, (8, 16, 5, 6)), (F.dropout3d, (4, 16, 3, 4, 5))])
def test_feature_dropout_zeroes_whole_channels(fn, shape):
    out = fn(mytorch.ones(*shape), 0.5).numpy()
    channel_axes = 2 if len(shape) > 2 or fn is not F.dropout1d else 1
    flat = out.reshape(int(np.prod(shape[:channel_axes])), -1)
    assert np.all((flat == 0).all(axis=1) | (flat == 2.0).all(axis=1))
    assert 0.2 < (flat[:, 0] == 0).mean() < 0.8


def test_alpha_dropout_keeps_mean_and_std():
    x = mytorch.randn(400, 400)
    out = nn.AlphaDropout(0.3)(x).numpy()
    assert abs(out.mean()) < 0.03 and abs(out.std() - 1) < 0.03
    layer = nn.AlphaDropout(0.3)
    layer.eval()
    assert layer(x) is x


def test_softmax2d_matches_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    for a in (x, x[0]):
        np.testing.assert_allclose(mytorch.nn.Softmax2d()(mytorch.tensor(a)).numpy(),
                                   torch.nn.Softmax2d()(torch.tensor(a)).numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="3D or 4D"):
        mytorch.nn.Softmax2d()(mytorch.ones(2, 3))
