"""Adagrad (Duchi et al., 2011): per-coordinate lr / sqrt(sum of squared gradients)."""
from .._array import xp_of
from .optimizer import Optimizer, _check_nonnegative, _check_not_differentiable, _to_scalar

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_nonnegative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        _check_not_differentiable(differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:  # like torch, Adagrad's state exists from the start
            for p in group["params"]:
                state = self.state[p]
                state["step"] = self._step_tensor()
                state["sum"] = self._zeros_like(p)
                state["sum"]._data += group["initial_accumulator_value"]

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            lr_decay, eps = group["lr_decay"], group["eps"]
            for param, grad, state, step in self._each_param(group):  # state made in __init__
                xp = xp_of(param)
                clr = lr / (1 + (step - 1) * lr_decay)
                state_sum = state["sum"]._data
                state_sum += grad * grad
                std = xp.sqrt(state_sum)
                std += eps
                update = -clr * grad
                update /= std
                param += update
        return loss
