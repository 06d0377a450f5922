"""NAdam (Dozat, 2016): Adam with Nesterov momentum and the momentum-decay schedule
mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))."""
from .._array import xp_of
from ._functional import _update_moments
from .adam import _check_adam_args
from .optimizer import Optimizer, _check_nonnegative, _check_not_differentiable, _to_scalar

__all__ = ["NAdam"]


class NAdam(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        _check_nonnegative(momentum_decay=momentum_decay)
        _check_not_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            beta1, beta2 = group["betas"]
            eps, momentum_decay = group["eps"], group["momentum_decay"]
            for param, grad, state, step in self._each_param(group, "exp_avg", "exp_avg_sq", mu_product=1.0):
                xp = xp_of(param)
                bias_correction2 = 1 - beta2 ** step
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
                state["mu_product"]._data *= mu  # a float scalar tensor, rounded like torch's
                mu_product = float(state["mu_product"]._data)
                exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
                denom = _update_moments(xp, grad, exp_avg, exp_avg_sq, beta1, beta2)
                xp.divide(exp_avg_sq, bias_correction2, out=denom)
                xp.sqrt(denom, out=denom)
                denom += eps
                # p += -lr (1-mu)/(1-prod) * g/denom  -  lr mu_next/(1-prod*mu_next) * m/denom
                update = xp.multiply(grad, -lr * (1.0 - mu) / (1.0 - mu_product))
                update /= denom
                param += update
                xp.multiply(exp_avg, (-lr * mu_next) / (1.0 - mu_product * mu_next), out=update)
                update /= denom
                param += update
        return loss
