"""Launch-side choices that only a GPU would expose, checked without launching: the launchers' grids, tl.dot
precision, tile sizes, and when the fused path is available at all."""
import numpy as np
import pytest

import mytorch
import mytorch.kernels as kernels
from mytorch.kernels import conv2d, flash_attention as fa, linear


class Recorder:
    """Stands in for a kernel: `kernel[grid](*args, **kwargs)` records instead of launching."""

    def __init__(self):
        self.calls = []

    def __getitem__(self, grid):
        return lambda *args, **kwargs: self.calls.append((grid, args, kwargs))


def record(monkeypatch, module, *names):
    recorders = [Recorder() for _ in names]
    for name, rec in zip(names, recorders):
        monkeypatch.setattr(module, name, rec)
    return recorders


def test_flash_attention_grid_puts_batch_times_heads_on_axis_0(monkeypatch):
    # B=2048, H=32 decode: B*H = 65536 programs, past CUDA's 65535 limit of grid axes 1 and 2
    B, H, D = 2048, 32, 16
    q, kv = np.zeros((B, H, 1, D), np.float16), np.zeros((B, 4, 9, D), np.float16)
    fwd, delta, dkdv, dq = record(monkeypatch, fa, "_attn_fwd_kernel", "_attn_bwd_delta_kernel",
                                  "_attn_bwd_dkdv_kernel", "_attn_bwd_dq_kernel")
    out, lse = fa.flash_attention_fwd(q, kv, kv)
    fa.flash_attention_bwd(out, q, kv, kv, out, lse)
    assert fwd.calls[0][0] == (B * H, 1) and delta.calls[0][0] == (B * H, 1) and dq.calls[0][0] == (B * H, 1)
    assert dkdv.calls[0][0] == (B * 4, 1)  # one program per (b, kv head), key block
    for rec in (fwd, delta, dkdv, dq):
        grid = rec.calls[0][0]
        assert grid[0] < 2 ** 31 and all(g <= 65535 for g in grid[1:])


@pytest.mark.parametrize("dtype,allow_tf32,want", [
    (np.float32, None, "tf32x3"),   # PyTorch's default: no TF32 for matmul-like ops
    (np.float32, False, "tf32x3"),
    (np.float32, True, "tf32"),
    (np.float16, None, "tf32"),     # fp16 products are exact; the flag only matters for fp32
])
def test_flash_attention_dot_precision(monkeypatch, dtype, allow_tf32, want):
    q = np.zeros((1, 1, 4, 16), dtype)
    (fwd,) = record(monkeypatch, fa, "_attn_fwd_kernel")
    fa.flash_attention_fwd(q, q, q, allow_tf32=allow_tf32)
    assert fwd.calls[0][2]["PRECISION"] == want


def test_tf32_follows_the_backends_switches(monkeypatch):
    q = np.zeros((1, 1, 4, 16), np.float32)
    x, w = np.zeros((1, 2, 5, 5), np.float32), np.zeros((3, 2, 3, 3), np.float32)
    (attn,) = record(monkeypatch, fa, "_attn_fwd_kernel")
    (conv,) = record(monkeypatch, conv2d, "_conv_fwd_kernel")
    (mm,) = record(monkeypatch, linear, "_matmul_kernel")
    fa.flash_attention_fwd(q, q, q)
    conv2d.conv2d_fwd(x, w)
    linear.matmul(np.zeros((4, 8), np.float32), np.zeros((8, 4), np.float32))
    # PyTorch's defaults: matmul.allow_tf32 False, cudnn.allow_tf32 True
    assert attn.calls[-1][2]["PRECISION"] == "tf32x3" and mm.calls[-1][2]["TF32"] is False
    assert conv.calls[-1][2]["PRECISION"] == "tf32"
    conv2d.conv2d_fwd(x, w, allow_tf32=False)
    assert conv.calls[-1][2]["PRECISION"] == "tf32x3"
    monkeypatch.setattr(mytorch.backends.cuda.matmul, "allow_tf32", True)
    monkeypatch.setattr(mytorch.backends.cudnn, "allow_tf32", False)
    fa.flash_attention_fwd(q, q, q)
    conv2d.conv2d_fwd(x, w)
    linear.matmul(np.zeros((4, 8), np.float32), np.zeros((8, 4), np.float32))
    assert attn.calls[-1][2]["PRECISION"] == "tf32" and mm.calls[-1][2]["TF32"] is True
    assert conv.calls[-1][2]["PRECISION"] == "tf32x3"


