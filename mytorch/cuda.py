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
        from . import _array

        if isinstance(sys.modules.get("cupy"), types.ModuleType):
            why = (f"cupy is installed but found no usable NVIDIA GPU ({_array._cupy_error}; no driver, "
                   "a driver older than cupy's CUDA, or CUDA_VISIBLE_DEVICES hides the GPUs)")
        else:
            why = "cupy is not installed (pip install 'mytorch[gpu]' for CUDA 12, 'mytorch[gpu-cuda13]' for CUDA 13)"
        raise RuntimeError(f"CUDA is not available: {why}")
    return cp


def _index(device):
    if device is None:
        return current_device()
    if isinstance(device, int):
        return to_device(f"cuda:{device}").index
    return to_device(device).index


def current_device():
    return _require().cuda.runtime.getDevice()


def set_device(device):
    d = to_device(device if not isinstance(device, int) else f"cuda:{device}")
    _require().cuda.Device(d.index).use()


def synchronize(device=None):
    if is_available():
        _require().cuda.runtime.deviceSynchronize()


def get_device_name(device=None):
    return get_device_properties(device).name


class _CudaDeviceProperties:
    """What `get_device_properties` returns: PyTorch's name, major, minor, total_memory, multi_processor_count."""

    def __init__(self, props):
        name = props["name"]
        self.name = name.decode() if isinstance(name, bytes) else str(name)
        self.major, self.minor = int(props["major"]), int(props["minor"])
        self.total_memory = int(props["totalGlobalMem"])
        self.multi_processor_count = int(props["multiProcessorCount"])

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // 2 ** 20}MB, multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None):
    cp = _require()
    return _CudaDeviceProperties(cp.cuda.runtime.getDeviceProperties(_index(device)))


def get_device_capability(device=None):
    """(major, minor) compute capability, e.g. (8, 0) on an A100, (9, 0) on an H100."""
    props = get_device_properties(device)
    return props.major, props.minor


def mem_get_info(device=None):
    """(free, total) bytes of GPU memory, as cudaMemGetInfo reports them."""
    cp = _require()
    with cp.cuda.Device(_index(device)):
        free, total = cp.cuda.runtime.memGetInfo()
    return int(free), int(total)


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
    return False  # cupy has no bfloat16 arrays


def _legacy_types():
    from ._legacy_tensors import CUDA_TYPES

    return CUDA_TYPES


globals().update(_legacy_types())  # torch.cuda.FloatTensor, ...: constructors that put data on the GPU


class device:
    """`with mytorch.cuda.device(i):` makes GPU i current inside the block (PyTorch's context manager);
    -1 or None changes nothing."""

    def __init__(self, device):
        self.idx = -1 if device is None else (_index(device) if not isinstance(device, int) else device)
        self._guard = None

    def __enter__(self):
        if self.idx >= 0:
            self._guard = _require().cuda.Device(self.idx)
            self._guard.__enter__()
        return self

    def __exit__(self, *exc):
        if self._guard is not None:
            self._guard.__exit__(*exc)
            self._guard = None
        return False
