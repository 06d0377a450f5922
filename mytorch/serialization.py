"""Saving and loading tensors without pickle: nothing in a file can run code on load.

`load` also reads PyTorch's torch.save files, through an unpickler that can only rebuild tensors and plain
containers (mytorch/_torch_format.py): torch.load(weights_only=True)'s rule, always.

`save`/`load` (the torch.save/torch.load API) write one file:
    b"MYTORCH\\x00" | u64 little-endian header length | JSON header | tensor bytes (64-byte aligned)
The JSON header holds the object tree with tagged nodes ({"T": "dict", ...}, {"T": "tensor", "i": 3})
and, per tensor, its dtype, shape, byte range, device and requires_grad. Only plain containers
(dict, OrderedDict, list, tuple), tensors, numbers, strings, bytes, bools, None, dtypes and devices
are allowed.

`save_file`/`load_file` implement the safetensors format (u64 header length | JSON header | bytes),
readable by `safetensors.torch.load_file` and vice versa.
"""
import base64
import collections
import io
import json
import math
import os
import stat
import struct
import uuid
import zlib

import numpy as np

from . import _dtype
from ._array import CPU, device as _device_cls, move_array, to_device
from .tensor import Tensor

MAGIC = b"MYTORCH\x00"
FORMAT_VERSION = 1
_ALIGN = 64
_MAX_HEADER = 1 << 30  # refuse absurd header sizes before allocating them


# atomic file writing ---------------------------------------------------------------------------
def _is_path(f):
    return isinstance(f, (str, bytes, os.PathLike))


def _tmp_prefix(name):
    return f".{name}."


def _remove_stale_temps(folder, name):
    """Delete temp files that writers of `name` left behind when they were killed mid-save. A temp
    file is named `.{name}.{pid}.{random}.tmp`: one whose pid no longer runs is an orphan."""
    prefix = _tmp_prefix(name)
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(".tmp")):
            continue
        pid = entry[len(prefix):-len(".tmp")].split(".")[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            try:
                os.remove(os.path.join(folder, entry))
            except OSError:
                pass


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def _write_atomic(path, write):
    """Run write(file) on a temp file in the target's folder, then os.replace it into place: readers
    see the old file or the complete new one, never a partial write.

    What is at `path` already decides how it is replaced, like open(path, "wb") would treat it: a
    symlink is followed and its target written; the new file keeps an existing file's permission
    bits (a new file gets 0o666 & ~umask); a file with several hard links, a FIFO or a device node is
    written in place (a rename would detach the link or replace the node); a directory is refused.
    Temp files orphaned by writers that were killed (e.g. `kill -9` during a save) are removed by the
    next save to the same path."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    path = os.path.realpath(path)  # write through symlinks (a dangling one creates its target)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"cannot save to {path!r}: it is a directory")
    if st is not None and (not stat.S_ISREG(st.st_mode) or st.st_nlink > 1):
        with open(path, "wb") as fh:
            write(fh)
            fh.flush()
            if stat.S_ISREG(st.st_mode):
                os.fsync(fh.fileno())
        return
    folder, name = os.path.split(path)
    _remove_stale_temps(folder, name)
    tmp = os.path.join(folder, f"{_tmp_prefix(name)}{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 & ~umask, like open()
    try:
        if st is not None:
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                os.fchown(fd, st.st_uid, st.st_gid)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


def _name_of(f):
    if _is_path(f):
        return os.fsdecode(os.fspath(f))
    return getattr(f, "name", None) or f"<{type(f).__name__}>"


def _raw_array(t):
    """Contiguous little-endian host array of a tensor's data."""
    arr = t._data if type(t._data) is np.ndarray else move_array(t._data, CPU)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return arr if arr.flags.c_contiguous else arr.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)


