"""mytorch: a PyTorch-compatible deep learning framework in Python (numpy on CPU, cupy on CUDA)."""
__version__ = "0.1.0"

import warnings as _warnings

from ._allocator import tune_malloc as _tune_malloc

_tune_malloc()
# numpy's floating-point RuntimeWarnings (log(0), 0/0, overflow in exp) raised inside mytorch's own code
# stay silent, as PyTorch's ops are: the values (inf, nan) are the answer. Users' own numpy calls still warn.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"mytorch(\.|$)")

from . import _dtype  # noqa: E402
from ._array import device, get_default_device, set_default_device
from ._array import device as _device_type  # get_device_module's argument shadows `device`
from ._dtype import (bfloat16, dtype, float16, float32, float64, get_default_dtype, int8, int16, int32, int64,
                     promote_types, set_default_dtype, uint8)
from ._dtype import bool_ as bool  # noqa: A001  (mytorch.bool, like torch.bool)
from ._dtype import complex32, complex64, complex128  # noqa: E402
from ._formatting import set_printoptions
from ._threads import get_num_interop_threads, get_num_threads, set_num_interop_threads, set_num_threads
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.grad_mode import is_inference_mode_enabled
from .autograd.anomaly import is_anomaly_check_nan_enabled, is_anomaly_enabled  # noqa: E402
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .tensor import Size, Tensor

half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001
cfloat, cdouble, chalf = complex64, complex128, complex32
from math import e, inf, nan, pi  # noqa: E402,F401  (torch.inf, torch.nan, torch.pi, torch.e)

from . import ops  # noqa: E402  (attaches Tensor methods)
from .ops._registry import PUBLIC_OPS as _PUBLIC_OPS  # noqa: E402

globals().update(_PUBLIC_OPS)
from .ops.factory import range_ as range  # noqa: E402,A001

from . import autograd, cuda  # noqa: E402
from ._dtype import result_type as _result_type  # noqa: E402


def result_type(tensor1, tensor2):
    return _result_type(tensor1, tensor2)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.is_floating_point()


def numel(input):
    return input.numel()


def can_cast(from_, to):
    return from_._kind <= to._kind


def is_storage(obj):
    return False


def typename(obj):
    return obj.type() if isinstance(obj, Tensor) else type(obj).__name__


from ._finfo import finfo, iinfo  # noqa: E402
from ._precision import get_float32_matmul_precision, set_float32_matmul_precision  # noqa: E402

detach, detach_ = Tensor.detach, Tensor.detach_  # torch.detach(x) is x.detach()
is_nonzero, is_same_size, is_signed, is_inference, get_device = (Tensor.is_nonzero, Tensor.is_same_size,
                                                                 Tensor.is_signed, Tensor.is_inference,
                                                                 Tensor.get_device)
_warn_always = False
from operator import truth as _truth  # noqa: E402


def set_warn_always(b, /):
    """Record whether warnings PyTorch gives once should be given every time (mytorch's warn through Python's
    warnings module, whose filters decide that)."""
    global _warn_always
    _warn_always = _truth(b)  # (`bool` here is mytorch.bool)


def is_warn_always_enabled():
    return _warn_always


def get_device_module(device=None):
    """The module for a device type: mytorch.cuda for 'cuda:1', mytorch.cpu for 'cpu'; by default the
    accelerator's when one is available, else mytorch.cpu."""
    if isinstance(device, _device_type):
        name = device.type
    elif isinstance(device, str):
        name = _device_type(device).type
    elif device is None:
        name = "cuda" if cuda.is_available() else "cpu"
    else:
        raise RuntimeError(f"Invalid value of device '{device}', expect torch.device, str, or None")
    module = globals().get(name) or (_lazy(name) if name == "cpu" else None)
    if module is None:
        raise RuntimeError(f"Device '{name}' does not have a corresponding module registered as 'torch.{name}'.")
    return module


from ._determinism import (are_deterministic_algorithms_enabled, get_deterministic_debug_mode,  # noqa: E402
                           is_deterministic_algorithms_warn_only_enabled, set_deterministic_debug_mode,
                           use_deterministic_algorithms)
