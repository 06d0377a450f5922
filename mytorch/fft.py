"""mytorch.fft: discrete Fourier transforms (torch.fft), on numpy.fft / cupy.fft, with autograd.

Three primitives carry everything: C2C (complex to complex), R2C (real to the one-sided half
spectrum) and C2R (half spectrum to real). The Hermitian transforms are compositions:
hfftn(x) = irfftn(conj(x)) and ihfftn(x) = conj(rfftn(x)), each with the normalization swapped.

Gradients: a DFT is a linear map A, so the input gradient is A^H grad, which is the opposite-direction
transform with the opposite normalization ("backward" <-> "forward"; "ortho" is unitary). Zero-padding
or trimming to the requested size `s` is undone on the gradient (trimmed entries get zero gradient).
"""
import math

from . import _dtype
from ._array import xp_of
from .autograd.function import Function
from .ops import factory as _factory
from .ops import shape as _shape
from .ops.complex_ops import conj as _conj
from .ops.elementwise import _out
from .tensor import Tensor, wrap_dim

_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _fit(g, shape, axes):
    """Trim or zero-pad `g` along `axes` to `shape` (the input's size before the transform padded or cut it)."""
    xp = xp_of(g)
    index = [slice(None)] * g.ndim
    pads = [(0, 0)] * g.ndim
    for a in axes:
        if g.shape[a] > shape[a]:
            index[a] = slice(0, shape[a])
        elif g.shape[a] < shape[a]:
            pads[a] = (0, shape[a] - g.shape[a])
    g = g[tuple(index)]
    return xp.pad(g, pads) if any(p != (0, 0) for p in pads) else g


class C2C(Function):
    @staticmethod
    def forward(ctx, x, s, axes, norm, forward):
        ctx.meta = (x.shape, axes, norm, forward)
        xp = xp_of(x)
        out = (xp.fft.fftn if forward else xp.fft.ifftn)(x, s=s, axes=axes, norm=norm)
        return out.astype(x.dtype, copy=False)  # numpy computes complex64 input in complex128

    @staticmethod
    def backward(ctx, grad):
        shape, axes, norm, forward = ctx.meta
        xp = xp_of(grad)
        g = (xp.fft.ifftn if forward else xp.fft.fftn)(grad, axes=axes, norm=_SWAP[norm])
        return _fit(g.astype(grad.dtype, copy=False), shape, axes), None, None, None, None


class R2C(Function):
    """Real input -> the first n // 2 + 1 frequencies along the last axis (full spectrum on the others)."""

    @staticmethod
    def forward(ctx, x, s, axes, norm):
        ctx.meta = (x.shape, s, axes, norm)
        out = xp_of(x).fft.rfftn(x, s=s, axes=axes, norm=norm)
        return out.astype(_dtype.from_numpy_dtype(x.dtype).to_complex().np, copy=False)

    @staticmethod
    def backward(ctx, grad):
        shape, s, axes, norm = ctx.meta
        xp = xp_of(grad)
        # the dropped half of the spectrum had no consumer: zeros, then the adjoint of the full transform
        full = [(0, 0)] * grad.ndim
        full[axes[-1]] = (0, s[-1] - grad.shape[axes[-1]])
        g = xp.fft.ifftn(xp.pad(grad, full), axes=axes, norm=_SWAP[norm]).real
        return _fit(g.astype(grad.real.dtype, copy=False), shape, axes), None, None, None


