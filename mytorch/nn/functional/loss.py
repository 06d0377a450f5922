"""Loss functions, functional form. reduction is 'mean' | 'sum' | 'none' everywhere.

Two Functions carry most losses, each with a manual backward recomputed from its saved inputs:
- `_ClassLoss`: cross_entropy with class indices and nll_loss. Logits (N, C, d1, ...) are viewed as rows
  (M, C); the backward of the fused log-softmax + NLL is `p * sum(a) - a` per row (a: the row's target
  coefficients), i.e. `softmax - onehot` without label smoothing or weights. Float32 cross_entropy without
  class weights on the CPU has a compiled body (mytorch.cpu_kernels.cross_entropy) that writes that
  gradient in the forward pass, as the Triton kernel does, and backward only scales it.
- `_PointwiseLoss`: elementwise losses (mse, l1, huber, bce, ...) from a table of (value, gradient).
"""
import math

import numpy as np

from ... import _dtype, cpu_kernels
from ..._array import xp_of
from ...autograd.function import Function, autocast
from ...tensor import Tensor
from .linear import _use_fused

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "soft_margin_loss",
           "poisson_nll_loss", "margin_ranking_loss", "cosine_embedding_loss", "hinge_embedding_loss",
           "triplet_margin_loss", "cosine_similarity", "pairwise_distance"]


def _reduction(size_average, reduce, reduction, extra=()):
    if size_average is not None or reduce is not None:  # legacy arguments, as torch's _Reduction does
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
    if reduction not in ("none", "mean", "sum") + extra:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _acc(dtype):
    return np.float32 if np.dtype(dtype).itemsize < 4 else dtype


def _softplus(xp, z):
    return xp.logaddexp(0, z)


def _sigmoid(xp, z):
    return xp.exp(-xp.logaddexp(0, -z))


# ---------------------------------------------------------------------------------------------
# cross_entropy (class indices) and nll_loss
# ---------------------------------------------------------------------------------------------
def _rows(x, C):
    """(N, C, d1, ...) -> (M, C) rows, class axis last; (C,) and (N, C) need no copy."""
    xp = xp_of(x)
    moved = xp.moveaxis(x, 1, -1) if x.ndim > 2 else x
    return moved.reshape(-1, C), moved.shape


def _unrows(d2, moved_shape, ndim):
    xp = xp_of(d2)
    d = d2.reshape(moved_shape)
    return xp.moveaxis(d, -1, 1) if ndim > 2 else d