def _write_chunks(fh, arrays, offsets, data_start):
    """Write each array's bytes at its offset (zero padding in between), without extra copies."""
    pos = data_start
    for arr, (begin, end) in zip(arrays, offsets):
        if begin + data_start > pos:
            fh.write(b"\x00" * (begin + data_start - pos))
        if arr.nbytes:
            fh.write(memoryview(arr.reshape(-1).view(np.uint8)))
        pos = data_start + end


_CHUNK = 1 << 24  # reads of unknown-size streams grow 16 MiB at a time, never by what a header claims


def _remaining(fh):
    """Bytes between the current position and the end of `fh`, or None for a stream that can't seek."""
    try:
        if not fh.seekable():
            return None
        pos = fh.tell()
        end = fh.seek(0, os.SEEK_END)
        fh.seek(pos)
        return end - pos
    except (AttributeError, OSError, ValueError):
        return None


def _truncated(name, expected, got):
    return RuntimeError(f"{name}: file is truncated (expected {expected} more bytes, got {got})")


def _read_exact(fh, n, name):
    chunks, got = [], 0
    while got < n:
        data = fh.read(min(n - got, _CHUNK))
        if not data:
            raise _truncated(name, n, got)
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def _read_into(fh, n, name, sized):
    """A writable buffer of the next n bytes. `sized`: the caller checked that the file holds them,
    so the buffer can be allocated up front and filled in place."""
    if not sized or not hasattr(fh, "readinto"):
        return bytearray(_read_exact(fh, n, name))
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:  # raw streams may return short reads
        more = fh.readinto(view[got:])
        if not more:
            raise RuntimeError(f"{name}: file is truncated (expected {n} bytes of tensor data, got {got})")
        got += more
    return buf


def _crc32(arr):
    return zlib.crc32(memoryview(arr.reshape(-1).view(np.uint8))) if arr.nbytes else 0


