"""nn.MultiheadAttention with PyTorch's parameter names and init, so torch state_dicts load unchanged.

in_proj_weight (3E, E) / in_proj_bias (3E,) pack the q, k, v projections when kdim == vdim == E;
otherwise q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim). out_proj holds
weight (E, E) and bias. Heads split the projected sequence as (N, H, L, head_dim), masks merge into one
additive float mask (True in a boolean key_padding_mask / attn_mask means "do not attend", the opposite
of scaled_dot_product_attention's boolean masks) and the attention runs through F.scaled_dot_product_attention
(its flash attention kernel with fused=True when need_weights=False).
"""
import math

import numpy as np

from ..._array import xp_of
from ...autograd.function import Function
from ...ops.factory import empty, zeros
from ...ops.shape import cat
from ...tensor import Tensor
from .. import init
from ..functional.attention import _scaled_dot_product_attention
from ..parameter import Parameter
from .module import Module

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class _Project(Function):
    """y = x @ w^T + b (the input/output projections)."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        y = x @ w.T
        return y if b is None else y + b

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        g2 = g.reshape(-1, g.shape[-1])
        dw = g2.T @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        db = g2.sum(0) if ctx.needs_input_grad[2] else None
        return g @ w, dw, db


def _project(x, w, b):
    return _Project.apply(x, w, b)


class NonDynamicallyQuantizableLinear(Module):
    """MultiheadAttention.out_proj: a Linear (same parameters, init and repr as torch's)."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(empty(out_features, in_features, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(in_features) if in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return _project(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


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
        E = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:  # self-attention: one packed matmul
                return _project(query, w, b).chunk(3, dim=-1)
            wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return _project(query, wq, bq), _project(key, wk, bk), _project(value, wv, bv)

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
        out = self.out_proj(out.permute(2, 0, 1, 3).reshape(L, N, E))
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
