"""NAdam (Dozat, 2016): Adam with Nesterov momentum and the momentum-decay schedule
mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))."""
from .._array import xp_of
from .adam import _check_adam_args, _update_moments, _weight_decay
from .optimizer import Optimizer, _check_not_differentiable, _to_scalar

__all__ = ["NAdam"]


class NAdam(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
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
            eps, weight_decay, momentum_decay = group["eps"], group["weight_decay"], group["momentum_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = self._step_tensor()
                    state["mu_product"] = self._step_tensor(1.0)
                    state["exp_avg"] = self._zeros_like(p)
                    state["exp_avg_sq"] = self._zeros_like(p)
                param = p._data
                xp = xp_of(param)
                grad = self._grad_array(p, group)
                state["step"]._data += 1
                step = float(state["step"]._data)
                bias_correction2 = 1 - beta2 ** step
                grad = _weight_decay(group, param, grad, lr, weight_decay)
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
