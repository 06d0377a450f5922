"""LayerNorm and RMSNorm over the last axis, forward and backward, optional fused residual add.

Forward (one program per row): h = x (+ residual); LayerNorm y = (h - mean) * rstd * w + b with
rstd = 1/sqrt(var + eps); RMSNorm (RMS=True) y = h * rstd * w with rstd = 1/sqrt(mean(h^2) + eps).
A row that fits one block (SINGLE, N <= 4096) is read once, its statistics kept in registers; longer
rows are looped (mean pass, variance pass, write pass).
Backward: xhat = (h - mean) * rstd, g = dy * w, dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
(RMS: no mean(g) term). dw = sum_rows dy * xhat, db = sum_rows dy: each program owns a slice of rows
and a private fp32 row of a (programs, N) buffer, summed at the end: deterministic, no atomics. A row that
fits one block (SINGLE, N <= 4096) is read once and the partial sums stay in registers; longer rows loop.
"""
import numpy as np
import triton
import triton.language as tl

from . import as_rows, check_float, count, interpreting, launcher, next_pow2, row_warps, to_triton, xp_of

MAX_BLOCK = 4096


@triton.jit
def _norm_fwd_kernel(x_ptr, res_ptr, h_ptr, y_ptr, w_ptr, b_ptr, mean_ptr, rstd_ptr, n_cols, eps,
                     x_stride, res_stride, RMS: tl.constexpr, HAS_RES: tl.constexpr, HAS_W: tl.constexpr,
                     HAS_B: tl.constexpr, SINGLE: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    x_row = x_ptr + row * x_stride
    h_row = h_ptr + row * n_cols  # h (the residual stream) is contiguous; only written when HAS_RES
    if SINGLE:  # the row fits one block: read x (and the residual) once, statistics from registers
        mask = cols < n_cols
        h = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
        if HAS_RES:
            h += tl.load(res_ptr + row * res_stride + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(h_row + cols, h.to(h_ptr.dtype.element_ty), mask=mask)
        if RMS:
            mean = 0.0
            rstd = 1.0 / tl.sqrt(tl.sum(h * h, 0) / n_cols + eps)
        else:
            mean = tl.sum(h, 0) / n_cols
            d = tl.where(mask, h - mean, 0.0)
            rstd = 1.0 / tl.sqrt(tl.sum(d * d, 0) / n_cols + eps)
            tl.store(mean_ptr + row, mean)
        tl.store(rstd_ptr + row, rstd)
        y = (h - mean) * rstd
        if HAS_W:
            y *= tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
        if HAS_B:
            y += tl.load(b_ptr + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_ptr + row * n_cols + cols, y.to(y_ptr.dtype.element_ty), mask=mask)
        return
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, n_cols, BLOCK):
        mask = start + cols < n_cols
        h = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
        if HAS_RES:
            h += tl.load(res_ptr + row * res_stride + start + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(h_row + start + cols, h.to(h_ptr.dtype.element_ty), mask=mask)
        if RMS:
            acc += h * h
        else:
            acc += h
    if RMS:
        mean = 0.0
        rstd = 1.0 / tl.sqrt(tl.sum(acc, 0) / n_cols + eps)
    else:
        mean = tl.sum(acc, 0) / n_cols
        acc = tl.zeros([BLOCK], dtype=tl.float32)
        for start in range(0, n_cols, BLOCK):
            mask = start + cols < n_cols
            if HAS_RES:
                h = tl.load(h_row + start + cols, mask=mask, other=0.0).to(tl.float32)
            else:
                h = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
            d = tl.where(mask, h - mean, 0.0)
            acc += d * d
        rstd = 1.0 / tl.sqrt(tl.sum(acc, 0) / n_cols + eps)
        tl.store(mean_ptr + row, mean)
    tl.store(rstd_ptr + row, rstd)
    for start in range(0, n_cols, BLOCK):
        mask = start + cols < n_cols
        if HAS_RES:
            h = tl.load(h_row + start + cols, mask=mask, other=0.0).to(tl.float32)
        else:
            h = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
        y = (h - mean) * rstd
        if HAS_W:
            y *= tl.load(w_ptr + start + cols, mask=mask, other=0.0).to(tl.float32)
        if HAS_B:
            y += tl.load(b_ptr + start + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_ptr + row * n_cols + start + cols, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _norm_bwd_kernel(dy_ptr, h_ptr, w_ptr, mean_ptr, rstd_ptr, dres_ptr, dx_ptr, dw_part_ptr, db_part_ptr,
                     n_rows, n_cols, dy_stride, h_stride, dres_stride, rows_per_program,
                     RMS: tl.constexpr, HAS_W: tl.constexpr, HAS_DRES: tl.constexpr,
                     NEED_DW: tl.constexpr, NEED_DB: tl.constexpr, SINGLE: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    row_start = pid.to(tl.int64) * rows_per_program
    n_mine = tl.minimum(rows_per_program, n_rows - row_start)
    if SINGLE:  # the row fits one block: read dy, h once, keep the dw/db partial sums in registers
        mask = cols < n_cols
        w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32) if HAS_W else 1.0
        acc_dw = tl.zeros([BLOCK], dtype=tl.float32)
        acc_db = tl.zeros([BLOCK], dtype=tl.float32)
        for i in range(0, n_mine):
            row = row_start + i
            rstd = tl.load(rstd_ptr + row)
            mean = 0.0 if RMS else tl.load(mean_ptr + row)
            dy = tl.load(dy_ptr + row * dy_stride + cols, mask=mask, other=0.0).to(tl.float32)
            h = tl.load(h_ptr + row * h_stride + cols, mask=mask, other=0.0).to(tl.float32)
            xhat = tl.where(mask, (h - mean) * rstd, 0.0)
            g = dy * w
            c_g = 0.0 if RMS else tl.sum(g, 0) / n_cols
            dx = (g - c_g - xhat * (tl.sum(g * xhat, 0) / n_cols)) * rstd
            if HAS_DRES:
                dx += tl.load(dres_ptr + row * dres_stride + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(dx_ptr + row * n_cols + cols, dx.to(dx_ptr.dtype.element_ty), mask=mask)
            acc_dw += dy * xhat
            acc_db += dy
        if NEED_DW:
            tl.store(dw_part_ptr + pid * n_cols + cols, acc_dw, mask=mask)
        if NEED_DB:
            tl.store(db_part_ptr + pid * n_cols + cols, acc_db, mask=mask)
        return
    for i in range(0, n_mine):
        row = row_start + i
        row64 = row
        rstd = tl.load(rstd_ptr + row)
        mean = 0.0
        if not RMS:
            mean = tl.load(mean_ptr + row)
        # pass 1: the two row means of the formula
        acc_g = tl.zeros([BLOCK], dtype=tl.float32)
        acc_gx = tl.zeros([BLOCK], dtype=tl.float32)
        for start in range(0, n_cols, BLOCK):
            mask = start + cols < n_cols
            dy = tl.load(dy_ptr + row64 * dy_stride + start + cols, mask=mask, other=0.0).to(tl.float32)
            h = tl.load(h_ptr + row64 * h_stride + start + cols, mask=mask, other=0.0).to(tl.float32)
            xhat = tl.where(mask, (h - mean) * rstd, 0.0)
            g = dy
            if HAS_W:
                g *= tl.load(w_ptr + start + cols, mask=mask, other=0.0).to(tl.float32)
            acc_g += g
            acc_gx += g * xhat
        c_g = tl.sum(acc_g, 0) / n_cols
        c_gx = tl.sum(acc_gx, 0) / n_cols
        if RMS:
            c_g = 0.0
        # pass 2: dx, and this program's partial dw/db
        for start in range(0, n_cols, BLOCK):
            mask = start + cols < n_cols
            dy = tl.load(dy_ptr + row64 * dy_stride + start + cols, mask=mask, other=0.0).to(tl.float32)
            h = tl.load(h_ptr + row64 * h_stride + start + cols, mask=mask, other=0.0).to(tl.float32)
            xhat = (h - mean) * rstd
            g = dy
            if HAS_W:
                g *= tl.load(w_ptr + start + cols, mask=mask, other=0.0).to(tl.float32)
            dx = (g - c_g - xhat * c_gx) * rstd
            if HAS_DRES:
                dx += tl.load(dres_ptr + row64 * dres_stride + start + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(dx_ptr + row64 * n_cols + start + cols, dx.to(dx_ptr.dtype.element_ty), mask=mask)
            if NEED_DW:
                p = dw_part_ptr + pid * n_cols + start + cols
                tl.store(p, tl.load(p, mask=mask, other=0.0) + dy * xhat, mask=mask)
            if NEED_DB:
                p = db_part_ptr + pid * n_cols + start + cols
                tl.store(p, tl.load(p, mask=mask, other=0.0) + dy, mask=mask)


def _block(n_cols, block_size):
    return block_size or min(next_pow2(n_cols), MAX_BLOCK)


def _stride(a):
    return a.strides[0] // a.itemsize


@launcher
def norm_fwd(x, weight=None, bias=None, eps=1e-5, residual=None, rms=False, block_size=None):
    """Normalise the last axis of x (..., N).

    Returns (y, h, mean, rstd): y like x; h = x + residual (the new residual stream, shape of x; h is x
    itself when residual is None); mean, rstd fp32 (M,) with M = x.size // N (mean is None for RMS).
    """
    check_float("layer_norm", x, weight, bias, residual)
    xp = xp_of(x)
    shape, x2 = x.shape, as_rows(x)
    n_rows, n_cols = x2.shape
    res2 = as_rows(residual) if residual is not None else None
    y = xp.empty((n_rows, n_cols), dtype=x.dtype)
    h = xp.empty((n_rows, n_cols), dtype=x.dtype) if residual is not None else x2
    mean = xp.empty(n_rows, dtype=np.float32) if not rms else None
    rstd = xp.empty(n_rows, dtype=np.float32)
    if n_rows and n_cols:
        t = to_triton
        block = _block(n_cols, block_size)
        _norm_fwd_kernel[(n_rows,)](
            t(x2), t(res2) if res2 is not None else t(x2), t(h), t(y),
            t(weight) if weight is not None else t(x2), t(bias) if bias is not None else t(x2),
            t(mean) if mean is not None else t(rstd), t(rstd), n_cols, float(eps), _stride(x2),
            _stride(res2) if res2 is not None else 0, RMS=rms, HAS_RES=residual is not None,
            HAS_W=weight is not None, HAS_B=bias is not None, SINGLE=block >= n_cols, BLOCK=block,
            num_warps=row_warps(block))
        count("rms_norm_fwd" if rms else "layer_norm_fwd")
    return y.reshape(shape), h.reshape(shape), mean, rstd


@launcher
def norm_bwd(dy, h, weight, mean, rstd, rms=False, has_bias=False, dresidual=None, need_weight_grad=True,
             block_size=None, rows_per_program=None):
    """Backward of norm_fwd. h: the normalised input (x, or x + residual).

    dresidual: optional extra gradient flowing into h from its other use (the residual stream).
    Returns (dx, dweight, dbias): dx like h (it is also the residual's gradient), dweight/dbias (N,) in
    weight's dtype, None when there is no weight/bias.
    """
    xp = xp_of(h)
    shape, dy2, h2 = h.shape, as_rows(dy), as_rows(h)
    n_rows, n_cols = h2.shape
    dres2 = as_rows(dresidual) if dresidual is not None else None
    dx = xp.empty((n_rows, n_cols), dtype=h.dtype)
    need_dw = weight is not None and need_weight_grad
    need_db = has_bias and need_weight_grad
    if rows_per_program is None:
        n_programs = min(n_rows, 8 if interpreting() else 1024)
        rows_per_program = -(-n_rows // max(n_programs, 1))
    n_programs = -(-n_rows // rows_per_program) if n_rows else 0
    dw_part = xp.zeros((max(n_programs, 1), n_cols), np.float32) if need_dw else None
    db_part = xp.zeros((max(n_programs, 1), n_cols), np.float32) if need_db else None
    if n_rows and n_cols:
        t = to_triton
        block = _block(n_cols, block_size)
        _norm_bwd_kernel[(n_programs,)](
            t(dy2), t(h2), t(weight) if weight is not None else t(h2), t(mean) if mean is not None else t(rstd),
            t(rstd), t(dres2) if dres2 is not None else t(h2), t(dx),
            t(dw_part) if need_dw else t(rstd), t(db_part) if need_db else t(rstd),
            n_rows, n_cols, _stride(dy2), _stride(h2), _stride(dres2) if dres2 is not None else 0, rows_per_program,
            RMS=rms, HAS_W=weight is not None, HAS_DRES=dres2 is not None, NEED_DW=need_dw, NEED_DB=need_db,
            SINGLE=block >= n_cols, BLOCK=block, num_warps=row_warps(block))
        count("rms_norm_bwd" if rms else "layer_norm_bwd")
    out_dtype = weight.dtype if weight is not None else h.dtype
    dw = dw_part.sum(0).astype(out_dtype) if need_dw else None
    db = db_part.sum(0).astype(out_dtype) if need_db else None
    return dx.reshape(shape), dw, db


def layer_norm_fwd(x, weight=None, bias=None, eps=1e-5, residual=None, block_size=None):
    return norm_fwd(x, weight, bias, eps, residual, rms=False, block_size=block_size)


def layer_norm_bwd(dy, h, weight, mean, rstd, has_bias=False, dresidual=None, block_size=None):
    return norm_bwd(dy, h, weight, mean, rstd, rms=False, has_bias=has_bias, dresidual=dresidual,
                    block_size=block_size)


def rms_norm_fwd(x, weight=None, eps=1e-6, residual=None, block_size=None):
    y, h, _, rstd = norm_fwd(x, weight, None, eps, residual, rms=True, block_size=block_size)
    return y, h, rstd


def rms_norm_bwd(dy, h, weight, rstd, dresidual=None, block_size=None):
    dx, dw, _ = norm_bwd(dy, h, weight, None, rstd, rms=True, dresidual=dresidual, block_size=block_size)
    return dx, dw


def reference(x, weight=None, bias=None, eps=1e-5, rms=False):
    x = x.astype(np.float64)
    if rms:
        y = x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)
    else:
        y = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y
