"""scaled_dot_product_attention: softmax(q k^T * scale + mask) v, one Function with a manual backward.

Shapes: q (..., Hq, Lq, E), k (..., Hk, Lk, E), v (..., Hk, Lk, Ev); leading dims broadcast.
The forward keeps only the attention probabilities P (and the dropout keep mask); the backward is
    dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dP * P)),  dQ = dS K * scale,  dK = dS^T Q * scale.
Rows where every key is masked output 0 (and get zero gradient), as PyTorch does.

`window_size` (a mytorch extension, not in PyTorch): sliding-window causal attention. Query i attends
to keys j with i - window_size < j <= i, i.e. itself and the window_size - 1 keys before it (Mistral-style
local attention). It implies causal masking and combines with attn_mask.
With `mytorch.backends.fused` enabled (or nn.MultiheadAttention(fused=True)) and Triton available, 4-D
float16/float32 inputs run the flash attention kernel (mytorch.kernels.flash_attention) as the second body
of the same Function.
"""
import math

import numpy as np

from ... import cpu_kernels
from ..._array import data_address, xp_of
from ...autograd.function import Function, autocast
from ...ops.linalg import _matmul, _product, acc_dtype
from ...tensor import Tensor
from .linear import _use_fused

__all__ = ["scaled_dot_product_attention"]


def _visible(xp, Lq, Lk, causal, window):
    """(Lq, Lk) boolean: causal is PyTorch's top-left alignment, key j visible to query i iff j <= i."""
    i = xp.arange(Lq)[:, None]
    j = xp.arange(Lk)[None, :]
    keep = j <= i
    if window is not None:
        keep &= j > i - window
    return keep


def _swap(a):
    return a.swapaxes(-1, -2)


def _like_inputs(inputs):
    """Empty arrays laid out as the inputs are, in one buffer shaped as their common base, where the inputs are
    views of one C-contiguous array (q, k, v split from one qkv projection): gradients written into them keep
    the views' backward (transpose, reshape) copy-free, and the split's backward finds the three pieces side by
    side in that buffer (ops/shape.py Split) instead of concatenating them. Nones otherwise."""
    base = inputs[0].base
    if type(base) is not np.ndarray or not base.flags.c_contiguous or base.dtype != inputs[0].dtype or any(
            type(a) is not np.ndarray or a.base is not base for a in inputs):
        return (None,) * len(inputs)
    buf = np.empty_like(base)
    start = data_address(base)
    return tuple(np.ndarray(a.shape, a.dtype, buffer=buf, offset=data_address(a) - start, strides=a.strides)
                 for a in inputs)