# mytorch.save / mytorch.load -------------------------------------------------------------------
class _Encoder:
    """Turns an object tree into JSON-able tagged nodes and collects its tensors. The same tensor
    object seen twice is stored once and comes back as one object; different tensors that share
    storage (views) are stored as separate copies (no storage sharing across save/load)."""

    def __init__(self):
        self.tensors, self.specs, self._seen = [], [], {}
        self._keepalive = []  # the encoded tensors stay alive, so their ids stay unique

    def encode(self, obj):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, Tensor):
            return {"T": "tensor", "i": self._tensor(obj)}
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"T": "float", "v": repr(float(obj))}
        if isinstance(obj, np.generic):
            return self.encode(obj.item())
        if isinstance(obj, np.ndarray):
            return {"T": "ndarray", "i": self._tensor(Tensor._make(obj))}
        if isinstance(obj, bytes):
            return {"T": "bytes", "v": base64.b64encode(obj).decode("ascii")}
        if isinstance(obj, _dtype.dtype):
            return {"T": "dtype", "v": obj.name}
        if isinstance(obj, _device_cls):
            return {"T": "device", "v": str(obj)}
        if type(obj) in (dict, collections.OrderedDict, collections.defaultdict):
            tag = "odict" if isinstance(obj, collections.OrderedDict) else "dict"
            return {"T": tag, "k": [self.encode(k) for k in obj.keys()], "v": [self.encode(v) for v in obj.values()]}
        if type(obj) is list:
            return {"T": "list", "v": [self.encode(v) for v in obj]}
        if type(obj) is tuple:
            return {"T": "tuple", "v": [self.encode(v) for v in obj]}
        if type(obj) in (set, frozenset):
            return {"T": type(obj).__name__, "v": [self.encode(v) for v in obj]}
        if hasattr(obj, "state_dict") and callable(obj.state_dict):
            kind = "module" if hasattr(obj, "parameters") else "object"
            raise TypeError(f"mytorch.save cannot store a whole {kind} ({type(obj).__qualname__}): mytorch never pickles "
                            f"code. Save its state instead, mytorch.save(obj.state_dict(), path), and rebuild it "
                            f"with obj.load_state_dict(mytorch.load(path)).")
        raise TypeError(f"mytorch.save cannot store objects of type {type(obj).__module__}.{type(obj).__qualname__}: "
                        f"only tensors, numbers, strings, bytes, bools, None, dtypes, devices and "
                        f"dict/OrderedDict/list/tuple/set containers of them (no pickle)")

    def _tensor(self, t):
        key = id(t)
        if key in self._seen:
            return self._seen[key]
        arr = _raw_array(t)
        self._seen[key] = idx = len(self.tensors)
        self.tensors.append(arr)
        self.specs.append({"dtype": t.dtype.name, "shape": list(arr.shape), "device": str(t.device),
                           "requires_grad": bool(t.requires_grad),
                           "parameter": type(t).__name__ == "Parameter"})
        self._keepalive.append(t)
        return idx


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Save tensors / state dicts / nested containers to a path (written atomically) or a binary file object."""
    enc = _Encoder()
    root = enc.encode(obj)
    offsets, pos = [], 0
    for arr in enc.tensors:
        pos = -(-pos // _ALIGN) * _ALIGN
        offsets.append((pos, pos + arr.nbytes))
        pos += arr.nbytes
    for spec, off, arr in zip(enc.specs, offsets, enc.tensors):
        spec["offsets"] = list(off)
        spec["crc32"] = _crc32(arr)  # verified on load: flipped bits are caught, not silently loaded
    header = json.dumps({"format": "mytorch", "version": FORMAT_VERSION, "root": root, "tensors": enc.specs},
                        separators=(",", ":"), allow_nan=False).encode()
    header += b" " * (-(len(MAGIC) + 8 + len(header)) % _ALIGN)  # align the data section
    data_start = len(MAGIC) + 8 + len(header)

    def write(fh):
        fh.write(MAGIC + struct.pack("<Q", len(header)) + header)
        _write_chunks(fh, enc.tensors, offsets, data_start)

    if _is_path(f):
        _write_atomic(f, write)
    else:
        write(f)


class _Decoder:
    def __init__(self, tensors, name):
        self.tensors, self.name = tensors, name

    def decode(self, node):
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if not isinstance(node, dict) or not isinstance(node.get("T"), str):
            raise RuntimeError(f"{self.name}: corrupt mytorch checkpoint (unexpected node {str(node)[:80]})")
        tag = node["T"]
        try:
            if tag in ("tensor", "ndarray"):
                i = node["i"]
                if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(self.tensors):
                    raise IndexError(f"tensor index {i!r} out of range for {len(self.tensors)} tensors")
                t = self.tensors[i]
                return t if tag == "tensor" else t.numpy(force=True)
            if tag in ("dict", "odict"):
                if len(node["k"]) != len(node["v"]):
                    raise ValueError(f"dict node has {len(node['k'])} keys but {len(node['v'])} values")
                items = zip((self.decode(k) for k in node["k"]), (self.decode(v) for v in node["v"]))
                return collections.OrderedDict(items) if tag == "odict" else dict(items)
            if tag in ("list", "tuple", "set", "frozenset"):
                values = [self.decode(v) for v in node["v"]]
                return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](values)
            if tag == "float":
                return float(node["v"]) if node["v"] in ("inf", "-inf", "nan") else _bad(self.name, node)
            if tag == "bytes":
                return base64.b64decode(node["v"].encode("ascii"), validate=True)
            if tag == "dtype":
                return _dtype.to_dtype(node["v"])
            if tag == "device":
                return _device_cls(node["v"])
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise RuntimeError(f"{self.name}: corrupt mytorch checkpoint ({type(e).__name__}: {e})") from None
        raise RuntimeError(f"{self.name}: corrupt mytorch checkpoint (unknown node type {tag!r})")


def _bad(name, node):
    raise RuntimeError(f"{name}: corrupt mytorch checkpoint (bad node {str(node)[:80]})")


def _check_shape(shape, name):
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                              for s in shape):
        raise RuntimeError(f"{name}: corrupt header (bad tensor shape {shape!r})")
    return tuple(shape)


def _target_device(saved, map_location):
    """Where a tensor saved on `saved` goes under torch.load's map_location rules."""
    if map_location is None:
        return saved
    if isinstance(map_location, dict):
        return map_location.get(saved, saved)
    return str(map_location)


