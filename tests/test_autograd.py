"""The autograd engine: backward semantics, graph freeing, retain_grad, hooks, grad modes,
autograd.grad, custom Functions, in-place version checks, deep graphs."""
import numpy as np
import pytest
import torch

import mytorch
from tests.helpers import assert_close


def both(values, requires_grad=True):
    return (mytorch.tensor(values, requires_grad=requires_grad, dtype=mytorch.float64),
            torch.tensor(values, requires_grad=requires_grad, dtype=torch.float64))


def test_readme_example():
    a = mytorch.ones([1], requires_grad=True)
    b = 2 * a
    c = b ** 2
    c.backward()
    assert a.grad.tolist() == [8.0] and b.grad is None


def test_grad_accumulates_and_shared_inputs():
    (x, tx) = both([1.0, 2.0, 3.0])
    for lib, t in ((mytorch, x), (torch, tx)):
        y = t * t + t  # x used three times
        y.sum().backward()
        (t * 3).sum().backward()
    assert_close(x.grad, tx.grad)


def test_non_scalar_backward_needs_gradient():
    x = mytorch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar"):
        (x * 2).backward()
    (x * 2).backward(mytorch.tensor([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(mytorch.ones(2))


def test_second_backward_raises_unless_retained():
    x = mytorch.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_close(x.grad, 2 * ((x.exp() * x).detach() + x.exp().detach()))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_grad_and_leaf_flags():
    a = mytorch.ones([1], requires_grad=True)
    b = 2 * a
    c = b ** 2
    d = c * 9
    b.retain_grad()
    d.backward()
    assert b.grad.tolist() == [36.0] and c.grad is None and a.grad.tolist() == [72.0]
    assert a.is_leaf and not b.is_leaf and b.retains_grad
    assert repr(d.grad_fn).startswith("<MulBackward0 object")
    assert "grad_fn=<MulBackward0>" in repr(d)


def test_requires_grad_rules():
    x = mytorch.ones(2, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match="floating point"):
        mytorch.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="does not require grad"):
        mytorch.ones(2).sum().backward()


def test_grad_modes():
    x = mytorch.ones(2, requires_grad=True)
    with mytorch.no_grad():
        assert not (x * 2).requires_grad
        with mytorch.enable_grad():
            assert (x * 2).requires_grad
    with mytorch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert mytorch.is_grad_enabled()
    with mytorch.inference_mode():
        assert not (x * 2).requires_grad
        assert mytorch.is_inference_mode_enabled()

    @mytorch.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and (x * 2).requires_grad
    mytorch.set_grad_enabled(False)
    assert not mytorch.is_grad_enabled()
    mytorch.set_grad_enabled(True)

    @mytorch.no_grad()
    def gen():
        yield (x * 2).requires_grad

    assert list(gen()) == [False]


def test_detach_and_data_share_memory():
    x = mytorch.ones(3, requires_grad=True)
    d = x.detach()
    d[0] = 5.0
    assert x[0].item() == 5.0 and not d.requires_grad
    assert x.data.data_ptr() == x.data_ptr()


def test_hooks():
    x, tx = both([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    y = x * 3
    h = y.register_hook(lambda g: g * 10)
    y.sum().backward()
    assert x.grad.tolist() == [30.0, 30.0] and seen == [[30.0, 30.0]]
    h.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_autograd_grad():
    x, tx = both([1.0, 2.0, 3.0])
    y = (x ** 3).sum()
    (g,) = mytorch.autograd.grad(y, x)
    (tg,) = torch.autograd.grad((tx ** 3).sum(), tx)
    assert_close(g, tg)
    assert x.grad is None  # grad() never touches .grad
    z = mytorch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not have been used"):
        mytorch.autograd.grad((x * 2).sum(), [x, z])
    g1, g2 = mytorch.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert g2 is None
    # gradient w.r.t. an intermediate tensor
    h = x * 2
    (gh,) = mytorch.autograd.grad((h * h).sum(), h)
    assert_close(gh, 2 * h.detach())


def test_backward_inputs_argument():
    x = mytorch.ones(2, requires_grad=True)
    w = mytorch.ones(2, requires_grad=True)
    (x * w * 2).sum().backward(inputs=[w])
    assert x.grad is None and w.grad.tolist() == [2.0, 2.0]


def test_custom_function():
    class Cube(mytorch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x ** 3 * k

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2 * ctx.k, None

    x = mytorch.tensor([1.0, 2.0], requires_grad=True, dtype=mytorch.float64)
    y = Cube.apply(x, 2.0)
    assert y.grad_fn.name() == "CubeBackward"
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 24.0]
    assert mytorch.autograd.gradcheck(lambda t: Cube.apply(t, 1.5), (x,))


def test_gradcheck_catches_wrong_backward():
    class Wrong(mytorch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 3

    x = mytorch.tensor([1.0, 2.0], requires_grad=True, dtype=mytorch.float64)
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        mytorch.autograd.gradcheck(Wrong.apply, (x,))
    assert not mytorch.autograd.gradcheck(Wrong.apply, (x,), raise_exception=False)


def test_inplace_on_saved_tensor_raises():
    x = mytorch.ones(3, requires_grad=True)
    y = x * 2
    z = y.exp()  # exp saves its output
    z.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    # an in-place op on a value no backward needs is fine (like PyTorch)
    a = mytorch.ones(3, requires_grad=True)
    b = a + 1
    b.mul_(3)
    b.sum().backward()
    assert a.grad.tolist() == [3.0, 3.0, 3.0]


def test_inplace_matches_torch():
    x, tx = both([0.5, -1.0, 2.0])
    for lib, t in ((mytorch, x), (torch, tx)):
        y = t * 1
        y.mul_(t).add_(2).clamp_(max=3.0).sub_(t, alpha=0.5)
        y.sum().backward()
    assert_close(x.grad, tx.grad)


def test_inplace_leaf_and_version():
    x = mytorch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.add_(1)
    with mytorch.no_grad():
        x.add_(1)
    assert x.tolist() == [2.0, 2.0] and x._version.value == 1
    v = mytorch.zeros(2, dtype=mytorch.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        v.add_(1.5)


def test_deep_graph_no_recursion_error():
    x = mytorch.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad.item() == 1.0


def test_broadcast_grad_reduction():
    a, ta = both(np.ones((3, 1)).tolist())
    b, tb = both(np.arange(4.0).tolist())
    (a * b).sum().backward()
    (ta * tb).sum().backward()
    assert_close(a.grad, ta.grad)
    assert_close(b.grad, tb.grad)


def test_mixed_dtype_grads_keep_input_dtype():
    a = mytorch.ones(2, dtype=mytorch.float16, requires_grad=True)
    b = mytorch.ones(2, dtype=mytorch.float32, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == mytorch.float16 and b.grad.dtype == mytorch.float32


def test_grad_is_copied_not_aliased():
    a = mytorch.ones(2, requires_grad=True)
    b = mytorch.ones(2, requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(5)
    assert b.grad.tolist() == [1.0, 1.0]


# a reduction's gradient travels as a read-only broadcast view to the backward functions that take one
# (Function.broadcast_grads); everything a user or another backward can write to is an array of its own
_BROADCAST_PATHS = [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / (b.abs() + 1)), ("exp", lambda a, b: a.exp() + b), ("relu", lambda a, b: a.relu() * b),
    ("where", lambda a, b: mytorch_or_torch(a).where(a > 0, a, b)),
    ("transpose+reshape", lambda a, b: a.t().reshape(-1) + b.reshape(-1)), ("permute", lambda a, b: a.permute(1, 0) * b.t()),
    ("cat", lambda a, b: mytorch_or_torch(a).cat([a, b], 1)), ("split", lambda a, b: a.split(2, 1)[1] * b[:, 2:4]),
    ("narrow+getitem", lambda a, b: a.narrow(0, 1, 3)[:, ::2] + b[1:4, ::2]), ("expand", lambda a, b: a[:1].expand(5, 6) * b),
    ("sum of sum", lambda a, b: a.sum(1, keepdim=True) * b), ("mean", lambda a, b: a.mean(0) + b.mean(0)),
    ("matmul", lambda a, b: a @ b.t()), ("softmax", lambda a, b: a.softmax(-1) * b),
]


def mytorch_or_torch(t):
    return mytorch if isinstance(t, mytorch.Tensor) else torch


@pytest.mark.parametrize("name,fn", _BROADCAST_PATHS, ids=[n for n, _ in _BROADCAST_PATHS])
@pytest.mark.parametrize("reduce", ["sum", "mean", "sum(dim)"])
def test_reduction_gradients_reach_every_op_as_pytorch(name, fn, reduce):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((5, 6)) for _ in range(2)]
    grads = []
    for lib in (mytorch, torch):
        a, b = (lib.tensor(x, requires_grad=True) for x in arrays)
        out = fn(a, b)
        loss = {"sum": out.sum, "mean": out.mean, "sum(dim)": lambda: (out.sum(-1) * 3).sum()}[reduce]()
        loss.backward()
        grads.append([a.grad, b.grad])
    for mine, ref in zip(*grads):
        np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
        assert mine.is_contiguous()
        mine.mul_(2).add_(1)  # a leaf's .grad is its own writable memory


def test_broadcast_gradients_are_writable_where_they_surface():
    a, b = mytorch.ones(4, 3, requires_grad=True), mytorch.ones(4, 3, requires_grad=True)
    (g,) = mytorch.autograd.grad((a * 2).sum(), a)
    g.add_(1)
    assert g.tolist() == [[3.0] * 3] * 4
    seen = []
    y = a + b
    y.retain_grad()
    y.register_hook(lambda grad: seen.append(grad.clone().mul_(5)))
    y.sum().backward()
    y.grad.add_(1)
    assert y.grad.tolist() == [[2.0] * 3] * 4 and seen[0].tolist() == [[5.0] * 3] * 4
    assert a.grad.tolist() == b.grad.tolist() == [[1.0] * 3] * 4
    a.grad.zero_()
    assert b.grad.tolist() == [[1.0] * 3] * 4  # the two leaves don't share memory


def test_broadcast_gradient_reaches_user_functions_as_its_own_array():
    class Twice(mytorch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.mul_(2)  # in place, as user code may

    x = mytorch.ones(3, 4, requires_grad=True)
    Twice.apply(x).sum().backward()
    assert x.grad.tolist() == [[2.0] * 4] * 3
