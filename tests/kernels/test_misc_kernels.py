import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.kernels.kutil import assert_close, randn
import mytorch.kernels as K
from mytorch.kernels import adamw, conv2d, embedding, rotary


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("idx_shape,dim,block,padding_idx", [((7,), 5, None, None), ((2, 9), 37, 16, 3)])
def test_embedding_fwd_bwd(idx_shape, dim, block, padding_idx, dtype):
    V = 11
    w = randn(V, dim, dtype=dtype)
    idx = np.random.default_rng(0).integers(0, V, idx_shape)
    idx.flat[:3] = 3  # repeated indices: the atomics must add up
    dy = randn(*idx_shape, dim, dtype=dtype, seed=1)
    out = embedding.embedding_fwd(idx, w, block)
    np.testing.assert_array_equal(out, w[idx])
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    F.embedding(torch.tensor(idx), wt, padding_idx=padding_idx).backward(torch.tensor(dy, dtype=torch.float64))
    dw = embedding.embedding_bwd(dy, idx, V, padding_idx, block_size=block)
    assert dw.dtype == dtype
    assert_close(dw, wt.grad.numpy(), dtype, scale=3)
    with pytest.raises(IndexError):
        embedding.embedding_fwd(np.array([V]), w)


def test_embedding_unchecked_indices_stay_inside_the_table():
    """Without the host check (the GPU default: no device->host sync) an out-of-range index reads nothing
    outside the table: its row is NaN and it gets no gradient."""
    w = randn(6, 5)
    idx = np.array([[2, 6], [-1, 2]])
    out = embedding.embedding_fwd(idx, w, check_indices=False)
    np.testing.assert_array_equal(out[0, 0], w[2])
    assert np.isnan(out[0, 1]).all() and np.isnan(out[1, 0]).all()
    dw = embedding.embedding_bwd(np.ones((2, 2, 5), np.float32), idx, 6)
    np.testing.assert_array_equal(dw, np.where(np.arange(6)[:, None] == 2, 2.0, 0.0) * np.ones((1, 5)))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape,rotary_dim,interleaved,transposed", [
    ((2, 3, 7, 16), 16, False, False), ((1, 2, 5, 24), 16, True, False), ((2, 2, 9, 10), 6, False, True)])
def test_rotary_fwd_bwd(shape, rotary_dim, interleaved, transposed, dtype):
    B, H, L, D = shape
    x = randn(B, L, H, D, dtype=dtype).transpose(0, 2, 1, 3) if transposed else randn(*shape, dtype=dtype)
    cos, sin = rotary.rotary_cos_sin(L + 3, rotary_dim)
    y = rotary.rotary_fwd(x, cos, sin, interleaved)
    assert y.strides == x.strides and y.dtype == dtype
    ref = rotary.reference(x, cos, sin, interleaved)
    assert_close(y, ref, dtype)
    # gradient through torch autograd of the same formula
    xt = torch.tensor(np.ascontiguousarray(x), dtype=torch.float64, requires_grad=True)
    c, s = torch.tensor(cos[:L], dtype=torch.float64), torch.tensor(sin[:L], dtype=torch.float64)
    half = rotary_dim // 2
    if interleaved:
        x1, x2 = xt[..., 0:rotary_dim:2], xt[..., 1:rotary_dim:2]
        rot = torch.stack([x1 * c - x2 * s, x2 * c + x1 * s], -1).flatten(-2)
    else:
        x1, x2 = xt[..., :half], xt[..., half:rotary_dim]
        rot = torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], -1)
    yt = torch.cat([rot, xt[..., rotary_dim:]], -1)
    assert_close(y, yt.detach().numpy(), dtype)
    dy = randn(*shape, dtype=dtype, seed=2)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    assert_close(rotary.rotary_bwd(dy, cos, sin, interleaved), xt.grad.numpy(), dtype)


