"""Reading PyTorch checkpoints (torch.save files) without running code from them.

torch.save pickles; unpickling can call anything the file names. This reader's unpickler resolves only an
allowlist of container, dtype, device and tensor-rebuild names, each mapped to mytorch's own code, and builds
the tensors from the raw storage bytes: what ``torch.load(weights_only=True)`` does. Both formats: the zip of
torch >= 1.6 (``<name>/data.pkl`` + one file per storage) and the older single stream.
"""
import collections
import io
import os
import pickle
import zipfile

import numpy as np

from . import _dtype, serialization
from ._array import device as _device
from .tensor import Size, Tensor

_STORAGE_DTYPES = {"FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
                   "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
                   "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
                   "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
                   "UntypedStorage": "uint8"}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


class _TensorTypeMark:
    """What ``torch.Tensor`` unpickles to: a type name for _rebuild_from_type_v2, never a constructor (a pickle
    calling it would allocate whatever size the file asks for)."""


_TENSOR_TYPE = _TensorTypeMark()


class _StorageType:
    """What ``torch.FloatStorage`` & co. unpickle to: only the dtype of the bytes."""

    def __init__(self, dtype_name):
        self.dtype = _dtype.to_dtype(dtype_name)


class _Storage:
    """One storage's raw bytes (a uint8 array; None while only the layout is read) and where it lived."""

    def __init__(self, raw, dtype, location):
        self.raw, self.dtype, self.location = raw, dtype, location


def _latin1_bytes(text, encoding="latin1"):
    # protocol-2 pickles write bytes as _codecs.encode(str, "latin1")
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"Weights only load failed: unsupported bytes encoding {encoding!r}")
    return text.encode("latin1")


def _contiguous_strides(size):
    strides, step = [], 1
    for n in reversed(size):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


