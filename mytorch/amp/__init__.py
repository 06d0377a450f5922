"""mytorch.amp: automatic mixed precision, like torch.amp.

- `autocast(device_type, dtype=None, enabled=True, cache_enabled=None)`: matmul-like ops in float16 /
  bfloat16, range-sensitive ops in float32 (op_lists.py); float32 master weights get float32 gradients.
- `GradScaler(device="cuda", ...)`: dynamic loss scaling for float16 gradients.
"""
from .autocast_mode import (autocast, clear_autocast_cache, custom_bwd, custom_fwd, get_autocast_cpu_dtype,
                            get_autocast_dtype, get_autocast_gpu_dtype, is_autocast_available,
                            is_autocast_cache_enabled, is_autocast_cpu_enabled, is_autocast_enabled,
                            set_autocast_cache_enabled, set_autocast_dtype, set_autocast_enabled)
from .grad_scaler import GradScaler

__all__ = ["autocast", "GradScaler", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype",
           "set_autocast_enabled", "set_autocast_dtype", "is_autocast_cache_enabled", "set_autocast_cache_enabled",
           "clear_autocast_cache", "custom_fwd", "custom_bwd", "is_autocast_cpu_enabled", "get_autocast_cpu_dtype",
           "get_autocast_gpu_dtype"]
