"""torch.autograd.graph (saved-tensor hooks, multi-tensor grad hooks, edges), torch.func.jvp / linearize,
torch.random.fork_rng and torch.testing.make_tensor, against PyTorch."""
import numpy as np
import pytest
import torch

import mytorch


def _both(fn):
    return fn(mytorch), fn(torch)


def _np(x):
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def test_saved_tensors_hooks_see_every_saved_tensor_and_feed_backward():
    def run(lib):
        seen = []

        def pack(t):
            seen.append(tuple(t.shape))
            return t * 2  # what backward gets back: doubled saved values change the gradient

        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(pack, lambda t: t / 2):
            y = (a * a).sin().sum()
        y.backward()
        return seen, a.grad

    (seen, g), (seen_t, g_t) = _both(run)
    assert seen == seen_t
    np.testing.assert_allclose(_np(g), _np(g_t), rtol=1e-6)


def test_save_on_cpu_and_user_functions():
    def run(lib):
        class Twice(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * 2

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return g * x

        a = lib.tensor([1.0, -2.0], requires_grad=True)
        with lib.autograd.graph.save_on_cpu():
            y = (a.exp() * a).sum()
        with lib.autograd.graph.saved_tensors_hooks(lambda x: x.detach() * 10, lambda x: x):
            z = Twice.apply(a).sum()
        return lib.autograd.grad(y, a)[0], lib.autograd.grad(z, a)[0]

    for m, t in zip(*_both(run)):
        np.testing.assert_allclose(_np(m), _np(t), rtol=1e-6)


def test_disable_saved_tensors_hooks():
    with mytorch.autograd.graph.disable_saved_tensors_hooks("no hooks here"):
        with pytest.raises(RuntimeError, match="no hooks here"):
            with mytorch.autograd.graph.saved_tensors_hooks(lambda x: x, lambda x: x):
                pass


def test_multi_grad_hook_modes():
    def run(lib):
        calls, first = [], []
        x1, x2 = lib.tensor([1.0], requires_grad=True), lib.tensor([2.0], requires_grad=True)
        lib.autograd.graph.register_multi_grad_hook((x1, x2), lambda gs: calls.append(
            [None if g is None else g.tolist() for g in gs]))
        h = lib.autograd.graph.register_multi_grad_hook((x1, x2), lambda g: first.append(g.tolist()), mode="any")
        (x1 * 3).sum().backward()
        (x1 * x2).sum().backward()
        h.remove()
        (x1 * x2).sum().backward()
        return calls, first

    (calls, first), (calls_t, first_t) = run(mytorch), run(torch)
    assert calls == calls_t
    # 'any': one call per backward, with whichever gradient the engine computes first
    assert len(first) == len(first_t) == 2 and first[0] == first_t[0] and first[1] in ([2.0], [1.0])


def test_gradient_edge_and_increment_version():
    x = mytorch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    edge = mytorch.autograd.graph.get_gradient_edge(y)
    assert edge.node is y.grad_fn and edge.output_nr == 0
    assert isinstance(y.grad_fn, mytorch.autograd.graph.Node)
    z = y.sin()
    mytorch.autograd.graph.increment_version(y)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_func_jvp_and_linearize():
    x, v = np.random.default_rng(0).random(3), np.random.default_rng(1).random(3)

    def run(lib):
        def f(x):
            return x.sin() * x.sum(), x.exp()

        out, jv = lib.func.jvp(f, (lib.tensor(x),), (lib.tensor(v),))
        _, jvp_fn = lib.func.linearize(f, lib.tensor(x))
        return list(out) + list(jv) + list(jvp_fn(lib.tensor(v)))

    for m, t in zip(*_both(run)):
        np.testing.assert_allclose(_np(m), _np(t), rtol=1e-12)


def test_fork_rng_restores_the_sequence():
    mytorch.manual_seed(0)
    expected = mytorch.rand(3)
    mytorch.manual_seed(0)
    with mytorch.random.fork_rng():
        mytorch.rand(5)
    np.testing.assert_array_equal(mytorch.rand(3).numpy(), expected.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", "bool", "complex64"])
def test_make_tensor_ranges(dtype):
    t = mytorch.testing.make_tensor(4, 5, dtype=getattr(mytorch, dtype), device="cpu", low=-2, high=3,
                                    exclude_zero=dtype != "bool")
    ref = torch.testing.make_tensor(4, 5, dtype=getattr(torch, dtype), device="cpu", low=-2, high=3,
                                    exclude_zero=dtype != "bool")
    assert tuple(t.shape) == tuple(ref.shape) and str(t.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    a = t.numpy()
    if dtype != "bool":
        parts = [a.real, a.imag] if a.dtype.kind == "c" else [a]
        low = 0 if dtype == "uint8" else -2
        assert all(((p >= low) & (p <= 3)).all() for p in parts) and (a != 0).all()
    nc = mytorch.testing.make_tensor((3, 4), dtype=mytorch.float32, device="cpu", noncontiguous=True,
                                     requires_grad=True)
    assert not nc.is_contiguous() and nc.requires_grad and nc.is_leaf
    with pytest.raises(ValueError):
        mytorch.testing.make_tensor(2, dtype=mytorch.int64, device="cpu", requires_grad=True)


def test_forward_ad_dual_tensors_match_torch():
    x, t = np.array([1.0, 2.0, -0.5]), np.array([0.3, -1.0, 2.0])
    w = np.random.default_rng(2).standard_normal((2, 3))

    def run(lib):
        fwAD = lib.autograd.forward_ad
        with fwAD.dual_level():
            d = fwAD.make_dual(lib.tensor(x), lib.tensor(t))
            y = lib.nn.functional.gelu(lib.tensor(w) @ (d * d).sin())
            primal, tangent = fwAD.unpack_dual(y)
            _, own = fwAD.unpack_dual(d)
            _, none = fwAD.unpack_dual(lib.tensor(w))
        after = fwAD.unpack_dual(y).tangent
        return primal, tangent, own, none, after

    (p, tg, own, none, after), (p_t, tg_t, own_t, none_t, after_t) = _both(run)
    np.testing.assert_allclose(_np(p), _np(p_t), rtol=1e-12)
    np.testing.assert_allclose(_np(tg), _np(tg_t), rtol=1e-12)
    np.testing.assert_allclose(_np(own), t)
    assert none is None and none_t is None and after is None and after_t is None


def test_forward_ad_errors():
    fwAD = mytorch.autograd.forward_ad
    with pytest.raises(RuntimeError, match="no level exists"):
        fwAD.make_dual(mytorch.ones(2), mytorch.ones(2))
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match="different size"):
            fwAD.make_dual(mytorch.ones(2), mytorch.ones(3))
        with pytest.raises(RuntimeError, match="Nested forward mode AD"):
            fwAD.enter_dual_level()
