"""ctc_loss: Connectionist Temporal Classification (Graves et al. 2006), in log space.

Each target l (length L) is extended to l' = (blank, l1, blank, l2, ..., lL, blank) of length 2L + 1.
alpha[t, s] = lp[t, l'_s] + logsumexp(alpha[t-1, s], alpha[t-1, s-1], alpha[t-1, s-2] if l'_s is a label
different from l'_{s-2}); the loss is -logsumexp(alpha[T-1, 2L], alpha[T-1, 2L-1]). beta runs the same
recursion backwards from T-1, so alpha + beta (which counts lp[t, l'_s] twice) scores every path through
(t, s). The gradient is PyTorch's, d loss / d lp[t, c] = exp(lp[t, c]) - exp(logsumexp_{s: l'_s = c}(alpha +
beta)[t, s] + nll - lp[t, c]): it includes the log_softmax term, so it is exact for log-probabilities coming
out of log_softmax, which is how CTC is used. The recursions loop over time; batch and s are vectorised.
"""
import numpy as np

from ..._array import xp_of
from ...autograd.function import Function, autocast
from ...tensor import Tensor

__all__ = ["ctc_loss"]


def _lse(xp, *terms):
    m = terms[0]
    for t in terms[1:]:
        m = xp.maximum(m, t)
    safe = xp.where(xp.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        return xp.log(sum(xp.exp(t - safe) for t in terms)) + safe


def _shift(xp, a, k):
    """a[..., s - k] along the last axis, -inf where s < k."""
    out = xp.full_like(a, -np.inf)
    out[..., k:] = a[..., :a.shape[-1] - k]
    return out


def _unshift(xp, a, k):
    """a[..., s + k] along the last axis, -inf past the end."""
    out = xp.full_like(a, -np.inf)
    out[..., :a.shape[-1] - k] = a[..., k:]
    return out


class CtcLoss(Function):
    @staticmethod
    def forward(ctx, log_probs, ext, in_len, tgt_len, blank, zero_infinity):
        """log_probs (T, N, C); ext (N, S) extended labels; returns the per-sample nll (N,)."""
        xp = xp_of(log_probs)
        T, N, C = log_probs.shape
        S = ext.shape[1]
        lp = log_probs.astype(np.float64) if log_probs.dtype.itemsize < 4 else log_probs
        rows = xp.arange(N)[:, None]
        lp_ext = lp[:, rows, ext]  # (T, N, S)
        s_idx = xp.arange(S)[None, :]
        valid = s_idx < (2 * tgt_len + 1)[:, None]
        skip = xp.zeros((N, S), dtype=bool)  # may come from s - 2: a label unlike the one two back
        skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
        neg_inf = xp.asarray(-np.inf, dtype=lp.dtype)
        alpha = xp.full((T, N, S), -np.inf, dtype=lp.dtype)
        alpha[0] = xp.where((s_idx < 2) & valid, lp_ext[0], neg_inf)
        for t in range(1, T):
            prev = alpha[t - 1]
            two_back = xp.where(skip, _shift(xp, prev, 2), neg_inf)
            alpha[t] = xp.where(valid, _lse(xp, prev, _shift(xp, prev, 1), two_back) + lp_ext[t], neg_inf)
        last = xp.clip(in_len - 1, 0, T - 1)
        end = 2 * tgt_len
        a_last = alpha[last, xp.arange(N)]
        ends = xp.stack([a_last[xp.arange(N), end], xp.where(end > 0, a_last[xp.arange(N), end - 1], neg_inf)])
        nll = -_lse(xp, ends[0], ends[1])
        nll = xp.where(in_len > 0, nll, xp.where(tgt_len == 0, 0.0, np.inf))
        if zero_infinity:
            nll_out = xp.where(xp.isinf(nll), 0, nll)
        else:
            nll_out = nll
        ctx.save_for_backward(log_probs)
        ctx.meta = (ext, in_len, tgt_len, alpha, lp_ext, valid, skip, nll, zero_infinity)
        return nll_out.astype(log_probs.dtype)

    @staticmethod
    def backward(ctx, g):
        from ...ops.index import add_at

        (log_probs,) = ctx.saved_tensors
        ext, in_len, tgt_len, alpha, lp_ext, valid, skip, nll, zero_infinity = ctx.meta
        xp = xp_of(g)
        T, N, C = log_probs.shape
        S = ext.shape[1]
        lp = log_probs.astype(lp_ext.dtype, copy=False)
        neg_inf = xp.asarray(-np.inf, dtype=lp.dtype)
        n_idx = xp.arange(N)
        end = 2 * tgt_len
        is_end = (xp.arange(S)[None, :] == end[:, None]) | (xp.arange(S)[None, :] == (end - 1)[:, None])
        skip_next = xp.zeros((N, S), dtype=bool)  # s + 2 may follow s
        skip_next[:, :-2] = skip[:, 2:]
        beta = xp.full((T, N, S), -np.inf, dtype=lp.dtype)
        for t in range(T - 1, -1, -1):
            start = t == in_len - 1  # each sample's beta starts at its own last frame
            nxt = beta[t + 1] if t + 1 < T else xp.full((N, S), -np.inf, dtype=lp.dtype)
            two_on = xp.where(skip_next, _unshift(xp, nxt, 2), neg_inf)
            rec = _lse(xp, nxt, _unshift(xp, nxt, 1), two_on) + lp_ext[t]
            init = xp.where(is_end & valid, lp_ext[t], neg_inf)
            beta[t] = xp.where(start[:, None], init, xp.where((t < in_len - 1)[:, None] & valid, rec, neg_inf))
        ab = alpha + beta  # (T, N, S)
        m = ab.max(2, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        summed = xp.zeros((T, N, C), dtype=lp.dtype)
        t_idx = xp.broadcast_to(xp.arange(T)[:, None, None], ab.shape)
        add_at(summed, (t_idx, xp.broadcast_to(n_idx[None, :, None], ab.shape), xp.broadcast_to(ext[None], ab.shape)),
               xp.exp(ab - m))
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            lcab = xp.log(summed) + m
            grad = xp.exp(lp) - xp.exp(lcab + nll[None, :, None] - lp)
        grad = xp.where((xp.arange(T)[:, None] < in_len[None, :])[..., None], grad, 0)
        if zero_infinity:
            grad = xp.where(xp.isinf(nll)[None, :, None], 0, grad)
        grad = grad * g[None, :, None]
        return grad.astype(log_probs.dtype, copy=False), None, None, None, None, None


def _lengths(name, value, N, xp):
    if isinstance(value, Tensor):
        if value._data.dtype.kind not in "iu":
            raise RuntimeError(f"ctc_loss: expected {name} to be an integer tensor, got {value.dtype}")
        arr = value._data.reshape(-1).astype(np.int64)
    else:
        arr = xp.asarray(np.atleast_1d(np.asarray(value, dtype=np.int64)))
    if arr.shape[0] != N:
        raise RuntimeError(f"{name} must be of size batch_size")
    return arr


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """log_probs (T, N, C) or (T, C); targets (N, S) padded or 1-D concatenated, class indices (not blank)."""
    from .loss import _reduction

    if autocast.enabled:
        log_probs, targets = autocast.cast("ctc_loss", log_probs, targets)
    reduction = _reduction(None, None, reduction)
    if log_probs.ndim not in (2, 3):
        raise RuntimeError(f"ctc_loss: expected log_probs to be 2-D (T, C) or 3-D (T, N, C), got "
                           f"{list(log_probs.shape)}")
    if not log_probs.is_floating_point():
        raise RuntimeError(f"ctc_loss: expected floating point log_probs, got {log_probs.dtype}")
    if targets._data.dtype.kind not in "iuf":
        raise RuntimeError(f"ctc_loss: expected targets to hold class indices, got {targets.dtype}")
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    xp = xp_of(lp._data)
    in_len = _lengths("input_lengths", input_lengths, N, xp)
    tgt_len = _lengths("target_lengths", target_lengths, N, xp)
    if in_len.size and int(in_len.max()) > T:
        raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {int(in_len.max())} "
                           f"(while checking arguments for ctc_loss_cpu)")
    if (in_len < 0).any() or (tgt_len < 0).any():
        raise RuntimeError("ctc_loss: input_lengths and target_lengths must be non-negative")
    t = targets._data.astype(np.int64)  # float targets are read as class indices, as PyTorch does
    L = int(tgt_len.max()) if N else 0
    if unbatched:
        t = t.reshape(1, -1)
    if t.ndim == 1:  # concatenated targets
        if t.shape[0] < int(tgt_len.sum()):
            raise RuntimeError(f"Expected tensor to have size at least {int(tgt_len.sum())} at dimension 0, but "
                               f"got size {t.shape[0]} for argument #2 'targets' (while checking arguments for "
                               f"ctc_loss_cpu)")
        starts = xp.cumsum(tgt_len) - tgt_len
        pos = starts[:, None] + xp.arange(L)[None, :]
        padded = xp.where(xp.arange(L)[None, :] < tgt_len[:, None], t[xp.minimum(pos, max(t.shape[0] - 1, 0))]
                          if t.shape[0] else 0, blank)
    else:
        if t.shape[0] != N:
            raise RuntimeError(f"ctc_loss: targets has batch size {t.shape[0]}, log_probs has {N}")
        if t.shape[1] < L:
            raise RuntimeError(f"Expected tensor to have size at least {L} at dimension 1, but got size {t.shape[1]} "
                               f"for argument #2 'targets' (while checking arguments for ctc_loss_cpu)")
        padded = xp.where(xp.arange(L)[None, :] < tgt_len[:, None], t[:, :L], blank)
    if padded.size and (int(padded.min()) < 0 or int(padded.max()) >= C):
        raise RuntimeError(f"ctc_loss: target class indices must lie in [0, {C - 1}]")
    ext = xp.full((N, 2 * L + 1), blank, dtype=np.int64)
    ext[:, 1::2] = padded
    loss = CtcLoss.apply(lp, ext, in_len, tgt_len, int(blank), bool(zero_infinity))
    if unbatched and reduction == "none":
        return loss.squeeze(0)
    if reduction == "mean":  # each sample's loss divided by its target length, then the batch mean
        from ...ops.factory import tensor

        divisor = tensor(xp.maximum(tgt_len, 1), dtype=loss.dtype, device=loss.device)
        return (loss / divisor).mean()
    return loss.sum() if reduction == "sum" else loss
