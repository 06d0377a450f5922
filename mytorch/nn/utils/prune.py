"""torch.nn.utils.prune: zero out parts of a parameter through a mask.

Pruning module.<name> the first time moves the Parameter to name_orig, adds the buffer name_mask and a
forward pre-hook that sets module.<name> = name_orig * name_mask before each forward. Pruning it again
combines the methods in a PruningContainer: each new method chooses among the entries (or, for structured
methods, the channels) the earlier masks left. remove() makes the pruned values permanent.

Masks are chosen from the values (or importance_scores of the same shape): L1 / Ln norms, at random, or a
given mask; `amount` is a fraction in [0, 1] of the entries (channels) or a count of them.
"""
import numbers
from abc import ABC, abstractmethod

import numpy as np

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured", "L1Unstructured",
           "RandomStructured", "LnStructured", "CustomFromMask", "identity", "random_unstructured",
           "l1_unstructured", "random_structured", "ln_structured", "global_unstructured", "custom_from_mask",
           "remove", "is_pruned"]


def _check_amount(amount):
    if not isinstance(amount, numbers.Real) or isinstance(amount, bool):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or \
            (not isinstance(amount, numbers.Integral) and not 0.0 <= float(amount) <= 1.0):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")


def _count(amount, size):
    """How many of `size` entries (or channels) to prune."""
    if isinstance(amount, numbers.Integral):
        if amount > size:
            raise ValueError(f"amount={amount} should be smaller than the number of parameters to prune={size}")
        return int(amount)
    return round(amount * size)


def _cpu_rng():
    """mytorch's default CPU generator (manual_seed makes random pruning repeatable)."""
    from ..._array import CPU
    from ...random import rng_for

    return rng_for(CPU)


def _mask_like(t, values):
    return Tensor._make(np.asarray(values, dtype=t._data.dtype).reshape(t.shape))


def _channel_axes(t, dim):
    if t.ndim <= 1:
        raise ValueError(f"Structured pruning can only be applied to multidimensional tensors. Found tensor of "
                         f"shape {tuple(t.shape)} with {t.ndim} dims")
    dim = dim % t.ndim
    return dim, tuple(d for d in range(t.ndim) if d != dim)


def _keep_channels(t, dim, keep):
    """A mask of t's shape that is 1 on the channels (indices along dim) in `keep`."""
    mask = np.zeros(t.shape, t._data.dtype)
    index = [slice(None)] * t.ndim
    index[dim] = np.asarray(keep, dtype=np.int64)
    mask[tuple(index)] = 1
    return mask