class _ClassLoss(Function):
    """fused=True (cross_entropy without class weights): the Triton kernel (mytorch.kernels.cross_entropy)
    returns per-row losses and d loss_row / d logits in one pass over the rows; backward only scales that
    saved gradient (in place) by the upstream gradient, so no softmax is recomputed."""

    @staticmethod
    def forward(ctx, x, target, weight, log_softmax, ignore_index, ls, reduction, fused=False):
        xp = xp_of(x)
        C = x.shape[1] if x.ndim > 1 else x.shape[0]
        x2, moved_shape = _rows(x, C)
        t = target.reshape(-1)
        valid = t != ignore_index
        if not fused:  # the kernel checks targets itself, with no device->host sync on a GPU
            bad = valid & ((t < 0) | (t >= C))
            if bad.any():
                raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
        ctx.fused, ctx.reduction = fused, reduction
        ctx.cpu_grad = False
        if not fused and log_softmax and weight is None and cpu_kernels.use(x2):
            from ...cpu_kernels import cross_entropy as cpu

            found = cpu.forward(x2, t, ignore_index, ls)
            if found is not None:  # the compiled body: per-row losses and the gradient in one pass
                loss, dlogits = found
                n = int(valid.sum())
                ctx.save_for_backward(dlogits)
                ctx.meta = (n, reduction, moved_shape, x.ndim)
                ctx.targets = (t, valid, ls)
                ctx.cpu_grad = True
                if reduction == "none":
                    out = loss.reshape(target.shape)
                else:  # a mean over no valid rows is nan, as in PyTorch
                    out = loss.sum() if reduction == "sum" else (loss.sum() / n if n else np.nan)
                return np.asarray(out).astype(x.dtype, copy=False)
        if fused:
            from ...kernels import cross_entropy as kernel

            loss, dlogits, _ = kernel.cross_entropy_fwd(x2, t, ignore_index, ls,
                                                        compute_grad=ctx.needs_input_grad[0])
            n = valid.sum(dtype=np.float32) if reduction == "mean" else 1  # stays on the device: no sync
            ctx.save_for_backward(dlogits)
            # a batch whose targets are all ignored: loss nan (0/0) but gradient 0, as in PyTorch
            ctx.meta = (xp.maximum(n, 1), reduction, moved_shape, None)  # last: the scale already applied
            with np.errstate(invalid="ignore", divide="ignore"):
                out = loss.reshape(target.shape) if reduction == "none" else xp.asarray(loss.sum() / n)
            return out.astype(x.dtype, copy=False)
        acc = _acc(x.dtype)
        x2 = x2.astype(acc, copy=False)
        tc = xp.where(valid, t, 0)
        rows = xp.arange(len(t))
        w = None if weight is None else weight.astype(acc, copy=False)
        w_t = valid.astype(acc) if w is None else w[tc] * valid
        lse = None
        picked = x2[rows, tc]
        if log_softmax:
            mx = x2.max(1, keepdims=True)
            lse = (xp.log(xp.exp(x2 - mx).sum(1, keepdims=True)) + mx)[:, 0]
            picked = picked - lse
        with np.errstate(invalid="ignore", divide="ignore"):
            d_nll = w_t.sum() if reduction == "mean" else 1.0
            # ignored rows (w_t == 0) may hold a -inf logit: select, don't multiply (0 * -inf is nan)
            loss = -(1 - ls) * xp.where(w_t != 0, w_t * picked, 0) / d_nll
            d_smooth = d_nll  # mean: both terms divide by the summed target weights of non-ignored rows
            if ls > 0:
                # sum_c w_c log p_c = x . w - lse * sum(w), without materialising log p
                sum_w = C if w is None else w.sum()
                wx = x2.sum(1) if w is None else x2 @ w
                smooth = xp.where(valid, -(wx - lse * sum_w), 0)
                loss = loss + (ls / C) * smooth / d_smooth
        if log_softmax:  # PyTorch keeps log_softmax's result, not x: a private copy lets x be edited in place
            ctx.save_for_backward(x2.copy() if xp.may_share_memory(x2, x) else x2, lse)
        else:
            ctx.save_for_backward(x, lse)
        ctx.x_meta = (x.dtype, x.ndim)
        out = loss.reshape(target.shape) if reduction == "none" else loss.sum()
        if not valid.any():  # empty or fully ignored batch: PyTorch's loss is nan (mean), its gradient 0
            d_nll = d_smooth = 1.0
            if reduction == "mean":
                out = xp.asarray(np.nan, dtype=acc)
        ctx.meta = (tc, valid, w, w_t, d_nll, d_smooth, ls, C, moved_shape, log_softmax)
        return xp.asarray(out).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        if ctx.fused:
            return (_ClassLoss._fused_backward(ctx, g),) + (None,) * 7
        if ctx.cpu_grad:
            (dlogits,) = ctx.saved_tensors
            n, reduction, moved_shape, x_ndim = ctx.meta
            if reduction == "none":
                dx2 = dlogits * g.reshape(-1, 1)
            else:  # (ignored rows' gradient is 0, also where no row counts)
                scale = g / max(n, 1) if reduction == "mean" else g
                dx2 = cpu_kernels.binary(np.multiply, dlogits, np.broadcast_to(scale, dlogits.shape))
            return (_unrows(dx2, moved_shape, x_ndim),) + (None,) * 7
        saved, lse = ctx.saved_tensors
        tc, valid, w, w_t, d_nll, d_smooth, ls, C, moved_shape, log_softmax = ctx.meta
        x_dtype, x_ndim = ctx.x_meta
        xp = xp_of(g)
        x2 = saved if log_softmax else _rows(saved, C)[0].astype(_acc(x_dtype), copy=False)
        g = g.reshape(-1)
        rows = xp.arange(len(tc))
        a_nll = g * (1 - ls) * w_t / d_nll
        if log_softmax:
            p = xp.exp(x2 - lse[:, None])
            a_smooth = g * (ls / C) * valid / d_smooth
            total = a_nll + a_smooth * (C if w is None else w.sum())
            dx2 = p * total[:, None]
            if ls > 0:
                dx2 -= a_smooth[:, None] if w is None else a_smooth[:, None] * w
        else:
            dx2 = xp.zeros_like(x2)
        dx2[rows, tc] -= a_nll
        return _unrows(dx2.astype(x_dtype, copy=False), moved_shape, x_ndim), None, None, None, None, None, None, None

    @staticmethod
    def differentiable_backward(ctx, g):
        """dx = g * d(x) with d(x) = c * softmax(x) - (constants) per row: d's derivative is softmax's, so the
        softmax this op computed is recorded as softmax(x) (ctx.attach) and the rest stays constant."""
        from ...ops.reduce import Softmax

        if ctx.fused:
            raise RuntimeError("the derivative of the fused (Triton) cross_entropy is not implemented for "
                               "create_graph=True")
        node = ctx._node
        xp = xp_of(g._data)
        d1 = _ClassLoss.backward(node, xp.ones(g.shape, g._data.dtype))[0]  # the gradient for g = 1
        if ctx.cpu_grad:
            (dlogits,) = node.saved_tensors
            n, reduction, moved_shape, x_ndim = ctx.meta
            t, valid, ls = ctx.targets
            C = dlogits.shape[1]
            p = dlogits + ls / C  # softmax - smoothed one-hot, where a row counts
            p[xp.arange(len(t)), xp.where(valid, t, 0)] += 1 - ls
            coef = valid / max(n, 1) if reduction == "mean" else valid.astype(p.dtype)
        else:
            saved, lse = node.saved_tensors
            tc, valid, w, w_t, d_nll, d_smooth, ls, C, moved_shape, log_softmax = ctx.meta
            x_ndim = ctx.x_meta[1]
            if not log_softmax:  # nll_loss: linear in its input, the derivative of d is 0
                return (_scale_rows(g, Tensor._make(d1), x_ndim, ctx.reduction),) + (None,) * 7
            p = xp.exp(saved - lse[:, None])
            coef = (1 - ls) * w_t / d_nll + (ls / C) * valid / d_smooth * (C if w is None else w.sum())
        p_full = _unrows(p, moved_shape, x_ndim)
        softmax = ctx.attach(Softmax, 0, p_full, saved=(p_full,), meta=(1 if x_ndim > 1 else 0, False), fused=False,
                             cpu=False)
        coef = Tensor._make(_unrows(xp.broadcast_to(coef[:, None], p.shape).astype(p.dtype), moved_shape, x_ndim))
        d = Tensor._make(d1) + (softmax - Tensor._make(p_full)) * coef  # d1's value, softmax's derivative
        return (_scale_rows(g, d, x_ndim, ctx.reduction),) + (None,) * 7

    @staticmethod
    def _fused_backward(ctx, g):
        from ...kernels import cross_entropy as kernel

        (dlogits,) = ctx.saved_tensors
        n, reduction, moved_shape, applied = ctx.meta
        if dlogits is None:
            return None
        xp = xp_of(dlogits)
        scale = (g.reshape(-1) if reduction == "none" else g / n).astype(np.float32)
        if applied is not None:  # a second backward (retain_graph): undo the first scale on a copy
            if bool((applied == 0).any()):
                raise RuntimeError("fused cross_entropy scales its saved gradient in place: a second backward "
                                   "after a zero upstream gradient is not supported (use fused=False)")
            dlogits, scale = dlogits.copy(), scale / applied
        else:
            ctx.meta = (n, reduction, moved_shape, scale)
        dx2 = kernel.cross_entropy_bwd(dlogits, xp.asarray(scale))
        return _unrows(dx2, moved_shape, len(moved_shape))


