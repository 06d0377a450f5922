"""The rest of PyTorch's in-place methods, each the out-of-place op written back (see inplace.py), from tables
of names: alias spellings (absolute_, arccos_, fix_, ...), ops written back (addmm_, bitwise_and_, xlogy_, ...),
comparisons (eq_, lt_, ...), shape changes of the tensor itself (t_, transpose_, squeeze_, unsqueeze_,
as_strided_), fill_diagonal_, and the CPU-only Python-callable maps (apply_, map_, map2_). Also the top-level
torch.<name>_ functions, which are these methods. Imported last, so each wraps the method as finally defined
(complex refusals included)."""
import numpy as np

from .._array import xp_of
from ..autograd import grad_mode
from ..autograd.function import Function
from ..tensor import Tensor
from ._registry import PUBLIC_OPS, public, tensor_methods
from .inplace import _check_leaf, _differentiable_view, _inplace, apply_inplace, type_name
from .misc_ops import _storage, as_strided

# torch's second spelling of an op -> the op (in-place methods, out-of-place methods and top-level functions)
ALIASES = {"absolute": "abs", "arccos": "acos", "arccosh": "acosh", "arcsin": "asin", "arcsinh": "asinh",
           "arctan": "atan", "arctanh": "atanh", "arctan2": "atan2", "fix": "trunc", "negative": "neg",
           "greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le", "not_equal": "ne",
           "swapaxes": "transpose", "swapdims": "transpose"}
# ops whose in-place form is the out-of-place method's result written into the tensor
WRITTEN_BACK = ("addbmm", "addmm", "addmv", "addr", "baddbmm", "bitwise_and", "bitwise_or", "bitwise_xor",
                "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "copysign", "deg2rad", "rad2deg",
                "digamma", "erfinv", "gcd", "lcm", "heaviside", "hypot", "i0", "igamma", "igammac", "ldexp",
                "lgamma", "logical_and", "logical_or", "logical_xor", "logical_not", "logit", "mvlgamma",
                "nextafter", "polygamma", "renorm", "sinc", "tril", "triu", "xlogy", "index_reduce")
COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
SHAPE_CHANGES = ("transpose", "squeeze", "unsqueeze")
OPERATORS = {"__iand__": "bitwise_and_", "__ior__": "bitwise_or_", "__ixor__": "bitwise_xor_",
             "__ilshift__": "bitwise_left_shift_", "__irshift__": "bitwise_right_shift_"}
# torch.<name>(input, ...) in-place functions: the methods of the same name
TOP_LEVEL = ("abs_", "acos_", "acosh_", "asin_", "asinh_", "atan_", "atanh_", "arccos_", "arccosh_", "arcsin_",
             "arcsinh_", "arctan_", "arctanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_", "cos_",
             "cosh_", "deg2rad_", "rad2deg_", "erf_", "erfc_", "exp_", "exp2_", "expm1_", "fill_", "fix_", "floor_",
             "frac_", "gcd_", "lcm_", "i0_", "index_put_", "ldexp_", "log_", "log10_", "log1p_", "log2_", "logit_",
             "nan_to_num_", "neg_", "negative_", "reciprocal_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_",
             "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "addmv_", "as_strided_")


class ComparedValues(Function):
    """x.eq_(y) and the like: the comparison's 0/1 values in x's dtype, with PyTorch's zero gradient for both
    operands (EqBackward), so x stays in the graph."""

    @staticmethod
    def forward(ctx, x, values, other):
        ctx.shapes = (x.shape, x.dtype), getattr(other, "shape", None), getattr(other, "dtype", None)
        return values.astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x_shape, x_dtype), other_shape, other_dtype = ctx.shapes
        xp = xp_of(grad)
        return xp.zeros(x_shape, x_dtype), None, None if other_shape is None else xp.zeros(other_shape, other_dtype)


def _compared(compare):
    def op(input, other):
        with grad_mode.no_grad():
            values = compare(input, other)
        return ComparedValues.apply(input, values, other)

    return op


def _float_power_(self, exponent):
    complex_result = self.is_complex() or isinstance(exponent, complex) or (
        isinstance(exponent, Tensor) and exponent.is_complex())
    needed = np.dtype(np.complex128 if complex_result else np.float64)
    if self._data.dtype != needed:
        raise RuntimeError(f"the base given to float_power_ has dtype {type_name(self._data.dtype)} but the "
                           f"operation's result requires dtype {type_name(needed)}")
    return apply_inplace(self, Tensor.float_power, exponent)


