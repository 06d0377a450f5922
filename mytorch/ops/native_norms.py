"""torch.native_layer_norm / native_batch_norm / native_group_norm (the normalized output plus the saved
statistics), and nonzero_static. Composites of mytorch ops: the output's gradient comes from those; as in
PyTorch, layer and batch norm's statistics are not differentiable outputs (group norm's are)."""
import numpy as np


from .._array import xp_of
from ..tensor import Tensor
from ._registry import public


def _m():
    import mytorch

    return mytorch


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """(out, mean, rstd); the statistics keep the reduced dims as size 1."""
    dims = list(range(input.ndim - len(normalized_shape), input.ndim))
    mean = input.mean(dims, keepdim=True)
    var = ((input - mean) ** 2).mean(dims, keepdim=True)
    rstd = (var + eps).rsqrt()
    out = (input - mean) * rstd
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out, mean.detach(), rstd.detach()


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """(out, save_mean, save_invstd): batch statistics in training (updating the running ones), else empty."""
    m = _m()
    dims = [0] + list(range(2, input.ndim))
    shape = [1, -1] + [1] * (input.ndim - 2)
    if training:
        mean = input.mean(dims)
        var = ((input - mean.reshape(shape)) ** 2).mean(dims)
        invstd = (var + eps).rsqrt()
        if running_mean is not None or running_var is not None:
            n = input.numel() // input.shape[1]
            with m.no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
                if running_var is not None:
                    running_var.mul_(1 - momentum).add_(var.detach() * (momentum * n / max(n - 1, 1)))
        out = (input - mean.reshape(shape)) * invstd.reshape(shape)
        save_mean, save_invstd = mean, invstd
    else:
        out = (input - running_mean.reshape(shape)) * (running_var.reshape(shape) + eps).rsqrt()
        save_mean = save_invstd = m.empty(0, dtype=input.dtype)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out, save_mean.detach(), save_invstd.detach()


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """(out, mean, rstd) with statistics of shape (N, group)."""
    x = input.reshape(N, group, -1)
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    rstd = (var + eps).rsqrt()
    out = ((x - mean) * rstd).reshape(input.shape)
    shape = [1, C] + [1] * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out, mean.reshape(N, group), rstd.reshape(N, group)  # these stay differentiable in PyTorch


def nonzero_static(input, *, size, fill_value=-1):
    """nonzero() cut or padded (with fill_value) to exactly `size` rows."""
    idx = _m().nonzero(input)
    xp = xp_of(idx._data)
    rows = idx._data[:size]
    if rows.shape[0] < size:
        pad = xp.full((size - rows.shape[0], idx.shape[1]), fill_value, dtype=np.int64)
        rows = xp.concatenate([rows, pad], 0)
    return Tensor._make(rows.astype(np.int64))


public(native_layer_norm, native_batch_norm, native_group_norm, nonzero_static)

