"""`mytorch.cuda.amp` (and `mytorch.cpu.amp`): PyTorch's older device spellings (deprecated there too; they warn
the same way)."""
import warnings

from .. import _dtype
from . import autocast_mode, grad_scaler

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]


def _spellings(device_type, default_dtype):
    """mytorch.<device_type>.amp's autocast and GradScaler: mytorch.amp's, with PyTorch's deprecation warnings."""

    class autocast(autocast_mode.autocast):
        def __init__(self, enabled=True, dtype=default_dtype, cache_enabled=True):
            warnings.warn(f"`mytorch.{device_type}.amp.autocast(args...)` is deprecated. Please use "
                          f"`mytorch.amp.autocast('{device_type}', args...)` instead.", FutureWarning, stacklevel=2)
            super().__init__(device_type, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    class GradScaler(grad_scaler.GradScaler):
        def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                     enabled=True):
            warnings.warn(f"`mytorch.{device_type}.amp.GradScaler(args...)` is deprecated. Please use "
                          f"`mytorch.amp.GradScaler('{device_type}', args...)` instead.", FutureWarning, stacklevel=2)
            super().__init__(device_type, init_scale, growth_factor, backoff_factor, growth_interval, enabled)

    return autocast, GradScaler


autocast, GradScaler = _spellings("cuda", _dtype.float16)


def custom_fwd(fwd=None, *, cast_inputs=None):
    return autocast_mode.custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def custom_bwd(bwd):
    return autocast_mode.custom_bwd(bwd, device_type="cuda")

