"""pdist, channel_shuffle and rrelu (functional form), each one Function named as PyTorch's grad_fn."""
import math

import numpy as np

from ..._array import xp_of
from ...autograd.function import Function, autocast
from ...ops.inplace import apply_inplace

__all__ = ["pdist", "channel_shuffle", "native_channel_shuffle", "rrelu", "rrelu_"]


# ---------------------------------------------------------------------------------------------
# pdist: |x_i - x_j|_p for every row pair i < j, in torch.triu_indices order
# ---------------------------------------------------------------------------------------------
class Pdist(Function):
    @staticmethod
    def forward(ctx, x, p):
        xp = xp_of(x)
        i, j = xp.triu_indices(x.shape[0], 1)
        ad = xp.abs(x[i] - x[j])
        if p == 0:
            dist = (ad != 0).sum(1).astype(x.dtype)
        elif p == math.inf:
            dist = ad.max(1) if ad.shape[1] else xp.zeros(len(i), x.dtype)
        else:
            dist = (ad ** p).sum(1) ** (1.0 / p)
        ctx.save_for_backward(x)
        ctx.meta = (p, i, j, dist)
        return dist.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        from ...ops.index import add_at

        (x,) = ctx.saved_tensors
        p, i, j, dist = ctx.meta
        xp = xp_of(g)
        d = x[i] - x[j]
        ad, dist = xp.abs(d), dist[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                dd = xp.zeros_like(d)
            elif p == math.inf:
                dd = xp.sign(d) * (ad == dist)
            elif p == 1:
                dd = xp.sign(d)
            else:  # PyTorch leaves 0 where the distance is 0, and where d is 0 for p < 1
                dd = xp.sign(d) * ad ** (p - 1) / dist ** (p - 1)
                dd = xp.where((dist == 0) | ((d == 0) & (p < 1)), 0, dd)
        dd = dd * g[:, None]
        dx = xp.zeros_like(x)
        add_at(dx, i, dd)
        add_at(dx, j, -dd)
        return dx, None


def pdist(input, p=2):
    if autocast.enabled:
        (input,) = autocast.cast("pdist", input)
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.is_floating_point():
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    return Pdist.apply(input, float(p))


# ---------------------------------------------------------------------------------------------
# channel_shuffle: (N, g * c, *) -> (N, c, g, *) -> (N, g * c, *)
# ---------------------------------------------------------------------------------------------
def _shuffle(xp, x, groups):
    n, channels, rest = x.shape[0], x.shape[1], x.shape[2:]
    y = x.reshape((n, groups, channels // groups) + rest).swapaxes(1, 2)
    return xp.ascontiguousarray(y).reshape(x.shape)


class ChannelShuffle(Function):
    @staticmethod
    def forward(ctx, x, groups):
        ctx.groups = groups
        return _shuffle(xp_of(x), x, groups)

    @staticmethod
    def backward(ctx, g):  # the inverse permutation is the shuffle with channels // groups groups
        return _shuffle(xp_of(g), g, g.shape[1] // ctx.groups), None


def channel_shuffle(input, groups):
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"channel_shuffle(): argument 'groups' (position 2) must be int, not "
                        f"{type(groups).__name__}")
    if input.dim() < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    channels = input.shape[1]
    if channels % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {channels} channels and "
                           f"{groups} groups.")
    return ChannelShuffle.apply(input, groups)


native_channel_shuffle = channel_shuffle


# ---------------------------------------------------------------------------------------------
# rrelu: x for x >= 0, a * x below; a ~ U(lower, upper) per element in training, (lower + upper) / 2 in eval
# ---------------------------------------------------------------------------------------------
class RreluWithNoise(Function):
    @staticmethod
    def forward(ctx, x, noise):
        ctx.save_for_backward(noise)
        return (x * noise).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (noise,) = ctx.saved_tensors
        return g * noise, None


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    from ...ops.factory import empty_like

    if not input.is_floating_point():
        raise NotImplementedError(f"\"rrelu_with_noise\" not implemented for '{str(input.dtype).split('.')[-1]}'")
    if lower > upper:
        raise RuntimeError(f"Lower bound should be less than or equal to the upper bound, got lower={lower} and "
                           f"upper={upper}")
    x = input._data
    xp = xp_of(x)
    if training:
        slopes = empty_like(input).uniform_(lower, upper)._data
    else:
        slopes = xp.asarray((lower + upper) / 2, dtype=x.dtype)
    noise = xp.where(x > 0, xp.asarray(1, dtype=x.dtype), slopes).astype(x.dtype, copy=False)
    if inplace:
        return apply_inplace(input, lambda t: RreluWithNoise.apply(t, noise))
    return RreluWithNoise.apply(input, noise)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)