class C2R(Function):
    """A one-sided half spectrum, read as Hermitian-symmetric, -> a real signal of sizes `s`."""

    @staticmethod
    def forward(ctx, x, s, axes, norm):
        ctx.meta = (x.shape, s, axes, norm)
        out = xp_of(x).fft.irfftn(x, s=s, axes=axes, norm=norm)
        return out.astype(x.real.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        shape, s, axes, norm = ctx.meta
        g = xp_of(grad).fft.rfftn(grad, axes=axes, norm=_SWAP[norm]).astype(
            _dtype.from_numpy_dtype(grad.dtype).to_complex().np, copy=False)
        # bins 1 .. n - (n // 2 + 1) stand for themselves and their mirrored conjugates: they count twice
        last = axes[-1]
        doubled = s[-1] - g.shape[last]
        if doubled > 0:
            index = [slice(None)] * g.ndim
            index[last] = slice(1, 1 + doubled)
            g[tuple(index)] *= 2
        return _fit(g, shape, axes), None, None, None


# ---------------------------------------------------------------------------------------------
# argument handling, as torch.fft checks it
# ---------------------------------------------------------------------------------------------
def _norm(norm):
    if norm is None:
        return "backward"
    if norm not in _SWAP:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    return norm


def _as_float_or_complex(op, x, real_only=False):
    if not isinstance(x, Tensor):
        raise TypeError(f"fft.{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    kind = x._data.dtype.kind
    if real_only and kind == "c":
        raise RuntimeError(f"{op} expects a real input tensor, but got {x.type().rsplit('.', 1)[-1][:-6]}")
    if kind in "biu":
        return x.to(_dtype.get_default_dtype())
    if x._data.dtype.itemsize < 4 and kind != "c":  # float16 / bfloat16: numpy's FFT has no half kernels
        raise RuntimeError(f"Unsupported dtype {x.type().rsplit('.', 1)[-1][:-6]}")
    return x


def _to_complex(x):
    return x if x._data.dtype.kind == "c" else x.to(x.dtype.to_complex())


def _dims_and_sizes(x, s, dim, c2r=False):
    """PyTorch's (s, dim) rules: dim None -> the last len(s) dims (all dims without s); s None or -1 ->
    the input's sizes (for a c2r transform the last one is 2 * (size - 1))."""
    if isinstance(dim, int):
        dim = (dim,)
    if isinstance(s, int):
        s = (s,)
    if dim is None:
        dims = list(range(x.ndim - len(s), x.ndim)) if s is not None else list(range(x.ndim))
        if s is not None and len(s) > x.ndim:
            raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has {x.ndim} dimensions.")
    else:
        dims = [wrap_dim(d, x.ndim) for d in dim]
        if len(set(dims)) != len(dims):
            raise RuntimeError("FFT dims must be unique")
        if s is not None and len(s) != len(dims):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
    if s is None:
        s = [-1] * len(dims)
    sizes = []
    for i, (d, n) in enumerate(zip(dims, s)):
        if n == -1:
            n = 2 * (x.shape[d] - 1) if c2r and i == len(dims) - 1 else x.shape[d]
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
        sizes.append(int(n))
    return tuple(sizes), tuple(dims)


def _one_dim(x, n, dim):
    if x.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return (None if n is None else [n]), [dim]


def _c2c(op, input, s, dim, norm, forward):
    x = _to_complex(_as_float_or_complex(op, input))
    sizes, dims = _dims_and_sizes(x, s, dim)
    if not dims:
        return x.clone()
    return C2C.apply(x, sizes, dims, _norm(norm), forward)


def _r2c(op, input, s, dim, norm):
    x = _as_float_or_complex(op, input, real_only=True)
    sizes, dims = _dims_and_sizes(x, s, dim)
    if not dims:
        raise RuntimeError(f"{op} must transform at least one axis")
    return R2C.apply(x, sizes, dims, _norm(norm))


def _c2r(op, input, s, dim, norm):
    x = _to_complex(_as_float_or_complex(op, input))
    sizes, dims = _dims_and_sizes(x, s, dim, c2r=True)
    if not dims:
        raise RuntimeError(f"{op} must transform at least one axis")
    return C2R.apply(x, sizes, dims, _norm(norm))


# ---------------------------------------------------------------------------------------------
# public transforms
# ---------------------------------------------------------------------------------------------
def fft(input, n=None, dim=-1, norm=None, *, out=None):
    return _out(_c2c("fft", input, *_one_dim(input, n, dim), norm, True), out)


def ifft(input, n=None, dim=-1, norm=None, *, out=None):
    return _out(_c2c("ifft", input, *_one_dim(input, n, dim), norm, False), out)


def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    return _out(_r2c("rfft", input, *_one_dim(input, n, dim), norm), out)


def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    return _out(_c2r("irfft", input, *_one_dim(input, n, dim), norm), out)


def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The FFT of a Hermitian-symmetric signal given by its first half: a real spectrum."""
    x = _as_float_or_complex("hfft", input)
    return _out(_c2r("hfft", _conj(_to_complex(x)), *_one_dim(input, n, dim), _SWAP[_norm(norm)]), out)


def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    return _out(_conj(_r2c("ihfft", input, *_one_dim(input, n, dim), _SWAP[_norm(norm)])), out)


def fftn(input, s=None, dim=None, norm=None, *, out=None):
    return _out(_c2c("fftn", input, s, dim, norm, True), out)


def ifftn(input, s=None, dim=None, norm=None, *, out=None):
    return _out(_c2c("ifftn", input, s, dim, norm, False), out)


def rfftn(input, s=None, dim=None, norm=None, *, out=None):
    return _out(_r2c("rfftn", input, s, dim, norm), out)


def irfftn(input, s=None, dim=None, norm=None, *, out=None):
    return _out(_c2r("irfftn", input, s, dim, norm), out)


def hfftn(input, s=None, dim=None, norm=None, *, out=None):
    x = _as_float_or_complex("hfftn", input)
    return _out(_c2r("hfftn", _conj(_to_complex(x)), s, dim, _SWAP[_norm(norm)]), out)


def ihfftn(input, s=None, dim=None, norm=None, *, out=None):
    return _out(_conj(_r2c("ihfftn", input, s, dim, _SWAP[_norm(norm)])), out)


def _two_dim(nd):
    def transform(input, s=None, dim=(-2, -1), norm=None, *, out=None):
        return nd(input, s, dim, norm, out=out)

    transform.__name__ = transform.__qualname__ = nd.__name__[:-1] + "2"
    transform.__doc__ = f"{nd.__name__} over two dims (the last two by default)."
    return transform


fft2, ifft2, rfft2, irfft2, hfft2, ihfft2 = (_two_dim(f) for f in (fftn, ifftn, rfftn, irfftn, hfftn, ihfftn))


# ---------------------------------------------------------------------------------------------
# frequency helpers and shifts
# ---------------------------------------------------------------------------------------------
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
