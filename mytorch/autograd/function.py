"""Function: one op's forward and backward, side by side; Node: the record it leaves in the graph.

Internal ops subclass `Function` and work on raw arrays (numpy or cupy):

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):            # x is an ndarray
            out = xp_of(x).exp(x)
            ctx.save_for_backward(out)
            return out
        @staticmethod
        def backward(ctx, grad):        # grad is an ndarray shaped like out
            out, = ctx.saved_tensors
            return grad * out

`Exp.apply(tensor)` unwraps tensors, runs forward without recording, wraps the result and, when
grad mode is on and an input requires grad, links an `ExpBackward0` node to the inputs' nodes.
Backward returns one gradient per forward argument (None for non-tensors); the engine reduces a
broadcast gradient to the input's shape and casts it to the input's dtype, so ops needn't.

User-defined ops subclass `mytorch.autograd.Function` (below, `Function` with `_tensor_io`),
whose forward and backward see Tensors like PyTorch's.
"""
import weakref

import numpy as np

from . import anomaly, grad_mode
from .._array import gpu_guard, scalars_to_gpu, xp_of
from .profiler import recorder as _profiler

Tensor = None  # set by mytorch.tensor once the class exists (avoids an import cycle on the hot path)


class _AutocastHook:
    """Mixed precision as op dispatch sees it; mytorch.amp.autocast drives it.

    `enabled` (some thread is inside an autocast region) is the one check an op in an autocast list makes
    while autocast is off: a plain attribute, cheaper than a thread-local. `cast(op, *args)` returns the op's
    arguments cast to its autocast dtype, deciding per thread and device type; mytorch.amp installs it on
    import (autocast can't be on before that)."""

    enabled = False

    @staticmethod
    def cast(op, *args):
        return args


autocast = _AutocastHook()

# autograd.graph.saved_tensors_hooks: the (pack, unpack) pairs in force, innermost last
saved_tensor_hooks = []


