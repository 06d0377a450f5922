"""Complex numbers: complex/polar, real/imag and view_as_real/view_as_complex views, conj, angle.

Autograd follows PyTorch's convention: the gradient of a real loss L with respect to a complex z is
dL/dRe(z) + i dL/dIm(z) (twice the conjugate Wirtinger derivative). So a holomorphic op z -> f(z)
passes grad * conj(f'(z)) back, and a real input x of a complex-valued op gets Re(grad * conj(dz/dx)).
"""
import numpy as np

from .. import _dtype
from .._array import xp_of
from ..autograd.function import Function
from ..tensor import Tensor
from . import elementwise as _elementwise
from . import special_math as _real_ops
from ._registry import public, tensor_methods
from ._util import as_tensor_arg, check_broadcast


def _complex_np(real_np):
    return np.complex128 if real_np == np.float64 else np.complex64


def _scalar_name(t):
    """PyTorch's scalar type name: Float, Double, Long, ..."""
    return t.type().rsplit(".", 1)[-1][:-len("Tensor")]


def _check_float_pair(op, a, b):
    """torch.complex / torch.polar: two floating tensors of one dtype."""
    as_tensor_arg(a, "real" if op == "complex" else "abs")
    as_tensor_arg(b, "imag" if op == "complex" else "angle")
    kinds = (a._data.dtype, b._data.dtype)
    if any(k not in (np.float32, np.float64) for k in kinds):
        if any(k == np.float16 for k in kinds):
            raise TypeError(f"torch.{op}: complex32 (chalf) is not supported here (numpy has no complex32)")
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got {_scalar_name(a)} "
                           f"and {_scalar_name(b)}")
    if kinds[0] != kinds[1]:
        raise RuntimeError(f"Expected object of scalar type {_scalar_name(a)} but got scalar type {_scalar_name(b)} "
                           "for second argument")
    if a._data.shape != b._data.shape:
        check_broadcast(a._data.shape, b._data.shape)


def _pack(xp, real, imag):
    """(real, imag) arrays -> one complex array, exactly (real + 1j * imag would turn an infinite imag into nan)."""
    pairs = xp.stack(xp.broadcast_arrays(real, imag), axis=-1)
    return pairs.view(_complex_np(real.dtype))[..., 0]


class Complex(Function):
    @staticmethod
    def forward(ctx, real, imag):
        return _pack(xp_of(real), real, imag)

    @staticmethod
    def backward(ctx, grad):
        return grad.real, grad.imag


class Polar(Function):
    @staticmethod
    def forward(ctx, r, theta):
        xp = xp_of(r)
        out = _pack(xp, r * xp.cos(theta), r * xp.sin(theta))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        z, = ctx.saved_tensors
        xp = xp_of(z)
        # dz/dr = e^{i theta}, dz/dtheta = i z. PyTorch writes e^{i theta} as sgn(z), which flips the abs
        # gradient for r < 0 and zeroes it at r = 0; we follow it.
        size = xp.abs(z)
        sgn = xp.where(size == 0, 0, z / xp.where(size == 0, 1, size))
        return (grad * sgn.conj()).real, (grad * z.conj()).imag


def complex(real, imag, *, out=None):
    _check_float_pair("complex", real, imag)
    return _elementwise._out(Complex.apply(real, imag), out)


def polar(abs, angle, *, out=None):
    _check_float_pair("polar", abs, angle)
    return _elementwise._out(Polar.apply(abs, angle), out)


