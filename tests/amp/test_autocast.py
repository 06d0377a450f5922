"""autocast against torch.autocast("cpu"): op output dtypes, values and gradients, nesting, caching, errors."""
import threading
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import mytorch
import mytorch.nn.functional as MF
from mytorch.amp import autocast_mode

from ..helpers import to_numpy

DTYPES = [(mytorch.bfloat16, torch.bfloat16), (mytorch.float16, torch.float16)]
DTYPE_IDS = ["bf16", "fp16"]


def _name(dtype):
    return str(dtype).split(".")[-1]


def _inputs(lib):
    rng = np.random.RandomState(0)
    arr = {"x": rng.randn(4, 8), "w": rng.randn(8, 8), "b": rng.randn(8), "img": rng.randn(2, 3, 6, 6),
           "k": rng.randn(4, 3, 3, 3), "q": rng.randn(2, 2, 5, 16), "t": np.abs(rng.randn(4, 8)) + 0.1}
    out = {k: lib.tensor(v.astype(np.float32)) for k, v in arr.items()}
    out["y"] = lib.tensor([1, 2, 3, 4])
    return out


# each case: (name, f(lib, F, inputs)) -> a tensor; the same code runs on mytorch and torch
CASES = [
    ("linear", lambda L, F, i: F.linear(i["x"], i["w"], i["b"])),
    ("matmul", lambda L, F, i: i["x"] @ i["w"]),
    ("matmul_1d", lambda L, F, i: L.matmul(i["x"], i["b"])),
    ("mm", lambda L, F, i: L.mm(i["x"], i["w"])),
    ("bmm", lambda L, F, i: L.bmm(i["x"][None], i["w"][None])),
    ("addmm", lambda L, F, i: L.addmm(i["b"], i["x"], i["w"])),
    ("baddbmm", lambda L, F, i: L.baddbmm(i["x"][None], i["x"][None], i["w"][None])),
    ("mv_not_listed_on_cpu", lambda L, F, i: L.mv(i["w"], i["b"])),
    ("conv2d", lambda L, F, i: F.conv2d(i["img"], i["k"], padding=1)),
    ("conv1d", lambda L, F, i: F.conv1d(i["img"][:, :, 0], i["k"][:, :, 0])),
    ("conv_transpose2d", lambda L, F, i: F.conv_transpose2d(i["img"], i["k"].transpose(0, 1))),
    ("sdpa", lambda L, F, i: F.scaled_dot_product_attention(i["q"], i["q"], i["q"], is_causal=True)),
    ("prelu", lambda L, F, i: F.prelu(i["x"], L.full((8,), 0.25))),
    ("softmax", lambda L, F, i: F.softmax(F.linear(i["x"], i["w"]), -1)),
    ("log_softmax", lambda L, F, i: F.log_softmax(F.linear(i["x"], i["w"]), -1)),
    ("softmax_fp32_in", lambda L, F, i: F.softmax(i["x"], -1)),
    ("layer_norm", lambda L, F, i: F.layer_norm(F.linear(i["x"], i["w"]), (8,), i["t"][0], i["b"])),
    ("layer_norm_fp32_in", lambda L, F, i: F.layer_norm(i["x"], (8,), i["t"][0], i["b"])),
    ("group_norm", lambda L, F, i: F.group_norm(F.conv2d(i["img"], i["k"]), 2)),
    ("batch_norm", lambda L, F, i: F.batch_norm(F.linear(i["x"], i["w"]), L.zeros(8), L.ones(8), i["t"][0],
                                                i["b"], training=True)),
    ("sum", lambda L, F, i: F.linear(i["x"], i["w"]).sum()),
    ("mean", lambda L, F, i: F.linear(i["x"], i["w"]).mean(-1)),
    ("prod", lambda L, F, i: F.linear(i["x"], i["w"]).prod(-1)),
    ("exp", lambda L, F, i: F.linear(i["x"], i["w"]).exp()),
    ("log", lambda L, F, i: F.linear(i["t"], i["w"]).abs().log()),
    ("pow", lambda L, F, i: F.linear(i["x"], i["w"]).pow(2)),
    ("gelu", lambda L, F, i: F.gelu(F.linear(i["x"], i["w"]))),
    ("cross_entropy", lambda L, F, i: F.cross_entropy(F.linear(i["x"], i["w"]), i["y"])),
    ("nll_loss", lambda L, F, i: F.nll_loss(F.log_softmax(F.linear(i["x"], i["w"]), -1), i["y"])),
    ("mse_loss", lambda L, F, i: F.mse_loss(F.linear(i["x"], i["w"]), i["x"])),
    ("l1_loss", lambda L, F, i: F.l1_loss(F.linear(i["x"], i["w"]), i["x"])),
    ("smooth_l1_loss", lambda L, F, i: F.smooth_l1_loss(F.linear(i["x"], i["w"]), i["x"])),
    ("bce_with_logits", lambda L, F, i: F.binary_cross_entropy_with_logits(F.linear(i["x"], i["w"]),
                                                                           i["x"].sigmoid())),
    ("kl_div", lambda L, F, i: F.kl_div(F.log_softmax(F.linear(i["x"], i["w"]), -1), F.softmax(i["x"], -1),
                                        reduction="batchmean")),
    ("margin_ranking", lambda L, F, i: F.margin_ranking_loss(F.linear(i["x"], i["w"])[:, 0], i["x"][:, 0],
                                                             L.ones(4))),
    ("add_promotes", lambda L, F, i: F.linear(i["x"], i["w"]) + i["x"]),
    ("mul_promotes", lambda L, F, i: F.linear(i["x"], i["w"]) * i["b"]),
    ("mul_scalar", lambda L, F, i: F.linear(i["x"], i["w"]) * 2.5),
    ("sub_0d", lambda L, F, i: F.linear(i["x"], i["w"]) - i["x"].sum()),
    ("where", lambda L, F, i: L.where(i["x"] > 0, F.linear(i["x"], i["w"]), i["x"])),
    ("cat", lambda L, F, i: L.cat([F.linear(i["x"], i["w"]), i["x"]])),
]


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,fn", CASES, ids=[c[0] for c in CASES])
def test_output_dtype_matches_torch(name, fn, dtypes):
    mt_dtype, th_dtype = dtypes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autocast("cpu", dtype=th_dtype):
            ref = fn(torch, TF, _inputs(torch))
    with mytorch.autocast("cpu", dtype=mt_dtype):
        out = fn(mytorch, MF, _inputs(mytorch))
    assert _name(out.dtype) == _name(ref.dtype)
    assert tuple(out.shape) == tuple(ref.shape)
    tol = 0.08 if mt_dtype is mytorch.bfloat16 else 0.01
    np.testing.assert_allclose(to_numpy(out.float()), to_numpy(ref.float()), rtol=tol, atol=tol * 2)