def _scale_rows(g, d, x_ndim, reduction):
    """g * d for a class loss: g a scalar, or (reduction 'none') one value per row, the class axis 1."""
    if reduction == "none" and x_ndim > 1:
        g = g.unsqueeze(1)
    return g * d


class _SoftTargetCE(Function):
    """cross_entropy with class probabilities: loss_row = -sum_c w_c t'_c log p_c, t' = smoothed t."""

    @staticmethod
    def forward(ctx, x, target, weight, ls, reduction):
        xp = xp_of(x)
        C = x.shape[1] if x.ndim > 1 else x.shape[0]
        x2, moved_shape = _rows(x, C)
        t2 = _rows(target, C)[0]
        acc = _acc(x.dtype)
        x2 = x2.astype(acc, copy=False)
        mx = x2.max(1, keepdims=True)
        logp = x2 - (xp.log(xp.exp(x2 - mx).sum(1, keepdims=True)) + mx)
        wt = t2 * (1 - ls) + ls / C
        if weight is not None:
            wt = wt * weight
        loss = -(wt * logp).sum(1)
        n = len(loss) if reduction == "mean" else 1
        ctx.save_for_backward(logp, target, weight)  # log-probabilities, as PyTorch: x may be edited afterwards
        ctx.meta = (n, ls, C, moved_shape, x.dtype, x.ndim)
        out = (loss / n).reshape(moved_shape[:-1]) if reduction == "none" else (loss / n).sum()
        return xp.asarray(out).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        logp, target, weight = ctx.saved_tensors
        n, ls, C, moved_shape, x_dtype, x_ndim = ctx.meta
        xp = xp_of(g)
        t2 = _rows(target, C)[0]
        g = (g.reshape(-1) / n)[:, None]
        wt = t2 * (1 - ls) + ls / C
        if weight is not None:
            wt = wt * weight
        dx2 = g * (wt.sum(1, keepdims=True) * xp.exp(logp) - wt)
        dt = None
        if ctx.needs_input_grad[1]:
            dt2 = -g * (1 - ls) * logp * (1 if weight is None else weight)
            dt = _unrows(dt2.astype(target.dtype, copy=False), moved_shape, x_ndim)
        return _unrows(dx2.astype(x_dtype, copy=False), moved_shape, x_ndim), dt, None, None, None

    @staticmethod
    def differentiable_backward(ctx, g):
        from ...ops.reduce import Softmax

        logp, target, weight = ctx.saved_tensors
        n, ls, C, moved_shape, x_dtype, x_ndim = ctx.meta
        axis = 1 if x_ndim > 1 else 0
        logp_full = _unrows(logp._data, moved_shape, x_ndim)  # log_softmax(x), recorded as such
        logp = ctx.attach(Softmax, 0, logp_full, saved=(logp_full,), meta=(axis, True), fused=False, cpu=False)
        shape = [1] * x_ndim
        if weight is not None:
            shape[axis] = C
        w = 1 if weight is None else weight.reshape(shape)
        wt = (target * (1 - ls) + ls / C) * w
        g = g / n
        if g.ndim and x_ndim > 1:  # reduction 'none': one value per row
            g = g.unsqueeze(1)
        dx = g * (wt.sum(axis, keepdim=True) * logp.exp() - wt)
        dt = -g * (1 - ls) * logp * w if ctx.needs_input_grad[1] else None
        return dx, dt, None, None, None