def _shape_change(view, name):
    """t_, squeeze_, ...: the tensor becomes the view of its own memory; under autograd its grad_fn becomes the
    view's (TBackward, ...), as in PyTorch. The version counter moves, as for any in-place op."""

    def method(self, *args, **kwargs):
        _check_leaf(self)
        _differentiable_view(self, grad_mode.is_grad_enabled() and self._requires_grad)  # a view of a leaf: raises
        result = view(self, *args, **kwargs)
        self._data = result._data
        if result.grad_fn is not None:
            self.grad_fn, self._output_nr = result.grad_fn, result._output_nr
        self._version.value += 1
        return self

    method.__name__ = method.__qualname__ = name
    return method


def _t_view(input):
    if input.ndim > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return input.t()


def _strided_view(input, size, stride, storage_offset=None):
    """as_strided's values and gradient, its memory a view of input's storage (for as_strided_)."""
    result = as_strided(input, size, stride, storage_offset)
    storage, own_offset, _ = _storage(input)
    offset = own_offset if storage_offset is None else int(storage_offset)
    result._data = xp_of(storage).lib.stride_tricks.as_strided(
        storage[offset:], tuple(size), tuple(s * storage.itemsize for s in stride))
    return result


def _fill_diagonal(input, fill_value, wrap=False):
    """input with fill_value on its main diagonal (every dim's index equal); a tall 2-D input with wrap=True
    restarts the diagonal every ncols + 1 rows, as numpy.fill_diagonal."""
    shape = tuple(input.shape)
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    if len(shape) == 2 and wrap and shape[0] > shape[1] + 1:
        key = np.unravel_index(np.arange(0, input.numel(), shape[1] + 1), shape)
    else:
        key = (np.arange(min(shape)),) * len(shape)
    mask = np.zeros(shape, dtype=bool)
    mask[key] = True
    return input.masked_fill(Tensor._make(xp_of(input._data).asarray(mask)), fill_value)


def fill_diagonal_(self, fill_value, wrap=False):
    return apply_inplace(self, _fill_diagonal, fill_value, wrap)


def _python_map(name, self, fn, others):
    """apply_ / map_ / map2_: fn called on Python numbers, element by element (CPU only, no autograd)."""
    for t in (self,) + others:
        if t._requires_grad:
            raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use var.detach().{name}() "
                               "instead.")
    if type(self._data) is not np.ndarray:
        raise RuntimeError(f"{name} is only implemented on CPU tensors")
    for t in others:
        if t._data.dtype != self._data.dtype:
            raise TypeError(f"{name}: expected {self.type()} for 'other' (got {t.type()})")
    columns = [self._data.reshape(-1).tolist()] + [t.expand(self.shape)._data.reshape(-1).tolist() for t in others]
    values = [fn(*args) for args in zip(*columns)]
    self._data[...] = np.array(values, dtype=self._data.dtype).reshape(self._data.shape)
    return self


def apply_(self, callable):
    return _python_map("apply_", self, callable, ())


def map_(self, tensor, callable):
    return _python_map("map_", self, callable, (tensor,))


def map2_(self, x, y, callable):
    return _python_map("map2_", self, callable, (x, y))


tensor_methods(**{name + "_": _inplace(getattr(Tensor, name), name + "_") for name in WRITTEN_BACK})
tensor_methods(**{name + "_": _inplace(_compared(getattr(Tensor, name)), name + "_") for name in COMPARISONS})
tensor_methods(**{name + "_": _shape_change(getattr(Tensor, name), name + "_") for name in SHAPE_CHANGES},
               t_=_shape_change(_t_view, "t_"), as_strided_=_shape_change(_strided_view, "as_strided_"),
               float_power_=_float_power_, fill_diagonal_=fill_diagonal_, apply_=apply_, map_=map_, map2_=map2_)
tensor_methods(**{name: getattr(Tensor, op) for name, op in OPERATORS.items()})
# the alias spellings PyTorch has and mytorch lacks: the very same method or function
tensor_methods(**{alias + suffix: getattr(Tensor, name + suffix) for alias, name in ALIASES.items()
                  for suffix in ("", "_") if not hasattr(Tensor, alias + suffix)})
public(**{alias: PUBLIC_OPS[name] for alias, name in ALIASES.items() if alias not in PUBLIC_OPS})
public(**{name: getattr(Tensor, name) for name in TOP_LEVEL})
