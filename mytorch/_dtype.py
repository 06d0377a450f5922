"""Data types: mytorch.float32 & co., their numpy equivalents, and PyTorch's promotion rules."""
import importlib.util

import numpy as np


class dtype:
    """A tensor element type. `mytorch.float32` is one; it maps to a numpy dtype."""

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "_kind")

    def __init__(self, name, np_dtype, kind):
        self.name = name
        self.np = np.dtype(np_dtype)
        self._kind = kind  # 0 bool, 1 integer, 2 floating, 3 complex
        self.is_floating_point = kind == 2
        self.is_complex = kind == 3
        self.is_signed = name not in ("uint8", "bool")
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return f"mytorch.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self):
        """complex64 -> float32, complex128 -> float64; other dtypes are their own real dtype."""
        return _COMPLEX_TO_REAL.get(self.name, self)

    def to_complex(self):
        """float32 -> complex64, float64 -> complex128 (float16 -> complex32); complex stays."""
        if self._kind == 3:
            return self
        if self._kind != 2:
            raise RuntimeError(f"to_complex is only supported for floating point dtypes, got {self}")
        return _by_name(_REAL_TO_COMPLEX["float32" if self.name == "bfloat16" else self.name])


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)

class _UnavailableDtype(dtype):
    """A dtype the array backend can't hold (bfloat16 without ml_dtypes): it exists, compares and
    prints, and any attempt to make an array of it raises a clear TypeError."""

    def __init__(self, name, kind, itemsize, hint):
        self.name, self._kind, self.itemsize, self._hint = name, kind, itemsize, hint
        self.is_floating_point, self.is_complex, self.is_signed = kind == 2, kind == 3, True

    __slots__ = ("_hint",)

    @property
    def np(self):
        raise TypeError(f"mytorch.{self.name} is not supported here: {self._hint}")


class _LazyDtype(dtype):
    """bfloat16 when ml_dtypes is installed. Importing ml_dtypes costs about a second of CPU (it
    registers many types with numpy), so it happens on first use of the numpy type, not at
    `import mytorch`; until then no bfloat16 array can exist anyway."""

    __slots__ = ("_np", "_module")

    def __init__(self, name, module, attr, kind, itemsize):
        self.name, self._kind, self.itemsize, self._module = name, kind, itemsize, (module, attr)
        self.is_floating_point, self.is_complex, self.is_signed = kind == 2, False, True
        self._np = None

    @property
    def np(self):
        if self._np is None:
            import importlib

            module, attr = self._module
            self._np = np.dtype(getattr(importlib.import_module(module), attr))
            _FROM_NP[self._np] = self
            for callback in _ON_BF16:
                callback(self._np)
        return self._np


_ON_BF16 = []  # callbacks run with bfloat16's numpy dtype once it exists (sets of dtypes that include it)


def on_bfloat16(callback):
    """Call `callback(np_dtype)` for bfloat16's numpy dtype now if it is loaded, else when it is."""
    _ON_BF16.append(callback)
    if _HAS_BF16 and bfloat16._np is not None:
        callback(bfloat16._np)


# numpy has no bfloat16; ml_dtypes provides one when installed
_HAS_BF16 = importlib.util.find_spec("ml_dtypes") is not None
if _HAS_BF16:
    bfloat16 = _LazyDtype("bfloat16", "ml_dtypes", "bfloat16", 2, 2)
else:  # pragma: no cover - depends on environment
    bfloat16 = _UnavailableDtype("bfloat16", 2, 2, "numpy has no bfloat16; pip install ml_dtypes to enable it")

complex64 = dtype("complex64", np.complex64, 3)
complex128 = dtype("complex128", np.complex128, 3)
# numpy has no complex32 (a pair of float16s)
complex32 = _UnavailableDtype("complex32", 3, 4, "numpy has no complex32 (chalf); use complex64 (cfloat)")
_COMPLEX_TO_REAL = {"complex64": float32, "complex128": float64, "complex32": float16}
_REAL_TO_COMPLEX = {"float16": "complex32", "float32": "complex64", "float64": "complex128"}

ALL = ([bool_, uint8, int8, int16, int32, int64, float16] + ([bfloat16] if _HAS_BF16 else [])
       + [float32, float64, complex64, complex128])
