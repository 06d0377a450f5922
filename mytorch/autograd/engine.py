"""The backward engine: an iterative walk of the graph in dependency order.

1. From the roots, count how many edges point at each node (its consumers).
2. Pop a node whose consumers have all delivered, sum what they delivered, run its backward,
   and deliver each input gradient to the node behind that input's edge.
No recursion, so a graph 100,000 ops deep is fine.
"""
import sys

import numpy as np

from . import anomaly, grad_mode
from .. import cpu_kernels
from .._array import gpu_guard, move_array
from .function import AccumulateGrad
from .profiler import recorder as _profiler

# callbacks queued during a backward run once its whole graph is done (one list per running backward)
_final_callbacks = []


def queue_callback(callback):
    """Run `callback()` when the backward pass in progress finishes (PyTorch's
    `Variable._execution_engine.queue_callback`); DDP uses it to flush its gradient buckets."""
    if not _final_callbacks:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    _final_callbacks[-1].append(callback)


def sum_to_shape(grad, shape):
    """Undo broadcasting: sum `grad` down to `shape`."""
    if grad.shape == shape:
        return grad
    ndim_extra = grad.ndim - len(shape)
    axes = tuple(range(ndim_extra)) + tuple(
        i + ndim_extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + ndim_extra] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if ndim_extra:
        grad = grad.reshape(shape)
    return grad


def _zeros_for(meta, like, as_tensor=False):
    from .._array import get_array_module

    shape, dtype = meta
    if as_tensor:
        from ..tensor import Tensor

        return Tensor._make(get_array_module(like._data).zeros(shape, dtype))
    return get_array_module(like).zeros(shape, dtype)


def run_backward(roots, root_grads, retain_graph=False, capture=None, accumulate=True, create_graph=False):
    """roots: list of (node, output_nr); root_grads: arrays, or Tensors with create_graph. capture: {(node, nr):
    None} to fill with the total gradient reaching those edges (autograd.grad). create_graph: run each backward on
    Tensors with grad mode on, so that the gradients are themselves in the graph (higher-order derivatives)."""
    gpu = next((g for g in map(_array, root_grads) if g is not None and type(g) is not np.ndarray), None)
    if gpu is None:
        return _walk(roots, root_grads, retain_graph, capture, accumulate, create_graph)
    with gpu_guard("backward", (gpu,)):  # the graph's sums and accumulations run on its GPU
        return _walk(roots, root_grads, retain_graph, capture, accumulate, create_graph)


def _array(g):
    """A Tensor gradient's array (create_graph); an array as it is."""
    return getattr(g, "_data", g)


