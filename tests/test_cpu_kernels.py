"""The compiled CPU bodies (mytorch.cpu_kernels, numba) against PyTorch and against mytorch's own numpy
bodies, which stay the reference. The size threshold is lowered so that small inputs take the compiled
path, and the threading one too, so that every call runs the parallel twin on several threads."""
import numpy as np
import pytest
import torch

import mytorch
from mytorch import cpu_kernels

numba = pytest.importorskip("numba", reason="the compiled CPU bodies need numba")
from mytorch.cpu_kernels import _math, _parallel, activations  # noqa: E402
from mytorch.cpu_kernels import layer_norm as cpu_ln  # noqa: E402
from mytorch.cpu_kernels import softmax as cpu_softmax  # noqa: E402

F = mytorch.nn.functional
TF = torch.nn.functional


@pytest.fixture(autouse=True)
def compiled_everywhere(monkeypatch):
    monkeypatch.setattr(cpu_kernels, "MIN_SIZE", 1)
    monkeypatch.setattr(cpu_kernels, "PAR_MIN", 1)
    monkeypatch.setattr(cpu_kernels, "PAR_MIN_ARITH", 1)
    # torch, imported here, has loaded GNU OpenMP, which makes the library keep to its serial twins (see
    # _parallel.py); the values are what these tests check, so let the parallel twins run on that pool
    monkeypatch.setattr(_parallel, "_gomp_loaded", lambda: False)
    if _parallel._state["layer"] is False:
        monkeypatch.setitem(_parallel._state, "layer", None)
    monkeypatch.setattr(mytorch._threads, "_intra_op", 3)  # three ranges, even on a 2-core machine
    monkeypatch.setitem(cpu_kernels._state, "available", True)


def numpy_path(monkeypatch):
    monkeypatch.setitem(cpu_kernels._state, "available", False)


def run(lib, fn, arrays, grad):
    ts = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(lib.tensor(grad))
    return [out.detach().numpy()] + [t.grad.numpy() for t in ts]


def compare(fn_my, fn_torch, arrays, monkeypatch, atol=2e-6, rtol=2e-6):
    """compiled vs PyTorch float64 (within float32 rounding), and vs the numpy body (closer still)."""
    g = np.random.default_rng(1).standard_normal(np.shape(fn_torch(*[torch.tensor(a) for a in arrays]))).astype(
        np.float32)
    mine = run(mytorch, fn_my, arrays, g)
    ref = run(torch, fn_torch, [a.astype(np.float64) for a in arrays], g.astype(np.float64))
    for a, b in zip(mine, ref):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=atol * max(1.0, np.abs(b).max()), rtol=rtol)
    numpy_path(monkeypatch)
    base = run(mytorch, fn_my, arrays, g)
    for a, b, r in zip(mine, base, ref):  # no worse than the numpy body, give or take a few float32 ulps
        assert np.abs(a - r).max() <= 4 * np.abs(b - r).max() + 4e-7 * max(1.0, np.abs(r).max())


GRID = np.concatenate([np.linspace(-20, 20, 4001), [0.0, -0.0, 1e-30, -1e-30, 1e-8, 60.0, -60.0]]).astype(np.float32)


@pytest.mark.parametrize("name,my,ref", [
    ("gelu", lambda x: F.gelu(x), lambda x: TF.gelu(x)),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    ("silu", F.silu, TF.silu),
])
def test_activations_match_torch(name, my, ref, monkeypatch):
    compare(my, ref, [GRID], monkeypatch)
    x = np.random.default_rng(0).standard_normal((3, 5, 7)).astype(np.float32) * 4
    compare(my, ref, [x], monkeypatch)


def test_activations_take_the_compiled_path(monkeypatch):
    calls = []
    monkeypatch.setattr(activations, "forward", lambda name, x, f=activations.forward: calls.append(name) or f(name, x))
    F.gelu(mytorch.randn(4, 4))
    F.gelu(mytorch.randn(4, 4, dtype=mytorch.float64))  # float64 stays on numpy
    F.gelu(mytorch.randn(4, 4).t())  # so does a strided view
    assert calls == ["gelu"]


def test_math_accuracy():
    import numba

    @numba.njit
    def apply(x, out, which):
        for i in range(x.shape[0]):
            out[i] = _math.tanh(x[i]) if which == 0 else (_math.erf(x[i]) if which == 1 else _math.exp(x[i]))

    import math

    x = np.linspace(-12, 12, 2_000_001).astype(np.float32)
    out = np.empty_like(x)
    for which, exact in ((0, np.tanh), (1, np.vectorize(math.erf))):
        apply(x, out, which)
        assert np.abs(out - exact(x.astype(np.float64))).max() < 5e-7
    z = -np.abs(np.linspace(0, 120, 2_000_001)).astype(np.float32)
    out = np.empty_like(z)
    apply(z, out, 2)
    want = np.exp(z.astype(np.float64))
    assert np.all(np.abs(out - want) <= 4 * np.spacing(want.astype(np.float32)) + 1e-45)
    assert out[-1] == 0.0 and out[0] == 1.0


