"""Spectral normalization, W / sigma(W) with sigma the largest singular value estimated by power iteration
(Miyato et al., 2018), in both of PyTorch's forms: `nn.utils.spectral_norm` (a forward pre-hook; the
parameter becomes name_orig, with buffers name_u and name_v) and `nn.utils.parametrizations.spectral_norm`
(a parametrization holding buffers _u and _v).

W is viewed as a matrix (W.shape[dim], -1). Each forward in training mode runs n_power_iterations steps
u = normalize(W v), v = normalize(W^T u) in place on the buffers, without gradient; then
sigma = u . (W v) with u and v held constant, so the gradient flows through W alone. In eval mode the
buffers are used as they are.
"""
from ...autograd.grad_mode import no_grad
from .. import functional as F
from ..modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ..modules.module import Module
from ..parameter import Parameter
from .weight_norm import remove_hooked_reparametrization

__all__ = ["spectral_norm", "remove_spectral_norm", "parametrized_spectral_norm"]


def _default_dim(module, dim):
    """dim 1 for transposed convolutions (their weight is (in, out, ...)), else 0."""
    if dim is None:
        return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    return dim


def _as_matrix(weight, dim):
    if dim != 0:
        weight = weight.permute(dim, *[d for d in range(weight.ndim) if d != dim])
    return weight.flatten(1)


def _check_args(n_power_iterations, eps):
    if n_power_iterations < 0:
        raise ValueError(f"Expected n_power_iterations to be non-negative, but got n_power_iterations={n_power_iterations}")
    if eps <= 0:
        raise ValueError(f"spectral_norm: eps must be positive, got {eps}")


class _SpectralNormHook:
    """The forward pre-hook of nn.utils.spectral_norm: module.<name> = name_orig / sigma before forward."""

    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        mat = _as_matrix(weight, self.dim)
        if do_power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(F.normalize(mat.t().mv(u), dim=0, eps=self.eps))
                    u.copy_(F.normalize(mat.mv(v), dim=0, eps=self.eps))
            if self.n_power_iterations > 0:  # the updated buffers, as constants of this forward's graph
                u, v = u.clone(), v.clone()
        return weight / u.dot(mat.mv(v))

    def final_weight(self, module):
        return self.compute_weight(module, do_power_iteration=False)

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module, do_power_iteration=module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide module.<name> by its spectral norm before every forward (PyTorch's hook form)."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
    _check_args(n_power_iterations, eps)
    weight = getattr(module, name)
    if not isinstance(weight, Parameter):
        raise TypeError(f"spectral_norm: module.{name} must be a Parameter, got {type(weight).__name__}")
    dim = _default_dim(module, dim)
    hook = _SpectralNormHook(name, n_power_iterations, dim, eps)
    with no_grad():
        mat = _as_matrix(weight, dim)
        h, w = mat.shape
        u = F.normalize(weight.new_empty(h).normal_(0, 1), dim=0, eps=eps)
        v = F.normalize(weight.new_empty(w).normal_(0, 1), dim=0, eps=eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    object.__setattr__(module, name, weight.detach())  # a plain attribute until the first forward
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo spectral_norm: module.<name> becomes a Parameter holding the current normalized weight."""
    return remove_hooked_reparametrization(module, name, _SpectralNormHook, "spectral_norm", parameters=("_orig",),
                                           buffers=("_u", "_v"))


class _SpectralNorm(Module):
    """The parametrization: forward(W) = W / sigma(W); 1-D weights are just normalized."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got "
                             f"{dim})")
        _check_args(n_power_iterations, eps)
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            with no_grad():
                mat = _as_matrix(weight, self.dim)
                h, w = mat.shape
                self.register_buffer("_u", F.normalize(mat.new_empty(h).normal_(0, 1), dim=0, eps=eps))
                self.register_buffer("_v", F.normalize(mat.new_empty(w).normal_(0, 1), dim=0, eps=eps))
                self._power_method(mat, 15)  # start from a good estimate

    def _power_method(self, mat, n):
        with no_grad():
            for _ in range(n):
                self._u.copy_(F.normalize(mat.mv(self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(mat.t().mv(self._u), dim=0, eps=self.eps))

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        mat = _as_matrix(weight, self.dim)
        if self.training:
            self._power_method(mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        return weight / u.dot(mat.mv(v))

    def right_inverse(self, value):
        return value  # any weight: its spectral norm is what forward divides by


def parametrized_spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """nn.utils.parametrizations.spectral_norm: module.parametrizations.<name> computes W / sigma(W)."""
    from . import parametrize

    weight = getattr(module, name, None)
    if not isinstance(weight, Parameter):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    parametrize.register_parametrization(module, name,
                                         _SpectralNorm(weight, n_power_iterations, _default_dim(module, dim), eps))
    return module
