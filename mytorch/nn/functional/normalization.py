"""Normalization layers, functional form: layer_norm, rms_norm, batch_norm, instance_norm, group_norm,
local_response_norm.

Every normalization is one Function, `_Norm`: y = (x - mean) * rstd * w + b, the statistics taken over
some axes of x viewed as `stat_shape` (GroupNorm views (N, C, ...) as (N, G, -1)). The backward is the
closed form, recomputing xhat from the saved input instead of keeping it (memory-lean):
    g = dy * w,   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))     (RMS: no mean(g) term;
                                                                          fixed eval stats: dx = rstd * g)
    dw = sum(dy * xhat),  db = sum(dy)   over the axes the parameters broadcast along.
"""
import math

import numpy as np

from ... import cpu_kernels
from ..._array import on_device, xp_of
from ...autograd.function import Function, autocast
from .linear import _use_fused

__all__ = ["layer_norm", "rms_norm", "batch_norm", "instance_norm", "group_norm", "local_response_norm"]


def _acc_dtype(dtype):
    """Statistics of half-precision inputs are accumulated in float32."""
    return np.float32 if np.dtype(dtype).itemsize < 4 else dtype


class _Norm(Function):
    """fused=True (LayerNorm/RMSNorm over trailing axes): the Triton kernels (mytorch.kernels.layer_norm) see
    x as rows (M, N) with N = prod(param_shape) and save only the (M,) statistics, as the numpy body does."""

    @staticmethod
    def forward(ctx, x, weight, bias, stat_shape, axes, param_shape, eps, rms=False, fixed_stats=None,
                stats_out=None, fused=False):
        """fixed_stats: (mean, var) broadcastable to stat_shape (BatchNorm eval) - no gradient through them.
        stats_out: a list that receives the batch (mean, var) (used to update running statistics)."""
        ctx.fused, ctx.eps = fused, eps
        ctx.shapes = (stat_shape, axes, param_shape, fixed_stats is not None, None if bias is None else bias.shape)
        if fused:
            from ...kernels import layer_norm as kernel

            n = math.prod(param_shape)
            w2, b2 = (None if p is None else p.reshape(n) for p in (weight, bias))
            y, _, mean, rstd = kernel.norm_fwd(x.reshape(-1, n), w2, b2, eps, rms=rms)
            ctx.save_for_backward(x, weight, mean, rstd)
            return y.reshape(x.shape)
        k = len(param_shape)
        ctx.cpu_rows = (fixed_stats is None and stats_out is None and tuple(stat_shape) == x.shape
                        and axes == tuple(range(x.ndim - k, x.ndim)) and cpu_kernels.use(x, weight, bias))
        if ctx.cpu_rows:  # the compiled CPU body: rows of the trailing normalized dims
            from ...cpu_kernels import layer_norm as cpu

            n = math.prod(param_shape)
            y, mean, rstd = cpu.forward(x.reshape(-1, n), None if weight is None else weight.reshape(n),
                                        None if bias is None else bias.reshape(n), eps, rms)
            keep = x.shape[:x.ndim - k] + (1,) * k
            ctx.save_for_backward(x, weight, None if rms else mean.reshape(keep), rstd.reshape(keep))
            return y.reshape(x.shape)
        xp = xp_of(x)
        acc = _acc_dtype(x.dtype)
        xs = x.reshape(stat_shape)
        if xs.dtype != acc:
            xs = xs.astype(acc)
        if fixed_stats is not None:
            mean, var = fixed_stats
        elif rms:
            mean = None
            var = xp.mean(xs * xs, axis=axes, keepdims=True)
        else:
            mean = xp.mean(xs, axis=axes, keepdims=True)
            xc = xs - mean
            var = xp.mean(xc * xc, axis=axes, keepdims=True)
        if stats_out is not None:
            stats_out.append((mean, var))
        rstd = 1.0 / xp.sqrt(var + eps)
        rstd = rstd.astype(acc, copy=False)
        xhat = (xs if mean is None else xs - mean) * rstd
        y = xhat.reshape(x.shape)
        if weight is not None:
            y = y * weight.reshape(param_shape)
        if bias is not None:
            y = y + bias.reshape(param_shape)
        ctx.save_for_backward(x, weight, mean, rstd)
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, dy):
        x, weight, mean, rstd = ctx.saved_tensors
        stat_shape, axes, param_shape, fixed, bias_shape = ctx.shapes
        if ctx.fused:
            from ...kernels import layer_norm as kernel

            n = math.prod(param_shape)
            need = ctx.needs_input_grad
            dx, dw, db = kernel.norm_bwd(dy.reshape(-1, n), x.reshape(-1, n),
                                         None if weight is None else weight.reshape(n), mean, rstd,
                                         rms=mean is None, has_bias=bias_shape is not None,
                                         need_weight_grad=need[1] or need[2])
            dw = None if dw is None else dw.reshape(weight.shape)
            db = None if db is None else db.reshape(bias_shape)
            return dx.reshape(x.shape), dw, db, None, None, None, None, None, None, None, None
        if ctx.cpu_rows and type(dy) is np.ndarray and dy.dtype == x.dtype:
            from ...cpu_kernels import layer_norm as cpu

            n = math.prod(param_shape)
            need = ctx.needs_input_grad
            rms = mean is None
            dx, dw, db = cpu.backward(np.ascontiguousarray(dy).reshape(-1, n), x.reshape(-1, n),
                                      None if weight is None else weight.reshape(n),
                                      np.zeros(len(rstd.reshape(-1)), np.float32) if rms else mean.reshape(-1),
                                      rstd.reshape(-1), rms, need[0], need[1] or need[2])
            dx = None if dx is None else dx.reshape(x.shape)
            dw = dw.reshape(weight.shape) if weight is not None and need[1] else None
            db = db.reshape(bias_shape) if bias_shape is not None and need[2] else None
            return dx, dw, db, None, None, None, None, None, None, None, None
        xp = xp_of(dy)
        acc = _acc_dtype(x.dtype)
        dy = dy.astype(acc, copy=False)
        xs = x.reshape(stat_shape).astype(acc, copy=False)
        xhat = (xs if mean is None else xs - mean) * rstd
        g = (dy if weight is None else dy * weight.reshape(param_shape)).reshape(stat_shape)
        dx = None
        if ctx.needs_input_grad[0]:
            if fixed:
                dx = g * rstd
            else:
                proj = xp.mean(g * xhat, axis=axes, keepdims=True)
                centred = g - xhat * proj
                if mean is not None:
                    centred -= xp.mean(g, axis=axes, keepdims=True)
                dx = rstd * centred
            dx = dx.reshape(x.shape).astype(x.dtype, copy=False)
        # parameters broadcast along every axis where param_shape is 1
        pshape = (1,) * (x.ndim - len(param_shape)) + tuple(param_shape)
        red = tuple(i for i, s in enumerate(pshape) if s == 1)
        dw = db = None
        if weight is not None and ctx.needs_input_grad[1]:
            dw = xp.sum(dy * xhat.reshape(x.shape), axis=red).reshape(weight.shape).astype(weight.dtype)
        if bias_shape is not None and ctx.needs_input_grad[2]:
            db = xp.sum(dy, axis=red).reshape(bias_shape)
        return dx, dw, db, None, None, None, None, None, None, None, None

    @staticmethod
    def differentiable_backward(ctx, dy):
        """backward's closed form in recorded Tensor ops, the statistics recomputed from x (their derivatives
        count); fixed (eval) statistics stay constants."""
        x, weight, mean, rstd = ctx.saved_tensors
        stat_shape, axes, param_shape, fixed, bias_shape = ctx.shapes
        need = ctx.needs_input_grad
        xs = x.reshape(stat_shape)
        if fixed:
            xhat = (xs - mean) * rstd
        else:
            centred = xs if mean is None else xs - xs.mean(axes, keepdim=True)
            rstd = ((centred * centred).mean(axes, keepdim=True) + ctx.eps).rsqrt()
            xhat = centred * rstd
        g = (dy if weight is None else dy * weight.reshape(param_shape)).reshape(stat_shape)
        dx = dw = db = None
        if need[0]:
            if fixed:
                dx = g * rstd
            else:
                dx = g - xhat * (g * xhat).mean(axes, keepdim=True)
                if mean is not None:
                    dx = dx - g.mean(axes, keepdim=True)
                dx = rstd * dx
            dx = dx.reshape(x.shape)
        pshape = (1,) * (x.ndim - len(param_shape)) + tuple(param_shape)
        red = tuple(i for i, n in enumerate(pshape) if n == 1)

        def reduce(t):
            return t.sum(red) if red else t

        if weight is not None and need[1]:
            dw = reduce(dy * xhat.reshape(x.shape)).reshape(weight.shape)
        if bias_shape is not None and need[2]:
            db = reduce(dy).reshape(bias_shape)
        return dx, dw, db, None, None, None, None, None, None, None, None