def test_dot_tiles_are_at_least_16(monkeypatch):
    # the NVIDIA backend needs M, N, K >= 16 in tl.dot; user block sizes below that are raised to 16
    q = np.zeros((1, 1, 4, 16), np.float32)
    (attn,) = record(monkeypatch, fa, "_attn_fwd_kernel")
    (conv,) = record(monkeypatch, conv2d, "_conv_fwd_kernel")
    (mm,) = record(monkeypatch, linear, "_matmul_kernel")
    fa.flash_attention_fwd(q, q, q, block_m=8, block_n=4)
    conv2d.conv2d_fwd(np.zeros((1, 2, 5, 5), np.float32), np.zeros((3, 2, 3, 3), np.float32), blocks=(8, 8, 8))
    linear.matmul(np.zeros((4, 8), np.float32), np.zeros((8, 4), np.float32), blocks=(8, 8, 4))
    kw = attn.calls[0][2]
    assert (kw["BLOCK_M"], kw["BLOCK_N"]) == (16, 16)
    for rec in (conv, mm):
        kw = rec.calls[0][2]
        assert (kw["BLOCK_M"], kw["BLOCK_N"], kw["BLOCK_K"]) == (16, 16, 16)
    with pytest.raises(ValueError, match="block_m"):
        fa.flash_attention_fwd(q, q, q, block_m=-1)


def test_matmul_autotune_key_buckets_m(monkeypatch):
    (mm,) = record(monkeypatch, linear, "_matmul_kernel")
    for m in (100, 128, 3):
        linear.matmul(np.zeros((m, 8), np.float32), np.zeros((8, 4), np.float32))
    m_bucket = [call[1][8] for call in mm.calls]  # (A, B, C, BIAS, PRE, M, N, K, M_BUCKET, ...)
    assert m_bucket == [128, 128, 4]


def test_not_available_with_cupy_but_a_cpu_only_torch(monkeypatch):
    # Triton's CUDA driver exists only under torch.cuda.is_available(): cupy alone must not pick the fused path
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(kernels, "interpreting", lambda: False)
    monkeypatch.setattr(kernels, "_gpu_ready", None)
    monkeypatch.setattr(mytorch._array, "cupy_module", lambda: object())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not kernels.is_available()
    with mytorch.backends.fused.flags(enabled=True):
        assert not mytorch.backends.fused.use("softmax")
    monkeypatch.setattr(kernels, "_gpu_ready", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert kernels.is_available()
    monkeypatch.setattr(kernels, "_gpu_ready", None)



@pytest.mark.parametrize("deterministic,dq_kernel", [(False, False), (True, True)])
def test_flash_attention_dropout_dq_by_atomics_unless_deterministic(monkeypatch, deterministic, dq_kernel):
    # with dropout the dK/dV programs accumulate dQ with atomics (no dQ kernel), except in deterministic mode
    q = np.zeros((1, 2, 8, 16), np.float16)
    out, lse = fa.flash_attention_fwd(q, q, q, dropout_p=0.1)
    dkdv, dq = record(monkeypatch, fa, "_attn_bwd_dkdv_kernel", "_attn_bwd_dq_kernel")
    mytorch.use_deterministic_algorithms(deterministic)
    try:
        fa.flash_attention_bwd(out, q, q, q, out, lse, dropout_p=0.1)
    finally:
        mytorch.use_deterministic_algorithms(False)
    assert dkdv.calls[0][2]["DQ_ATOMIC"] is (not deterministic)
    assert bool(dq.calls) is dq_kernel
