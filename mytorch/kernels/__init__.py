"""Triton fused kernels, array level: each module holds one fused op (kernels + launcher + numpy reference).

Launchers take and return raw arrays (numpy on CPU under `TRITON_INTERPRET=1`, cupy on CUDA) and never
touch Tensors or autograd; the nn Functions call them when `mytorch.backends.fused.enabled` is on.

Import kernel modules lazily (`from mytorch.kernels import softmax` inside the op): `triton.jit` decides
between the CPU interpreter and the GPU compiler when the module is imported, from TRITON_INTERPRET.
"""
import collections
import os

import numpy as np

# name -> number of kernel launches; tests read it to prove a kernel really ran.
launch_counts = collections.Counter()


def interpreting():
    return os.environ.get("TRITON_INTERPRET") == "1"


def triton_importable():
    try:
        import triton  # noqa: F401
    except Exception:
        return False
    return True


def is_available():
    """True when Triton is importable and can run: a CUDA GPU (cupy) or the CPU interpreter."""
    if not triton_importable():
        return False
    if interpreting():
        return True
    from .._array import cupy_module

    return cupy_module() is not None


def count(name, n=1):
    launch_counts[name] += n


def next_pow2(n):
    return 1 << max(int(n) - 1, 0).bit_length()


def xp_of(arr):
    return np if isinstance(arr, np.ndarray) else __import__("cupy")


class _DevicePointer:
    """What Triton needs of a GPU argument: `data_ptr()` and a torch `dtype` (used when torch has no CUDA)."""

    __slots__ = ("arr", "dtype")

    def __init__(self, arr, dtype):
        self.arr, self.dtype = arr, dtype  # keep `arr` alive while the kernel runs

    def data_ptr(self):
        return self.arr.data.ptr


def to_triton(arr):
    """Zero-copy view of a numpy/cupy array that Triton accepts as a pointer argument."""
    import torch

    if isinstance(arr, np.ndarray):
        if arr.dtype == np.bool_:
            arr = arr.view(np.uint8)  # triton loads bytes; bool pointers are awkward
        return torch.from_numpy(arr)
    if arr.dtype == "bool":
        arr = arr.view("uint8")
    if torch.cuda.is_available():
        return torch.from_dlpack(arr)
    torch_dtype = getattr(torch, np.dtype(arr.dtype).name)
    return _DevicePointer(arr, torch_dtype)


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
