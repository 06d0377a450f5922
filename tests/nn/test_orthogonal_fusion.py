"""parametrizations.orthogonal, nn.utils.fusion and nn.utils.skip_init against PyTorch."""
import numpy as np
import pytest
import torch

import mytorch
from tests.helpers import assert_close

MAPS = ["matrix_exp", "cayley", "householder"]
SHAPES = [(4, 4), (5, 3), (3, 5), (2, 4, 3)]


def _holder(lib, weight):
    """A bare module whose only parameter is `weight` (a numpy array)."""
    module = lib.nn.Module()
    module.weight = lib.nn.Parameter(lib.tensor(weight.copy()))
    return module


def _orthogonal_pair(weight, orthogonal_map, use_trivialization):
    mine, ref = _holder(mytorch, weight), _holder(torch, weight)
    mytorch.nn.utils.parametrizations.orthogonal(mine, orthogonal_map=orthogonal_map,
                                                 use_trivialization=use_trivialization)
    torch.nn.utils.parametrizations.orthogonal(ref, orthogonal_map=orthogonal_map,
                                               use_trivialization=use_trivialization)
    return mine, ref


def _assert_complex_close(mine, ref, atol=1e-12):
    np.testing.assert_allclose(mine.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=atol)


def _assert_orthogonal(Q, atol=1e-10):
    Q = Q.detach().numpy()
    if Q.shape[-2] < Q.shape[-1]:
        Q = np.swapaxes(Q, -1, -2)
    gram = np.swapaxes(Q, -1, -2).conj() @ Q
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(Q.shape[-1]), gram.shape), atol=atol)


def _copy_state(mine, ref, original):
    """Give both the same original (and base), so their weights are the same function of it."""
    with torch.no_grad():
        ref.parametrizations.weight.original.copy_(torch.tensor(original))
    with mytorch.no_grad():
        mine.parametrizations.weight.original.copy_(mytorch.tensor(original))
    if hasattr(ref.parametrizations.weight[0], "base"):
        mine.parametrizations.weight[0].base = mytorch.tensor(ref.parametrizations.weight[0].base.numpy())


def _random_original(rng, ref, orthogonal_map, complex_=False):
    shape = tuple(ref.parametrizations.weight.original.shape)
    original = 0.5 * rng.standard_normal(shape)
    if complex_:
        original = original + 0.5j * rng.standard_normal(shape)
    if orthogonal_map == "householder":  # the diagonal carries the +-1 signs; keep torch's
        idx = np.arange(min(shape[-2:]))
        original[..., idx, idx] = ref.parametrizations.weight.original.detach().numpy()[..., idx, idx]
    return original


def _loss_grads(mine, ref, coeff):
    (mine.weight * mytorch.tensor(coeff)).sum().backward()
    (ref.weight * torch.tensor(coeff)).sum().backward()
    return mine.parametrizations.weight.original.grad, ref.parametrizations.weight.original.grad


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("orthogonal_map", MAPS)
@pytest.mark.parametrize("use_trivialization", [True, False])
def test_orthogonal_matches_torch(shape, orthogonal_map, use_trivialization):
    rng = np.random.default_rng(0)
    mine, ref = _orthogonal_pair(rng.standard_normal(shape), orthogonal_map, use_trivialization)
    # registration: the same weight (made orthogonal when torch makes it so), the same state
    assert_close(mine.weight, ref.weight, atol=1e-12)
    assert list(mine.state_dict()) == list(ref.state_dict())
    assert_close(mine.parametrizations.weight.original, ref.parametrizations.weight.original, atol=1e-12)
    if use_trivialization or orthogonal_map == "householder":
        _assert_orthogonal(mine.weight)
    # the weight as a function of a general original, and the gradient through it
    _copy_state(mine, ref, _random_original(rng, ref, orthogonal_map))
    assert_close(mine.weight, ref.weight, atol=1e-12)
    _assert_orthogonal(mine.weight)
    grad, ref_grad = _loss_grads(mine, ref, rng.standard_normal(shape))
    assert_close(grad, ref_grad, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4)])
@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley"])
@pytest.mark.parametrize("use_trivialization", [True, False])
def test_orthogonal_complex(shape, orthogonal_map, use_trivialization):
    rng = np.random.default_rng(1)
    weight = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    mine, ref = _orthogonal_pair(weight, orthogonal_map, use_trivialization)
    assert mine.weight.dtype == mytorch.complex128
    _assert_complex_close(mine.weight, ref.weight)
    _copy_state(mine, ref, _random_original(rng, ref, orthogonal_map, complex_=True))
    _assert_complex_close(mine.weight, ref.weight)
    _assert_orthogonal(mine.weight)
    coeff = rng.standard_normal(shape)
    (mine.weight.real * mytorch.tensor(coeff) + mine.weight.imag ** 2).sum().backward()
    (ref.weight.real * torch.tensor(coeff) + ref.weight.imag ** 2).sum().backward()
    _assert_complex_close(mine.parametrizations.weight.original.grad, ref.parametrizations.weight.original.grad)