@pytest.mark.parametrize("shape,nshape,affine", [((6, 33), (33,), True), ((2, 5, 16), (16,), False),
                                                  ((3, 4, 5, 6), (5, 6), True)])
def test_layer_norm_matches_torch(shape, nshape, affine, monkeypatch):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
    if affine:
        w, b = (rng.standard_normal(nshape).astype(np.float32) for _ in range(2))
        compare(lambda x, w, b: F.layer_norm(x, nshape, w, b), lambda x, w, b: TF.layer_norm(x, nshape, w, b),
                [x, w, b], monkeypatch, atol=1e-5, rtol=1e-5)
    else:
        compare(lambda x: F.layer_norm(x, nshape), lambda x: TF.layer_norm(x, nshape), [x], monkeypatch,
                atol=1e-5, rtol=1e-5)


def test_rms_norm_matches_torch(monkeypatch):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 9, 24)).astype(np.float32), rng.standard_normal(24).astype(np.float32)
    compare(lambda x, w: F.rms_norm(x, (24,), w, eps=1e-6), lambda x, w: TF.rms_norm(x, (24,), w, eps=1e-6),
            [x, w], monkeypatch, atol=1e-5, rtol=1e-5)


def test_layer_norm_threads_agree(monkeypatch):
    """Rows don't depend on how they are split over threads; only the dw/db partial sums are regrouped."""
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((2, 50, 40)).astype(np.float32)
    w, b = rng.standard_normal((2, 40)).astype(np.float32)
    results = []
    for threads in (1, 4):
        monkeypatch.setattr(mytorch._threads, "_intra_op", threads)
        y, mean, rstd = cpu_ln.forward(x, w, b, 1e-5, False)
        results.append((y, mean, rstd) + cpu_ln.backward(dy, x, w, mean, rstd, False, True, True))
    for a, b in zip(*results[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][3], results[1][3])


@pytest.mark.parametrize("log", [False, True])
def test_softmax_matches_torch(log, monkeypatch):
    x = (np.random.default_rng(0).standard_normal((7, 33)) * 5).astype(np.float32)
    x[2, 5] = -np.inf
    fn = (lambda lib: lambda t: (lib.log_softmax if log else lib.softmax)(t, -1))
    if log:  # the -inf entry's log-probability is -inf on both sides: compare the finite ones and the grads
        x[2, 5] = -50.0
    compare(fn(mytorch), fn(torch), [x], monkeypatch, atol=3e-6)


def test_softmax_special_rows_fall_back_to_numpy():
    x = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    for bad in (np.nan, np.inf):
        x2 = x.copy()
        x2[1, 3] = bad
        assert cpu_softmax.forward(x2) is None
        with np.errstate(invalid="ignore"):
            got = mytorch.softmax(mytorch.tensor(x2), -1).numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(torch.softmax(torch.tensor(x2), -1).numpy()))
    with np.errstate(invalid="ignore"):
        rows = mytorch.softmax(mytorch.full((2, 3), float("-inf")), -1).numpy()
    assert np.isnan(rows).all()  # PyTorch's answer for a row that is all -inf


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_matches_torch(reduction, smoothing, monkeypatch):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((40, 17)) * 4).astype(np.float32)
    target = rng.integers(0, 17, 40)
    target[::5] = 3  # and ignore_index rows
    fn = (lambda lib: lambda t: lib.nn.functional.cross_entropy(t, lib.tensor(target), ignore_index=3,
                                                                 reduction=reduction, label_smoothing=smoothing))
    out = fn(mytorch)(mytorch.tensor(x, requires_grad=True))
    assert out.grad_fn.cpu_grad  # the compiled body ran
    compare(fn(mytorch), fn(torch), [x], monkeypatch, atol=3e-6)


def test_cross_entropy_special_rows_fall_back_to_numpy():
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    target = np.arange(6) % 5
    from mytorch.cpu_kernels import cross_entropy as cpu_ce

    assert cpu_ce.forward(x, target, -100, 0.0) is not None
    for bad in (np.inf, np.nan):
        x2 = x.copy()
        x2[1, 3] = bad
        assert cpu_ce.forward(x2, target, -100, 0.0) is None
        xm, xt = mytorch.tensor(x2, requires_grad=True), torch.tensor(x2, requires_grad=True)
        with np.errstate(invalid="ignore"):
            got = mytorch.nn.functional.cross_entropy(xm, mytorch.tensor(target))
            got.backward()
        want = torch.nn.functional.cross_entropy(xt, torch.tensor(target))
        want.backward()
        assert not got.grad_fn.cpu_grad and np.isnan(got.item()) and np.isnan(want.item())
        np.testing.assert_array_equal(np.isnan(xm.grad.numpy()), np.isnan(xt.grad.numpy()))
    every = mytorch.tensor(x, requires_grad=True)  # no row counts: loss nan, gradient 0, as in PyTorch
    loss = mytorch.nn.functional.cross_entropy(every, mytorch.full((6,), -100, dtype=mytorch.long))
    loss.backward()
    assert loss.grad_fn.cpu_grad and np.isnan(loss.item()) and not every.grad.numpy().any()


