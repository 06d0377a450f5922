"""Fused AdamW step, in place, over many parameters per launch, with torch.optim.AdamW semantics:

  g = -grad if maximize else grad
  p  <- p * (1 - lr * weight_decay)                          (decoupled weight decay)
  m  <- beta1 * m + (1 - beta1) * g;   v <- beta2 * v + (1 - beta2) * g^2
  v_hat = max(v_max, v) if amsgrad (v_max updated) else v
  p  <- p - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)
One read and one write of p, g, m, v per element instead of the ~14 passes of the unfused numpy update.
Bias corrections are computed on the host (step t is a Python number); m, v are fp32.

Multi-tensor launch (PyTorch's multi_tensor_apply shape): a table holds, per tensor, the addresses of its
p, g, m, v, v_max and its size; a second table lists CHUNK-element chunks as (tensor, first element). One
program updates one chunk, looping over it BLOCK elements at a time, so a model's ~50-150 parameters take
one launch. The tables are cached by address, so a training loop uploads them once.
"""
import collections
import math

import numpy as np
import triton
import triton.language as tl

from . import count, interpreting, launcher, to_triton, xp_of

_FIELDS = 6  # table row: p, g, m, v, v_max addresses, number of elements


@triton.jit
def _adamw_multi_kernel(table_ptr, chunks_ptr, p_like, lr, beta1, beta2, eps, weight_decay, step_size,
                        inv_sqrt_bc2, AMSGRAD: tl.constexpr, MAXIMIZE: tl.constexpr, CHUNK: tl.constexpr,
                        BLOCK: tl.constexpr):
    pid = tl.program_id(0).to(tl.int64)
    tensor = tl.load(chunks_ptr + 2 * pid)
    start = tl.load(chunks_ptr + 2 * pid + 1)
    row = table_ptr + tensor * 6
    # p_like is the first parameter: it carries the parameters' element type (fp32/fp16/bf16)
    p_ptr = tl.load(row).to(tl.pointer_type(p_like.dtype.element_ty))
    g_ptr = tl.load(row + 1).to(tl.pointer_type(p_like.dtype.element_ty))
    m_ptr = tl.load(row + 2).to(tl.pointer_type(tl.float32))
    v_ptr = tl.load(row + 3).to(tl.pointer_type(tl.float32))
    vmax_ptr = tl.load(row + 4).to(tl.pointer_type(tl.float32))
    end = tl.minimum(start + CHUNK, tl.load(row + 5))
    for off in range(start, end, BLOCK):
        offs = off + tl.arange(0, BLOCK)
        mask = offs < end
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


def _address(a):
    return a.ctypes.data if isinstance(a, np.ndarray) else a.data.ptr


def _sizes(block_size, chunk_size):
    block = block_size or 1024
    chunk = chunk_size or (4 if interpreting() else 16) * block  # GPU: 16k-element chunks, ~PyTorch's 64 KB
    if chunk % block:
        raise ValueError(f"adamw: chunk_size {chunk} must be a multiple of block_size {block}")
    return block, chunk


# (addresses, sizes, chunk, device) -> (table, chunks) arrays on the parameters' device. A training loop
# steps the same parameters every time: the tables are built and uploaded once per parameter group.
_TABLES = collections.OrderedDict()
_MAX_TABLES = 16


