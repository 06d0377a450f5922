"""torch.nn.attention: choosing the scaled_dot_product_attention implementation.

mytorch has two: MATH (the numpy / cupy body, with its compiled CPU counterpart) and FLASH_ATTENTION (the
Triton flash attention kernel, used when mytorch.backends.fused is enabled and the inputs suit it).
`with sdpa_kernel(SDPBackend.MATH):` keeps attention off the kernel; a list without MATH but with
FLASH_ATTENTION leaves the choice to mytorch.backends.fused. EFFICIENT_ATTENTION, CUDNN_ATTENTION and
OVERRIDEABLE name PyTorch's CUDA-only kernels: they are accepted and run as MATH.
"""
import contextlib
import enum

from ... import backends

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.IntEnum):
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


@contextlib.contextmanager
def sdpa_kernel(backends_, set_priority=False):
    """Within the block, attention uses only the listed backends (see the module docstring)."""
    chosen = [backends_] if isinstance(backends_, SDPBackend) else list(backends_)
    for b in chosen:
        if not isinstance(b, SDPBackend):
            raise TypeError(f"sdpa_kernel expects SDPBackend values, got {type(b).__name__}")
    if not chosen or chosen == [SDPBackend.ERROR]:
        raise RuntimeError("sdpa_kernel: no attention backend is enabled")
    fused = backends.fused
    old = fused.flash_attention
    fused.flash_attention = old and SDPBackend.FLASH_ATTENTION in chosen
    try:
        yield
    finally:
        fused.flash_attention = old
