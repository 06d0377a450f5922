"""Fused AdamW step, in place, over one flat buffer (or one parameter), with torch.optim.AdamW semantics:

  g = -grad if maximize else grad
  p  <- p * (1 - lr * weight_decay)                          (decoupled weight decay)
  m  <- beta1 * m + (1 - beta1) * g;   v <- beta2 * v + (1 - beta2) * g^2
  v_hat = max(v_max, v) if amsgrad (v_max updated) else v
  p  <- p - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)
One read and one write of p, g, m, v per element instead of the ~10 passes of the unfused numpy update.
Bias corrections are computed on the host (step t is a Python int); m, v are fp32.
"""
import math

import numpy as np
import triton
import triton.language as tl

from . import count, interpreting, launcher, to_triton, xp_of


@triton.jit
def _adamw_kernel(p_ptr, g_ptr, m_ptr, v_ptr, vmax_ptr, n, lr, beta1, beta2, eps, weight_decay, step_size,
                  inv_sqrt_bc2, AMSGRAD: tl.constexpr, MAXIMIZE: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    p = tl.load(p_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    if MAXIMIZE:
        g = -g
    m = tl.load(m_ptr + offs, mask=mask, other=0.0)
    v = tl.load(v_ptr + offs, mask=mask, other=0.0)
    p = p * (1.0 - lr * weight_decay)
    m = beta1 * m + (1.0 - beta1) * g
    v = beta2 * v + (1.0 - beta2) * g * g
    v_hat = v
    if AMSGRAD:
        v_hat = tl.maximum(tl.load(vmax_ptr + offs, mask=mask, other=0.0), v)
        tl.store(vmax_ptr + offs, v_hat, mask=mask)
    p = p - step_size * m / (tl.sqrt(v_hat) * inv_sqrt_bc2 + eps)
    tl.store(p_ptr + offs, p.to(p_ptr.dtype.element_ty), mask=mask)
    tl.store(m_ptr + offs, m, mask=mask)
    tl.store(v_ptr + offs, v, mask=mask)


@launcher
def adamw_step(param, grad, exp_avg, exp_avg_sq, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
               weight_decay=1e-2, amsgrad=False, max_exp_avg_sq=None, maximize=False, block_size=None):
    """Update param (fp16/fp32), exp_avg, exp_avg_sq (fp32), max_exp_avg_sq (fp32, amsgrad) IN PLACE.

    All arrays contiguous with the same number of elements; step is the step count after incrementing
    (1 on the first call). Returns None."""
    arrays = [param, grad, exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
    for a in arrays:
        if a is None or a.size != param.size or not a.flags.c_contiguous:
            raise ValueError("adamw_step: param, grad and states must be contiguous arrays of the same size")
    for a in arrays[2:]:
        if a.dtype != np.float32:
            raise TypeError(f"adamw_step: optimizer states must be float32, got {a.dtype}")
    if not param.size:
        return
    block = block_size or (256 if interpreting() else 1024)
    t = to_triton
    _adamw_kernel[(triton.cdiv(param.size, block),)](
        t(param), t(grad), t(exp_avg), t(exp_avg_sq), t(max_exp_avg_sq) if amsgrad else t(exp_avg_sq), param.size,
        float(lr), float(beta1), float(beta2), float(eps), float(weight_decay), float(lr) / (1.0 - beta1 ** step),
        1.0 / math.sqrt(1.0 - beta2 ** step), AMSGRAD=amsgrad, MAXIMIZE=maximize, BLOCK=block)
    count("adamw")