class Node:
    """A recorded op in the graph (PyTorch's grad_fn). Also the `ctx` its forward and backward see."""

    _fn = None  # the Function class this node runs
    _freed = False
    _hooks = None  # {output_nr: [hook]} for tensor hooks and retain_grad
    _pre_hooks = ()
    _saved = ()
    _saved_versions = ()
    _packed = None  # (unpack, [(is_tensor, value)]) when saved_tensors_hooks packed what ctx saved
    _materialize_grads = False
    _broadcast_grads = False  # this node's backward takes read-only broadcast gradients (Function.broadcast_grads)
    _out_meta = None  # ((shape, dtype), ...) for multi-output nodes
    next_edges = ()  # one (node, output_nr, shape, dtype) or None per forward argument

    # ctx API -----------------------------------------------------------------------------------
    def save_for_backward(self, *values):
        self._saved = values

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors "
                "after they have already been freed). Saved intermediate values of the graph are freed "
                "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
                "backward through the graph a second time or if you need to access saved tensors after "
                "calling backward.")
        for counter, version, tensor_ref, _, _ in self._saved_versions:
            if counter.value != version:
                t = tensor_ref()
                desc = f"[{t.type()} {list(t.shape)}]" if t is not None else "a tensor"
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: {desc}, is at version {counter.value}; expected version "
                    f"{version} instead. Hint: the operation that saved it is {self.name()}; do the "
                    "in-place operation on a clone, or out of place.")
        if self._packed is not None:
            unpack, packed = self._packed
            arrays = not self._fn._tensor_io
            return tuple((unpack(v)._data if arrays else unpack(v)) if is_tensor else v for is_tensor, v in packed)
        return self._saved

    def mark_non_differentiable(self, *values):
        self._non_diff = {id(v) for v in values}

    def set_materialize_grads(self, value):
        self._materialize_grads = bool(value)

    # graph API ---------------------------------------------------------------------------------
    @classmethod
    def name(cls):
        return cls.__name__

    @property
    def next_functions(self):
        return tuple((e[0], e[1]) if e is not None else (None, 0) for e in self.next_edges)

    def register_hook(self, fn):
        """Hook called as fn(grad_inputs, grad_outputs) after this node's backward."""
        hooks = self.__dict__.setdefault("_post_hooks", [])
        hooks.append(fn)
        return _RemovableHandle(hooks, fn)

    def register_prehook(self, fn):
        hooks = self.__dict__.setdefault("_pre_hook_list", [])
        hooks.append(fn)
        return _RemovableHandle(hooks, fn)

    def _release(self):
        self._saved = ()
        self._packed = None
        self._freed = True
        self.__dict__.pop("_keep", None)

    def _run_backward(self, grads):
        if self._freed:
            self.saved_tensors  # raises the "second time" error
        fn = self._fn
        if fn._tensor_io:
            with grad_mode.no_grad():
                out = fn.backward(self, *(None if g is None else Tensor._make(g) for g in grads))
            out = out if isinstance(out, tuple) else (out,)
            return tuple(o._data if isinstance(o, Tensor) else o for o in out)
        g = next((g for g in grads if g is not None), None)
        if g is not None and type(g) is not np.ndarray:
            with gpu_guard(self.name(), grads):
                out = fn.backward(self, *grads)
        else:
            out = fn.backward(self, *grads)
        return out if isinstance(out, tuple) else (out,)

    # create_graph=True: a backward that is itself recorded ----------------------------------------
    def _run_backward_graph(self, grads):
        """This node's backward on Tensors with grad mode on, so that the gradients it returns are in the graph
        (higher-order derivatives). grads: Tensors or None."""
        if self._freed:
            self.saved_tensors  # raises the "second time" error
        fn = self._fn
        if fn._tensor_io:  # a user Function's backward is written in Tensor ops already
            out = fn.backward(self, *grads)
            used = self._saved
        elif fn._has_graph_backward:
            ctx = _GraphCtx(self)
            out = fn.differentiable_backward(ctx, *grads)
            used = ctx.saved_tensors
        else:
            raise RuntimeError(
                f"the derivative of {self.name()} is not implemented for create_graph=True (higher-order "
                "gradients): its backward runs on raw arrays and records no graph")
        out = out if isinstance(out, tuple) else (out,)
        for o in out:
            if o is not None and not isinstance(o, Tensor):
                raise RuntimeError(f"{self.name()}.differentiable_backward returned a {type(o).__name__}, "
                                   "expected Tensors (or None)")
        if any(o is not None and not o._requires_grad for o in out):
            # as PyTorch: a gradient computed from tensors that require grad requires grad itself, even where its
            # derivative is zero (a mask's: relu; a linear op's: avg_pool), so that a further grad gives zeros
            anchor = next((t for t in (*grads, *used) if isinstance(t, Tensor) and t._requires_grad), None)
            if anchor is None:
                anchor = self._input_stand_in(next(o for o in out if o is not None)._data)
            if anchor is not None:
                out = tuple(_ZeroLink.apply(o, anchor) if o is not None and not o._requires_grad else o
                            for o in out)
        return out

    def _input_stand_in(self, like):
        """A Tensor in the graph where this node's first differentiable input was (its leaf, or a zero-memory
        stand-in with its grad_fn, on `like`'s device), or None."""
        edge = next((e for e in self.next_edges if e is not None), None)
        if edge is None:
            return None
        node, nr, shape, dtype = edge
        if isinstance(node, AccumulateGrad):
            return node.variable
        xp = xp_of(like)
        t = Tensor._make(xp.broadcast_to(xp.zeros((), dtype), shape))
        t._requires_grad, t.grad_fn, t._output_nr = True, node, nr
        return t

    def _saved_in_graph(self):
        """saved_tensors as Tensors joined to the graph: a saved input as that input (or a stand-in with its grad_fn),
        a saved output as this node's output; anything else (masks, statistics) as a constant."""
        saved = self.saved_tensors  # checks the versions
        out = [Tensor._make(s) if hasattr(s, "dtype") and hasattr(s, "shape") else s for s in saved]
        for counter, version, tensor_ref, k, src in self._saved_versions:
            arr = saved[k]
            t = tensor_ref()
            if src >= 0:  # argument src
                edge = self.next_edges[src]
                if edge is None:
                    continue  # did not require grad: a constant
                if t is None or t._data is not arr:
                    node, nr = edge[0], edge[1]
                    if isinstance(node, AccumulateGrad):
                        t = node.variable
                    else:
                        t = Tensor._make(arr)
                        t._requires_grad, t.grad_fn, t._output_nr = True, node, nr
            elif t is None or t.grad_fn is not self or t._data is not arr:
                if arr.dtype.kind not in "fcV":
                    continue
                t = Tensor._make(arr)
                t._requires_grad, t.grad_fn, t._output_nr = True, self, ~src
            out[k] = t
        return tuple(out)

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"


