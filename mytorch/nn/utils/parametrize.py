"""torch.nn.utils.parametrize: a module's tensor replaced by a function of other tensors.

`register_parametrization(module, "weight", P)` moves the weight to `module.parametrizations.weight
.original` (or `original0`, `original1`, ... when P.right_inverse returns several tensors) and makes
`module.weight` a property computed as P(original) on every access, as PyTorch does: the module's class is
swapped for a subclass that carries the property, so state_dict keys and parameters() match PyTorch's.
"""
import contextlib

from ...tensor import Tensor
from ..modules.container import ModuleDict, ModuleList
from ..modules.module import Module
from ..parameter import Parameter

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "type_before_parametrizations", "ParametrizationList"]

_cache = {"enabled": 0, "values": {}}


@contextlib.contextmanager
def cached():
    """Inside the block a parametrized tensor is computed once per module and name, then reused."""
    _cache["enabled"] += 1
    try:
        yield
    finally:
        _cache["enabled"] -= 1
        if not _cache["enabled"]:
            _cache["values"].clear()


def _as_original(value, like):
    if isinstance(like, Parameter) or getattr(like, "requires_grad", False):
        return value if isinstance(value, Parameter) else Parameter(value.detach(), requires_grad=like.requires_grad)
    return value


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the original tensor(s) they start from."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        new = original
        with _no_grad():
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:  # as PyTorch: a parametrization that can't invert keeps the value
                        pass
        self.is_tensor = isinstance(new, Tensor)
        if self.is_tensor:
            if not unsafe and (new.shape != original.shape or new.dtype != original.dtype):
                raise ValueError(f"When `right_inverse` outputs one tensor, it may not change the dtype or shape. "
                                 f"original.shape: {original.shape}, right_inverse(original).shape: {new.shape}")
            self._register_original("original", new, original)
        else:
            self.ntensors = len(new)
            for i, t in enumerate(new):
                if not isinstance(t, Tensor):
                    raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors. Got {type(t)}")
                self._register_original(f"original{i}", t, original)

    def _register_original(self, name, value, like):
        value = _as_original(value, like)
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        else:
            self.register_buffer(name, value)

    def right_inverse(self, value):
        """Assigning module.<name> = value stores right_inverse(value) in the original(s)."""
        with _no_grad():
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
            if self.is_tensor:
                self.original.copy_(value)
            else:
                for i, t in enumerate(value):
                    getattr(self, f"original{i}").copy_(t)

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _no_grad():
    from ...autograd import no_grad

    return no_grad()


def _property(name):
    def get(self):
        key = (id(self), name)
        if _cache["enabled"] and key in _cache["values"]:
            return _cache["values"][key]
        value = self.parametrizations[name]()
        if _cache["enabled"]:
            _cache["values"][key] = value
        return value

    def set_(self, value):
        self.parametrizations[name].right_inverse(value)

    return property(get, set_)


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    if not isinstance(parametrization, Module):
        raise TypeError(f"parametrization must be an nn.Module, got {type(parametrization).__name__}")
    if is_parametrized(module, tensor_name):
        module.parametrizations[tensor_name].append(parametrization)
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element "
                         f"with name '{tensor_name}'")
    original = getattr(module, tensor_name)
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        cls = module.__class__
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {"_original_class": cls})
        module.parametrizations = ModuleDict()
    setattr(module.__class__, tensor_name, _property(tensor_name))
    module.parametrizations[tensor_name] = plist
    return module


def is_parametrized(module, tensor_name=None):
    plists = module.__dict__.get("_modules", {}).get("parametrizations")
    if plists is None or not isinstance(plists, ModuleDict):
        return False
    return tensor_name is None and len(plists) > 0 or tensor_name in plists


def type_before_parametrizations(module):
    return module.__class__.__dict__.get("_original_class", type(module)) if is_parametrized(module) \
        else type(module)


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if leave_parametrized:
        with _no_grad():
            value = getattr(module, tensor_name)
        original = plist.original if plist.is_tensor else plist.original0
        if plist.is_tensor and value.shape == original.shape and value.dtype == original.dtype:
            with _no_grad():
                original.copy_(value)  # keep the same Parameter object (optimizers hold it)
            value = original
        elif isinstance(original, Parameter):
            value = Parameter(value.detach(), requires_grad=original.requires_grad)
        else:
            value = value.detach()
    else:
        if not plist.is_tensor:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is "
                             "parametrized in terms of a sequence of tensors.")
        value = plist.original
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(value, Parameter):
        module.register_parameter(tensor_name, value)
    else:
        module.register_buffer(tensor_name, value)
    if not is_parametrized(module):
        del module.parametrizations
        module.__class__ = module.__class__.__dict__["_original_class"]
    return module
