"""torch.func: function transforms, built on mytorch's tape-based autograd.

    functional_call(module, params_and_buffers, args)   run a module with other tensors in place of its own
    grad(f) / grad_and_value(f)                          d f / d inputs as a function (f returns a scalar)
    vjp(f, *primals)                                     f's outputs and a function computing vector-Jacobian products
    jacrev(f)                                            the Jacobian, one vector-Jacobian product per output element
    vmap(f, in_dims=0, out_dims=0)                       f mapped over a batch dimension

vmap runs f once per batch element and stacks the results: the same values as PyTorch's batched rules,
at a Python loop's speed, and composable with grad (per-sample gradients: vmap(grad(loss), in_dims=(None, 0, 0))).
Transforms of transforms that need higher-order derivatives (grad(grad(f)), hessian) are not available:
mytorch's backward records no graph.
"""
import contextlib

from . import autograd
from .tensor import Tensor

__all__ = ["functional_call", "grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian", "vmap"]


@contextlib.contextmanager
def _swapped(module, tensors, strict):
    """Temporarily put `tensors` (dotted names -> Tensor) into module's parameter / buffer slots."""
    params = dict(module.named_parameters(remove_duplicate=False))
    buffers = dict(module.named_buffers())
    known = set(params) | set(buffers)
    unexpected = [k for k in tensors if k not in known]
    if unexpected:
        raise RuntimeError(f"Unexpected key(s): {', '.join(repr(k) for k in unexpected)}.")
    if strict:
        missing = sorted(known - set(tensors))
        if missing:
            raise RuntimeError(f"Missing key(s): {', '.join(repr(k) for k in missing)}.")
    saved = []
    try:
        for name, value in tensors.items():
            owner_path, _, leaf = name.rpartition(".")
            owner = module.get_submodule(owner_path) if owner_path else module
            store = owner._parameters if leaf in owner._parameters else owner._buffers
            saved.append((store, leaf, store[leaf]))
            store[leaf] = value
        yield
    finally:
        for store, leaf, old in reversed(saved):
            store[leaf] = old


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """module(*args, **kwargs) with the given tensors standing in for its parameters and buffers (by their
    state_dict names); the module itself is left unchanged afterwards."""
    if isinstance(parameter_and_buffer_dicts, (list, tuple)):
        merged = {}
        for d in parameter_and_buffer_dicts:
            overlap = set(merged) & set(d)
            if overlap:
                raise ValueError(f"{sorted(overlap)} appeared in multiple dictionaries")
            merged.update(d)
        parameter_and_buffer_dicts = merged
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, dict(parameter_and_buffer_dicts), strict):
        return module(*args, **(kwargs or {}))


def _argnums_tuple(argnums, n):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise RuntimeError(f"Got argnums={argnums}, but only {n} positional inputs")
    return tuple(a % n for a in nums)


def _map(x, fn):
    if isinstance(x, Tensor):
        return fn(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_map(v, fn) for v in x)
    if isinstance(x, dict):
        return {k: _map(v, fn) for k, v in x.items()}
    return x


def _leaves(x):
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _leaves(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _leaves(v)]
    return []


def _lift(x):
    """An input for a transform: a view of itself when it already requires grad (the transform then runs inside
    another one, or under autograd: its results stay differentiable w.r.t. x, as torch.func's compose), else a
    fresh leaf."""
    return x.view_as(x) if x.requires_grad else x.detach().requires_grad_(True)


def _rebuild(template, flat):
    it = iter(flat)
    return _map(template, lambda _: next(it))


def grad_and_value(func, argnums=0, has_aux=False):
    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        args = list(args)
        nested = any(t.requires_grad for i in nums for t in _leaves(args[i])) and autograd.is_grad_enabled()
        for i in nums:
            args[i] = _map(args[i], _lift if nested else lambda t: t.detach().requires_grad_(True))
        with autograd.enable_grad():
            out = func(*args, **kwargs)
        value, aux = (out if has_aux else (out, None))
        if not isinstance(value, Tensor) or value.numel() != 1:
            raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                               f"{type(value).__name__}" + (f" of shape {list(value.shape)}" if
                                                            isinstance(value, Tensor) else ""))
        inputs = [t for i in nums for t in _leaves(args[i])]
        grads = autograd.grad(value, inputs, allow_unused=True, create_graph=nested)
        grads = [g if g is not None else _zeros_like(t) for g, t in zip(grads, inputs)]
        per_arg, k = [], 0
        for i in nums:
            n = len(_leaves(args[i]))
            per_arg.append(_rebuild(args[i], grads[k:k + n]))
            k += n
        g = per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
        if not nested:
            value, aux = value.detach(), _map(aux, lambda t: t.detach())
        return (g, (value, aux)) if has_aux else (g, value)
    return wrapper


def _zeros_like(t):
    from .ops.factory import zeros_like

    return zeros_like(t)


