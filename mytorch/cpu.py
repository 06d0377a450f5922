"""torch.cpu: the CPU as a device module, with CUDA's names (streams and events are no-ops: CPU ops run in
order, synchronously) and the older `torch.cpu.amp` spellings of mytorch.amp."""
import contextlib
import sys
import types

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
    from . import _dtype
    from .amp.legacy import _spellings

    module = types.ModuleType(f"{__name__}.amp", "torch.cpu.amp: the older spellings of mytorch.amp for the CPU.")
    module.autocast, module.GradScaler = _spellings("cpu", _dtype.bfloat16)
    module.__all__ = ["autocast", "GradScaler"]
    sys.modules[module.__name__] = module
    return module


amp = _amp_module()
