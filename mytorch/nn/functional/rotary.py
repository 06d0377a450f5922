"""Rotary position embedding (RoPE, Su et al. 2021, arXiv:2104.09864), one Function with a manual backward.

x (B, H, T, D); cos, sin (T, R/2) for a rotary dim R <= D (features past R pass through). Each pair
(x1, x2) turns by its position's angle: out1 = x1 cos - x2 sin, out2 = x2 cos + x1 sin. Pairs are the two
halves of the first R features (GPT-NeoX / Llama / Hugging Face "rotate_half") or adjacent features
(interleaved=True, GPT-J / Meta's original Llama). A rotation is orthogonal, so the backward is the same
rotation with sin negated. With `mytorch.backends.fused` (or the caller's fused=True) the Triton kernel
(mytorch.kernels.rotary) is the second body of the same Function.
"""
import numpy as np

from ..._array import xp_of
from ...autograd.function import Function
from ...tensor import Tensor
from .linear import _use_fused

__all__ = ["rotary_embedding", "rotary_cos_sin"]


def _rotate(x, cos, sin, interleaved):
    xp = xp_of(x)
    half = cos.shape[-1]
    cos, sin = cos.astype(x.dtype, copy=False), sin.astype(x.dtype, copy=False)
    out = xp.empty_like(x)
    first, second = (slice(0, 2 * half, 2), slice(1, 2 * half, 2)) if interleaved else \
        (slice(0, half), slice(half, 2 * half))
    x1, x2 = x[..., first], x[..., second]
    out[..., first] = x1 * cos - x2 * sin
    out[..., second] = x2 * cos + x1 * sin
    out[..., 2 * half:] = x[..., 2 * half:]
    return out


class RotaryEmbedding(Function):
    @staticmethod
    def forward(ctx, x, cos, sin, interleaved, fused=False):
        ctx.save_for_backward(cos, sin)
        ctx.interleaved, ctx.fused = interleaved, fused
        if fused:
            from ...kernels import rotary as kernel

            return kernel.rotary_fwd(x, cos, sin, interleaved)
        return _rotate(x, cos, sin, interleaved)

    @staticmethod
    def backward(ctx, grad):
        cos, sin = ctx.saved_tensors
        if ctx.fused:
            from ...kernels import rotary as kernel

            dx = kernel.rotary_bwd(grad, cos, sin, ctx.interleaved)
        else:
            dx = _rotate(grad, cos, -sin, ctx.interleaved)
        return dx, None, None, None, None


def rotary_embedding(input, cos, sin, interleaved=False):
    """Rotate the (B, H, T, D) `input` by position: row t uses cos[t], sin[t] of shape (R/2,).
    cos/sin come from `rotary_cos_sin` (slice them, e.g. cos[start:start + T], for an offset)."""
    return _rotary_embedding(input, cos, sin, interleaved)


def _rotary_embedding(input, cos, sin, interleaved=False, fused=None):
    """F.rotary_embedding with a caller's `fused` request (None: the global switch decides)."""
    if input.ndim != 4:
        raise RuntimeError(f"rotary_embedding: expected input of shape (B, H, T, D), got {list(input.shape)}")
    T, D = input.shape[2], input.shape[3]
    if cos.ndim != 2 or tuple(cos.shape) != tuple(sin.shape) or cos.shape[0] != T or 2 * cos.shape[1] > D:
        raise RuntimeError(f"rotary_embedding: cos/sin must be (T, R/2) = ({T}, <= {D // 2}) for input "
                           f"{list(input.shape)}, got cos {list(cos.shape)} and sin {list(sin.shape)}")
    if not input.is_floating_point():
        raise TypeError(f"rotary_embedding: expected a floating point input, got {input.dtype}")
    fused = input.numel() > 0 and _use_fused("rotary", fused, input)
    return RotaryEmbedding.apply(input, cos, sin, bool(interleaved), fused)


def rotary_cos_sin(seq_len, rotary_dim, base=10000.0, device=None, scaling=None):
    """float32 tables (seq_len, rotary_dim / 2): angle[t, j] = t * inv_freq[j], inv_freq[j] = base^(-2j / R).
    scaling stretches the frequencies for longer contexts: {"rope_type": "linear", "factor": f} divides them
    all by f; Llama 3's {"rope_type": "llama3", "factor", "low_freq_factor", "high_freq_factor",
    "original_max_position_embeddings"} divides only the low frequencies, blending in between."""
    if rotary_dim % 2:
        raise ValueError(f"rotary_cos_sin: rotary_dim must be even, got {rotary_dim}")
    # float32 frequencies, as Hugging Face computes them (the checkpoints were trained with those)
    inv_freq = (1.0 / float(base) ** (np.arange(0, rotary_dim, 2, dtype=np.float32) / np.float32(rotary_dim)))
    if scaling is not None:
        inv_freq = _scaled_inv_freq(inv_freq.astype(np.float32), scaling)
    angle = np.arange(seq_len, dtype=np.float32)[:, None] * inv_freq[None, :].astype(np.float32)
    cos, sin = (Tensor._make(np.ascontiguousarray(f(angle), dtype=np.float32)) for f in (np.cos, np.sin))
    if device is not None:
        cos, sin = cos.to(device), sin.to(device)
    return cos, sin


def _scaled_inv_freq(inv_freq, scaling):
    kind, factor = scaling.get("rope_type", scaling.get("type")), float(scaling["factor"])
    if kind == "linear":
        return inv_freq / factor
    if kind != "llama3":
        raise ValueError(f"rotary_cos_sin: rope scaling {kind!r} is not supported (linear, llama3)")
    low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
    old_len = float(scaling["original_max_position_embeddings"])
    wavelen = 2 * np.pi / inv_freq
    scaled = np.where(wavelen > old_len / low, inv_freq / factor, inv_freq)  # long waves: stretched
    smooth = (old_len / wavelen - low) / (high - low)
    medium = (wavelen >= old_len / high) & (wavelen <= old_len / low)  # in between: interpolated
    return np.where(medium, (1 - smooth) * scaled / factor + smooth * scaled, scaled).astype(np.float32)