@pytest.mark.parametrize("amsgrad,maximize,weight_decay,block", [(False, False, 0.01, None), (True, True, 0.1, 64)])
def test_adamw_matches_torch(amsgrad, maximize, weight_decay, block):
    p0 = randn(300)
    p, tp = p0.copy(), torch.tensor(p0, requires_grad=True)
    opt = torch.optim.AdamW([tp], lr=0.01, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
    m, v = np.zeros_like(p), np.zeros_like(p)
    vmax = np.zeros_like(p) if amsgrad else None
    for step in range(1, 4):
        g = randn(300, seed=step)
        tp.grad = torch.tensor(g)
        opt.step()
        adamw.adamw_step(p, g, m, v, step=step, lr=0.01, weight_decay=weight_decay, amsgrad=amsgrad,
                         max_exp_avg_sq=vmax, maximize=maximize, block_size=block)
    assert_close(p, tp.detach().numpy(), scale=0.1)
    assert_close(m, opt.state[tp]["exp_avg"].numpy(), scale=0.1)


MULTI_SIZES = [(37,), (5, 13), (0,), (1,), (3, 41), (200,)]  # odd sizes: tails, a tensor spanning chunks, an empty one


def _numpy_adamw(params, grads, steps, **kw):
    """The unfused (numpy) AdamW of mytorch.optim on copies of the arrays; returns params and states."""
    import mytorch

    tensors = [mytorch.tensor(p.copy(), requires_grad=True) for p in params]
    opt = mytorch.optim.AdamW(tensors, fused=False, **kw)
    for step in range(steps):
        for t, g in zip(tensors, grads[step]):
            t.grad = mytorch.tensor(g)
        opt.step()
    return [t.detach().numpy() for t in tensors], opt, tensors


@pytest.mark.parametrize("kw", [dict(lr=0.01), dict(lr=0.02, weight_decay=0.1, amsgrad=True, maximize=True,
                                                    betas=(0.8, 0.99), eps=1e-6)])
def test_adamw_multi_tensor_matches_numpy_path(kw):
    params = [randn(*s, seed=i) for i, s in enumerate(MULTI_SIZES)]
    grads = [[randn(*s, seed=10 * step + i + 100) for i, s in enumerate(MULTI_SIZES)] for step in range(3)]
    ref, opt, tensors = _numpy_adamw(params, grads, 3, **kw)
    amsgrad = kw.get("amsgrad", False)
    p = [a.copy() for a in params]
    m, v, vmax = ([np.zeros_like(a) for a in params] for _ in range(3))
    K.launch_counts.clear()
    for step in range(3):
        adamw.adamw_multi_step(p, grads[step], m, v, vmax if amsgrad else None, step=step + 1, lr=kw["lr"],
                               beta1=kw.get("betas", (0.9, 0.999))[0], beta2=kw.get("betas", (0.9, 0.999))[1],
                               eps=kw.get("eps", 1e-8), weight_decay=kw.get("weight_decay", 1e-2), amsgrad=amsgrad,
                               maximize=kw.get("maximize", False), block_size=16, chunk_size=64)
    assert K.launch_counts["adamw"] == 3  # one launch per step for all six tensors
    for i, t in enumerate(tensors):
        np.testing.assert_allclose(p[i], ref[i], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(m[i], opt.state[t]["exp_avg"].numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(v[i], opt.state[t]["exp_avg_sq"].numpy(), rtol=1e-6, atol=1e-9)
        if amsgrad:
            np.testing.assert_allclose(vmax[i], opt.state[t]["max_exp_avg_sq"].numpy(), rtol=1e-6, atol=1e-9)


def test_adamw_multi_tensor_fp16_params_and_errors():
    params = [randn(*s, seed=i, dtype=np.float16) for i, s in enumerate(MULTI_SIZES[:3])]
    grads = [randn(*s, seed=i + 7, dtype=np.float16) for i, s in enumerate(MULTI_SIZES[:3])]
    m, v = ([np.zeros(a.shape, np.float32) for a in params] for _ in range(2))
    p = [a.copy() for a in params]
    adamw.adamw_multi_step(p, grads, m, v, step=1, lr=0.01, block_size=16, chunk_size=32)
    for pi, p0, g in zip(p, params, grads):  # first step: p*(1-lr*wd) - lr*sign(g) (up to eps)
        expected = p0.astype(np.float32) * (1 - 0.01 * 0.01) - 0.01 * g / (np.abs(g.astype(np.float32)) + 1e-8)
        assert pi.dtype == np.float16
        assert_close(pi, expected, np.float16)
    with pytest.raises(TypeError, match="one dtype"):
        adamw.adamw_multi_step([p[0], params[1].astype(np.float32)], grads[:2], m[:2], v[:2], step=1)
    with pytest.raises(ValueError, match="same length"):
        adamw.adamw_multi_step(p, grads[:2], m, v, step=1)
    with pytest.raises(ValueError, match="contiguous"):
        adamw.adamw_multi_step([p[1].T], [grads[1].T], [m[1]], [v[1]], step=1)
    with pytest.raises(TypeError, match="float32"):
        adamw.adamw_multi_step(p[:1], grads[:1], [m[0].astype(np.float16)], v[:1], step=1)


def test_adamw_multi_tensor_tables_are_cached():
    p = [randn(5), randn(9)]
    m, v = [np.zeros(5, np.float32), np.zeros(9, np.float32)], [np.zeros(5, np.float32), np.zeros(9, np.float32)]
    adamw._TABLES.clear()
    for step in (1, 2):
        adamw.adamw_multi_step(p, p, m, v, step=step)
    assert len(adamw._TABLES) == 1
    q = [randn(5), randn(9)]  # other arrays: another table
    adamw.adamw_multi_step(q, q, m, v, step=1)
    assert len(adamw._TABLES) == 2


CONV_CASES = [  # (x shape, out channels, kernel, stride, padding, dilation, groups, bias, blocks)
    ((2, 3, 7, 6), 5, (3, 3), 1, 1, 1, 1, True, None),
    ((1, 4, 9, 8), 6, (3, 2), 2, (1, 0), 1, 2, False, (16, 16, 16)),
    ((1, 2, 8, 8), 3, (2, 3), (1, 2), 2, 2, 1, True, (32, 16, 16)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("xs,oc,ks,stride,padding,dilation,groups,has_bias,blocks", CONV_CASES)
def test_conv2d_fwd_bwd(xs, oc, ks, stride, padding, dilation, groups, has_bias, blocks, dtype):
    x, w = randn(*xs, dtype=dtype), (0.3 * randn(oc, xs[1] // groups, *ks, seed=1)).astype(dtype)
    b = randn(oc, dtype=dtype, seed=2) if has_bias else None
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = conv2d.conv2d_fwd(x, w, b, blocks=blocks, allow_tf32=False, **kw)  # fp32-exact on a GPU too
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) if a is not None else None for a in (x, w, b)]
    yt = F.conv2d(*ts, **kw)
    assert y.shape == yt.shape and y.dtype == dtype
    assert_close(y, yt.detach().numpy(), dtype, scale=3)
    dy = randn(*y.shape, dtype=dtype, seed=3)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    dx, dw, db = conv2d.conv2d_bwd(dy, x, w, blocks=blocks, need_dbias=has_bias, allow_tf32=False, **kw)
    assert_close(dx, ts[0].grad.numpy(), dtype, scale=5)
    assert_close(dw, ts[1].grad.numpy(), dtype, scale=10)
    if has_bias:
        assert_close(db, ts[2].grad.numpy(), dtype, scale=10)


def test_api_launch_counts_and_adapters():
    assert K.is_available()  # conftest sets TRITON_INTERPRET=1
    before = K.launch_counts["softmax_fwd"]
    from mytorch.kernels import softmax
    softmax.softmax_fwd(randn(2, 3))
    assert K.launch_counts["softmax_fwd"] == before + 1
    arr = randn(4, 5)
    t = K.to_triton(arr)
    assert t.data_ptr() == arr.ctypes.data  # zero copy
    assert K.from_triton(t) is not arr and np.shares_memory(K.from_triton(t), arr)
    assert K.to_triton(np.ones(3, bool)).dtype == torch.uint8


def test_backends_switch():
    from mytorch import backends
    assert backends.fused.enabled is False and not backends.fused.use("softmax")
    with backends.fused.flags(enabled=True, flash_attention=False):
        assert backends.fused.use("softmax") and not backends.fused.use("flash_attention")
    assert backends.fused.enabled is False and backends.fused.flash_attention is True
    with pytest.raises(ValueError):
        with backends.fused.flags(nonsense=True):
            pass


@pytest.mark.parametrize("split", [2, 3, 50])
def test_conv2d_weight_grad_split_k(split):
    # split-K partial sums over (n, oh, ow), one fp32 slice per split, equal the single-pass dW
    x, w = randn(2, 4, 7, 6), 0.3 * randn(6, 2, 3, 3, seed=1)
    kw = dict(stride=1, padding=1, dilation=1, groups=2)
    dy = randn(2, 6, 7, 6, seed=3)
    _, dw, _ = conv2d.conv2d_bwd(dy, x, w, need_dx=False, need_dbias=False, split_k=split, allow_tf32=False, **kw)
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w)]
    F.conv2d(*ts, **kw).backward(torch.tensor(dy, dtype=torch.float64))
    assert dw.dtype == np.float32
    assert_close(dw, ts[1].grad.numpy(), scale=10)
