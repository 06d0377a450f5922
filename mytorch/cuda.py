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


class Event:
    """A CUDA event (cupy's): record() marks a point in a stream; elapsed_time(end) gives milliseconds between two
    events recorded with enable_timing=True."""

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        self.enable_timing = enable_timing
        self._event = _require().cuda.Event(block=blocking, disable_timing=not enable_timing,
                                            interprocess=interprocess)

    def record(self, stream=None):
        self._event.record(None if stream is None else stream._stream)

    def wait(self, stream=None):
        (current_stream() if stream is None else stream)._stream.wait_event(self._event)

    def query(self):
        return bool(self._event.done)

    def synchronize(self):
        self._event.synchronize()

    def elapsed_time(self, end_event):
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
        return float(_require().cuda.get_elapsed_time(self._event, end_event._event))

    def __repr__(self):
        return f"<mytorch.cuda.Event {hex(id(self))}>"


class Stream:
    """A CUDA stream (cupy's). `with mytorch.cuda.stream(s):` makes it current for the ops inside."""

    def __init__(self, device=None, priority=0, *, _stream=None):
        cp = _require()
        self.device = to_device(f"cuda:{_index(device)}")
        if _stream is None:
            with cp.cuda.Device(self.device.index):
                _stream = cp.cuda.Stream(non_blocking=True)
        self._stream = _stream

    def synchronize(self):
        self._stream.synchronize()

    def query(self):
        return bool(getattr(self._stream, "done", True))

    def wait_event(self, event):
        self._stream.wait_event(event._event)

    def wait_stream(self, stream):
        self.wait_event(stream.record_event())

    def record_event(self, event=None):
        event = Event() if event is None else event
        event.record(self)
        return event

    def __eq__(self, other):
        return isinstance(other, Stream) and self._stream.ptr == other._stream.ptr

    def __hash__(self):
        return hash(self._stream.ptr)

    def __repr__(self):
        return f"<mytorch.cuda.Stream device={self.device} cuda_stream={hex(self._stream.ptr)}>"


def current_stream(device=None):
    cp = _require()
    return Stream(device, _stream=cp.cuda.get_current_stream())


def default_stream(device=None):
    return Stream(device, _stream=_require().cuda.Stream.null)


class StreamContext:
    """`with stream(s):` the ops inside queue on s (None: no change)."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        if self.stream is not None:
            self.stream._stream.__enter__()
        return self.stream

    def __exit__(self, *exc):
        if self.stream is not None:
            self.stream._stream.__exit__(*exc)


def stream(stream):
    return StreamContext(stream)


def set_stream(stream):
    stream._stream.use()


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
