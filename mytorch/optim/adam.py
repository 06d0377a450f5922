"""Adam (Kingma & Ba, 2014) with AMSGrad, L2 or decoupled weight decay, and maximize.

m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
fused=True (or mytorch.backends.fused) runs this update for all float32 parameters of a group in one
multi-tensor Triton kernel launch (mytorch.kernels.adamw), with the same state tensors. Unfused, the
parameters of a group that share dtype, device and step count are updated together on flat buffers
(the states are views into one buffer per name), a few array calls per group instead of ~14 per tensor.
"""
import math

import numpy as np

from .._array import on_device, xp_of
from ._functional import _adam_update, _weight_decay
from .optimizer import Optimizer, _check_nonnegative, _check_not_differentiable, _to_scalar

__all__ = ["Adam"]


def _check_adam_args(lr, betas, eps, weight_decay):
    _check_nonnegative(lr=lr, eps=eps)
    for i in (0, 1):
        if not 0.0 <= betas[i] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")
    _check_nonnegative(weight_decay=weight_decay)


def _fused_requested(group):
    """The Triton AdamW kernel is asked for by fused=True or mytorch.backends.fused (op "adamw"); it
    implements decoupled weight decay, so Adam's L2 decay (weight_decay != 0) stays unfused."""
    from .. import backends
    from ..kernels import is_available

    flags = backends.fused
    if not ((group.get("fused") or flags.enabled) and flags.adamw) or not is_available():
        return False
    return group.get("decoupled_weight_decay", False) or group["weight_decay"] == 0


def _fused_ok(group, param, grad):
    """The kernel updates float32 parameters (and their float32 states) in place: contiguous only."""
    return (param.dtype == np.float32 and grad.dtype == np.float32 and param.flags.c_contiguous
            and not group.get("differentiable", False))


def _fused_steps(group, batch, lr, beta1, beta2):
    """One multi-tensor kernel launch per (step value, device) for the (param, grad, state) triples in `batch`."""
    from ..kernels import adamw

    amsgrad = group["amsgrad"]
    for (step, _), items in batch.items():
        params, grads, states = zip(*items)
        adamw.adamw_multi_step(
            list(params), list(grads), [s["exp_avg"]._data for s in states], [s["exp_avg_sq"]._data for s in states],
            [s["max_exp_avg_sq"]._data for s in states] if amsgrad else None, step=step, lr=lr, beta1=beta1,
            beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"], amsgrad=amsgrad,
            maximize=group["maximize"])


class _FlatStates:
    """The states of several same-dtype, same-device parameters as views into one flat buffer per state
    name, so that one array call updates all of them (torch's foreach: a dozen GPU kernels per group
    instead of ~14 per tensor).

    The state dict keeps one tensor per parameter as before (state_dict, load_state_dict, pickling see
    ordinary tensors); a buffer is rebuilt whenever a state array is no longer the view made here."""

    def __init__(self, xp, params, states, names):
        self.params = params
        self.spans, total = [], 0
        for p in params:
            self.spans.append((total, total + p._data.size))
            total += p._data.size
        dtype = params[0]._data.dtype
        self.flat, self.views = {}, {}
        for name in names:
            flat = xp.empty(total, dtype)
            views = []
            for state, (a, b) in zip(states, self.spans):
                view = flat[a:b].reshape(state[name]._data.shape)
                view[...] = state[name]._data
                state[name]._data = view
                views.append(view)
            self.flat[name], self.views[name] = flat, views

    def matches(self, params, states):
        return (len(params) == len(self.params) and all(p is q for p, q in zip(params, self.params))
                and all(state[name]._data is view for name, views in self.views.items()
                        for state, view in zip(states, views)))


def _flat_update(xp):
    """Update a group on flat buffers (GPU arrays: each array call is a kernel launch), or tensor by
    tensor (numpy: the update is bound by arithmetic and cache bandwidth, not by calls; per tensor the
    arrays stay in cache, and a compiled pass does the whole update; the flat update measured 1.3-2x slower on a
    CPU, benchmarks/results/adamw_cpu.txt)."""
    return xp is not np or _FLAT_ON_CPU


