"""Helpers shared by op modules: operand preparation (promotion, devices) and small checks."""
import numpy as np

from .. import _dtype
from ..tensor import Tensor


def to_tensor_like(value, like):
    """A Python number/array as a Tensor on `like`'s device."""
    if isinstance(value, Tensor):
        return value
    from .factory import tensor

    return tensor(value, device=like.device, dtype=None if not isinstance(value, (int, float, bool)) else
                  _dtype.result_type(like, value))


def check_same_device(op, *tensors):
    devs = {t.device for t in tensors if isinstance(t, Tensor) and (t._data.ndim or t.device.type != "cpu")}
    if len(devs) > 1:
        names = sorted(str(d) for d in devs)
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{names[-1]} and {names[0]}! (when checking arguments for {op})")


def promote(op, a, b):
    """Cast tensor operands of a binary op to PyTorch's result dtype; scalars pass through."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        if a._data.shape != b._data.shape:
            check_broadcast(a._data.shape, b._data.shape)
        if a._data.dtype == b._data.dtype:
            if type(a._data) is not type(b._data) or (type(a._data) is not np.ndarray):
                check_same_device(op, a, b)
            return a, b
        check_same_device(op, a, b)
    elif not (ta or tb):
        raise TypeError(f"{op}(): expected at least one Tensor argument")
    else:
        s = b if ta else a
        kind = (a if ta else b)._data.dtype.kind
        st = type(s)
        if (st is float and kind == "f") or (st is int and kind in "iuf"):
            return a, b  # numpy keeps the tensor's dtype for these, as PyTorch does
        if not isinstance(s, (int, float, bool, complex, np.number, np.bool_)):
            if isinstance(s, (list, tuple, np.ndarray)):
                s = to_tensor_like(np.asarray(s), a if ta else b)
                return promote(op, s, b) if tb else promote(op, a, s)
            raise TypeError(f"{op}(): unsupported operand type {type(s).__name__}")
    rt = _dtype.result_type(a, b)
    if ta and a._data.dtype != rt.np:
        a = a.to(rt)
    if tb and b._data.dtype != rt.np:
        b = b.to(rt)
    if not ta and isinstance(a, (bool, np.bool_)) and rt.np.kind != "b":
        a = int(a)
    if not tb and isinstance(b, (bool, np.bool_)) and rt.np.kind != "b":
        b = int(b)
    return a, b


def check_broadcast(shape_a, shape_b):
    """PyTorch's RuntimeError (not numpy's ValueError) for shapes that don't broadcast."""
    for i in range(1, min(len(shape_a), len(shape_b)) + 1):
        x, y = shape_a[-i], shape_b[-i]
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                               f"non-singleton dimension {max(len(shape_a), len(shape_b)) - i}")


def float_input(x):
    """Ops like exp/sin promote integer tensors to the default float dtype."""
    if x._data.dtype.kind in "biu":
        return x.to(_dtype.get_default_dtype())
    return x


def as_tensor_arg(x, name="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a Tensor, not {type(x).__name__}")
    return x


def normalize_dims(dim, ndim):
    """dim=None | int | sequence -> sorted tuple of non-negative axes (None: all axes)."""
    from ..tensor import wrap_dim

    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        return (wrap_dim(dim, ndim),)
    dims = tuple(wrap_dim(d, ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {list(dim)} appears multiple times in the list of dims")
    return tuple(sorted(dims)) if ndim else ()
