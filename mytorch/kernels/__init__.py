"""Triton fused kernels, array level: each module holds one fused op (kernels + launcher + numpy reference).

Launchers take and return raw arrays (numpy on CPU under `TRITON_INTERPRET=1`, cupy on CUDA) and never
touch Tensors or autograd; the nn Functions call them when `mytorch.backends.fused.enabled` is on.

Import kernel modules lazily (`from mytorch.kernels import softmax` inside the op): `triton.jit` decides
between the CPU interpreter and the GPU compiler when the module is imported, from TRITON_INTERPRET.
"""
import collections
import contextlib
import functools
import os

import numpy as np

# name -> number of kernel launches; tests read it to prove a kernel really ran.
launch_counts = collections.Counter()


def interpreting():
    return os.environ.get("TRITON_INTERPRET") == "1"


_triton_importable = None


def triton_importable():
    global _triton_importable
    if _triton_importable is None:
        try:
            import triton  # noqa: F401
            _triton_importable = True
        except Exception:
            _triton_importable = False
    return _triton_importable


_gpu_ready = None


def gpu_ready():
    """True when Triton can launch on a GPU: cupy sees one AND torch has CUDA (Triton's CUDA driver, and so
    its launcher, is active only under `torch.cuda.is_available()`; with a CPU-only torch it has 0 drivers)."""
    global _gpu_ready
    if _gpu_ready is None:
        from .._array import cupy_module

        try:
            import torch

            _gpu_ready = cupy_module() is not None and torch.cuda.is_available()
        except Exception:
            _gpu_ready = False
    return _gpu_ready


def is_available():
    """True when Triton is importable and can run: a CUDA GPU (cupy and a CUDA torch) or the CPU interpreter."""
    if not triton_importable():
        return False
    return interpreting() or gpu_ready()


def debug_checks():
    """MYTORCH_KERNEL_CHECKS=1: launchers also make the checks that need a device->host sync on a GPU (index
    and target ranges), PyTorch's device-side asserts; off by default, they would stall every call."""
    return os.environ.get("MYTORCH_KERNEL_CHECKS") == "1"


def count(name, n=1):
    launch_counts[name] += n


def next_pow2(n):
    return 1 << max(int(n) - 1, 0).bit_length()


