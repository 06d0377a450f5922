"""nn.MultiheadAttention with PyTorch's parameter names and init, so torch state_dicts load unchanged; its
forward is F.multi_head_attention_forward.

in_proj_weight (3E, E) / in_proj_bias (3E,) pack the q, k, v projections when kdim == vdim == E;
otherwise q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim). out_proj holds
weight (E, E) and bias. fused=True runs the projections on the Triton linear kernel and the attention on
the flash attention kernel (when need_weights=False).
"""
from .. import init
from ..functional.attention import _scaled_dot_product_attention
from ..functional.linear import _linear
from ..functional.mha import multi_head_attention_forward
from ...ops.factory import empty
from ..parameter import Parameter
from .linear import Linear
from .module import Module

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear", "SlidingWindowAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """MultiheadAttention.out_proj: a plain Linear under torch's name (its parameters, init and repr), so torch
    state_dicts load unchanged. MultiheadAttention applies it through F.linear on its weight and bias."""


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

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if self.batch_first and query.ndim == 3:  # the functional works in (L, N, E): keep shared inputs shared
            same_kv, same_qk = key is value, query is key
            query = query.transpose(0, 1)
            key = query if same_qk else key.transpose(0, 1)
            value = key if same_kv else value.transpose(0, 1)
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias, self.bias_k,
            self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal, _fused=self.fused)
        if self.batch_first and query.ndim == 3:
            out = out.transpose(0, 1)
        return out, weights


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