class _Net:
    """conv -> linear -> attention -> norm -> cross entropy, the same weights in both libraries."""

    def __init__(self, lib):
        nn = lib.nn
        lib.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.proj = nn.Linear(16, 32)
        self.norm = nn.LayerNorm(32)
        self.head = nn.Linear(32, 10)
        self.modules = [self.conv, self.proj, self.norm, self.head]

    def params(self):
        return [p for m in self.modules for p in m.parameters()]

    def __call__(self, lib, F, x, y):
        h = F.relu(self.conv(x))                              # (B, 4, 4, 4)
        h = self.proj(h.reshape(h.shape[0], 4, 16))           # (B, 4 tokens, 32)
        q = h.reshape(h.shape[0], 2, 4, 16)
        h = F.scaled_dot_product_attention(q, q, q).reshape(h.shape[0], 4, 32) + h
        logits = self.head(self.norm(h)).mean(1)
        return F.cross_entropy(logits, y), logits


def _copy_weights(src, dst):
    with torch.no_grad():
        for p, q in zip(dst.params(), src.params()):
            p.copy_(torch.from_numpy(q.detach().numpy().copy()))


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
def test_model_values_and_float32_gradients_match_torch(dtypes):
    mt_dtype, th_dtype = dtypes
    mnet, tnet = _Net(mytorch), _Net(torch)
    _copy_weights(mnet, tnet)
    rng = np.random.RandomState(1)
    x, y = rng.randn(3, 3, 4, 4).astype(np.float32), np.array([1, 7, 3])
    with mytorch.autocast("cpu", dtype=mt_dtype):
        loss, logits = mnet(mytorch, MF, mytorch.tensor(x), mytorch.tensor(y))
    with torch.autocast("cpu", dtype=th_dtype):
        ref_loss, ref_logits = tnet(torch, TF, torch.tensor(x), torch.tensor(y))
    assert _name(logits.dtype) == _name(ref_logits.dtype) and _name(loss.dtype) == _name(ref_loss.dtype)
    loss.backward()
    ref_loss.backward()
    tol = 0.05 if mt_dtype is mytorch.bfloat16 else 0.01
    np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=tol)
    for p, q in zip(mnet.params(), tnet.params()):
        assert p.grad.dtype == mytorch.float32  # float32 master weights get float32 gradients
        scale = np.abs(q.grad.numpy()).max() + 1e-6
        np.testing.assert_allclose(p.grad.numpy() / scale, q.grad.numpy() / scale, atol=3 * tol)