def row_warps(block):
    """Warps for a one-row-per-program kernel over BLOCK columns: ~256 columns a warp, 4..16 warps
    (4 warps at 4096 fp32 columns spill in the layer-norm backward)."""
    return min(16, max(4, block // 256))


def xp_of(arr):
    return np if isinstance(arr, np.ndarray) else __import__("cupy")


class _DevicePointer:
    """What Triton needs of a GPU argument: `data_ptr()` and a torch `dtype` (used when torch has no CUDA)."""

    __slots__ = ("arr", "dtype")

    def __init__(self, arr, dtype):
        self.arr, self.dtype = arr, dtype  # keep `arr` alive while the kernel runs

    def data_ptr(self):
        return self.arr.data.ptr


_TORCH_DTYPES = {}
_modules = {}


def _module(name):
    """An imported module, cached: launchers run per op call, and even a repeated `import` costs a lookup."""
    module = _modules.get(name)
    if module is None:
        module = _modules[name] = __import__(name)
    return module


def _torch_dtype(np_dtype):
    torch_dtype = _TORCH_DTYPES.get(np_dtype)
    if torch_dtype is None:
        torch_dtype = _TORCH_DTYPES[np_dtype] = getattr(_module("torch"), np.dtype(np_dtype).name)
    return torch_dtype


def to_triton(arr):
    """Zero-copy view of a numpy/cupy array that Triton accepts as a pointer argument.

    numpy -> a torch CPU tensor (the interpreter reads it); cupy -> a bare pointer with a torch dtype (the
    compiled launcher needs only `data_ptr()` and `dtype`: no DLPack round trip per argument)."""
    if isinstance(arr, np.ndarray):
        if arr.dtype == np.bool_:
            arr = arr.view(np.uint8)  # triton loads bytes; bool pointers are awkward
        return _module("torch").from_numpy(arr)
    if arr.dtype == "bool":
        arr = arr.view("uint8")
    return _DevicePointer(arr, _torch_dtype(arr.dtype))


def _launch_context(arr):
    """What makes Triton launch where GPU array `arr` lives, or None when it already does: Triton launches
    on torch's current device and stream, while mytorch switches devices and streams in cupy."""
    torch, cupy = _module("torch"), _module("cupy")
    stream = cupy.cuda.get_current_stream().ptr
    device = arr.device.id
    if stream == 0 and device == torch.cuda.current_device():  # cupy's legacy default stream: torch's too
        return None
    stack = contextlib.ExitStack()
    stack.enter_context(torch.cuda.device(device))
    if stream != 0:
        stack.enter_context(torch.cuda.stream(torch.cuda.ExternalStream(stream)))
    return stack


@contextlib.contextmanager
def on_device(arr):
    """Launch where `arr` lives (see _launch_context). A no-op for numpy arrays (the interpreter)."""
    context = None if isinstance(arr, np.ndarray) else _launch_context(arr)
    if context is None:
        yield
    else:
        with context:
            yield


def launcher(fn):
    """Decorator for a launcher whose first array argument (or first array in a leading list of arrays)
    decides the device (see _launch_context)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for first in args:
            if isinstance(first, (list, tuple)) and first:
                first = first[0]
            if isinstance(first, np.ndarray):
                return fn(*args, **kwargs)
            if hasattr(first, "dtype") and hasattr(first, "shape"):
                context = _launch_context(first)
                if context is None:
                    return fn(*args, **kwargs)
                with context:
                    return fn(*args, **kwargs)
        return fn(*args, **kwargs)
    return wrapper


def dot_precision(dtype, allow_tf32, exact="tf32x3"):
    """input_precision of tl.dot for float32 inputs: "tf32" only where TF32 is allowed (NVIDIA's default for
    fp32 tl.dot is TF32, 10-bit mantissas, which the interpreter never shows); otherwise `exact`:
    "tf32x3" (three TF32 products, about fp32 accuracy, on tensor cores) or "ieee" (FMA loops: exact but a
    large tile spills registers heavily). fp16/bf16 products are exact in the fp32 accumulator anyway."""
    return "tf32" if allow_tf32 or np.dtype(dtype) != np.float32 else exact


def dot_block(block, name="block"):
    """A tl.dot tile side: a power of two >= 16 (the NVIDIA backend needs M, N, K >= 16)."""
    block = int(block)
    if block < 1:
        raise ValueError(f"{name} must be a positive power of two, got {block}")
    return max(16, next_pow2(block))


def from_triton(t):
    """Back to the array library: torch CPU tensor -> numpy (shared memory), CUDA tensor -> cupy (DLPack)."""
    if isinstance(t, _DevicePointer):
        return t.arr
    if t.device.type == "cpu":
        return t.numpy()
    import cupy

    return cupy.from_dlpack(t)


def elem_strides(arr):
    """Strides in elements (Triton pointer arithmetic counts elements, numpy strides count bytes)."""
    return tuple(s // arr.itemsize for s in arr.strides)


def as_rows(x):
    """(..., N) -> (M, N) with unit column stride; a copy only when the last axis is strided."""
    xp = xp_of(x)
    x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
    if x2.shape[-1] > 1 and x2.strides[-1] != x2.itemsize:
        x2 = xp.ascontiguousarray(x2)
    return x2


def check_float(name, *arrays):
    for a in arrays:
        if a is not None and np.dtype(a.dtype) not in (np.float16, np.float32):
            raise TypeError(f"{name}: fused kernel expects float16 or float32 arrays, got {a.dtype}")