def _as_shape(normalized_shape):
    if isinstance(normalized_shape, (int, np.integer)):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


def _check_normalized(fn, x, shape, weight, bias):
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size{list(x.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise RuntimeError(f"{fn}: Expected {name} to be of same shape as normalized_shape, but got "
                               f"{name} of shape {list(p.shape)} and normalized_shape = {list(shape)}")


def _trailing_norm(fn, input, normalized_shape, weight, bias, eps, rms, fused):
    """layer_norm / rms_norm over the trailing dims given by normalized_shape; fused: nn's request."""
    shape = _as_shape(normalized_shape)
    _check_normalized(fn, input, shape, weight, bias)
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    # the kernel needs non-empty rows and operands of one dtype
    fused = (math.prod(shape) > 0 and all(p is None or p.dtype == input.dtype for p in (weight, bias))
             and _use_fused(fn, fused, input, weight, bias))
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    return _Norm.apply(input, weight, bias, input.shape, axes, shape, eps, rms, None, None, fused)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    return _layer_norm(input, normalized_shape, weight, bias, eps)


def _layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, fused=None):
    """F.layer_norm with nn.LayerNorm's `fused` request (None: the global switch decides)."""
    if autocast.enabled:
        input, weight, bias = autocast.cast("layer_norm", input, weight, bias)
    return _trailing_norm("layer_norm", input, normalized_shape, weight, bias, eps, False, fused)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """y = x / sqrt(mean(x^2) + eps) * weight; eps=None means torch.finfo(input.dtype).eps."""
    return _rms_norm(input, normalized_shape, weight, eps)


def _rms_norm(input, normalized_shape, weight=None, eps=None, fused=None):
    """F.rms_norm with nn.RMSNorm's `fused` request (None: the global switch decides)."""
    return _trailing_norm("rms_norm", input, normalized_shape, weight, None, eps, True, fused)


def _channel_shape(x):
    """Parameters of (N, C, *) normalizations broadcast as (C, 1, ..., 1)."""
    return (x.shape[1],) + (1,) * (x.ndim - 2)


def _update_running(running, batch_value, momentum):
    """running = (1 - momentum) * running + momentum * batch, in place (running statistics are buffers)."""
    data = running._data
    with on_device(running.device):  # cupy computes on the current GPU
        data *= 1 - momentum
        data += (momentum * batch_value).astype(data.dtype, copy=False)
    running._version.value += 1


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-05):
    """Statistics over (N, *) per channel of (N, C, *). In training, running stats (when given) are
    updated with the batch mean and the unbiased batch variance."""
    if input.ndim < 2:
        # PyTorch reads a 1-D input's channel count as 0: only an empty input with empty stats works
        for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                        ("bias", bias)):
            if t is not None and t.numel() != 0:
                raise RuntimeError(f"{name} should contain 0 elements not {t.numel()}")
        if input.numel() == 0 and (training or running_mean is not None):
            return input * 1
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.numel() != input.shape[1]:
            raise RuntimeError(f"{name} should contain {input.shape[1]} elements not {t.numel()}")
    axes = (0,) + tuple(range(2, input.ndim))
    pshape = _channel_shape(input)
    if training:
        count = input.numel() // input.shape[1]
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"torch.Size({list(input.shape)})")
        stats = []
        out = _Norm.apply(input, weight, bias, input.shape, axes, pshape, eps, False, None, stats)
        if running_mean is not None or running_var is not None:
            mean, var = stats[0]
            with on_device(input.device):
                if running_mean is not None:
                    _update_running(running_mean, mean.reshape(-1), momentum)
                if running_var is not None:
                    _update_running(running_var, var.reshape(-1) * (count / (count - 1)), momentum)
        return out
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode")
    acc = _acc_dtype(input._data.dtype)
    fixed = (running_mean._data.astype(acc).reshape(pshape), running_var._data.astype(acc).reshape(pshape))
    return _Norm.apply(input, weight, bias, input.shape, axes, pshape, eps, False, fixed)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-05):
    """Statistics over the spatial axes of each (sample, channel) of (N, C, *)."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected at least 3D input (N, C, *), got {input.ndim}D")
    pshape = _channel_shape(input)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is "
                               "false")
        acc = _acc_dtype(input._data.dtype)
        fixed = (running_mean._data.astype(acc).reshape(pshape), running_var._data.astype(acc).reshape(pshape))
        return _Norm.apply(input, weight, bias, input.shape, tuple(range(2, input.ndim)), pshape, eps, False,
                           fixed)
    count = math.prod(input.shape[2:])
    if count <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"torch.Size({list(input.shape)})")
    stats = []
    out = _Norm.apply(input, weight, bias, input.shape, tuple(range(2, input.ndim)), pshape, eps, False, None,
                      stats)
    mean, var = stats[0]
    n, c = input.shape[:2]
    if running_mean is not None:  # running stats average the per-instance stats over the batch
        _update_running(running_mean, mean.reshape(n, c).mean(0), momentum)
    if running_var is not None:
        _update_running(running_var, var.reshape(n, c).mean(0) * (count / (count - 1)), momentum)
    return out


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Statistics over each group of C // num_groups channels (and all spatial positions) per sample."""
    if autocast.enabled:
        input, weight, bias = autocast.cast("group_norm", input, weight, bias)
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input "
                           f"of shape {list(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {list(t.shape)} and input of shape {list(input.shape)}")
    return _Norm.apply(input, weight, bias, (n, num_groups, -1), (2,), _channel_shape(input), eps)


