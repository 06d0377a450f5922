"""nn.utils: gradient clipping, parameter/vector conversion, RNN packing, parametrizations, weight and spectral
norm, pruning, conv/linear + BatchNorm fusion, skip_init."""
import inspect

from . import fusion, parametrizations, parametrize, prune, rnn, stateless
from .clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                        get_total_norm)
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm
from ...ops.factory import empty_like as _empty_like
from ..modules.module import Module as _Module

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grads_with_norm_", "clip_grad_value_", "fuse_conv_bn_eval",
           "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights", "get_total_norm",
           "parameters_to_vector", "parametrizations", "parametrize", "prune", "remove_spectral_norm",
           "remove_weight_norm", "rnn", "skip_init", "spectral_norm", "stateless", "vector_to_parameters",
           "weight_norm", "fusion"]


def skip_init(module_cls, *args, **kwargs):
    """Instantiate module_cls(*args, **kwargs) with uninitialized (torch.empty-like) parameters and buffers.

    PyTorch builds the module on the meta device and then calls to_empty; mytorch has no meta device, so the
    module is built on its device and each parameter and buffer is then swapped for an empty array of the same
    shape, dtype and device (Parameters keep their identity and requires_grad).
    """
    if not issubclass(module_cls, _Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    kwargs.setdefault("device", "cpu")
    return module_cls(*args, **kwargs)._apply(_empty_like)