class _GraphCtx:
    """The ctx a differentiable_backward sees: the node's attributes, with saved_tensors as graph Tensors."""

    def __init__(self, node):
        self._node = node
        self.saved_tensors = node._saved_in_graph()

    def __getattr__(self, name):
        return getattr(self._node, name)

    def attach(self, fn, index, value, saved=(), **attrs):
        """`value` (an array this op computed from its input `index`: conv's im2col columns, cross-entropy's
        softmax) as a Tensor recorded as the output of `fn` applied to that input, so that its derivative
        reaches the input; `attrs` are the ctx attributes fn's backward reads, `saved` its saved values."""
        edge = self._node.next_edges[index]
        t = Tensor._make(value)
        if edge is None:
            return t
        node = fn._node_cls()
        node.next_edges = (edge,)
        node.needs_input_grad = (True,)
        node.__dict__.update(attrs)
        node._saved = saved
        node._saved_versions = [(t._version, t._version.value, weakref.ref(t), k, ~0)
                                for k, s in enumerate(saved) if s is value]
        t._requires_grad, t.grad_fn, t._output_nr = True, node, 0
        return t


class AccumulateGrad(Node):
    """The sink for a leaf tensor: adds the incoming gradient to `leaf.grad`."""

    _broadcast_grads = True  # engine._accumulate copies what it can't take

    def __init__(self, leaf):
        self.next_edges = ()
        self.variable = leaf

    @classmethod
    def name(cls):
        return "torch::autograd::AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