@pytest.mark.parametrize("shape,is_complex,expected", [((3, 3), False, "matrix_exp"), ((5, 3), False, "householder"),
                                                       ((3, 5), False, "householder"), ((5, 3), True, "matrix_exp")])
def test_orthogonal_default_map(shape, is_complex, expected):
    weight = np.ones(shape) + (1j if is_complex else 0) * np.eye(*shape)
    mine, ref = _orthogonal_pair(weight, None, True)
    assert mine.parametrizations.weight[0].orthogonal_map.name == expected
    assert ref.parametrizations.weight[0].orthogonal_map.name == expected


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
@pytest.mark.parametrize("orthogonal_map,use_trivialization",
                         [(m, True) for m in MAPS] + [("householder", False)])
def test_orthogonal_assign(shape, orthogonal_map, use_trivialization):
    rng = np.random.default_rng(2)
    mine, ref = _orthogonal_pair(rng.standard_normal(shape), orthogonal_map, use_trivialization)
    # an orthogonal matrix is kept as it is
    tall = shape[:-2] + (max(shape[-2:]), min(shape[-2:]))
    Q = np.linalg.qr(rng.standard_normal(tall))[0]
    Q = np.swapaxes(Q, -1, -2) if shape[-2] < shape[-1] else Q
    mine.weight = mytorch.tensor(Q)
    ref.weight = torch.tensor(Q)
    assert_close(mine.weight, torch.tensor(Q), atol=1e-12)
    assert_close(mine.parametrizations.weight.original, ref.parametrizations.weight.original, atol=1e-12)
    # a general matrix is orthogonalized (QR with diag(R) >= 0), as in torch
    W = rng.standard_normal(shape)
    mine.weight = mytorch.tensor(W)
    ref.weight = torch.tensor(W)
    assert_close(mine.weight, ref.weight, atol=1e-12)
    _assert_orthogonal(mine.weight)
    # the assigned value still trains; a rectangular weight's base is completed at random, so take torch's
    if use_trivialization:
        mine.parametrizations.weight[0].base = mytorch.tensor(ref.parametrizations.weight[0].base.numpy())
    grad, ref_grad = _loss_grads(mine, ref, rng.standard_normal(shape))
    assert_close(grad, ref_grad, atol=1e-12)


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley"])
def test_orthogonal_assign_errors(orthogonal_map):
    for lib in (mytorch, torch):
        module = lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(3, 3), orthogonal_map=orthogonal_map,
                                                          use_trivialization=False)
        with pytest.raises(NotImplementedError, match="use_trivialization=False"):
            module.weight = lib.eye(3)
        module = lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(3, 4), orthogonal_map=orthogonal_map)
        with pytest.raises(ValueError, match="Expected a matrix or batch of matrices of shape"):
            module.weight = lib.eye(3)


