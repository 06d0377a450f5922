"""Higher-order gradients (create_graph=True) against PyTorch: a backward that records its own graph, so that
gradients can be differentiated again (gradient penalties, MAML, Hessian-vector products, PDE residuals)."""
import math

import numpy as np
import pytest
import torch

import mytorch


def _np(t):
    return t.detach().numpy()


def _close(a, b, rtol=1e-9, atol=1e-12):
    np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol)


def _second_order(lib, fn, arrays):
    """fn's value, its input gradients (create_graph=True), and the gradients of sum(grad^2) w.r.t. the inputs."""
    ts = [lib.tensor(a, requires_grad=True) if isinstance(a, np.ndarray) else a(lib) for a in arrays]
    diff = [t for t in ts if isinstance(t, lib.Tensor) and t.requires_grad]
    out = fn(lib, *ts)
    grads = lib.autograd.grad(out, diff, create_graph=True)
    total = sum((g * g).sum() for g in grads)
    return [out] + list(grads) + list(lib.autograd.grad(total, diff))


def _pair(fn, arrays, rtol=1e-9, atol=1e-12):
    for a, b in zip(_second_order(mytorch, fn, arrays), _second_order(torch, fn, arrays)):
        _close(a, b, rtol, atol)


R = np.random.default_rng(0)


def _r(*shape):
    return R.standard_normal(shape)


def _targets(values):
    return lambda lib: lib.tensor(values)


def F(lib):
    return lib.nn.functional


