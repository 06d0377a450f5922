"""Embedding lookup, forward (row gather) and backward (scatter-add with atomics).

Forward: out[i, :] = weight[idx[i], :], one program per (index, column block).
Backward: dweight[idx[i], :] += dy[i, :] with tl.atomic_add into an fp32 buffer (repeated indices add up;
fp32 also for fp16 weights, cast at the end). Rows with idx == padding_idx get no gradient.
Out-of-range indices: numpy arrays are checked on the host (IndexError, as PyTorch). GPU arrays are not
checked on the host by default (that would be a device->host sync per call): the kernel never reads outside
the table, gives such a row NaNs and no gradient (PyTorch raises a device-side assert instead).
`check_indices=True`, or MYTORCH_KERNEL_CHECKS=1, checks GPU indices on the host too.
"""
import numpy as np
import triton
import triton.language as tl

from . import check_float, count, debug_checks, launcher, next_pow2, to_triton, xp_of


@triton.jit
def _embedding_fwd_kernel(idx_ptr, w_ptr, out_ptr, dim, n_rows, w_stride, BLOCK: tl.constexpr):
    i = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < dim
    row = tl.load(idx_ptr + i).to(tl.int64)
    in_range = (row >= 0) & (row < n_rows)
    w = tl.load(w_ptr + tl.where(in_range, row, 0) * w_stride + cols, mask=mask)
    tl.store(out_ptr + i * dim + cols, tl.where(in_range, w, float("nan")).to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _embedding_bwd_kernel(idx_ptr, dy_ptr, dw_ptr, dim, n_rows, padding_idx, BLOCK: tl.constexpr):
    i = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    row = tl.load(idx_ptr + i).to(tl.int64)
    rows = cols * 0 + row  # block-shaped: interpreter-friendly
    mask = (cols < dim) & (rows != padding_idx) & (rows >= 0) & (rows < n_rows)
    dy = tl.load(dy_ptr + i * dim + cols, mask=mask, other=0.0).to(tl.float32)
    tl.atomic_add(dw_ptr + row * dim + cols, dy, mask=mask)


def _flat_indices(indices, num_embeddings, check_indices):
    """indices as a contiguous int64 vector; checked on the host for numpy (or when asked: a GPU sync)."""
    xp = xp_of(indices)
    if check_indices is None:
        check_indices = xp is np or debug_checks()
    if check_indices and indices.size and bool(xp.any((indices < 0) | (indices >= num_embeddings))):
        raise IndexError("index out of range in self")
    return xp.ascontiguousarray(indices.reshape(-1), dtype=np.int64)


@launcher
def embedding_fwd(indices, weight, block_size=None, check_indices=None):
    """indices any-shape integer array, weight (V, D) -> out (*indices.shape, D) in weight's dtype.
    check_indices: IndexError for an index outside [0, V) (default: numpy arrays only, see above)."""
    check_float("embedding", weight)
    idx = _flat_indices(indices, weight.shape[0], check_indices)
    dim = weight.shape[1]
    if weight.strides[1] != weight.itemsize:
        weight = xp_of(weight).ascontiguousarray(weight)
    out = xp_of(weight).empty((idx.size, dim), weight.dtype)
    if idx.size and dim:
        block = block_size or min(next_pow2(dim), 1024)
        _embedding_fwd_kernel[(idx.size, triton.cdiv(dim, block))](to_triton(idx), to_triton(weight),
                                                                   to_triton(out), dim, weight.shape[0],
                                                                   weight.strides[0] // weight.itemsize, BLOCK=block)
        count("embedding_fwd")
    return out.reshape(indices.shape + (dim,))


@launcher
def embedding_bwd(dy, indices, num_embeddings, padding_idx=None, out_dtype=None, block_size=None):
    """dy (*indices.shape, D) -> dweight (num_embeddings, D) in out_dtype (default dy's dtype).
    The forward checked the indices: out-of-range ones get no gradient here, with no check of their own."""
    xp = xp_of(dy)
    idx = _flat_indices(indices, num_embeddings, check_indices=False)
    dim = dy.shape[-1]
    dy2 = xp.ascontiguousarray(dy.reshape(-1, dim))
    dw = xp.zeros((num_embeddings, dim), np.float32)
    if idx.size and dim:
        block = block_size or min(next_pow2(dim), 1024)
        pad = -1 if padding_idx is None else int(padding_idx) % num_embeddings
        _embedding_bwd_kernel[(idx.size, triton.cdiv(dim, block))](to_triton(idx), to_triton(dy2), to_triton(dw),
                                                                   dim, num_embeddings, pad, BLOCK=block)
        count("embedding_bwd")
    out_dtype = out_dtype or dy.dtype
    return dw if np.dtype(out_dtype) == np.float32 else dw.astype(out_dtype)