_FROM_NP = {d.np: d for d in ALL if d is not bfloat16}  # bfloat16 joins when ml_dtypes loads
_NAMES = {d.name: d for d in ALL}
_NAMES.update(half=float16, float=float32, double=float64, short=int16, int=int32, long=int64,
              cfloat=complex64, cdouble=complex128, complex32=complex32, chalf=complex32)


def _by_name(name):
    return _NAMES[name]


_default_float = float32


def get_default_dtype():
    return _default_float


def set_default_dtype(d):
    global _default_float
    d = to_dtype(d)
    if d not in (float16, float32, float64, bfloat16):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def default_complex_dtype():
    """The complex dtype matching the default float: complex64 for float32, complex128 for float64."""
    return complex128 if _default_float is float64 else complex64


_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
               "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
               "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def type_name(d):
    """PyTorch's scalar type name ('Float', 'Long', 'ComplexDouble') of a dtype, a numpy dtype or a tensor, as its
    errors and Tensor.type() spell it."""
    d = getattr(d, "dtype", d)
    name = d.name if isinstance(d, dtype) else np.dtype(d).name
    return _TYPE_NAMES.get(name, name)


def from_numpy_dtype(np_dtype):
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except KeyError:
        if _HAS_BF16 and bfloat16._np is None and np.dtype(np_dtype).name == "bfloat16":
            bfloat16.np  # ml_dtypes was imported by someone else first: register its type now
            return from_numpy_dtype(np_dtype)
        raise TypeError(f"can't convert array of numpy dtype {np_dtype}: mytorch supports "
                        f"{', '.join(d.name for d in ALL)}") from None


def to_dtype(d):
    """Accept a mytorch dtype, a numpy dtype/type, or a Python type (float, int, bool)."""
    if d is None or isinstance(d, dtype):
        return d
    if d is float:
        return float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    if d is complex:
        return complex128
    if isinstance(d, str) and d in _NAMES:
        return _NAMES[d]
    try:
        return from_numpy_dtype(d)
    except TypeError:
        raise TypeError(f"{d!r} is not a mytorch dtype") from None


def dtype_of_scalar(value):
    """The dtype a Python scalar gets as a tensor: bool, int64, or the default float."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return _default_float
    if isinstance(value, (complex, np.complexfloating)):
        return default_complex_dtype()
    raise TypeError(f"expected a number, got {type(value).__name__}")


# Ordering used for promotion within a category (PyTorch's lattice flattened per category).
_INT_ORDER = [uint8, int8, int16, int32, int64]


def promote_types(a, b):
    """PyTorch's promote_types for two dtypes."""
    if a is b:
        return a
    if a._kind != b._kind:
        if a._kind + b._kind == 5:  # complex with float: the complex dtype wide enough for both real parts
            return promote_types(a.to_real(), b.to_real()).to_complex()
        return a if a._kind > b._kind else b
    if a._kind == 3:
        return a if a.itemsize > b.itemsize else b
    if a._kind == 2:
        if {a, b} == {float16, bfloat16}:
            return float32
        return a if a.itemsize > b.itemsize else b
    if a._kind == 1:
        if {a, b} == {uint8, int8}:
            return int16
        return a if _INT_ORDER.index(a) > _INT_ORDER.index(b) else b
    return a


def result_type(*operands):
    """Result dtype of an op over tensors and Python scalars, with PyTorch's three tiers:
    dimensioned tensors > zero-dim tensors > Python scalars; a lower tier only wins by category."""
    from .tensor import Tensor

    dim_t = zero_t = scalar = None
    for x in operands:
        if isinstance(x, Tensor):
            if x._data.ndim:
                dim_t = x.dtype if dim_t is None else promote_types(dim_t, x.dtype)
            else:
                zero_t = x.dtype if zero_t is None else promote_types(zero_t, x.dtype)
        elif x is not None:
            s = dtype_of_scalar(x)
            scalar = s if scalar is None or s._kind > scalar._kind else scalar
    out = dim_t
    for lower in (zero_t, scalar):
        if lower is None:
            continue
        if out is None:
            out = lower
        elif lower._kind > out._kind:
            # a lower tier wins only with a higher category (int tensor * 2.5); complex over a float
            # tensor keeps the tensor's precision (float64 tensor * 1j is complex128)
            out = out.to_complex() if lower._kind == 3 and out._kind == 2 else lower
    return out