def test_nested_disabled_region_behaves_like_torch():
    w = mytorch.randn(8, 8, requires_grad=True)
    x = mytorch.randn(4, 8)
    with mytorch.autocast("cpu"):
        assert mytorch.is_autocast_enabled("cpu") and mytorch.get_autocast_dtype("cpu") == mytorch.bfloat16
        assert mytorch.is_autocast_cpu_enabled() and mytorch.get_autocast_cpu_dtype() == mytorch.bfloat16
        assert not mytorch.is_autocast_enabled()  # no argument: CUDA, as PyTorch's legacy form
        low = MF.linear(x, w)
        with mytorch.autocast("cpu", enabled=False):
            assert not mytorch.is_autocast_enabled("cpu")
            assert MF.linear(x, w).dtype == mytorch.float32
            assert MF.linear(low.float(), w).dtype == mytorch.float32
            with pytest.raises(RuntimeError):  # a bfloat16 activation with a float32 weight, as in PyTorch
                MF.linear(low, w)
            with mytorch.autocast("cpu", dtype=mytorch.float16):
                assert MF.linear(x, w).dtype == mytorch.float16
            assert not mytorch.is_autocast_enabled("cpu")
        assert mytorch.is_autocast_enabled("cpu")
        assert MF.linear(low, w).dtype == mytorch.bfloat16  # back on: mixed inputs are cast again
    assert not mytorch.is_autocast_enabled("cpu")
    assert MF.linear(x, w).dtype == mytorch.float32
    with torch.autocast("cpu"):
        tw = torch.randn(8, 8)
        tlow = TF.linear(torch.randn(4, 8), tw)
        with torch.autocast("cpu", enabled=False), pytest.raises(RuntimeError):
            TF.linear(tlow, tw)


def test_decorator_thread_locality_and_exceptions():
    @mytorch.autocast("cpu", dtype=mytorch.float16)
    def forward(a, b):
        return a @ b

    a = mytorch.randn(2, 2)
    assert forward(a, a).dtype == mytorch.float16
    assert (a @ a).dtype == mytorch.float32
    seen = []
    with mytorch.autocast("cpu"):
        thread = threading.Thread(target=lambda: seen.append(((a @ a).dtype, mytorch.is_autocast_enabled("cpu"))))
        thread.start()
        thread.join()
    assert seen == [(mytorch.float32, False)]  # autocast state is per thread, as in PyTorch
    with pytest.raises(ZeroDivisionError):
        with mytorch.autocast("cpu"):
            1 / 0
    assert not mytorch.is_autocast_enabled("cpu") and (a @ a).dtype == mytorch.float32
    assert mytorch.amp.autocast is mytorch.autocast and mytorch.amp.is_autocast_available("cpu")


def test_bad_arguments():
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        mytorch.autocast("tpu")
    with pytest.raises(ValueError, match="device_type"):
        mytorch.autocast(0)
    with pytest.warns(UserWarning, match="not supported. Disabling autocast"):
        region = mytorch.autocast("cpu", dtype=mytorch.float32)
    with region:
        assert not mytorch.is_autocast_enabled("cpu")
    if not mytorch.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available. Disabling"):
            with mytorch.autocast("cuda"):
                assert not mytorch.is_autocast_enabled("cuda")


def test_bfloat16_without_ml_dtypes_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(mytorch._dtype, "_HAS_BF16", False)
    with pytest.raises(TypeError, match="ml_dtypes"):
        mytorch.autocast("cpu")
    with mytorch.autocast("cpu", dtype=mytorch.float16):  # float16 needs nothing extra
        assert (mytorch.ones(2, 2) @ mytorch.ones(2, 2)).dtype == mytorch.float16


