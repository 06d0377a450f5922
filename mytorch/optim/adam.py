"""Adam (Kingma & Ba, 2014) with AMSGrad, L2 or decoupled weight decay, and maximize.

m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
fused=True (or mytorch.backends.fused) runs this update as one Triton kernel per float32 parameter
(mytorch.kernels.adamw), with the same state tensors.
"""
import math

import numpy as np

from .._array import xp_of
from ._functional import _update_moments, _weight_decay
from .optimizer import Optimizer, _check_nonnegative, _check_not_differentiable, _to_scalar

__all__ = ["Adam"]


def _check_adam_args(lr, betas, eps, weight_decay):
    _check_nonnegative(lr=lr, eps=eps)
    for i in (0, 1):
        if not 0.0 <= betas[i] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")
    _check_nonnegative(weight_decay=weight_decay)


def _fused_requested(group):
    """The Triton AdamW kernel is asked for by fused=True or mytorch.backends.fused (op "adamw"); it
    implements decoupled weight decay, so Adam's L2 decay (weight_decay != 0) stays unfused."""
    from .. import backends
    from ..kernels import is_available

    flags = backends.fused
    if not ((group.get("fused") or flags.enabled) and flags.adamw) or not is_available():
        return False
    return group.get("decoupled_weight_decay", False) or group["weight_decay"] == 0


def _fused_ok(group, param, grad):
    """The kernel updates float32 parameters (and their float32 states) in place: contiguous only."""
    return (param.dtype == np.float32 and grad.dtype == np.float32 and param.flags.c_contiguous
            and not group.get("differentiable", False))


def _fused_step(group, state, param, grad, step, lr, beta1, beta2):
    from ..kernels import adamw

    amsgrad = group["amsgrad"]
    adamw.adamw_step(param, grad, state["exp_avg"]._data, state["exp_avg_sq"]._data, step=step, lr=lr,
                     beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                     amsgrad=amsgrad, max_exp_avg_sq=state["max_exp_avg_sq"]._data if amsgrad else None,
                     maximize=group["maximize"])


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        _check_not_differentiable(differentiable)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        betas = tuple(_to_scalar(b) for b in betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            beta1, beta2 = (_to_scalar(b) for b in group["betas"])
            eps, weight_decay, amsgrad = group["eps"], group["weight_decay"], group["amsgrad"]
            fused = _fused_requested(group)
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._lazy_state(p, "exp_avg", "exp_avg_sq", "max_exp_avg_sq" if amsgrad else None)
                param = p._data
                xp = xp_of(param)
                step = self._count_step(state)
                if fused and _fused_ok(group, param, p.grad._data):
                    _fused_step(group, state, param, xp.ascontiguousarray(p.grad._data), step, lr, beta1, beta2)
                    continue
                grad = self._grad_array(p, group)
                grad = _weight_decay(group, param, grad, lr, weight_decay)
                exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
                scratch = _update_moments(xp, grad, exp_avg, exp_avg_sq, beta1, beta2)
                step_size = lr / (1 - beta1 ** step)
                bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
                if amsgrad:
                    max_sq = state["max_exp_avg_sq"]._data
                    xp.maximum(max_sq, exp_avg_sq, out=max_sq)
                    denom = xp.sqrt(max_sq, out=scratch)
                else:
                    denom = xp.sqrt(exp_avg_sq, out=scratch)
                denom /= bias_correction2_sqrt
                denom += eps
                update = xp.multiply(exp_avg, -step_size)
                update /= denom
                param += update
        return loss
