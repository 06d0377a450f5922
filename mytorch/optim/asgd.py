"""ASGD (Polyak & Juditsky, 1992): SGD with a decaying step and a running average `ax` of the iterates
(the averaged weights, used for evaluation)."""
from .optimizer import Optimizer, _check_nonnegative, _check_not_differentiable, _to_scalar

__all__ = ["ASGD"]


class ASGD(Optimizer):
    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None, maximize=False,
                 differentiable=False, capturable=False):
        _check_nonnegative(lr=lr, weight_decay=weight_decay)
        _check_not_differentiable(differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._lazy_state(p, "ax", eta=lr, mu=1.0)
                step = self._count_step(state)
                param, grad = p._data, self._grad_array(p, group)
                if group["weight_decay"] != 0:
                    grad = grad + group["weight_decay"] * param
                eta, mu = float(state["eta"]._data), float(state["mu"]._data)
                param *= 1 - lambd * eta
                param -= eta * grad
                ax = state["ax"]._data
                if mu != 1:
                    ax += (param - ax) * mu
                else:
                    ax[...] = param
                state["eta"]._data[...] = lr / ((1 + lambd * lr * step) ** alpha)
                state["mu"]._data[...] = 1 / max(1, step - t0)
        return loss
