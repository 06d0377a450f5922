"""Linear layer: y = act(x @ W^T + b) in one matmul with a fused bias + activation epilogue.

Tiled GEMM (BLOCK_M x BLOCK_N output tile, K looped in BLOCK_K steps, fp32 accumulator), programs in
GROUP_M-grouped order so neighbouring tiles share operands in L2. Operands are addressed through strides,
so W^T, dz^T and x^T are views, never copies. The epilogue optionally stores the pre-activation z for
the backward. Backward: dz = dy * act'(z) (activations.activation_bwd), dx = dz @ W, dW = dz^T @ x,
db = sum_rows dz. On a GPU the block sizes are autotuned per (M rounded up to a power of two, N, K); the
interpreter uses one config. fp32 inputs get fp32-accurate products (three-pass TF32: IEEE FMA loops spill
at these tiles) unless allow_tf32 (default mytorch.backends.cuda.matmul.allow_tf32, False as in PyTorch).
"""
import numpy as np
import triton
import triton.language as tl

from . import check_float, count, dot_block, dot_precision, interpreting, launcher, next_pow2, to_triton, xp_of
from .activations import ACTIVATIONS, act_fwd, activation_bwd


@triton.jit(do_not_specialize=["M_BUCKET"])
def _matmul_kernel(A, B, C, BIAS, PRE, M, N, K, M_BUCKET, sam, sak, sbk, sbn, scm, scn,
                   ACT: tl.constexpr, HAS_BIAS: tl.constexpr, STORE_PRE: tl.constexpr, TF32: tl.constexpr,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr):
    pid = tl.program_id(0)
    n_m = tl.cdiv(M, BLOCK_M)
    n_n = tl.cdiv(N, BLOCK_N)
    group = pid // (GROUP_M * n_n)
    first_m = group * GROUP_M
    group_size = tl.minimum(n_m - first_m, GROUP_M)
    pid_m = first_m + (pid % (GROUP_M * n_n)) % group_size
    pid_n = (pid % (GROUP_M * n_n)) // group_size
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    a_ptrs = A + rm[:, None].to(tl.int64) * sam + rk[None, :] * sak
    b_ptrs = B + rk[:, None] * sbk + rn[None, :].to(tl.int64) * sbn
    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    for k0 in range(0, K, BLOCK_K):
        a = tl.load(a_ptrs, mask=(rm[:, None] < M) & (k0 + rk[None, :] < K), other=0.0)
        b = tl.load(b_ptrs, mask=(k0 + rk[:, None] < K) & (rn[None, :] < N), other=0.0)
        if TF32:
            acc += tl.dot(a, b)
        else:
            acc += tl.dot(a, b, input_precision="tf32x3")  # ~fp32 accuracy on tensor cores (see dot_precision)
        a_ptrs += BLOCK_K * sak
        b_ptrs += BLOCK_K * sbk
    if HAS_BIAS:
        acc += tl.load(BIAS + rn, mask=rn < N, other=0.0).to(tl.float32)[None, :]
    c_offs = rm[:, None].to(tl.int64) * scm + rn[None, :] * scn
    c_mask = (rm[:, None] < M) & (rn[None, :] < N)
    if STORE_PRE:
        tl.store(PRE + c_offs, acc.to(PRE.dtype.element_ty), mask=c_mask)
    tl.store(C + c_offs, act_fwd(acc, ACT).to(C.dtype.element_ty), mask=c_mask)


# (BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages) the autotuner may pick; none of them spills registers
# on sm_80 / sm_90 (benchmarks/results/kernels_compile.md). fp32 gets smaller tiles: its three-pass TF32
# products hold three times the operand registers.
CONFIGS = {
    "16bit": [(128, 128, 32, 8, 3), (128, 64, 32, 4, 4), (64, 128, 32, 4, 4), (64, 32, 32, 4, 5)],
    "fp32": [(128, 64, 32, 8, 3), (64, 128, 32, 8, 3), (64, 64, 32, 4, 3), (64, 32, 32, 4, 4), (32, 64, 32, 4, 4)],
}


def _configs(kind):
    return [triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8}, num_warps=warps,
                          num_stages=stages) for bm, bn, bk, warps, stages in CONFIGS[kind]]


_tuned_kernels = {}


def _tuned(dtype):
    """The autotuned kernel for a dtype class, built on first use (an Autotuner wants Triton's GPU driver).
    Its key is (M_BUCKET, N, K) with M rounded up to a power of two: a new batch size re-tunes only per
    bucket."""
    kind = "fp32" if np.dtype(dtype) == np.float32 else "16bit"
    if kind not in _tuned_kernels:
        _tuned_kernels[kind] = triton.autotune(configs=_configs(kind), key=["M_BUCKET", "N", "K"])(_matmul_kernel)
    return _tuned_kernels[kind]


