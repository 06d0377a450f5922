import numpy as np
import pytest
import torch
import triton
import triton.language as tl

from tests.kernels.kutil import assert_close, randn
import mytorch.kernels as K
from mytorch.kernels import flash_attention as fa

rng = np.random.default_rng(0)
BOOL_MASK = rng.random((2, 1, 19, 23)) > 0.3
BOOL_MASK[..., 0] = True  # keep every row attending somewhere (torch gives NaN for empty rows)
ADD_MASK = rng.standard_normal((4, 19, 23)).astype(np.float32)

CASES = {  # name: (B, Hq, Hkv, Lq, Lk, D, options, blocks)
    "plain": (1, 2, 2, 17, 17, 16, {}, None),
    "causal": (2, 2, 2, 19, 19, 24, dict(causal=True), None),
    "causal_cross": (1, 2, 1, 12, 21, 16, dict(causal=True), (16, 32)),
    "bool_mask": (2, 4, 2, 19, 23, 16, dict(attn_mask=BOOL_MASK), None),
    "additive_mask": (1, 4, 4, 19, 23, 20, dict(attn_mask=ADD_MASK), (32, 16)),
    "window": (1, 2, 2, 33, 33, 16, dict(window=(5, 3)), None),
    "window_causal": (1, 2, 2, 33, 33, 16, dict(window=(6, None), causal=True), None),
    "gqa_cross": (2, 6, 2, 9, 30, 32, dict(scale=0.3), None),
    "mqa_d128": (1, 4, 1, 5, 7, 128, {}, None),
}


def torch_reference(q, k, v, do, B, Hq, Lq, Lk, attn_mask=None, causal=False, window=None, scale=None, keep=None,
                    dropout_p=0.0):
    visible, additive = fa.reference_mask(B, Hq, Lq, Lk, attn_mask, causal, window)
    qt, kt, vt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (q, k, v))
    group = Hq // k.shape[1]
    kr, vr = kt.repeat_interleave(group, 1), vt.repeat_interleave(group, 1)
    s = qt @ kr.transpose(-1, -2) * (scale if scale is not None else q.shape[-1] ** -0.5)
    s = s + torch.as_tensor(additive, dtype=torch.float64)
    s = s.masked_fill(~torch.as_tensor(np.array(visible)), -float("inf"))
    p = torch.softmax(s, -1)
    if keep is not None:
        p = p * torch.as_tensor(keep) / (1 - dropout_p)
    out = p @ vr
    out.backward(torch.tensor(do, dtype=torch.float64))
    return out.detach().numpy(), qt.grad.numpy(), kt.grad.numpy(), vt.grad.numpy()


def run_case(B, Hq, Hkv, Lq, Lk, D, opts, blocks, dtype, dropout_p=0.0):
    q = randn(B, Hq, Lq, D, dtype=dtype, seed=1)
    k = randn(B, Hkv, Lk, D, dtype=dtype, seed=2)
    v = randn(B, Hkv, Lk, D, dtype=dtype, seed=3)
    do = randn(B, Hq, Lq, D, dtype=dtype, seed=4)
    bm, bn = blocks or (None, None)
    kw = dict(opts, dropout_p=dropout_p, seed=7, block_m=bm, block_n=bn)
    out, lse = fa.flash_attention_fwd(q, k, v, **kw)
    dq, dk, dv = fa.flash_attention_bwd(do, q, k, v, out, lse, **kw)
    keep = fa.dropout_keep_mask(B, Hq, Lq, Lk, dropout_p, 7) if dropout_p else None
    ref = torch_reference(q, k, v, do, B, Hq, Lq, Lk, keep=keep, dropout_p=dropout_p, **opts)
    for got, want, scale in zip((out, dq, dk, dv), ref, (1, 4, 4, 4)):
        assert got.dtype == dtype and got.shape == want.shape
        assert_close(got, want, dtype, scale=scale)
    return keep


@pytest.mark.parametrize("name", list(CASES))
def test_flash_attention_fp32(name):
    run_case(*CASES[name], np.float32)


@pytest.mark.parametrize("name", ["causal", "gqa_cross", "bool_mask"])
def test_flash_attention_fp16(name):
    run_case(*CASES[name], np.float16)


