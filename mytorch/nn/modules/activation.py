"""Activation modules: thin shells over nn.functional, with PyTorch's constructor arguments and reprs."""
from ...ops.factory import empty
from .. import functional as F
from .. import init
from ..functional.activation import _gelu, _run, _softmax
from ..parameter import Parameter
from .module import Module

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softmin", "Softmax2d",
           "ELU", "SELU", "CELU", "Softplus", "Mish", "GLU", "Hardtanh", "Hardsigmoid", "Hardswish", "Softsign",
           "Tanhshrink", "Threshold", "PReLU", "LogSigmoid", "Hardshrink", "Softshrink", "RReLU"]


def _inplace_str(inplace, lead=", "):
    return f"{lead}inplace=True" if inplace else ""


class _InplaceActivation(Module):
    """Activations whose only option is `inplace`: forward calls `_fn(input, inplace=...)`."""

    _fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input, inplace=self.inplace)

    def extra_repr(self):
        return _inplace_str(self.inplace, lead="")


class _Stateless(Module):
    """Activations without options: forward calls `_fn(input)`."""

    _fn = None

    def forward(self, input):
        return type(self)._fn(input)


class _KernelActivation(_InplaceActivation):
    """ReLU/SiLU: fused=True asks for the Triton kernel (used when one can run; not part of the repr)."""

    _name = None

    def __init__(self, inplace=False, fused=False):
        super().__init__(inplace)
        self.fused = fused

    def forward(self, input):
        return _run(self._name, input, inplace=self.inplace, fused=self.fused)


class ReLU(_KernelActivation):
    _fn = staticmethod(F.relu)
    _name = "relu"


class SiLU(_KernelActivation):
    _fn = staticmethod(F.silu)
    _name = "silu"


class Mish(_InplaceActivation):
    _fn = staticmethod(F.mish)


class SELU(_InplaceActivation):
    _fn = staticmethod(F.selu)


class Hardsigmoid(_InplaceActivation):
    _fn = staticmethod(F.hardsigmoid)

    def extra_repr(self):
        return ""


class Hardswish(_InplaceActivation):
    _fn = staticmethod(F.hardswish)

    def extra_repr(self):
        return ""


class Sigmoid(_Stateless):
    _fn = staticmethod(F.sigmoid)


class Tanh(_Stateless):
    _fn = staticmethod(F.tanh)


class Softsign(_Stateless):
    _fn = staticmethod(F.softsign)


class Tanhshrink(_Stateless):
    _fn = staticmethod(F.tanhshrink)


class LogSigmoid(_Stateless):
    _fn = staticmethod(F.logsigmoid)


class Hardtanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_str(self.inplace)}"


class ReLU6(Hardtanh):
    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_str(self.inplace, lead="")


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}{_inplace_str(self.inplace)}"


class RReLU(Module):
    """Random leaky slope in U(lower, upper) per element while training, (lower + upper) / 2 in eval."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}{_inplace_str(self.inplace)}"


class GELU(Module):
    def __init__(self, approximate="none", fused=False):
        super().__init__()
        self.approximate = approximate
        self.fused = fused

    def forward(self, input):
        return _gelu(input, self.approximate, self.fused)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class ELU(Module):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}{_inplace_str(self.inplace)}"


class CELU(ELU):
    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)


class Softplus(Module):
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Threshold(Module):
    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}{_inplace_str(self.inplace)}"


class Hardshrink(Module):
    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    def forward(self, input):
        return F.softshrink(input, self.lambd)


class GLU(Module):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class _SoftmaxBase(Module):
    _log = False

    def __init__(self, dim=None, fused=False):
        super().__init__()
        self.dim = dim
        self.fused = fused

    def __setstate__(self, state):
        super().__setstate__(state)
        if not hasattr(self, "dim"):
            self.dim = None

    def forward(self, input):
        return _softmax(input, self.dim, None, self._log, self.fused)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """fused=True asks for the Triton kernel (used when one can run; not part of the repr)."""

    _log = False


class LogSoftmax(_SoftmaxBase):
    _log = True


class Softmin(_SoftmaxBase):
    def forward(self, input):
        return F.softmin(input, self.dim, _stacklevel=5)


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W) inputs, at every location."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return F.softmax(input, -3)


class PReLU(Module):
    """max(0, x) + weight * min(0, x), with one learnable slope (or one per channel), initialised to `init`."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
from .attention import MultiheadAttention  # noqa: F401,E402  (torch.nn.modules.activation holds it too)
