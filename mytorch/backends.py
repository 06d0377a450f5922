"""mytorch.backends: global switches for implementation choices, like `torch.backends`.

`mytorch.backends.fused` selects the Triton kernels of `mytorch.kernels`:

    import mytorch
    mytorch.backends.fused.enabled = True           # master switch, default False
    mytorch.backends.fused.flash_attention = False  # keep one op on the numpy/cupy path

An op uses its fused kernel when `fused.use("<op>")` is true: the master switch is on, the op's own flag
is on (all default True) and `mytorch.kernels.is_available()` (Triton plus a GPU, or TRITON_INTERPRET=1).
Op names: softmax, layer_norm, rms_norm, cross_entropy, flash_attention, linear, activation, dropout,
embedding, rotary, adamw, conv2d.  `with mytorch.backends.fused.flags(enabled=True): ...` sets flags
for a block.

TF32 for float32 products in the kernels follows PyTorch's switches and defaults:
`mytorch.backends.cuda.matmul.allow_tf32` (False: linear, flash attention) and
`mytorch.backends.cudnn.allow_tf32` (True: conv2d).
"""
import contextlib
import sys
import types

_OPS = ("softmax", "layer_norm", "rms_norm", "cross_entropy", "flash_attention", "linear", "activation",
        "dropout", "embedding", "rotary", "adamw", "conv2d")


class _FusedFlags:
    def __init__(self):
        self.enabled = False
        for op in _OPS:
            setattr(self, op, True)

    def use(self, op):
        if not (self.enabled and getattr(self, op)):
            return False
        from .kernels import is_available

        return is_available()

    @contextlib.contextmanager
    def flags(self, **values):
        unknown = set(values) - set(_OPS) - {"enabled"}
        if unknown:
            raise ValueError(f"unknown fused flags: {sorted(unknown)}")
        old = {k: getattr(self, k) for k in values}
        for k, v in values.items():
            setattr(self, k, bool(v))
        try:
            yield self
        finally:
            for k, v in old.items():
                setattr(self, k, v)

    def __repr__(self):
        ops = ", ".join(f"{op}={getattr(self, op)}" for op in _OPS)
        return f"fused(enabled={self.enabled}, {ops})"


fused = _FusedFlags()


# PyTorch's backend switches. They are registered modules, so `import mytorch.backends.cudnn as cudnn`
# works as in PyTorch. mytorch has no cuDNN or MPS: `cudnn.benchmark`, `deterministic` and `enabled` are
# accepted and kept (mytorch's convolutions are deterministic anyway); the TF32 flags steer the kernels.
__path__ = []  # a package to the import system, so `import mytorch.backends.cudnn` finds the module below


def _submodule(name, doc):
    module = types.ModuleType(f"{__name__}.{name}", doc)
    sys.modules[module.__name__] = module
    return module


def _cuda_available():
    from ._array import cupy_module

    return cupy_module() is not None


cuda = _submodule("cuda", "CUDA switches: matmul.allow_tf32 (default False, as in PyTorch).")
cuda.matmul = types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                                    allow_bf16_reduced_precision_reduction=True)
cuda.is_built = _cuda_available
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}
for _kind in _sdp:
    setattr(cuda, f"enable_{_kind}_sdp", lambda enabled, _kind=_kind: _sdp.__setitem__(_kind, bool(enabled)))
    setattr(cuda, f"{_kind}_sdp_enabled", lambda _kind=_kind: _sdp[_kind])



@contextlib.contextmanager
def _sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True, enable_cudnn=True):
    """The deprecated spelling of nn.attention.sdpa_kernel: the enabled kinds within the block."""
    import warnings

    from .nn.attention import SDPBackend, sdpa_kernel

    warnings.warn("`mytorch.backends.cuda.sdp_kernel()` is deprecated. In the future, this context manager will be "
                  "removed. Please see `mytorch.nn.attention.sdpa_kernel()` for the new context manager, with "
                  "updated signature.", FutureWarning, stacklevel=3)
    wanted = {"flash": enable_flash, "mem_efficient": enable_mem_efficient, "math": enable_math,
              "cudnn": enable_cudnn}
    kinds = {"flash": SDPBackend.FLASH_ATTENTION, "mem_efficient": SDPBackend.EFFICIENT_ATTENTION,
             "math": SDPBackend.MATH, "cudnn": SDPBackend.CUDNN_ATTENTION}
    old = dict(_sdp)
    _sdp.update({k: bool(v) for k, v in wanted.items()})
    try:
        with sdpa_kernel([kinds[k] for k, v in wanted.items() if v] or [SDPBackend.ERROR]):
            yield
    finally:
        _sdp.update(old)


cuda.sdp_kernel = _sdp_kernel

opt_einsum = _submodule("opt_einsum", "opt_einsum switches, kept for PyTorch code: mytorch's einsum contracts with "
                        "numpy's own path optimizer, not the opt_einsum package.")
opt_einsum.enabled, opt_einsum.strategy = False, None
opt_einsum.is_available = lambda: False

cudnn = _submodule("cudnn", "cuDNN switches: enabled, benchmark, deterministic, allow_tf32 (PyTorch's defaults).")
cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32 = True, False, False, True
cudnn.benchmark_limit = 10
cudnn.is_available = _cuda_available
cudnn.version = lambda: None  # no cuDNN library behind mytorch


@contextlib.contextmanager
def _cudnn_flags(enabled=False, benchmark=False, deterministic=False, allow_tf32=True, **_):
    names = ("enabled", "benchmark", "deterministic", "allow_tf32")
    old = {k: getattr(cudnn, k) for k in names}
    for k, v in zip(names, (enabled, benchmark, deterministic, allow_tf32)):
        setattr(cudnn, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(cudnn, k, v)


cudnn.flags = _cudnn_flags

mps = _submodule("mps", "Apple MPS: never available in mytorch.")
mps.is_available = mps.is_built = lambda: False
mkldnn = _submodule("mkldnn", "oneDNN: not used by mytorch.")
mkldnn.enabled = True
mkldnn.is_available = lambda: False