def _walk(roots, root_grads, retain_graph, capture, accumulate, create_graph=False):
    dependencies = {}
    stack = []
    for node, _ in roots:
        if node not in dependencies:
            dependencies[node] = 0
            stack.append(node)
    while stack:
        node = stack.pop()
        for edge in node.next_edges:
            if edge is None:
                continue
            nxt = edge[0]
            if nxt in dependencies:
                dependencies[nxt] += 1
            else:
                dependencies[nxt] = 1
                stack.append(nxt)

    needed = None
    if capture is not None:  # autograd.grad: only the nodes on a path to an input asked for run
        dependencies, needed = _prune(roots, dependencies, capture)
    buffers = {}
    for (node, nr), g in zip(roots, root_grads):
        if node in dependencies:
            _deliver(buffers, node, nr, g)
    ready = [node for node in dict.fromkeys(n for n, _ in roots) if dependencies.get(node) == 0]
    prev_mode = grad_mode.is_grad_enabled()
    grad_mode._set(create_graph)
    callbacks = []
    _final_callbacks.append(callbacks)
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if grads is not None:
                if not create_graph and (not node._broadcast_grads or node._hooks or capture is not None):
                    grads = _dense(grads)
                grads = _call_tensor_hooks(node, grads)
                if capture is not None:
                    for nr, g in enumerate(grads):
                        if (node, nr) in capture:
                            capture[(node, nr)] = g
            if needed is not None and node not in needed:
                continue  # an input's node with nothing asked for below it
            if isinstance(node, AccumulateGrad):
                if grads is not None and accumulate and grads[0] is not None:
                    in_grads = g = None  # drop this loop's own references, so that _accumulate can tell
                    if create_graph:
                        _accumulate_graph(node.variable, grads[0])
                    else:
                        _accumulate(node.variable, grads)  # whether anything else holds the gradient
                    for hook in list(node.variable.__dict__.get("_post_accumulate_hooks", ())):
                        hook(node.variable)
                continue
            if grads is not None:
                if (node._materialize_grads or len(grads) > 1) and any(g is None for g in grads):
                    grads = [g if g is not None or meta is None else _zeros_for(meta, _first(grads), create_graph)
                             for g, meta in zip(grads, node._out_meta)]
                pre = node.__dict__.get("_pre_hook_list")
                if pre:
                    for hook in pre:
                        res = hook(grads)
                        if res is not None:
                            grads = list(res)
                run = node._run_backward_graph if create_graph else node._run_backward
                if _profiler.enabled:
                    event = _profiler.push("autograd::engine::evaluate_function: " + node.name())
                    try:
                        in_grads = run(grads)
                    finally:
                        _profiler.pop(event)
                else:
                    in_grads = run(grads)
                if anomaly.check_nan:
                    anomaly.check(node, [_array(g) for g in in_grads] if create_graph else in_grads)
                post = node.__dict__.get("_post_hooks")
                if post:
                    for hook in post:
                        hook(in_grads, grads)
                if len(in_grads) < len(node.next_edges):
                    raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                                       f"(expected {len(node.next_edges)}, got {len(in_grads)})")
            else:
                in_grads = (None,) * len(node.next_edges)
            if not retain_graph:
                node._release()
            for index, (edge, g) in enumerate(zip(node.next_edges, in_grads)):
                if edge is None:
                    continue
                nxt, nr, shape, dtype = edge
                if needed is not None and nxt not in dependencies:
                    continue
                if g is not None:
                    if create_graph:
                        g = _fit_tensor(g, shape, dtype, node, index)
                    else:
                        if g.shape != shape:
                            g = _fit_shape(g, shape, node, index)
                        if g.dtype != dtype:
                            g = (g.real if g.dtype.kind == "c" and dtype.kind != "c" else g).astype(dtype)
                    _deliver(buffers, nxt, nr, g)
                left = dependencies[nxt] - 1
                dependencies[nxt] = left
                if left == 0:
                    ready.append(nxt)
        for callback in callbacks:  # a callback may queue another: the list grows as we go
            callback()
    finally:
        _final_callbacks.pop()
        grad_mode._set(prev_mode)


def _prune(roots, dependencies, capture):
    """The walk restricted to the nodes autograd.grad needs: those with a path to a captured edge's node (as
    PyTorch's engine, which runs no other). Returns (dependency counts among them and the captured nodes, the
    nodes to run)."""
    left = dict(dependencies)
    order = []
    stack = [n for n in dict.fromkeys(n for n, _ in roots) if left[n] == 0]
    while stack:  # a topological order, consumers first
        node = stack.pop()
        order.append(node)
        for edge in node.next_edges:
            if edge is not None:
                left[edge[0]] -= 1
                if left[edge[0]] == 0:
                    stack.append(edge[0])
    targets = {node for node, _ in capture}
    needed = set()
    for node in reversed(order):
        for edge in node.next_edges:
            if edge is not None and (edge[0] in needed or edge[0] in targets):
                needed.add(node)
                break
    kept = {n: 0 for n in order if n in needed or n in targets}
    for node in needed:
        for edge in node.next_edges:
            if edge is not None and edge[0] in kept:
                kept[edge[0]] += 1
    return kept, needed


