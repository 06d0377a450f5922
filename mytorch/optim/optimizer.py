"""Optimizer base class: param groups, per-parameter state, state_dict, hooks (PyTorch's contract).

Subclasses implement `step(closure=None)` by updating the raw arrays in place (`p._data`,
`p.grad._data`); the base wraps every subclass `step` so it runs under no_grad and calls hooks.
"""
import functools
import warnings
from collections import OrderedDict, defaultdict
from copy import deepcopy
from itertools import chain

import numpy as np

from .._array import CPU, move_array, on_device, xp_of
from .._dtype import get_default_dtype
from ..autograd import grad_mode
from ..autograd.profiler import record_function
from ..tensor import Tensor
from ..utils.hooks import RemovableHandle
from ._functional import _weight_decay

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Singleton marking a default a param group must provide (e.g. an lr with no default)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()


def _add_hook(hooks_dict, hook, prepend=False):
    handle = RemovableHandle(hooks_dict)
    hooks_dict[handle.id] = hook
    if prepend:
        hooks_dict.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook):
    """A hook(optimizer, args, kwargs) run before every optimizer's step."""
    return _add_hook(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    return _add_hook(_global_step_post_hooks, hook)


def _hooked_step(step):
    """Wrap a subclass `step`: no_grad, pre/post hooks, and mark the optimizer as stepped
    (the LR scheduler warns when it is stepped before the optimizer)."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if getattr(self, "_in_step", False):  # a subclass calling super().step(): hooks ran already
            return step(self, *args, **kwargs)
        for hook in chain(_global_step_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{hook} must return None or a tuple of (new_args, new_kwargs), "
                                       f"but got {result}.")
                args, kwargs = result
        self._opt_called = True
        closure = kwargs.get("closure", args[0] if args else None)
        if closure is not None and self._steps_complex_as_real and any(
                p._data.dtype.kind == "c" for g in self.param_groups for p in g["params"]):
            # the closure must see the complex parameters, not the real views the step works on: run it first
            with grad_mode.enable_grad():
                loss = closure()
            args, kwargs = (), dict(kwargs, closure=lambda: loss)
        self._in_step = True
        swapped = _complex_as_real(self) if self._steps_complex_as_real else []
        try:
            with grad_mode.no_grad(), self._device_context(), \
                    record_function(f"Optimizer.step#{type(self).__name__}.step"):
                out = step(self, *args, **kwargs)
        finally:
            self._in_step = False
            if swapped:
                _complex_back(self, swapped)
        for hook in chain(self._optimizer_step_post_hooks.values(), _global_step_post_hooks.values()):
            hook(self, args, kwargs)
        return out

    wrapper._hooked = True
    return wrapper


def _as_real(t, swapped):
    """Swap a complex tensor's array for its (..., 2) real view (same memory), remembering both."""
    z = t._data
    t._data = z[..., None].view(z.real.dtype)
    swapped.append((t, z, t._data))


def _complex_as_real(opt):
    """PyTorch steps a complex parameter as pairs of reals (view_as_real), so Adam's second moment, say, is
    per real and imaginary part. Swap complex parameters, their grads and their state for real views."""
    swapped = []
    for group in opt.param_groups:
        for p in group["params"]:
            if p._data.dtype.kind != "c":
                continue
            shape = p._data.shape
            for t in (p, p.grad, *opt.state.get(p, {}).values()):
                if isinstance(t, Tensor) and t._data.dtype.kind == "c" and t._data.shape == shape:
                    _as_real(t, swapped)
    return swapped


def _complex_back(opt, swapped):
    """Undo _complex_as_real; arrays the step replaced and state it created become complex views again."""
    for t, z, real in swapped:
        if t._data is real:
            t._data = z
    params = {id(t): z.shape for t, z, _ in swapped}
    for group in opt.param_groups:
        for p in group["params"]:
            shape = params.get(id(p))
            if shape is None:
                continue
            for t in (p, p.grad, *opt.state.get(p, {}).values()):
                if isinstance(t, Tensor) and t._data.dtype.kind == "f" and t._data.shape == shape + (2,):
                    arr = xp_of(t._data).ascontiguousarray(t._data)
                    t._data = arr.view(np.complex128 if arr.dtype == np.float64 else np.complex64)[..., 0]


class Optimizer:
    # complex parameters are swapped for real views around step(); an optimizer that evaluates its closure
    # inside step() and views complex numbers as real itself (LBFGS) turns this off
    _steps_complex_as_real = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _hooked_step(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {params.type()}")
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # pickling / copying ---------------------------------------------------------------------------
    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks", "_optimizer_state_dict_pre_hooks",
                     "_optimizer_state_dict_post_hooks", "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())

    def __repr__(self):
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # param groups ------------------------------------------------------------------------------
    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]  # named_parameters() style (name, tensor)
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        param_group["params"] = params
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + type(p).__name__)
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        if len(params) != len(set(params)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if not seen.isdisjoint(params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad = p.grad.detach()
                    p.grad._data.fill(0)

    def step(self, closure=None):
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    # helpers for subclasses ---------------------------------------------------------------------
    @staticmethod
    def _run_closure(closure):
        if closure is None:
            return None
        with grad_mode.enable_grad():
            return closure()

    @staticmethod
    def _zeros_like(p):
        """A state buffer: zeros with the parameter's shape, dtype and device."""
        with on_device(p.device):  # cupy's zeros_like allocates on the current GPU, not p's
            return Tensor._make(xp_of(p._data).zeros_like(p._data))

    def _device_context(self):
        """The parameters' GPU made current for the update (cupy computes on the current GPU)."""
        for group in self.param_groups:
            for p in group["params"]:
                return on_device(p.device)
        return on_device(CPU)

    @staticmethod
    def _step_tensor(value=0.0):
        """state['step'] is a 0-d float tensor on the CPU, like torch (float64 if that is the default)."""
        return Tensor._make(np.array(value, dtype=get_default_dtype().np))

    @staticmethod
    def _grad_array(p, group):
        """p.grad as an array, negated when maximizing (never aliased if it will be modified)."""
        grad = p.grad._data
        return -grad if group.get("maximize", False) else grad

    def _lazy_state(self, p, *buffers, **scalars):
        """self.state[p], made on its first step: a 'step' counter, float scalar tensors `scalars`, then
        zero buffers named `buffers` (a None name is skipped: an optional buffer that is off)."""
        state = self.state[p]
        if len(state) == 0:
            state["step"] = self._step_tensor()
            for name, value in scalars.items():
                state[name] = self._step_tensor(value)
            for name in buffers:
                if name is not None:
                    state[name] = self._zeros_like(p)
        return state

    @staticmethod
    def _count_step(state):
        """state['step'] += 1; returns the new count as a float."""
        state["step"]._data += 1
        return float(state["step"]._data)

    def _each_param(self, group, *buffers, **scalars):
        """The preamble every adaptive optimizer's step shares, per parameter of `group` that has a grad:
        its state (see _lazy_state), the step counted, the gradient negated when maximizing and with
        weight decay (L2, or decoupled when the group asks) applied. Yields (param, grad, state, step):
        raw arrays, the state dict and the step as a float."""
        lr, weight_decay = _to_scalar(group["lr"]), group["weight_decay"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._lazy_state(p, *buffers, **scalars)
            step = self._count_step(state)
            grad = _weight_decay(group, p._data, self._grad_array(p, group), lr, weight_decay)
            yield p._data, grad, state, step

    # hooks -------------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook):
        return _add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        return _add_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return _add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return _add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return _add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return _add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # state_dict ------------------------------------------------------------------------------
    def state_dict(self):
        """{'state': {param_id: {...}}, 'param_groups': [{..., 'params': [ids]}]}; ids number the
        parameters in group order, as in torch (state tensors are returned by reference)."""
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        mapping = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                mapping.setdefault(id(p), len(mapping))
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        out = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, out)
            if result is not None:
                out = result
        return out

    def load_state_dict(self, state_dict):
        """Load a state_dict from this kind of optimizer (a torch one's works too). State tensors are
        copied onto each parameter's device and dtype ('step' stays a float scalar tensor)."""
        state_dict = state_dict.copy()
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = {k: _cast_state(param, k, v) for k, v in value.items()}
            else:
                state[key] = value
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.__setstate__({"state": state, "param_groups": new_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)


def _cast_state(param, key, value):
    """A copy of one state value for `param`: float tensors take the param's dtype and device, except
    'step' (kept as a float scalar); torch tensors are converted."""
    if type(value).__module__.startswith("torch"):  # a torch.Tensor from a torch optimizer's state_dict
        value = Tensor._make(np.array(value.detach().cpu().numpy()))
    if isinstance(value, Tensor):
        data = value._data
        if data.ndim and data.shape != param._data.shape:
            # per-element state (moments, momentum buffers) must match its parameter; catch it here, not
            # as a broadcast error in a later step()
            raise ValueError(f"loaded optimizer state '{key}' has shape {list(data.shape)}, but its parameter has "
                             f"shape {list(param.shape)}: the state_dict belongs to a different model")
        if key != "step":
            if data.dtype.kind == "f":
                data = data.astype(param._data.dtype, copy=False)
            data = move_array(data, param.device)
        return Tensor._make(data.copy())
    if isinstance(value, dict):
        return {k: _cast_state(param, k, v) for k, v in value.items()}
    return deepcopy(value)


def _to_scalar(x):
    """A float from an lr/beta that may be a 1-element Tensor."""
    return x.item() if isinstance(x, Tensor) else x


_ARG_NAMES = {"lr": "learning rate", "eps": "epsilon value"}


def _check_nonnegative(**values):
    """torch's ValueError for a negative (or NaN) hyper-parameter, checked in the order given:
    'Invalid learning rate: -1', 'Invalid epsilon value: ...', 'Invalid <name> value: ...'."""
    for name, value in values.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {_ARG_NAMES.get(name, name + ' value')}: {value}")


def _check_not_differentiable(differentiable):
    if differentiable:
        raise RuntimeError("mytorch optimizers update parameters in place under no_grad; "
                           "differentiable=True is not supported")