@pytest.mark.parametrize("lq,lk,causal,heads", [(7, 7, True, (4, 4)), (5, 9, True, (4, 2)), (9, 4, False, (2, 2))])
def test_attention_matches_torch(lq, lk, causal, heads, monkeypatch):
    rng = np.random.default_rng(0)
    hq, hk = heads
    q = rng.standard_normal((2, hq, lq, 16)).astype(np.float32)
    k, v = (rng.standard_normal((2, hk, lk, 16)).astype(np.float32) for _ in range(2))

    def attn(lib):
        return lambda q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                                                              enable_gqa=hq != hk, scale=0.3)
    compare(attn(mytorch), attn(torch), [q, k, v], monkeypatch, atol=3e-6)


def test_embedding_backward_scatter(monkeypatch):
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 10, (6, 7))
    w = rng.standard_normal((10, 5)).astype(np.float32)
    g = rng.standard_normal((6, 7, 5)).astype(np.float32)
    got = []
    for on in (True, False):
        monkeypatch.setitem(cpu_kernels._state, "available", on)
        W = mytorch.tensor(w, requires_grad=True)
        F.embedding(mytorch.tensor(idx), W).backward(mytorch.tensor(g))
        got.append(W.grad.numpy())
    np.testing.assert_array_equal(got[0], got[1])  # same order of additions as np.add.at
    W = torch.tensor(w, requires_grad=True)
    TF.embedding(torch.tensor(idx), W).backward(torch.tensor(g))
    np.testing.assert_allclose(got[0], W.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_switch_off_by_environment(monkeypatch):
    monkeypatch.setenv("MYTORCH_CPU_KERNELS", "0")
    monkeypatch.setitem(cpu_kernels._state, "available", None)
    assert not cpu_kernels.available()
    assert not cpu_kernels.use(np.zeros(10, np.float32))


@pytest.mark.parametrize("view", [lambda a: a.T, lambda a: a.reshape(4, 6, 10).transpose(0, 2, 1),
                                  lambda a: a.reshape(2, 2, 6, 10).swapaxes(-1, -2)])
def test_transposed_copies(view):
    a = np.random.default_rng(0).standard_normal((24, 10)).astype(np.float32)
    v = view(a)
    got = cpu_kernels.contiguous_copy(v)
    assert got.flags.c_contiguous and not np.shares_memory(got, a)
    np.testing.assert_array_equal(got, v)
    t = mytorch.tensor(a, requires_grad=True)
    out = (t.t() if v.ndim == 2 else t.reshape(4, 6, 10).transpose(-1, -2)).reshape(-1)
    out.backward(mytorch.arange(out.numel(), dtype=mytorch.float32))
    ref = torch.tensor(a, requires_grad=True)
    rout = (ref.t() if v.ndim == 2 else ref.reshape(4, 6, 10).transpose(-1, -2)).reshape(-1)
    rout.backward(torch.arange(rout.numel(), dtype=torch.float32))
    np.testing.assert_array_equal(out.detach().numpy(), rout.detach().numpy())
    np.testing.assert_array_equal(t.grad.numpy(), ref.grad.numpy())


@pytest.mark.parametrize("reduce", [lambda t: t.sum(), lambda t: t.sum(-1), lambda t: t.mean((-2, -1)),
                                    lambda t: t.mean(-1, keepdim=True), lambda t: t.sum((1, 2), keepdim=True)])
def test_trailing_sums(reduce):
    a = (np.random.default_rng(0).standard_normal((3, 40, 700)) + 0.5).astype(np.float32)
    got, want = reduce(mytorch.tensor(a)), reduce(torch.tensor(a, dtype=torch.float64))
    assert got.dtype == mytorch.float32 and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6 * a.size)