def _place(t, saved, map_location):
    if callable(map_location) and not isinstance(map_location, (str, _device_cls, dict)):
        out = map_location(t, saved)
        return t if out is None else out
    target = _device_cls(_target_device(saved, map_location))
    if target.type == "cuda" and map_location is None and not _cuda_available():
        raise RuntimeError("Attempting to deserialize object on a CUDA device but mytorch.cuda.is_available() is "
                           "False. If you are running on a CPU-only machine, please use mytorch.load with "
                           "map_location=mytorch.device('cpu') to map your storages to the CPU.")
    dev = to_device(target) if target.type == "cuda" else CPU
    return t if dev == CPU else t.to(dev)


def _cuda_available():
    from . import cuda

    return cuda.is_available()


def _open_read(f):
    if _is_path(f):
        return open(f, "rb"), True
    return f, False


def _check_magic(start, name):
    if start == MAGIC:
        return
    hint = ""
    if len(start) == 8 and 0 < struct.unpack("<Q", start)[0] < _MAX_HEADER:
        hint = " It may be a safetensors file: use mytorch.load_file."
    raise RuntimeError(f"{name} is not a mytorch checkpoint (bad magic bytes {start[:8]!r}).{hint}")


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    """Load what `save` wrote, or a torch.save file. Never executes code: mytorch's file is JSON plus raw bytes,
    and a PyTorch checkpoint is read by an unpickler that only rebuilds tensors and plain containers
    (mytorch/_torch_format.py), so weights_only is always effectively True. mmap=True (paths only, mytorch's
    format) maps tensor bytes copy-on-write from the file."""
    name = _name_of(f)
    fh, owned = _open_read(f)
    try:
        start = fh.read(len(MAGIC))
        if start != MAGIC:
            from . import _torch_format

            if _torch_format.looks_like(start):  # a torch.save file: read without running its code
                return _torch_format.load(fh, start, map_location, name)
        _check_magic(start, name)
        (n,) = struct.unpack("<Q", _read_exact(fh, 8, name))
        available = _remaining(fh)
        if n > _MAX_HEADER:
            raise RuntimeError(f"{name}: corrupt header (length {n} is too large)")
        if available is not None and n > available:
            raise RuntimeError(f"{name}: file is truncated or its header is corrupt (header length {n}, but only "
                               f"{available if available is not None else _MAX_HEADER} bytes follow)")
        try:
            header = json.loads(_read_exact(fh, n, name))
            specs, root = header["tensors"], header["root"]
            if header.get("format") != "mytorch" or not isinstance(specs, list):
                raise ValueError("not a mytorch header")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as e:
            raise RuntimeError(f"{name}: corrupt mytorch checkpoint header ({e})") from None
        version = header.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise RuntimeError(f"{name}: corrupt mytorch checkpoint header (bad format version {version!r})")
        if version > FORMAT_VERSION:
            raise RuntimeError(f"{name}: written by a newer mytorch (format version {version})")
        data_start = len(MAGIC) + 8 + n
        size = None if available is None else data_start + available - n
        arrays = _read_tensors(fh, specs, data_start, name, f if (mmap and owned) else None, size)
    finally:
        if owned:
            fh.close()
    tensors = []
    for spec, arr in zip(specs, arrays):
        t = _place(Tensor._make(arr), spec.get("device", "cpu"), map_location)
        if spec.get("parameter"):
            t = _as_parameter(t, spec.get("requires_grad", True))
        elif spec.get("requires_grad") and t.is_floating_point():
            t.requires_grad_(True)
        tensors.append(t)
    try:
        return _Decoder(tensors, name).decode(root)
    except RecursionError:
        raise RuntimeError(f"{name}: corrupt mytorch checkpoint (structure nested too deeply)") from None