def test_flash_attention_dropout_regenerated():
    # with dropout the dK/dV programs also accumulate dQ (atomics across key blocks and GQA heads)
    keep = run_case(1, 2, 1, 13, 18, 16, dict(causal=True), None, np.float32, dropout_p=0.3)
    assert 0.55 < keep.mean() < 0.85
    K.launch_counts.clear()
    run_case(2, 4, 2, 9, 20, 24, dict(window=(5, 2)), None, np.float16, dropout_p=0.2)
    assert K.launch_counts["flash_attention_bwd"] == 1


def test_flash_attention_strided_layout():
    # (B, L, H, D) memory passed as a transposed view: no copy, same result
    B, L, H, D = 1, 11, 2, 16
    qkv = randn(B, L, 3, H, D)
    q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    out, _ = fa.flash_attention_fwd(q, k, v, causal=True)
    ref_out, _ = fa.flash_attention_fwd(*(np.ascontiguousarray(a) for a in (q, k, v)), causal=True)
    np.testing.assert_array_equal(out, ref_out)


def test_flash_attention_errors():
    q = randn(1, 3, 4, 16)
    with pytest.raises(ValueError, match="multiple"):
        fa.flash_attention_fwd(q, randn(1, 2, 4, 16), randn(1, 2, 4, 16))
    with pytest.raises(RuntimeError, match="broadcast"):
        fa.flash_attention_fwd(q, q, q, attn_mask=np.ones((5, 4), bool))


def test_flash_attention_fully_masked_row_gives_zeros():
    q, k, v = randn(1, 1, 4, 16), randn(1, 1, 6, 16, seed=1), randn(1, 1, 6, 16, seed=2)
    mask = np.ones((4, 6), bool)
    mask[2] = False
    out, lse = fa.flash_attention_fwd(q, k, v, attn_mask=mask)
    dq, dk, dv = fa.flash_attention_bwd(np.ones_like(out), q, k, v, out, lse, attn_mask=mask)
    assert np.all(out[0, 0, 2] == 0) and np.all(dq[0, 0, 2] == 0) and np.isfinite(dk).all()
    ref = torch_reference(q[:, :, [0, 1, 3]], k, v, np.ones((1, 1, 3, 16), np.float32), 1, 1, 3, 6)
    assert_close(out[:, :, [0, 1, 3]], ref[0])


@triton.jit
def _keep_probe(out_ptr, seed, bh, Lq, Lk, dropout_p):
    rows = tl.arange(0, 16)
    cols = tl.arange(0, 16)
    keep = fa._keep(seed, bh, rows, cols, Lq, Lk, dropout_p)
    tl.store(out_ptr + rows[:, None] * 16 + cols[None, :], keep.to(tl.int8))


def test_dropout_counters_do_not_wrap_at_2_32():
    # at Lq = Lk = 4096, heads 256 apart are 2**32 counters apart: int32 counters gave them the same mask
    masks = []
    for bh in (0, 256):
        out = np.zeros((16, 16), np.int8)
        _keep_probe[(1,)](torch.from_numpy(out), 7, bh, 4096, 4096, 0.5)
        masks.append(out)
    assert 0.3 < masks[0].mean() < 0.7 and (masks[0] != masks[1]).any()


def test_flash_attention_offsets_past_2_31_elements(tmp_path):
    # q rows 2**20 elements apart: row 2048 starts at element 2**31, past int32 (a sparse file, ~2 MB touched)
    Lq, D, stride = 2049, 16, 2 ** 20
    store = np.memmap(tmp_path / "q.bin", np.float16, "w+", shape=(Lq * stride,))
    q = np.lib.stride_tricks.as_strided(store, (1, 1, Lq, D), (0, 0, stride * 2, 2))
    q[0, 0, :, :] = randn(Lq, D, dtype=np.float16)
    k, v = randn(1, 1, 16, D, dtype=np.float16, seed=2), randn(1, 1, 16, D, dtype=np.float16, seed=3)
    out, _ = fa.flash_attention_fwd(q, k, v)
    ref, _ = fa.flash_attention_fwd(np.ascontiguousarray(q), k, v)
    np.testing.assert_array_equal(out, ref)
