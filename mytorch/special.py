"""mytorch.special: PyTorch's torch.special names. Most are the elementwise ops of mytorch.ops.special_math
(scipy.special underneath); the orthogonal polynomials below evaluate their three-term recurrences."""
import numpy as np

from ._array import xp_of
from .ops import elementwise as _ew
from .ops import reduce as _reduce
from .ops import special_math as _sm
from .tensor import Tensor

erf, erfc, exp2, expm1, log1p, round = _ew.erf, _ew.erfc, _ew.exp2, _ew.expm1, _ew.log1p, _ew.round  # noqa: A001
expit = _ew.sigmoid
erfinv, digamma, i0, sinc, xlogy, polygamma, logit = (_sm.erfinv, _sm.digamma, _sm.i0, _sm.sinc, _sm.xlogy,
                                                      _sm.polygamma, _sm.logit)
gammaln, psi = _sm.lgamma, _sm.digamma
multigammaln = _sm.mvlgamma
xlog1py, zeta = _sm.special_xlog1py, _sm.special_zeta
gammainc, gammaincc = _sm.igamma, _sm.igammac
i0e, i1, i1e = _sm.special_i0e, _sm.special_i1, _sm.special_i1e
ndtr, ndtri, log_ndtr, erfcx, entr = (_sm.special_ndtr, _sm.special_ndtri, _sm.special_log_ndtr, _sm.special_erfcx,
                                      _sm.special_entr)
bessel_j0, bessel_j1, bessel_y0, bessel_y1 = (_sm.special_bessel_j0, _sm.special_bessel_j1, _sm.special_bessel_y0,
                                              _sm.special_bessel_y1)
modified_bessel_i0, modified_bessel_i1 = _sm.special_modified_bessel_i0, _sm.special_modified_bessel_i1
modified_bessel_k0, modified_bessel_k1 = _sm.special_modified_bessel_k0, _sm.special_modified_bessel_k1
scaled_modified_bessel_k0 = _sm.special_scaled_modified_bessel_k0
scaled_modified_bessel_k1 = _sm.special_scaled_modified_bessel_k1
spherical_bessel_j0, airy_ai = _sm.special_spherical_bessel_j0, _sm.special_airy_ai
logsumexp = _reduce.logsumexp


def softmax(input, dim, *, dtype=None):
    return _reduce.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    return _reduce.log_softmax(input, dim, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# orthogonal polynomials: p_0, p_1 and p_{k+1} = a_k(x) p_k - b_k p_{k-1}; n < 0 gives 0 (no gradient)
# ---------------------------------------------------------------------------------------------
def _polynomial(name, first, step):
    def op(input, n, *, out=None):
        ref = input if isinstance(input, Tensor) else n
        xp = xp_of(ref._data)
        x = input._data if isinstance(input, Tensor) else xp.asarray(input, dtype=ref._data.dtype)
        nn = n._data if isinstance(n, Tensor) else xp.asarray(n)
        dtype = np.result_type(x.dtype, nn.dtype) if nn.dtype.kind == "f" else x.dtype
        if dtype.kind != "f":
            dtype = np.float32
        x, nn = xp.broadcast_arrays(x.astype(dtype), xp.trunc(nn).astype(np.int64))
        prev, cur = xp.ones_like(x), first(x)
        result = xp.where(nn == 0, prev, xp.where(nn == 1, cur, 0)).astype(dtype)
        top = int(nn.max()) if nn.size else 0
        for k in range(1, top):
            prev, cur = cur, step(k, x, cur, prev)
            result = xp.where(nn == k + 1, cur, result)
        result = xp.where(nn < 0, 0, result).astype(dtype)
        t = Tensor._make(result)
        if out is not None:
            out.copy_(t)
            return out
        return t

    op.__name__ = op.__qualname__ = name
    return op


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t", lambda x: x, lambda k, x, c, p: 2 * x * c - p)
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u", lambda x: 2 * x, lambda k, x, c, p: 2 * x * c - p)
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v", lambda x: 2 * x - 1, lambda k, x, c, p: 2 * x * c - p)
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w", lambda x: 2 * x + 1, lambda k, x, c, p: 2 * x * c - p)
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t", lambda x: 2 * x - 1,
                                             lambda k, x, c, p: 2 * (2 * x - 1) * c - p)
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u", lambda x: 2 * (2 * x - 1),
                                             lambda k, x, c, p: 2 * (2 * x - 1) * c - p)
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v", lambda x: 2 * (2 * x - 1) - 1,
                                             lambda k, x, c, p: 2 * (2 * x - 1) * c - p)
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w", lambda x: 2 * (2 * x - 1) + 1,
                                             lambda k, x, c, p: 2 * (2 * x - 1) * c - p)
hermite_polynomial_h = _polynomial("hermite_polynomial_h", lambda x: 2 * x, lambda k, x, c, p: 2 * x * c - 2 * k * p)
hermite_polynomial_he = _polynomial("hermite_polynomial_he", lambda x: x, lambda k, x, c, p: x * c - k * p)
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l", lambda x: 1 - x,
                                    lambda k, x, c, p: ((2 * k + 1 - x) * c - k * p) / (k + 1))
legendre_polynomial_p = _polynomial("legendre_polynomial_p", lambda x: x,
                                    lambda k, x, c, p: ((2 * k + 1) * x * c - k * p) / (k + 1))
