"""mytorch.autograd.functional (vjp, jvp, jacobian) against torch.autograd.functional."""
import numpy as np
import pytest
import torch

import mytorch

AF, TAF = mytorch.autograd.functional, torch.autograd.functional
RNG = np.random.default_rng(0)
X, Y = RNG.standard_normal((2, 3)), RNG.standard_normal(3)

FUNCS = {
    "one_to_one": (lambda lib: lambda x: (x.exp() * x.sum()).sin(), (X,)),
    "two_to_one": (lambda lib: lambda x, y: (x * y).tanh().sum(0), (X, Y)),
    "one_to_two": (lambda lib: lambda x: (x ** 2, x.sum()), (X,)),
    "two_to_two": (lambda lib: lambda x, y: (x @ y, y.exp()), (X, Y)),
    "independent": (lambda lib: lambda x, y: x.cos(), (X, Y)),
}


def _inputs(lib, arrays, as_tuple):
    ts = tuple(lib.tensor(a) for a in arrays)
    return ts if as_tuple or len(ts) > 1 else ts[0]


def _same(a, b):
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("as_tuple", [False, True])
def test_jacobian_matches_torch(name, as_tuple):
    make, arrays = FUNCS[name]
    _same(AF.jacobian(make(mytorch), _inputs(mytorch, arrays, as_tuple)),
          TAF.jacobian(make(torch), _inputs(torch, arrays, as_tuple)))


@pytest.mark.parametrize("name", FUNCS)
def test_vjp_and_jvp_match_torch(name):
    make, arrays = FUNCS[name]
    outs = make(torch)(*[torch.tensor(a) for a in arrays])
    outs = outs if isinstance(outs, tuple) else (outs,)
    v_out = [RNG.standard_normal(tuple(o.shape)) for o in outs]
    v_in = [RNG.standard_normal(a.shape) for a in arrays]
    pack = (lambda lib, vs: tuple(lib.tensor(v) for v in vs) if len(vs) > 1 else lib.tensor(vs[0]))
    for fn, tfn, vs in ((AF.vjp, TAF.vjp, v_out), (AF.jvp, TAF.jvp, v_in)):
        mine = fn(make(mytorch), _inputs(mytorch, arrays, False), pack(mytorch, vs))
        ref = tfn(make(torch), _inputs(torch, arrays, False), pack(torch, vs))
        _same(mine, ref)


def test_strict_create_graph_and_bad_arguments():
    make, arrays = FUNCS["independent"]
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.jacobian(make(mytorch), _inputs(mytorch, arrays, True), strict=True)
    with pytest.raises(RuntimeError, match="create_graph"):
        AF.jacobian(make(mytorch), mytorch.ones(2), create_graph=True)
    with pytest.raises(RuntimeError, match="v can only be None"):
        AF.vjp(lambda x: x * 2, mytorch.ones(2))
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        AF.jacobian(lambda x: x, [mytorch.ones(2)])
    with pytest.raises(ValueError, match="strategy"):
        AF.jacobian(lambda x: x, mytorch.ones(2), strategy="sideways")
    out, grad = AF.vjp(lambda x: (x ** 2).sum(), mytorch.tensor([1.0, 2.0]))
    assert out.item() == 5.0 and grad.tolist() == [2.0, 4.0] and not out.requires_grad