class _WeightsUnpickler(pickle.Unpickler):
    """Unpickles a PyTorch checkpoint without running code from it: ``find_class`` answers only the
    names below, and tensors are rebuilt by this class from storage bytes that ``load_storage(storage_type,
    key, location, numel[, view_metadata])`` supplies."""

    def __init__(self, file, load_storage, map_location=None, byteorder="little"):
        super().__init__(file, encoding="utf-8")
        self._load_storage, self._map_location, self._byteorder = load_storage, map_location, byteorder
        self._globals = {
            ("collections", "OrderedDict"): collections.OrderedDict, ("collections", "Counter"): collections.Counter,
            ("builtins", "set"): set, ("builtins", "frozenset"): frozenset, ("builtins", "complex"): complex,
            ("builtins", "bytearray"): bytearray, ("builtins", "bytes"): bytes, ("_codecs", "encode"): _latin1_bytes,
            ("torch", "Size"): Size, ("torch", "device"): _device, ("torch", "Tensor"): _TENSOR_TYPE,
            ("torch._utils", "_rebuild_tensor"): self._rebuild_tensor_v1,
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_tensor_v2,
            ("torch._utils", "_rebuild_tensor_v3"): self._rebuild_tensor_v3,
            ("torch._utils", "_rebuild_parameter"): self._rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): self._rebuild_parameter_with_state,
            ("torch._tensor", "_rebuild_from_type_v2"): self._rebuild_from_type_v2,
        }
        for name, dtype_name in _STORAGE_DTYPES.items():
            self._globals[("torch", name)] = _StorageType(dtype_name)
        self._globals[("torch.storage", "UntypedStorage")] = self._globals[("torch", "UntypedStorage")]
        for name, dt in _dtype._NAMES.items():
            self._globals[("torch", name)] = dt

    def find_class(self, module, name):
        if module == "__builtin__":  # protocol-2 pickles use Python 2's name of builtins
            module = "builtins"
        if (module, name) == ("torch.nn.parameter", "Parameter"):
            return _parameter_class()
        try:
            return self._globals[(module, name)]
        except KeyError:
            allowed = serialization._allowed_global(module, name)  # serialization.add_safe_globals
            if allowed is not None:
                return allowed
            raise pickle.UnpicklingError(
                f"Weights only load failed: unsupported global {module}.{name}. mytorch never runs code from a "
                "checkpoint; it loads tensors, containers, numbers, strings, dtypes and devices (and what "
                "mytorch.serialization.add_safe_globals allows).") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"Weights only load failed: unsupported persistent id {str(pid)[:80]}")
        return self._load_storage(*pid[1:])

    def _rebuild(self, storage, offset, size, stride, dtype=None):
        if not isinstance(storage, _Storage) or not isinstance(dtype, (_dtype.dtype, type(None))):
            raise pickle.UnpicklingError("Weights only load failed: a tensor rebuild got a bad storage or dtype")
        if storage.raw is None:  # the layout-only pass of the legacy format
            return None
        np_dtype = (dtype or storage.dtype).np
        if self._byteorder == "big":
            np_dtype = np_dtype.newbyteorder(">")
        size, stride = tuple(size), tuple(stride)
        if not all(isinstance(v, int) and v >= 0 for v in (offset, *size, *stride)) or len(size) != len(stride):
            raise RuntimeError(f"corrupt checkpoint: bad tensor layout (offset {offset}, size {size}, "
                               f"stride {stride})")
        flat = storage.raw[:storage.raw.size - storage.raw.size % np_dtype.itemsize].view(np_dtype)
        numel = int(np.prod(size, dtype=np.int64))
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if numel == 0:
            arr = np.empty(size, dtype=np_dtype)
        elif last >= flat.size:
            raise RuntimeError(f"corrupt checkpoint: a tensor of size {[*size]} reaches element {last} of a "
                               f"storage of {flat.size}")
        elif stride == _contiguous_strides(size):
            arr = flat[offset:offset + numel].reshape(size)  # shares the storage, as torch's tensors do
        else:
            arr = np.lib.stride_tricks.as_strided(flat[offset:], size, [s * np_dtype.itemsize for s in stride],
                                                  writeable=False).copy()
        if self._byteorder == "big":
            arr = arr.astype(np_dtype.newbyteorder("="))
        return serialization._place(Tensor._make(arr), storage.location, self._map_location)

    def _rebuild_tensor_v1(self, storage, storage_offset, size, stride):
        return self._rebuild(storage, storage_offset, size, stride)

    def _rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad, backward_hooks,
                           metadata=None):
        # backward hooks can't survive a load that runs no code; metadata (conj/neg bits) has no mytorch form
        t = self._rebuild(storage, storage_offset, size, stride)
        if t is not None and requires_grad and t.is_floating_point():
            t.requires_grad_(True)
        return t

    def _rebuild_tensor_v3(self, storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                           metadata=None):
        t = self._rebuild(storage, storage_offset, size, stride, dtype)
        if t is not None and requires_grad and t.is_floating_point():
            t.requires_grad_(True)
        return t

    def _rebuild_parameter(self, data, requires_grad, backward_hooks):
        return None if data is None else _parameter_class()(data, requires_grad)

    def _rebuild_parameter_with_state(self, data, requires_grad, backward_hooks, state):
        return self._rebuild_parameter(data, requires_grad, backward_hooks)  # state: Python attributes of subclasses

    def _rebuild_from_type_v2(self, func, new_type, args, state):
        t = func(*args)
        if t is not None and new_type is _parameter_class() and not isinstance(t, new_type):
            t = new_type(t, t.requires_grad)
        return t


def _parameter_class():
    from .nn.parameter import Parameter

    return Parameter


def _load_torch_zip(source, map_location, path):
    """A torch.save file of torch >= 1.6: a zip of ``<name>/data.pkl`` and one ``<name>/data/<key>`` per storage.
    source: a path or a seekable binary file; path: its name in messages."""
    with zipfile.ZipFile(source) as zf:
        names = zf.namelist()
        pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if not pickles:
            raise RuntimeError(f"{path} is a zip file but not a PyTorch checkpoint (it has no data.pkl)")
        prefix = pickles[0][:-len("data.pkl")]
        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = zf.read(prefix + "byteorder").decode("ascii", "replace").strip()
        storages = {}

        def load_storage(storage_type, key, location, numel):
            if key not in storages:
                try:
                    raw = bytearray(zf.read(f"{prefix}data/{key}"))
                except KeyError:
                    raise RuntimeError(f"{path}: corrupt checkpoint (no data for storage {key!r})") from None
                storages[key] = _Storage(np.frombuffer(raw, np.uint8), storage_type.dtype, location)
            return storages[key]

        with zf.open(pickles[0]) as fh:
            return _WeightsUnpickler(fh, load_storage, map_location, byteorder).load()


