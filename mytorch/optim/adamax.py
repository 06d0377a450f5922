"""Adamax (Kingma & Ba, 2014, sec. 7): Adam with the infinity norm, u = max(b2*u, |g| + eps)."""
from .._array import xp_of
from ._functional import _lerp_
from .adam import _check_adam_args
from .optimizer import Optimizer, _check_not_differentiable, _to_scalar

__all__ = ["Adamax"]


class Adamax(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        _check_not_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            for param, grad, state, step in self._each_param(group, "exp_avg", "exp_inf"):
                xp = xp_of(param)
                exp_avg, exp_inf = state["exp_avg"]._data, state["exp_inf"]._data
                scratch = _lerp_(xp, exp_avg, grad, 1 - beta1)
                exp_inf *= beta2
                xp.abs(grad, out=scratch)
                scratch += eps
                xp.maximum(exp_inf, scratch, out=exp_inf)
                clr = lr / (1 - beta1 ** step)
                update = xp.multiply(exp_avg, -clr)
                update /= exp_inf
                param += update
        return loss
