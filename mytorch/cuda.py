"""mytorch.cuda: GPU queries (cupy-backed). Everything answers sensibly on a machine without a GPU."""
import sys
import types

from ._array import cupy_module, to_device


class _AmpModule(types.ModuleType):
    """`mytorch.cuda.amp` (GradScaler, autocast, custom_fwd, custom_bwd): PyTorch's older CUDA spelling of
    mytorch.amp. A registered module, so `from mytorch.cuda.amp import GradScaler` works; mytorch.amp
    itself loads on first use."""

    def __getattr__(self, name):
        from .amp import legacy

        if name in legacy.__all__:
            return getattr(legacy, name)
        raise AttributeError(f"module 'mytorch.cuda.amp' has no attribute '{name}'")


amp = sys.modules[__name__ + ".amp"] = _AmpModule(__name__ + ".amp")


def is_available():
    return cupy_module() is not None


def device_count():
    cp = cupy_module()
    return cp.cuda.runtime.getDeviceCount() if cp is not None else 0


def _require():
    cp = cupy_module()
    if cp is None:
        raise RuntimeError("CUDA is not available: cupy is not installed or sees no GPU")
    return cp


def current_device():
    return _require().cuda.runtime.getDevice()


def set_device(device):
    d = to_device(device if not isinstance(device, int) else f"cuda:{device}")
    _require().cuda.Device(d.index).use()


def synchronize(device=None):
    if is_available():
        _require().cuda.runtime.deviceSynchronize()


def get_device_name(device=None):
    cp = _require()
    idx = 0 if device is None else to_device(device if not isinstance(device, int) else f"cuda:{device}").index
    return cp.cuda.runtime.getDeviceProperties(idx)["name"].decode()


def manual_seed(seed):
    from .random import default_generator

    if is_available():
        for i in range(device_count()):
            default_generator(to_device(f"cuda:{i}")).manual_seed(seed)


manual_seed_all = manual_seed


def memory_allocated(device=None):
    return _require().get_default_memory_pool().used_bytes() if is_available() else 0


def max_memory_allocated(device=None):
    return _require().get_default_memory_pool().total_bytes() if is_available() else 0


def empty_cache():
    if is_available():
        _require().get_default_memory_pool().free_all_blocks()


def is_bf16_supported():
    return False
