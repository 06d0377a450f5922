"""Automatic differentiation: backward, grad, Function, grad modes, gradcheck."""
from . import anomaly, grad_mode
from .anomaly import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from .engine import run_backward
from .function import Function as _Function
from .function import Node, UserFunction as Function
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["backward", "grad", "Function", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_grad_enabled", "gradcheck", "Node", "detect_anomaly", "set_detect_anomaly"]


def _make_grads(outputs, grad_outputs, create_graph=False):
    """The root gradients: arrays, or with create_graph Tensors (a given grad_output as it is: it may require grad
    itself)."""
    from .._array import gpu_guard, xp_of
    from ..tensor import Tensor

    grads = []
    for out, g in zip(outputs, grad_outputs):
        if g is None:
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if out._data.dtype.kind == "c":
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {out.dtype}")
            with gpu_guard("backward", (out._data,)):  # on the output's GPU, not the current one
                grads.append(xp_of(out._data).ones(out._data.shape, out._data.dtype))
        else:
            gd = g._data if hasattr(g, "_data") else g
            if tuple(gd.shape) != tuple(out._data.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {list(gd.shape)} and "
                                   f"output[0] has a shape of {list(out._data.shape)}.")
            grads.append(gd)
    if create_graph:
        grads = [g if isinstance(g, Tensor) else Tensor._make(a) for g, a in zip(grad_outputs, grads)]
    return grads


def _roots(outputs):
    roots = []
    for out in outputs:
        if not out.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        roots.append((out.grad_fn, out._output_nr) if out.grad_fn is not None else (out._grad_accumulator(), 0))
    return roots


def _as_tuple(x):
    if x is None:
        return None
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into each leaf's .grad."""
    outputs = _as_tuple(tensors)
    if create_graph:
        import warnings

        warnings.warn("Using backward() with create_graph=True will create a reference cycle between the parameter "
                      "and its gradient which can cause a memory leak. We recommend using autograd.grad when creating "
                      "the graph to avoid this. If you have to use this function, make sure to reset the .grad fields "
                      "of your parameters to None after use to break the cycle and avoid the leak.", UserWarning,
                      stacklevel=3)
    grads = _make_grads(outputs, _as_tuple(grad_tensors) or (None,) * len(outputs), create_graph)
    roots = _roots(outputs)
    retain = bool(retain_graph) if retain_graph is not None else create_graph
    if inputs is not None:
        inputs = _as_tuple(inputs)
        capture = {_edge_of(t): None for t in inputs}
        run_backward(roots, grads, retain, capture=capture, accumulate=False, create_graph=create_graph)
        from .engine import _accumulate, _accumulate_graph

        for t in inputs:
            g = capture[_edge_of(t)]
            if g is not None:
                if create_graph:
                    _accumulate_graph(t, g)
                else:
                    _accumulate(t, [g])  # capture still holds g: it is copied
        return
    run_backward(roots, grads, retain, create_graph=create_graph)


def _edge_of(t):
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    if not t.requires_grad:
        raise RuntimeError("One of the differentiated Tensors does not require grad")
    return (t._grad_accumulator(), 0)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of outputs w.r.t. inputs, returned (not accumulated into .grad)."""
    from ..tensor import Tensor

    outputs = _as_tuple(outputs)
    single = not isinstance(inputs, (tuple, list))
    inputs = _as_tuple(inputs)
    grads = _make_grads(outputs, _as_tuple(grad_outputs) or (None,) * len(outputs), create_graph)
    capture = {_edge_of(t): None for t in inputs}
    retain = bool(retain_graph) if retain_graph is not None else create_graph
    run_backward(_roots(outputs), grads, retain, capture=capture, accumulate=False, create_graph=create_graph)
    result = []
    for i, t in enumerate(inputs):
        g = capture[_edge_of(t)]
        if g is None:
            if materialize_grads:
                from .._array import xp_of

                g = xp_of(t._data).zeros_like(t._data)
            elif not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors appears to not have been used in the "
                                   f"graph. Set allow_unused=True if this is the desired behavior.")
        result.append(g if g is None or isinstance(g, Tensor) else Tensor._make(g))
    return tuple(result)


from .gradcheck import gradcheck, gradgradcheck  # noqa: E402


from . import forward_ad, functional, graph  # noqa: E402,F401  (torch.autograd.forward_ad, .functional, .graph)
