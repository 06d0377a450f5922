"""default_collate (list of samples -> batch) and default_convert (one sample, no batching),
with PyTorch's rules: tensors and numpy arrays are stacked, Python floats become float64 and
ints int64, strings stay lists, and containers are collated field by field."""
import collections.abc as abc
import copy
import re

import numpy as np

from ...tensor import Tensor

_np_str_obj_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = ("default_collate: batch must contain tensors, numpy arrays, numbers, "
                                  "dicts or lists; found {}")


def _is_numpy(elem):
    t = type(elem)
    return t.__module__ == "numpy" and t.__name__ not in ("str_", "string_", "bytes_")


def _stack(tensors):
    first = tensors[0]
    for i, t in enumerate(tensors):
        if t.shape != first.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(first.shape)} at "
                               f"entry 0 and {list(t.shape)} at entry {i}")
    from ..._array import xp_of

    data = [t._data for t in tensors]
    return Tensor._make(xp_of(data[0]).stack(data))


def _as_tensor_array(arr):
    from ...ops.factory import from_numpy

    return from_numpy(arr)


def default_collate(batch):
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if _is_numpy(elem):
        if isinstance(elem, np.ndarray):
            if _np_str_obj_pattern.search(elem.dtype.str) is not None:
                raise TypeError(default_collate_err_msg_format.format(elem.dtype))
            return _stack([_as_tensor_array(b) for b in batch])
        if elem.shape == ():  # numpy scalars keep their dtype
            return _as_tensor_array(np.array(batch))
    if isinstance(elem, bool):
        return Tensor._make(np.array(batch, dtype=np.bool_))
    if isinstance(elem, float):
        return Tensor._make(np.array(batch, dtype=np.float64))
    if isinstance(elem, int):
        return Tensor._make(np.array(batch, dtype=np.int64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, abc.MutableMapping):
            clone = copy.copy(elem)  # keeps the mapping's type (OrderedDict, defaultdict, ...)
            clone.update(fields)
            return clone
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(samples)) for samples in zip(*batch)))
    if isinstance(elem, abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [list(samples) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return [default_collate(samples) for samples in transposed]  # tuples become lists, like PyTorch
        try:
            if isinstance(elem, abc.MutableSequence):
                clone = copy.copy(elem)
                for i, samples in enumerate(transposed):
                    clone[i] = default_collate(samples)
                return clone
            return type(elem)([default_collate(samples) for samples in transposed])
        except TypeError:
            return [default_collate(samples) for samples in transposed]
    raise TypeError(default_collate_err_msg_format.format(type(elem)))


def default_convert(data):
    """Numpy arrays/scalars -> tensors inside any container; everything else unchanged."""
    if isinstance(data, Tensor):
        return data
    if _is_numpy(data):
        if isinstance(data, np.ndarray) and _np_str_obj_pattern.search(data.dtype.str) is not None:
            return data
        return _as_tensor_array(np.asarray(data))
    if isinstance(data, abc.Mapping):
        fields = {key: default_convert(data[key]) for key in data}
        if isinstance(data, abc.MutableMapping):
            clone = copy.copy(data)
            clone.update(fields)
            return clone
        try:
            return type(data)(fields)
        except TypeError:
            return fields
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, abc.Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(d) for d in data]
        try:
            if isinstance(data, abc.MutableSequence):
                clone = copy.copy(data)
                clone[:] = converted
                return clone
            return type(data)(converted)
        except TypeError:
            return converted
    return data