def _tables(xp, arrays, chunk):
    sizes = [a.size for a in arrays[0]]
    addresses = [_address(a) for group in arrays for a in group]
    key = (tuple(addresses), tuple(sizes), chunk, None if xp is np else arrays[0][0].device.id)
    cached = _TABLES.get(key)
    if cached is not None:
        _TABLES.move_to_end(key)
        return cached
    table = np.empty((len(sizes), _FIELDS), np.int64)
    table[:, :5] = np.array(addresses, np.int64).reshape(5, len(sizes)).T
    table[:, 5] = sizes
    n_chunks = -(-np.asarray(sizes, np.int64) // chunk)
    tensor_of_chunk = np.repeat(np.arange(len(sizes), dtype=np.int64), n_chunks)
    first_chunk = np.cumsum(n_chunks) - n_chunks
    chunks = np.stack([tensor_of_chunk, (np.arange(len(tensor_of_chunk)) - first_chunk[tensor_of_chunk]) * chunk], 1)
    cached = (table, np.ascontiguousarray(chunks)) if xp is np else (xp.asarray(table), xp.asarray(chunks))
    _TABLES[key] = cached
    if len(_TABLES) > _MAX_TABLES:
        _TABLES.popitem(last=False)
    return cached


def _check(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, amsgrad):
    lists = [params, grads, exp_avgs, exp_avg_sqs] + ([max_exp_avg_sqs] if amsgrad else [])
    if amsgrad and max_exp_avg_sqs is None:
        raise ValueError("adamw: amsgrad=True needs max_exp_avg_sqs")
    if any(len(group) != len(params) for group in lists):
        raise ValueError(f"adamw: got {[len(group) for group in lists]} params/grads/states: the lists must "
                         "have the same length")
    if not params:
        return
    p_dtype, p_type = np.dtype(params[0].dtype), type(params[0])
    device = None if p_type is np.ndarray else params[0].device.id
    if p_dtype not in (np.float16, np.float32):
        raise TypeError(f"adamw: parameters must be float32 or float16, got {p_dtype}")
    for i, arrays in enumerate(zip(*lists)):
        p = arrays[0]
        for a in arrays:
            if (type(a) is not p_type or a.size != p.size or not a.flags.c_contiguous
                    or (device is not None and a.device.id != device)):
                raise ValueError(f"adamw: parameter {i}: param, grad and states must be contiguous arrays of the "
                                 f"same size on one device, got sizes {[x.size for x in arrays]}")
        if p.dtype != p_dtype or arrays[1].dtype != p_dtype:
            raise TypeError(f"adamw: parameter {i}: params and grads must share one dtype ({p_dtype}), got "
                            f"{p.dtype} and {arrays[1].dtype}: launch each dtype separately")
        for a in arrays[2:]:
            if a.dtype != np.float32:
                raise TypeError(f"adamw: parameter {i}: optimizer states must be float32, got {a.dtype}")


@launcher
def adamw_multi_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs=None, *, step, lr=1e-3, beta1=0.9,
                     beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False, block_size=None,
                     chunk_size=None, validate=True):
    """One launch updating every params[i] (one dtype: fp32/fp16) with grads[i] and its fp32 states
    exp_avgs[i], exp_avg_sqs[i] (and max_exp_avg_sqs[i] with amsgrad) IN PLACE; all contiguous, on one device.

    step: the step count after incrementing (1 on the first call), the same for every tensor (callers with
    tensors at different steps launch once per step value). validate=False skips the argument checks
    (for callers that already made them). Returns None."""
    if validate:
        _check(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, amsgrad)
    live = [i for i, p in enumerate(params) if p.size]
    if not live:
        return
    pick = lambda group: [group[i] for i in live]
    vmaxs = max_exp_avg_sqs if amsgrad else exp_avg_sqs  # the kernel never reads v_max without amsgrad
    arrays = [pick(params), pick(grads), pick(exp_avgs), pick(exp_avg_sqs), pick(vmaxs)]
    block, chunk = _sizes(block_size, chunk_size)
    table, chunks = _tables(xp_of(params[0]), arrays, chunk)
    t = to_triton
    _adamw_multi_kernel[(len(chunks),)](
        t(table), t(chunks), t(arrays[0][0]), float(lr), float(beta1), float(beta2), float(eps), float(weight_decay),
        float(lr) / (1.0 - beta1 ** step), 1.0 / math.sqrt(1.0 - beta2 ** step), AMSGRAD=bool(amsgrad),
        MAXIMIZE=bool(maximize), CHUNK=chunk, BLOCK=block)
    count("adamw")


def adamw_step(param, grad, exp_avg, exp_avg_sq, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
               weight_decay=1e-2, amsgrad=False, max_exp_avg_sq=None, maximize=False, block_size=None):
    """One parameter: adamw_multi_step on a list of one. param fp32/fp16, states fp32, all contiguous
    with the same number of elements. Returns None."""
    adamw_multi_step([param], [grad], [exp_avg], [exp_avg_sq], [max_exp_avg_sq] if amsgrad else None, step=step,
                     lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                     maximize=maximize, block_size=block_size, chunk_size=block_size and 4 * block_size)