def _load_torch_legacy(fh, map_location, path):
    """A torch.save file of torch < 1.6 (or ``_use_new_zipfile_serialization=False``): pickles of the
    magic number, protocol, system info, the object, the storage keys; then each storage as an int64
    element count and its bytes. The object comes before the bytes, so it is read twice: once for the
    storages' dtypes, once for real. fh: a seekable binary file at the stream's start; path: its name."""
    here = fh.tell()
    file_size = fh.seek(0, os.SEEK_END)
    fh.seek(here)
    def plain():
        return _WeightsUnpickler(fh, None).load()

    if plain() != _LEGACY_MAGIC:
        raise RuntimeError("Invalid magic number; corrupt file?")
    protocol = plain()
    if protocol != _LEGACY_PROTOCOL:
        raise RuntimeError(f"Invalid protocol version: {protocol}")
    sys_info = plain()
    byteorder = "little" if not isinstance(sys_info, dict) or sys_info.get("little_endian", True) else "big"
    start = fh.tell()
    layout = {}

    def note_storage(storage_type, root_key, location, numel, view_metadata=None):
        layout[root_key] = (storage_type.dtype, location)
        return _Storage(None, storage_type.dtype, location)

    _WeightsUnpickler(fh, note_storage, map_location, byteorder).load()
    roots = {}
    for key in plain():
        if key not in layout:
            raise RuntimeError(f"{path}: corrupt checkpoint (unknown storage {key!r})")
        dt, location = layout[key]
        count = fh.read(8)
        nbytes = int.from_bytes(count, byteorder) * dt.itemsize
        if len(count) != 8 or nbytes > file_size - fh.tell():
            raise RuntimeError(f"{path}: file is truncated (storage {key!r})")
        raw = bytearray(nbytes)
        fh.readinto(raw)
        roots[key] = _Storage(np.frombuffer(raw, np.uint8), dt, location)
    views = {}

    def load_storage(storage_type, root_key, location, numel, view_metadata=None):
        if root_key not in roots:
            raise RuntimeError(f"{path}: corrupt checkpoint (no data for storage {root_key!r})")
        root = roots[root_key]
        if view_metadata is None:
            return root
        view_key, offset, view_size = view_metadata  # a slice of a storage, written by torch < 0.4
        if view_key not in views:
            item = root.dtype.itemsize
            views[view_key] = _Storage(root.raw[offset * item:(offset + view_size) * item], root.dtype, location)
        return views[view_key]

    fh.seek(start)
    return _WeightsUnpickler(fh, load_storage, map_location, byteorder).load()


def looks_like(start):
    """The first bytes of a file are those of a torch.save file: a zip, or a pickle stream (PROTO opcode)."""
    return start.startswith(b"PK\x03\x04") or start[:1] == b"\x80"


def load(fh, start, map_location, name):
    """The object in the torch.save file `fh` (binary, its first bytes `start` already read)."""
    if fh.seekable():
        fh.seek(fh.tell() - len(start))
    else:
        fh = io.BytesIO(start + fh.read())
    try:
        if start.startswith(b"PK\x03\x04"):
            return _load_torch_zip(fh, map_location, name)
        return _load_torch_legacy(fh, map_location, name)
    except pickle.UnpicklingError as e:
        if str(e).startswith("Weights only load failed"):  # refused: the file asks for code to run
            raise
        raise RuntimeError(f"{name} is not a mytorch checkpoint, nor a readable PyTorch one ({e})") from None
    except (MemoryError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            zipfile.BadZipFile) as e:  # a damaged or foreign file: say so, with its name
        raise RuntimeError(f"{name} is not a mytorch checkpoint, nor a readable PyTorch one "
                           f"({type(e).__name__}: {e})") from None