def _as_parameter(t, requires_grad):
    from .nn import parameter

    cls = parameter.Parameter
    if isinstance(cls, type) and issubclass(cls, Tensor):
        return cls(t, requires_grad=requires_grad)
    return t.requires_grad_(requires_grad) if t.is_floating_point() else t


def _spec_dtype(code, name, what):
    if code == "bfloat16" and not _dtype._HAS_BF16:
        raise TypeError(f"{name}: {what} is bfloat16, which needs the ml_dtypes package (pip install ml_dtypes)")
    try:
        return _dtype.to_dtype(code)
    except TypeError:
        raise RuntimeError(f"{name}: corrupt header ({what} has unknown dtype {code!r})") from None


def _read_tensors(fh, specs, data_start, name, mmap_path, file_size=None):
    """One writable array per tensor spec, validated against the header and, where the file's size is
    known (`file_size`, in bytes from its start), against that size before anything is allocated."""
    layout = []
    for spec in specs:
        try:
            dt = _spec_dtype(spec["dtype"], name, "a tensor")
            shape = _check_shape(spec["shape"], name)
            begin, end = spec["offsets"]
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, TypeError) and "ml_dtypes" in str(e):
                raise
            raise RuntimeError(f"{name}: corrupt header (bad tensor entry {str(spec)[:80]}: {e})") from None
        nbytes = math.prod(shape) * dt.itemsize
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin and end - begin == nbytes):
            raise RuntimeError(f"{name}: corrupt header (tensor of shape {list(shape)} and dtype {dt.name} needs "
                               f"{nbytes} bytes, header says offsets {[begin, end]})")
        crc = spec.get("crc32")
        if crc is not None and (not isinstance(crc, int) or isinstance(crc, bool)):
            raise RuntimeError(f"{name}: corrupt header (bad crc32 {crc!r})")
        layout.append((dt.np, shape, begin, end, crc))
    last = max((e for *_, e, _ in layout), default=0)
    if file_size is not None and data_start + last > file_size:
        raise RuntimeError(f"{name}: file is truncated (the header describes {data_start + last} bytes, "
                           f"the file has {file_size})")
    if mmap_path is not None:
        mapped = np.memmap(mmap_path, dtype=np.uint8, mode="c")
        if layout and data_start + last > mapped.size:
            raise RuntimeError(f"{name}: file is truncated")
        return [np.asarray(mapped[data_start + b:data_start + e]).view(np_dt).reshape(shape)
                for np_dt, shape, b, e, _ in layout]
    out, pos = [None] * len(layout), 0
    for i in sorted(range(len(layout)), key=lambda j: layout[j][2]):  # sequential reads: no seek needed
        np_dt, shape, begin, end, crc = layout[i]
        if begin < pos:
            raise RuntimeError(f"{name}: corrupt header (overlapping tensor data)")
        if begin > pos:
            _read_exact(fh, begin - pos, name)
        arr = np.frombuffer(_read_into(fh, end - begin, name, file_size is not None), dtype=np_dt).reshape(shape)
        if crc is not None and _crc32(arr) != crc:
            raise RuntimeError(f"{name}: tensor {i} (shape {list(shape)}) fails its checksum: the file is "
                               f"corrupted")
        out[i] = arr
        pos = end
    return out


# safetensors -----------------------------------------------------------------------------------
_ST_CODES = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16", "int64": "I64",
             "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL", "complex64": "C64"}
_ST_NAMES = {v: k for k, v in _ST_CODES.items()}
_ST_ORDER = ["I64", "F64", "C64", "F32", "I32", "BF16", "F16", "I16", "I8", "U8", "BOOL"]


