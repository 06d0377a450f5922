"""RAdam (Liu et al., 2019): Adam whose adaptive step is switched on, with a variance rectification
factor, once the approximated SMA length rho_t exceeds 5; before that it is SGD with momentum."""
import math

from .._array import xp_of
from ._functional import _update_moments
from .adam import _check_adam_args
from .optimizer import Optimizer, _check_not_differentiable, _to_scalar

__all__ = ["RAdam"]


class RAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        _check_not_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            for param, grad, state, step in self._each_param(group, "exp_avg", "exp_avg_sq"):
                xp = xp_of(param)
                exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
                scratch = _update_moments(xp, grad, exp_avg, exp_avg_sq, beta1, beta2)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                update = xp.divide(exp_avg, bias_correction1)
                update *= lr
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
                if rho_t > 5.0:
                    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                    adaptive = xp.sqrt(exp_avg_sq, out=scratch)
                    adaptive += eps
                    xp.divide(bias_correction2 ** 0.5, adaptive, out=adaptive)
                    update *= adaptive
                    update *= rect
                param -= update
        return loss
