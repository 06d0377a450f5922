"""pad, normalize, pixel_shuffle / pixel_unshuffle, softmin.

pad follows torch's rules: `pad` lists (left, right) pairs starting from the LAST dimension.
'constant' pads any number of dims (negative amounts crop, in 'replicate' and 'circular' too); 'reflect',
'replicate' and 'circular' pad the last 1, 2 or 3 dims of a (batched or unbatched) input. Each padded axis is built from slices of the input
and concatenated, and its backward adds those slices back, so no index arrays and no scatter.
"""
import numpy as np

from ..._array import xp_of
from ...autograd.function import Function
from ...tensor import Tensor

__all__ = ["pad", "normalize", "pixel_shuffle", "pixel_unshuffle", "softmin"]


def _axis_slice(ndim, axis, sl):
    index = [slice(None)] * ndim
    index[axis] = sl
    return tuple(index)


def _replicate_index(xp, n, lo, hi):
    return xp.clip(xp.arange(-lo, n + hi), 0, n - 1)


def _pad_axis(xp, x, axis, lo, hi, mode, value):
    n = x.shape[axis]

    def take(sl):
        return x[_axis_slice(x.ndim, axis, sl)]

    if mode == "constant":
        x = take(slice(max(-lo, 0), n - max(-hi, 0)))  # negative padding crops
        parts = [x]
        for amount, at in ((lo, 0), (hi, 1)):
            if amount > 0:
                shape = list(x.shape)
                shape[axis] = amount
                parts.insert(at * len(parts), xp.full(shape, value, dtype=x.dtype))
        return xp.concatenate(parts, axis) if len(parts) > 1 else x
    if (lo < 0 or hi < 0) and mode == "replicate":  # out[i] = x[clamp(i - lo, 0, n - 1)], as PyTorch
        return xp.take(x, _replicate_index(xp, n, lo, hi), axis)
    if lo < 0 or hi < 0:  # circular: crop first, then wrap the cropped input (as PyTorch)
        x = take(slice(max(-lo, 0), n - max(-hi, 0)))
        return _pad_axis(xp, x, axis, max(lo, 0), max(hi, 0), mode, value)
    if mode == "reflect":
        left = xp.flip(take(slice(1, lo + 1)), axis)
        right = xp.flip(take(slice(n - 1 - hi, n - 1)), axis)
    elif mode == "replicate":
        left = xp.repeat(take(slice(0, 1)), lo, axis)
        right = xp.repeat(take(slice(n - 1, n)), hi, axis)
    else:  # circular
        left, right = take(slice(n - lo, n)), take(slice(0, hi))
    return xp.concatenate([left, x, right], axis)


def _unpad_axis(xp, g, axis, lo, hi, n, mode):
    """Gradient of _pad_axis: fold the padded slices of g back onto the input positions they copied."""
    def part(sl):
        return g[_axis_slice(g.ndim, axis, sl)]

    if mode == "constant":
        shape = list(g.shape)
        shape[axis] = n
        dx = xp.zeros(shape, dtype=g.dtype)
        src = part(slice(max(lo, 0), g.shape[axis] - max(hi, 0)))
        dx[_axis_slice(g.ndim, axis, slice(max(-lo, 0), n - max(-hi, 0)))] = src
        return dx
    if (lo < 0 or hi < 0) and mode == "replicate":
        from ...ops.index import add_at

        shape = list(g.shape)
        shape[axis] = n
        dx = xp.zeros(shape, dtype=g.dtype)
        add_at(dx, _axis_slice(g.ndim, axis, _replicate_index(xp, n, lo, hi)), g)
        return dx
    if lo < 0 or hi < 0:  # the cropped input's gradient, placed back into zeros
        cropped = _unpad_axis(xp, g, axis, max(lo, 0), max(hi, 0), n - max(-lo, 0) - max(-hi, 0), mode)
        return _unpad_axis(xp, cropped, axis, min(lo, 0), min(hi, 0), n, "constant")
    dx = part(slice(lo, lo + n)).copy()
    left, right = part(slice(0, lo)), part(slice(lo + n, lo + n + hi))

    def add(sl, values):
        dx[_axis_slice(g.ndim, axis, sl)] += values

    if mode == "reflect":
        add(slice(1, lo + 1), xp.flip(left, axis))
        add(slice(n - 1 - hi, n - 1), xp.flip(right, axis))
    elif mode == "replicate":
        add(slice(0, 1), left.sum(axis, keepdims=True))
        add(slice(n - 1, n), right.sum(axis, keepdims=True))
    else:
        add(slice(n - lo, n), left)
        add(slice(0, hi), right)
    return dx