def _check_class_target(x, target):
    n_in = x.shape[0] if x.ndim > 1 else None
    if target.ndim != max(x.ndim - 1, 0) or (x.ndim > 1 and target.shape[0] != n_in):
        if x.ndim > 1 and target.ndim >= 1 and target.shape[0] != n_in:
            raise ValueError(f"Expected input batch_size ({n_in}) to match target batch_size "
                             f"({target.shape[0]}).")
        if x.ndim <= 2:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    expected = tuple(x.shape[:1]) + tuple(x.shape[2:]) if x.ndim > 1 else ()
    if tuple(target.shape) != expected:
        raise RuntimeError(f"Expected target size {list(expected)}, got {list(target.shape)}")
    if target._data.dtype.kind not in "iu":
        raise RuntimeError(f"expected scalar type Long but found {target.dtype}".replace("mytorch.", ""))


_tname = _dtype.type_name


def _check_class_weight(input, weight):
    C = input.shape[1] if input.ndim > 1 else input.shape[0]
    if weight is not None and tuple(weight.shape) != (C,):
        raise RuntimeError(f"weight tensor should be defined either for all {C} classes or no classes but got "
                           f"weight tensor of shape: {list(weight.shape)}")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    return _cross_entropy(input, target, weight, ignore_index, _reduction(size_average, reduce, reduction),
                          label_smoothing)


def _cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                   fused=None):
    """F.cross_entropy with nn.CrossEntropyLoss's `fused` request (None: the global switch decides)."""
    if autocast.enabled:
        input, target, weight = autocast.cast("cross_entropy", input, target, weight)
    reduction = _reduction(None, None, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.ndim == 0:
        raise RuntimeError("cross_entropy: input must have at least 1 dimension (the classes)")
    _check_class_weight(input, weight)
    C = input.shape[1] if input.ndim > 1 else input.shape[0]
    if target._data.dtype.kind == "f":
        if tuple(target.shape) != tuple(input.shape):
            if input.ndim > 1 and target.ndim >= 1 and target.shape[0] != input.shape[0]:
                raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                                 f"({target.shape[0]}).")
            raise RuntimeError(f"Expected target size {list(input.shape)}, got {list(target.shape)}")
        return _SoftTargetCE.apply(input, target, weight, float(label_smoothing), reduction)
    _check_class_target(input, target)
    if input._data.dtype.kind not in "fcV":
        raise NotImplementedError(f"\"log_softmax_lastdim_kernel_impl\" not implemented for '{_tname(input)}'")
    fused = weight is None and C > 0 and _use_fused("cross_entropy", fused, input)  # no class weights in the kernel
    return _named(_ClassLoss, "NllLoss").apply(input, target, weight, True, ignore_index, float(label_smoothing),
                                               reduction, fused)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """input: log-probabilities (N, C, d1, ...) or (C,); target: class indices."""
    if autocast.enabled:
        input, target, weight = autocast.cast("nll_loss", input, target, weight)
    reduction = _reduction(size_average, reduce, reduction)
    _check_class_target(input, target)
    _check_class_weight(input, weight)
    if input._data.dtype.kind not in "fcV":
        kernel = "nll_loss_out_frame" if input.ndim <= 2 else "nll_loss2d_forward_out_frame"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_tname(input)}'")
    return _named(_ClassLoss, "NllLoss").apply(input, target, weight, False, ignore_index, 0.0, reduction)


# ---------------------------------------------------------------------------------------------
# elementwise losses: value(xp, a, b, p) and grads(xp, a, b, p) -> (d/da, d/db) per element
# ---------------------------------------------------------------------------------------------
def _mse(xp, a, b, p):
    return (a - b) ** 2


def _mse_grad(xp, a, b, p):
    d = 2 * (a - b)
    return d, -d


def _l1(xp, a, b, p):
    return xp.abs(a - b)