def _dense(grads):
    """grads with each broadcast view (a reduction's gradient, see ops/reduce.py's _unreduce) copied into an
    array of its own: for the backward functions, hooks and autograd.grad results that may write to a
    gradient, or run faster on contiguous memory."""
    for i, g in enumerate(grads):
        if type(g) is np.ndarray and g.ndim and 0 in g.strides and g.size > 1:
            grads = list(grads)
            grads[i] = cpu_kernels.contiguous_copy(g)
    return grads


def _first(grads):
    return next(g for g in grads if g is not None)


def _fit_shape(g, shape, node, index):
    """Sum a broadcast gradient down to its input's shape; anything else is the op's bug, reported
    as PyTorch does (the input's shape must be expandable to the gradient's)."""
    expandable = len(shape) <= g.ndim and all(s == n or s == 1 for s, n in zip(shape[::-1], g.shape[::-1]))
    if not expandable:
        raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {index} - got "
                           f"{list(g.shape)} but expected shape compatible with {list(shape)}")
    return sum_to_shape(g, shape)


def _fit_tensor(g, shape, dtype, node, index):
    """_fit_shape and the dtype cast for a Tensor gradient (create_graph): with recorded ops."""
    if g.shape != shape:
        expandable = len(shape) <= g.ndim and all(s == n or s == 1 for s, n in zip(shape[::-1], g.shape[::-1]))
        if not expandable:
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {index} - got "
                               f"{list(g.shape)} but expected shape compatible with {list(shape)}")
        g = g.sum_to_size(shape)
    if g._data.dtype != dtype:
        from .. import _dtype

        if g._data.dtype.kind == "c" and dtype.kind != "c":
            g = g.real
        g = g.to(_dtype.from_numpy_dtype(dtype))
    return g


def _accumulate_graph(leaf, g):
    """create_graph: leaf.grad becomes the gradient Tensor itself, graph and all (as PyTorch), or the recorded sum
    with the gradient already there."""
    if leaf.grad is None:
        leaf._grad = g
    else:
        leaf._grad = leaf.grad + g


def _deliver(buffers, node, nr, g):
    buf = buffers.get(node)
    if buf is None:
        n = len(node._out_meta) if node._out_meta else 1
        buf = [None] * n
        buffers[node] = buf
    cur = buf[nr]
    buf[nr] = g if cur is None else cur + g


def _call_tensor_hooks(node, grads):
    hooks = node._hooks
    if not hooks:
        return grads
    from ..tensor import Tensor

    grads = list(grads)
    for nr, fns in hooks.items():
        if grads[nr] is None:
            continue
        for fn in list(fns):
            g = grads[nr]
            if isinstance(g, Tensor):  # create_graph: hooks see (and may return) graph Tensors
                res = fn(g)
                if res is not None:
                    grads[nr] = res if isinstance(res, Tensor) else Tensor._make(res)
                continue
            res = fn(Tensor._make(g))
            if res is not None:
                grads[nr] = res._data if isinstance(res, Tensor) else res
    return grads


def _accumulate(leaf, grads):
    """Add grads[0] (taken out of the list) into leaf.grad."""
    from ..tensor import Tensor

    g = grads[0]
    grads[0] = None
    if type(g) is not type(leaf._data):  # a CPU scalar tensor that joined a GPU op gets a CPU grad
        g = move_array(g, leaf.device)
    if leaf.grad is None:
        # .grad is later modified in place (clip_grad_norm_, optimizer.zero_grad(set_to_none=False)), so it
        # must not share memory with anything: as PyTorch's AccumulateGrad, take the gradient itself when
        # nothing else refers to it (a fresh array an op's backward made for this leaf alone), else a copy
        # (the same gradient may reach several leaves, as in a + b, or be a view of another)
        if not (type(g) is np.ndarray and g.flags.owndata and g.flags.c_contiguous and g.flags.writeable
                and sys.getrefcount(g) == 2):  # g here and getrefcount's argument
            g = cpu_kernels.contiguous_copy(g)
        leaf._grad = Tensor._make(g)
    else:
        gd = leaf.grad._data
        if gd.shape == g.shape:
            gd += g
        else:
            leaf.grad._data = gd + g