class _RemovableHandle:
    def __init__(self, container, item):
        self._container, self._item = container, item

    def remove(self):
        try:
            self._container.remove(self._item)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Function:
    """Base of every op. Subclasses define `forward(ctx, *args)` and `backward(ctx, *grads)`."""

    _tensor_io = False  # user Functions (autograd.Function) see Tensors instead of arrays
    is_view = False  # output shares memory (and the version counter) with input 0
    differentiable = True
    autocast_op = None  # this op's name in mytorch.amp's autocast lists (set there), e.g. "exp"
    # backward may be given a read-only broadcast view as a gradient (a reduction's gradient, whose stride-0
    # axes repeat one value: copying it out would cost a pass over memory), and neither writes to it nor needs
    # it contiguous. Else the engine copies such a gradient first.
    broadcast_grads = False
    # differentiable_backward(ctx, *grads): the same derivative as backward, written in Tensor ops so that it
    # records (create_graph=True); ctx.saved_tensors are then Tensors joined to the graph. A class that defines
    # backward but not differentiable_backward has none (it doesn't inherit one written for another backward).
    _has_graph_backward = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "differentiable_backward" in cls.__dict__:
            cls._has_graph_backward = True
        elif "backward" in cls.__dict__:
            cls._has_graph_backward = False
        suffix = "Backward" if cls._tensor_io else "Backward0"
        cls._node_cls = type(cls.__name__ + suffix, (Node,), {"_fn": cls, "__module__": cls.__module__,
                                                               "_broadcast_grads": cls.broadcast_grads})

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("this Function does not implement backward")

    @classmethod
    def apply(cls, *args, **kwargs):
        if _profiler.enabled and _profiler.claim():  # a profile records: this call becomes an event
            return _profiler.op(cls, args, kwargs)
        if cls.autocast_op is not None and autocast.enabled:
            args = autocast.cast(cls.autocast_op, *args)
        ctx = cls._node_cls()
        if cls._tensor_io:
            needs = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
            ctx.needs_input_grad = needs
            record = cls.differentiable and grad_mode.is_grad_enabled() and any(needs)
            with grad_mode.no_grad():
                result = cls.forward(ctx, *args, **kwargs)
            return _wrap_user_outputs(cls, ctx, args, result, record)
        # internal ops: forward sees raw arrays, so it can't record anything itself
        arrays = []
        needs = []
        any_grad = False
        on_gpu = False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a._data)
                g = a._requires_grad
                any_grad = any_grad or g
                needs.append(g)
                on_gpu = on_gpu or type(a._data) is not np.ndarray
            else:
                arrays.append(a)
                needs.append(False)
        ctx.needs_input_grad = needs
        if on_gpu:  # one GPU for all inputs, and that GPU current while the op runs
            with gpu_guard(cls.__name__.lower(), arrays):
                result = cls.forward(ctx, *scalars_to_gpu(arrays), **kwargs)
        else:
            result = cls.forward(ctx, *arrays, **kwargs)
        make = Tensor._make
        if type(result) is tuple:
            tensors = [make(o) for o in result]
            out_arrays = result
        else:
            tensors = [make(result)]
            out_arrays = (result,)
        if any_grad and cls.differentiable and grad_mode.is_grad_enabled():
            _link(ctx, args, needs, tensors, ctx.__dict__.get("_non_diff", ()), out_arrays)
        if cls.is_view:
            base = args[0]
            for t in tensors:
                t._version = base._version
                t._base = base if base._base is None else base._base
        return tuple(tensors) if type(result) is tuple else tensors[0]


def _edge(t):
    """The (node, output_nr, shape, dtype) a gradient for tensor `t` flows into, or None."""
    if not t._requires_grad:
        return None
    fn = t.grad_fn
    if fn is None:
        return (t._grad_accumulator(), 0, t._data.shape, t._data.dtype)
    return (fn, t._output_nr, t._data.shape, t._data.dtype)


def _link(ctx, args, needs, tensors, non_diff, out_arrays):
    """Record ctx in the graph: an edge per argument (needs[i]: argument i is a tensor that requires grad),
    ctx as the outputs' grad_fn, and the versions of the tensors whose arrays ctx saved."""
    if anomaly._state["enabled"]:
        ctx._anomaly_trace = anomaly.forward_trace()
    edges = []
    for a, need in zip(args, needs):
        if need:
            fn = a.grad_fn
            if fn is None:
                edges.append((a._grad_accumulator(), 0, a._data.shape, a._data.dtype))
            else:
                edges.append((fn, a._output_nr, a._data.shape, a._data.dtype))
        else:
            edges.append(None)
    ctx.next_edges = edges
    if len(out_arrays) > 1:
        ctx._out_meta = tuple((o.shape, o.dtype) for o in out_arrays)
    nr = 0
    for t, arr in zip(tensors, out_arrays):
        if arr.dtype.kind in "fcV" and (not non_diff or id(arr) not in non_diff):  # V: ml_dtypes' bfloat16
            t._requires_grad = True
            t.grad_fn = ctx
            t._output_nr = nr
        nr += 1
    saved = ctx._saved
    if saved:  # remember versions of saved inputs/outputs so in-place changes are caught
        # id(array) -> (the first input, else output, tensor holding it; its argument index, or ~output_nr)
        owner = {}
        for i, t in enumerate(args):
            if isinstance(t, Tensor):
                owner.setdefault(id(t._data), (t, i))
        for nr, (t, arr) in enumerate(zip(tensors, out_arrays)):
            owner.setdefault(id(t._data), (t, ~nr))
            owner.setdefault(id(arr), (t, ~nr))  # a numpy scalar result, which the tensor holds as a 0-d array
        versions = []
        for k, s in enumerate(saved):
            hit = owner.get(id(s))
            if hit is not None:
                t = hit[0]
                versions.append((t._version, t._version.value, weakref.ref(t), k, hit[1]))
        if versions:
            ctx._saved_versions = versions
        if saved_tensor_hooks:
            _pack(ctx, saved, lambda s: owner.get(id(s), (None,))[0])