class _LocalResponseNorm(Function):
    """y = x / (k + alpha/size * sum_{window} x^2)^beta, the window running over `size` channels
    (size//2 before, (size-1)//2 after) of (N, C, *)."""

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        xp = xp_of(x)
        sq = x * x
        # windowed channel sum through a cumulative sum, padded so every window is a difference
        before, after = size // 2, (size - 1) // 2
        c = x.shape[1]
        pad = [(0, 0)] * x.ndim
        pad[1] = (before + 1, after)
        csum = xp.cumsum(xp.pad(sq, pad), axis=1)
        win = csum[:, size:size + c] - csum[:, :c]
        denom = k + (alpha / size) * win
        y = x * denom ** -beta
        ctx.save_for_backward(x, denom)
        ctx.params = (size, alpha, beta)
        return y

    @staticmethod
    def backward(ctx, dy):
        x, denom = ctx.saved_tensors
        size, alpha, beta = ctx.params
        xp = xp_of(dy)
        scale = denom ** -beta
        # d y_c / d x_j = scale_c [c==j] - 2 beta alpha/size x_c x_j denom_c^(-beta-1) for j in window(c)
        t = dy * x * scale / denom
        before, after = size // 2, (size - 1) // 2
        c = x.shape[1]
        pad = [(0, 0)] * x.ndim
        pad[1] = (after + 1, before)  # the transposed window: channel j collects c in [j - after, j + before]
        csum = xp.cumsum(xp.pad(t, pad), axis=1)
        win = csum[:, size:size + c] - csum[:, :c]
        return dy * scale - (2 * beta * alpha / size) * x * win, None, None, None, None


def local_response_norm(input, size, alpha=0.0001, beta=0.75, k=1.0):
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    return _LocalResponseNorm.apply(input, int(size), float(alpha), float(beta), float(k))
