"""scaled_dot_product_attention and MultiheadAttention vs PyTorch (values and gradients)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import mytorch
import mytorch.nn.functional as F
from mytorch import nn
from tests.helpers import assert_close, check_against_torch, randn


pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched")


def _bool_mask(shape, seed):
    m = np.random.default_rng(seed).random(shape) > 0.3
    m[..., 0] = True  # every row sees at least one key
    return m


# (name, q shape, k shape, v shape, mask maker or None, kwargs)
SDPA = [
    ("plain", (2, 3, 5, 8), (2, 3, 5, 8), (2, 3, 5, 8), None, {}),
    ("3d", (4, 5, 8), (4, 7, 8), (4, 7, 6), None, {}),
    ("cross_lq_lt_lk", (2, 2, 3, 8), (2, 2, 6, 8), (2, 2, 6, 4), None, {}),
    ("scale", (2, 2, 4, 8), (2, 2, 4, 8), (2, 2, 4, 8), None, {"scale": 0.3}),
    ("causal", (2, 2, 6, 8), (2, 2, 6, 8), (2, 2, 6, 8), None, {"is_causal": True}),
    ("causal_lq_lt_lk", (1, 2, 3, 8), (1, 2, 6, 8), (1, 2, 6, 8), None, {"is_causal": True}),
    ("causal_lq_gt_lk", (1, 2, 6, 8), (1, 2, 4, 8), (1, 2, 4, 8), None, {"is_causal": True}),
    ("bool_mask_full", (2, 2, 4, 8), (2, 2, 5, 8), (2, 2, 5, 8), lambda: _bool_mask((2, 2, 4, 5), 1), {}),
    ("bool_mask_broadcast", (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), lambda: _bool_mask((4, 5), 2), {}),
    ("bool_mask_per_batch", (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), lambda: _bool_mask((2, 1, 1, 5), 3), {}),
    ("float_mask", (2, 2, 4, 8), (2, 2, 5, 8), (2, 2, 5, 8), lambda: randn(2, 2, 4, 5, seed=4), {}),
    ("float_mask_broadcast", (2, 2, 4, 8), (2, 2, 5, 8), (2, 2, 5, 8), lambda: randn(1, 4, 5, seed=5), {}),
    ("float_mask_neg_inf", (1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8),
     lambda: np.where(_bool_mask((4, 4), 6), 0.0, -np.inf), {}),
    ("gqa", (2, 6, 4, 8), (2, 2, 4, 8), (2, 2, 4, 8), None, {"enable_gqa": True}),
    ("gqa_causal_mask", (2, 4, 5, 8), (2, 1, 5, 8), (2, 1, 5, 8), lambda: _bool_mask((5, 5), 7),
     {"enable_gqa": True}),
    ("fully_masked_row", (1, 1, 3, 4), (1, 1, 3, 4), (1, 1, 3, 4),
     lambda: np.array([[True, True, False], [False, False, False], [True, False, True]]), {}),
]


@pytest.mark.parametrize("name,qs,ks,vs,make_mask,kw", SDPA, ids=[c[0] for c in SDPA])
def test_sdpa_matches_torch(name, qs, ks, vs, make_mask, kw):
    q, k, v = randn(*qs, seed=1), randn(*ks, seed=2), randn(*vs, seed=3)
    arrays = [q, k, v]
    if make_mask is None:
        check_against_torch(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw),
                            lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **kw), *arrays)
        return
    mask = make_mask()
    if mask.dtype == np.bool_ or np.isinf(mask).any():  # a constant mask (torch has no grad for -inf masks)
        mm, mt = mytorch.tensor(mask), torch.tensor(mask)
        check_against_torch(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mm, **kw),
                            lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, attn_mask=mt, **kw), *arrays)
    else:  # additive float masks are differentiable
        check_against_torch(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw),
                            lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw),
                            *arrays, mask)


def test_causal_combines_with_mask():
    q = randn(1, 2, 4, 8, seed=1)
    mask = _bool_mask((4, 4), 3)
    mm, mt = mytorch.tensor(mask), torch.tensor(mask)
    check_against_torch(lambda q: F.scaled_dot_product_attention(q, q, q, attn_mask=mm, is_causal=True),
                        lambda q: TF.scaled_dot_product_attention(q, q, q, attn_mask=mt, is_causal=True), q)


@pytest.mark.parametrize("window,Lq,Lk", [(1, 6, 6), (3, 6, 6), (2, 4, 7), (10, 5, 5)])
def test_sliding_window_matches_explicit_mask(window, Lq, Lk):
    i = torch.arange(Lq)[:, None]
    j = torch.arange(Lk)[None, :]
    mask = (j <= i) & (j > i - window)  # query i sees keys i - window + 1 .. i
    check_against_torch(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, window_size=window),
                        lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                        randn(2, 2, Lq, 8, seed=1), randn(2, 2, Lk, 8, seed=2), randn(2, 2, Lk, 8, seed=3))


def test_sdpa_float32():
    args = [randn(2, 2, 5, 16, seed=s).astype(np.float32) for s in range(3)]
    check_against_torch(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                        lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True), *args,
                        rtol=1e-4, atol=1e-5)


def test_sdpa_dropout_statistics():
    # v = identity columns: out = dropped-and-rescaled probabilities, so its mean stays the softmax mean
    mytorch.manual_seed(0)
    L = 64
    q = mytorch.zeros(1, 8, L, 4)
    v = mytorch.tensor(np.broadcast_to(np.eye(L, dtype=np.float32), (1, 8, L, L)).copy())
    k = mytorch.zeros(1, 8, L, 4)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.25).numpy()
    zeros = (out == 0).mean()
    assert abs(zeros - 0.25) < 0.02
    assert abs(out.mean() - 1.0 / L) < 1e-3
    kept = out[out != 0]
    np.testing.assert_allclose(kept, 1.0 / L / 0.75, rtol=1e-5)
    # the gradient uses the same dropout mask
    qg = mytorch.zeros(1, 1, 8, 4, requires_grad=True)
    vg = mytorch.randn(1, 1, 8, 3, requires_grad=True)
    out = F.scaled_dot_product_attention(qg, mytorch.zeros(1, 1, 8, 4), vg, dropout_p=0.5)
    out.sum().backward()
    dropped_keys_per_query = np.isclose(vg.grad.numpy().sum(-1), 0)
    assert vg.grad.shape == vg.shape and not np.isnan(vg.grad.numpy()).any()
    assert dropped_keys_per_query.sum() < 8


@pytest.mark.parametrize("call,exc", [
    (lambda: F.scaled_dot_product_attention(mytorch.randn(1, 4, 3, 8), mytorch.randn(1, 3, 3, 8),
                                            mytorch.randn(1, 3, 3, 8), enable_gqa=True), RuntimeError),
    (lambda: F.scaled_dot_product_attention(mytorch.randn(1, 2, 3, 8), mytorch.randn(1, 2, 3, 4),
                                            mytorch.randn(1, 2, 3, 4)), RuntimeError),
    (lambda: F.scaled_dot_product_attention(mytorch.randn(1, 2, 3, 8), mytorch.randn(1, 2, 3, 8),
                                            mytorch.randn(1, 2, 3, 8), window_size=0), ValueError),
])
def test_sdpa_errors(call, exc):
    with pytest.raises(exc):
        call()


# ---------------------------------------------------------------------------------------------
# MultiheadAttention
# ---------------------------------------------------------------------------------------------
def _copy_state(mt_module, th_module):
    mt_module.load_state_dict({k: mytorch.tensor(v.detach().numpy().copy())
                               for k, v in th_module.state_dict().items()})


MHA = [
    # (name, ctor kwargs, (L, S, N), forward kwargs, shared inputs: "qkv" self-attention, "kv" key is value)
    ("self", {}, (5, 5, 2), {}, "qkv"),
    ("batch_first", {"batch_first": True}, (5, 5, 2), {}, "qkv"),
    ("cross_no_bias", {"bias": False}, (3, 6, 2), {}, None),
    ("key_is_value", {}, (3, 6, 2), {}, "kv"),
    ("key_is_value_batch_first_no_bias", {"batch_first": True, "bias": False}, (4, 5, 2), {}, "kv"),
    ("kdim_vdim", {"kdim": 6, "vdim": 4, "batch_first": True}, (4, 7, 3), {}, None),
    ("bias_kv_zero_attn", {"add_bias_kv": True, "add_zero_attn": True}, (4, 5, 2), {}, None),
    ("per_head_weights", {}, (4, 4, 2), {"average_attn_weights": False}, "qkv"),
    ("no_weights", {}, (4, 4, 2), {"need_weights": False}, "qkv"),
    ("key_padding_mask", {"batch_first": True}, (4, 5, 2), {"key_padding_mask": "kpm"}, None),
    ("float_kpm_and_mask", {}, (4, 5, 2), {"key_padding_mask": "kpm_float", "attn_mask": "mask"}, None),
    ("causal", {"batch_first": True}, (5, 5, 2), {"attn_mask": "causal", "is_causal": True}, "qkv"),
    ("3d_mask", {}, (4, 5, 2), {"attn_mask": "mask3d"}, None),
]


def _masks(L, S, N, H):
    kpm = np.zeros((N, S), bool)
    kpm[0, -2:] = True
    mask = np.zeros((L, S), bool)
    mask[1, 1:3] = True
    return {"kpm": kpm, "kpm_float": np.where(kpm, -1e9, 0.0).astype(np.float32), "mask": mask,
            "causal": np.triu(np.ones((L, S), bool), 1),
            "mask3d": randn(N * H, L, S, seed=11).astype(np.float32)}


@pytest.mark.parametrize("name,ctor,dims,fkw,shared", MHA, ids=[c[0] for c in MHA])
def test_multihead_attention_matches_torch(name, ctor, dims, fkw, shared):
    E, H = 8, 2
    L, S, N = dims
    torch.manual_seed(0)
    th = torch.nn.MultiheadAttention(E, H, **ctor)
    mt = nn.MultiheadAttention(E, H, **ctor)
    if ctor.get("add_bias_kv"):
        with torch.no_grad():
            th.in_proj_bias.normal_()
    assert sorted(mt.state_dict()) == sorted(th.state_dict())
    assert repr(mt) == repr(th)
    # out_proj is an nn.Linear subclass, as in torch
    assert isinstance(mt.out_proj, nn.Linear) and type(mt.out_proj).__name__ == type(th.out_proj).__name__
    _copy_state(mt, th)
    bf = ctor.get("batch_first", False)

    def seq(n, e, seed):
        return randn(*((N, n, e) if bf else (n, N, e)), seed=seed).astype(np.float32)

    q = seq(L, E, 1)
    k = q if shared == "qkv" else seq(S, ctor.get("kdim", E), 2)
    v = k if shared else seq(S, ctor.get("vdim", E), 3)
    masks = _masks(L, S, N, H)
    mk = {key: (mytorch.tensor(masks[val]) if isinstance(val, str) else val) for key, val in fkw.items()}
    tk = {key: (torch.tensor(masks[val]) if isinstance(val, str) else val) for key, val in fkw.items()}
    # pass the same tensor object where inputs are shared, so the packed-projection paths run
    arrays, expand = {"qkv": ((q,), lambda a: a * 3), "kv": ((q, k), lambda a: a + a[1:]),
                      None: ((q, k, v), lambda a: a)}[shared]

    def run_mt(*a):
        out = mt(*expand(a), **mk)
        return out if out[1] is not None else (out[0],)

    def run_th(*a):
        out = th(*expand(a), **tk)
        return out if out[1] is not None else (out[0],)

    check_against_torch(run_mt, run_th, *arrays, rtol=1e-4, atol=1e-5)
    mt_params = dict(mt.named_parameters())
    assert mt_params.keys() == dict(th.named_parameters()).keys()
    for pname, p in th.named_parameters():
        assert_close(mt_params[pname].grad, p.grad, rtol=1e-4, atol=1e-5, msg=pname)


def test_multihead_attention_unbatched_and_dropout_eval():
    th = torch.nn.MultiheadAttention(8, 4, dropout=0.5).eval()
    mt = nn.MultiheadAttention(8, 4, dropout=0.5).eval()
    _copy_state(mt, th)
    x = randn(5, 8, seed=1).astype(np.float32)
    check_against_torch(lambda x: mt(x, x, x), lambda x: th(x, x, x), x, rtol=1e-4, atol=1e-5)


def test_multihead_attention_init_like_torch():
    mt = nn.MultiheadAttention(16, 4, add_bias_kv=True)
    assert mt.in_proj_weight.shape == (48, 16) and mt.in_proj_bias.shape == (48,)
    assert mt.bias_k.shape == (1, 1, 16) and mt.q_proj_weight is None
    assert np.all(mt.in_proj_bias.detach().numpy() == 0) and np.all(mt.out_proj.bias.detach().numpy() == 0)
    bound = np.sqrt(6 / (48 + 16))  # xavier_uniform_ over the packed (3E, E) weight
    assert np.abs(mt.in_proj_weight.detach().numpy()).max() <= bound
    sep = nn.MultiheadAttention(16, 4, kdim=8, vdim=8)
    assert sep.in_proj_weight is None and sep.k_proj_weight.shape == (16, 8)
    assert nn.MultiheadAttention(8, 2, fused=True).fused
    with pytest.raises(AssertionError):
        nn.MultiheadAttention(10, 3)


def test_fused_paths_match_torch():
    """With mytorch.backends.fused on, layer_norm / rms_norm / cross_entropy / SDPA run the Triton kernels
    (Triton's CPU interpreter, in a subprocess: TRITON_INTERPRET must be set before triton compiles anything)."""
    pytest.importorskip("triton")
    import os
    import subprocess
    import sys

    env = dict(os.environ, TRITON_INTERPRET="1")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", _FUSED_SCRIPT], env=env, cwd=root, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


_FUSED_SCRIPT = """
import numpy as np, torch, torch.nn.functional as TF, mytorch, mytorch.nn.functional as F
from mytorch import kernels
from tests.helpers import check_against_torch, randn
tol = {"rtol": 1e-3, "atol": 1e-4}
x, w, b = (randn(*s, seed=i).astype(np.float32) for i, s in enumerate([(4, 32), (32,), (32,)]))
t = np.array([1, -100, 5, 7])
tm, tt = mytorch.tensor(t), torch.tensor(t)
q, k, v = (randn(1, 2, 20, 16, seed=s).astype(np.float32) for s in range(3))
i, j = torch.arange(20)[:, None], torch.arange(20)[None]
with mytorch.backends.fused.flags(enabled=True):
    check_against_torch(lambda x, w, b: F.layer_norm(x, (32,), w, b), lambda x, w, b: TF.layer_norm(x, (32,), w, b),
                        x, w, b, **tol)
    check_against_torch(lambda x, w: F.rms_norm(x, (32,), w), lambda x, w: TF.rms_norm(x, (32,), w), x, w, **tol)
    for red in ["mean", "none"]:
        check_against_torch(lambda x: F.cross_entropy(x, tm, reduction=red, label_smoothing=0.1),
                            lambda x: TF.cross_entropy(x, tt, reduction=red, label_smoothing=0.1), x, **tol)
    check_against_torch(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, window_size=4),
                        lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, attn_mask=(j <= i) & (j > i - 4)),
                        q, k, v, **tol)
for name in ["layer_norm_bwd", "rms_norm_bwd", "cross_entropy_bwd", "flash_attention_bwd"]:
    assert kernels.launch_counts[name] > 0, name
"""


@pytest.mark.parametrize("window,batch_first,bias", [(1, True, True), (3, True, False), (4, False, True)])
def test_sliding_window_attention_module(window, batch_first, bias):
    """nn.SlidingWindowAttention vs the same computation in torch (packed qkv, banded causal mask, projection)."""
    import torch.nn.functional as TF

    E, H, N, L = 12, 3, 2, 7
    mt_mod = mytorch.nn.SlidingWindowAttention(E, H, window, bias=bias, batch_first=batch_first)
    assert repr(mt_mod).startswith("SlidingWindowAttention(") and "window_size=" + str(window) in repr(mt_mod)
    qkv = torch.nn.Linear(E, 3 * E, bias=bias).double()
    proj = torch.nn.Linear(E, E, bias=bias).double()
    state = {f"qkv.{k}": v for k, v in qkv.state_dict().items()}
    state.update({f"proj.{k}": v for k, v in proj.state_dict().items()})
    mt_mod.load_state_dict({k: mytorch.tensor(v.detach().numpy()) for k, v in state.items()})
    mt_mod.double()
    i, j = np.arange(L)[:, None], np.arange(L)[None, :]
    band = torch.tensor((j <= i) & (j > i - window))

    def ref(x):
        xb = x if batch_first else x.transpose(0, 1)
        q, k, v = (t.reshape(N, L, H, E // H).transpose(1, 2) for t in qkv(xb).split(E, dim=-1))
        out = TF.scaled_dot_product_attention(q, k, v, attn_mask=band)
        out = proj(out.transpose(1, 2).reshape(N, L, E))
        return out if batch_first else out.transpose(0, 1)

    shape = (N, L, E) if batch_first else (L, N, E)
    check_against_torch(mt_mod, ref, np.random.default_rng(0).standard_normal(shape))
    assert_close(mt_mod.qkv.weight.grad, qkv.weight.grad)
    assert_close(mt_mod.proj.weight.grad, proj.weight.grad)
    with pytest.raises(ValueError, match="window_size"):
        mytorch.nn.SlidingWindowAttention(E, H, 0)
    with pytest.raises(RuntimeError, match="3-D input"):
        mt_mod(mytorch.randn(2, 3))
