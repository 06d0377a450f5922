"""Adamax (Kingma & Ba, 2014, sec. 7): Adam with the infinity norm, u = max(b2*u, |g| + eps)."""
from .._array import xp_of
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
            eps, weight_decay = group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = self._step_tensor()
                    state["exp_avg"] = self._zeros_like(p)
                    state["exp_inf"] = self._zeros_like(p)
                param = p._data
                xp = xp_of(param)
                grad = self._grad_array(p, group)
                state["step"]._data += 1
                step = float(state["step"]._data)
                if weight_decay != 0:
                    grad = grad + weight_decay * param
                exp_avg, exp_inf = state["exp_avg"]._data, state["exp_inf"]._data
                scratch = xp.subtract(grad, exp_avg)
                scratch *= 1 - beta1
                exp_avg += scratch
                exp_inf *= beta2
                xp.abs(grad, out=scratch)
                scratch += eps
                xp.maximum(exp_inf, scratch, out=exp_inf)
                clr = lr / (1 - beta1 ** step)
                update = xp.multiply(exp_avg, -clr)
                update /= exp_inf
                param += update
        return loss
