"""Activation checkpointing: `checkpoint(fn, *args)` runs fn without keeping its intermediate
activations and runs it again during backward to get them, trading compute for memory.

The random state (dropout masks) is saved before the first run and restored for the rerun, so both
runs see the same draws. The rerun's graph is differentiated with `mytorch.autograd.backward`, which also
accumulates the gradients of the parameters fn uses. As in PyTorch, use_reentrant=True records nothing
when no input requires grad (and warns); use_reentrant=False still reaches fn's parameters then.
"""
import contextlib
import warnings

from .. import autograd
from ..autograd import grad_mode
from ..ops.factory import ones
from ..random import _default_generators
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


def _rng_states():
    return {dev: gen.get_state() for dev, gen in _default_generators.items()}


@contextlib.contextmanager
def _rng_restored(states):
    """Run a block with the generators at `states`, then put back where they are now."""
    now = _rng_states()
    for dev, state in states.items():
        _default_generators[dev].set_state(state)
    try:
        yield
    finally:
        for dev, state in now.items():
            _default_generators[dev].set_state(state)


class _Checkpoint(autograd.Function):
    @staticmethod
    def forward(ctx, run, preserve_rng_state, *args):
        ctx.run = run
        ctx.rng_states = _rng_states() if preserve_rng_state else None
        ctx.tensor_slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.args = list(args)
        ctx.save_for_backward(*(args[i] for i in ctx.tensor_slots))
        outputs = run(*args)  # apply() runs forward with grad recording off: no activations kept
        ctx.multi = isinstance(outputs, tuple)
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        args = list(ctx.args)
        inputs = []
        for i, saved in zip(ctx.tensor_slots, ctx.saved_tensors):
            args[i] = saved.detach().requires_grad_(saved.requires_grad)
            inputs.append(args[i])
        rng = _rng_restored(ctx.rng_states) if ctx.rng_states is not None else contextlib.nullcontext()
        with rng, grad_mode.enable_grad():
            outputs = ctx.run(*args)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if pairs:
            autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        input_grads = iter([a.grad if a.requires_grad else None for a in inputs])
        per_arg = [next(input_grads) if i in ctx.tensor_slots else None for i in range(len(args))]
        return (None, None, *per_arg)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               preserve_rng_state=True, **kwargs):
    """fn(*args, **kwargs), recomputed in backward instead of storing its activations."""
    if use_reentrant is None:
        warnings.warn("mytorch.utils.checkpoint: the use_reentrant parameter should be passed explicitly "
                      "(PyTorch asks for it too); both values behave the same in mytorch.", stacklevel=2)
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    run = (lambda *a: function(*a, **kwargs)) if kwargs else function
    if not grad_mode.is_grad_enabled():
        return run(*args)
    if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        if use_reentrant:
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)
        else:  # fn's parameters may still need gradients: an extra input that requires grad keeps the node
            return _Checkpoint.apply(lambda *a: run(*a[:-1]), preserve_rng_state, *args,
                                     ones((), requires_grad=True))
    return _Checkpoint.apply(run, preserve_rng_state, *args)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Split a Sequential (or list of modules) into `segments` checkpointed chunks; the last runs plainly."""
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = max(len(functions) // segments, 1)

    def run_segment(start, end):
        def forward(x):
            for fn in functions[start:end]:
                x = fn(x)
            return x
        return forward

    end = 0
    for start in range(0, size * (segments - 1), size):
        end = start + size
        input = checkpoint(run_segment(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run_segment(end, len(functions))(input)
