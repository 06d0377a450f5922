"""torch.autograd.forward_ad: dual tensors (a primal with a tangent) and their Jacobian-vector products.

mytorch has one autograd mechanism, reverse mode; forward mode is built on it. make_dual returns the primal as a
tensor the graph starts from; unpack_dual(y) computes y's tangent J t from the graph recorded in between, by
reverse mode twice (g(u) = J^T u is linear in u, so d<g(u), t>/du = J t). So ops between make_dual and
unpack_dual must record: inside the dual level, grad mode has to be on (the tensors then show requires_grad).
"""
import collections

from . import grad as _grad
from .grad_mode import is_grad_enabled

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual"]

UnpackedDualTensor = collections.namedtuple("UnpackedDualTensor", ["primal", "tangent"])
_levels = []  # one {id(dual): (dual, tangent)} per open level, innermost last


def enter_dual_level():
    """Open a new dual level (forward grads are kept until it is exited); returns its index."""
    if _levels:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _levels.append({})
    return len(_levels) - 1


def exit_dual_level(*, level=None):
    if not _levels:
        raise RuntimeError("Trying to exit a forward AD level that was not entered")
    _levels.pop()


class dual_level:
    """`with dual_level():` the scope within which dual tensors keep their tangents."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()


def _level(level):
    if not _levels:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                           "enter_dual_level() first.")
    return _levels[-1 if level is None else level]


def make_dual(tensor, tangent, *, level=None):
    """The primal `tensor` carrying `tangent` (same shape) within the current dual level."""
    duals = _level(level)
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.shape)} while the given "
                           f"forward gradient is of size {list(tangent.shape)}.")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not is_grad_enabled():
        raise RuntimeError("mytorch's forward AD records the graph between make_dual and unpack_dual: grad mode "
                           "must be enabled (not inside no_grad)")
    dual = tensor.view_as(tensor) if tensor.requires_grad else tensor.detach().requires_grad_(True)
    duals[id(dual)] = (dual, tangent.detach())
    return dual


def unpack_dual(tensor, *, level=None):
    """(primal, tangent): the tangent is J t through every dual tensor `tensor` depends on (None if none)."""
    if not _levels:
        return UnpackedDualTensor(tensor, None)
    duals = _levels[-1 if level is None else level]
    hit = duals.get(id(tensor))
    if hit is not None and hit[0] is tensor:
        return UnpackedDualTensor(tensor, hit[1])
    if not tensor.requires_grad or not duals or not (tensor.is_floating_point() or tensor.is_complex()):
        return UnpackedDualTensor(tensor, None)
    inputs = [d for d, _ in duals.values()]
    cot = tensor.detach().new_zeros(tensor.shape).requires_grad_(True)
    pulled = _grad(tensor, inputs, cot, create_graph=True, allow_unused=True)
    live = [(p, t) for p, (_, t) in zip(pulled, duals.values()) if p is not None and p.requires_grad]
    if not live:
        return UnpackedDualTensor(tensor, None if all(p is None for p in pulled) else tensor.new_zeros(tensor.shape))
    tangent, = _grad([p for p, _ in live], cot, [t.to(p.dtype) for p, t in live], allow_unused=True)
    return UnpackedDualTensor(tensor, tangent if tangent is not None else tensor.new_zeros(tensor.shape))