from . import jit  # noqa: E402
from ._legacy_tensors import CPU_TYPES as _LEGACY_TYPES  # noqa: E402  (torch.FloatTensor, torch.LongTensor, ...)
from ._legacy_tensors import set_default_tensor_type  # noqa: E402

globals().update(_LEGACY_TYPES)
from ._torch_alias import install as _install_torch_alias  # noqa: E402

_install_torch_alias()  # `import torch.nn` -> mytorch.nn when sys.modules["torch"] is mytorch


def _lazy(name):
    import importlib

    return importlib.import_module(f"mytorch.{name}")


def __getattr__(name):
    # heavier subpackages load on first use: mytorch.nn, mytorch.optim, mytorch.utils, ...
    if name in ("nn", "optim", "utils", "backends", "kernels", "serialization", "amp", "distributed",
                "accelerate", "models", "tokenizers", "accelerator", "onnx", "profiler"):
        return _lazy(name)
    if name in ("autocast", "GradScaler", "is_autocast_enabled", "get_autocast_dtype", "set_autocast_enabled",
                "set_autocast_dtype", "is_autocast_cache_enabled", "set_autocast_cache_enabled",
                "clear_autocast_cache", "is_autocast_cpu_enabled", "get_autocast_cpu_dtype", "get_autocast_gpu_dtype"):
        return getattr(_lazy("amp"), name)
    if name == "compile":
        return _lazy("_compile").compile
    if name in ("save", "load", "save_file", "load_file"):
        return getattr(_lazy("serialization"), name)
    raise AttributeError(f"module 'mytorch' has no attribute '{name}'")
from ._layout import (channels_last, channels_last_3d, contiguous_format, layout, memory_format,  # noqa: E402
                      legacy_contiguous_format, preserve_format, strided)

_getattr_core = __getattr__


def __getattr__(name):  # noqa: F811  (torch.linalg / special / fft / signal / masked load on first use too)
    if name in ("linalg", "special", "fft", "signal", "masked", "distributions", "testing", "func", "multiprocessing",
                "hub", "cpu"):
        return _lazy(name)
    if name == "vmap":
        return _lazy("func").vmap
    if name in _NN_FUNCTIONAL_AT_TOP:  # torch.pdist, torch.grid_sampler_2d, ...: the same functions as in F
        return getattr(_lazy("nn").functional, name)
    if name in _NN_ATEN_AT_TOP:  # torch.dropout(input, p, train), torch.batch_norm(..., cudnn_enabled), ...
        return getattr(_lazy("nn.functional.top_level"), name)
    return _getattr_core(name)


_NN_FUNCTIONAL_AT_TOP = {"pdist", "channel_shuffle", "native_channel_shuffle", "rrelu", "rrelu_", "grid_sampler",
                         "grid_sampler_2d", "grid_sampler_3d", "affine_grid_generator", "pixel_shuffle",
                         "pixel_unshuffle", "cosine_similarity", "pairwise_distance", "conv1d", "conv2d", "conv3d",
                         "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "bilinear", "prelu", "hardshrink",
                         "avg_pool1d", "adaptive_avg_pool1d", "rms_norm", "relu_", "selu_", "celu_", "threshold_"}
# torch.<name> whose signature is ATen's rather than F's: thin wrappers in nn/functional/top_level.py
_NN_ATEN_AT_TOP = {"convolution", "batch_norm", "instance_norm", "layer_norm", "group_norm", "dropout", "dropout_",
                   "feature_dropout", "feature_dropout_", "alpha_dropout", "alpha_dropout_", "feature_alpha_dropout",
                   "feature_alpha_dropout_", "selu", "celu", "threshold", "embedding", "embedding_renorm_",
                   "embedding_bag", "kl_div", "margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss",
                   "triplet_margin_loss", "poisson_nll_loss", "binary_cross_entropy_with_logits", "ctc_loss",
                   "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "adaptive_max_pool1d"}
