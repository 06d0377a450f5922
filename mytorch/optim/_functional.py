"""Array pieces shared by the optimizers' updates (in place on raw numpy/cupy arrays, torch's order)."""

__all__ = []


def _weight_decay(group, param, grad, lr, weight_decay):
    """Decoupled (AdamW-style: shrink the weights) or L2 (add wd * param to the gradient)."""
    if weight_decay == 0:
        return grad
    if group.get("decoupled_weight_decay", False):
        param *= 1 - lr * weight_decay
        return grad
    return grad + weight_decay * param


def _lerp_(xp, avg, grad, weight):
    """avg.lerp_(grad, weight) in place. Returns a scratch array of grad's shape the caller may reuse."""
    scratch = xp.subtract(grad, avg)
    scratch *= weight
    avg += scratch
    return scratch


def _update_moments(xp, grad, exp_avg, exp_avg_sq, beta1, beta2):
    """exp_avg.lerp_(grad, 1-beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1-beta2), in place, in
    torch's operation order. Returns a scratch array of grad's shape the caller may reuse."""
    scratch = _lerp_(xp, exp_avg, grad, 1 - beta1)
    xp.multiply(grad, 1 - beta2, out=scratch)
    scratch *= grad
    exp_avg_sq *= beta2
    exp_avg_sq += scratch
    return scratch
