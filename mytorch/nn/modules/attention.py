"""nn.MultiheadAttention with PyTorch's parameter names and init, so torch state_dicts load unchanged.

in_proj_weight (3E, E) / in_proj_bias (3E,) pack the q, k, v projections when kdim == vdim == E;
otherwise q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim). out_proj holds
weight (E, E) and bias. Heads split the projected sequence as (N, H, L, head_dim), masks merge into one
additive float mask (True in a boolean key_padding_mask / attn_mask means "do not attend", the opposite
of scaled_dot_product_attention's boolean masks) and the attention runs through F.scaled_dot_product_attention
(its flash attention kernel with fused=True when need_weights=False). All projections go through F.linear's
_linear, so fused=True also runs them on the Triton linear kernel.
"""
import numpy as np

from ..._array import xp_of
from ...ops.factory import empty, zeros
from ...ops.shape import cat
from ...tensor import Tensor
from .. import init
from ..functional.attention import _scaled_dot_product_attention
from ..functional.linear import _linear
from ..parameter import Parameter
from .linear import Linear
from .module import Module

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear", "SlidingWindowAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """MultiheadAttention.out_proj: a plain Linear under torch's name (its parameters, init and repr), so torch
    state_dicts load unchanged. MultiheadAttention applies it through F.linear on its weight and bias."""


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


class MultiheadAttention(Module):
    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None, fused=False):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        self.fused = fused
        assert self.head_dim * num_heads == self.embed_dim, "embed_dim must be divisible by num_heads"
        kw = {"device": device, "dtype": dtype}
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **kw))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def _in_projection(self, query, key, value):
        """q, k, v = x W^T + b per input; the packed (3E, E) weight is sliced by rows like torch does, and
        shared inputs share one matmul (self-attention: all three; key is value: k and v)."""
        E, fused = self.embed_dim, self.fused
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if not self._qkv_same_embed_dim:
            return (_linear(query, self.q_proj_weight, bq, fused), _linear(key, self.k_proj_weight, bk, fused),
                    _linear(value, self.v_proj_weight, bv, fused))
        w = self.in_proj_weight
        if query is key and key is value:
            return _linear(query, w, b, fused).chunk(3, dim=-1)
        q = _linear(query, w[:E], bq, fused)
        if key is value:
            return (q,) + _linear(key, w[E:], None if b is None else b[E:], fused).chunk(2, dim=-1)
        return q, _linear(key, w[E:2 * E], bk, fused), _linear(value, w[2 * E:], bv, fused)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer "
                               "module method `generate_square_subsequent_mask` to create this mask.")
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:  # work in (L, N, E) like torch, so the same code serves both layouts
            same_kv = key is value
            same_qk = query is key
            query = query.transpose(0, 1)
            key = query if same_qk else key.transpose(0, 1)
            value = key if same_kv else value.transpose(0, 1)
        L, N, E = query.shape
        H, hd = self.num_heads, self.head_dim
        q, k, v = self._in_projection(query, key, value)
        dtype = q._data.dtype
        attn = _float_mask(attn_mask, dtype, "attn_mask")
        kpm = _float_mask(key_padding_mask, dtype, "key_padding_mask")
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(1, N, E)], 0)
            v = cat([v, self.bias_v.expand(1, N, E)], 0)
            attn, kpm = _pad_col(attn), _pad_col(kpm)
        # (S, N, E) -> (N, H, S, hd)
        q = q.reshape(L, N, H, hd).permute(1, 2, 0, 3)
        k = k.reshape(k.shape[0], N, H, hd).permute(1, 2, 0, 3)
        v = v.reshape(v.shape[0], N, H, hd).permute(1, 2, 0, 3)
        if self.add_zero_attn:
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
        dropout_p = self.dropout if self.training else 0.0
        result = _scaled_dot_product_attention(q, k, v, None if mask is None else Tensor._make(mask), dropout_p,
                                               need_weights=need_weights, fused=self.fused)
        out, weights = result if need_weights else (result, None)
        out = out.permute(2, 0, 1, 3).reshape(L, N, E)
        out = _linear(out, self.out_proj.weight, self.out_proj.bias, self.fused)
        if weights is not None and average_attn_weights:
            weights = weights.sum(1) * (1.0 / H)
        if unbatched:
            return out.squeeze(1), None if weights is None else weights.squeeze(0)
        if self.batch_first:
            out = out.transpose(0, 1)
        return out, weights


def _pad_col(mask):
    """Append one always-visible key column (for bias_k/bias_v and add_zero_attn)."""
    if mask is None:
        return None
    xp = xp_of(mask)
    return xp.concatenate([mask, xp.zeros(mask.shape[:-1] + (1,), mask.dtype)], -1)


class SlidingWindowAttention(Module):
    """Causal self-attention where each position sees only the last `window_size` positions
    (itself included), as in Mistral/Longformer-style local attention. mytorch extension.

    x (N, L, E) (or (L, N, E) with batch_first=False) -> (N, L, E). One packed qkv projection
    (`qkv`, E -> 3E) and an output projection (`proj`); heads of size E / num_heads. The attention
    is F.scaled_dot_product_attention(..., window_size=window_size), so fused=True (or the global
    switch) runs the flash attention kernel with the window applied inside its tiles.
    """

    def __init__(self, embed_dim, num_heads, window_size, dropout=0.0, bias=True, batch_first=True, fused=False,
                 device=None, dtype=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        if not isinstance(window_size, int) or window_size < 1:
            raise ValueError(f"window_size must be a positive int, got {window_size!r}")
        self.embed_dim, self.num_heads, self.window_size = embed_dim, num_heads, window_size
        self.dropout, self.batch_first, self.fused = dropout, batch_first, fused
        self.qkv = Linear(embed_dim, 3 * embed_dim, bias=bias, device=device, dtype=dtype)
        self.proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)

    def forward(self, x):
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise RuntimeError(f"SlidingWindowAttention expects a 3-D input with {self.embed_dim} features, "
                               f"got shape {list(x.shape)}")
        if not self.batch_first:
            x = x.transpose(0, 1)
        n, length, e = x.shape
        heads = self.num_heads
        qkv = _linear(x, self.qkv.weight, self.qkv.bias, self.fused)
        q, k, v = (t.reshape(n, length, heads, e // heads).transpose(1, 2) for t in qkv.split(e, dim=-1))
        out = _scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                            window_size=self.window_size, fused=self.fused)
        out = _linear(out.transpose(1, 2).reshape(n, length, e), self.proj.weight, self.proj.bias, self.fused)
        return out if self.batch_first else out.transpose(0, 1)

    def extra_repr(self):
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, window_size={self.window_size}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")