_FLAT_ON_CPU = False  # tests set it to check the flat update against the per-tensor one on numpy


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        _check_not_differentiable(differentiable)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        betas = tuple(_to_scalar(b) for b in betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._run_closure(closure)
        for index, group in enumerate(self.param_groups):
            lr = _to_scalar(group["lr"])
            beta1, beta2 = (_to_scalar(b) for b in group["betas"])
            amsgrad = group["amsgrad"]
            fused = _fused_requested(group)
            kernel_batch, foreach_batch = {}, {}
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._lazy_state(p, "exp_avg", "exp_avg_sq", "max_exp_avg_sq" if amsgrad else None)
                param = p._data
                step = self._count_step(state)
                if fused and _fused_ok(group, param, p.grad._data):
                    grad = xp_of(param).ascontiguousarray(p.grad._data)
                    kernel_batch.setdefault((step, p.device), []).append((param, grad, state))
                elif param.flags.c_contiguous and p.grad._data.dtype == param.dtype and _flat_update(xp_of(param)):
                    foreach_batch.setdefault((step, param.dtype, p.device), []).append((p, state))
                else:
                    self._update_one(group, p, state, step, lr, beta1, beta2)
            if kernel_batch:
                _fused_steps(group, kernel_batch, lr, beta1, beta2)
            for (step, dtype, device), items in foreach_batch.items():
                if len(items) == 1:
                    self._update_one(group, *items[0], step, lr, beta1, beta2)
                else:
                    with on_device(device):  # flat buffers are allocated on the current GPU
                        self._update_many((index, dtype, device), group, items, step, lr, beta1, beta2)
        return loss

    def _update_one(self, group, p, state, step, lr, beta1, beta2):
        param = p._data
        grad = _weight_decay(group, param, self._grad_array(p, group), lr, group["weight_decay"])
        _adam_update(xp_of(param), param, grad, state["exp_avg"]._data, state["exp_avg_sq"]._data,
                     state["max_exp_avg_sq"]._data if group["amsgrad"] else None, beta1, beta2,
                     lr / (1 - beta1 ** step), math.sqrt(1 - beta2 ** step), group["eps"])

    def _update_many(self, key, group, items, step, lr, beta1, beta2):
        """The same update as _update_one for many parameters at once, on flat buffers (same values:
        every operation is elementwise with the same scalars)."""
        params, states = [p for p, _ in items], [s for _, s in items]
        xp = xp_of(params[0]._data)
        names = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())
        cache = self.__dict__.setdefault("_flat_states", {})
        flat = cache.get(key)
        if flat is None or not flat.matches(params, states):
            flat = cache[key] = _FlatStates(xp, params, states, names)
        # scratch buffers live for this step only (as torch's foreach intermediates): no 3 extra model copies
        grad = xp.concatenate([p.grad._data.reshape(-1) for p in params])
        update, scratch = xp.empty_like(grad), xp.empty_like(grad)
        if group["maximize"]:
            xp.negative(grad, out=grad)
        weight_decay = group["weight_decay"]
        decoupled = group.get("decoupled_weight_decay", False)
        if weight_decay != 0 and not decoupled:  # L2: grad + weight_decay * param
            for p, (a, b) in zip(params, flat.spans):
                grad[a:b] += xp.multiply(p._data.reshape(-1), weight_decay, out=scratch[a:b])
        # the update term (-step_size * m / denom) goes to a flat buffer, added to each parameter at the end
        _adam_update(xp, None, grad, flat.flat["exp_avg"], flat.flat["exp_avg_sq"], flat.flat.get("max_exp_avg_sq"),
                     beta1, beta2, lr / (1 - beta1 ** step), math.sqrt(1 - beta2 ** step), group["eps"],
                     scratch, update)
        shrink = 1 - lr * weight_decay if weight_decay != 0 and decoupled else None
        for p, (a, b) in zip(params, flat.spans):
            if shrink is not None:
                p._data *= shrink
            p._data += update[a:b].reshape(p._data.shape)
