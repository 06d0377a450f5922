"""mytorch.compile: PyTorch's `torch.compile` signature with the behaviour of its `backend="eager"`:
the model or function comes back unchanged and runs op by op (mytorch has no graph compiler; its speed
comes from the fused Triton kernels, see mytorch.backends.fused). The module itself is returned, not a
wrapper, so `state_dict()` keys carry no "_orig_mod." prefix."""

_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode!r}, should be one of: {', '.join(m for m in _MODES if m)}")
    if not (isinstance(backend, str) or callable(backend)):
        raise TypeError(f"compile(): backend must be a string or a callable, got {type(backend).__name__}")
    if model is None:  # used as @mytorch.compile(...)
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                  options=options, disable=disable)
    if not callable(model):
        raise RuntimeError(f"compile(): expected a callable or an nn.Module, got {type(model).__name__}")
    return model