class _Attention(Function):
    """fused=True: the flash attention kernels (mytorch.kernels.flash_attention) stream over key blocks and
    save only out and the row logsumexp instead of P; GQA is native there (no repeated k/v), the window is
    (window - 1 keys to the left, none to the right) and the dropout mask is regenerated from a seed."""

    @staticmethod
    def forward(ctx, q, k, v, mask, dropout_p, causal, scale, gqa_rep, window, need_weights, rng, fused=False):
        ctx.fused = fused
        ctx.scores = (mask, causal, window)  # for differentiable_backward, which recomputes P from q and k
        if fused:
            from ...kernels import flash_attention as kernel

            seed = int(rng.integers(0, 2 ** 31 - 1)) if dropout_p > 0 else 0
            win = None if window is None else (window - 1, 0)
            causal = causal or window is not None
            out, lse = kernel.flash_attention_fwd(q, k, v, mask, causal, win, scale, dropout_p, seed)
            ctx.save_for_backward(q, k, v, out, lse, mask)
            ctx.meta = (causal, win, scale, dropout_p, seed)
            return out
        xp = xp_of(q)
        k_in, v_in = k, v
        if gqa_rep > 1:  # each kv head serves gqa_rep consecutive query heads
            k = xp.repeat(k, gqa_rep, axis=-3)
            v = xp.repeat(v, gqa_rep, axis=-3)
        s = _matmul(q, _swap(k), out_dtype=np.float32)  # half inputs: the softmax runs in float32
        ctx.cpu = (mask is None and window is None and dropout_p == 0 and not need_weights
                   and q.dtype == np.float32 and cpu_kernels.use(s))
        if ctx.cpu:  # the compiled CPU body: scale, causal mask and softmax in one pass per row
            from ...cpu_kernels import softmax as cpu

            p = cpu.forward(s.reshape(-1, s.shape[-1]), scale, q.shape[-2] if causal else 0)
            ctx.cpu = p is not None
            if ctx.cpu:
                p = p.reshape(s.shape)
                ctx.save_for_backward(q, k_in, v_in, p, None)
                ctx.meta = (dropout_p, scale, gqa_rep)
                return _matmul(p, v)
        s *= scale
        hidden = None  # boolean: True where a key is masked out
        if mask is not None:
            if mask.dtype == np.bool_:
                hidden = ~mask
            else:
                s = s + mask
        if causal or window is not None:
            band = ~_visible(xp, q.shape[-2], k.shape[-2], causal, window)
            hidden = band if hidden is None else hidden | band
        if hidden is not None:
            s = xp.where(hidden, -xp.inf, s)
        mx = s.max(-1, keepdims=True)
        mx = xp.where(xp.isfinite(mx), mx, 0)  # fully masked rows: exp(-inf) = 0 everywhere
        p = xp.exp(s - mx)
        denom = p.sum(-1, keepdims=True)
        p /= xp.where(denom == 0, 1, denom)
        p = p.astype(q.dtype, copy=False)
        keep = None
        pd = p
        if dropout_p > 0:
            keep = rng.random(p.shape, dtype=np.float32) >= dropout_p
            pd = p * keep * (1.0 / (1.0 - dropout_p))
        out = _matmul(pd, v)
        ctx.save_for_backward(q, k_in, v_in, p, keep)
        ctx.meta = (dropout_p, scale, gqa_rep)
        if need_weights:
            return out, pd
        return out

    @staticmethod
    def backward(ctx, g_out, g_weights=None):
        if ctx.fused:
            from ...kernels import flash_attention as kernel

            q, k, v, out, lse, mask = ctx.saved_tensors
            dq, dk, dv = kernel.flash_attention_bwd(g_out, q, k, v, out, lse, mask, *ctx.meta)
            return (dq, dk, dv) + (None,) * 9
        q, k, v, p, keep = ctx.saved_tensors
        dropout_p, scale, rep = ctx.meta
        xp = xp_of(q)
        v_in = v
        if xp is np and acc_dtype(q) is not None:  # numpy's half math is slow and coarse: run this in float32
            q, k, v, p, g_out, g_weights = (None if a is None else a.astype(np.float32)
                                            for a in (q, k, v, p, g_out, g_weights))
        if rep > 1:
            k = xp.repeat(k, rep, axis=-3)
            v = xp.repeat(v, rep, axis=-3)
        if ctx.cpu and g_out is not None and g_weights is None:  # ds * scale from the compiled body
            from ...cpu_kernels import softmax as cpu

            n = p.shape[-1]
            ds = cpu.backward(_matmul(g_out, _swap(v)).reshape(-1, n), p.reshape(-1, n), scale).reshape(p.shape)
            needs = ctx.needs_input_grad
            # q, k, v split from one projection: their gradients go side by side into one buffer laid out as it
            out = _like_inputs((q, k, v)) if rep == 1 and all(needs[:3]) else (None,) * 3
            dq = _product(ds, k, out=out[0]) if needs[0] else None
            dk = _product(_swap(ds), q, out=out[1]) if needs[1] else None
            dv = _product(_swap(p), g_out, out=out[2]) if needs[2] else None
            if rep > 1:
                dk, dv = (None if d is None else d.reshape(d.shape[:-3] + (-1, rep) + d.shape[-2:]).sum(-3)
                          for d in (dk, dv))
            return dq, dk, dv, None, None, None, None, None, None, None, None, None
        pd = p if keep is None else p * keep * (1.0 / (1.0 - dropout_p))
        dpd = 0 if g_out is None else _matmul(g_out, _swap(v))
        if g_weights is not None:
            dpd = dpd + g_weights
        dp = dpd if keep is None else dpd * keep * (1.0 / (1.0 - dropout_p))
        ds = p * (dp - (dp * p).sum(-1, keepdims=True))
        needs = ctx.needs_input_grad
        dq = _matmul(ds, k) * scale if needs[0] else None
        dk = _matmul(_swap(ds), q) * scale if needs[1] else None
        dv = _matmul(_swap(pd), g_out) if needs[2] and g_out is not None else None
        if rep > 1:  # sum the gradients of the query heads that share a kv head
            def fold(d):
                return None if d is None else d.reshape(d.shape[:-3] + (-1, rep) + d.shape[-2:]).sum(-3)
            dk, dv = fold(dk), fold(dv)
        if dv is None and needs[2]:
            dv = xp.zeros_like(v_in)
        dmask = ds if needs[3] else None  # gradient of an additive float mask
        return dq, dk, dv, dmask, None, None, None, None, None, None, None, None

    @staticmethod
    def differentiable_backward(ctx, g_out, g_weights=None):
        """backward in recorded Tensor ops, with P recomputed from q and k so that its derivative counts."""
        if ctx.fused:
            raise RuntimeError("the derivative of the fused (Triton) attention is not implemented for "
                               "create_graph=True")
        q, k, v, p_saved, keep = ctx.saved_tensors
        dropout_p, scale, rep = ctx.meta
        mask, causal, window = ctx.scores
        needs = ctx.needs_input_grad
        if needs[3]:
            raise RuntimeError("the derivative of attention with a float mask that requires grad is not "
                               "implemented for create_graph=True")
        if rep > 1:
            k, v = k.repeat_interleave(rep, dim=-3), v.repeat_interleave(rep, dim=-3)
        s = q.matmul(k.transpose(-1, -2)) * scale
        xp = xp_of(s._data)
        hidden = None
        if mask is not None:
            if mask.dtype == np.bool_:
                hidden = ~mask
            else:
                s = s + Tensor._make(mask)
        if causal or window is not None:
            band = ~_visible(xp, q.shape[-2], k.shape[-2], causal, window)
            hidden = band if hidden is None else hidden | band
        if hidden is not None:
            hidden = xp.broadcast_to(hidden, s.shape)
            empty = hidden.all(-1, keepdims=True)  # rows with no visible key: P is 0 there
            s = s.masked_fill(Tensor._make(hidden & ~empty), -math.inf)
        p = s.softmax(-1)
        if hidden is not None and empty.any():
            p = p.masked_fill(Tensor._make(xp.broadcast_to(empty, s.shape)), 0.0)
        drop = None if keep is None else keep * (1.0 / (1.0 - dropout_p))
        pd = p if drop is None else p * drop
        dpd = 0 if g_out is None else g_out.matmul(v.transpose(-1, -2))
        if g_weights is not None:
            dpd = dpd + g_weights
        dp = dpd if drop is None else dpd * drop
        ds = p * (dp - (dp * p).sum(-1, keepdim=True))
        dq = ds.matmul(k) * scale if needs[0] else None
        dk = ds.transpose(-1, -2).matmul(q) * scale if needs[1] else None
        dv = pd.transpose(-1, -2).matmul(g_out) if needs[2] and g_out is not None else None
        if rep > 1:
            def fold(d):
                return None if d is None else d.reshape(tuple(d.shape[:-3]) + (-1, rep) + tuple(d.shape[-2:])).sum(-3)
            dk, dv = fold(dk), fold(dv)
        return dq, dk, dv, None, None, None, None, None, None, None, None, None


