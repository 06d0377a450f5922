"""Dropout with a counter-based RNG: keep element i iff tl.rand(seed, i) >= p; y = x * keep / (1 - p).

The mask is never stored: the backward calls the same kernel on dy with the same (seed, offset), which
regenerates the identical Philox stream. `offset` lets one seed serve several tensors.
"""
import numpy as np
import triton
import triton.language as tl

from . import check_float, count, interpreting, launcher, to_triton, xp_of


@triton.jit
def _dropout_kernel(x_ptr, y_ptr, n, p, seed, offset, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    keep = tl.rand(seed, offs + offset) >= p  # int64 counter: no wrap at 2**32 elements
    tl.store(y_ptr + offs, tl.where(keep, x / (1.0 - p), 0.0).to(y_ptr.dtype.element_ty), mask=mask)


@launcher
def dropout_fwd(x, p, seed, offset=0, block_size=None):
    """y = dropout(x) for any-shape fp16/fp32 x, 0 <= p < 1; (seed, offset) ints pick the mask."""
    check_float("dropout", x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    xp = xp_of(x)
    if p == 1.0:
        return xp.zeros_like(x)
    x = xp.ascontiguousarray(x)
    y = xp.empty_like(x)
    if x.size:
        block = block_size or (256 if interpreting() else 1024)
        _dropout_kernel[(triton.cdiv(x.size, block),)](to_triton(x), to_triton(y), x.size, float(p), int(seed),
                                                        int(offset), BLOCK=block)
        count("dropout")
    return y


@launcher
def dropout_bwd(dy, p, seed, offset=0, block_size=None):
    """dx = dy * keep / (1 - p) with the mask of the forward call with the same (p, seed, offset)."""
    return dropout_fwd(dy, p, seed, offset, block_size)