def test_adamw_step_is_bit_identical_to_the_numpy_body(monkeypatch):
    """Same parameters after 3 AdamW steps with the compiled update and with numpy's; and PyTorch's."""
    rng = np.random.default_rng(0)
    w0, grads = rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal((3, 5, 7)).astype(np.float32)
    results = []
    for on in (True, False):
        monkeypatch.setitem(cpu_kernels._state, "available", on)
        w = mytorch.nn.Parameter(mytorch.tensor(w0))
        opt = mytorch.optim.AdamW([w], lr=0.01, weight_decay=0.1, betas=(0.9, 0.99))
        for g in grads:
            w.grad = mytorch.tensor(g)
            opt.step()
        results.append(w.detach().numpy())
    np.testing.assert_array_equal(results[0], results[1])
    w = torch.nn.Parameter(torch.tensor(w0))
    opt = torch.optim.AdamW([w], lr=0.01, weight_decay=0.1, betas=(0.9, 0.99))
    for g in grads:
        w.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(results[0], w.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_parallel_twin_runs_where_the_layer_allows():
    """With the threshold lowered, a large-enough call runs the parallel twin (OpenMP or TBB layer), whose
    values equal the serial twin's."""
    if not _parallel._layer():
        pytest.skip("numba has no OpenMP or TBB threading layer here")
    x = np.random.default_rng(0).standard_normal((64, 33)).astype(np.float32)
    assert _parallel.threads(x.size) == min(3, _parallel.nb.config.NUMBA_NUM_THREADS) > 1
    # both outputs at the same offset from a 64-byte boundary: a row's vectorised sums start where the
    # output's alignment lets them, so the last bit can differ between differently aligned outputs
    y_par, y_ser = np.empty((2,) + x.shape, np.float32)
    assert cpu_softmax._fwd.run(_parallel.threads(x.size), x, y_par, np.float32(1.0), 0, False) == 0
    cpu_softmax._fwd.serial(x, y_ser, np.float32(1.0), 0, False)
    np.testing.assert_array_equal(y_par, y_ser)


@pytest.mark.parametrize("ufunc", [np.add, np.subtract, np.multiply, np.divide])
@pytest.mark.parametrize("row", [False, True])
def test_threaded_arithmetic_is_numpy_bit_for_bit(ufunc, row):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((37, 29)).astype(np.float32)
    y = rng.standard_normal(29 if row else (37, 29)).astype(np.float32)
    x[0, :4] = [np.nan, np.inf, -np.inf, 0.0]
    y[..., :4] = 0.0
    with np.errstate(all="ignore"):
        got, want = cpu_kernels.binary(ufunc, x, y), ufunc(x, y)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    mx, my_ = mytorch.tensor(x, requires_grad=True), mytorch.tensor(y, requires_grad=True)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    if ufunc is not np.divide:
        op = {np.add: lambda a, b: a + b, np.subtract: lambda a, b: a - b, np.multiply: lambda a, b: a * b}[ufunc]
        g = rng.standard_normal((37, 29)).astype(np.float32)
        op(mx, my_).backward(mytorch.tensor(g))
        op(tx, ty).backward(torch.tensor(g))
        np.testing.assert_array_equal(mx.grad.numpy(), tx.grad.numpy())
        np.testing.assert_allclose(my_.grad.numpy(), ty.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_threaded_relu_and_its_gradient():
    x = np.random.default_rng(0).standard_normal((40, 30)).astype(np.float32)
    x[0, :3] = [np.nan, -0.0, np.inf]
    np.testing.assert_array_equal(cpu_kernels.relu(x), np.maximum(x, 0))
    for relu in (mytorch.relu, F.relu, lambda t: t.relu()):
        t = mytorch.tensor(x, requires_grad=True)
        g = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
        relu(t).backward(mytorch.tensor(g))
        tt = torch.tensor(x, requires_grad=True)
        torch.relu(tt).backward(torch.tensor(g))
        np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_forked_child_runs_the_serial_twin():
    """GNU OpenMP can't be used after fork (numba kills a child that tries): a child of a process that has
    started the pool must compute with the serial twins."""
    import os

    x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
    want = cpu_kernels.binary(np.add, x, x)  # starts the pool in this process
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        ok = _parallel.threads(x.size) == 1 and np.array_equal(cpu_kernels.binary(np.add, x, x), want)
        ok = ok and cpu_softmax.forward(x) is not None
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


@pytest.mark.parametrize("scale", [1.0, 0.125, 0.35355339])
def test_causal_softmax_takes_the_compiled_path(scale):
    """Ordinary score rows (the first causal row sees one key) are done by the compiled body, not handed
    back to numpy: the row maximum's own term must count as exp(0) whatever the rounding of x * scale."""
    x = np.random.default_rng(0).standard_normal((4 * 64, 64)).astype(np.float32) * 3
    y = cpu_softmax.forward(x, scale, 64)
    assert y is not None
    ref = torch.softmax(torch.tensor(x, dtype=torch.float64) * scale + torch.triu(
        torch.full((64, 64), -float("inf"), dtype=torch.float64), 1).repeat(4, 1), -1).numpy()
    np.testing.assert_allclose(y, ref, atol=2e-6, rtol=2e-6)


def test_serial_twins_beside_another_gnu_openmp(monkeypatch):
    """Where another library already loaded GNU OpenMP (its pool spins) and no OMP_WAIT_POLICY is set, the
    bodies keep to one thread rather than fight numpy's BLAS threads for the cores."""
    monkeypatch.setattr(_parallel, "_gomp_loaded", lambda: True)
    monkeypatch.setitem(_parallel._state, "layer", None)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    assert _parallel.threads(1 << 22) == 1
    x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
    np.testing.assert_array_equal(cpu_kernels.binary(np.add, x, x), x + x)


def test_warm_up_compiles_both_twins():
    cpu_kernels.warm_up()
    assert _parallel._state["forced"] is None
    assert activations._FWD["gelu"].serial.signatures
    if _parallel._layer():
        assert activations._FWD["gelu"].parallel.signatures and cpu_ln._bwd.parallel.signatures


def test_relu_gradient_at_nan_on_the_numpy_path(monkeypatch):
    """Without the compiled bodies relu's gradient follows PyTorch too: a nan input passes its gradient."""
    numpy_path(monkeypatch)
    x = np.array([np.nan, -1.0, 2.0, 0.0, -0.0], np.float32)
    for relu in (mytorch.relu, F.relu):
        t = mytorch.tensor(x, requires_grad=True)
        relu(t).backward(mytorch.ones(5))
        tt = torch.tensor(x, requires_grad=True)
        torch.relu(tt).backward(torch.ones(5))
        np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())


def _special(a):
    a.reshape(-1)[:5] = [np.nan, np.inf, -np.inf, 0.0, -0.0]
    return a


def test_where_is_numpy_bit_for_bit():
    rng = np.random.default_rng(0)
    x, y = _special(rng.standard_normal((31, 17)).astype(np.float32)), rng.standard_normal((31, 17)).astype(np.float32)
    cond = rng.standard_normal((31, 17)) > 0
    value = np.asarray(np.float32(-2.5))
    for a, b in ((x, y), (x, value), (value, y), (value, value[None, None]), (np.broadcast_to(value, x.shape), y),
                 (x, np.float32(3)), (x.T.copy().T, y), (x, y[:1])):
        got = cpu_kernels.where(cond, a, b)
        want = np.where(cond, a, b)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_where_forward_and_backward_match_torch():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((40, 30)).astype(np.float32) for _ in range(2)]
    for reduce in (lambda o: o.sum(), lambda o: (o * o).sum()):
        results = []
        for lib in (mytorch, torch):
            a, b = (lib.tensor(x, requires_grad=True) for x in arrays)
            out = lib.where(a > 0, a, b) + lib.where(b > 0.5, 1.5, a)
            reduce(out).backward()
            results.append([out.detach().numpy(), a.grad.numpy(), b.grad.numpy()])
        for mine, ref in zip(*results):
            np.testing.assert_array_equal(mine, ref)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_threaded_concatenation(axis):
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, 6, 10)).astype(np.float32)
    pieces = [base, base.transpose(0, 2, 1).copy().transpose(0, 2, 1), base[:, ::-1], np.broadcast_to(base[:1], base.shape),
              np.zeros((4, 6, 10), np.float32)]
    shape = list(base.shape)
    shape[axis] = 0
    pieces.append(np.zeros(shape, np.float32))  # an empty piece
    got = cpu_kernels.concatenate(pieces, axis)
    np.testing.assert_array_equal(got, np.concatenate(pieces, axis))
    mixed = [base, base.astype(np.float64)]  # numpy promotes: so does the fallback
    assert cpu_kernels.concatenate(mixed, axis).dtype == np.float64
    ts = [mytorch.tensor(base, requires_grad=True), mytorch.tensor(base + 1, requires_grad=True)]
    rs = [torch.tensor(base, requires_grad=True), torch.tensor(base + 1, requires_grad=True)]
    for lib, (a, b) in ((mytorch, ts), (torch, rs)):
        (lib.cat([a, b.transpose(-1, -2).contiguous().transpose(-1, -2)], axis) ** 2).sum().backward()
    np.testing.assert_array_equal(mytorch.cat(ts, axis).detach().numpy(), torch.cat(rs, axis).detach().numpy())
    for t, r in zip(ts, rs):
        np.testing.assert_array_equal(t.grad.numpy(), r.grad.numpy())


