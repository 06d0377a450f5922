"""mytorch.fft: the real-valued parts of torch.fft. mytorch has no complex dtypes, so the transforms
themselves (fft, rfft, ifft, hfft, ...) are not available; the frequency helpers and shifts are."""
import math

from .ops import factory as _factory
from .ops import shape as _shape


def _dims(x, dim):
    if dim is None:
        return list(range(x.ndim))
    return [dim] if isinstance(dim, int) else list(dim)


def fftshift(input, dim=None):
    """Move the zero-frequency term to the centre: roll each dim by floor(n / 2)."""
    dims = _dims(input, dim)
    return _shape.roll(input, [input.shape[d] // 2 for d in dims], dims) if dims else input.clone()


def ifftshift(input, dim=None):
    dims = _dims(input, dim)
    return _shape.roll(input, [-(input.shape[d] // 2) for d in dims], dims) if dims else input.clone()


def fftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False, layout=None):
    k = _factory.arange(n, device=device).double()
    k = (k - n * (k >= math.ceil(n / 2)).double()) / (n * d)
    out = k.to(dtype or _factory._dtype.get_default_dtype())
    out.requires_grad_(requires_grad)
    return out


def rfftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False, layout=None):
    out = (_factory.arange(n // 2 + 1, device=device).double() / (n * d)).to(
        dtype or _factory._dtype.get_default_dtype())
    out.requires_grad_(requires_grad)
    return out