def tf32(dtype, allow_tf32=None):
    """Whether tl.dot may use TF32: fp16/bf16 products are exact in fp32 anyway; float32 follows allow_tf32,
    default mytorch.backends.cuda.matmul.allow_tf32 (False, as in PyTorch)."""
    if allow_tf32 is None:
        from ..backends import cuda

        allow_tf32 = cuda.matmul.allow_tf32
    return dot_precision(dtype, allow_tf32) == "tf32"


def _es(a):
    return [s // a.itemsize for s in a.strides]


@launcher
def matmul(a, b, bias=None, activation="none", out_dtype=None, store_pre=False, allow_tf32=None, blocks=None):
    """act(a @ b + bias) for 2-D a (M, K) and b (K, N) with any strides (transposes are free views).

    Returns (c, pre): c (M, N) in out_dtype (default a.dtype), pre = a @ b + bias if store_pre else None.
    blocks = (BLOCK_M, BLOCK_N, BLOCK_K) forces a tile size (tests); default autotuned (one config when
    interpreting)."""
    check_float("matmul", a, b)
    xp = xp_of(a)
    (M, K), N = a.shape, b.shape[1]
    if b.shape[0] != K:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({M}x{K} and {b.shape[0]}x{N})")
    out_dtype = out_dtype or a.dtype
    c = xp.empty((M, N), out_dtype)
    pre = xp.empty((M, N), out_dtype) if store_pre else None
    if not (M and N):
        return c, pre
    if not K:
        c[...] = 0 if bias is None else bias
        return matmul_epilogue_only(c, activation), (c.copy() if store_pre else None)
    t = to_triton
    args = (t(a), t(b), t(c), t(bias) if bias is not None else t(c), t(pre) if store_pre else t(c), M, N, K,
            min(next_pow2(M), 4096), *_es(a), *_es(b), *_es(c))
    flags = dict(ACT=ACTIVATIONS[activation], HAS_BIAS=bias is not None, STORE_PRE=store_pre,
                 TF32=tf32(a.dtype, allow_tf32))
    if blocks is None and not interpreting():
        grid = lambda meta: (triton.cdiv(M, meta["BLOCK_M"]) * triton.cdiv(N, meta["BLOCK_N"]),)
        _tuned(a.dtype)[grid](*args, **flags)
    else:
        bm, bn, bk = (dot_block(x, "blocks") for x in blocks) if blocks else (32, 32, 32)
        _matmul_kernel[(triton.cdiv(M, bm) * triton.cdiv(N, bn),)](*args, **flags, BLOCK_M=bm, BLOCK_N=bn,
                                                                     BLOCK_K=bk, GROUP_M=4)
    count("matmul")
    return c, pre


def matmul_epilogue_only(c, activation):
    from .activations import activation_fwd

    return c if activation == "none" else activation_fwd(c, activation)


@launcher
def linear_fwd(x, weight, bias=None, activation="none", save_pre=None, allow_tf32=None, blocks=None):
    """x (..., K), weight (N, K), bias (N,) or None -> (y (..., N), pre) with y = act(x @ W^T + b).

    pre (the pre-activation, (..., N)) is returned when the activation is not "none" and save_pre is not
    False; pass it to linear_bwd."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}")
    if x.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({x.size // max(x.shape[-1], 1)}x{x.shape[-1]} "
                           f"and {weight.shape[1]}x{weight.shape[0]})")
    store_pre = activation != "none" if save_pre is None else bool(save_pre) and activation != "none"
    x2 = x.reshape(-1, x.shape[-1])
    y, pre = matmul(x2, weight.T, bias, activation, store_pre=store_pre, allow_tf32=allow_tf32, blocks=blocks)
    lead = x.shape[:-1] + (weight.shape[0],)
    count("linear_fwd")
    return y.reshape(lead), (pre.reshape(lead) if pre is not None else None)


@launcher
def linear_bwd(dy, x, weight, pre=None, activation="none", need_dx=True, need_dweight=True, need_dbias=True,
               allow_tf32=None, blocks=None):
    """Returns (dx (..., K) | None, dweight (N, K) | None, dbias (N,) | None)."""
    if activation != "none" and pre is None:
        raise ValueError("linear_bwd: the pre-activation is needed for activation " + repr(activation))
    dz = activation_bwd(dy, pre, activation) if activation != "none" else dy
    dz2 = dz.reshape(-1, dz.shape[-1])
    x2 = x.reshape(-1, x.shape[-1])
    dx = dw = db = None
    if need_dx:
        dx = matmul(dz2, weight, out_dtype=x.dtype, allow_tf32=allow_tf32, blocks=blocks)[0].reshape(x.shape)
    if need_dweight:
        dw = matmul(dz2.T, x2, out_dtype=weight.dtype, allow_tf32=allow_tf32, blocks=blocks)[0]
    if need_dbias:
        db = dz2.sum(0, dtype=np.float32).astype(weight.dtype)
    count("linear_bwd")
    return dx, dw, db


def reference(x, weight, bias=None, activation="none"):
    from .activations import reference as act_reference

    z = x.astype(np.float64) @ weight.astype(np.float64).T
    if bias is not None:
        z = z + bias
    return act_reference(z, activation)[0]
