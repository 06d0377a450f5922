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
"""
import contextlib

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
