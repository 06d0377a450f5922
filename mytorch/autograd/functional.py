"""torch.autograd.functional: vjp, jvp, jacobian, hessian, vhp and hvp of a function of tensors, by reverse mode
(one backward pass per vector-Jacobian product). Second derivatives differentiate a backward that recorded its
own graph (create_graph=True); with create_graph=True the results stay in the graph for further derivatives."""
__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _as_tuple(x, what, fn_name):
    from ..tensor import Tensor

    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {what} given to {fn_name} must be either a Tensor or a tuple of Tensors but the "
                            f"value at index {i} has type {type(t)}.")
    return is_tuple, items


def _run(func, inputs, fn_name, create_graph=False):
    """func on fresh inputs that require grad: (inputs tuple?, inputs, outputs tuple?, outputs). With create_graph an
    input that requires grad enters as a view of itself, so that the results' graph reaches it (as PyTorch)."""
    from .grad_mode import enable_grad

    in_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = tuple(t.view_as(t) if create_graph and t.requires_grad else
                   t.detach().requires_grad_(t.is_floating_point() or t.is_complex()) for t in inputs)
    with enable_grad():
        outputs = func(*inputs)
    out_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", fn_name)
    return in_tuple, inputs, out_tuple, outputs


def _kept(tensors, create_graph):
    return tuple(tensors) if create_graph else tuple(t.detach() for t in tensors)


def _grads(outputs, inputs, grad_outputs, strict, fn_name, retain=True, create_graph=False):
    """d(sum_k <outputs_k, grad_outputs_k>) / d inputs, zeros for inputs the outputs don't depend on."""
    from . import grad as autograd_grad

    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if strict and len(pairs) < len(outputs):
        i = next(i for i, o in enumerate(outputs) if not o.requires_grad)
        raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. The outputs must "
                           f"be computed in a differentiable manner from the input when running in strict mode.")
    if not pairs:
        found = (None,) * len(inputs)
    else:
        found = autograd_grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=retain or None,
                              create_graph=create_graph, allow_unused=True)
    out = []
    for i, (g, x) in enumerate(zip(found, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is "
                                   f"not allowed in strict mode.")
            g = x.new_zeros(x.shape)
        out.append(g)
    return tuple(out)


def _vector(v, like, fn_name, single, what):
    """v as a tuple shaped like the tensors `like`; None only where `like` is one single-element tensor."""
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise RuntimeError(f"The vector v can only be None if {single} a single Tensor with a single element.")
        return (like[0].new_ones(like[0].shape),)
    _, v = _as_tuple(v, "inputs", fn_name)
    if len(v) != len(like) or any(a.shape != t.shape for a, t in zip(v, like)):
        raise RuntimeError(f"v has shapes {[list(a.shape) for a in v]} but {what} have shapes "
                           f"{[list(t.shape) for t in like]}")
    return v


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): v shaped like the outputs (may be omitted for one single-element output)."""
    in_tuple, inputs, out_tuple, outputs = _run(func, inputs, "vjp", create_graph)
    v = _vector(v, outputs, "vjp", "the user-provided function returns", "the function's outputs")
    result = _kept(_grads(outputs, inputs, v, strict, "vjp", retain=False, create_graph=create_graph), create_graph)
    outputs = _kept(outputs, create_graph)
    return (outputs if out_tuple else outputs[0]), (result if in_tuple else result[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs, shaped output.shape + input.shape: a Tensor for one input and one
    output, a tuple over inputs (or outputs), a tuple of tuples (outputs x inputs) for both."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                         'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                         'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("torch.autograd.functional.jacobian: `strategy=\"forward-mode\"` "
                                  "currently requires `vectorize=True`.")
    in_tuple, inputs, out_tuple, outputs = _run(func, inputs, "jacobian", create_graph)
    rows = [tuple(row) if in_tuple else row[0] for row in _jacobian_blocks(inputs, outputs, strict, create_graph)]
    return tuple(rows) if out_tuple else rows[0]


def _jacobian_blocks(inputs, outputs, strict, create_graph=False):
    """[[d outputs[k] / d inputs[j], shaped outputs[k].shape + inputs[j].shape, for j] for k]: one backward
    pass per output element through the graph func already recorded."""
    import mytorch

    rows = []
    for k, out in enumerate(outputs):
        flat_rows = [[] for _ in inputs]
        for idx in range(out.numel()):
            seed = [o.new_zeros(o.shape) for o in outputs]
            seed[k].view(-1)[idx] = 1
            for j, g in enumerate(_grads(outputs, inputs, seed, strict, "jacobian", create_graph=create_graph)):
                flat_rows[j].append(g)
        row = []
        for j, x in enumerate(inputs):
            stacked = mytorch.stack(flat_rows[j]) if flat_rows[j] else x.new_zeros((0,) + tuple(x.shape))
            block = stacked.reshape(tuple(out.shape) + tuple(x.shape))
            row.append(block if create_graph else block.detach())
        rows.append(row)
    return rows


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): v shaped like the inputs (may be omitted for one single-element input), computed as
    the Jacobian (one backward pass per output element) contracted with v."""
    _, xs = _as_tuple(inputs, "inputs", "jvp")
    v = _vector(v, xs, "jvp", "the input to the user-provided function is", "the inputs")
    _, xs, out_tuple, outputs = _run(func, inputs, "jvp", create_graph)
    jac = _jacobian_blocks(xs, outputs, strict, create_graph)  # func runs once: its graph serves every backward
    result = []
    for out, row in zip(outputs, jac):
        total = out.new_zeros(out.shape)
        for block, vec, x in zip(row, v, xs):
            total = total + (block.reshape(out.numel(), x.numel()) @ vec.reshape(-1).to(block.dtype)).reshape(out.shape)
        result.append(total)
    outputs = _kept(outputs, create_graph)
    return (outputs if out_tuple else outputs[0]), (tuple(result) if out_tuple else result[0])


