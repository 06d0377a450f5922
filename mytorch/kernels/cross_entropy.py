"""Cross entropy fused with the logits: per-row loss and dlogits in one launch, chunked over the vocabulary.

One program per row, two streaming passes over V (50k+ columns never held at once, no softmax array):
  pass 1: online logsumexp (running max m, rescaled sum s) and sum(x) for label smoothing;
  pass 2: dlogits = softmax - (1 - eps) * onehot(target) - eps / V, written in the logits dtype.
loss = lse - (1 - eps) * x[target] - eps / V * sum(x)   (PyTorch's label_smoothing formula).
The running max uses m_safe (0 while every logit so far is -inf), so an all -inf block is no NaN; the
smoothing term is skipped when eps == 0, so a -inf logit gives no 0 * -inf. Out-of-range targets: on the
host a clear IndexError (numpy arrays, or check_target=True); on a GPU by default no host sync, the kernel
never reads outside the row and gives the row a NaN loss. Rows whose target is ignore_index get loss 0 and
dlogits 0. dlogits is d(loss_row)/d(logits); backward
only scales rows by the incoming gradient (cross_entropy_bwd). Class weights are not supported.
"""
import numpy as np
import triton
import triton.language as tl

from . import check_float, count, debug_checks, launcher, next_pow2, row_warps, to_triton, xp_of

MAX_BLOCK = 8192