def _safetensors_bytes_layout(tensors, metadata):
    if not isinstance(tensors, dict):
        raise TypeError(f"save_file expects a dict of name -> Tensor, got {type(tensors).__name__}")
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in metadata.items()):
            raise ValueError("metadata must be a dict of str -> str")
    for k, v in tensors.items():
        if not isinstance(k, str):
            raise TypeError(f"tensor names must be str, got {type(k).__name__}")
        if not isinstance(v, Tensor):
            raise TypeError(f"Key `{k}` is invalid, expected mytorch.Tensor but received {type(v).__name__}")
    # the safetensors package's order (larger dtypes first keeps every tensor aligned, then by name),
    # so the bytes we write equal the ones it writes
    names = sorted(tensors, key=lambda k: (_ST_ORDER.index(_ST_CODES[tensors[k].dtype.name]), k))
    header = {} if metadata is None else {"__metadata__": metadata}
    arrays, pos = [], 0
    for k in names:
        arr = _raw_array(tensors[k])  # views of shared storage are written as separate copies
        header[k] = {"dtype": _ST_CODES[tensors[k].dtype.name], "shape": list(arr.shape),
                     "data_offsets": [pos, pos + arr.nbytes]}
        arrays.append(arr)
        pos += arr.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    return blob, arrays, [tuple(header[k]["data_offsets"]) for k in names]


def save_file(tensors, filename, metadata=None):
    """Write a dict of tensors in the safetensors format (atomically)."""
    blob, arrays, offsets = _safetensors_bytes_layout(tensors, metadata)

    def write(fh):
        fh.write(struct.pack("<Q", len(blob)) + blob)
        _write_chunks(fh, arrays, offsets, 8 + len(blob))

    _write_atomic(filename, write)


def save_bytes(tensors, metadata=None):
    """The safetensors encoding of a dict of tensors as bytes (like safetensors.torch.save)."""
    buf = io.BytesIO()
    blob, arrays, offsets = _safetensors_bytes_layout(tensors, metadata)
    buf.write(struct.pack("<Q", len(blob)) + blob)
    _write_chunks(buf, arrays, offsets, 8 + len(blob))
    return buf.getvalue()


def _no_duplicate_keys(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate key {k!r}")
        obj[k] = v
    return obj


def _read_safetensors(fh, name):
    """Parse and validate a safetensors stream as strictly as the safetensors package: offsets must
    tile the data section exactly, with no gaps, overlaps or trailing bytes."""
    raw_n = fh.read(8)
    if len(raw_n) != 8:
        raise RuntimeError(f"{name}: not a safetensors file (shorter than 8 bytes)")
    (n,) = struct.unpack("<Q", raw_n)
    available = _remaining(fh)
    if n > 100_000_000 or (available is not None and n > available):
        raise RuntimeError(f"{name}: not a safetensors file (header length {n} is larger than the file)")
    try:
        header = json.loads(_read_exact(fh, n, name), object_pairs_hook=_no_duplicate_keys)
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise RuntimeError(f"{name}: not a safetensors file (bad JSON header: {e})") from None
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and
                                     all(isinstance(v, str) for v in metadata.values())):
        raise RuntimeError(f"{name}: invalid safetensors __metadata__ (must map strings to strings)")
    specs, expected = [], 0
    entries = []
    for key, info in header.items():
        try:
            code, shape, (begin, end) = info["dtype"], _check_shape(info["shape"], name), info["data_offsets"]
        except (KeyError, TypeError, ValueError) as e:
            raise RuntimeError(f"{name}: bad safetensors entry for {key!r} ({e})") from None
        if code not in _ST_NAMES:
            raise TypeError(f"{name}: tensor {key!r} has dtype {code}, which mytorch does not support "
                            f"(supported: {', '.join(_ST_NAMES)})")
        if not (isinstance(begin, int) and isinstance(end, int)):
            raise RuntimeError(f"{name}: invalid data_offsets {[begin, end]} for tensor {key!r}")
        entries.append((begin, end, key, code, shape))
    entries.sort(key=lambda e: (e[0], e[1]))
    for begin, end, key, code, shape in entries:
        dt = _spec_dtype(_ST_NAMES[code], name, f"tensor {key!r}")
        if begin != expected or end - begin != math.prod(shape) * dt.itemsize:
            raise RuntimeError(f"{name}: invalid data_offsets {[begin, end]} for tensor {key!r}")
        expected = end
        specs.append((key, {"dtype": dt.name, "shape": list(shape), "offsets": [begin, end]}))
    size = None if available is None else 8 + available
    if size is not None and size != 8 + n + expected:
        what = "truncated" if size < 8 + n + expected else f"{size - 8 - n - expected} trailing bytes after the data"
        raise RuntimeError(f"{name}: invalid safetensors file ({what}: the header describes {8 + n + expected} "
                           f"bytes, the file has {size})")
    arrays = _read_tensors(fh, [s for _, s in specs], 8 + n, name, None, size)
    return {k: a for (k, _), a in zip(specs, arrays)}, metadata


