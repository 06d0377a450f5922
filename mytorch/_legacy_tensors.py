"""PyTorch's legacy typed tensor constructors: torch.FloatTensor, torch.LongTensor, ... and their
torch.cuda counterparts. They still appear in real code as constructors (`torch.LongTensor([1, 2])`,
`torch.FloatTensor(3, 4)`: uninitialised), in isinstance checks and type annotations
(`input_ids: torch.LongTensor`), and as targets of `x.type(torch.FloatTensor)`.
"""
from . import _dtype
from .tensor import Size, Tensor

# legacy name -> dtype name
NAMES = {"Float": "float32", "Double": "float64", "Half": "float16", "BFloat16": "bfloat16", "Long": "int64",
         "Int": "int32", "Short": "int16", "Char": "int8", "Byte": "uint8", "Bool": "bool"}


class _LegacyType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and obj.device.type == cls.device_type

    def __repr__(cls):
        return f"<class '{cls.__module__}.{cls.__name__}'>"


class _LegacyTensor(metaclass=_LegacyType):
    dtype = None
    device_type = "cpu"

    def __new__(cls, *args, device=None):
        from .ops import factory

        device = cls.device_type if device is None else device
        if len(args) == 1 and isinstance(args[0], Size):
            args = tuple(args[0])
        if all(isinstance(a, int) and not isinstance(a, bool) for a in args):  # sizes (or nothing): uninitialised
            return factory.empty(*args, dtype=cls.dtype, device=device) if args else \
                factory.empty(0, dtype=cls.dtype, device=device)
        if len(args) != 1:
            raise TypeError(f"new(): invalid arguments for {cls.__name__}: expected sizes or one sequence of data, "
                            f"got {tuple(type(a).__name__ for a in args)}")
        data = args[0]
        if isinstance(data, Tensor):
            if not isinstance(data, cls):
                raise TypeError(f"expected {cls.__module__}.{cls.__name__} (got {data.type()})")
            return data
        return factory.tensor(data, dtype=cls.dtype, device=device)


def _make(prefix, device_type):
    out = {}
    for legacy, name in NAMES.items():
        cls_name = legacy + "Tensor"
        dtype = getattr(_dtype, "bool_" if name == "bool" else name)
        out[cls_name] = _LegacyType(cls_name, (_LegacyTensor,), {"dtype": dtype, "device_type": device_type,
                                                                  "__module__": prefix, "__qualname__": cls_name})
    return out


CPU_TYPES = _make("torch", "cpu")
CUDA_TYPES = _make("torch.cuda", "cuda")


def _by_name(spec):
    """The legacy class named 'torch.FloatTensor' / 'torch.cuda.LongTensor', or None; with the name's parts."""
    prefix, _, name = spec.rpartition(".")
    table = CUDA_TYPES if prefix == "torch.cuda" else CPU_TYPES if prefix == "torch" else {}
    return table.get(name), prefix, name


def resolve(spec):
    """A legacy class or its name ('torch.FloatTensor', 'torch.cuda.LongTensor') -> (dtype, device type)."""
    if isinstance(spec, str):
        found = _by_name(spec)[0]
        if found is None:
            raise ValueError(f"invalid type: '{spec}'")
        spec = found
    return spec.dtype, spec.device_type


def set_default_tensor_type(t, /):
    """Deprecated in PyTorch, still honoured: a floating legacy type (or its name) sets the default dtype, and
    a torch.cuda one the default device too (until a CPU type is set)."""
    if isinstance(t, str):
        found, prefix, name = _by_name(t)
        if found is None:
            raise AttributeError(f"module '{prefix or t}' has no attribute '{name}'")
        t = found
    if not isinstance(t, _LegacyType):
        raise TypeError("invalid type object: only floating-point types are supported as the default type")
    if not t.dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    from ._array import set_default_device

    global _cuda_by_default_type
    _dtype.set_default_dtype(t.dtype)
    if t.device_type == "cuda":
        set_default_device("cuda")
    elif _cuda_by_default_type:  # back from a torch.cuda type; a device set by set_default_device stays
        set_default_device(None)
    _cuda_by_default_type = t.device_type == "cuda"


_cuda_by_default_type = False