def grad(func, argnums=0, has_aux=False):
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn[, aux]); vjp_fn(cotangents) returns the cotangents' products with the
    Jacobian, one per primal. vjp_fn can be called several times."""
    out, aux, outs, leaves, nested = _primal_graph(func, primals, has_aux, "vjp")

    def vjp_fn(cotangents):
        cts = _leaves(cotangents)
        grads = autograd.grad(outs, leaves, grad_outputs=cts, retain_graph=True, allow_unused=True,
                              create_graph=nested or any(c.requires_grad for c in cts))
        grads = [g if g is not None else _zeros_like(t) for g, t in zip(grads, leaves)]
        per, k = [], 0
        for p in primals:  # the primals' pytree structure
            n = len(_leaves(p))
            per.append(_rebuild(p, grads[k:k + n]))
            k += n
        return tuple(per)

    if not nested:
        out = _map(out, lambda t: t.detach())
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def _forward_product(outs, leaves, nested):
    """tangents -> J tangents for outputs `outs` of `leaves`, by reverse mode twice: g(u) = J^T u is linear in u,
    so the gradient of <g(u), v> w.r.t. u is J v (u itself never needs a value)."""
    cots = [_zeros_like(o).requires_grad_(True) for o in outs]
    pulled = autograd.grad(outs, leaves, grad_outputs=cots, create_graph=True, allow_unused=True)
    live = [(p, i) for i, p in enumerate(pulled) if p is not None and p.requires_grad]

    def push(tangents):
        if len(tangents) != len(leaves) or any(tuple(t.shape) != tuple(x.shape) for t, x in zip(tangents, leaves)):
            raise RuntimeError(f"jvp: Expected tangents with shapes {[list(x.shape) for x in leaves]}, got "
                               f"{[list(t.shape) for t in tangents]}")
        if not live:
            return [_zeros_like(o) for o in outs]
        found = autograd.grad([p for p, _ in live], cots, grad_outputs=[tangents[i].to(leaves[i].dtype) for _, i in live],
                              retain_graph=True, create_graph=nested, allow_unused=True)
        return [f if f is not None else _zeros_like(o) for f, o in zip(found, outs)]
    return push


def _primal_graph(func, primals, has_aux, fn_name):
    """func run on lifted copies of primals: (outputs pytree, aux, flat outputs, flat inputs, nested)."""
    nested = any(t.requires_grad for p in primals for t in _leaves(p)) and autograd.is_grad_enabled()
    inputs = [_map(p, _lift if nested else lambda t: t.detach().requires_grad_(True)) for p in primals]
    with autograd.enable_grad():
        out = func(*inputs)
    out, aux = (out if has_aux else (out, None))
    outs = _leaves(out)
    if not all(isinstance(o, Tensor) for o in outs):
        raise RuntimeError(f"{fn_name}(f, ...): f must return Tensors (or a pytree of them)")
    return out, aux, outs, [t for p in inputs for t in _leaves(p)], nested


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), J tangents[, aux]): the forward-mode product, computed by reverse mode twice."""
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be tuples")
    out, aux, outs, leaves, nested = _primal_graph(func, primals, has_aux, "jvp")
    flat_tangents = [t for p in tangents for t in _leaves(p)]
    products = _forward_product(outs, leaves, nested)(flat_tangents)
    detach = (lambda t: t) if nested else (lambda t: t.detach())
    result = (_map(out, detach), _rebuild(out, [detach(p) for p in products]))
    return result + (_map(aux, detach),) if has_aux else result


def linearize(func, *primals):
    """(func(*primals), jvp_fn): jvp_fn(*tangents) is J tangents at primals, reusing one recorded graph."""
    out, _, outs, leaves, nested = _primal_graph(func, primals, False, "linearize")
    push = _forward_product(outs, leaves, nested)

    def jvp_fn(*tangents):
        return _rebuild(out, [p if nested else p.detach() for p in push([t for p in tangents for t in _leaves(p)])])
    return (out if nested else _map(out, lambda t: t.detach())), jvp_fn


def jacrev(func, argnums=0, has_aux=False):
    def wrapper(*args):
        from .ops.factory import zeros_like
        from .ops.shape import stack

        nums = _argnums_tuple(argnums, len(args))
        found = vjp(lambda *xs: func(*[xs[nums.index(i)] if i in nums else a for i, a in enumerate(args)]),
                    *[args[i] for i in nums], has_aux=has_aux)
        out, fn = found[:2]
        if not isinstance(out, Tensor):
            raise RuntimeError("jacrev: only a single Tensor output is supported")
        rows = []
        for j in range(out.numel()):
            e = zeros_like(out).reshape(-1)
            e[j] = 1
            rows.append(fn(e.reshape(out.shape)))
        jac = []
        for k, i in enumerate(nums):
            jac.append(stack([r[k] for r in rows]).reshape(tuple(out.shape) + tuple(args[i].shape)))
        jac = jac[0] if isinstance(argnums, int) else tuple(jac)
        return (jac, found[2]) if has_aux else jac
    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian, as jacrev's (the same numbers: reverse mode, one backward pass per output element)."""
    return jacrev(func, argnums, has_aux)


def hessian(func, argnums=0):
    """The Hessian of a scalar func: the Jacobian of its gradient (jacrev of jacrev)."""
    return jacrev(jacrev(func, argnums), argnums)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over dimension in_dims of its inputs (None: not mapped), results stacked along out_dims."""
    def wrapper(*args, **kwargs):
        from .ops.shape import stack

        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims has {len(dims)} entries for {len(args)} positional arguments")
        sizes = {a.shape[d] for a, d in zip(args, dims) if d is not None and isinstance(a, Tensor)}
        if not sizes:
            raise ValueError("vmap: at least one input must be mapped (in_dims not all None)")
        if len(sizes) > 1:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got "
                             f"sizes {sorted(sizes)} for the mapped dimension")
        n = sizes.pop()
        results = [func(*[a.select(d, i) if d is not None and isinstance(a, Tensor) else a
                          for a, d in zip(args, dims)], **kwargs) for i in range(n)]

        def combine(items, od):
            first = items[0]
            if isinstance(first, Tensor):
                return stack(items, od)
            if isinstance(first, (tuple, list)):
                ods = od if isinstance(od, (tuple, list)) else (od,) * len(first)
                return type(first)(combine([it[k] for it in items], ods[k]) for k in range(len(first)))
            if isinstance(first, dict):
                return {k: combine([it[k] for it in items], od) for k in first}
            from .ops.factory import tensor

            return stack([tensor(v) for v in items], od)
        return combine(results, out_dims)
    return wrapper