def test_broadcast_copies_and_arithmetic_are_numpy_bit_for_bit():
    rng = np.random.default_rng(0)
    x = _special(rng.standard_normal((23, 19)).astype(np.float32))
    for view in (np.broadcast_to(np.float32(1.5), (23, 19)), np.broadcast_to(x[:, :1], x.shape),
                 np.broadcast_to(x[:1], x.shape), np.broadcast_to(x, (3, 23, 19))):
        got = cpu_kernels.contiguous_copy(view)
        assert got.flags.c_contiguous and got.flags.writeable
        np.testing.assert_array_equal(got, view)
    value = np.broadcast_to(np.float32(-0.75), x.shape)
    with np.errstate(all="ignore"):
        for ufunc in (np.add, np.subtract, np.multiply, np.divide):
            np.testing.assert_array_equal(cpu_kernels.binary(ufunc, value, x), ufunc(value, x))
            np.testing.assert_array_equal(cpu_kernels.binary(ufunc, x, value), ufunc(x, value))
    np.testing.assert_array_equal(cpu_kernels.relu_grad(value, x), np.where(x <= 0, 0, value))


def test_reduction_gradient_through_compiled_bodies_matches_torch():
    """x.sum()'s gradient reaches mul, relu, exp and softmax as a broadcast value."""
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((30, 20)).astype(np.float32) for _ in range(2)]
    for fn in (lambda a, b: a * b, lambda a, b: a.relu() - b, lambda a, b: a.exp() / (b * b + 1),
               lambda a, b: a.softmax(-1) + F.gelu(b) if isinstance(a, mytorch.Tensor) else a.softmax(-1) + TF.gelu(b)):
        results = []
        for lib in (mytorch, torch):
            a, b = (lib.tensor(x, requires_grad=True) for x in arrays)
            fn(a, b).sum().backward()
            results.append([a.grad.numpy(), b.grad.numpy()])
        for mine, ref in zip(*results):
            np.testing.assert_allclose(mine, ref, rtol=2e-6, atol=2e-6)