def _l1_grad(xp, a, b, p):
    d = xp.sign(a - b)
    return d, -d


def _smooth_l1(xp, a, b, beta):
    d = a - b
    ad = xp.abs(d)
    if beta == 0:
        return ad
    return xp.where(ad < beta, 0.5 * d * d / beta, ad - 0.5 * beta)


def _smooth_l1_grad(xp, a, b, beta):
    d = a - b
    g = xp.sign(d) if beta == 0 else xp.where(xp.abs(d) < beta, d / beta, xp.sign(d))
    return g, -g


def _huber(xp, a, b, delta):
    d = a - b
    ad = xp.abs(d)
    return xp.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))


def _huber_grad(xp, a, b, delta):
    g = xp.clip(a - b, -delta, delta)
    return g, -g


def _bce_logs(xp, a):
    with np.errstate(divide="ignore"):
        return xp.maximum(xp.log(a), -100), xp.maximum(xp.log1p(-a), -100)  # torch clamps log at -100


def _bce(xp, a, b, p):
    la, lb = _bce_logs(xp, a)
    return -(b * la + (1 - b) * lb)


def _bce_grad(xp, a, b, p):
    la, lb = _bce_logs(xp, a)
    return (a - b) / xp.maximum((1 - a) * a, 1e-12), lb - la


def _bce_logits(xp, a, b, pos_weight):
    sp = _softplus(xp, -a)  # -log(sigmoid(a)), stable
    lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * b
    return (1 - b) * a + lw * sp


def _bce_logits_grad(xp, a, b, pos_weight):
    if pos_weight is None:
        return _sigmoid(xp, a) - b, -a
    lw = 1 + (pos_weight - 1) * b
    return (1 - b) + lw * (_sigmoid(xp, a) - 1), -a + (pos_weight - 1) * _softplus(xp, -a)


def _kl(xp, a, b, log_target):
    if log_target:
        return xp.exp(b) * (b - a)
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.where(b > 0, b * xp.log(xp.where(b > 0, b, 1)), xp.where(b == 0, 0, xp.nan)) - b * a


