"""Padding modules (ZeroPad, ConstantPad, ReflectionPad, ReplicationPad, CircularPad) and PixelShuffle."""
from .. import functional as F
from .module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d", "PixelShuffle", "PixelUnshuffle"]


def _padding(padding, n_dims):
    if isinstance(padding, int):
        return (padding,) * (2 * n_dims)
    padding = tuple(int(p) for p in padding)
    if len(padding) != 2 * n_dims:
        raise ValueError(f"expected padding of length {2 * n_dims}, got {len(padding)}")
    return padding


class _PadNd(Module):
    mode, n_dims = "constant", 1

    def __init__(self, padding, value=None):
        super().__init__()
        self.padding = _padding(padding, self.n_dims)
        if value is not None:
            self.value = value

    def forward(self, input):
        if self.mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}" if self.mode == "constant" else f"{self.padding}"


def _pad_class(name, mode, n_dims, zero=False):
    if zero:
        def __init__(self, padding):
            _PadNd.__init__(self, padding, 0.0)

        def extra_repr(self):
            return f"{self.padding}"

        body = {"__init__": __init__, "extra_repr": extra_repr}
    elif mode == "constant":
        def __init__(self, padding, value):
            _PadNd.__init__(self, padding, value)

        body = {"__init__": __init__}
    else:
        body = {}
    return type(name, (_PadNd,), dict(body, mode=mode, n_dims=n_dims, __module__=__name__))


ZeroPad1d, ZeroPad2d, ZeroPad3d = (_pad_class(f"ZeroPad{d}d", "constant", d, zero=True) for d in (1, 2, 3))
ConstantPad1d, ConstantPad2d, ConstantPad3d = (_pad_class(f"ConstantPad{d}d", "constant", d) for d in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (_pad_class(f"ReflectionPad{d}d", "reflect", d)
                                                     for d in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (_pad_class(f"ReplicationPad{d}d", "replicate", d)
                                                        for d in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (_pad_class(f"CircularPad{d}d", "circular", d) for d in (1, 2, 3))


class PixelShuffle(Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"
