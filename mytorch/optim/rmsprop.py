"""RMSprop (Hinton): divide the gradient by a running RMS; optional centering and momentum."""
from .._array import xp_of
from .optimizer import Optimizer, _check_nonnegative, _check_not_differentiable, _to_scalar

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_nonnegative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        _check_not_differentiable(differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            alpha, eps, momentum, centered = group["alpha"], group["eps"], group["momentum"], group["centered"]
            buffers = ("square_avg", "momentum_buffer" if momentum > 0 else None, "grad_avg" if centered else None)
            for param, grad, state, _ in self._each_param(group, *buffers):
                xp = xp_of(param)
                square_avg = state["square_avg"]._data
                square_avg *= alpha
                square_avg += (1 - alpha) * grad * grad
                if centered:  # variance instead of the raw second moment
                    grad_avg = state["grad_avg"]._data
                    grad_avg += (1 - alpha) * (grad - grad_avg)
                    avg = xp.sqrt(square_avg - grad_avg * grad_avg)
                else:
                    avg = xp.sqrt(square_avg)
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]._data
                    buf *= momentum
                    buf += grad / avg
                    param -= lr * buf
                else:
                    update = -lr * grad
                    update /= avg
                    param += update
        return loss
