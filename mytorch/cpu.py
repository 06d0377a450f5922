"""torch.cpu: the CPU as a device module, with CUDA's names (streams and events are no-ops: CPU ops run in
order, synchronously) and the older `torch.cpu.amp` spellings of mytorch.amp."""
import contextlib
import sys
import types
import warnings

__all__ = ["is_available", "device_count", "current_device", "set_device", "synchronize", "Stream", "Event",
           "stream", "current_stream", "StreamContext", "is_initialized", "amp"]


def is_available():
    return True


def is_initialized():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def set_device(device):
    """Only the CPU exists here: any CPU device is accepted."""


def synchronize(device=None):
    """CPU work is synchronous: nothing to wait for."""


class Stream:
    """The CPU's one in-order stream."""

    def __init__(self, priority=-1):
        self.priority = priority

    def wait_stream(self, stream):
        pass

    def wait_event(self, event):
        pass

    def record_event(self, event=None):
        event = Event() if event is None else event
        event.record(self)
        return event

    def query(self):
        return True

    def synchronize(self):
        pass


class Event:
    """A marker in the CPU stream: already complete when recorded."""

    def __init__(self, enable_timing=False):
        self.enable_timing = enable_timing

    def record(self, stream=None):
        pass

    def wait(self, stream=None):
        pass

    def query(self):
        return True

    def synchronize(self):
        pass


_current = Stream()


def current_stream(device=None):
    return _current


class StreamContext(contextlib.AbstractContextManager):
    def __init__(self, stream):
        self.stream = stream

    def __exit__(self, *exc):
        return None


def stream(stream):
    return StreamContext(stream)


def _amp_module():
    from .amp import autocast_mode, grad_scaler

    module = types.ModuleType(f"{__name__}.amp", "torch.cpu.amp: the older spellings of mytorch.amp for the CPU.")

    class autocast(autocast_mode.autocast):
        def __init__(self, enabled=True, dtype=None, cache_enabled=True):
            from . import _dtype

            warnings.warn("`mytorch.cpu.amp.autocast(args...)` is deprecated. Please use "
                          "`mytorch.amp.autocast('cpu', args...)` instead.", FutureWarning, stacklevel=2)
            super().__init__("cpu", dtype=_dtype.bfloat16 if dtype is None else dtype, enabled=enabled,
                             cache_enabled=cache_enabled)

    class GradScaler(grad_scaler.GradScaler):
        def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                     enabled=True):
            warnings.warn("`mytorch.cpu.amp.GradScaler(args...)` is deprecated. Please use "
                          "`mytorch.amp.GradScaler('cpu', args...)` instead.", FutureWarning, stacklevel=2)
            super().__init__("cpu", init_scale, growth_factor, backoff_factor, growth_interval, enabled)

    module.autocast, module.GradScaler = autocast, GradScaler
    module.__all__ = ["autocast", "GradScaler"]
    sys.modules[module.__name__] = module
    return module


amp = _amp_module()