CASES = {
    # elementwise, unary table, binary
    "unary table": (lambda lib, x: (x.sin() * x.tanh() + x.exp() * 0.1 + x.sigmoid() + lib.atan(x) * x.cosh()
                                    + (x.abs() + 0.5).log() + (x * x + 1).sqrt() + lib.erf(x)).sum(), [_r(3, 4)]),
    "arithmetic": (lambda lib, x, y: (x * y / (y.abs() + 1) - x ** 3 + (x.abs() + 0.5) ** y + 2.0 ** x).sum(),
                   [_r(3, 4), _r(3, 4)]),
    "broadcast": (lambda lib, x, y: ((x * y) ** 2).sum(), [_r(3, 4), _r(4)]),
    "max/min/where/clamp": (lambda lib, x, y: (lib.maximum(x, y) * lib.minimum(x, y) ** 2
                                               + lib.where(x > 0, x, y) ** 3 + x.clamp(-0.5, 0.5) ** 3).sum(),
                            [_r(3, 4), _r(3, 4)]),
    "logaddexp/xlogy/atan2": (lambda lib, x, y: (lib.logaddexp(x, y) ** 2 + lib.xlogy(x, y.abs() + 0.1)
                                                 + lib.atan2(x, y)).sum(), [_r(3, 4), _r(3, 4)]),
    # reductions and normalisations
    "scans": (lambda lib, x: (x.cumprod(1) ** 2).sum() + (x.logcumsumexp(0) ** 2).sum()
              + lib.copysign(x, -x.roll(1, 0)).pow(3).sum(), [_r(4, 5) + 0.1]),
    "reductions": (lambda lib, x: (x.sum(1) ** 2).sum() + x.mean(0).pow(3).sum() + x.var(1).sum() * x.std()
                   + x.norm(dim=1).sum() + x.norm(p=3) + x.logsumexp(1).pow(2).sum() + x.prod(1).sum()
                   + (x.amax(1) ** 2).sum() + (x.cumsum(1) ** 2).sum(), [_r(4, 5)]),
    "softmax": (lambda lib, x: (x.softmax(-1) ** 2).sum() + (x.log_softmax(0) ** 2).sum(), [_r(4, 5)]),
    "layer_norm": (lambda lib, x, w, b: (F(lib).layer_norm(x, (5,), w, b) ** 3).sum(), [_r(4, 5), _r(5), _r(5)]),
    "group/batch/rms norm": (lambda lib, x, w, b: (F(lib).group_norm(x, 2, w, b) ** 3).sum()
                             + (F(lib).batch_norm(x, None, None, w, b, training=True) ** 3).sum()
                             + (F(lib).rms_norm(x.transpose(1, 2), (4,), w) ** 3).sum(), [_r(3, 4, 2), _r(4), _r(4)]),
    # products
    "matmul family": (lambda lib, a, b, c: ((a @ b) ** 2).sum() + ((a[0, 0] @ b) ** 2).sum()
                      + (lib.addmm(c, a[0], b, beta=0.5, alpha=2) ** 2).sum()
                      + (lib.einsum("bij,jk->bik", a, b) ** 3).sum(), [_r(2, 4, 5), _r(5, 3), _r(4, 3)]),
    "linear/bilinear": (lambda lib, x, w, b, w3: (F(lib).linear(x, w, b).tanh() ** 2).sum()
                        + (F(lib).bilinear(x, x, w3) ** 3).sum(), [_r(3, 5), _r(2, 5), _r(2), _r(2, 5, 5)]),
    # shapes and indexing
    "views": (lambda lib, x: (x.permute(1, 0).reshape(-1)[3:9].view(2, 3).flip(0).roll(1, 1) ** 3).sum()
              + (x.expand(3, 4, 5).repeat(1, 2, 1) ** 3).sum() + (x.t().contiguous().tril() ** 3).sum(), [_r(4, 5)]),
    "joins": (lambda lib, a, b: (lib.cat([a, b], 1).split(3, 1)[1] ** 2).sum()
              + (lib.stack([a, b]).unbind(0)[1] ** 3).sum() + (a.chunk(2, 1)[0] ** 3).sum(), [_r(4, 5), _r(4, 5)]),
    "indexing": (lambda lib, x: (x[[0, 2, 2]] ** 3).sum() + (x[1:, ::2] ** 3).sum() + (x[x > 0] ** 3).sum()
                 + (x.gather(1, lib.tensor([[0, 1], [2, 2], [4, 0], [1, 1]])) ** 3).sum()
                 + (x.index_select(0, lib.tensor([0, 2, 2])) ** 3).sum()
                 + (x.masked_fill(x > 0.5, 2.0) ** 3).sum(), [_r(4, 5)]),
    "scatter/index_add": (lambda lib, x, s: (x.scatter_add(1, lib.tensor([[0, 1], [2, 2], [4, 0], [1, 1]]), s) ** 3
                                             ).sum() + (x.index_add(1, lib.tensor([1, 1]), s) ** 3).sum(),
                          [_r(4, 5), _r(4, 2)]),
    "in-place writes": (lambda lib, x, v: ((lambda y: (y.__setitem__((slice(None), 1), v), y.mul_(2), y)[2])(x * 1)
                                           ** 3).sum(), [_r(4, 5), _r(4)]),
    # nn.functional
    "activations": (lambda lib, x: (F(lib).gelu(x) * F(lib).silu(x) + F(lib).leaky_relu(x, 0.2) ** 2
                                    + F(lib).elu(x + 0.1) ** 2 + F(lib).softplus(x) ** 2 + F(lib).mish(x)
                                    + F(lib).gelu(x, approximate="tanh") ** 2 + F(lib).relu(x) ** 3
                                    + F(lib).hardtanh(x) ** 3 + F(lib).logsigmoid(x) ** 2
                                    + F(lib).glu(x, 1) .sum() ** 2).sum(), [_r(4, 6) + 0.01]),
    "prelu": (lambda lib, x, w: (F(lib).prelu(x, w) ** 3).sum(), [_r(4, 3, 2), _r(3)]),
    "pointwise losses": (lambda lib, a, b: F(lib).mse_loss(a.tanh(), b) + F(lib).smooth_l1_loss(a * 3, b)
                         + F(lib).huber_loss(a * 3, b, reduction="sum")
                         + F(lib).binary_cross_entropy_with_logits(a, b.sigmoid())
                         + F(lib).kl_div(a.log_softmax(-1), b.softmax(-1), reduction="batchmean"),
                         [_r(4, 5), _r(4, 5)]),
    "cross_entropy": (lambda lib, x, t: F(lib).cross_entropy(x, t) + F(lib).cross_entropy(x, t, label_smoothing=0.1)
                      + (F(lib).cross_entropy(x, t, reduction="none") ** 2).sum()
                      + F(lib).nll_loss(x.log_softmax(1), t)
                      + F(lib).cross_entropy(x, t.new_tensor([0, -100, 4, 2]), weight=lib.arange(1., 6, dtype=x.dtype)),
                      [_r(4, 5), _targets([0, 3, 4, 2])]),
    "cross_entropy 3-d, soft targets": (lambda lib, x, p: F(lib).cross_entropy(x, x.new_zeros((4, 3), dtype=lib.long),
                                                                               reduction="sum")
                                        + F(lib).cross_entropy(x, p.softmax(1), label_smoothing=0.1),
                                        [_r(4, 5, 3), _r(4, 5, 3)]),
    "embedding": (lambda lib, w: (F(lib).embedding(lib.tensor([[0, 2], [2, 1]]), w) ** 3).sum(), [_r(4, 5)]),
    "pad/normalize/cosine": (lambda lib, x, y: (F(lib).pad(x, (1, 2, -1, 1)) ** 3).sum()
                             + (F(lib).normalize(x, dim=1) ** 3).sum()
                             + (F(lib).cosine_similarity(x, y) ** 3).sum()
                             + (F(lib).pairwise_distance(x, y) ** 3).sum(), [_r(4, 5), _r(4, 5)]),
    "pooling": (lambda lib, x: (F(lib).max_pool2d(x, 2) ** 3).sum() + (F(lib).avg_pool2d(x.tanh(), 3, 2, 1) ** 3).sum()
                + (F(lib).adaptive_avg_pool2d(x.tanh(), (3, 2)) ** 3).sum(), [_r(2, 3, 6, 6)]),
    "resampling and padding modes": (lambda lib, x, w: (F(lib).interpolate(x, scale_factor=2, mode="bilinear") ** 3).sum()
                                     + (F(lib).interpolate(x, size=(5, 7), mode="bicubic", align_corners=True) ** 3).sum()
                                     + (F(lib).interpolate(x, scale_factor=2) ** 3).sum()
                                     + sum((F(lib).pad(x, (2, 1, 1, 2), mode=m) ** 3).sum()
                                           for m in ("reflect", "replicate", "circular"))
                                     + (F(lib).conv2d(F(lib).pad(x, (1, 1, 1, 1), mode="reflect"), w) ** 3).sum(),
                                     [_r(1, 2, 4, 5), _r(3, 2, 3, 3)]),
    "linalg": (lambda lib, a, b: lib.linalg.det(a) ** 2 + (lib.linalg.inv(a) ** 2).sum()
               + (lib.linalg.solve(a, b) ** 2).sum() + lib.linalg.slogdet(a)[1]
               + (lib.linalg.cholesky(a @ a.mT + 3 * lib.eye(3, dtype=a.dtype)) ** 2).sum(),
               [_r(3, 3) + 3 * np.eye(3), _r(3, 2)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivatives_match_torch(name):
    fn, arrays = CASES[name]
    _pair(fn, arrays)


@pytest.mark.parametrize("kw", [{}, {"stride": 2}, {"dilation": 2, "padding": 2}, {"groups": 2}, {"transposed": True},
                                {"transposed": True, "stride": 2, "groups": 2}])
def test_convolution_second_derivatives(kw):
    kw = dict(kw)
    transposed = kw.pop("transposed", False)
    groups = kw.get("groups", 1)
    shape = (4, 6 // groups, 3, 3) if transposed else (6, 4 // groups, 3, 3)
    kw.setdefault("padding", 1)

    def fn(lib, x, w, b, w2):
        conv = F(lib).conv_transpose2d if transposed else F(lib).conv2d
        h = F(lib).leaky_relu(conv(x, w, b, **kw), 0.2)
        return (lib.tanh(F(lib).conv2d(h, w2, padding=1)) ** 2).sum()

    _pair(fn, [_r(2, 4, 7, 7), _r(*shape), _r(6), _r(2, 6, 3, 3)], rtol=1e-8)


def test_attention_second_derivatives():
    def reference(lib, q, k, v, causal=False, mask=None):
        if lib is mytorch:
            return F(lib).scaled_dot_product_attention(q, k, v, is_causal=causal, attn_mask=mask)
        s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril() if causal else mask
        return (s.masked_fill(~mask, -math.inf) if mask is not None else s).softmax(-1).nan_to_num() @ v

    mask = [[True, False, True, True]] * 3 + [[True, False, False, False]]
    _pair(lambda lib, q, k, v: (reference(lib, q, k, v) ** 2).sum()
          + (reference(lib, q, k, v, causal=True) ** 2).sum()
          + (reference(lib, q, k, v, mask=lib.tensor(mask)) ** 2).sum(), [_r(2, 4, 5), _r(2, 4, 5), _r(2, 4, 5)])


def test_compiled_cpu_bodies_second_derivatives():
    """float32 arrays large enough for the compiled CPU bodies (cross-entropy writing its gradient in the forward,
    layer norm rows, gelu, the attention softmax): the recorded backward still sees through them."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((512, 128)).astype(np.float32), (rng.standard_normal((128, 128)) * 0.1).astype(
        np.float32)
    t = rng.integers(0, 128, 512)
    t[5] = -100
    q = rng.standard_normal((2, 2, 128, 64)).astype(np.float32)
    results = []
    for lib in (mytorch, torch):
        xs, ws, qs = (lib.tensor(a, requires_grad=True) for a in (x, w, q))
        h = F(lib).gelu(F(lib).layer_norm(xs @ ws, (128,)))
        loss = F(lib).cross_entropy(h, lib.tensor(t), label_smoothing=0.1)
        if lib is mytorch:
            att = F(lib).scaled_dot_product_attention(qs, qs, qs, is_causal=True)
        else:  # torch's own sdpa has no double backward on the CPU: its math
            s = (qs @ qs.transpose(-1, -2) / 8).masked_fill(~torch.ones(128, 128, dtype=torch.bool).tril(), -math.inf)
            att = s.softmax(-1) @ qs
        loss = loss + att.square().mean()
        if lib is mytorch:
            assert loss.grad_fn.next_functions[0][0].cpu_grad  # the compiled cross-entropy body ran
        gw, gq = lib.autograd.grad(loss, (ws, qs), create_graph=True)
        ((gw ** 2).sum() + (gq ** 2).sum()).backward()
        results.append([gw, gq, ws.grad, xs.grad, qs.grad])
    for a, b in zip(*results):
        np.testing.assert_allclose(_np(a), _np(b), rtol=2e-4, atol=2e-4 * float(np.abs(_np(b)).max()))


def _wgan_critic(lib):
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 2, 1), torch.nn.LeakyReLU(0.2), torch.nn.Conv2d(8, 8, 3, 2, 1),
                              torch.nn.LayerNorm([8, 2, 2]), torch.nn.LeakyReLU(0.2), torch.nn.Flatten(),
                              torch.nn.Linear(32, 1)).double()
    if lib is torch:
        return ref
    mine = mytorch.nn.Sequential(mytorch.nn.Conv2d(3, 8, 3, 2, 1), mytorch.nn.LeakyReLU(0.2),
                                 mytorch.nn.Conv2d(8, 8, 3, 2, 1), mytorch.nn.LayerNorm([8, 2, 2]),
                                 mytorch.nn.LeakyReLU(0.2), mytorch.nn.Flatten(), mytorch.nn.Linear(32, 1)).double()
    mine.load_state_dict({k: mytorch.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    return mine


def test_wgan_gradient_penalty_step_matches_torch():
    """WGAN-GP: the critic loss plus lambda * (|d critic / d x_hat| - 1)^2 on interpolated images, one Adam step."""
    rng = np.random.default_rng(2)
    real, fake, eps = rng.standard_normal((4, 3, 8, 8)), rng.standard_normal((4, 3, 8, 8)), rng.random((4, 1, 1, 1))
    states = []
    for lib in (mytorch, torch):
        critic = _wgan_critic(lib)
        opt = lib.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.0, 0.9))
        for _ in range(2):
            r, f, e = lib.tensor(real), lib.tensor(fake), lib.tensor(eps)
            x_hat = (e * r + (1 - e) * f).requires_grad_(True)
            grad, = lib.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
            penalty = ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
            loss = critic(f).mean() - critic(r).mean() + 10 * penalty
            opt.zero_grad()
            loss.backward()
            opt.step()
        states.append([p.detach().numpy().copy() for p in critic.parameters()])
    for a, b in zip(*states):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


def test_maml_second_order_meta_gradient_matches_torch():
    """MAML: an inner SGD step taken with create_graph=True, the meta-gradient through it."""
    rng = np.random.default_rng(3)
    w1, b1, w2 = rng.standard_normal((16, 4)) * 0.5, np.zeros(16), rng.standard_normal((3, 16)) * 0.5
    xs, ys = rng.standard_normal((2, 10, 4)), rng.integers(0, 3, (2, 10))
    grads = []
    for lib in (mytorch, torch):
        params = [lib.tensor(a, requires_grad=True) for a in (w1, b1, w2)]

        def net(p, x):
            return F(lib).linear(F(lib).relu(F(lib).linear(x, p[0], p[1])).tanh(), p[2])

        inner = F(lib).cross_entropy(net(params, lib.tensor(xs[0])), lib.tensor(ys[0]))
        g = lib.autograd.grad(inner, params, create_graph=True)
        adapted = [p - 0.4 * gi for p, gi in zip(params, g)]
        outer = F(lib).cross_entropy(net(adapted, lib.tensor(xs[1])), lib.tensor(ys[1]))
        grads.append(lib.autograd.grad(outer, params))
    for a, b in zip(*grads):
        _close(a, b)


def test_pinn_second_derivative_in_the_loss():
    """A physics-informed loss: u_xx of a tanh MLP by two grads, then the loss's gradient w.r.t. the weights."""
    rng = np.random.default_rng(4)
    w1, b1, w2 = rng.standard_normal((8, 1)), rng.standard_normal(8), rng.standard_normal((1, 8))
    x = np.linspace(-1, 1, 7)[:, None]
    out = []
    for lib in (mytorch, torch):
        p = [lib.tensor(a, requires_grad=True) for a in (w1, b1, w2)]
        xs = lib.tensor(x, requires_grad=True)
        u = F(lib).linear(lib.tanh(F(lib).linear(xs, p[0], p[1])), p[2])
        u_x, = lib.autograd.grad(u.sum(), xs, create_graph=True)
        u_xx, = lib.autograd.grad(u_x.sum(), xs, create_graph=True)
        loss = ((u_xx + math.pi ** 2 * lib.sin(math.pi * xs)) ** 2).mean()
        out.append([u_xx] + list(lib.autograd.grad(loss, p)))
    for a, b in zip(*out):
        _close(a, b)


def test_hessian_vector_product_of_a_module_loss():
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.GELU(), torch.nn.Linear(6, 2)).double()
    mine = mytorch.nn.Sequential(mytorch.nn.Linear(4, 6), mytorch.nn.GELU(), mytorch.nn.Linear(6, 2)).double()
    mine.load_state_dict({k: mytorch.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    x, t = np.random.default_rng(5).standard_normal((5, 4)), np.array([0, 1, 1, 0, 1])
    vs = [np.random.default_rng(6).standard_normal(tuple(p.shape)) for p in ref.parameters()]
    hv = []
    for lib, model in ((mytorch, mine), (torch, ref)):
        params = list(model.parameters())
        loss = F(lib).cross_entropy(model(lib.tensor(x)), lib.tensor(t))
        grads = lib.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * lib.tensor(v)).sum() for g, v in zip(grads, vs))
        hv.append(lib.autograd.grad(dot, params))
    for a, b in zip(*hv):
        _close(a, b)


def test_backward_create_graph_leaves_a_differentiable_grad():
    """x.grad after backward(create_graph=True) is in the graph; a second backward adds to it out of place."""
    res = []
    for lib in (mytorch, torch):
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        with pytest.warns(UserWarning, match="reference cycle"):  # as PyTorch warns
            (x ** 3).sum().backward(create_graph=True)
        g = x.grad
        assert g.requires_grad and g.grad_fn is not None
        (g ** 2).sum().backward()
        res.append((g, x.grad))
    _close(res[0][0], res[1][0])
    _close(res[0][1], res[1][1])  # 3x^2 + d(sum 9x^4)/dx = 3x^2 + 36x^3


def test_third_derivative():
    x = mytorch.tensor([0.3, 1.2], dtype=mytorch.float64, requires_grad=True)
    y = (x.sin() + x ** 4).sum()
    d1, = mytorch.autograd.grad(y, x, create_graph=True)
    d2, = mytorch.autograd.grad(d1.sum(), x, create_graph=True)
    d3, = mytorch.autograd.grad(d2.sum(), x)
    v = x.detach().numpy()
    np.testing.assert_allclose(d3.numpy(), -np.cos(v) + 24 * v, rtol=1e-12)


def test_a_mask_derivative_gives_zeros_as_torch():
    """relu's gradient depends on x only through a mask: it still requires grad, and its derivative is 0."""
    for lib in (mytorch, torch):
        x = lib.tensor([-1.0, 2.0], dtype=lib.float64, requires_grad=True)
        g, = lib.autograd.grad(F(lib).relu(x).sum() * 3, x, create_graph=True)
        assert g.requires_grad
        h, = lib.autograd.grad(g.sum(), x, allow_unused=True)
        assert h is None or not h.numpy().any()


def test_user_function_with_a_tensor_backward_double_differentiates():
    class Cube(mytorch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return 3 * x ** 2 * grad

    x = mytorch.tensor([1.0, -2.0], dtype=mytorch.float64, requires_grad=True)
    g, = mytorch.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    h, = mytorch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [6.0, -12.0])


def test_an_op_without_a_recorded_backward_names_itself():
    x = mytorch.tensor([[0.5, 1.5]], dtype=mytorch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="RreluWithNoiseBackward0 is not implemented for create_graph=True"):
        mytorch.autograd.grad(mytorch.nn.functional.rrelu(x, training=True).sum(), x, create_graph=True)


def test_grad_runs_only_the_nodes_it_needs():
    """autograd.grad w.r.t. an intermediate tensor stops there, as PyTorch's engine does: nodes below it (here one
    whose backward would fail) don't run."""

    class Refuses(mytorch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            raise AssertionError("ran a backward autograd.grad does not need")

    x = mytorch.ones(3, requires_grad=True)
    h = Refuses.apply(x) * 2
    g, = mytorch.autograd.grad((h ** 2).sum(), h)
    np.testing.assert_allclose(g.numpy(), [4.0, 4.0, 4.0])
    other = mytorch.ones(3, requires_grad=True)
    g, = mytorch.autograd.grad((h * other).sum(), other)  # the branch through h isn't needed either
    np.testing.assert_allclose(g.numpy(), [2.0, 2.0, 2.0])


def test_gradgradcheck():
    x = mytorch.randn(3, 4, dtype=mytorch.float64, requires_grad=True)
    w = mytorch.randn(5, 4, dtype=mytorch.float64, requires_grad=True)
    assert mytorch.autograd.gradgradcheck(lambda x, w: F(mytorch).layer_norm(x @ w.T, (5,)).softmax(-1).tanh(),
                                          (x, w))


def test_gradgradcheck_catches_a_wrong_second_derivative(monkeypatch):
    from mytorch.ops import elementwise

    x = mytorch.tensor([0.3, 1.1], dtype=mytorch.float64, requires_grad=True)
    monkeypatch.setattr(elementwise.Sin, "deriv", staticmethod(lambda xp, x, y: xp.cos(x) if xp is np else xp.sin(x)))
    assert mytorch.autograd.gradcheck(lambda x: x.sin(), (x,))  # the first derivative is still right
    assert not mytorch.autograd.gradgradcheck(lambda x: x.sin(), (x,), raise_exception=False)


def test_func_transforms_compose():
    def f(lib):
        return lambda x: (x.sin() ** 2).sum() * x.prod()

    x = np.random.default_rng(7).random(4)
    mine, ref = mytorch.tensor(x), torch.tensor(x)
    _close(mytorch.func.grad(lambda y: mytorch.func.grad(f(mytorch))(y).sum())(mine),
           torch.func.grad(lambda y: torch.func.grad(f(torch))(y).sum())(ref))
    _close(mytorch.func.hessian(f(mytorch))(mine), torch.func.hessian(f(torch))(ref))
    _close(mytorch.func.jacrev(mytorch.func.grad(f(mytorch)))(mine), torch.func.jacfwd(torch.func.grad(f(torch)))(ref))