# ---------------------------------------------------------------------------------------------
# views: the complex array and its (..., 2) real pairs share memory
# ---------------------------------------------------------------------------------------------
class ViewAsReal(Function):
    is_view = True

    @staticmethod
    def forward(ctx, z):
        real = z.real.dtype
        try:
            return z[..., None].view(real)  # (..., 1) complex -> (..., 2) real, any strides (numpy)
        except ValueError:  # cupy changes itemsize only on contiguous arrays: view the memory directly
            return type(z)(z.shape + (2,), real, memptr=z.data, strides=z.strides + (z.itemsize // 2,))

    @staticmethod
    def backward(ctx, grad):
        return ViewAsComplex.forward(ctx, xp_of(grad).ascontiguousarray(grad))


class ViewAsComplex(Function):
    is_view = True

    @staticmethod
    def forward(ctx, x):
        try:
            return x.view(_complex_np(x.dtype))[..., 0]
        except ValueError:  # cupy (see ViewAsReal)
            return type(x)(x.shape[:-1], _complex_np(x.dtype), memptr=x.data, strides=x.strides[:-1])

    @staticmethod
    def backward(ctx, grad):
        return ViewAsReal.forward(ctx, grad)


def view_as_real(input):
    if input._data.dtype.kind != "c":
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def view_as_complex(input):
    data = input._data
    if data.dtype not in (np.float32, np.float64):
        if data.dtype == np.float16:
            raise TypeError("view_as_complex: complex32 (chalf) is not supported here (numpy has no complex32)")
        raise RuntimeError(f"view_as_complex is only supported for half, float and double tensors, but got a tensor "
                           f"of scalar type: {_scalar_name(input)}")
    if data.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if data.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if data.strides[-1] != data.itemsize:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % (2 * data.itemsize) for s, n in zip(data.strides[:-1], data.shape[:-1]) if n > 1):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    return ViewAsComplex.apply(input)


class RealView(Function):
    is_view = True

    @staticmethod
    def forward(ctx, z):
        return z.real

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(_complex_np(grad.dtype))  # d Re(z): gradient 1 + 0i


class ImagView(Function):
    is_view = True

    @staticmethod
    def forward(ctx, z):
        return z.imag

    @staticmethod
    def backward(ctx, grad):
        return grad * 1j  # d Im(z): gradient 0 + 1i


def real(input):
    if input._data.dtype.kind != "c":
        return input
    return RealView.apply(input)


def imag(input):
    if input._data.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return ImagView.apply(input)


def _set_part(part):
    def setter(self, value):
        getattr(self, part).copy_(value)

    return setter


# ---------------------------------------------------------------------------------------------
# conj, angle
# ---------------------------------------------------------------------------------------------
class ConjPhysical(Function):
    @staticmethod
    def forward(ctx, z):
        return xp_of(z).conj(z)

    @staticmethod
    def backward(ctx, grad):
        return xp_of(grad).conj(grad)


def conj_physical(input):
    if input._data.dtype.kind != "c":
        return input.clone()
    return ConjPhysical.apply(input)


def conj(input):
    """PyTorch flips a lazy conjugate bit; mytorch conjugates at once (so is_conj() is always False)."""
    if input._data.dtype.kind != "c":
        return input
    return ConjPhysical.apply(input)


def conj_physical_(input):
    if input._data.dtype.kind == "c":
        input.copy_(conj_physical(input.detach()) if not input.requires_grad else conj_physical(input.clone()))
    return input


def resolve_conj(input):
    return input  # no lazy conjugate bit: values are always materialised


def resolve_neg(input):
    return input  # no lazy negative bit either


def is_conj(input):
    return False


def is_neg(input):
    return False


class AngleComplex(Function):
    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return xp_of(z).angle(z).astype(z.real.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        z, = ctx.saved_tensors
        xp = xp_of(z)
        # theta = atan2(y, x): dtheta/dx + i dtheta/dy = (-y + i x) / |z|^2 = i z / |z|^2; 0 at z = 0
        norm = (z * z.conj()).real
        safe = xp.where(norm == 0, 1, norm)
        return xp.where(norm == 0, 0, grad * 1j * z / safe).astype(z.dtype, copy=False)


def angle(input):
    if input._data.dtype.kind != "c":
        return _real_ops.angle(input)
    return AngleComplex.apply(input)


class SgnComplex(Function):
    """z / |z| (0 at 0). Not holomorphic: grad_z = (g - sgn^2 conj(g)) / (2 |z|), as PyTorch's sgn_backward."""

    @staticmethod
    def forward(ctx, z):
        xp = xp_of(z)
        size = xp.abs(z)
        out = xp.where(size == 0, 0, z / xp.where(size == 0, 1, size)).astype(z.dtype, copy=False)
        ctx.save_for_backward(size, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        size, sgn = ctx.saved_tensors
        xp = xp_of(sgn)
        g = (grad - sgn * sgn * grad.conj()) / (2 * xp.where(size == 0, 1, size))
        return xp.where(size == 0, 0, g).astype(sgn.dtype, copy=False)


def sgn(input):
    if input._data.dtype.kind != "c":
        return _elementwise.sgn(input)
    return SgnComplex.apply(input)


def is_complex(input):
    return input._data.dtype.kind == "c"


def isreal(input):
    if input._data.dtype.kind != "c":
        return _real_ops.isreal(input)
    return Tensor._make(input._data.imag == 0)


def _no_complex_inplace(name, method):
    """abs_ and the like would write a real result into complex storage: PyTorch refuses."""

    def inplace(self, *args, **kwargs):
        if self._data.dtype.kind == "c":
            raise RuntimeError(f"In-place {name} is not supported for complex tensors.")
        return method(self, *args, **kwargs)

    inplace.__name__ = inplace.__qualname__ = method.__name__
    return inplace


def adjoint(input):
    """The conjugate transpose of the last two dims (Tensor.mH)."""
    return conj(input.mT)


def _conj_T(self):
    return conj(self.T)


# ops PyTorch refuses for complex tensors (no order, no rounding), with its exception type and message;
# numpy would answer them (ordering complex numbers lexicographically)
_NO_COMPLEX = {
    "max": (NotImplementedError, '"max_all" not implemented for \'{t}\''),
    "min": (NotImplementedError, '"min_all" not implemented for \'{t}\''),
    "amax": (NotImplementedError, '"max_values_cpu" not implemented for \'{t}\''),
    "amin": (NotImplementedError, '"min_values_cpu" not implemented for \'{t}\''),
    "aminmax": (NotImplementedError, '"aminmax_cpu" not implemented for \'{t}\''),
    "argmax": (RuntimeError, "argmax(): does not support complex input"),
    "argmin": (RuntimeError, "argmin(): does not support complex input"),
    "sort": (RuntimeError, "Sort does not support complex dtypes on CPU"),
    "argsort": (RuntimeError, "Sort does not support complex dtypes on CPU"),
    "msort": (RuntimeError, "Sort does not support complex dtypes on CPU"),
    "topk": (RuntimeError, "topk does not support complex dtypes on CPU"),
    "kthvalue": (NotImplementedError, '"kthvalue_cpu" not implemented for \'{t}\''),
    "median": (NotImplementedError, '"median_cpu" not implemented for \'{t}\''),
    "cummax": (NotImplementedError, '"cummax_cpu" not implemented for \'{t}\''),
    "cummin": (NotImplementedError, '"cummin_cpu" not implemented for \'{t}\''),
    "clamp": (NotImplementedError, "clamp is not supported for complex types"),
    "clip": (NotImplementedError, "clamp is not supported for complex types"),
    "relu": (NotImplementedError, "clamp is not supported for complex types"),
    "maximum": (RuntimeError, "maximum not implemented for complex tensors."),
    "minimum": (RuntimeError, "minimum not implemented for complex tensors."),
    "floor": (NotImplementedError, "floor is not supported for complex inputs"),
    "ceil": (NotImplementedError, "ceil is not supported for complex inputs"),
    "trunc": (NotImplementedError, "trunc is not supported for complex inputs"),
    "round": (NotImplementedError, '"round_vml_cpu" not implemented for \'{t}\''),
    "sign": (NotImplementedError, "Unlike NumPy, torch.sign is not intended to support complex numbers. Please use "
                                  "torch.sgn instead."),
    "fmod": (NotImplementedError, '"fmod_cpu" not implemented for \'{t}\''),
    "remainder": (NotImplementedError, '"remainder_cpu" not implemented for \'{t}\''),
    "frac": (NotImplementedError, '"frac_cpu" not implemented for \'{t}\''),
    "heaviside": (RuntimeError, "heaviside is not yet implemented for complex tensors."),
}


_BINARY_NO_COMPLEX = {"maximum", "minimum", "fmod", "remainder", "heaviside"}


def _refusing_complex(name, fn):
    exc, message = _NO_COMPLEX[name]

    def refuse(t):
        raise exc(message.format(t=_scalar_name(t)))

    if name in _BINARY_NO_COMPLEX:
        def op(input, *args, **kwargs):
            if isinstance(input, Tensor) and input._data.dtype.kind == "c":
                refuse(input)
            if args and isinstance(args[0], Tensor) and args[0]._data.dtype.kind == "c":
                refuse(args[0])
            return fn(input, *args, **kwargs)
    else:
        def op(input, *args, **kwargs):  # one dtype check on the real path
            if isinstance(input, Tensor) and input._data.dtype.kind == "c":
                refuse(input)
            return fn(input, *args, **kwargs)

    op.__name__, op.__qualname__, op.__doc__ = fn.__name__, getattr(fn, "__qualname__", name), fn.__doc__
    return op


def _cast(dtype):
    def cast(self, memory_format=None):
        return self.to(dtype)

    return cast


tensor_methods(abs_=_no_complex_inplace("abs", Tensor.abs_), mH=property(adjoint), H=property(_conj_T),
               adjoint=adjoint)
tensor_methods(real=property(real, _set_part("real")), imag=property(imag, _set_part("imag")),
               conj=conj, conj_physical=conj_physical, conj_physical_=conj_physical_, resolve_conj=resolve_conj,
               resolve_neg=resolve_neg, is_conj=is_conj, is_neg=is_neg, angle=angle, is_complex=is_complex,
               isreal=isreal, sgn=sgn, cfloat=_cast(_dtype.complex64), cdouble=_cast(_dtype.complex128),
               chalf=_cast(_dtype.complex32))
from ._registry import PUBLIC_OPS as _PUBLIC_OPS  # noqa: E402

for _name in _NO_COMPLEX:
    if _name in _PUBLIC_OPS:
        _PUBLIC_OPS[_name] = _refusing_complex(_name, _PUBLIC_OPS[_name])
    if callable(getattr(Tensor, _name, None)):
        tensor_methods(**{_name: _refusing_complex(_name, getattr(Tensor, _name))})
public(complex, polar, view_as_real, view_as_complex, real, imag, conj, conj_physical, conj_physical_,
       resolve_conj, resolve_neg, is_conj, is_neg, angle, is_complex, isreal, sgn, adjoint)