def test_blocked_sums_keep_float64_accuracy():
    """Sums add float32 lanes within blocks of SUM_BLOCK terms and the blocks in float64: on a long row of
    values of one sign the error stays within a few float32 ulps of the total."""
    rng = np.random.default_rng(0)
    for n in (1, 7, _math.SUM_BLOCK - 1, _math.SUM_BLOCK + 3, 5 * _math.SUM_BLOCK + 11, 1 << 20):
        x = (rng.random(n) + 0.5).astype(np.float32)
        exact = x.astype(np.float64).sum()
        assert abs(_math.row_sum(x, n) - exact) <= 4 * np.spacing(np.float32(exact)), n


def test_row_extrema_are_exact():
    """Row maxima and minima (llvm.maxnum / minnum chains) equal numpy's on every length, prefix lengths
    included; a NaN never hides a row's problem: the max is then a NaN or the max of the other values."""
    rng = np.random.default_rng(0)
    for n in (1, 2, 15, 16, 17, 63, 1000, 1024, 4099):
        x = (rng.standard_normal(n) * 100).astype(np.float32)
        for visible in {1, n // 2 or 1, n}:
            assert _math.row_max(x, visible) == x[:visible].max()
            assert _math.row_min(x, visible) == x[:visible].min()
    assert _math.row_max(np.full(5, -np.inf, np.float32), 5) == -np.inf
    x = np.arange(40, dtype=np.float32)
    x[7] = np.nan
    got = _math.row_max(x, 40)
    assert np.isnan(got) or got == 39.0


def test_exp_random_inputs_within_one_ulp_and_a_half():
    @numba.njit(fastmath=_math.REDUCE)
    def total(z):  # inlined into a reassociating reduction, as in log_softmax's exp_sum
        s = 0.0
        for v in z:
            s += _math.exp(v)
        return s

    z = -(np.random.default_rng(0).random(1 << 16) * 80).astype(np.float32)
    got = np.array([_math.exp_sum(z[i:i + 1], 1) for i in range(0, 4096)])
    want = np.exp(z[:4096].astype(np.float64))
    assert np.all(np.abs(got - want) <= 1.5 * np.spacing(want.astype(np.float32)))
    exact = np.exp(z.astype(np.float64)).sum()
    assert abs(total(z) - exact) <= 1e-6 * exact


def _gemm_cases(rng):
    """(a, b) pairs in every layout the pool's products take: row- and column-major operands with padded
    leading dimensions, stacks, a 2-D operand beside a stack, broadcast stacks, attention's (batch, heads)
    views of one qkv array, float64."""
    def mat(shape, dtype=np.float32):
        return rng.standard_normal(shape).astype(dtype)

    cases = [(mat((37, 19)), mat((19, 23))), (mat((19, 37)).T, mat((19, 23))), (mat((37, 19)), mat((23, 19)).T),
             (mat((19, 37)).T, mat((23, 19)).T), (mat((37, 40))[:, :19], mat((19, 50))[:, 3:26]),
             (mat((5, 37, 19)), mat((5, 19, 23))), (mat((37, 19)), mat((5, 19, 23))),
             (mat((2, 3, 19, 37)).swapaxes(-1, -2), mat((2, 3, 19, 23))),
             (np.broadcast_to(mat((37, 19)), (4, 37, 19)), mat((4, 19, 23))), (mat((3, 17)), mat((17, 300))),
             (mat((40, 19), np.float64), mat((19, 23), np.float64)), (mat((1, 64)), mat((64, 5000))),
             (mat((64, 1)), mat((1, 5000)))]
    qkv = mat((2, 9, 3 * 4 * 8))  # (batch, tokens, 3 * heads * head_dim)
    q, k = (qkv[..., i * 32:(i + 1) * 32].reshape(2, 9, 4, 8).swapaxes(1, 2) for i in range(2))
    cases += [(q, k.swapaxes(-1, -2)), (q.swapaxes(-1, -2), q)]
    return cases


def _blas_names():
    from mytorch.cpu_kernels import gemm

    return [lib.name for lib in gemm.libraries()] if cpu_kernels.available() else []


@pytest.mark.parametrize("library", ["mkl", "openblas"])
@pytest.mark.parametrize("threads", [2, 1])
def test_pool_products_match_numpy(library, threads, monkeypatch):
    """Shared out by matrices (stacks), by rows (A the larger or 128+ rows; m odd) and by columns (a short A)
    over two threads, and on one thread where the library isn't numpy's own (MKL), through each BLAS
    installed here; with and without linear's bias."""
    from mytorch.cpu_kernels import gemm

    if library not in _blas_names():
        pytest.skip(f"no usable {library} here (mkl: pip install '.[mkl]'; openblas: numpy's must export "
                    f"openblas_set_num_threads_local)")
    monkeypatch.setitem(gemm._state, "blas", next(lib for lib in gemm.libraries() if lib.name == library))
    monkeypatch.setattr(gemm, "MIN_FLOPS", 0)
    monkeypatch.setattr(mytorch._threads, "_intra_op", threads)
    rng = np.random.default_rng(0)
    with _parallel.forced(threads):
        if threads == 1 and library == "openblas":  # numpy's matmul calls the same OpenBLAS then
            assert gemm.matmul(*_gemm_cases(rng)[0]) is None
            return
        for a, b in _gemm_cases(rng):
            got = gemm.matmul(a, b)
            assert got is not None, (a.shape, a.strides, b.shape, b.strides)
            assert got.dtype == a.dtype and got.shape == np.matmul(a, b).shape
            np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-5, atol=1e-5)
            bias = rng.standard_normal(b.shape[-1]).astype(a.dtype)  # linear's: written first, then added to
            np.testing.assert_allclose(gemm.matmul(a, b, bias), np.matmul(a, b) + bias, rtol=1e-5, atol=1e-5)
        x = rng.standard_normal((2, 3, 4, 5, 6)).astype(np.float32).transpose(0, 2, 1, 3, 4)  # 3 unfoldable runs
        y = rng.standard_normal((6, 7)).astype(np.float32)
        assert gemm.matmul(x[:, ::2], rng.standard_normal((2, 2, 3, 6, 7)).astype(np.float32)) is None
        for a, b in ((x[..., 0, :, :], y.astype(np.float64)), (x[0, 0].astype(np.int64), y.astype(np.int64))):
            assert gemm.matmul(a, b) is None  # mixed or integer dtypes: numpy's


