"""Rprop (Riedmiller & Braun, 1993): per-weight step sizes that grow while the gradient keeps its sign and
shrink when it flips; only the gradient's sign moves the weight (full-batch training)."""
from .._array import xp_of
from .optimizer import Optimizer, _check_not_differentiable, _to_scalar

__all__ = ["Rprop"]


class Rprop(Optimizer):
    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _check_not_differentiable(differentiable)
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            eta_minus, eta_plus = group["etas"]
            lo, hi = group["step_sizes"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._lazy_state(p, "prev", "step_size")
                if self._count_step(state) == 1:
                    state["step_size"]._data[...] = lr
                param, grad = p._data, self._grad_array(p, group)
                xp = xp_of(param)
                prev, step_size = state["prev"]._data, state["step_size"]._data
                sign = xp.sign(grad * prev)
                factor = xp.where(sign > 0, eta_plus, xp.where(sign < 0, eta_minus, 1.0)).astype(param.dtype)
                step_size *= factor
                xp.clip(step_size, lo, hi, out=step_size)
                grad = xp.where(sign < 0, 0, grad).astype(param.dtype)  # after a sign flip: no move, forget it
                param -= xp.sign(grad) * step_size
                prev[...] = grad
        return loss
