"""SGD with momentum, dampening, Nesterov, weight decay and maximize (torch.optim.SGD's update)."""
from .optimizer import Optimizer, _check_not_differentiable, _to_scalar

__all__ = ["SGD"]


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_not_differentiable(differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            momentum, dampening = group["momentum"], group["dampening"]
            weight_decay = _to_scalar(group["weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = self._grad_array(p, group)
                if weight_decay != 0:
                    grad = grad + weight_decay * p._data
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:  # the first step's buffer is the gradient itself
                        buf = state["momentum_buffer"] = self._zeros_like(p)
                        buf._data[...] = grad
                    else:  # buf = momentum * buf + (1 - dampening) * grad
                        buf._data *= momentum
                        buf._data += (1 - dampening) * grad
                    grad = grad + momentum * buf._data if group["nesterov"] else buf._data
                p._data -= lr * grad
        return loss
