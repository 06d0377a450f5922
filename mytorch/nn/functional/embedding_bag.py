"""embedding_bag: look rows of `weight` up and reduce each bag of them to one vector (sum, mean or max).

Bags come as a 2-D input (one bag per row) or a 1-D input cut at `offsets`. Lookups equal to padding_idx
are left out of their bag (and out of the mean's count); an empty bag gives zeros. Sum and mean scatter-add
the rows into their bag; max takes the largest value per (bag, column) and its backward sends the
gradient to the row that held it.
"""
import numpy as np

from ..._array import on_device, xp_of
from ...autograd.function import Function
from .linear import _renorm_rows

__all__ = ["embedding_bag"]


def bag_max(rows, bag_of, keep, counts, n_bags):
    """(max per (bag, column), position in the lookups of the row holding it: -1 for an empty bag, whose max
    is 0). rows: the looked-up rows; keep: which lookups count (not padding_idx)."""
    xp = xp_of(rows)
    longest = max(int(counts.max()) if n_bags else 0, 1)
    kept = xp.nonzero(keep)[0]
    slot = xp.arange(len(kept)) - (xp.cumsum(counts) - counts)[bag_of[kept]]
    grouped = xp.full((n_bags, longest, rows.shape[1]), -xp.inf, dtype=rows.dtype)
    grouped[bag_of[kept], slot] = rows[kept]
    lookup = xp.full((n_bags, longest), -1, dtype=np.int64)  # position in the lookups of each bag member
    lookup[bag_of[kept], slot] = kept
    pos = grouped.argmax(1)  # (bags, D): the member holding each column's max
    argmax = xp.take_along_axis(lookup, pos, 1)
    out = xp.take_along_axis(grouped, pos[:, None], 1)[:, 0]
    return xp.where(argmax >= 0, out, 0).astype(rows.dtype, copy=False), argmax


class EmbeddingBag(Function):
    @staticmethod
    def forward(ctx, weight, flat, bag_of, keep, per_sample_weights, n_bags, mode, scale_grad_by_freq):
        from ...ops.index import add_at

        xp = xp_of(weight)
        D = weight.shape[1]
        rows = weight[flat]
        if per_sample_weights is not None:
            rows = rows * per_sample_weights[:, None]
        counts = xp.bincount(bag_of[keep], minlength=n_bags) if bag_of.size else xp.zeros(n_bags, np.int64)
        ctx.save_for_backward(weight, per_sample_weights)
        ctx.meta = (flat, bag_of, keep, counts, mode, scale_grad_by_freq)
        if mode == "max":
            out, ctx.argmax = bag_max(rows, bag_of, keep, counts, n_bags)
            return out
        out = xp.zeros((n_bags, D), dtype=weight.dtype)
        add_at(out, bag_of[keep], rows[keep])
        if mode == "mean":
            out /= xp.maximum(counts, 1)[:, None].astype(weight.dtype)
        return out

    @staticmethod
    def backward(ctx, g):
        from ...ops.index import add_at

        weight, psw = ctx.saved_tensors
        flat, bag_of, keep, counts, mode, scale_grad_by_freq = ctx.meta
        xp = xp_of(g)
        dweight = xp.zeros_like(weight) if ctx.needs_input_grad[0] else None
        freq = None
        if scale_grad_by_freq:
            freq = xp.bincount(flat, minlength=weight.shape[0]).astype(g.dtype)
        if mode == "max":
            if dweight is not None:
                hit = ctx.argmax >= 0
                cols = xp.broadcast_to(xp.arange(g.shape[1]), g.shape)
                src = flat[ctx.argmax[hit]]
                gv = g[hit] / freq[src] if freq is not None else g[hit]
                add_at(dweight, (src, cols[hit]), gv)
            return dweight, None, None, None, None, None, None, None
        g_rows = g[bag_of] * keep[:, None]
        if mode == "mean":
            g_rows = g_rows / xp.maximum(counts, 1)[bag_of][:, None].astype(g.dtype)
        dpsw = None
        if psw is not None and ctx.needs_input_grad[4]:
            dpsw = (g_rows * weight[flat]).sum(1)
        if dweight is not None:
            if psw is not None:
                g_rows = g_rows * psw[:, None]
            if freq is not None:
                g_rows = g_rows / freq[flat][:, None]
            add_at(dweight, flat, g_rows)
        return dweight, None, None, None, dpsw, None, None, None


def _bags(input, offsets, include_last_offset):
    """(flat indices, bag id of each, number of bags) from PyTorch's 2-D or 1-D + offsets layouts."""
    xp = xp_of(input._data)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences. However, found offsets of type Tensor")
        n_bags, length = input.shape
        return input._data.reshape(-1), xp.repeat(xp.arange(n_bags), length), n_bags
    if input.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    if offsets.ndim != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    starts = offsets._data.astype(np.int64)
    n = input.shape[0]
    if include_last_offset and len(starts) == 0:
        raise RuntimeError("include_last_offset: number of offsets should be at least 1")
    if len(starts) and (int(starts[0]) != 0 or bool((xp.diff(starts) < 0).any()) or int(starts[-1]) > n):
        raise RuntimeError(f"offsets must start at 0, not decrease, and stay within the {n} indices; got "
                           f"{starts.tolist()}")
    end = n if len(starts) else 0  # no bags: no lookups
    if include_last_offset:  # the last offset ends the last bag
        starts, end = starts[:-1], int(starts[-1])
    # bag of lookup i: the last bag starting at or before i (searchsorted, not repeat: cupy's takes no arrays)
    bag_of = xp.searchsorted(starts, xp.arange(end), side="right") - 1
    return input._data[:end], bag_of, len(starts)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sparse gradients (`sparse=True`) come back dense."""
    if weight._data.dtype.kind in "iu" and input.is_floating_point():
        input, weight = weight, input  # PyTorch's old (weight, input) order, which it still accepts
    if input._data.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (while checking arguments for embedding_bag)")
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                                      f"on GitHub.")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: If per_sample_weights ({list(per_sample_weights.shape)}) is not None, "
                             f"then it must have the same shape as the input ({list(input.shape)})")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise AssertionError("padding_idx must be within the number of embeddings")
        padding_idx %= num
    with on_device(input.device):
        flat, bag_of, n_bags = _bags(input, offsets, include_last_offset)
        bad = (flat < 0) | (flat >= num)
        if bool(bad.any()):
            i = int(bad.argmax())
            raise RuntimeError(f"Index {i} of input takes value {int(flat[i])} which is not in the valid range "
                               f"[0, {num})")
        keep = flat != padding_idx if padding_idx is not None else xp_of(flat).ones(len(flat), dtype=bool)
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)[:len(flat)]
    return EmbeddingBag.apply(weight, flat, bag_of, keep, psw, n_bags, mode, bool(scale_grad_by_freq))