class _Pad(Function):
    @staticmethod
    def forward(ctx, x, pads, mode, value):
        """pads: ((axis, lo, hi), ...) in the order torch lists them (last axis first)."""
        xp = xp_of(x)
        sizes = []
        for axis, lo, hi in pads:
            sizes.append(x.shape[axis])
            x = _pad_axis(xp, x, axis, lo, hi, mode, value)
        ctx.meta = (pads, mode, sizes)
        return x

    @staticmethod
    def backward(ctx, g):
        pads, mode, sizes = ctx.meta
        xp = xp_of(g)
        for (axis, lo, hi), n in zip(reversed(pads), reversed(sizes)):
            g = _unpad_axis(xp, g, axis, lo, hi, n, mode)
        return g, None, None, None

    @staticmethod
    def differentiable_backward(ctx, g):
        pads, mode, sizes = ctx.meta
        if mode == "constant":  # the gradient crops what was added (and zero-pads what was cropped): the same op
            return _Pad.apply(g, tuple((axis, -lo, -hi) for axis, lo, hi in pads), "constant", 0), None, None, None
        if any(lo < 0 or hi < 0 for _, lo, hi in pads):
            raise RuntimeError(f"the derivative of {mode} padding that crops is not implemented for create_graph=True")
        from ...ops.index import scatter_into
        from .conv import _pad_index

        for (axis, lo, hi), n in zip(reversed(pads), reversed(sizes)):  # each axis a gather: scatter-add it back
            target = tuple(g.shape[:axis]) + (n,) + tuple(g.shape[axis + 1:])
            idx = _pad_index(xp_of(g._data), n, lo, hi, mode)
            g = scatter_into(g, target, (slice(None),) * axis + (idx,), accumulate=True)
        return g, None, None, None


def pad(input, pad, mode="constant", value=None):
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but "
                           f"got padding length {len(pad)} and input of dimension {input.ndim}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    n_axes = len(pad) // 2
    pads = tuple((input.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]) for i in range(n_axes))
    if mode == "constant":
        value = 0 if value is None else value
    else:
        if value not in (None, 0):
            raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
        if n_axes not in (1, 2, 3) or input.ndim not in (n_axes + 1, n_axes + 2):
            raise NotImplementedError(
                f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\nSupported combinations "
                "for non-constant padding:\n  - 2D or 3D input: padding size = 2 (pads last dimension)\n  - 3D or "
                "4D input: padding size = 4 (pads last 2 dimensions)\n  - 4D or 5D input: padding size = 6 (pads "
                "last 3 dimensions)")
        for axis, lo, hi in pads:
            n = input.shape[axis]
            if mode == "reflect" and (lo >= n or hi >= n):
                raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input "
                                   f"dimension, but got: padding ({lo}, {hi}) at dimension {axis} of input "
                                   f"{list(input.shape)}")
            if mode == "circular" and (lo > n or hi > n):
                raise RuntimeError("Padding value causes wrapping around more than once.")
            if min(lo, hi) < 0 and mode == "reflect":
                raise RuntimeError(f"{mode} padding: negative padding ({lo}, {hi}) is only supported in "
                                   f"constant mode")
            if mode == "replicate" and n == 0 and (lo or hi):
                raise RuntimeError(f"padding of an empty dimension {axis} is not possible in replicate mode")
    for axis, lo, hi in pads:
        if input.shape[axis] + lo + hi < 0:
            raise RuntimeError(f"The input size {input.shape[axis]}, plus negative padding {lo} and {hi} resulted "
                               f"in a negative output size, which is invalid. Check dimension {axis} of your input.")
    return _pad_function(mode, n_axes).apply(input, pads, mode, value)