def test_weight_casts_are_cached_within_a_region():
    w = mytorch.randn(8, 8, requires_grad=True)
    x = mytorch.randn(4, 8)
    with mytorch.autocast("cpu"):
        first = autocast_mode._cast("linear", x, w)[1]
        assert autocast_mode._cast("linear", x, w)[1] is first  # same cast reused
        assert autocast_mode._cast("linear", w, x)[1] is not first  # x is not a weight: cast anew
        with mytorch.no_grad():
            w.add_(1.0)  # an in-place update invalidates the cached cast
        again = autocast_mode._cast("linear", x, w)[1]
        assert again is not first
        np.testing.assert_allclose(again.float().detach().numpy(), w.detach().numpy(), rtol=1e-2)
        loss = MF.linear(x, w).float().sum() + MF.linear(x, w).float().sum()  # weight used twice
    assert autocast_mode._state.cache == {}  # dropped when the region exits
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.broadcast_to(x.numpy().sum(0)[None], (8, 8)), rtol=2e-2,
                               atol=5e-2)  # x was rounded to bfloat16
    with mytorch.autocast("cpu", cache_enabled=False):
        assert autocast_mode._cast("linear", x, w)[1] is not autocast_mode._cast("linear", x, w)[1]


def test_low_precision_matmul_rounds_like_torch():
    """Half inputs multiply with float32 accumulation and one final rounding (what torch's CPU kernels and
    tensor cores do): results equal torch's to within one rounding of the output."""
    rng = np.random.RandomState(3)
    a, b = rng.randn(3, 64, 48).astype(np.float32), rng.randn(3, 48, 32).astype(np.float32)
    for mt_dtype, th_dtype in DTYPES:
        mine = (mytorch.tensor(a).to(mt_dtype) @ mytorch.tensor(b).to(mt_dtype)).float().numpy()
        ref = (torch.tensor(a).to(th_dtype) @ torch.tensor(b).to(th_dtype)).float().numpy()
        exact = torch.tensor(a).to(th_dtype).float().numpy() @ torch.tensor(b).to(th_dtype).float().numpy()
        ulp = 2.0 ** -7 if mt_dtype is mytorch.bfloat16 else 2.0 ** -10
        np.testing.assert_allclose(mine, exact, rtol=ulp, atol=1e-3)
        np.testing.assert_allclose(mine, ref, rtol=2 * ulp, atol=1e-2)


@pytest.mark.parametrize("name", ["gelu", "silu", "tanh", "relu"])
def test_half_activations_round_once_like_torch(name):
    """Half-precision activations are computed in float32 and rounded once (torch's CPU "opmath"): the
    results are torch's to within one unit in the last place, and so are their gradients."""
    rng = np.random.RandomState(4)
    data = (rng.randn(4096) * 3).astype(np.float32)
    for mt_dtype, th_dtype in DTYPES:
        x = mytorch.tensor(data).to(mt_dtype).requires_grad_()
        tx = torch.tensor(data).to(th_dtype).requires_grad_()
        out, ref = getattr(MF, name)(x), getattr(TF, name)(tx)
        assert _name(out.dtype) == _name(ref.dtype)
        ulp = 2.0 ** -7 if mt_dtype is mytorch.bfloat16 else 2.0 ** -10
        np.testing.assert_allclose(out.float().detach().numpy(), ref.float().detach().numpy(), rtol=ulp, atol=1e-6)
        out.sum().backward()
        ref.sum().backward()
        assert _name(x.grad.dtype) == _name(tx.grad.dtype)
        np.testing.assert_allclose(x.grad.float().numpy(), tx.grad.float().numpy(), rtol=2 * ulp, atol=2 * ulp)


def test_fp16_training_with_grad_scaler_reaches_fp32_loss():
    """A small MLP trained 60 steps with float16 autocast + GradScaler (CPU, numpy float16) ends within 2%
    of the same run in float32."""
    rng = np.random.RandomState(0)
    x = mytorch.tensor(rng.randn(128, 16).astype(np.float32))
    y = mytorch.tensor(np.tanh(rng.randn(128, 16) @ rng.randn(16, 1) / 4).astype(np.float32))

    def train(mixed):
        mytorch.manual_seed(0)
        model = mytorch.nn.Sequential(mytorch.nn.Linear(16, 64), mytorch.nn.GELU(), mytorch.nn.Linear(64, 1))
        opt = mytorch.optim.AdamW(model.parameters(), lr=1e-2)
        scaler = mytorch.amp.GradScaler("cpu", enabled=mixed)
        for _ in range(60):
            with mytorch.autocast("cpu", dtype=mytorch.float16, enabled=mixed):
                loss = MF.mse_loss(model(x), y)
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        assert all(p.dtype == mytorch.float32 for p in model.parameters())
        return loss.item(), scaler

    initial = MF.mse_loss(mytorch.zeros_like(y), y).item()
    fp32_loss, _ = train(False)
    amp_loss, scaler = train(True)
    assert fp32_loss < 0.2 * initial  # it learned something
    assert abs(amp_loss - fp32_loss) <= 0.02 * fp32_loss + 1e-3, (amp_loss, fp32_loss)
    assert scaler.get_scale() == 2.0 ** 16  # no overflow at this size


