"""SwiGLU gating (Shazeer 2020, arXiv:2002.05202): silu(gate) * up, one Function with a manual backward.

The feed-forward of Llama-style models is down(swiglu(gate(x), up(x))). With s = sigmoid(gate):
    d gate = dy * up * s * (1 + gate * (1 - s)),   d up = dy * gate * s.
With `mytorch.backends.fused` (or the caller's fused=True) the Triton kernel (mytorch.kernels.activations)
is the second body of the same Function.
"""
from ..._array import xp_of
from ...autograd.function import Function
from ...ops.elementwise import _sigmoid
from .linear import _use_fused

__all__ = ["swiglu"]


class SwiGLU(Function):
    @staticmethod
    def forward(ctx, gate, up, fused=False):
        ctx.save_for_backward(gate, up)
        ctx.fused = fused
        if fused:
            from ...kernels import activations as kernel

            return kernel.swiglu_fwd(gate, up)
        return gate * _sigmoid(xp_of(gate), gate) * up

    @staticmethod
    def backward(ctx, grad):
        gate, up = ctx.saved_tensors
        if ctx.fused:
            from ...kernels import activations as kernel

            d_gate, d_up = kernel.swiglu_bwd(grad, gate, up)
            return d_gate, d_up, None
        s = _sigmoid(xp_of(gate), gate)
        d_gate = grad * up * s * (1 + gate * (1 - s))
        d_up = grad * gate * s
        return d_gate, d_up, None


def swiglu(input, other=None):
    """silu(input) * other; with other=None, input's last dim is split in halves (gate, up)."""
    return _swiglu(input, other)


def _swiglu(input, other=None, fused=None):
    """F.swiglu with a caller's `fused` request (None: the global switch decides)."""
    if other is None:
        if input.shape[-1] % 2:
            raise RuntimeError(f"swiglu: halving dimension must be even, but dimension {input.ndim - 1} is size "
                               f"{input.shape[-1]}")
        input, other = input.chunk(2, dim=-1)
    if tuple(input.shape) != tuple(other.shape):
        raise RuntimeError(f"swiglu: gate and up shapes differ: {list(input.shape)} vs {list(other.shape)}")
    if input.dtype != other.dtype:
        raise RuntimeError(f"swiglu: gate and up dtypes differ: {input.dtype} vs {other.dtype}")
    fused = input.numel() > 0 and _use_fused("activation", fused, input, other)
    return SwiGLU.apply(input, other, fused)