_PAD_NAMES = {}


def _pad_function(mode, n_axes):
    """_Pad under PyTorch's grad_fn name: ConstantPadNdBackward0, ReflectionPad2DBackward0, ... (circular,
    which PyTorch writes through slices, keeps _PadBackward0)."""
    if mode == "circular":
        return _Pad
    name = {"constant": "ConstantPadNd", "reflect": f"ReflectionPad{n_axes}D",
            "replicate": f"ReplicationPad{n_axes}D"}[mode]
    if name not in _PAD_NAMES:
        _PAD_NAMES[name] = type(name, (_Pad,), {"__module__": __name__, "__qualname__": name})
    return _PAD_NAMES[name]


class _Normalize(Function):
    """y = x / max(|x|_p, eps) along dim."""

    @staticmethod
    def forward(ctx, x, p, dim, eps):
        xp = xp_of(x)
        ax = xp.abs(x)
        if p == np.inf:
            norm = ax.max(dim, keepdims=True)
        elif p == 0:  # the count of nonzeros; its gradient is zero
            norm = (ax != 0).sum(dim, keepdims=True).astype(x.dtype)
        else:
            norm = (ax ** p).sum(dim, keepdims=True) ** (1.0 / p)
        denom = xp.maximum(norm, eps)
        ctx.save_for_backward(x)
        ctx.eps = eps
        ctx.meta = (p, dim, norm, denom, norm > eps)
        return x / denom

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        p, dim, norm, denom, free = ctx.meta
        xp = xp_of(g)
        ax = xp.abs(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == np.inf:
                hit = ax == norm
                dnorm = xp.sign(x) * hit / hit.sum(dim, keepdims=True)
            elif p == 0:
                dnorm = xp.zeros_like(x)
            else:
                dnorm = xp.sign(x) * ax ** (p - 1) / norm ** (p - 1)
        # d(x / n) = g / n - x * sum(g * x) / n^2 * dn/dx (only where the norm was not clamped to eps)
        inner = (g * x).sum(dim, keepdims=True) / (denom * denom)
        dx = g / denom - xp.where(free, inner * dnorm, 0)
        return dx, None, None, None

    @staticmethod
    def differentiable_backward(ctx, g):
        x, = ctx.saved_tensors
        p, dim, _, _, free = ctx.meta
        if p in (np.inf, 0):
            raise RuntimeError(f"the derivative of normalize with p={p} is not implemented for create_graph=True")
        free = Tensor._make(free)
        norm = (x.abs() ** p).sum(dim, keepdim=True) ** (1.0 / p)  # from x: its derivative counts
        denom = norm.clamp(min=ctx.eps)
        dnorm = x.sign() * x.abs() ** (p - 1) / norm ** (p - 1)
        inner = (g * x).sum(dim, keepdim=True) / (denom * denom)
        return g / denom - (inner * dnorm).masked_fill(~free, 0.0), None, None, None


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    from ...tensor import wrap_dim

    result = _Normalize.apply(input, float(p), wrap_dim(dim, input.ndim), float(eps))
    if out is not None:
        out.copy_(result)
        return out
    return result


def pixel_shuffle(input, upscale_factor):
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r)."""
    r = int(upscale_factor)
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
                           f"of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W)."""
    r = int(downscale_factor)
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but "
                           f"got {h}x{w} and {r}")
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    from .activation import softmax

    return softmax(-input, dim=dim, dtype=dtype)
