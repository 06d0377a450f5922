"""Tensors in shared memory, and how they travel to other processes.

`Tensor.share_memory_()` moves a CPU tensor's array into a POSIX shared memory segment
(multiprocessing.shared_memory). A forked child maps the same pages; a spawned one, or any process a
tensor reaches through a multiprocessing Queue / Pipe / Process argument, gets it by the segment's name
(the ForkingPickler reductions below): every process then reads and writes the same numbers, as
Hogwild training needs. Pickling anywhere else (files, torch.save) still copies the values.

The process that made a segment removes its name when it exits; the pages live on while any process
has them mapped.
"""
import atexit
import mmap
import multiprocessing.reduction
import os
from multiprocessing import shared_memory

import numpy as np

__all__ = ["share_array", "segment_of", "init_reductions"]

# name -> (buffer, address of its first byte, the SharedMemory if this process (pid) made it, that pid)
_segments = {}


def _address(a):
    return a.__array_interface__["data"][0]


def share_array(a):
    """A C-contiguous copy of numpy array a in a new shared memory segment."""
    shm = shared_memory.SharedMemory(create=True, size=max(a.nbytes, 1))
    out = np.ndarray(a.shape, a.dtype, buffer=shm.buf)
    out[...] = a
    _segments[shm.name] = (shm.buf, _address(np.frombuffer(shm.buf, np.uint8)), shm, os.getpid())
    return out


def segment_of(a):
    """(segment name, byte offset of a's first element) when numpy array a lies in a shared segment."""
    if type(a) is not np.ndarray:
        return None
    start = _address(a)
    for name, (buf, base, _, _) in _segments.items():
        if base <= start < base + len(buf):
            return name, start - base
    return None


def _attach(name):
    """The buffer of segment `name`, mapped once per process. Mapped directly rather than through
    SharedMemory(name), which would hand the name to this process's resource tracker too (shared with its
    parent's: the name would be dropped twice)."""
    if name not in _segments:
        try:
            import _posixshmem
        except ImportError:  # Windows: no resource tracker
            shm = shared_memory.SharedMemory(name=name)
            buf = shm.buf
        else:
            fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0o600)
            try:
                buf = memoryview(mmap.mmap(fd, os.fstat(fd).st_size))
            finally:
                os.close(fd)
            shm = None
        _segments[name] = (buf, _address(np.frombuffer(buf, np.uint8)), shm, None)
    return _segments[name][0]


def _array_in(name, offset, shape, strides, dtype):
    return np.ndarray(shape, np.dtype(dtype), buffer=_attach(name), offset=offset, strides=strides)


def _rebuild_tensor(cls, name, offset, shape, strides, dtype, requires_grad):
    from ..tensor import Tensor

    data = _array_in(name, offset, shape, strides, dtype)
    t = Tensor._make(data)
    if cls is not Tensor:
        from ..nn.parameter import Parameter

        if issubclass(cls, Parameter):
            return cls(t, requires_grad)
    t.requires_grad_(requires_grad)
    return t


def _reduce_tensor(t):
    where = segment_of(t._data)
    if where is None:
        return t.__reduce_ex__(2)
    a = t._data
    return (_rebuild_tensor, (type(t), where[0], where[1], a.shape, a.strides, a.dtype.str, t._requires_grad))


def init_reductions():
    """Send shared tensors between processes by segment name (multiprocessing's pickler only)."""
    from ..nn.parameter import Parameter
    from ..tensor import Tensor

    for cls in (Tensor, Parameter):
        multiprocessing.reduction.ForkingPickler.register(cls, _reduce_tensor)


@atexit.register
def _release():
    """Remove the names of the segments this process made (not those a forked parent made)."""
    for _, _, shm, creator in _segments.values():
        if creator == os.getpid():
            try:
                shm.unlink()
            except FileNotFoundError:
                pass