@pytest.mark.parametrize("library", ["mkl", "openblas"])
def test_matmul_and_linear_on_the_pool_match_torch(library, monkeypatch):
    """Forward and gradients of matmul / linear / attention's batched products through the pool's GEMMs."""
    from mytorch.cpu_kernels import gemm

    if library not in _blas_names():
        pytest.skip(f"no usable {library} here")
    monkeypatch.setitem(gemm._state, "blas", next(lib for lib in gemm.libraries() if lib.name == library))
    monkeypatch.setattr(gemm, "MIN_FLOPS", 0)
    monkeypatch.setattr(mytorch._threads, "_intra_op", 2)
    pooled, matmul = [], gemm.matmul
    monkeypatch.setattr(gemm, "matmul", lambda *args: pooled.append(matmul(*args) is not None) or matmul(*args))
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 7, 16)).astype(np.float32), rng.standard_normal((12, 16)).astype(np.float32)
    q, k = (rng.standard_normal((2, 4, 9, 8)).astype(np.float32) for _ in range(2))
    b = rng.standard_normal(12).astype(np.float32)
    for fn, args in (((lambda lib: lambda x, w, b: lib.nn.functional.linear(x, w, b)), [x, w, b]),
                     ((lambda lib: lambda q, k: q @ k.transpose(-1, -2)), [q, k])):
        pooled.clear()
        compare(fn(mytorch), fn(torch), args, monkeypatch, atol=1e-5, rtol=1e-5)
        assert sum(pooled) >= 3  # the product and both gradients (compare's numpy-path rerun adds none)
        monkeypatch.setitem(cpu_kernels._state, "available", True)  # compare left the numpy path on


@pytest.mark.parametrize("name", ["exp", "tanh"])
def test_exp_and_tanh_match_torch(name, monkeypatch):
    x = (np.random.default_rng(0).standard_normal((9, 40)) * 4).astype(np.float32)
    fn = (lambda lib: lambda t: getattr(lib, name)(t))
    compare(fn(mytorch), fn(torch), [x], monkeypatch)


