"""Adam / AdamW's update of one parameter in one pass (numpy takes ten, each over the whole tensor):

    m = m + (g - m) * (1 - beta1);  v = v * beta2 + g * (1 - beta2) * g      (torch's operation order)
    p = p * decay - step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)

decay is AdamW's 1 - lr * weight_decay (1 for Adam, whose L2 term the caller adds to g). Compiled
without fast-math, so every value is the IEEE result of the same operations, in the same order, as the
numpy body in mytorch/optim/_functional.py.
"""
import math

import numba as nb

from . import _parallel


@_parallel.kernel()
def _step(p, g, m, v, one_m_b1, beta2, one_m_b2, neg_step_size, bc2_sqrt, eps, decay):
    for i in nb.prange(p.shape[0]):
        gi = g[i]
        mi = m[i] + (gi - m[i]) * one_m_b1
        vi = v[i] * beta2 + gi * one_m_b2 * gi
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * decay + (mi * neg_step_size) / (math.sqrt(vi) / bc2_sqrt + eps)


def step(param, grad, exp_avg, exp_avg_sq, beta1, beta2, step_size, bias_correction2_sqrt, eps, decay=1.0):
    """In place on C-contiguous float32 arrays of one shape. The scalars are rounded to float32 from
    Python floats exactly as numpy rounds them when it multiplies a float32 array by them."""
    f = param.dtype.type
    _step(*(a.reshape(-1) for a in (param, grad, exp_avg, exp_avg_sq)), f(1 - beta1), f(beta2),
          f(1 - beta2), f(-step_size), f(bias_correction2_sqrt), f(eps), f(decay))
