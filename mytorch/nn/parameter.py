"""Parameter: a Tensor that a Module registers as learnable; Buffer: a Tensor it registers as state."""
from ..ops.factory import empty
from ..tensor import Tensor, _as_array

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"]


class Parameter(Tensor):
    """`Parameter(data=None, requires_grad=True)`: shares `data`'s storage, is a leaf, requires grad."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): argument 'data' must be Tensor, not {type(data).__name__}")
        p = cls._make(data._data)
        p._version = data._version  # same storage as data, so the same version counter
        if requires_grad:
            p.requires_grad = True  # raises for integer data, like PyTorch
        return p

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = type(self)(Tensor._make(self._data.copy()), self._requires_grad)
        if self.grad is not None:
            out.grad = Tensor._make(self.grad._data.copy())
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        data = self._data if type(self._data).__module__ == "numpy" else self._data.get()
        return (_rebuild_parameter, (data, self._requires_grad, str(self.device)))


class UninitializedParameter(Parameter):
    """Placeholder class for lazy modules (kept for API compatibility)."""


class _BufferMeta(type):
    # a Buffer is a plain Tensor flagged `_is_buffer`; isinstance(t, Buffer) checks the flag
    def __instancecheck__(cls, instance):
        return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)


class Buffer(metaclass=_BufferMeta):
    """`Buffer(data, persistent=True)`: assigning one to a Module attribute registers it as a buffer."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t


def _rebuild_parameter(data, requires_grad, dev):
    t = Tensor._make(_as_array(data))
    if dev != "cpu":
        t = t.to(dev)
    return Parameter(t, requires_grad)


class _Uninitialized:
    """Shared by UninitializedParameter / UninitializedBuffer: no storage until `materialize(shape)`."""

    cls_to_become = None

    def materialize(self, shape, device=None, dtype=None):
        """Allocate the (uninitialized) storage in place: the object keeps its identity (optimizers and
        modules holding it see the new data) and becomes a plain Parameter / Tensor."""
        from ..ops.factory import empty as _empty

        device = self.device if device is None else device
        dtype = self.dtype if dtype is None else dtype
        self._data = _empty(tuple(shape) if not isinstance(shape, int) else (shape,), device=device, dtype=dtype)._data
        self.__class__ = self.cls_to_become

    def __repr__(self):
        return f"<{type(self).__name__}>"


class UninitializedParameter(_Uninitialized, Parameter):
    """A Parameter whose shape is not known yet (lazy modules fill it in at their first forward)."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return Parameter.__new__(cls, empty(0, device=device, dtype=dtype), requires_grad)

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass


class UninitializedBuffer(_Uninitialized, Tensor):
    """A buffer whose shape is not known yet."""

    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        t = cls._make(empty(0, device=device, dtype=dtype)._data)
        t.persistent = persistent
        return t

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        pass
