"""Finite-difference gradient checks (run in float64)."""
import numpy as np


def _flat_inputs(inputs):
    from ..tensor import Tensor

    return [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, fast_mode=False):
    """Compare analytic gradients with central differences for every input that requires grad.

    Inputs should be float64 for the check to be meaningful. Returns True, or raises a
    GradcheckError-like RuntimeError naming the input and element that disagree.
    """
    from ..autograd import grad as autograd_grad
    from ..autograd.grad_mode import no_grad
    from ..tensor import Tensor

    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    diff_inputs = _flat_inputs(inputs)
    if not diff_inputs:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for x in diff_inputs:
        if x.dtype.name not in ("float64", "complex128"):
            import warnings

            warnings.warn(f"Input #{_position(inputs, x)} requires gradient and is not a double precision floating "
                          "point. gradcheck is unreliable below float64.")

    def outputs_of(*args):
        out = func(*args)
        return out if isinstance(out, tuple) else (out,)

    # complex tensors count as their (real, imaginary) pairs: an input element is two real parameters, an
    # output element two real outputs; with PyTorch's convention a gradient g holds (d/dRe + i d/dIm), and the
    # seeds 1 and 1j pick the real and imaginary part of a complex output
    outs = [o for o in outputs_of(*inputs) if isinstance(o, Tensor) and o.requires_grad]
    for oi, out in enumerate(outs):
        complex_out = out._data.dtype.kind == "c"
        seeds = (1, 1j) if complex_out else (1,)
        numel = out.numel() * len(seeds)
        analytic = [np.zeros((_real_numel(x), numel)) for x in diff_inputs]
        for j in range(numel):
            seed = np.zeros(out.shape, out._data.dtype)
            seed.reshape(-1)[j // len(seeds)] = seeds[j % len(seeds)]
            out_j = [o for o in outputs_of(*inputs) if isinstance(o, Tensor) and o.requires_grad][oi]
            gs = autograd_grad(out_j, diff_inputs, grad_outputs=Tensor._make(seed), allow_unused=True)
            for k, g in enumerate(gs):
                if g is not None:
                    analytic[k][:, j] = _as_reals(g._data)
        for k, x in enumerate(diff_inputs):
            flat = x._data.reshape(-1)
            steps = (eps, eps * 1j) if flat.dtype.kind == "c" else (eps,)
            numeric = np.zeros((_real_numel(x), numel))
            with no_grad():
                for i in range(x.numel() * len(steps)):
                    pos, step = i // len(steps), steps[i % len(steps)]
                    orig = flat[pos].item()
                    flat[pos] = orig + step
                    plus = _as_reals(outputs_of(*inputs)[oi]._data)
                    flat[pos] = orig - step
                    minus = _as_reals(outputs_of(*inputs)[oi]._data)
                    flat[pos] = orig
                    numeric[i] = (plus - minus) / (2 * eps)
            if not np.allclose(analytic[k], numeric, rtol=rtol, atol=atol):
                bad = np.unravel_index(np.argmax(np.abs(analytic[k] - numeric)), numeric.shape)
                msg = (f"Jacobian mismatch for output {oi} with respect to input {_position(inputs, x)},\n"
                       f"numerical:{numeric[bad]}\nanalytical:{analytic[k][bad]}\n(at input element {bad[0]}, "
                       f"output element {bad[1]})")
                if raise_exception:
                    raise RuntimeError(msg)
                return False
    return True


def _real_numel(x):
    return x.numel() * (2 if x._data.dtype.kind == "c" else 1)


def _as_reals(arr):
    """An array as float64 values, a complex one as its interleaved (real, imaginary) pairs."""
    arr = np.asarray(arr.get() if hasattr(arr, "get") else arr)
    if arr.dtype.kind == "c":
        return np.stack([arr.real, arr.imag], -1).astype(np.float64).reshape(-1)
    return arr.astype(np.float64).reshape(-1)


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0, check_undefined_grad=True,
                  check_grad_dtypes=False, check_batched_grad=False, check_fwd_over_rev=False, check_rev_over_rev=True,
                  fast_mode=False, masked=False):
    """Second derivatives against central differences: gradcheck of (inputs, grad_outputs) -> the gradient of
    func's outputs (weighted by grad_outputs, random when not given) w.r.t. the inputs, taken with
    create_graph=True."""
    from ..autograd import grad as autograd_grad
    from ..autograd.grad_mode import enable_grad
    from ..tensor import Tensor

    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    n = len(inputs)

    def outputs_of(*args):
        out = func(*args)
        return [o for o in (out if isinstance(out, tuple) else (out,)) if isinstance(o, Tensor) and o.requires_grad]

    if grad_outputs is None:  # random weights, in float64 like the inputs should be
        rng = np.random.default_rng(0)
        grad_outputs = tuple(Tensor._make(_random_like(rng, o._data)).requires_grad_() for o in outputs_of(*inputs))
    grad_outputs = grad_outputs if isinstance(grad_outputs, tuple) else (grad_outputs,)

    def first_derivatives(*args):
        xs, gos = args[:n], args[n:]
        with enable_grad():  # gradcheck evaluates this under no_grad for its finite differences
            grads = autograd_grad(outputs_of(*xs), _flat_inputs(xs), gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    # the recorded backward (differentiable_backward, create_graph=True) must give backward's numbers first
    recorded = first_derivatives(*inputs, *grad_outputs)
    with enable_grad():
        plain = [g for g in autograd_grad(outputs_of(*inputs), _flat_inputs(inputs), grad_outputs, allow_unused=True)
                 if g is not None]
    for k, (r, p) in enumerate(zip(recorded, plain)):
        if not np.allclose(r._data, p._data, rtol=rtol, atol=atol):
            msg = (f"Gradient mismatch for input {k}: backward with create_graph=True (the recorded formula) "
                   f"disagrees with backward,\nrecorded:{r._data.reshape(-1)[:6]}\nbackward:{p._data.reshape(-1)[:6]}")
            if raise_exception:
                raise RuntimeError(msg)
            return False
    return gradcheck(first_derivatives, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)


def _random_like(rng, arr):
    from .._array import xp_of

    values = rng.standard_normal(arr.shape)
    if arr.dtype.kind == "c":
        values = values + 1j * rng.standard_normal(arr.shape)
    return xp_of(arr).asarray(values.astype(arr.dtype))


def _position(inputs, x):
    return next(i for i, a in enumerate(inputs) if a is x)
