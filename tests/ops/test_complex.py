"""Complex dtypes against PyTorch: promotion, construction, repr, complex/polar/views/conj/angle, complex
arithmetic with PyTorch's gradient convention, Llama-style RoPE trained for a few steps, and error messages."""
import numpy as np
import pytest
import torch

import mytorch

RNG = np.random.default_rng(0)


def crandn(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


Z = crandn(3, 4)
W = crandn(3, 4)
ZM = crandn(4, 2)
X = RNG.standard_normal((3, 4))
Y = RNG.standard_normal((3, 4))
PAIRS = RNG.standard_normal((3, 4, 2))


def _np(t):
    return t.detach().cpu().resolve_conj().numpy() if isinstance(t, torch.Tensor) else t.detach().cpu().numpy()


def _close(mine, ref, tol=1e-10):
    if isinstance(ref, (tuple, list)):
        for m, r in zip(mine, ref):
            _close(m, r, tol)
        return
    assert str(mine.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1], (mine.dtype, ref.dtype)
    assert tuple(mine.shape) == tuple(ref.shape), (mine.shape, ref.shape)
    if ref.dtype in (torch.float32, torch.complex64):
        tol = max(tol, 1e-6)
    np.testing.assert_allclose(_np(mine), _np(ref), rtol=tol, atol=tol)


def _real_loss(lib, out):
    """A real loss with a non-constant weight: (real, imag) pairs of a complex output count separately."""
    outs = out if isinstance(out, (tuple, list)) else [out]
    total = 0
    for o in outs:
        o = lib.view_as_real(o.resolve_conj()) if o.is_complex() else o
        w = lib.cos(lib.arange(o.numel(), dtype=o.dtype)).reshape(o.shape)
        total = total + (o * w).sum()
    return total


def check(fn, *arrays, grad=True, tol=1e-10):
    """fn(lib, *tensors) in mytorch and torch: same values, dtypes and input gradients."""
    results, grads = [], []
    for lib in (mytorch, torch):
        leaves = [lib.tensor(a.copy(), requires_grad=grad and a.dtype.kind in "fc") for a in arrays]
        out = fn(lib, *leaves)
        results.append(out)
        if grad and any(t.requires_grad for t in leaves) and getattr(out, "requires_grad", True):
            _real_loss(lib, out).backward()
            grads.append([t.grad for t in leaves])
    _close(results[0], results[1], tol)
    first = results[1][0] if isinstance(results[1], (tuple, list)) else results[1]
    if first.dtype in (torch.float32, torch.complex64):
        tol = max(tol, 1e-6)  # float64 input gradients computed through single precision
    if grads:
        for gm, gt in zip(*grads):
            assert (gm is None) == (gt is None)
            if gt is not None:
                _close(gm, gt, tol)


# (public op name, fn(lib, *tensors), input arrays)
CASES = [
    ("complex", lambda m, x, y: m.complex(x, y), [X, Y]),
    ("complex", lambda m, x, y: m.complex(x[:1], y[:, :1]), [X, Y]),  # broadcast
    ("polar", lambda m, r, t: m.polar(r, t), [X, Y]),
    ("polar", lambda m, r, t: m.polar(r.abs(), t[0]), [X, Y]),
    ("view_as_real", lambda m, z: m.view_as_real(z), [Z]),
    ("view_as_real", lambda m, z: m.view_as_real(z.t()) * 2, [Z]),  # strided complex input
    ("view_as_complex", lambda m, x: m.view_as_complex(x), [PAIRS]),
    ("view_as_complex", lambda m, x: m.view_as_complex(x[1:]) * 1j, [PAIRS]),
    ("view_as_complex", lambda m, x: m.view_as_real(m.view_as_complex(x) * (2 - 1j)), [PAIRS]),
    ("real", lambda m, z: m.real(z) * 3, [Z]),
    ("real", lambda m, z: z.real + z.imag ** 2, [Z]),
    ("real", lambda m, x: m.real(x), [X]),
    ("imag", lambda m, z: m.imag(z) * z.real, [Z]),
    ("conj", lambda m, z, w: m.conj(z) * w, [Z, W]),
    ("conj", lambda m, x: x.conj() * 2, [X]),
    ("conj_physical", lambda m, z, w: m.conj_physical(z) * w, [Z, W]),
    ("conj_physical", lambda m, x: m.conj_physical(x), [X]),
    ("resolve_conj", lambda m, z: m.resolve_conj(z.conj()) * 2, [Z]),
    ("resolve_neg", lambda m, z: m.resolve_neg(-z) * 2, [Z]),
    ("angle", lambda m, z: m.angle(z), [Z]),
    ("angle", lambda m, x: x.angle(), [X]),
    ("abs", lambda m, z: m.abs(z), [Z]),
    ("abs", lambda m, z: z.abs() ** 2 + z.abs().sqrt(), [Z]),
    ("isreal", lambda m, z: m.isreal(m.cat([z, z.real.to(z.dtype)])), [Z]),
    # arithmetic with PyTorch's conjugate-Wirtinger gradients
    ("mul", lambda m, z, w: z * w, [Z, W]),
    ("mul", lambda m, z, x: z * x, [Z, X]),  # real input: the real part of the gradient
    ("mul", lambda m, z: z * (2 + 3j), [Z]),
    ("mul", lambda m, x: x * 1j, [X]),
    ("div", lambda m, z, w: z / w, [Z, W]),
    ("div", lambda m, x, z: x / z, [X, Z]),
    ("add", lambda m, z, w: z + w - 2 * z, [Z, W]),
    ("add", lambda m, z, x: z + x, [Z, X]),
    ("matmul", lambda m, z, w: z @ w, [Z, ZM]),
    ("matmul", lambda m, z, w: z[0] @ w, [Z, ZM]),
    ("matmul", lambda m, z, w: m.matmul(z.t(), z) + w.sum(), [Z, ZM]),
    ("sum", lambda m, z: z.sum(), [Z]),
    ("sum", lambda m, z: z.sum(0) * z.mean(1, keepdim=True), [Z]),
    ("reshape", lambda m, z: z.reshape(2, 6).flatten()[3:] * z.view(-1)[:9], [Z]),
    ("getitem", lambda m, z: z[1:, [0, 2]] * z[0, 1], [Z]),
    ("exp", lambda m, z: m.exp(z) + m.log(z) + m.sin(z) * m.tanh(z), [Z]),
    ("pow", lambda m, z: z ** 3 + z.sqrt(), [Z]),
    ("type_as", lambda m, x, z: x.type_as(z) * z, [X, Z]),
    ("cfloat", lambda m, x: x.cfloat(), [X]),
    ("cdouble", lambda m, x: x.float().cdouble() * (1 + 1j), [X]),
    ("to", lambda m, z: z.to(m.float64) * 2, [Z]),  # complex -> real keeps the real part
    ("to", lambda m, z: z.to(m.complex64).abs(), [Z]),
    ("einsum", lambda m, z, w: m.einsum("ij,jk->ik", z, w), [Z, ZM]),
    ("tensordot", lambda m, z, w: m.tensordot(z, w, dims=1), [Z, ZM]),
    ("vdot", lambda m, z, w: m.vdot(z[0], w[:, 0]).reshape(1), [Z, ZM]),
    ("linear", lambda m, z, w: m.nn.functional.linear(z, w.t()), [Z, ZM]),
    ("prod", lambda m, z: z.prod(1), [Z]),
    ("sgn", lambda m, z: m.sgn(z) * z, [Z]),
    ("var", lambda m, z: z.var(1) + z.std(0).sum(), [Z]),
    ("vector_norm", lambda m, z: m.linalg.vector_norm(z, dim=1), [Z]),
    ("pow", lambda m, z, w: z[:, :2] ** w[:3], [Z, ZM]),
    ("trace", lambda m, z: m.trace(z[:, :3]).reshape(1), [Z]),
    ("sigmoid", lambda m, z: m.sigmoid(z) * z, [Z]),
    ("addmm", lambda m, c, z, w: m.addmm(c[:, :2], z, w, beta=0.5 - 1j, alpha=2j), [W, Z, ZM]),
    ("cumprod", lambda m, z: z.cumprod(1), [Z]),
    ("norm", lambda m, z: z.norm() + z.norm(p=1, dim=0).sum(), [Z]),
    ("matrix_norm", lambda m, z: m.linalg.matrix_norm(z) + m.linalg.matrix_norm(z, ord=m.inf), [Z]),
    ("isinf", lambda m, z: m.isinf(z * float("inf")) ^ m.isfinite(z) ^ m.isnan(z * float("nan")), [Z]),
    ("logsumexp", lambda m, z: m.logsumexp(z * 3, 1), [Z]),
    ("det", lambda m, z: m.linalg.det(z[:, :3]) + m.det(z[:, 1:]), [Z]),
    ("inv", lambda m, z: m.linalg.inv(z[:, :3]) @ z[:, 1:], [Z]),
    ("solve", lambda m, z, w: m.linalg.solve(z[:, :3], w[:3]) + m.linalg.solve(z[:, 1:], w[1:, 0]).sum(), [Z, ZM]),
    ("adjoint", lambda m, z: z.mH @ z + m.adjoint(z).sum() + z[:, :3].H.sum(), [Z]),
    ("eigh", lambda m, z: _eigh_phase_free(m, z[:, :3] + z[:, :3].mH), [Z]),
    ("qr", lambda m, z: m.linalg.qr(z), [Z]),
    ("qr", lambda m, z: m.linalg.qr(z.mT)[0] * 2, [Z]),
    ("cholesky", lambda m, z: m.linalg.cholesky(z[:, :3].mH @ z[:, :3] + 2 * m.eye(3)), [Z]),
    ("cholesky", lambda m, z: m.linalg.cholesky(z[:, :3].mH @ z[:, :3] + 2 * m.eye(3), upper=True), [Z]),
    ("svd", lambda m, z: _svd_phase_free(m, z, False), [Z]),
    ("svd", lambda m, z: _svd_phase_free(m, z.mT, True), [Z]),
    ("svdvals", lambda m, z: m.linalg.svdvals(z) + m.linalg.matrix_norm(z, ord=2) + m.linalg.matrix_norm(z, "nuc"), [Z]),
    ("conv1d", lambda m, z, w: m.nn.functional.conv1d(z[None], w.reshape(-1)[:6].reshape(2, 3, 1).repeat(1, 1, 2),
                                                      w.reshape(-1)[6:], padding=1), [Z, ZM]),
    ("conv2d", lambda m, z, w: m.nn.functional.conv2d(z[None, None], w.reshape(-1)[:4].reshape(1, 1, 2, 2),
                                                      stride=(1, 2)), [Z, ZM]),
    ("conv_transpose1d", lambda m, z, w: m.nn.functional.conv_transpose1d(
        z[None], w.reshape(-1)[:6].reshape(3, 1, 2), w.reshape(-1)[6:7], stride=2), [Z, ZM]),
]
def _eigh_phase_free(lib, A):
    """eigh through outputs that don't depend on each eigenvector's phase."""
    w, V = lib.linalg.eigh(A)
    return w * lib.arange(1.0, 4.0, dtype=w.dtype) + (V.abs() ** 2).sum(0) + lib.linalg.eigvalsh(A)


def _svd_phase_free(lib, A, full_matrices):
    """svd through outputs that don't depend on the phase of each singular pair."""
    U, S, Vh = lib.linalg.svd(A, full_matrices=full_matrices)
    k = S.shape[-1]
    U, Vh = U[..., :k], Vh[..., :k, :]
    return (U.abs() ** 2).sum(0) + (Vh.abs() ** 2).sum(1) * 2 + S, U @ Vh


COVERED = {name for name, _, _ in CASES} | {"is_complex", "is_conj", "is_neg", "conj_physical_", "imag"}


@pytest.mark.filterwarnings("ignore:Casting complex values to real")  # both libraries warn on complex -> real
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_against_torch(case):
    _, fn, arrays = case
    check(fn, *arrays)


def test_complex64_values_and_dtypes():
    check(lambda m, z, w: (z * w + z.conj()) @ w.t(), Z.astype(np.complex64), W.astype(np.complex64), tol=1e-5)
    check(lambda m, x, y: m.polar(x, y).abs(), X.astype(np.float32), Y.astype(np.float32), tol=1e-5)


@pytest.mark.parametrize("a,b", [("float32", "complex64"), ("float64", "complex64"), ("float16", "complex64"),
                                 ("int64", "complex128"), ("complex64", "complex128"), ("bool", "complex64")])
def test_promote_types(a, b):
    assert str(mytorch.promote_types(getattr(mytorch, a), getattr(mytorch, b))) == \
        str(torch.promote_types(getattr(torch, a), getattr(torch, b))).replace("torch.", "mytorch.")


@pytest.mark.parametrize("expr", [
    "lib.ones(2, dtype=lib.float64) * 1j", "lib.ones(2) * 1j", "lib.ones(2, dtype=lib.int64) * (1 + 2j)",
    "lib.ones(2) + lib.tensor(1j, dtype=lib.complex128)", "lib.ones(2, dtype=lib.float64) + lib.tensor(1j)",
    "lib.ones(2, dtype=lib.complex64) + lib.tensor(1.0, dtype=lib.float64)",
    "lib.ones(2, dtype=lib.complex64) + lib.ones(2, dtype=lib.float64)",
    "lib.tensor([1, 2.5, 3 + 1j])", "lib.tensor(np.array([1 + 2j], dtype=np.complex128))",
    "lib.tensor(np.complex64(1 - 1j))", "lib.tensor([[lib.tensor(1j), 2]])", "lib.arange(3).cfloat()",
    "lib.zeros(2, 2, dtype=lib.cdouble)", "lib.tensor([1.5, -2]).to(lib.complex64)",
])
def test_construction_and_promotion(expr):
    mine, ref = eval(expr, {"lib": mytorch, "np": np}), eval(expr, {"lib": torch, "np": np})
    _close(mine, ref)


def test_dtype_attributes_and_predicates():
    for name in ("complex64", "cfloat", "complex128", "cdouble"):
        d = getattr(mytorch, name)
        assert d.is_complex and not d.is_floating_point
        assert str(d).split(".")[-1] == str(getattr(torch, name)).split(".")[-1]
    assert mytorch.complex64.to_real() is mytorch.float32 and mytorch.float64.to_complex() is mytorch.complex128
    z = mytorch.tensor([1 + 2j])
    assert z.is_complex() and mytorch.is_complex(z) and not mytorch.is_complex(mytorch.ones(1))
    assert not z.is_floating_point() and not z.is_conj() and not z.conj().is_conj() and not z.is_neg()
    assert z.type() == torch.tensor([1 + 2j]).type() == "torch.ComplexFloatTensor"
    assert mytorch.tensor([1 + 2j], dtype=mytorch.cdouble).type() == "torch.ComplexDoubleTensor"
    item = z.item()
    assert isinstance(item, complex) and item == 1 + 2j
    assert complex(mytorch.tensor(3 - 1j)) == 3 - 1j
    assert mytorch.tensor([[1 + 1j, 2]]).tolist() == [[1 + 1j, 2 + 0j]]
    assert np.asarray(z).dtype == np.complex64
    assert mytorch.from_numpy(np.array([1j])).dtype is mytorch.complex128


@pytest.mark.parametrize("expr", [
    "lib.tensor([1 + 2j, 3.5 - 4j])", "lib.tensor([1 + 2j], dtype=lib.complex128)", "lib.tensor(1 + 1j)",
    "lib.tensor([[1e-5 + 2j, 100 - 1j]])", "lib.tensor([-0.5 - 0.25j, 1j, 0])",
    "lib.arange(12.).reshape(3, 4) * (1 - 2j)",
    "lib.tensor([1 + 1j], requires_grad=True) * 2", "lib.zeros(0, dtype=lib.complex64)",
    "lib.linspace(0, 1, 2000) * 1j",
])
def test_repr(expr):
    mine, ref = eval(expr, {"lib": mytorch}), eval(expr, {"lib": torch})
    expected = repr(ref).replace("torch.", "mytorch.")
    assert repr(mine) == expected


def test_real_and_imag_are_writable_views():
    for lib in (mytorch, torch):
        z = lib.zeros(3, dtype=lib.complex64)
        z.real.copy_(lib.tensor([1.0, 2.0, 3.0]))
        z.imag = lib.tensor([4.0, 5.0, 6.0])
        z.real[0] = -1
        v = lib.view_as_real(z)
        v[1, 1] = 9
        lib.view_as_complex(v)[2] = 7 + 8j
        np.testing.assert_array_equal(z.numpy(), np.array([-1 + 4j, 2 + 9j, 7 + 8j], dtype=np.complex64))


def test_grad_of_a_complex_leaf_is_complex():
    for lib in (mytorch, torch):
        z = lib.tensor([1 + 2j, -3 + 0.5j], requires_grad=True)
        (z * z.conj()).real.sum().backward()  # |z|^2: gradient 2z
        np.testing.assert_allclose(z.grad.numpy(), 2 * np.array([1 + 2j, -3 + 0.5j]), rtol=1e-6)
        assert z.grad.dtype == lib.complex64


def _rope(lib, xq, freqs_cis):
    """Llama's apply_rotary_emb."""
    xq_ = lib.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    fc = freqs_cis.view(1, xq_.shape[1], 1, xq_.shape[-1])
    return lib.view_as_real(xq_ * fc).flatten(3).type_as(xq)


def _train_rope(lib, steps=3):
    B, T, H, D = 2, 6, 2, 8
    rng = np.random.default_rng(7)
    w = lib.tensor(rng.standard_normal((H * D, H * D)).astype(np.float32) * 0.3, requires_grad=True)
    x = lib.tensor(rng.standard_normal((B, T, H * D)).astype(np.float32))
    target = lib.tensor(rng.standard_normal((B, T, H, D)).astype(np.float32))
    freqs = 1.0 / (10000.0 ** (lib.arange(0, D, 2)[: D // 2].float() / D))
    freqs = lib.outer(lib.arange(T, dtype=lib.float32), freqs)
    freqs_cis = lib.polar(lib.ones_like(freqs), freqs)
    opt = lib.optim.SGD([w], lr=0.1)
    losses = []
    for _ in range(steps):
        xq = (x @ w).view(B, T, H, D)
        out = _rope(lib, xq, freqs_cis)
        loss = ((out - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, w.detach().numpy().copy(), w.grad.numpy().copy()


def test_llama_rope_trains_like_torch():
    mine, ref = _train_rope(mytorch), _train_rope(torch)
    np.testing.assert_allclose(mine[0], ref[0], rtol=1e-6)
    np.testing.assert_allclose(mine[1], ref[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mine[2], ref[2], rtol=1e-4, atol=1e-7)
    assert mine[0][-1] < mine[0][0]


@pytest.mark.parametrize("expr,exc,msg", [
    ("lib.view_as_complex(lib.ones(2, 3))", RuntimeError, "Tensor must have a last dimension of size 2"),
    ("lib.view_as_complex(lib.ones(()))", RuntimeError, "Input tensor must have one or more dimensions"),
    ("lib.view_as_complex(lib.ones(2, 2, dtype=lib.int64))", RuntimeError,
     "view_as_complex is only supported for half, float and double tensors, but got a tensor of scalar type: Long"),
    ("lib.view_as_complex(lib.ones(2, 2).t())", RuntimeError, "Tensor must have a last dimension with stride 1"),
    ("lib.view_as_complex(lib.ones(3, 3)[:, :2])", RuntimeError,
     "Tensor must have a stride divisible by 2 for all but last dimension"),
    ("lib.view_as_real(lib.ones(2))", RuntimeError, "view_as_real is only supported for complex tensors"),
    ("lib.imag(lib.ones(2))", RuntimeError, "imag is not implemented for tensors with non-complex dtypes."),
    ("lib.ones(2).imag", RuntimeError, "imag is not implemented for tensors with non-complex dtypes."),
    ("lib.complex(lib.ones(2), lib.ones(2, dtype=lib.float64))", RuntimeError,
     "Expected object of scalar type Float but got scalar type Double for second argument"),
    ("lib.complex(lib.ones(2, dtype=lib.int64), lib.ones(2, dtype=lib.int64))", RuntimeError,
     "Expected both inputs to be Half, Float or Double tensors but got Long and Long"),
    ("lib.polar(lib.ones(2), lib.ones(3))", RuntimeError,
     "The size of tensor a (2) must match the size of tensor b (3)"),
    ("(lib.ones(2, requires_grad=True) * 1j).sum().backward()", RuntimeError,
     "grad can be implicitly created only for real scalar outputs but got"),
    ("lib.tensor([3 + 4j]).abs_()", RuntimeError, "In-place abs is not supported for complex tensors."),
])
def test_errors_match_torch(expr, exc, msg):
    for lib in (mytorch, torch):
        with pytest.raises(exc, match=msg.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
            eval(expr, {"lib": lib})


def test_complex32_is_a_clear_type_error():
    assert mytorch.chalf is mytorch.complex32 and mytorch.complex32.is_complex
    with pytest.raises(TypeError, match="complex32"):
        mytorch.ones(2, dtype=mytorch.chalf)
    with pytest.raises(TypeError, match="complex32"):
        mytorch.ones(2).chalf()


def _eig_loss(lib, A):
    """linalg.eig through a loss that ignores each eigenvector's phase (the only well-defined kind)."""
    L, V = lib.linalg.eig(A)
    w = lib.cos(lib.arange(V.numel(), dtype=lib.float64)).reshape(V.shape)
    order = lib.tensor(np.sin(np.arange(2 * L.numel())).reshape(*L.shape, 2))
    return L, (V.abs() ** 2 * w).sum() + (lib.view_as_real(L) * order).sum() + lib.linalg.eigvals(A).abs().sum()


@pytest.mark.parametrize("shape,cplx", [((4, 4), False), ((2, 3, 3), False), ((3, 3), True)])
def test_linalg_eig_against_torch(shape, cplx):
    rng = np.random.default_rng(3)
    A0 = rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if cplx else 0)
    out = []
    for lib in (mytorch, torch):
        A = lib.tensor(A0, requires_grad=True)
        L, loss = _eig_loss(lib, A)
        loss.backward()
        out.append((L, A.grad))
    (Lm, gm), (Lt, gt) = out
    assert str(Lm.dtype).split(".")[-1] == str(Lt.dtype).split(".")[-1] == "complex128"
    np.testing.assert_allclose(np.sort_complex(_np(Lm).reshape(-1)), np.sort_complex(_np(Lt).reshape(-1)), atol=1e-10)
    _close(gm, gt, 1e-9)


def test_linalg_eig_dtypes_and_errors():
    assert mytorch.linalg.eig(mytorch.eye(3)).eigenvectors.dtype is mytorch.complex64
    assert mytorch.linalg.eigvals(mytorch.eye(2, dtype=mytorch.float64)).dtype is mytorch.complex128
    with pytest.raises(RuntimeError, match="A must be batches of square matrices, but they are 2 by 3 matrices"):
        mytorch.linalg.eig(mytorch.ones(2, 3))
    with pytest.raises(RuntimeError, match="must have at least 2 dimensions"):
        mytorch.linalg.eigvals(mytorch.ones(3))
    with pytest.raises(RuntimeError, match="should not contain infs or NaNs"):
        mytorch.linalg.eig(mytorch.tensor([[1.0, float("nan")], [0.0, 1.0]]))


def test_complex_random_draws():
    mytorch.manual_seed(0)
    z = mytorch.randn(20000, dtype=mytorch.cfloat)
    assert z.dtype is mytorch.complex64 and abs(float((z.abs() ** 2).mean()) - 1) < 0.05  # E|z|^2 = 1, as PyTorch
    assert abs(float(z.real.std()) - 0.5 ** 0.5) < 0.02 and abs(float(z.imag.mean())) < 0.02
    u = mytorch.rand(1000, dtype=mytorch.cdouble)
    assert u.dtype is mytorch.complex128 and 0 <= float(u.real.min()) and float(u.imag.max()) < 1
    assert mytorch.randn_like(z[:3]).dtype is mytorch.complex64


@pytest.mark.parametrize("expr", ["lib.tensor([1j]) < 1", "lib.tensor([1j]) >= lib.tensor([2j])"])
def test_complex_numbers_have_no_order(expr):
    messages = []
    for lib in (mytorch, torch):
        with pytest.raises(NotImplementedError) as info:
            eval(expr, {"lib": lib})
        messages.append(str(info.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.1, amsgrad=True)),
                                         ("AdamW", dict(lr=0.1, weight_decay=0.1)), ("RMSprop", dict(lr=0.01)),
                                         ("Adagrad", dict(lr=0.1))])
def test_optimizers_step_complex_parameters_as_pairs_of_reals(name, kwargs):
    """PyTorch's optimizers treat a complex parameter as view_as_real pairs (Adam's second moment per part)."""
    out = []
    for lib in (mytorch, torch):
        z = lib.tensor(Z[:1, :3], requires_grad=True)
        w = lib.tensor([0.5, 2.0], requires_grad=True)
        opt = getattr(lib.optim, name)([z, w], **kwargs)
        for _ in range(4):
            loss = ((z * (2 - 1j)).abs() ** 2).sum() + z.real.sum() + (w ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        out.append((z, w, opt.state[z]))
    (zm, wm, sm), (zt, wt, st) = out
    _close(zm, zt)
    _close(wm, wt)
    assert sorted(sm) == sorted(st)
    for key in st:
        _close(sm[key], st[key])


def test_complex_tensors_save_and_load(tmp_path):
    z = mytorch.tensor([[1 + 2j, -3.5j]], dtype=mytorch.complex128)
    mytorch.save({"z": z}, tmp_path / "z.pt")
    back = mytorch.load(tmp_path / "z.pt")["z"]
    assert back.dtype is mytorch.complex128 and np.array_equal(back.numpy(), z.numpy())
    safetensors_torch = pytest.importorskip("safetensors.torch")
    c = np.array([1 + 2j, 3 - 4j], dtype=np.complex64)
    mytorch.serialization.save_file({"c": mytorch.tensor(c), "f": mytorch.ones(3)}, tmp_path / "m.safetensors")
    safetensors_torch.save_file({"c": torch.tensor(c), "f": torch.ones(3)}, tmp_path / "t.safetensors")
    assert (tmp_path / "m.safetensors").read_bytes() == (tmp_path / "t.safetensors").read_bytes()  # "C64"
    np.testing.assert_array_equal(mytorch.serialization.load_file(tmp_path / "t.safetensors")["c"].numpy(), c)


def _inplace_on_views(lib, variant):
    a = lib.tensor([1 + 2j, 3 - 1j, 0.5j], requires_grad=True)
    b = lib.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    w = lib.tensor([1 - 1j, 2 + 0.5j, -1j])
    if variant == "real/imag":
        z = a.clone()
        z.real.mul_(2)
        z.imag[0] = 5.0
        out = (z * w).real.sum()
    elif variant == "view_as_real":
        z = a.clone()
        lib.view_as_real(z)[1].mul_(lib.tensor([3.0, -1.0]))
        out = (z * w).imag.sum()
    elif variant == "view_as_complex":
        c = b.clone()
        lib.view_as_complex(c).mul_(1 + 2j)
        out = (c * lib.tensor([[1.0, -2.0], [0.5, 3.0], [2.0, 1.0]])).sum() + (lib.view_as_complex(c) * w).real.sum()
    else:
        z = a.clone()
        z.imag.copy_(b[:, 0] * 2)
        out = (z * w).abs().sum()
    out.backward()
    return a.grad, b.grad


@pytest.mark.parametrize("variant", ["real/imag", "view_as_real", "view_as_complex", "copy_"])
def test_inplace_ops_on_complex_views_carry_gradients(variant):
    for m, r in zip(_inplace_on_views(mytorch, variant), _inplace_on_views(torch, variant)):
        assert (m is None) == (r is None)
        if r is not None:
            _close(m, r)


# the CUDA path (cupy.fft, device placement of views and gradients) on the strict fake GPU, in a subprocess
_FAKE_GPU_SCRIPT = r'''
import numpy as np
import mytorch

rng = np.random.default_rng(0)
x0 = rng.standard_normal((2, 6, 8))
z0 = x0 + 1j * rng.standard_normal((2, 6, 8))


def run(device):
    out = []
    x = mytorch.tensor(x0, device=device, requires_grad=True)
    z = mytorch.tensor(z0, device=device, requires_grad=True)
    pieces = [mytorch.fft.fft(z, n=5), mytorch.fft.rfftn(x, s=(4, 6)), mytorch.fft.irfft2(z), mytorch.fft.hfft(z, n=7),
              mytorch.fft.ihfftn(x), mytorch.stft(x[0, 0], 4, hop_length=2, return_complex=True)]
    freqs = mytorch.outer(mytorch.arange(6, device=device, dtype=mytorch.float64),
                          mytorch.arange(4, device=device, dtype=mytorch.float64) * 0.1)
    cis = mytorch.polar(mytorch.ones_like(freqs), freqs)
    rope = mytorch.view_as_real(mytorch.view_as_complex(x.reshape(2, 6, 4, 2)) * cis).flatten(2)
    pieces += [rope, mytorch.linalg.eigvals(x[0, :, :6]), z.real * z.imag, mytorch.angle(z) + z.abs(),
               (z @ z.mT.conj()).sum(-1), mytorch.view_as_real(z.t() if z.ndim == 2 else z[0].t())]
    loss = 0
    for p in pieces:
        p = mytorch.view_as_real(p) if p.is_complex() else p
        loss = loss + (p * mytorch.cos(mytorch.arange(p.numel(), device=device, dtype=p.dtype)).reshape(p.shape)).sum()
    loss.backward()
    assert x.grad.device == x.device and z.grad.device == z.device
    for t in pieces + [x.grad, z.grad]:
        out.append(t.detach().cpu().numpy())
    return out


for a, b in zip(run("cpu"), run("cuda")):
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
print("same on cuda")
'''


def test_complex_and_fft_on_the_fake_gpu_match_the_cpu():
    import os
    import subprocess
    import sys

    env = dict(os.environ, MYTORCH_FAKE_CUDA="1")
    env.pop("MYTORCH_TEST_DEVICE", None)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    run = subprocess.run([sys.executable, "-c", _FAKE_GPU_SCRIPT], env=env, cwd=root, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and "same on cuda" in run.stdout, run.stderr[-3000:]


def test_user_autograd_function_with_complex_output():
    grads = []
    for lib in (mytorch, torch):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, z):
                ctx.save_for_backward(z)
                return z * z

            @staticmethod
            def backward(ctx, grad):
                z, = ctx.saved_tensors
                return grad * (2 * z).conj()

        z = lib.tensor([1 + 2j, -0.5j], requires_grad=True)
        out = Square.apply(z)
        assert out.requires_grad
        out.abs().sum().backward()
        grads.append(z.grad)
    _close(*grads)


def test_gradcheck_takes_complex_tensors():
    z = mytorch.tensor(Z[0, :3], requires_grad=True)
    x = mytorch.tensor(np.abs(X[0, :3]) + 0.5, requires_grad=True)
    gradcheck = mytorch.autograd.gradcheck
    assert gradcheck(lambda z, x: z * z * x + z.conj() / x, (z, x))
    assert gradcheck(lambda z: z.abs() ** 2 + z.angle() + mytorch.sgn(z).real, (z,))
    assert gradcheck(lambda r, t: mytorch.view_as_real(mytorch.polar(r, t)), (x, x.detach().clone().requires_grad_()))

    class MissingConj(mytorch.autograd.Function):  # z * z with grad * 2z instead of grad * conj(2z)
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return z * z

        @staticmethod
        def backward(ctx, grad):
            return grad * 2 * ctx.saved_tensors[0]

    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        gradcheck(MissingConj.apply, (z,))


def test_complex_random_fills_and_module_conversion():
    mytorch.manual_seed(0)
    x = mytorch.empty(40000, dtype=mytorch.cfloat).normal_(5, 2)  # each part N(5, 2 / sqrt(2)), as PyTorch
    assert abs(float(x.imag.mean()) - 5) < 0.05 and abs(float(x.real.std()) - 2 ** 0.5) < 0.05
    u = mytorch.empty(1000, dtype=mytorch.cfloat).uniform_(2, 3)
    assert 2 <= float(u.imag.min()) and float(u.imag.max()) < 3 and 2 <= float(u.real.min())
    layer = mytorch.nn.Linear(3, 2).to(mytorch.cfloat)
    assert layer.weight.dtype is mytorch.complex64 and layer.bias.dtype is mytorch.complex64


def test_complex_linear_layer_trains_like_torch():
    w0, b0 = ZM.T[:, :4].copy(), W[0, :2].copy()
    x0, y0 = Z[:, :4], W[:, :2]
    results = []
    for lib in (mytorch, torch):
        layer = lib.nn.Linear(4, 2, dtype=lib.complex128)
        with lib.no_grad():
            layer.weight.copy_(lib.tensor(w0))
            layer.bias.copy_(lib.tensor(b0))
        opt = lib.optim.Adam(layer.parameters(), lr=0.05)
        losses = []
        for _ in range(3):
            loss = (layer(lib.tensor(x0)) - lib.tensor(y0)).abs().pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        results.append((losses, layer.weight, layer.bias))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10)
    _close(results[0][1], results[1][1])
    _close(results[0][2], results[1][2])


@pytest.mark.parametrize("name,args", [("max", ()), ("amax", (0,)), ("argmax", ()), ("sort", ()), ("topk", (1,)),
                                       ("clamp", (0, 1)), ("maximum", "z"), ("median", ()), ("floor", ()),
                                       ("sign", ()), ("fmod", (1,)), ("cummax", (0,))])
def test_complex_refusals_match_torch(name, args):
    """Ops with no meaning for complex numbers (order, rounding) raise PyTorch's error, function and method."""
    errors = []
    for lib in (mytorch, torch):
        z = lib.tensor([1j, 2])
        call_args = (z,) if args == "z" else args
        for call in (lambda: getattr(lib, name)(z, *call_args), lambda: getattr(z, name)(*call_args)):
            with pytest.raises((RuntimeError, NotImplementedError)) as info:
                call()
            errors.append((info.type, str(info.value).strip()))
    assert errors[:2] == errors[2:]
