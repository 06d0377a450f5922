"""Array pieces shared by the optimizers' updates (in place on raw numpy/cupy arrays, torch's order)."""

from .. import cpu_kernels

__all__ = []


def _weight_decay(group, param, grad, lr, weight_decay):
    """Decoupled (AdamW-style: shrink the weights) or L2 (add wd * param to the gradient)."""
    if weight_decay == 0:
        return grad
    if group.get("decoupled_weight_decay", False):
        param *= 1 - lr * weight_decay
        return grad
    return grad + weight_decay * param


def _lerp_(xp, avg, grad, weight, scratch=None):
    """avg.lerp_(grad, weight) in place. Returns a scratch array of grad's shape the caller may reuse
    (`scratch`, when given: an array of that shape to compute in)."""
    scratch = xp.subtract(grad, avg, out=scratch)
    scratch *= weight
    avg += scratch
    return scratch


def _update_moments(xp, grad, exp_avg, exp_avg_sq, beta1, beta2, scratch=None):
    """exp_avg.lerp_(grad, 1-beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1-beta2), in place, in
    torch's operation order. Returns a scratch array of grad's shape the caller may reuse."""
    scratch = _lerp_(xp, exp_avg, grad, 1 - beta1, scratch)
    xp.multiply(grad, 1 - beta2, out=scratch)
    scratch *= grad
    exp_avg_sq *= beta2
    exp_avg_sq += scratch
    return scratch


def _adam_update(xp, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, beta2, step_size,
                 bias_correction2_sqrt, eps, scratch=None, scratch2=None):
    """Adam's moment and parameter update in place (weight decay already applied), torch's operation order:
    p += -step_size * m / (sqrt(v_hat) / bias_correction2_sqrt + eps), v_hat = running max of v with amsgrad.
    scratch, scratch2: optional arrays of grad's shape to compute in (no temporaries). param None: only the
    moments; returns the update term (in scratch2) for the caller to add."""
    if (param is not None and param.size and max_exp_avg_sq is None  # (the compiled pass fails on 0 elements)
            and cpu_kernels.use_small(param, grad, exp_avg, exp_avg_sq)):
        from ..cpu_kernels import adam  # one compiled pass, bit-identical to the numpy steps below

        adam.step(param, grad, exp_avg, exp_avg_sq, beta1, beta2, step_size, bias_correction2_sqrt, eps)
        return None
    scratch = _update_moments(xp, grad, exp_avg, exp_avg_sq, beta1, beta2, scratch)
    if max_exp_avg_sq is not None:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = xp.sqrt(max_exp_avg_sq, out=scratch)
    else:
        denom = xp.sqrt(exp_avg_sq, out=scratch)
    denom /= bias_correction2_sqrt
    denom += eps
    update = xp.multiply(exp_avg, -step_size, out=scratch2)
    update /= denom
    if param is not None:
        param += update
    return update
