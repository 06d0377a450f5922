"""mytorch.accelerator: the device-agnostic accelerator API of PyTorch (2.6+). mytorch's only accelerator
is CUDA (through cupy); on a machine without one, `is_available()` is False and
`current_accelerator()` is None, so `device = acc if acc is not None else "cpu"` code picks the CPU."""
from . import cuda as _cuda
from ._array import device as _device


def is_available():
    return _cuda.is_available()


def device_count():
    return _cuda.device_count()


def current_accelerator(check_available=False):
    """device("cuda") when mytorch can reach a GPU, else None (PyTorch's answer on a CPU-only build)."""
    return _device("cuda") if _cuda.is_available() else None


def _require():
    if not _cuda.is_available():
        raise RuntimeError("no accelerator is available: mytorch uses CUDA through cupy, which sees no GPU here")


def current_device_index():
    _require()
    return _cuda.current_device()


current_device_idx = current_device_index


def set_device_index(device):
    _require()
    _cuda.set_device(device)


set_device_idx = set_device_index


def synchronize(device=None):
    _require()
    _cuda.synchronize(device)
