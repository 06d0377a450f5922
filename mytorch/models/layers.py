"""The swappable parts of a GPT block, each chosen by one GPTConfig field: positional encodings (learned,
sinusoidal, rotary, ALiBi), the norm, the MLP (GELU or SwiGLU) and causal self-attention (multi-head or
grouped-query, optionally sliding-window, with an optional KV cache)."""
import math

from .. import nn
from ..ops.factory import arange, tensor, zeros
from ..nn.functional.attention import _scaled_dot_product_attention
from ..nn.functional.rotary import _rotary_embedding, rotary_cos_sin
from ..nn.functional.swiglu import _swiglu


# --- positional encodings ---------------------------------------------------------------------------------
class SinusoidalPositions(nn.Module):
    """Fixed sin/cos position vectors (Vaswani et al. 2017) added to the token embeddings; no parameters."""

    def __init__(self, context_length, n_embd):
        super().__init__()
        inv_freq = (arange(0, n_embd, 2).float() * (-math.log(10000.0) / n_embd)).exp()
        angle = arange(context_length).float()[:, None] * inv_freq[None, :]  # (T, ceil(C / 2))
        table = zeros(context_length, n_embd)
        table[:, 0::2] = angle.sin()
        table[:, 1::2] = angle[:, :n_embd // 2].cos()
        self.register_buffer("table", table, persistent=False)

    def forward(self, pos):
        return self.table[pos]


class Rotary(nn.Module):
    """RoPE on queries and keys at absolute positions start..start+T-1 (Hugging Face's rotate_half pairing).
    The cos/sin tables are non-persistent buffers that grow when generation runs past them."""

    def __init__(self, head_dim, context_length, base, scaling=None, fused=False):
        super().__init__()
        self.head_dim, self.base, self.scaling, self.fused = head_dim, base, scaling, fused
        self._build(context_length)

    def _build(self, length, device=None):
        cos, sin = rotary_cos_sin(length, self.head_dim, self.base, device, self.scaling)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, q, k, start=0):
        end = start + q.shape[2]
        if end > self.cos.shape[0]:
            self._build(max(end, 2 * self.cos.shape[0]), q.device)
        cos, sin = self.cos[start:end], self.sin[start:end]
        return (_rotary_embedding(q, cos, sin, fused=self.fused),
                _rotary_embedding(k, cos, sin, fused=self.fused))


def alibi_slopes(n_head):
    """Per-head slopes of ALiBi (Press et al. 2022): a geometric sequence 2^(-8/n), 2^(-16/n), ...; for a
    head count that is not a power of two, the closest power's slopes plus every other one of its double."""
    def powers(n):
        return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]

    closest = 2 ** int(math.floor(math.log2(n_head)))
    return powers(closest) + powers(2 * closest)[0::2][:n_head - closest]


class ALiBi(nn.Module):
    """Adds -slope_h * (i - j) to the score of query i and key j; no position embeddings at all."""

    def __init__(self, n_head):
        super().__init__()
        self.register_buffer("slopes", tensor(alibi_slopes(n_head)), persistent=False)

    def forward(self, distance):
        """distance (T, S) = query position - key position -> bias (H, T, S)."""
        return -self.slopes[:, None, None] * distance.float()[None]


# --- norms and MLPs ---------------------------------------------------------------------------------------
def make_norm(config):
    if config.norm == "rmsnorm":
        return nn.RMSNorm(config.n_embd, eps=config.norm_eps, fused=config.fused)
    return nn.LayerNorm(config.n_embd, eps=config.norm_eps, bias=config.bias, fused=config.fused)


class MLP(nn.Module):
    """GPT-2's feed-forward: c_proj(gelu_tanh(c_fc(x)))."""

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.mlp_hidden, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh", fused=config.fused)
        self.c_proj = nn.Linear(config.mlp_hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class SwiGLUMLP(nn.Module):
    """Llama's feed-forward: c_proj(silu(c_gate(x)) * c_fc(x))."""

    def __init__(self, config):
        super().__init__()
        self.fused = config.fused
        self.c_gate = nn.Linear(config.n_embd, config.mlp_hidden, bias=config.bias)
        self.c_fc = nn.Linear(config.n_embd, config.mlp_hidden, bias=config.bias)
        self.c_proj = nn.Linear(config.mlp_hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(_swiglu(self.c_gate(x), self.c_fc(x), fused=self.fused)))


# --- attention --------------------------------------------------------------------------------------------
class CausalSelfAttention(nn.Module):
    """Causal self-attention with n_kv_heads <= n_head key/value heads (grouped-query when fewer).
    q, k and v come from one projection c_attn (GPT-2's layout), n_embd + 2 * n_kv_heads * head_dim wide."""

    def __init__(self, config, rotary=None, alibi=None):
        super().__init__()
        self.n_head, self.n_kv_heads, self.head_dim = config.n_head, config.n_kv_heads, config.head_dim
        self.kv_dim = self.n_kv_heads * self.head_dim
        self.c_attn = nn.Linear(config.n_embd, config.n_embd + 2 * self.kv_dim, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout, self.window, self.fused = config.dropout, config.sliding_window, config.fused
        self.rotary, self.alibi = rotary, alibi  # shared by all blocks; no parameters
        # relative encodings (rope, alibi, none) run on sequences longer than context_length by attending
        # at most context_length positions back (absolute ones cannot: the model refuses such input)
        self.max_span = config.context_length

    def forward(self, x, start=0, cache=None):
        """x (B, T, C) holds tokens at positions start..start+T-1; cache (a LayerKV) holds earlier keys."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split([C, self.kv_dim, self.kv_dim], dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        k = k.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, Hkv, T, D)
        v = v.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        if self.rotary is not None:
            q, k = self.rotary(q, k, start)
        window = self.window
        if cache is not None:
            k, v = cache.update(k, v)
            window = cache.window
        elif T > self.max_span:
            window = min(window or T, self.max_span)
        mask, causal = self._mask(q, T, k.shape[2], start, window)
        y = _scaled_dot_product_attention(q, k, v, mask, self.dropout if self.training else 0.0, is_causal=causal,
                                          enable_gqa=self.n_kv_heads != self.n_head,
                                          window_size=window if causal else None, fused=self.fused)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.resid_dropout(self.c_proj(y))

    def _mask(self, q, T, S, start, window):
        """(attn_mask, is_causal) for T queries over S keys that end at position start + T - 1: SDPA's own
        causal (+window) masking when queries and keys start together, no mask when one query sees every
        key, else a boolean (T, S) mask or ALiBi's float (H, T, S) bias built from absolute positions."""
        if self.alibi is None and S == T and start == 0:
            return None, True
        if self.alibi is None and T == 1 and (window is None or S <= window):
            return None, False
        q_pos = arange(start, start + T, device=q.device)
        k_pos = arange(start + T - S, start + T, device=q.device)
        distance = q_pos[:, None] - k_pos[None, :]
        visible = distance >= 0
        if window is not None:
            visible = visible & (distance < window)
        if self.alibi is None:
            return visible, False
        return self.alibi(distance).masked_fill(~visible, float("-inf")).to(q.dtype), False
