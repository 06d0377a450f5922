"""torch.autograd.functional: vjp, jvp and jacobian of a function of tensors, by reverse mode (one backward
pass per vector-Jacobian product). Second derivatives (hessian, hvp, vhp) and create_graph=True need a
backward that records a graph, which mytorch's does not."""
__all__ = ["vjp", "jvp", "jacobian"]


def _as_tuple(x, what, fn_name):
    from ..tensor import Tensor

    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {what} given to {fn_name} must be either a Tensor or a tuple of Tensors but the "
                            f"value at index {i} has type {type(t)}.")
    return is_tuple, items


def _no_create_graph(create_graph, fn_name):
    if create_graph:
        raise RuntimeError(f"{fn_name}(create_graph=True) is not supported: mytorch's backward records no graph, "
                           "so the result can't be differentiated again")


def _run(func, inputs, fn_name):
    """func on detached copies of inputs that require grad: (inputs tuple?, inputs, outputs tuple?, outputs)."""
    from .grad_mode import enable_grad

    in_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = tuple(t.detach().requires_grad_(t.is_floating_point() or t.is_complex()) for t in inputs)
    with enable_grad():
        outputs = func(*inputs)
    out_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", fn_name)
    return in_tuple, inputs, out_tuple, outputs


def _grads(outputs, inputs, grad_outputs, strict, fn_name, retain=True):
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
        found = autograd_grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=retain,
                              allow_unused=True)
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
    _no_create_graph(create_graph, "vjp")
    in_tuple, inputs, out_tuple, outputs = _run(func, inputs, "vjp")
    v = _vector(v, outputs, "vjp", "the user-provided function returns", "the function's outputs")
    result = _grads(outputs, inputs, v, strict, "vjp", retain=False)
    outputs = tuple(o.detach() for o in outputs)
    return (outputs if out_tuple else outputs[0]), (result if in_tuple else result[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs, shaped output.shape + input.shape: a Tensor for one input and one
    output, a tuple over inputs (or outputs), a tuple of tuples (outputs x inputs) for both."""
    _no_create_graph(create_graph, "jacobian")
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                         'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                         'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("torch.autograd.functional.jacobian: `strategy=\"forward-mode\"` "
                                  "currently requires `vectorize=True`.")
    in_tuple, inputs, out_tuple, outputs = _run(func, inputs, "jacobian")
    rows = [tuple(row) if in_tuple else row[0] for row in _jacobian_blocks(inputs, outputs, strict)]
    return tuple(rows) if out_tuple else rows[0]


def _jacobian_blocks(inputs, outputs, strict):
    """[[d outputs[k] / d inputs[j], shaped outputs[k].shape + inputs[j].shape, for j] for k]: one backward
    pass per output element through the graph func already recorded."""
    import mytorch

    rows = []
    for k, out in enumerate(outputs):
        flat_rows = [[] for _ in inputs]
        for idx in range(out.numel()):
            seed = [o.new_zeros(o.shape) for o in outputs]
            seed[k].view(-1)[idx] = 1
            for j, g in enumerate(_grads(outputs, inputs, seed, strict, "jacobian")):
                flat_rows[j].append(g)
        row = []
        for j, x in enumerate(inputs):
            stacked = mytorch.stack(flat_rows[j]) if flat_rows[j] else x.new_zeros((0,) + tuple(x.shape))
            row.append(stacked.reshape(tuple(out.shape) + tuple(x.shape)).detach())
        rows.append(row)
    return rows


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): v shaped like the inputs (may be omitted for one single-element input), computed as
    the Jacobian (one backward pass per output element) contracted with v."""
    _no_create_graph(create_graph, "jvp")
    _, xs = _as_tuple(inputs, "inputs", "jvp")
    v = _vector(v, xs, "jvp", "the input to the user-provided function is", "the inputs")
    _, xs, out_tuple, outputs = _run(func, inputs, "jvp")
    jac = _jacobian_blocks(xs, outputs, strict)  # func runs once: its graph serves every backward pass
    result = []
    for out, row in zip(outputs, jac):
        total = out.new_zeros(out.shape)
        for block, vec, x in zip(row, v, xs):
            total = total + (block.reshape(out.numel(), x.numel()) @ vec.reshape(-1).to(block.dtype)).reshape(out.shape)
        result.append(total)
    outputs = tuple(o.detach() for o in outputs)
    return (outputs if out_tuple else outputs[0]), (tuple(result) if out_tuple else result[0])
