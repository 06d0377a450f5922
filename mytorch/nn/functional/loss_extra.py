"""Margin losses over classes, Gaussian NLL, triplet loss with a distance function (functional form).

multi_margin_loss and multilabel_margin_loss are single Functions with a manual backward (PyTorch's
MultiMarginLossBackward0 / MultilabelMarginLossBackward0); the others compose differentiable ops, as
PyTorch's own Python definitions do. ctc_loss lives in .ctc.
"""
import dataclasses
import math

from ..._array import xp_of
from ...autograd.function import Function, autocast
from .loss import _reduction, _tname, pairwise_distance

__all__ = ["multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "gaussian_nll_loss",
           "triplet_margin_with_distance_loss", "linear_cross_entropy", "LinearCrossEntropyOptions"]


def _reduce(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _divisor(reduction, n):
    return n if reduction == "mean" else 1


# ---------------------------------------------------------------------------------------------
# multi_margin_loss: sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C per row
# ---------------------------------------------------------------------------------------------
def _margins(xp, x, target, margin):
    """Rows of x (N, C): z = margin - x_y + x_i, where it counts (z > 0, i != y), the targets, N and C."""
    x2 = x.reshape(-1, x.shape[-1] if x.ndim else 1)
    N, C = x2.shape
    rows = xp.arange(N)
    t = target.reshape(-1)
    z = margin - x2[rows, t][:, None] + x2
    active = z > 0
    active[rows, t] = False
    return z, active, t, N, C


class MultiMarginLoss(Function):
    @staticmethod
    def forward(ctx, x, target, weight, p, margin, reduction, out_shape):
        xp = xp_of(x)
        z, active, t, N, C = _margins(xp, x, target, margin)
        h = xp.where(active, z if p == 1 else z * z, 0)
        w_t = None if weight is None else weight[t][:, None].astype(x.dtype, copy=False)
        if w_t is not None:
            h = h * w_t
        loss = h.sum(1) / C
        ctx.save_for_backward(x, target, weight)
        ctx.meta = (p, margin, reduction, out_shape)
        if reduction == "none":
            return loss.reshape(out_shape).astype(x.dtype, copy=False)
        return xp.asarray(loss.sum() / _divisor(reduction, N)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, target, weight = ctx.saved_tensors
        p, margin, reduction, out_shape = ctx.meta
        xp = xp_of(g)
        z, active, t, N, C = _margins(xp, x, target, margin)
        rows = xp.arange(N)
        dz = xp.where(active, 1.0 if p == 1 else 2 * z, 0)
        if weight is not None:
            dz = dz * weight[t][:, None]
        g_row = g.reshape(-1) if reduction == "none" else xp.broadcast_to(g / _divisor(reduction, N), (N,))
        dz = dz * (g_row / C)[:, None]
        dx = dz.copy()
        dx[rows, t] -= dz.sum(1)
        return dx.reshape(x.shape).astype(x.dtype, copy=False), None, None, None, None, None, None


def _check_class_rows(name, input, target):
    valid = (input.ndim <= 1 and input.numel() > 0) or (input.ndim == 2 and input.shape[1] > 0)  # 0-d: one class
    if not valid:
        raise RuntimeError(f"{name}: Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(input.shape)}")
    if target._data.dtype.kind not in "iu":
        raise RuntimeError(f"expected scalar type Long but found {_tname(target)}")


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    if autocast.enabled:
        input, target, weight = autocast.cast("multi_margin_loss", input, target, weight)
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    _check_class_rows("multi_margin_loss", input, target)
    N = input.shape[0] if input.ndim == 2 else 1
    C = input.shape[-1] if input.ndim else 1
    if target.numel() != N or target.ndim > 1:
        raise RuntimeError(f"inconsistent target size, expected {N} but got {list(target.shape)}")
    if weight is not None and weight.numel() != C:
        raise RuntimeError(f"inconsistent weight size, expected {C} but got {list(weight.shape)}")
    t = target._data.reshape(-1)
    if t.size and (int(t.min()) < 0 or int(t.max()) >= C):
        raise RuntimeError("target out of range")
    out_shape = (N,) if target.ndim else ()
    return MultiMarginLoss.apply(input, target, weight, int(p), float(margin), reduction, out_shape)


# ---------------------------------------------------------------------------------------------
# multilabel_margin_loss: targets are class ids up to the first -1; per row
# sum_{j target} sum_{i not a target} max(0, 1 - (x_j - x_i)) / C
# ---------------------------------------------------------------------------------------------
def _multilabel_terms(xp, x2, t2):
    """(active pairs (N, K, C), valid target slots (N, K), clamped target ids, hinge values)."""
    N, C = x2.shape
    first_neg = xp.where((t2 < 0).any(1), (t2 < 0).argmax(1), C)
    valid = xp.arange(C)[None, :] < first_neg[:, None]
    tid = xp.where(valid, t2, 0)
    rows = xp.arange(N)[:, None]
    is_target = xp.zeros((N, C), dtype=bool)
    is_target[xp.broadcast_to(rows, tid.shape)[valid], tid[valid]] = True
    z = 1 - x2[rows, tid][:, :, None] + x2[:, None, :]
    active = (z > 0) & valid[:, :, None] & ~is_target[:, None, :]
    return active, tid, z


class MultilabelMarginLoss(Function):
    @staticmethod
    def forward(ctx, x, target, reduction, out_shape):
        xp = xp_of(x)
        x2 = x.reshape(-1, x.shape[-1] if x.ndim else 1)
        N, C = x2.shape
        active, tid, z = _multilabel_terms(xp, x2, target.reshape(N, C))
        loss = xp.where(active, z, 0).sum((1, 2)) / C
        ctx.save_for_backward(x, target)
        ctx.meta = (reduction, out_shape)
        if reduction == "none":
            return loss.reshape(out_shape).astype(x.dtype, copy=False)
        return xp.asarray(loss.sum() / _divisor(reduction, N)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        from ...ops.index import add_at

        x, target = ctx.saved_tensors
        reduction, out_shape = ctx.meta
        xp = xp_of(g)
        x2 = x.reshape(-1, x.shape[-1] if x.ndim else 1)
        N, C = x2.shape
        active, tid, _ = _multilabel_terms(xp, x2, target.reshape(N, C))
        g_row = g.reshape(-1) if reduction == "none" else xp.broadcast_to(g / _divisor(reduction, N), (N,))
        a = active * (g_row / C)[:, None, None]
        dx = a.sum(1)
        add_at(dx, (xp.broadcast_to(xp.arange(N)[:, None], tid.shape), tid), -a.sum(2))
        return dx.reshape(x.shape).astype(x.dtype, copy=False), None, None, None


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    if autocast.enabled:
        input, target = autocast.cast("multilabel_margin_loss", input, target)
    reduction = _reduction(size_average, reduce, reduction)
    _check_class_rows("multilabel_margin_loss", input, target)
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    t = target._data
    C = input.shape[-1] if input.ndim else 1
    if t.size and (int(t.min()) < -1 or int(t.max()) >= C):
        raise RuntimeError(f"multilabel_margin_loss: target values must lie in [-1, {C - 1}]")
    out_shape = (input.shape[0],) if input.ndim == 2 else ()
    return MultilabelMarginLoss.apply(input, target, reduction, out_shape)


# ---------------------------------------------------------------------------------------------
# composites
# ---------------------------------------------------------------------------------------------
def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """mean over classes of -(y log sigmoid(x) + (1 - y) log sigmoid(-x)), optionally weighted."""
    from .activation import logsigmoid

    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(dim=class_dim) / input.shape[class_dim]
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log var + (input - target)^2 / var) [+ 0.5 log 2 pi], var clamped to eps (without gradient)."""
    from ...ops.factory import ones_like

    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * ones_like(input)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):  # one variance per row (homoscedastic)
            var = var.unsqueeze(-1)
        elif input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
            pass  # a single broadcast dimension of size 1
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    from ...autograd import no_grad

    with no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)); d defaults to pairwise_distance; swap uses min(d(a, n), d(p, n))."""
    from ...ops.elementwise import minimum

    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and negative "
                           f"{negative.ndim}D inputs")
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, distance(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)



# ---------------------------------------------------------------------------------------------
# linear_cross_entropy: cross_entropy(linear(input, linear_weight, linear_bias), target, ...)
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LinearCrossEntropyOptions:
    """Chunking options of linear_cross_entropy (PyTorch's fields). mytorch evaluates the batch in chunks of
    `batch_chunk_size` rows (one chunk when None) through the same differentiable ops, so results equal the
    reference path; the other fields are accepted for compatibility and change nothing."""

    allow_retain_graph: bool = False
    batch_chunk_size: int = None
    chunking_method: str = "auto"
    acc_policy: str = "auto"
    acc_dtype: object = None


def _linear_logits(input, linear_weight, linear_bias):
    from .linear import linear

    out_features = tuple(linear_weight.shape[:-1])
    w = linear_weight.reshape(-1, linear_weight.shape[-1]) if len(out_features) > 1 else linear_weight
    b = None if linear_bias is None else linear_bias.reshape(-1)
    logits = linear(input, w, b)
    if len(out_features) > 1:  # K-dimensional loss: (N, C, d1, ..., dK)
        logits = logits.reshape(tuple(input.shape[:-1]) + out_features)
    return logits


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target); ignore_index None means -100."""
    from ...ops.shape import cat
    from .loss import cross_entropy

    reduction = _reduction(None, None, reduction)
    ignore = -100 if ignore_index is None else int(ignore_index)
    if input.ndim not in (1, 2):
        raise ValueError(f"linear_cross_entropy: input must be (in_features,) or (N, in_features), got "
                         f"{list(input.shape)}")
    if linear_weight.ndim > 2 and input.ndim != 2:
        raise ValueError("linear_cross_entropy: a multi-dimensional linear_weight needs a batched (N, in_features) "
                         "input")
    if linear_weight.shape[-1] != input.shape[-1]:
        raise RuntimeError(f"linear_cross_entropy: input has {input.shape[-1]} features but linear_weight expects "
                           f"{linear_weight.shape[-1]} (shape {list(linear_weight.shape)})")
    chunk = getattr(options, "batch_chunk_size", None) if options is not None else None
    if options is None or input.ndim == 1 or not chunk or chunk >= input.shape[0]:
        return cross_entropy(_linear_logits(input, linear_weight, linear_bias), target, weight, ignore_index=ignore,
                             reduction=reduction, label_smoothing=label_smoothing)
    pieces = [cross_entropy(_linear_logits(input[i:i + chunk], linear_weight, linear_bias), target[i:i + chunk],
                            weight, ignore_index=ignore, reduction="none", label_smoothing=label_smoothing)
              for i in range(0, input.shape[0], chunk)]
    loss = cat(pieces, 0)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if target.is_floating_point():  # class probabilities: the mean over rows (and K dims)
        return loss.sum() / loss.numel()
    valid = target != ignore  # class indices: divide by the summed weights of the counted targets
    denom = valid.sum() if weight is None else (weight[target.clamp(0, weight.shape[0] - 1)] * valid).sum()
    return loss.sum() / denom
