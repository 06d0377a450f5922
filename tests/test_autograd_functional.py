"""mytorch.autograd.functional (vjp, jvp, jacobian, hessian, vhp, hvp) against torch.autograd.functional."""
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


def test_strict_and_bad_arguments():
    make, arrays = FUNCS["independent"]
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.jacobian(make(mytorch), _inputs(mytorch, arrays, True), strict=True)
    with pytest.raises(RuntimeError, match="v can only be None"):
        AF.vjp(lambda x: x * 2, mytorch.ones(2))
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        AF.jacobian(lambda x: x, [mytorch.ones(2)])
    with pytest.raises(ValueError, match="strategy"):
        AF.jacobian(lambda x: x, mytorch.ones(2), strategy="sideways")
    out, grad = AF.vjp(lambda x: (x ** 2).sum(), mytorch.tensor([1.0, 2.0]))
    assert out.item() == 5.0 and grad.tolist() == [2.0, 4.0] and not out.requires_grad


SCALAR_FUNCS = {
    "one_input": (lambda lib: lambda x: (x.sin() * x.exp().sum()).sum() + (x ** 3).prod(), (X,)),
    "two_inputs": (lambda lib: lambda x, y: ((x @ y).tanh() ** 2).sum() + (x * x).sum() * y.sum(), (X, Y)),
}


@pytest.mark.parametrize("name", sorted(SCALAR_FUNCS))
def test_second_order_against_torch(name):
    make, arrays = SCALAR_FUNCS[name]
    _same(AF.hessian(make(mytorch), _inputs(mytorch, arrays, False)),
          TAF.hessian(make(torch), _inputs(torch, arrays, False)))
    v = [RNG.standard_normal(a.shape) for a in arrays]
    pack = (lambda lib: tuple(lib.tensor(a) for a in v) if len(v) > 1 else lib.tensor(v[0]))
    for fn, tfn in ((AF.vhp, TAF.vhp), (AF.hvp, TAF.hvp)):
        _same(fn(make(mytorch), _inputs(mytorch, arrays, False), pack(mytorch)),
              tfn(make(torch), _inputs(torch, arrays, False), pack(torch)))


def test_create_graph_keeps_results_differentiable():
    """With create_graph=True the results stay in the graph: differentiating a Jacobian / vjp again gives
    torch's numbers (and the inputs' own graph is reached)."""
    make, arrays = FUNCS["two_to_one"]
    res = []
    for lib, af in ((mytorch, AF), (torch, TAF)):
        x, y = (lib.tensor(a, requires_grad=True) for a in arrays)
        jx, jy = af.jacobian(make(lib), (x * 1, y), create_graph=True)
        _, g = af.vjp(make(lib), (x, y), lib.ones(3, dtype=lib.float64), create_graph=True)
        assert jx.requires_grad and g[0].requires_grad
        ((jx ** 2).sum() + (jy * g[1]).sum()).backward()
        res.append((x.grad, y.grad))
    _same(*res)


def test_hessian_needs_a_scalar_function():
    with pytest.raises(RuntimeError, match="single element"):
        AF.hessian(lambda x: x * 2, mytorch.ones(2))