def _kl_grad(xp, a, b, log_target):
    if log_target:
        eb = xp.exp(b)
        return -eb, eb * (b - a + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -b, xp.log(b) + 1 - a


def _soft_margin(xp, a, b, p):
    return _softplus(xp, -a * b)


def _soft_margin_grad(xp, a, b, p):
    s = _sigmoid(xp, -a * b)
    return -b * s, -a * s


def _poisson(xp, a, b, p):
    log_input, full, eps = p
    loss = xp.exp(a) - b * a if log_input else a - b * xp.log(a + eps)
    if full:  # Stirling's approximation of log(target!), for targets > 1
        safe = xp.where(b > 1, b, 1)
        loss = loss + xp.where(b > 1, safe * xp.log(safe) - safe + 0.5 * xp.log(2 * math.pi * safe), 0)
    return loss


def _poisson_grad(xp, a, b, p):
    log_input, full, eps = p
    if log_input:
        da, db = xp.exp(a) - b, -a
    else:
        da, db = 1 - b / (a + eps), -xp.log(a + eps)
    if full:
        safe = xp.where(b > 1, b, 1)
        db = db + xp.where(b > 1, xp.log(safe) + 0.5 / safe, 0)
    return da, db


class _PointwiseLoss(Function):
    @staticmethod
    def forward(ctx, a, b, weight, value, grads, params, reduction):
        xp = xp_of(a)
        loss = value(xp, a, b, params)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(a, b, weight)
        ctx.meta = (grads, params, reduction)
        if reduction == "none":
            return loss.astype(a.dtype, copy=False)
        n = {"sum": 1, "mean": loss.size, "batchmean": a.shape[0] if a.ndim else 1}[reduction]
        ctx.n = n
        with np.errstate(invalid="ignore", divide="ignore"):
            return xp.asarray(loss.sum() / n).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a, b, weight = ctx.saved_tensors
        grads, params, reduction = ctx.meta
        xp = xp_of(g)
        if reduction != "none":
            g = g / ctx.n
        if weight is not None:
            g = g * weight
        da, db = grads(xp, a, b, params)
        return (g * da if ctx.needs_input_grad[0] else None, g * db if ctx.needs_input_grad[1] else None,
                None, None, None, None, None)

    @staticmethod
    def differentiable_backward(ctx, g):
        from ...ops import _tensor_xp

        a, b, weight = ctx.saved_tensors
        grads, params, reduction = ctx.meta
        if reduction != "none":
            g = g / ctx.n
        if weight is not None:
            g = g * weight
        da, db = grads(_tensor_xp, a, b, params)
        return (g * _tensor_xp.fit(da, g) if ctx.needs_input_grad[0] else None,
                g * _tensor_xp.fit(db, g) if ctx.needs_input_grad[1] else None, None, None, None, None, None)


# grad_fn names as PyTorch prints them: its native losses have their own backward (MseLossBackward0); the
# losses it composes in Python end in their reduction (MeanBackward0 / SumBackward0, SubBackward0 unreduced)
_GRAD_NAMES = {"mse_loss": "MseLoss", "smooth_l1_loss": "SmoothL1Loss", "huber_loss": "HuberLoss",
               "binary_cross_entropy": "BinaryCrossEntropy",
               "binary_cross_entropy_with_logits": "BinaryCrossEntropyWithLogits", "soft_margin_loss": "SoftMarginLoss"}
_UNREDUCED = {"l1_loss": "Abs"}
_NAMED = {}


def _named(base, name):
    """`base` under the name its grad_fn shows (name + 'Backward0'); one subclass per name, made once."""
    cls = _NAMED.get((base, name))
    if cls is None:
        cls = _NAMED[(base, name)] = type(name, (base,), {"__module__": __name__, "__qualname__": name})
    return cls


_KERNEL = {"mse_loss": "mse_cpu", "smooth_l1_loss": "smooth_l1_cpu", "huber_loss": "huber_cpu",
           "binary_cross_entropy": "binary_cross_entropy", "binary_cross_entropy_with_logits": "log_sigmoid_cpu"}


def _loss_dtypes(name, input, target, reduction):
    """PyTorch's dtype rules per loss: refuse what it refuses, else (input, target) in the dtype it computes in."""
    def is_float(t):
        return t._data.dtype.kind in "fV"

    def cant_cast(src, dst):
        return RuntimeError(f"result type {src} can't be cast to the desired output type {_tname(dst)}")

    def no_bool_sub():
        if input.dtype.name == "bool" or target.dtype.name == "bool":
            raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
                               "trying to invert a mask, use the `~` or `logical_not()` operator instead.")

    rt = _dtype.result_type(input, target)
    if name == "binary_cross_entropy":
        if target.dtype != input.dtype:
            raise RuntimeError(f"Found dtype {_tname(target)} but expected {_tname(input)}")
        if not is_float(input):
            raise NotImplementedError(f"\"{_KERNEL[name]}\" not implemented for '{_tname(input)}'")
        return input, target
    if name == "binary_cross_entropy_with_logits":
        if not is_float(input):
            raise NotImplementedError(f"\"{_KERNEL[name]}\" not implemented for '{_tname(input)}'")
        no_bool_sub()
        if not is_float(target):
            raise cant_cast("Float", target)
    elif name == "kl_div":
        if not (is_float(input) and is_float(target)):
            raise RuntimeError("kl_div: Integral inputs not supported.")
        return input.to(rt), target.to(rt)
    elif name in ("huber_loss", "soft_margin_loss"):  # the result has input's dtype
        if not is_float(input):
            if name == "huber_loss" and not is_float(target):
                raise NotImplementedError(f"\"{_KERNEL[name]}\" not implemented for '{_tname(input)}'")
            raise cant_cast("Float", input)
    elif name == "l1_loss":
        no_bool_sub()
        if not rt.is_floating_point:
            if reduction == "mean":
                raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                                   f"point or complex dtype. Got: {_tname(input)}")
            return input.to(rt), target.to(rt)
    elif name == "poisson_nll_loss":
        if not rt.is_floating_point:
            if input.dtype.name == "bool" and target.dtype.name == "bool":
                no_bool_sub()
            rt = _dtype.get_default_dtype()
    elif not rt.is_floating_point:  # mse, smooth_l1
        raise NotImplementedError(f"\"{_KERNEL[name]}\" not implemented for '{_tname(rt)}'")
    if name in ("huber_loss", "soft_margin_loss"):
        rt = input.dtype
    elif name == "binary_cross_entropy_with_logits":
        rt = target.dtype
    return (input if input.dtype == rt else input.to(rt)), (target if target.dtype == rt else target.to(rt))


