"""autocast: run each op of a region in the dtype its autocast list gives it (mytorch/amp/op_lists.py).

    with mytorch.autocast("cpu", dtype=mytorch.bfloat16):
        logits = model(x)                  # Linear/matmul/conv/attention in bfloat16
        loss = F.cross_entropy(logits, y)  # losses in float32
    loss.backward()                        # parameters (float32 masters) get float32 gradients

Casts are ordinary recorded ops (`tensor.to`), so gradients flow back through them into each input's
own dtype. State is per thread and per device type: an op is autocast when autocast is on for the device
type its tensors live on. Inside a region, casts of float32 leaf tensors that require grad (the weights)
are cached, as PyTorch does, and the cache is dropped when the outermost region exits.
"""
import functools
import inspect
import threading
import warnings
import weakref

import numpy as np

from .. import _dtype
from ..autograd import grad_mode
from ..autograd.function import autocast as _dispatch
from ..tensor import Tensor
from .op_lists import POLICIES, function_ops

__all__ = ["autocast", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype", "set_autocast_enabled",
           "set_autocast_dtype", "is_autocast_cache_enabled", "set_autocast_cache_enabled", "clear_autocast_cache",
           "custom_fwd", "custom_bwd", "is_autocast_cpu_enabled", "get_autocast_cpu_dtype", "get_autocast_gpu_dtype"]

_DEVICE_TYPES = ("cpu", "cuda")
_DEFAULT_DTYPE = {"cpu": "bfloat16", "cuda": "float16"}  # PyTorch's defaults


class _State(threading.local):
    def __init__(self):
        self.enabled = {"cpu": False, "cuda": False}
        self.dtype = {d: getattr(_dtype, name) for d, name in _DEFAULT_DTYPE.items()}
        self.cache_enabled = True
        self.nesting = 0
        self.cache = {}  # (id(weight), dtype, grad mode) -> (weakref(weight), version, cast weight)


_state = _State()


def is_autocast_available(device_type):
    return device_type in _DEVICE_TYPES


def _check_device_type(device_type):
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")


def is_autocast_enabled(device_type=None):
    """device_type None means "cuda", as PyTorch's legacy no-argument form."""
    device_type = "cuda" if device_type is None else device_type
    _check_device_type(device_type)
    return _state.enabled[device_type]


_threads_on = set()  # idents of the threads with autocast on for some device type
_threads_lock = threading.Lock()


def set_autocast_enabled(device_type, enabled):
    _check_device_type(device_type)
    _state.enabled[device_type] = bool(enabled)
    with _threads_lock:  # ops check one process-wide flag; _cast then looks at this thread's state
        if any(_state.enabled.values()):
            _threads_on.add(threading.get_ident())
        else:
            _threads_on.discard(threading.get_ident())
        _dispatch.enabled = bool(_threads_on)


def get_autocast_dtype(device_type):
    _check_device_type(device_type)
    return _state.dtype[device_type]


def set_autocast_dtype(device_type, dtype):
    _check_device_type(device_type)
    _state.dtype[device_type] = _dtype.to_dtype(dtype)


def is_autocast_cpu_enabled():  # PyTorch's older spellings
    return is_autocast_enabled("cpu")


def get_autocast_cpu_dtype():
    return get_autocast_dtype("cpu")


def get_autocast_gpu_dtype():
    return get_autocast_dtype("cuda")


def is_autocast_cache_enabled():
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled):
    _state.cache_enabled = bool(enabled)


def clear_autocast_cache():
    _state.cache.clear()