def _scalar_output(func, fn_name):
    """func, checked to return one single-element Tensor (what hessian / vhp / hvp differentiate twice)."""
    from ..tensor import Tensor

    def wrapped(*inputs):
        out = func(*inputs)
        if isinstance(out, tuple):
            if len(out) != 1:
                raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
            out = out[0]
        if not isinstance(out, Tensor):
            raise TypeError(f"The outputs of the user-provided function given to {fn_name} must be either a Tensor "
                            f"or a tuple of Tensors but the value at index 0 has type {type(out)}.")
        if out.numel() != 1:
            raise RuntimeError(f"The function given to {fn_name} should return a single element Tensor, but it "
                               f"returned a Tensor with {out.numel()} elements")
        return out.reshape(())
    return wrapped


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar func at inputs: shaped input.shape + input.shape for one input, a tuple of tuples
    (inputs x inputs) for several. The Jacobian of the gradient, the gradient taken with create_graph=True."""
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    in_tuple, _ = _as_tuple(inputs, "inputs", "hessian")
    f = _scalar_output(func, "hessian")

    def gradient(*xs):
        _, xs2, _, (out,) = _run(f, xs, "hessian", create_graph=True)
        return _grads((out,), xs2, (out.new_ones(()),), strict, "hessian", create_graph=True)

    jac = jacobian(gradient, inputs, create_graph=create_graph, strict=strict)
    return jac if in_tuple else jac[0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar func: one backward of the gradient's graph."""
    return _second_order(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar func. H is symmetric, so this is v^T H: one backward of the gradient's
    graph (PyTorch's double-backward trick gives the same numbers)."""
    return _second_order(func, inputs, v, create_graph, strict, "hvp")


def _second_order(func, inputs, v, create_graph, strict, fn_name):
    in_tuple, inputs, _, (out,) = _run(_scalar_output(func, fn_name), inputs, fn_name, create_graph=True)
    v = _vector(v, inputs, fn_name, "the input to the user-provided function is", "the inputs")
    grads = _grads((out,), inputs, (out.new_ones(()),), strict, fn_name, create_graph=True)
    if strict and not any(g.requires_grad for g in grads):
        raise RuntimeError(f"The jacobian of the user-provided function is independent of input 0. This is not "
                           f"allowed in strict mode when create_graph=True.")
    grads_in_graph = [(g, vec) for g, vec in zip(grads, v) if g.requires_grad]
    result = _grads(tuple(g for g, _ in grads_in_graph), inputs, tuple(vec for _, vec in grads_in_graph), strict,
                    fn_name, create_graph=create_graph) if grads_in_graph else tuple(x.new_zeros(x.shape)
                                                                                       for x in inputs)
    result = _kept(result, create_graph)
    out = out if create_graph else out.detach()
    return out, (result if in_tuple else result[0])
