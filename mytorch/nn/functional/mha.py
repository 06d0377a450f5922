"""F.multi_head_attention_forward: nn.MultiheadAttention's computation, sequence-first (L, N, E) or unbatched (L, E).

The packed in_proj_weight (3E, E) is sliced by rows as torch does (use_separate_proj_weight: q/k/v_proj_weight),
shared inputs share one matmul. Masks merge into one additive float mask (True in a boolean key_padding_mask /
attn_mask means "do not attend", the opposite of scaled_dot_product_attention's boolean masks) and the attention
runs through scaled_dot_product_attention (its flash kernel with fused=True when need_weights=False).
"""
import numpy as np

from ..._array import xp_of
from ...ops.factory import zeros
from ...ops.shape import cat
from ...tensor import Tensor
from .attention import _scaled_dot_product_attention
from .linear import _linear

__all__ = ["multi_head_attention_forward"]


def _float_mask(mask, dtype, name):
    """Boolean (True = masked) -> additive float with -inf; float masks pass through."""
    if mask is None:
        return None
    data = mask._data
    xp = xp_of(data)
    if data.dtype == np.bool_:
        return xp.where(data, -xp.inf, 0).astype(dtype)
    if data.dtype.kind != "f":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return data.astype(dtype, copy=False)


def _pad_col(mask):
    """Append one always-visible key column (for bias_k/bias_v and add_zero_attn)."""
    if mask is None:
        return None
    xp = xp_of(mask)
    return xp.concatenate([mask, xp.zeros(mask.shape[:-1] + (1,), mask.dtype)], -1)


def _in_projection(query, key, value, E, in_proj_weight, in_proj_bias, separate, q_w, k_w, v_w, fused):
    b = in_proj_bias
    bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
    if separate:
        if q_w is None or k_w is None or v_w is None:
            raise AssertionError("use_separate_proj_weight is True but q_proj_weight, k_proj_weight or "
                                 "v_proj_weight is None")
        return _linear(query, q_w, bq, fused), _linear(key, k_w, bk, fused), _linear(value, v_w, bv, fused)
    if in_proj_weight is None:
        raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
    w = in_proj_weight
    if query is key and key is value:
        return _linear(query, w, b, fused).chunk(3, dim=-1)
    q = _linear(query, w[:E], bq, fused)
    if key is value:
        return (q,) + _linear(key, w[E:], None if b is None else b[E:], fused).chunk(2, dim=-1)
    return q, _linear(key, w[E:2 * E], bk, fused), _linear(value, w[2 * E:], bv, fused)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False, _fused=False):
    """Returns (attn_output (L, N, E), attn_weights (N, L, S) averaged over heads, (N, H, L, S), or None)."""
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise AssertionError(f"query, key and value must all be 2-D (unbatched) or 3-D (batched), got "
                             f"{query.ndim}-D, {key.ndim}-D and {value.ndim}-D")
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)  # shared inputs stay shared
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    if E != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {E}")
    H = num_heads
    hd = E // H
    if hd * H != E:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {H}")
    if key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key shape {list(key.shape)} does not match value shape {list(value.shape)}")
    q, k, v = _in_projection(query, key, value, E, in_proj_weight, in_proj_bias, use_separate_proj_weight,
                             q_proj_weight, k_proj_weight, v_proj_weight, _fused)
    dtype = q._data.dtype
    attn = _float_mask(attn_mask, dtype, "attn_mask")
    if attn is not None and attn.ndim == 2 and attn.shape != (L, key.shape[0]):
        raise RuntimeError(f"The shape of the 2D attn_mask is {attn.shape}, but should be {(L, key.shape[0])}.")
    kpm = _float_mask(key_padding_mask, dtype, "key_padding_mask")
    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key / value.")
        k = cat([k, bias_k.reshape(1, 1, E).expand(1, N, E)], 0)
        v = cat([v, bias_v.reshape(1, 1, E).expand(1, N, E)], 0)
        attn, kpm = _pad_col(attn), _pad_col(kpm)
    # (S, N, E) -> (N, H, S, hd); static_k / static_v come as (N * H, S, hd)
    q = q.reshape(L, N, H, hd).permute(1, 2, 0, 3)
    k = k.reshape(k.shape[0], N, H, hd).permute(1, 2, 0, 3) if static_k is None else static_k.reshape(N, H, -1, hd)
    v = v.reshape(v.shape[0], N, H, hd).permute(1, 2, 0, 3) if static_v is None else static_v.reshape(N, H, -1, hd)
    if add_zero_attn:
        k = cat([k, zeros(N, H, 1, hd, dtype=k.dtype, device=k.device)], 2)
        v = cat([v, zeros(N, H, 1, hd, dtype=v.dtype, device=v.device)], 2)
        attn, kpm = _pad_col(attn), _pad_col(kpm)
    S = k.shape[2]
    mask = None
    if attn is not None:
        mask = attn.reshape(N, H, L, S) if attn.ndim == 3 else attn
    if kpm is not None:
        kpm = kpm.reshape(N, 1, 1, S)
        mask = kpm if mask is None else mask + kpm
    result = _scaled_dot_product_attention(q, k, v, None if mask is None else Tensor._make(mask),
                                           dropout_p if training else 0.0, need_weights=need_weights, fused=_fused)
    out, weights = result if need_weights else (result, None)
    out = out.permute(2, 0, 1, 3).reshape(L, N, E)
    out = _linear(out, out_proj_weight, out_proj_bias, _fused)
    if weights is not None and average_attn_weights:
        weights = weights.sum(1) * (1.0 / H)
    if unbatched:
        return out.squeeze(1), None if weights is None else weights.squeeze(0)
    return out, weights