@triton.jit
def _ce_kernel(logits_ptr, target_ptr, loss_ptr, dlogits_ptr, lse_ptr, n_cols, logits_stride, ignore_index,
               smoothing, COMPUTE_GRAD: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    row_ptr = logits_ptr + row * logits_stride
    cols = tl.arange(0, BLOCK)
    target = tl.load(target_ptr + row).to(tl.int64)
    ignored = target == ignore_index
    m = -float("inf")
    s = 0.0
    acc_x = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, n_cols, BLOCK):
        mask = start + cols < n_cols
        x = tl.load(row_ptr + start + cols, mask=mask, other=-float("inf")).to(tl.float32)
        m_new = tl.maximum(m, tl.max(x, 0))
        m_safe = tl.where(m_new == -float("inf"), 0.0, m_new)
        s = s * tl.exp(m - m_safe) + tl.sum(tl.exp(x - m_safe), 0)
        m = m_new
        acc_x += tl.where(mask, x, 0.0)
    lse = m + tl.log(s)
    in_range = (target >= 0) & (target < n_cols)
    safe_target = tl.where(ignored | ~in_range, 0, target)
    x_t = tl.load(row_ptr + safe_target).to(tl.float32)
    smooth = tl.where(smoothing > 0.0, smoothing / n_cols * tl.sum(acc_x, 0), 0.0)
    loss = tl.where(in_range, lse - (1.0 - smoothing) * x_t - smooth, float("nan"))
    tl.store(loss_ptr + row, tl.where(ignored, 0.0, loss))
    tl.store(lse_ptr + row, lse)
    if COMPUTE_GRAD:
        d_row = dlogits_ptr + row * n_cols
        for start in range(0, n_cols, BLOCK):
            mask = start + cols < n_cols
            x = tl.load(row_ptr + start + cols, mask=mask, other=0.0).to(tl.float32)
            d = tl.exp(x - lse) - smoothing / n_cols
            d = tl.where(start + cols == target, d - (1.0 - smoothing), d)
            d = tl.where(ignored, 0.0, tl.where(in_range, d, float("nan")))
            tl.store(d_row + start + cols, d.to(dlogits_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _scale_rows_kernel(d_ptr, scale_ptr, n_cols, SCALAR: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    col0 = tl.program_id(1) * BLOCK
    cols = col0 + tl.arange(0, BLOCK)
    mask = cols < n_cols
    if SCALAR:
        scale = tl.load(scale_ptr)
    else:
        scale = tl.load(scale_ptr + row)
    d = tl.load(d_ptr + row * n_cols + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(d_ptr + row * n_cols + cols, (d * scale).to(d_ptr.dtype.element_ty), mask=mask)


@launcher
def cross_entropy_fwd(logits, target, ignore_index=-100, label_smoothing=0.0, compute_grad=True, block_size=None,
                      check_target=None):
    """logits (M, V) fp16/fp32, target (M,) integer class indices.

    check_target: raise IndexError for a target outside [0, V) (needs a host sync); default True for numpy
    arrays, False on a GPU (such rows get a NaN loss instead) unless MYTORCH_KERNEL_CHECKS=1.

    Returns (loss, dlogits, lse): loss (M,) fp32 per row (0 where ignored), dlogits (M, V) in the logits
    dtype = d(loss[i])/d(logits[i]) (None unless compute_grad), lse (M,) fp32 logsumexp per row.
    Mean reduction: divide by the number of rows with target != ignore_index.
    """
    check_float("cross_entropy", logits)
    xp = xp_of(logits)
    if logits.ndim != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"cross_entropy: expected logits (M, V) and target (M,), got {logits.shape} and {target.shape}")
    n_rows, n_cols = logits.shape
    if check_target is None:
        check_target = xp is np or debug_checks()
    if check_target and n_rows:
        bad = (target != ignore_index) & ((target < 0) | (target >= n_cols))
        if bool(bad.any()):
            raise IndexError(f"Target {int(target[bad][0])} is out of bounds.")
    if logits.strides[1] != logits.itemsize:
        logits = xp.ascontiguousarray(logits)
    target = xp.ascontiguousarray(target, dtype=np.int64)
    loss = xp.empty(n_rows, np.float32)
    lse = xp.empty(n_rows, np.float32)
    dlogits = xp.empty((n_rows, n_cols), logits.dtype) if compute_grad else None
    if n_rows:
        block = block_size or min(next_pow2(n_cols), MAX_BLOCK)
        _ce_kernel[(n_rows,)](to_triton(logits), to_triton(target), to_triton(loss),
                              to_triton(dlogits) if compute_grad else to_triton(loss), to_triton(lse), n_cols,
                              logits.strides[0] // logits.itemsize, int(ignore_index), float(label_smoothing),
                              COMPUTE_GRAD=compute_grad, BLOCK=block, num_warps=row_warps(block))
        count("cross_entropy_fwd")
    return loss, dlogits, lse


@launcher
def cross_entropy_bwd(dlogits, grad_loss, block_size=None):
    """Scale dlogits (M, V) IN PLACE by grad_loss: a scalar array (reduction mean/sum, already divided by
    the count for mean) or per-row (M,) (reduction none). Returns dlogits."""
    xp = xp_of(dlogits)
    grad_loss = xp.ascontiguousarray(grad_loss, dtype=np.float32)
    n_rows, n_cols = dlogits.shape
    if n_rows and n_cols:
        block = block_size or min(next_pow2(n_cols), 1024)
        _scale_rows_kernel[(n_rows, -(-n_cols // block))](to_triton(dlogits), to_triton(grad_loss), n_cols,
                                                           SCALAR=grad_loss.size == 1, BLOCK=block)
        count("cross_entropy_bwd")
    return dlogits


def reference(logits, target, ignore_index=-100, label_smoothing=0.0):
    """Per-row loss and dlogits in float64."""
    x = logits.astype(np.float64)
    n_cols = x.shape[1]
    lse = np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + x.max(1)
    ignored = target == ignore_index
    t = np.where(ignored, 0, target)
    x_t = x[np.arange(len(x)), t]
    smooth = label_smoothing / n_cols * x.sum(1) if label_smoothing else 0.0  # no 0 * -inf
    loss = lse - (1 - label_smoothing) * x_t - smooth
    d = np.exp(x - lse[:, None]) - label_smoothing / n_cols
    d[np.arange(len(x)), t] -= 1 - label_smoothing
    return np.where(ignored, 0.0, loss), np.where(ignored[:, None], 0.0, d)