class autocast:
    """`mytorch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)`: a context manager and
    decorator, like torch.autocast. dtype None: float16 on "cuda", bfloat16 on "cpu"."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        _check_device_type(device_type)
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else _dtype.to_dtype(dtype)
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else bool(cache_enabled)
        enabled = bool(enabled)
        if enabled and self.fast_dtype not in (_dtype.float16, _dtype.bfloat16):
            warnings.warn(f"In {device_type} autocast, but the target dtype {self.fast_dtype} is not supported. "
                          "Disabling autocast.\nAutocast only supports dtype of mytorch.bfloat16 and "
                          "mytorch.float16 currently.")
            enabled = False
        if enabled and self.fast_dtype is _dtype.bfloat16 and not _dtype._HAS_BF16:
            raise TypeError(f"autocast('{device_type}', dtype=mytorch.bfloat16) needs the ml_dtypes package "
                            "(numpy has no bfloat16): pip install ml_dtypes (or mytorch[bf16]), or pass "
                            "dtype=mytorch.float16")
        if enabled and device_type == "cuda":
            from .. import cuda

            if not cuda.is_available():
                warnings.warn("User provided device_type of 'cuda', but CUDA is not available. Disabling")
                enabled = False
            elif self.fast_dtype is _dtype.bfloat16 and not cuda.is_bf16_supported():
                raise RuntimeError("Current CUDA Device does not support bfloat16. Please switch dtype to float16.")
        self._enabled = enabled

    def __enter__(self):
        self._prev = (_state.enabled[self.device], _state.dtype[self.device], _state.cache_enabled)
        set_autocast_enabled(self.device, self._enabled)
        _state.dtype[self.device] = self.fast_dtype
        _state.cache_enabled = self._cache_enabled
        _state.nesting += 1
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        _state.nesting -= 1
        if _state.nesting == 0:  # leaving the outermost region: cached weight casts must not leak out
            _state.cache.clear()
        enabled, _state.dtype[self.device], _state.cache_enabled = self._prev
        set_autocast_enabled(self.device, enabled)
        return False

    def __call__(self, func):
        if inspect.isclass(func):
            raise TypeError("autocast decorates functions, not classes")

        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return func(*args, **kwargs)

        return decorate_autocast

    def __repr__(self):
        return f"autocast(device_type='{self.device}', dtype={self.fast_dtype}, enabled={self._enabled})"


# ---- custom autograd Functions ----------------------------------------------------------------------------
def _cast_tree(value, device_type, dtype):
    if isinstance(value, Tensor):
        return value.to(dtype) if _eligible(value, device_type) else value
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_tree(v, device_type, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _cast_tree(v, device_type, dtype) for k, v in value.items()}
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorator for a custom autograd.Function's forward. cast_inputs=None: forward runs under the caller's
    autocast state; a dtype: inside an autocast region, floating inputs are cast to it and forward runs
    with autocast off. custom_bwd runs backward under the same state as forward."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(ctx, *args, **kwargs):
        ctx._dtype = get_autocast_dtype(device_type)
        on = is_autocast_enabled(device_type)
        if cast_inputs is None or not on:
            ctx._fwd_used_autocast = on and cast_inputs is None
            return fwd(ctx, *args, **kwargs)
        ctx._fwd_used_autocast = False
        with autocast(device_type, enabled=False):
            return fwd(ctx, *_cast_tree(args, device_type, cast_inputs), **_cast_tree(kwargs, device_type, cast_inputs))

    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorator for a custom autograd.Function's backward: runs it under the autocast state of its forward."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(ctx, *args, **kwargs):
        with autocast(device_type, dtype=ctx._dtype, enabled=ctx._fwd_used_autocast):
            return bwd(ctx, *args, **kwargs)

    return decorate_bwd


# ---- the cast every autocast op runs (installed as mytorch.autograd.function.autocast.cast) ----------------
_FLOAT32 = np.dtype(np.float32)
_CASTABLE = {np.dtype(np.float16), _FLOAT32}
_dtype.on_bfloat16(_CASTABLE.add)


def _eligible(t, device_type):
    """A floating tensor (not float64) on this device type: the tensors autocast may cast."""
    return (isinstance(t, Tensor) and t._data.dtype in _CASTABLE
            and (type(t._data) is np.ndarray) == (device_type == "cpu"))


def _cast_to(t, np_dtype, device_type, lower):
    if not _eligible(t, device_type) or t._data.dtype == np_dtype:
        return t
    from ..ops.elementwise import ToCopy

    if not (lower and _state.cache_enabled and t._data.dtype == _FLOAT32 and t._requires_grad
            and t.grad_fn is None and t._base is None):
        return ToCopy.apply(t, t.device, np_dtype)
    # a weight: reuse its cast while it is unchanged (same version) and the cast's graph is still alive
    key = (id(t), np_dtype, grad_mode.is_grad_enabled())
    hit = _state.cache.get(key)
    if hit is not None:
        ref, version, cast = hit
        if ref() is t and version == t._version.value and (cast.grad_fn is None or not cast.grad_fn._freed):
            return cast
    cast = ToCopy.apply(t, t.device, np_dtype)
    _state.cache[key] = (weakref.ref(t), t._version.value, cast)
    return cast


def _device_type(args):
    for a in args:
        if isinstance(a, Tensor):
            return "cpu" if type(a._data) is np.ndarray else "cuda"
    return None


def _cast(op, *args):
    """args with the tensors cast as `op`'s policy for the device type of its first tensor says."""
    device_type = _device_type(args)
    if device_type is None or not _state.enabled[device_type]:
        return args
    policy = POLICIES[device_type].get(op)
    if policy is None:
        return args
    if policy == "banned":
        raise RuntimeError(
            f"mytorch.nn.functional.{op} and mytorch.nn.BCELoss are unsafe to autocast.\nMany models use a "
            "sigmoid layer right before the binary cross entropy layer.\nIn this case, combine the two layers "
            "using mytorch.nn.functional.binary_cross_entropy_with_logits\nor mytorch.nn.BCEWithLogitsLoss.  "
            "binary_cross_entropy_with_logits and BCEWithLogits are\nsafe to autocast.")
    low = _state.dtype[device_type].np
    if policy == "lower":
        target = low
    elif policy == "fp32":
        target = _FLOAT32
    else:  # promote: float32 if any eligible input is float32, else the autocast dtype
        target = _FLOAT32 if any(_eligible(a, device_type) and a._data.dtype == _FLOAT32 for a in args) else low
    lower = target == low
    return tuple(_cast_to(a, target, device_type, lower) for a in args)


type(_dispatch).cast = staticmethod(_cast)
for _cls, _name in function_ops().items():
    _cls.autocast_op = _name