def load_file(filename, device="cpu"):
    """Read a safetensors file into a dict of tensors on `device`."""
    name = _name_of(filename)
    with open(filename, "rb") as fh:
        arrays, _ = _read_safetensors(fh, name)
    dev = to_device(device)
    return {k: (Tensor._make(a) if dev == CPU else Tensor._make(a).to(dev)) for k, a in arrays.items()}


def load_bytes(data, device="cpu"):
    """Decode safetensors bytes (like safetensors.torch.load)."""
    arrays, _ = _read_safetensors(io.BytesIO(data), "<bytes>")
    dev = to_device(device)
    return {k: (Tensor._make(a) if dev == CPU else Tensor._make(a).to(dev)) for k, a in arrays.items()}


def load_metadata(filename):
    """The `__metadata__` dict of a safetensors file (None when it has none)."""
    name = _name_of(filename)
    with open(filename, "rb") as fh:
        (n,) = struct.unpack("<Q", _read_exact(fh, 8, name))
        available = _remaining(fh)
        if n > 100_000_000 or (available is not None and n > available):
            raise RuntimeError(f"{name}: not a safetensors file (header length {n} is larger than the file)")
        try:
            header = json.loads(_read_exact(fh, n, name), object_pairs_hook=_no_duplicate_keys)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise RuntimeError(f"{name}: not a safetensors file (bad JSON header: {e})") from None
    return header.get("__metadata__") if isinstance(header, dict) else None


# PyTorch's weights_only allowlist: the extra globals (classes, functions; or (obj, "module.name") pairs) that
# a torch.save file may name, beyond tensors and plain containers (mytorch/_torch_format.py). mytorch's own
# format has nothing to allow.
_safe_globals = []


def _allowed_global(module, name):
    """The object add_safe_globals allowed under `module.name`, or None."""
    wanted = f"{module}.{name}"
    for entry in _safe_globals:
        obj, full = entry if isinstance(entry, tuple) else (entry, None)
        if full is None:
            full = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', getattr(obj, '__name__', ''))}"
        if full == wanted:
            return obj
    return None


def add_safe_globals(safe_globals):
    _safe_globals.extend(safe_globals)


def get_safe_globals():
    return list(_safe_globals)


def clear_safe_globals():
    _safe_globals.clear()


class safe_globals:
    """`with mytorch.serialization.safe_globals([...]):` the globals a torch.save file may name, within the block."""

    def __init__(self, safe_globals):
        self.safe_globals = list(safe_globals)

    def __enter__(self):
        self._before = len(_safe_globals)
        _safe_globals.extend(self.safe_globals)
        return self

    def __exit__(self, *exc):
        del _safe_globals[self._before:]
        return False