def _use_flash(fused, q, k, v, mask, rep, need_weights):
    """The kernel takes 4-D (B, H, L, D) q/k/v with equal batch, 16 <= D <= 128, v shaped like k, heads
    Hq = rep * Hkv, and a mask without gradient; it returns no attention weights."""
    if need_weights or q.ndim != 4 or k.ndim != 4 or v.shape != k.shape or not 16 <= q.shape[-1] <= 128:
        return False
    if q.shape[0] != k.shape[0] or q.shape[1] != k.shape[1] * rep:
        return False
    if mask is not None and (mask.requires_grad or mask.ndim > 4):
        return False
    return _use_fused("flash_attention", fused, q, k, v)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False, *, window_size=None):
    """attn_mask: boolean (True = attend) or float (added to the scores), broadcastable to (..., Lq, Lk).
    is_causal: key j visible to query i iff j <= i (top-left aligned when Lq != Lk).
    enable_gqa: k/v may have fewer heads than q (grouped-query attention); Hq must be a multiple of Hk.
    window_size: mytorch extension - sliding-window causal attention (see the module docstring)."""
    return _scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa,
                                         window_size)


def _scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                  enable_gqa=False, window_size=None, need_weights=False, fused=None):
    """F.scaled_dot_product_attention with MultiheadAttention's options: need_weights also returns the
    (dropped-out) attention probabilities; fused is the module's kernel request (None: the global switch)."""
    if autocast.enabled:  # an additive float mask is cast too, as in PyTorch
        query, key, value, attn_mask = autocast.cast("scaled_dot_product_attention", query, key, value, attn_mask)
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError("scaled_dot_product_attention: expected query, key, value with at least 2 dims")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query and key embedding sizes differ: "
                           f"{query.shape[-1]} vs {key.shape[-1]}")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key and value sequence lengths differ: "
                           f"{key.shape[-2]} vs {value.shape[-2]}")
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead.")
    if window_size is not None and int(window_size) < 1:
        raise ValueError(f"window_size must be a positive integer, got {window_size}")
    rep = 1
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3:
        hq, hk = query.shape[-3], key.shape[-3]
        if hq % hk or value.shape[-3] != hk:
            raise RuntimeError(f"scaled_dot_product_attention: number of query heads ({hq}) must be divisible "
                               f"by the number of key/value heads ({hk})")
        rep = hq // hk
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"attn_mask must be a Tensor, not {type(attn_mask).__name__}")
        if attn_mask._data.dtype != np.bool_ and attn_mask.dtype != query.dtype:
            raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                               f"attn_mask.dtype: {attn_mask.dtype} and query.dtype: {query.dtype} instead.")
    window = None if window_size is None else int(window_size)
    fused = _use_flash(fused, query, key, value, attn_mask, rep, need_weights)
    rng = None
    if dropout_p > 0:
        from ...random import rng_for

        rng = rng_for(query.device)
    return _Attention.apply(query, key, value, attn_mask, float(dropout_p), bool(is_causal), scale, rep, window,
                            bool(need_weights), rng, fused)
