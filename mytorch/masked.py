"""mytorch.masked: torch.masked's reductions and normalizations on strided tensors with a boolean mask.

Masked-out elements are replaced by the operation's identity (0 for sum, 1 for prod, -inf for amax, ...)
before the ordinary op runs, so gradients flow only to the elements the mask keeps.
"""
import math

from . import _dtype


def _m():
    import mytorch

    return mytorch


def _mask(input, mask):
    m = _m()
    if mask is None:
        return m.ones_like(input, dtype=_dtype.bool_)
    mask = mask if mask.dtype == _dtype.bool_ else mask.bool()
    return mask.expand(*input.shape) if tuple(mask.shape) != tuple(input.shape) else mask


def _fill(input, mask, value):
    m = _m()
    return m.where(_mask(input, mask), input, m.full_like(input, value))


def _dims(input, dim):
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return list(range(input.ndim))
    return [dim] if isinstance(dim, int) else list(dim)


def _cast(input, dtype):
    return input.to(dtype) if dtype is not None and input.dtype != dtype else input


def sum(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _fill(_cast(input, dtype), mask, 0)
    return x.sum(_dims(x, dim), keepdim=keepdim) if x.ndim else x.sum()


def prod(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _fill(_cast(input, dtype), mask, 1)
    if dim is None or x.ndim == 0:
        out = x.prod()
        return out.reshape([1] * x.ndim) if keepdim else out
    for d in sorted((d % x.ndim for d in _dims(x, dim)), reverse=True):
        x = x.prod(d, keepdim=keepdim)
    return x


def cumsum(input, dim, *, dtype=None, mask=None):
    return _fill(_cast(input, dtype), mask, 0).cumsum(dim)


def cumprod(input, dim, *, dtype=None, mask=None):
    return _fill(_cast(input, dtype), mask, 1).cumprod(dim)


def amax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    x = _fill(x, mask, -math.inf if x.dtype.is_floating_point else int(x.min()))
    return x.amax(_dims(x, dim), keepdim=keepdim)


def amin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    x = _fill(x, mask, math.inf if x.dtype.is_floating_point else int(x.max()))
    return x.amin(_dims(x, dim), keepdim=keepdim)


def argmax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _fill(_cast(input, dtype), mask, -math.inf)
    return x.argmax(dim, keepdim=keepdim).to(x.dtype)  # torch.masked returns indices in the input's dtype


def argmin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _fill(_cast(input, dtype), mask, math.inf)
    return x.argmin(dim, keepdim=keepdim).to(x.dtype)  # torch.masked returns indices in the input's dtype


def _count(input, dim, keepdim, mask, dtype):
    return _mask(input, mask).to(dtype).sum(_dims(input, dim), keepdim=keepdim)


def mean(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    if not x.dtype.is_floating_point:
        x = x.to(_dtype.get_default_dtype())
    total = sum(x, dim, keepdim=keepdim, mask=mask)
    return total / _count(x, dim, keepdim, mask, x.dtype)


def median(input, dim=-1, *, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    x = _fill(x, mask, math.nan)
    if x.ndim == 0:
        return x.clone()
    return x.nanmedian(dim, keepdim=keepdim).values


def _var(input, dim, unbiased, correction, keepdim, dtype, mask):
    m = _m()
    x = _cast(input, dtype)
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    count = _count(x, dim, True, mask, x.dtype)
    avg = sum(x, dim, keepdim=True, mask=mask) / count
    dev = x - avg
    total = sum(dev * dev, dim, keepdim=keepdim, mask=mask)
    denom = _count(x, dim, keepdim, mask, x.dtype) - correction
    return total / m.clamp(denom, min=0)


def var(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    return _var(input, dim, unbiased, correction, keepdim, dtype, mask)


def std(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    return _var(input, dim, unbiased, correction, keepdim, dtype, mask).sqrt()


def norm(input, ord=2.0, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _cast(input, dtype)
    identity = math.inf if ord == -math.inf else 0.0
    return _m().linalg.vector_norm(_fill(x, mask, identity), ord, _dims(x, dim), keepdim)


def softmax(input, dim, *, dtype=None, mask=None):
    return _fill(_cast(input, dtype), mask, -math.inf).softmax(dim)


def log_softmax(input, dim, *, dtype=None, mask=None):
    return _fill(_cast(input, dtype), mask, -math.inf).log_softmax(dim)


def softmin(input, dim, *, dtype=None, mask=None):
    return _fill(-_cast(input, dtype), mask, -math.inf).softmax(dim)


def normalize(input, ord, dim, *, eps=1e-12, dtype=None, mask=None):
    m = _m()
    x = _cast(input, dtype)
    nrm = norm(x, ord, dim, keepdim=True, mask=mask)
    return _fill(x, mask, 0) / m.clamp(nrm, min=eps)


def logsumexp(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    x = _fill(_cast(input, dtype), mask, -math.inf)
    return x.logsumexp(_dims(x, dim), keepdim=keepdim)


def logaddexp(input, other, *, dtype=None, input_mask=None, other_mask=None):
    a = _fill(_cast(input, dtype), input_mask, -math.inf)
    b = _fill(_cast(other, dtype), other_mask, -math.inf)
    return _m().logaddexp(a, b)


# ---------------------------------------------------------------------------------------------
# canonical masks (torch.masked's helpers, used to tell which outputs are defined)
# ---------------------------------------------------------------------------------------------
_REDUCTIONS = {"sum", "prod", "amax", "amin", "argmax", "argmin", "mean", "median", "norm", "var", "std",
               "logsumexp"}
_NORMALIZATIONS = {"softmax", "log_softmax", "softmin", "normalize", "cumsum", "cumprod"}


def _input_mask(input, *args, **kwargs):
    """The mask as a bool tensor of input's shape."""
    return _mask(input, kwargs.get("mask"))


def _output_mask(op, input, *args, **kwargs):
    """Which elements of op(input, ...) have at least one unmasked input."""
    name = op.__name__
    if name in _REDUCTIONS:
        if name == "norm" and args:
            args = args[1:]  # drop ord
        dim = args[0] if args else kwargs.get("dim")
        keep = _input_mask(input, *args, **kwargs)
        return _any(keep, _dims(input, dim), bool(kwargs.get("keepdim")))
    if name in _NORMALIZATIONS:
        return _input_mask(input, *args, **kwargs)
    raise ValueError(f"_output_mask expected masked operation (got callable {op.__module__}.{name})")


def _any(mask, dims, keepdim):
    out = mask.to(_dtype.int64).sum(dims, keepdim=keepdim) if mask.ndim else mask.to(_dtype.int64)
    return out > 0
