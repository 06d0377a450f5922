"""torch.finfo / torch.iinfo: the numeric limits of a dtype, with PyTorch's attributes and reprs."""
from . import _dtype

# bfloat16 (8 exponent bits, 7 mantissa bits), so that finfo needs no ml_dtypes
_BF16 = dict(bits=16, eps=2.0 ** -7, max=3.3895313892515355e38, tiny=2.0 ** -126, resolution=0.01)
_F = {"float16": dict(bits=16, eps=2.0 ** -10, max=65504.0, tiny=2.0 ** -14, resolution=0.001),
      "float32": dict(bits=32, eps=2.0 ** -23, max=3.4028234663852886e38, tiny=2.0 ** -126, resolution=1e-06),
      "float64": dict(bits=64, eps=2.0 ** -52, max=1.7976931348623157e308, tiny=2.0 ** -1022, resolution=1e-15),
      "bfloat16": _BF16}
_COMPLEX_PART = {"complex32": "float16", "complex64": "float32", "complex128": "float64"}
_I = {"int8": (8, -2 ** 7, 2 ** 7 - 1), "int16": (16, -2 ** 15, 2 ** 15 - 1), "int32": (32, -2 ** 31, 2 ** 31 - 1),
      "int64": (64, -2 ** 63, 2 ** 63 - 1), "uint8": (8, 0, 255), "bool": (8, 0, 1)}


def _as_dtype(type):
    return _dtype.get_default_dtype() if type is None else _dtype.to_dtype(type)


class finfo:
    def __init__(self, type=None):
        name = _as_dtype(type).name
        name = _COMPLEX_PART.get(name, name)
        if name not in _F:
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo to handle "
                            "'torch.finfo'")
        info = _F[name]
        self.bits, self.eps, self.max, self.tiny = info["bits"], info["eps"], info["max"], info["tiny"]
        self.min, self.smallest_normal, self.resolution, self.dtype = -self.max, self.tiny, info["resolution"], name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")

    def __eq__(self, other):
        return isinstance(other, finfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("finfo", self.dtype))


class iinfo:
    def __init__(self, type):
        name = _as_dtype(type).name
        if name not in _I or name == "bool":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle 'torch.iinfo'")
        self.bits, self.min, self.max = _I[name]
        self.dtype = name

    def __repr__(self):
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"