def test_exp_special_values_and_range_as_numpy():
    z = np.concatenate([[np.nan, np.inf, -np.inf, 88.72, 88.73, 89.0, 200.0, -103.0, -104.0, -200.0],
                        np.linspace(-110, 89, 200001)]).astype(np.float32)
    got = cpu_kernels.exp(z)
    want = np.exp(z.astype(np.float64))
    with np.errstate(over="ignore"):
        want32 = want.astype(np.float32)  # where float32 overflows to inf
    finite = np.isfinite(want32)
    assert np.isnan(got[0]) and np.array_equal(np.isinf(got[1:]), np.isinf(want32[1:]))
    assert np.all(np.abs(got[finite] - want[finite]) <= 1.5 * np.spacing(want32[finite]) + 1e-45)


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (65, 17), (200, 48), (129, 1000)])
def test_column_sums_match_a_float64_sum(shape):
    """The bias gradient's column sums (split by columns over three threads, rows in float32 chunks) against
    numpy's float64 sum and PyTorch's, and through linear's backward."""
    from mytorch.cpu_kernels import reduce

    g = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    scale = np.abs(g).astype(np.float64).sum(0)  # float32 rounding grows with the terms' sizes, not the sum's
    err = np.abs(reduce.column_sums(g) - g.astype(np.float64).sum(0))
    assert np.all(err <= 2e-6 * scale + 1e-7), (err / scale).max()
    x = np.random.default_rng(2).standard_normal((shape[0], 5)).astype(np.float32)
    w = np.random.default_rng(3).standard_normal((shape[1], 5)).astype(np.float32)
    b = mytorch.zeros(shape[1], requires_grad=True)
    F.linear(mytorch.tensor(x), mytorch.tensor(w), b).backward(mytorch.tensor(g))
    tb = torch.zeros(shape[1], requires_grad=True)
    TF.linear(torch.tensor(x), torch.tensor(w), tb).backward(torch.tensor(g))
    assert np.all(np.abs(b.grad.numpy() - tb.grad.numpy()) <= 4e-6 * scale + 1e-7)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_on_a_split_qkv_matches_pytorch(causal):
    """q, k, v split from one projection (GPT's attention): their gradients are written side by side into one
    buffer laid out as the projection, which the split's backward then hands on without concatenating."""
    B, T, H, D = 2, 8, 2, 4
    x = np.random.default_rng(4).standard_normal((B, T, 3 * H * D)).astype(np.float32)
    go = np.random.default_rng(5).standard_normal((B, T, H * D)).astype(np.float32)
    grads = []
    for lib, fn in ((mytorch, F), (torch, TF)):
        qkv = lib.tensor(x, requires_grad=True)
        q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in qkv.split(H * D, dim=2))
        y = fn.scaled_dot_product_attention(q, k, v, is_causal=causal)
        (y.transpose(1, 2).reshape(B, T, H * D) * lib.tensor(go)).sum().backward()
        grads.append(qkv.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-6)


def test_split_backward_hands_on_side_by_side_gradients():
    from mytorch.ops.shape import _side_by_side

    whole = np.arange(24.0).reshape(2, 12).copy()  # an array that owns its data, as a gradient buffer does
    pieces = [(0, 4), (4, 4), (8, 4)]
    views = [whole[:, s:s + n] for s, n in pieces]
    found = _side_by_side(views, whole.shape, 1, pieces)
    assert found is not None and found.shape == whole.shape and np.shares_memory(found, whole)
    assert _side_by_side([v.copy() for v in views], whole.shape, 1, pieces) is None  # separate arrays: concatenate
    assert _side_by_side(views[::-1], whole.shape, 1, pieces) is None  # out of order


@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
def test_product_written_into_a_strided_output(batch):
    """gemm.matmul(a, b, out=view): the product lands in a view with its own row and batch strides (attention's
    gradients into the qkv layout), and nothing else of the buffer changes."""
    from mytorch.cpu_kernels import gemm

    rng = np.random.default_rng(6)
    a = rng.standard_normal(batch + (100, 64)).astype(np.float32)  # above gemm.MIN_FLOPS even unbatched
    b = rng.standard_normal(batch + (64, 50)).astype(np.float32)
    buf = np.full(batch + (100, 3 * 50), 7.0, np.float32)
    out = buf[..., 50:100]
    assert gemm.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)
    assert (buf[..., :50] == 7).all() and (buf[..., 100:] == 7).all()
    assert gemm.matmul(a, b, bias=np.zeros(50, np.float32), out=out) is None  # a bias goes to a fresh array


def test_split_backward_hands_on_gradients_side_by_side_in_a_flat_buffer():
    from mytorch.ops.shape import _side_by_side

    owner = np.arange(48.0)  # the projection's buffer, (rows, 3C) or flat, split as (2, 2, 12)
    whole = owner.reshape(2, 2, 12)
    pieces = [(0, 4), (4, 4), (8, 4)]
    found = _side_by_side([whole[..., s:s + n] for s, n in pieces], whole.shape, 2, pieces)
    assert found is not None and found.shape == whole.shape and np.shares_memory(found, owner)