class BasePruningMethod(ABC):
    """A pruning method: compute_mask(t, default_mask) picks what to prune; also the forward pre-hook."""

    _tensor_name = None
    PRUNING_TYPE = None  # "unstructured" | "structured" | "global"

    def __call__(self, module, inputs):
        object.__setattr__(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The mask (t's shape) that prunes t on top of default_mask."""

    def apply_mask(self, module):
        orig = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune module.<name> with cls(*args, **kwargs), combined with the pruning it already has."""
        previous = [(key, hook) for key, hook in module._forward_pre_hooks.items()
                    if isinstance(hook, BasePruningMethod) and hook._tensor_name == name]
        if len(previous) > 1:
            raise RuntimeError(f"more than one pruning hook on {name}: use a PruningContainer")
        method = cls(*args, **kwargs)
        method._tensor_name = name
        orig = getattr(module, name)
        scores = orig if importance_scores is None else importance_scores
        if tuple(scores.shape) != tuple(orig.shape):
            raise ValueError(f"importance_scores should have the same shape as parameter {name} of {module}")
        if previous:
            key, old = previous[0]
            del module._forward_pre_hooks[key]
            container = old if isinstance(old, PruningContainer) else PruningContainer(old)
            container.add_pruning_method(method)
            method = container
            default_mask = getattr(module, name + "_mask").detach().clone()
        else:
            if name not in module._parameters:
                raise ValueError(f"module {module} has no parameter named '{name}' to prune")
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = _mask_like(orig, np.ones(orig.shape))
        try:
            with no_grad():
                mask = method.compute_mask(scores.detach(), default_mask=default_mask)
        except Exception:  # leave the module as it was
            if previous:
                key, old = previous[0]
                if method is old:  # the container it was added to
                    old._pruning_methods = old._pruning_methods[:-1]
                module._forward_pre_hooks[key] = old
            else:
                module._parameters[name] = module._parameters.pop(name + "_orig")
            raise
        module.register_buffer(name + "_mask", mask)
        object.__setattr__(module, name, method.apply_mask(module))
        module.register_forward_pre_hook(method)
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """t with the mask applied (a new tensor; nothing is registered)."""
        scores = t if importance_scores is None else importance_scores
        default_mask = default_mask if default_mask is not None else _mask_like(t, np.ones(t.shape))
        with no_grad():
            mask = self.compute_mask(scores.detach(), default_mask=default_mask)
        return t * mask

    def remove(self, module):
        """Make the pruning permanent: module.<name> is a Parameter holding orig * mask again."""
        name = self._tensor_name
        if name is None:
            raise RuntimeError(f"Module {module} has to be pruned before pruning can be removed")
        weight = self.apply_mask(module).detach()
        module.__dict__.pop(name, None)
        orig = module._parameters.pop(name + "_orig")
        module._buffers.pop(name + "_mask")
        orig.data = weight
        module.register_parameter(name, orig)


class PruningContainer(BasePruningMethod):
    """Methods applied one after another to the same parameter, each within what the earlier ones kept."""

    def __init__(self, *methods):
        self._pruning_methods = ()
        if len(methods) == 1 and not isinstance(methods[0], BasePruningMethod):  # an iterable of them
            methods = tuple(methods[0])
        for m in methods:
            self.add_pruning_method(m)

    def add_pruning_method(self, method):
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name is not None and method._tensor_name != self._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named '{self._tensor_name}' to "
                             f"PruningContainer. Found '{method._tensor_name}'")
        if method is not None:
            self._tensor_name = method._tensor_name
            self.PRUNING_TYPE = method.PRUNING_TYPE
            self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        """The last method's mask, computed on the entries (or channels) default_mask still keeps."""
        method = self._pruning_methods[-1]
        mask = default_mask._data.astype(t._data.dtype)
        if method.PRUNING_TYPE == "unstructured":
            keep = mask == 1
            part = method.compute_mask(Tensor._make(t._data[keep]), Tensor._make(mask[keep]))
            mask = mask.copy()
            mask[keep] = part._data
        elif method.PRUNING_TYPE == "structured":
            dim, others = _channel_axes(t, method.dim)
            alive = np.flatnonzero(mask.sum(axis=others) != 0)
            sub = np.take(t._data, alive, axis=dim)
            part = method.compute_mask(Tensor._make(sub), Tensor._make(np.take(mask, alive, axis=dim)))
            mask = mask.copy()
            index = [slice(None)] * t.ndim
            index[dim] = alive
            mask[tuple(index)] = part._data
        elif method.PRUNING_TYPE == "global":
            mask = method.compute_mask(t, Tensor._make(mask))._data
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        return Tensor._make(mask)


class Identity(BasePruningMethod):
    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class _Unstructured(BasePruningMethod):
    """Prune `amount` of the entries: those with the lowest scores (_scores)."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _check_amount(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        k = _count(self.amount, t.numel())
        mask = default_mask._data.copy()
        if k:
            flat = mask.reshape(-1)
            flat[np.argsort(self._scores(t._data).reshape(-1), kind="stable")[:k]] = 0
        return Tensor._make(mask)


class RandomUnstructured(_Unstructured):
    def _scores(self, a):
        return _cpu_rng().random(a.shape)

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(_Unstructured):
    def _scores(self, a):
        return np.abs(a)

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class _Structured(BasePruningMethod):
    """Prune `amount` of the channels along dim: those with the lowest scores (_channel_scores)."""

    PRUNING_TYPE = "structured"

    def compute_mask(self, t, default_mask):
        dim, others = _channel_axes(t, self.dim)
        size = t.shape[dim]
        k = _count(self.amount, size)
        if k == 0:
            return default_mask
        keep = np.argsort(-self._channel_scores(t._data, dim, others), kind="stable")[:size - k]
        return Tensor._make(_keep_channels(t, dim, keep) * default_mask._data)


class RandomStructured(_Structured):
    def __init__(self, amount, dim=-1):
        _check_amount(amount)
        self.amount, self.dim = amount, dim

    def _channel_scores(self, a, dim, others):
        return _cpu_rng().random(a.shape[dim])

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(_Structured):
    """Keep the channels of largest L-n norm (n: a number, inf, -inf, 'fro' or 'nuc' as in torch.norm)."""

    def __init__(self, amount, n, dim=-1):
        _check_amount(amount)
        self.amount, self.n, self.dim = amount, n, dim

    def _channel_scores(self, a, dim, others):
        n = 2 if self.n == "fro" else self.n
        if n == "nuc":
            raise ValueError("LnStructured: the nuclear norm is not a per-channel norm")
        rows = np.moveaxis(a, dim, 0).reshape(a.shape[dim], -1).astype(np.float64)
        return np.linalg.norm(rows, ord=n, axis=1)

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise ValueError(f"mask of shape {tuple(self.mask.shape)} doesn't match the parameter's "
                             f"{tuple(default_mask.shape)}")
        return default_mask * self.mask.to(dtype=default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


def identity(module, name):
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module, name, mask):
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prune across all (module, name) pairs at once: the lowest-scoring entries of them all together."""
    if isinstance(parameters, (str, bytes)) or not hasattr(parameters, "__iter__"):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    method = pruning_method(**kwargs)
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(f'Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. Found method '
                        f"{pruning_method} of type {method.PRUNING_TYPE}")
    scores, masks = [], []
    for module, name in parameters:
        value = getattr(module, name)
        scores.append(importance_scores.get((module, name), value).detach()._data.reshape(-1))
        mask = getattr(module, name + "_mask", None)
        masks.append(np.ones(value.numel(), value._data.dtype) if mask is None else mask._data.reshape(-1))
    container = PruningContainer()
    container._tensor_name = method._tensor_name = "temp"
    container.add_pruning_method(method)
    final = container.compute_mask(Tensor._make(np.concatenate(scores)), Tensor._make(np.concatenate(masks)))
    start = 0
    for (module, name), flat in zip(parameters, scores):
        value = getattr(module, name)
        piece = final._data[start:start + flat.size].reshape(tuple(value.shape))
        start += flat.size
        custom_from_mask(module, name, mask=Tensor._make(piece.astype(value._data.dtype)))


def remove(module, name):
    """Make the pruning of module.<name> permanent and drop name_orig, name_mask and the hook."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can be removed")


def is_pruned(module):
    """Whether any submodule of module has a pruning hook."""
    return any(isinstance(hook, BasePruningMethod)
               for m in module.modules() for hook in m._forward_pre_hooks.values())
