"""Lazy modules: LazyLinear, LazyConv*, LazyConvTranspose*, LazyBatchNorm* infer their input size from the
first forward (or from a state_dict being loaded), then become the plain module (`cls_to_become`), as in
PyTorch. Until then their parameters are UninitializedParameter objects; materializing keeps each
object's identity, so an optimizer built before the first forward still holds the right tensors."""
from ..parameter import UninitializedBuffer, UninitializedParameter
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d"]


def _uninitialized(t):
    return isinstance(t, (UninitializedParameter, UninitializedBuffer))


class LazyModuleMixin:
    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lazy_hook = self.register_forward_pre_hook(LazyModuleMixin._infer_parameters)

    def has_uninitialized_params(self):
        return any(_uninitialized(t) for t in list(self._parameters.values()) + list(self._buffers.values()))

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self._lazy_size() != 0:
            super().reset_parameters()

    def _infer_parameters(self, args):
        self.initialize_parameters(*args)
        if self.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        self._become_plain()

    def _become_plain(self):
        self._lazy_hook.remove()
        del self._lazy_hook
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        """Loading a checkpoint gives the shapes: materialize from it, then load as usual."""
        for name, t in list(self._parameters.items()) + list(self._buffers.items()):
            key = prefix + name
            if _uninitialized(t) and key in state_dict:
                t.materialize(state_dict[key].shape)
        self._set_size_from_parameters()
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        if not self.has_uninitialized_params() and hasattr(self, "_lazy_hook"):
            self._become_plain()

    def _materialize(self, size):
        """Set the inferred input size, allocate every parameter and buffer, and run the plain init."""
        self._set_size(size)
        shapes = self._shapes()
        for name, t in list(self._parameters.items()) + list(self._buffers.items()):
            if _uninitialized(t):
                t.materialize(shapes[name])
        self._reset_all()


class LazyLinear(LazyModuleMixin, Linear):
    """Linear with in_features inferred from input.shape[-1]."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False, device=device, dtype=dtype)
        self.out_features = out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def _lazy_size(self):
        return self.in_features

    def _set_size(self, n):
        self.in_features = n

    def _set_size_from_parameters(self):
        if not _uninitialized(self.weight):
            self.in_features = self.weight.shape[1]

    def _shapes(self):
        return {"weight": (self.out_features, self.in_features), "bias": (self.out_features,)}

    def _reset_all(self):
        Linear.reset_parameters(self)

    def initialize_parameters(self, input, *args):
        if self.has_uninitialized_params():
            self._materialize(input.shape[-1])


class _LazyConvMixin(LazyModuleMixin):
    def __init__(self, out_channels, kernel_size, *args, device=None, dtype=None, **kwargs):
        groups = kwargs.get("groups", 1)
        bias = kwargs.pop("bias", True)
        super().__init__(groups, groups, kernel_size, *args, bias=False, device=device, dtype=dtype, **kwargs)
        self.in_channels, self.out_channels = 0, out_channels
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def _lazy_size(self):
        return self.in_channels

    def _set_size(self, n):
        self.in_channels = n

    def _set_size_from_parameters(self):
        if not _uninitialized(self.weight):
            self.in_channels = self.weight.shape[0] if self.transposed else self.weight.shape[1] * self.groups

    def _shapes(self):
        g = self.groups
        w = ((self.in_channels, self.out_channels // g) if self.transposed
             else (self.out_channels, self.in_channels // g))
        return {"weight": w + tuple(self.kernel_size), "bias": (self.out_channels,)}

    def _reset_all(self):
        self.cls_to_become.reset_parameters(self)

    def initialize_parameters(self, input, *args):
        if self.has_uninitialized_params():
            batched = input.ndim == self._n + 2
            channels = input.shape[1] if batched else input.shape[0]
            if channels % self.groups:
                raise ValueError("in_channels must be divisible by groups")
            self._materialize(channels)


def _lazy_conv(name, base, doc):
    return type(name, (_LazyConvMixin, base), {"cls_to_become": base, "__doc__": doc, "__module__": __name__})


LazyConv1d = _lazy_conv("LazyConv1d", Conv1d, "Conv1d with in_channels inferred from input.shape[1].")
LazyConv2d = _lazy_conv("LazyConv2d", Conv2d, "Conv2d with in_channels inferred from input.shape[1].")
LazyConv3d = _lazy_conv("LazyConv3d", Conv3d, "Conv3d with in_channels inferred from input.shape[1].")
LazyConvTranspose1d = _lazy_conv("LazyConvTranspose1d", ConvTranspose1d, "ConvTranspose1d, lazy in_channels.")
LazyConvTranspose2d = _lazy_conv("LazyConvTranspose2d", ConvTranspose2d, "ConvTranspose2d, lazy in_channels.")
LazyConvTranspose3d = _lazy_conv("LazyConvTranspose3d", ConvTranspose3d, "ConvTranspose3d, lazy in_channels.")


class _LazyBatchNormMixin(LazyModuleMixin):
    def __init__(self, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None):
        super().__init__(0, eps, momentum, False, False, device=device, dtype=dtype)
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            from ...ops.factory import tensor

            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = tensor(0, device=device)

    def _lazy_size(self):
        return self.num_features

    def _set_size(self, n):
        self.num_features = n

    def _set_size_from_parameters(self):
        for t in (self.weight, self.running_mean):
            if t is not None and not _uninitialized(t):
                self.num_features = t.shape[0]

    def _shapes(self):
        n = (self.num_features,)
        return {"weight": n, "bias": n, "running_mean": n, "running_var": n}

    def _reset_all(self):
        from .. import init

        if self.track_running_stats:
            self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def initialize_parameters(self, input, *args):
        if self.has_uninitialized_params():
            self._materialize(input.shape[1] if input.ndim > 1 else input.shape[0])


def _lazy_bn(name, base):
    return type(name, (_LazyBatchNormMixin, base), {"cls_to_become": base, "__module__": __name__,
                                                      "__doc__": f"{base.__name__} with num_features inferred."})


LazyBatchNorm1d = _lazy_bn("LazyBatchNorm1d", BatchNorm1d)
LazyBatchNorm2d = _lazy_bn("LazyBatchNorm2d", BatchNorm2d)
LazyBatchNorm3d = _lazy_bn("LazyBatchNorm3d", BatchNorm3d)
