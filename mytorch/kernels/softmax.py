"""Row softmax / log_softmax, forward and backward.

One program per row. A row that fits one block is loaded once (SINGLE); a longer row is streamed in
blocks twice: an online pass keeps the running max m and the sum s of exp(x - m) (rescaled by
exp(m_old - m_new) when the max grows), then a second pass writes the outputs. Computed in fp32.
While every value seen so far is -inf, the running max is -inf: exponents use m_safe = 0 then, so a -inf
block gives exp(-inf) = 0 instead of exp(-inf - -inf) = NaN (a row that is all -inf is NaN, as in PyTorch).
Backward: softmax dx = y * (dy - sum(dy*y)); log_softmax dx = dy - exp(y) * sum(dy).
"""
import numpy as np
import triton
import triton.language as tl

from . import as_rows, check_float, count, launcher, next_pow2, row_warps, to_triton, xp_of

MAX_BLOCK = 4096


@triton.jit
def _softmax_fwd_kernel(x_ptr, y_ptr, n_cols, x_row_stride, y_row_stride,
                        LOG: tl.constexpr, SINGLE: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * x_row_stride
    y_row = y_ptr + row * y_row_stride
    cols = tl.arange(0, BLOCK)
    if SINGLE:
        mask = cols < n_cols
        x = tl.load(x_row + cols, mask=mask, other=-float("inf")).to(tl.float32)
        m = tl.max(x, 0)
        e = tl.exp(x - m)
        s = tl.sum(e, 0)
        if LOG:
            y = x - m - tl.log(s)
        else:
            y = e / s
        tl.store(y_row + cols, y.to(y_ptr.dtype.element_ty), mask=mask)
    else:
        m = -float("inf")
        s = 0.0
        for start in range(0, n_cols, BLOCK):
            mask = start + cols < n_cols
            x = tl.load(x_row + start + cols, mask=mask, other=-float("inf")).to(tl.float32)
            m_new = tl.maximum(m, tl.max(x, 0))
            m_safe = tl.where(m_new == -float("inf"), 0.0, m_new)
            s = s * tl.exp(m - m_safe) + tl.sum(tl.exp(x - m_safe), 0)
            m = m_new
        log_s = tl.log(s)
        for start in range(0, n_cols, BLOCK):
            mask = start + cols < n_cols
            x = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
            if LOG:
                y = x - m - log_s
            else:
                y = tl.exp(x - m) / s
            tl.store(y_row + start + cols, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _softmax_bwd_kernel(dy_ptr, y_ptr, dx_ptr, n_cols, dy_row_stride, y_row_stride, dx_row_stride,
                        LOG: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    acc = 0.0  # softmax: sum(dy * y); log_softmax: sum(dy)
    for start in range(0, n_cols, BLOCK):
        mask = start + cols < n_cols
        dy = tl.load(dy_ptr + row * dy_row_stride + start + cols, mask=mask, other=0.0).to(tl.float32)
        if LOG:
            acc += tl.sum(dy, 0)
        else:
            y = tl.load(y_ptr + row * y_row_stride + start + cols, mask=mask, other=0.0).to(tl.float32)
            acc += tl.sum(dy * y, 0)
    for start in range(0, n_cols, BLOCK):
        mask = start + cols < n_cols
        dy = tl.load(dy_ptr + row * dy_row_stride + start + cols, mask=mask, other=0.0).to(tl.float32)
        y = tl.load(y_ptr + row * y_row_stride + start + cols, mask=mask, other=0.0).to(tl.float32)
        if LOG:
            dx = dy - tl.exp(y) * acc
        else:
            dx = y * (dy - acc)
        tl.store(dx_ptr + row * dx_row_stride + start + cols, dx.to(dx_ptr.dtype.element_ty), mask=mask)


def _block(n_cols, block_size):
    return block_size or min(next_pow2(n_cols), MAX_BLOCK)


@launcher
def softmax_fwd(x, log=False, block_size=None):
    """softmax (log=False) or log_softmax over the last axis of x (any shape, fp16/fp32) -> y like x."""
    check_float("softmax", x)
    shape, x2 = x.shape, as_rows(x)
    n_rows, n_cols = x2.shape
    y = xp_of(x).empty((n_rows, n_cols), dtype=x.dtype)
    if n_rows and n_cols:
        block = _block(n_cols, block_size)
        _softmax_fwd_kernel[(n_rows,)](to_triton(x2), to_triton(y), n_cols, x2.strides[0] // x2.itemsize,
                                       n_cols, LOG=log, SINGLE=block >= n_cols, BLOCK=block,
                                       num_warps=row_warps(block))
        count("softmax_fwd")
    return y.reshape(shape)


@launcher
def softmax_bwd(dy, y, log=False, block_size=None):
    """Gradient of softmax/log_softmax over the last axis given its output y -> dx like y."""
    shape, dy2, y2 = y.shape, as_rows(dy), as_rows(y)
    n_rows, n_cols = y2.shape
    dx = xp_of(y).empty((n_rows, n_cols), dtype=y.dtype)
    if n_rows and n_cols:
        block = _block(n_cols, block_size)
        _softmax_bwd_kernel[(n_rows,)](to_triton(dy2), to_triton(y2), to_triton(dx), n_cols,
                                       dy2.strides[0] // dy2.itemsize, y2.strides[0] // y2.itemsize, n_cols,
                                       LOG=log, BLOCK=block, num_warps=row_warps(block))
        count("softmax_bwd")
    return dx.reshape(shape)


def reference(x, log=False):
    x = x.astype(np.float64)
    z = x - x.max(-1, keepdims=True)
    lse = np.log(np.exp(z).sum(-1, keepdims=True))
    return z - lse if log else np.exp(z - lse)