def _pack(ctx, saved, tensor_of):
    """saved_tensors_hooks: hand each saved tensor to the innermost pack hook; ctx keeps what it returns (and the
    unpack hook, which saved_tensors calls). tensor_of(value): the Tensor holding a saved value, or None."""
    pack, unpack = saved_tensor_hooks[-1]
    packed = []
    for s in saved:
        if isinstance(s, Tensor) or (hasattr(s, "shape") and hasattr(s, "dtype")):
            t = tensor_of(s)
            packed.append((True, pack(t if t is not None and (t is s or t._data is s) else Tensor._make(s))))
        else:
            packed.append((False, s))
    ctx._saved = ()
    ctx._packed = (unpack, packed)


def _wrap_user_outputs(cls, ctx, args, result, record):
    """autograd.Function: forward returned Tensors; connect them to the graph."""
    multi = isinstance(result, tuple)
    outs = result if multi else (result,)
    non_diff = ctx.__dict__.get("_non_diff", ())
    wrapped = []
    input_ids = {id(a) for a in args if isinstance(a, Tensor)}
    for o in outs:
        if not isinstance(o, Tensor):
            wrapped.append(o)
            continue
        if id(o) in input_ids:  # returning an input as-is: give it a fresh identity
            o = Tensor._make(o._data)
        else:
            o._requires_grad = False
            o.grad_fn = None
        wrapped.append(o)
    if record:
        ctx.next_edges = tuple(_edge(a) if isinstance(a, Tensor) else None for a in args)
        ctx._out_meta = tuple((o._data.shape, o._data.dtype) if isinstance(o, Tensor) else None for o in wrapped)
        ctx._materialize_grads = ctx.__dict__.get("_materialize_grads", True)
        for nr, o in enumerate(wrapped):
            if isinstance(o, Tensor) and id(o) not in non_diff and (o.dtype.is_floating_point or o.dtype.is_complex):
                o._requires_grad = True
                o.grad_fn = ctx
                o._output_nr = nr
        saved = ctx._saved
        if saved:
            ctx._saved_versions = [(s._version, s._version.value, weakref.ref(s), k, None)
                                   for k, s in enumerate(saved) if isinstance(s, Tensor)]
            if saved_tensor_hooks:
                _pack(ctx, saved, lambda s: s)
    return tuple(wrapped) if multi else wrapped[0]


class UserFunction(Function):
    """`mytorch.autograd.Function`: forward/backward take and return Tensors, as in PyTorch.

    class Square(mytorch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x
        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return 2 * x * grad
    """

    _tensor_io = True


class _ZeroLink(Function):
    """x itself, joined to `anchor` with a zero derivative (see Node._run_backward_graph)."""

    @staticmethod
    def forward(ctx, x, anchor):
        ctx.anchor_meta = (anchor.shape, anchor.dtype)
        return x

    @staticmethod
    def backward(ctx, grad):
        shape, dtype = ctx.anchor_meta
        return grad, xp_of(grad).zeros(shape, dtype)

    @staticmethod
    def differentiable_backward(ctx, grad):
        shape, dtype = ctx.anchor_meta
        return grad, grad.new_zeros(shape, dtype=_dtype_of(dtype))


def _dtype_of(np_dtype):
    from .. import _dtype

    return _dtype.from_numpy_dtype(np_dtype)
