"""TokenDataset: fixed-length (input, target) windows over a flat token file (prepare_data's train.bin)."""
import os

import numpy as np

from ..._array import CPU
from ...random import rng_for
from ...ops.factory import from_numpy
from .dataset import Dataset


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} should be a positive integer, but got {name}={value!r}")
    return int(value)


class TokenDataset(Dataset):
    """Window i covers tokens [i * stride, i * stride + context_length + 1): `ds[i] = (x, y)`, int64
    tensors of length context_length with y = x shifted by one token. `len(ds)` counts the full windows.

    The file is a raw array of `dtype` (uint16 from prepare_data/) opened as a read-only np.memmap on
    first access, in each process: DataLoader workers and DDP ranks map the same pages instead of
    pickling the data, and nothing is read into memory until a window is asked for."""

    def __init__(self, path, context_length, stride=1, dtype=np.uint16):
        self.path = os.fspath(path)
        self.context_length = _positive_int("context_length", context_length)
        self.stride = _positive_int("stride", stride)
        self.dtype = np.dtype(dtype)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"token file {self.path!r} does not exist (make it with prepare_data/, "
                                    f"e.g. python prepare_data/prepare_shakespeare.py --path_to_save DIR)")
        size = os.path.getsize(self.path)
        if size % self.dtype.itemsize:
            raise ValueError(f"token file {self.path!r} has {size} bytes, not a multiple of {self.dtype} "
                             f"({self.dtype.itemsize} bytes per token); wrong dtype?")
        self.num_tokens = size // self.dtype.itemsize
        if self.num_tokens < self.context_length + 1:
            raise ValueError(f"token file {self.path!r} holds {self.num_tokens} tokens, fewer than the "
                             f"context_length + 1 = {self.context_length + 1} one window needs")
        self._data = None

    @property
    def data(self):
        if self._data is None:
            self._data = np.memmap(self.path, dtype=self.dtype, mode="r")
        return self._data

    def __getstate__(self):  # a worker process (spawn) reopens the memmap itself
        state = self.__dict__.copy()
        state["_data"] = None
        return state

    def __len__(self):
        return (self.num_tokens - self.context_length - 1) // self.stride + 1

    def __getitem__(self, index):
        n = len(self)
        index = int(index)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a TokenDataset of {n} windows")
        start = (index % n) * self.stride
        chunk = self.data[start:start + self.context_length + 1].astype(np.int64)
        return from_numpy(chunk[:-1]), from_numpy(chunk[1:].copy())  # y its own memory: x, y never alias

    def random_batch(self, batch_size, generator=None):
        """(x, y) of shape (batch_size, context_length) from windows drawn uniformly with replacement:
        nanoGPT's get_batch, without a DataLoader. `generator` is a mytorch.Generator (CPU)."""
        batch_size = _positive_int("batch_size", batch_size)
        starts = rng_for(CPU, generator).integers(0, len(self), size=batch_size) * self.stride
        offsets = np.arange(self.context_length + 1)
        chunk = self.data[starts[:, None] + offsets].astype(np.int64)
        return from_numpy(np.ascontiguousarray(chunk[:, :-1])), from_numpy(np.ascontiguousarray(chunk[:, 1:]))

    def __repr__(self):
        return (f"TokenDataset({self.path!r}, context_length={self.context_length}, stride={self.stride}, "
                f"num_tokens={self.num_tokens}, windows={len(self)})")
