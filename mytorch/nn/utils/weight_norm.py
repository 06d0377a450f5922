"""Weight normalization, w = g * v / ||v|| (Salimans & Kingma), in both of PyTorch's forms:
`nn.utils.weight_norm` (hooks; parameters name_g, name_v) and `nn.utils.parametrizations.weight_norm`
(a parametrization; parametrizations.weight.original0 = g, original1 = v)."""
from ..modules.module import Module
from ..parameter import Parameter

__all__ = ["weight_norm", "remove_weight_norm", "norm_except_dim", "_weight_norm"]


def norm_except_dim(v, pow=2, dim=0):
    """The pow-norm of v over every dim but `dim`, shaped to broadcast against v; dim=-1: over all of v."""
    if dim == -1:
        return v.norm(pow)
    dim = dim % v.ndim
    axes = tuple(i for i in range(v.ndim) if i != dim)
    return (v.abs() ** pow).sum(axes, keepdim=True) ** (1.0 / pow) if axes else v.abs()


def _weight_norm(v, g, dim=0):
    return v * (g / norm_except_dim(v, 2, dim))


class _WeightNormHook:
    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def compute(self, module):
        return _weight_norm(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"), self.dim)

    final_weight = compute

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute(module))


def weight_norm(module, name="weight", dim=0):
    """Replace module.<name> by name_g (magnitude) and name_v (direction), recombined before each forward."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _WeightNormHook) and hook.name == name:
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
    if dim is None:
        dim = -1
    weight = getattr(module, name)
    if not isinstance(weight, Parameter):
        raise TypeError(f"weight_norm: module.{name} must be a Parameter, got {type(weight).__name__}")
    hook = _WeightNormHook(name, dim)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, dim).detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    object.__setattr__(module, name, hook.compute(module))
    module.register_forward_pre_hook(hook)
    return module


def remove_hooked_reparametrization(module, name, hook_cls, what, parameters=(), buffers=()):
    """Undo a hook-based reparametrization of module.<name> (weight_norm, spectral_norm): the hook of class
    hook_cls for it computes the weight once more (hook.final_weight), then the hook, its parameters and
    buffers (suffixes of name) go and module.<name> is a Parameter holding that weight."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, hook_cls) and hook.name == name:
            weight = hook.final_weight(module).detach()
            del module._forward_pre_hooks[key]
            for suffix in parameters:
                del module._parameters[name + suffix]
            for suffix in buffers:
                del module._buffers[name + suffix]
            module.__dict__.pop(name, None)
            module.register_parameter(name, Parameter(weight))
            return module
    raise ValueError(f"{what} of '{name}' not found in {module}")


def remove_weight_norm(module, name="weight"):
    return remove_hooked_reparametrization(module, name, _WeightNormHook, "weight_norm", parameters=("_g", "_v"))


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def parametrized_weight_norm(module, name="weight", dim=0):
    from . import parametrize

    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