def test_fused_kernels_keep_autocast_dtypes():
    """With the Triton kernels switched on (TRITON_INTERPRET=1 runs them on the CPU), float16 autocast gives
    the dtypes of torch's float16 CPU autocast."""
    from mytorch import kernels

    if not kernels.is_available():
        pytest.skip("Triton kernels need a GPU or TRITON_INTERPRET=1")
    rng = np.random.RandomState(0)
    arrays = {"x": rng.randn(2, 8, 32), "w": rng.randn(32, 32), "b": rng.randn(32)}

    def run(lib, F):
        t = {k: lib.tensor(v.astype(np.float32)) for k, v in arrays.items()}
        h = F.linear(t["x"], t["w"], t["b"])
        n = F.layer_norm(h, (32,), t["b"], t["b"])
        s = F.softmax(h, -1)
        q = h.reshape(2, 1, 8, 32)
        a = F.scaled_dot_product_attention(q, q, q, is_causal=True)
        ce = F.cross_entropy(h.reshape(16, 32), lib.zeros(16, dtype=lib.long))
        return [h, n, s, a, ce]

    with torch.autocast("cpu", dtype=torch.float16):
        ref = run(torch, TF)
    with mytorch.backends.fused.flags(enabled=True), mytorch.autocast("cpu", dtype=mytorch.float16):
        out = run(mytorch, MF)
    for o, r in zip(out, ref):
        assert _name(o.dtype) == _name(r.dtype)
        np.testing.assert_allclose(to_numpy(o.float()), to_numpy(r.float()), rtol=2e-2, atol=2e-2)


def test_custom_fwd_casts_inputs_and_bwd_follows():
    class Square(mytorch.autograd.Function):
        @staticmethod
        @mytorch.amp.custom_fwd(device_type="cpu", cast_inputs=mytorch.float32)
        def forward(ctx, a):
            ctx.save_for_backward(a)
            ctx.inner = (a.dtype, mytorch.is_autocast_enabled("cpu"))
            return a * a

        @staticmethod
        @mytorch.amp.custom_bwd(device_type="cpu")
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return 2 * a * grad

    w = mytorch.randn(4, 4, requires_grad=True)
    with mytorch.autocast("cpu"):
        h = mytorch.ones(2, 4) @ w  # bfloat16
        out = Square.apply(h)
    assert out.dtype == mytorch.float32
    out.sum().backward()
    assert w.grad.dtype == mytorch.float32


def test_cuda_amp_namespace():
    from mytorch.cuda.amp import GradScaler, autocast  # noqa: F401

    assert mytorch.cuda.amp.GradScaler is GradScaler
    with pytest.raises(AttributeError):
        mytorch.cuda.amp.nothing_here


@pytest.mark.gpu
def test_cuda_op_lists():
    """CUDA's lists differ from the CPU's: softmax, layer_norm, sum, exp and losses run in float32."""
    x = mytorch.randn(4, 8, device="cuda")
    w = mytorch.randn(8, 8, device="cuda", requires_grad=True)
    with mytorch.autocast("cuda"):
        h = MF.linear(x, w)
        assert h.dtype == mytorch.float16
        for out in (MF.softmax(h, -1), MF.log_softmax(h, -1), MF.layer_norm(h, (8,)), h.sum(), h.exp(),
                    MF.mse_loss(h, x)):
            assert out.dtype == mytorch.float32
        assert mytorch.mv(w, x[0]).dtype == mytorch.float16  # mv is on CUDA's list, not the CPU's
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            MF.binary_cross_entropy(h.sigmoid(), x.sigmoid())
    MF.linear(x, w).float().sum().backward()
    assert w.grad.dtype == mytorch.float32