@pytest.mark.parametrize("kwargs,make", [
    ({"orthogonal_map": "qr"}, lambda lib: lib.nn.Linear(3, 3)),
    ({"name": "nope"}, lambda lib: lib.nn.Linear(3, 3)),
    ({"name": "bias"}, lambda lib: lib.nn.Linear(3, 3)),
    ({"orthogonal_map": "householder"}, lambda lib: lib.nn.Linear(3, 3, dtype=lib.complex64)),
])
def test_orthogonal_errors(kwargs, make):
    messages = []
    for lib in (mytorch, torch):
        with pytest.raises(ValueError) as info:
            lib.nn.utils.parametrizations.orthogonal(make(lib), **kwargs)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_orthogonal_linear_module_and_training():
    torch.manual_seed(0)
    ref = torch.nn.utils.parametrizations.orthogonal(torch.nn.Linear(3, 5, dtype=torch.float64))
    mine = mytorch.nn.utils.parametrizations.orthogonal(mytorch.nn.Linear(3, 5, dtype=mytorch.float64))
    assert repr(mine) == repr(ref)
    assert list(mine.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in ref.named_parameters()]
    mine.load_state_dict({k: mytorch.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    x = np.random.default_rng(3).standard_normal((6, 3))
    opt, ref_opt = (mytorch.optim.SGD(mine.parameters(), lr=0.1), torch.optim.SGD(ref.parameters(), lr=0.1))
    for _ in range(3):
        for module, optimizer, lib in ((mine, opt, mytorch), (ref, ref_opt, torch)):
            optimizer.zero_grad()
            module(lib.tensor(x)).pow(2).sum().backward()
            optimizer.step()
    assert_close(mine.weight, ref.weight, atol=1e-10)
    _assert_orthogonal(mine.weight)


def test_orthogonal_float32():
    mine = mytorch.nn.utils.parametrizations.orthogonal(mytorch.nn.Linear(4, 4))
    assert mine.weight.dtype == mytorch.float32 and mine.parametrizations.weight[0].base.dtype == mytorch.float32
    _assert_orthogonal(mine.weight, atol=1e-5)


# fusion --------------------------------------------------------------------------------------------------------

def _pair_modules(make, rng):
    """The same module in mytorch and torch, with random parameters and BatchNorm statistics."""
    ref = make(torch)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.tensor(rng.standard_normal(p.shape)))
        if getattr(ref, "running_var", None) is not None:
            ref.running_mean.copy_(torch.tensor(rng.standard_normal(ref.running_mean.shape)))
            ref.running_var.copy_(torch.tensor(rng.random(ref.running_var.shape) + 0.5))
    mine = make(mytorch)
    mine.load_state_dict({k: mytorch.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    return mine.eval(), ref.eval()


CONV_CASES = [
    ("conv1d", lambda L: L.nn.Conv1d(3, 4, 3, dtype=L.float64), lambda L: L.nn.BatchNorm1d(4, dtype=L.float64),
     (2, 3, 7), False),
    ("conv2d", lambda L: L.nn.Conv2d(3, 4, 3, padding=1, dtype=L.float64),
     lambda L: L.nn.BatchNorm2d(4, dtype=L.float64), (2, 3, 5, 5), False),
    ("conv2d_nobias_noaffine", lambda L: L.nn.Conv2d(3, 4, 3, bias=False, dtype=L.float64),
     lambda L: L.nn.BatchNorm2d(4, affine=False, dtype=L.float64), (2, 3, 5, 5), False),
    ("conv3d", lambda L: L.nn.Conv3d(2, 3, 2, dtype=L.float64), lambda L: L.nn.BatchNorm3d(3, dtype=L.float64),
     (1, 2, 4, 4, 4), False),
    ("conv_transpose2d", lambda L: L.nn.ConvTranspose2d(3, 4, 3, stride=2, dtype=L.float64),
     lambda L: L.nn.BatchNorm2d(4, dtype=L.float64), (2, 3, 4, 4), True),
    ("conv2d_float32", lambda L: L.nn.Conv2d(3, 4, 3), lambda L: L.nn.BatchNorm2d(4), (2, 3, 5, 5), False),
]


@pytest.mark.parametrize("name,make_conv,make_bn,x_shape,transpose", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_fuse_conv_bn_eval(name, make_conv, make_bn, x_shape, transpose):
    rng = np.random.default_rng(4)
    (conv, ref_conv), (bn, ref_bn) = _pair_modules(make_conv, rng), _pair_modules(make_bn, rng)
    fused = mytorch.nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    ref_fused = torch.nn.utils.fuse_conv_bn_eval(ref_conv, ref_bn, transpose=transpose)
    assert fused is not conv and type(fused) is type(conv)
    assert fused.weight is not conv.weight and isinstance(fused.weight, mytorch.nn.Parameter)
    for attr in ("weight", "bias"):
        assert_close(getattr(fused, attr), getattr(ref_fused, attr), atol=1e-6)
        assert getattr(fused, attr).requires_grad == getattr(ref_fused, attr).requires_grad
        assert getattr(fused, attr).is_leaf
    assert_close(conv.weight, ref_conv.weight)  # the input module is untouched
    x = mytorch.tensor(rng.standard_normal(x_shape).astype(str(conv.weight.dtype).split(".")[-1]))
    assert_close(fused(x), bn(conv(x)), rtol=1e-5, atol=1e-5)


LINEAR_CASES = [
    ("linear", lambda L: L.nn.Linear(3, 4, dtype=L.float64), lambda L: L.nn.BatchNorm1d(4, dtype=L.float64)),
    ("linear_nobias", lambda L: L.nn.Linear(3, 4, bias=False, dtype=L.float64),
     lambda L: L.nn.BatchNorm1d(4, dtype=L.float64)),
    ("bn_one_feature", lambda L: L.nn.Linear(3, 4, dtype=L.float64), lambda L: L.nn.BatchNorm1d(1, dtype=L.float64)),
]


@pytest.mark.parametrize("name,make_linear,make_bn", LINEAR_CASES, ids=[c[0] for c in LINEAR_CASES])
def test_fuse_linear_bn_eval(name, make_linear, make_bn):
    rng = np.random.default_rng(5)
    (linear, ref_linear), (bn, ref_bn) = _pair_modules(make_linear, rng), _pair_modules(make_bn, rng)
    fused = mytorch.nn.utils.fuse_linear_bn_eval(linear, bn)
    ref_fused = torch.nn.utils.fuse_linear_bn_eval(ref_linear, ref_bn)
    assert fused is not linear
    for attr in ("weight", "bias"):
        assert_close(getattr(fused, attr), getattr(ref_fused, attr), atol=1e-12)
        assert getattr(fused, attr).requires_grad == getattr(ref_fused, attr).requires_grad
    if bn.num_features == linear.out_features:
        x = mytorch.tensor(rng.standard_normal((5, 3)))
        assert_close(fused(x), bn(linear(x)), atol=1e-12)


def test_fuse_weights_functions():
    rng = np.random.default_rng(6)
    arrays = {"w": rng.standard_normal((4, 2, 3)), "rm": rng.standard_normal(4), "rv": rng.random(4) + 0.5,
              "g": rng.standard_normal(4), "b": rng.standard_normal(4)}
    for lib in (mytorch, torch):
        t = {k: lib.tensor(v) for k, v in arrays.items()}
        out = lib.nn.utils.fuse_conv_bn_weights(t["w"], None, t["rm"], t["rv"], 1e-3, None, None)
        lin = lib.nn.utils.fuse_linear_bn_weights(t["w"][:, :, 0], None, t["rm"], t["rv"], 1e-3, t["g"], t["b"])
        if lib is mytorch:
            mine = out + lin
        else:
            ref = out + lin
    for m, r in zip(mine, ref):
        assert isinstance(m, mytorch.nn.Parameter) and m.requires_grad == r.requires_grad
        assert_close(m, r, atol=1e-12)


def test_fusion_errors():
    for lib in (mytorch, torch):
        conv = lib.nn.Conv2d(2, 3, 1)  # training mode
        with pytest.raises(AssertionError, match="^Fusion only for eval!$"):
            lib.nn.utils.fuse_conv_bn_eval(conv, lib.nn.BatchNorm2d(3).eval())
        with pytest.raises(AssertionError, match="^Fusion only for eval!$"):
            lib.nn.utils.fuse_linear_bn_eval(lib.nn.Linear(2, 3).eval(), lib.nn.BatchNorm1d(3))
        with pytest.raises(AssertionError, match="must not be None"):
            lib.nn.utils.fuse_conv_bn_eval(conv.eval(), lib.nn.BatchNorm2d(3, track_running_stats=False).eval())
        with pytest.raises(AssertionError, match=r"got linear.out_features=3 and bn.num_features=2"):
            lib.nn.utils.fuse_linear_bn_eval(lib.nn.Linear(2, 3).eval(), lib.nn.BatchNorm1d(2).eval())
    assert mytorch.nn.utils.fusion.__all__ == torch.nn.utils.fusion.__all__


# skip_init -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.utils.skip_init(lib.nn.Linear, 5, 3),
    lambda lib: lib.nn.utils.skip_init(lib.nn.Linear, in_features=6, out_features=1, bias=False),
    lambda lib: lib.nn.utils.skip_init(lib.nn.Conv2d, 2, 4, 3, dtype=lib.float64),
    lambda lib: lib.nn.utils.skip_init(lib.nn.BatchNorm1d, 4, device="cpu"),
    lambda lib: lib.nn.utils.skip_init(lib.nn.Embedding, 10, 3),
])
def test_skip_init_shapes_and_dtypes(make):
    mine, ref = make(mytorch), make(torch)
    assert type(mine).__name__ == type(ref).__name__
    for (name, t), (ref_name, r) in zip(list(mine.named_parameters()) + list(mine.named_buffers()),
                                        list(ref.named_parameters()) + list(ref.named_buffers())):
        assert name == ref_name and tuple(t.shape) == tuple(r.shape)
        assert str(t.dtype).split(".")[-1] == str(r.dtype).split(".")[-1]
        assert t.requires_grad == r.requires_grad and t.is_leaf and str(t.device) == str(r.device)
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in mine.named_buffers()] == [n for n, _ in ref.named_buffers()]
    assert all(isinstance(p, mytorch.nn.Parameter) for p in mine.parameters())


def test_skip_init_errors():
    class NoDevice:
        pass

    for lib in (mytorch, torch):
        class Plain(lib.nn.Module):
            def __init__(self, size):
                super().__init__()
                self.weight = lib.nn.Parameter(lib.zeros(size))

        with pytest.raises(RuntimeError, match="^Module must support a 'device' arg to skip initialization$"):
            lib.nn.utils.skip_init(Plain, 3)
        with pytest.raises(RuntimeError, match="^Expected a Module; got"):
            lib.nn.utils.skip_init(NoDevice)