def _pointwise(name, input, target, value, grads, params, reduction, weight=None, same_shape=False):
    if autocast.enabled:
        input, target = autocast.cast(name, input, target)
    if same_shape and tuple(target.shape) != tuple(input.shape):
        if name == "binary_cross_entropy":
            raise ValueError(f"Using a target size (torch.Size({list(target.shape)})) that is different to the "
                             f"input size (torch.Size({list(input.shape)})) is deprecated. Please ensure they "
                             f"have the same size.")
        raise ValueError(f"Target size (torch.Size({list(target.shape)})) must be the same as input size "
                         f"(torch.Size({list(input.shape)}))")
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}(): argument 'target' must be Tensor, not {type(target).__name__}")
    input, target = _loss_dtypes(name, input, target, reduction)
    try:
        np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({input.shape[-1]}) must match the size of tensor b "
                           f"({target.shape[-1]}) at non-singleton dimension {input.ndim - 1}") from None
    grad_name = _GRAD_NAMES.get(name) or {"mean": "Mean", "sum": "Sum"}.get(reduction, _UNREDUCED.get(name, "Sub"))
    return _named(_PointwiseLoss, grad_name).apply(input, target, weight, value, grads, params, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    return _pointwise("mse_loss", input, target, _mse, _mse_grad, None,
                      _reduction(size_average, reduce, reduction), weight)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    return _pointwise("l1_loss", input, target, _l1, _l1_grad, None, _reduction(size_average, reduce, reduction))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return _pointwise("smooth_l1_loss", input, target, _smooth_l1, _smooth_l1_grad, float(beta),
                      _reduction(size_average, reduce, reduction))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return _pointwise("huber_loss", input, target, _huber, _huber_grad, float(delta), _reduction(None, None, reduction),
                      weight)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    for what, t in (("input", input), ("target", target)):
        data = t._data  # NaN fails the check too, as in PyTorch
        if isinstance(t, Tensor) and data.size and not bool(((data >= 0) & (data <= 1)).all()):
            raise RuntimeError(f"all elements of {what} should be between 0 and 1")
    return _pointwise("binary_cross_entropy", input, target, _bce, _bce_grad, None, reduction,
                      None if weight is None else weight._data, same_shape=True)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """-w [pos_weight * y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], computed stably via softplus."""
    reduction = _reduction(size_average, reduce, reduction)
    return _pointwise("binary_cross_entropy_with_logits", input, target, _bce_logits, _bce_logits_grad,
                      None if pos_weight is None else pos_weight._data, reduction,
                      None if weight is None else weight._data, same_shape=True)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """input: log-probabilities; target: probabilities (log-probabilities with log_target=True)."""
    reduction = _reduction(size_average, reduce, reduction, extra=("batchmean",))
    return _pointwise("kl_div", input, target, _kl, _kl_grad, bool(log_target), reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    return _pointwise("soft_margin_loss", input, target, _soft_margin, _soft_margin_grad, None,
                      _reduction(size_average, reduce, reduction))


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-08, reduce=None,
                     reduction="mean"):
    return _pointwise("poisson_nll_loss", input, target, _poisson, _poisson_grad,
                      (bool(log_input), bool(full), float(eps)), _reduction(size_average, reduce, reduction))


# ---------------------------------------------------------------------------------------------
# distances and losses composed from them
# ---------------------------------------------------------------------------------------------
class _ReduceAll(Function):
    @staticmethod
    def forward(ctx, x, reduction):
        ctx.meta = (x.shape, x.size if reduction == "mean" else 1)
        return xp_of(x).asarray(x.sum() / ctx.meta[1]).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        shape, n = ctx.meta
        return xp_of(g).broadcast_to(g / n, shape), None

    @staticmethod
    def differentiable_backward(ctx, g):
        shape, n = ctx.meta
        return (g / n).expand(shape), None


def _apply_reduction(loss, reduction):
    return loss if reduction == "none" else _named(_ReduceAll, "Mean" if reduction == "mean" else "Sum").apply(
        loss, reduction)


class _CosineSimilarity(Function):
    """cos = sum(x1/max(|x1|, eps) * x2/max(|x2|, eps)) along dim (torch clamps each norm separately)."""

    @staticmethod
    def forward(ctx, x1, x2, dim, eps):
        xp = xp_of(x1)
        inputs = (x1, x2)
        x1, x2 = xp.broadcast_arrays(x1, x2)
        n1 = xp.sqrt((x1 * x1).sum(dim, keepdims=True))
        n2 = xp.sqrt((x2 * x2).sum(dim, keepdims=True))
        d1, d2 = xp.maximum(n1, eps), xp.maximum(n2, eps)
        cos = ((x1 / d1) * (x2 / d2)).sum(dim, keepdims=True)
        ctx.save_for_backward(*inputs)  # the tensors themselves (not broadcast views): create_graph finds them
        ctx.eps = eps
        ctx.meta = (dim, d1, d2, n1 > eps, n2 > eps, cos)
        return xp.squeeze(cos, dim)

    @staticmethod
    def backward(ctx, g):
        x1, x2 = ctx.saved_tensors
        dim, d1, d2, free1, free2, cos = ctx.meta
        xp = xp_of(g)
        x1, x2 = xp.broadcast_arrays(x1, x2)
        g = xp.expand_dims(g, dim)
        u1, u2 = x1 / d1, x2 / d2
        # d cos / d x1 = (u2 - cos * u1) / |x1| where the norm is not clamped, u2 / eps where it is
        dx1 = g * (u2 - xp.where(free1, cos, 0) * u1) / d1
        dx2 = g * (u1 - xp.where(free2, cos, 0) * u2) / d2
        return dx1, dx2, None, None

    @staticmethod
    def differentiable_backward(ctx, g):
        x1, x2 = ctx.saved_tensors
        dim, _, _, free1, free2, _ = ctx.meta
        eps = ctx.eps
        d1 = (x1 * x1).sum(dim, keepdim=True).sqrt().clamp(min=eps)  # from the inputs: their derivatives count
        d2 = (x2 * x2).sum(dim, keepdim=True).sqrt().clamp(min=eps)
        u1, u2 = x1 / d1, x2 / d2
        cos = (u1 * u2).sum(dim, keepdim=True)
        g = g.unsqueeze(dim)
        dx1 = g * (u2 - cos.masked_fill(Tensor._make(~free1), 0.0) * u1) / d1
        dx2 = g * (u1 - cos.masked_fill(Tensor._make(~free2), 0.0) * u2) / d2
        return dx1, dx2, None, None


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    if autocast.enabled:
        x1, x2 = autocast.cast("cosine_similarity", x1, x2)
    ndim = max(x1.ndim, x2.ndim)
    from ...tensor import wrap_dim

    return _CosineSimilarity.apply(x1, x2, wrap_dim(dim, ndim) - ndim, float(eps))


class _PNorm(Function):
    """|d|_p along the last axis of d = x1 - x2 + eps (pairwise_distance)."""

    @staticmethod
    def forward(ctx, x1, x2, p, eps, keepdim):
        xp = xp_of(x1)
        d = x1 - x2 + eps
        ad = xp.abs(d)
        if p == math.inf:
            norm = ad.max(-1, keepdims=True)
        elif p == 0:
            norm = (ad != 0).sum(-1, keepdims=True).astype(d.dtype)
        else:
            norm = (ad ** p).sum(-1, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(x1, x2)
        ctx.meta = (p, eps, norm, keepdim)
        return norm if keepdim else norm[..., 0]

    @staticmethod
    def backward(ctx, g):
        x1, x2 = ctx.saved_tensors
        p, eps, norm, keepdim = ctx.meta
        xp = xp_of(g)
        g = g if keepdim else g[..., None]
        d = x1 - x2 + eps
        ad = xp.abs(d)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == math.inf:
                hit = ad == norm
                dd = xp.sign(d) * hit / hit.sum(-1, keepdims=True)
            elif p == 0:
                dd = xp.zeros_like(d)
            else:
                dd = xp.sign(d) * ad ** (p - 1) / norm ** (p - 1)
            dd = xp.where(norm == 0, 0, dd)
        return g * dd, -(g * dd), None, None, None

    @staticmethod
    def differentiable_backward(ctx, g):
        x1, x2 = ctx.saved_tensors
        p, eps, norm, keepdim = ctx.meta
        if p in (math.inf, 0):
            raise RuntimeError(f"the derivative of pairwise_distance with p={p} is not implemented for "
                               "create_graph=True")
        g = g if keepdim else g.unsqueeze(-1)
        d = x1 - x2 + eps
        n = (d.abs() ** p).sum(-1, keepdim=True) ** (1.0 / p)
        dd = (d.sign() * d.abs() ** (p - 1) / n ** (p - 1)).masked_fill(Tensor._make(norm == 0), 0.0)
        return g * dd, -(g * dd), None, None, None


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    return _PNorm.apply(x1, x2, float(p), float(eps), bool(keepdim))


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -y * (x1 - x2) + margin)."""
    if autocast.enabled:
        input1, input2, target = autocast.cast("margin_ranking_loss", input1, input2, target)
    reduction = _reduction(size_average, reduce, reduction)
    return _apply_reduction((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """x where y != -1, max(0, margin - x) where y != 1."""
    from ...ops.elementwise import where

    if autocast.enabled:
        input, target = autocast.cast("hinge_embedding_loss", input, target)
    reduction = _reduction(size_average, reduce, reduction)
    zeros = input * 0  # as PyTorch: a target other than 1 and -1 takes both terms
    loss = where(target != -1, input, zeros) + where(target != 1, (margin - input).clamp_min(0), zeros)
    return _apply_reduction(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where y == 1, max(0, cos(x1, x2) - margin) where y == -1."""
    from ...ops.elementwise import where

    if autocast.enabled:
        input1, input2, target = autocast.cast("cosine_embedding_loss", input1, input2, target)
    reduction = _reduction(size_average, reduce, reduction)
    cos = cosine_similarity(input1, input2, dim=-1, eps=1e-12)
    zeros = cos * 0
    loss = where(target == 1, 1 - cos, zeros) + where(target == -1, (cos - margin).clamp_min(0), zeros)
    return _apply_reduction(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-06, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    from ...ops.elementwise import minimum

    if autocast.enabled:
        anchor, positive, negative = autocast.cast("triplet_margin_loss", anchor, positive, negative)
    reduction = _reduction(size_average, reduce, reduction)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _apply_reduction((margin + d_pos - d_neg).clamp_min(0), reduction)
