"""Top-level linear-algebra names (torch.det, torch.svd, torch.qr, torch.cholesky, ...) over mytorch.linalg."""
from .. import linalg as _la
from ._registry import public, tensor_methods
from .reduce import _return_type
from . import linalg_factor, lowrank  # noqa: F401  (geqrf, ormqr, orgqr; svd_lowrank, pca_lowrank)

SVDResult = _return_type("svd", ["U", "S", "V"])
QRResult = _return_type("qr", ["Q", "R"])

det, slogdet, logdet, inverse, matrix_power, matrix_exp = (_la.det, _la.slogdet, _la.logdet, _la.inv,
                                                           _la.matrix_power, _la.matrix_exp)
triangular_solve = _la.triangular_solve


def cholesky(input, upper=False):
    return _la.cholesky(input, upper=upper)


def cholesky_solve(B, L, upper=False):
    """Solve A X = B given A's Cholesky factor."""
    y = _la.solve_triangular(L.mT if upper else L, B, upper=False)
    return _la.solve_triangular(L if upper else L.mT, y, upper=True)


def cholesky_inverse(L, upper=False):
    A = L.mT @ L if upper else L @ L.mT
    return _la.inv(A)


def pinverse(input, rcond=1e-15):
    return _la.pinv(input, rtol=rcond)


def qr(input, some=True):
    Q, R = _la.qr(input, mode="reduced" if some else "complete")
    return QRResult(Q, R)


def svd(input, some=True, compute_uv=True):
    U, S, Vh = _la.svd(input, full_matrices=not some)
    if not compute_uv:
        m, n = input.shape[-2:]
        from .factory import zeros

        return SVDResult(zeros(*input.shape[:-2], m, m if not some else min(m, n), dtype=input.dtype), S.detach(),
                         zeros(*input.shape[:-2], n, n if not some else min(m, n), dtype=input.dtype))
    return SVDResult(U, S, Vh.mT)


tensor_methods(det=det, slogdet=slogdet, logdet=logdet, inverse=inverse, matrix_power=matrix_power,
               matrix_exp=matrix_exp, cholesky=cholesky, cholesky_solve=cholesky_solve,
               cholesky_inverse=cholesky_inverse, pinverse=pinverse, qr=qr, svd=svd, triangular_solve=triangular_solve)
public(cholesky, cholesky_solve, cholesky_inverse, pinverse, qr, svd, det=det, slogdet=slogdet, logdet=logdet,
       inverse=inverse, matrix_power=matrix_power, matrix_exp=matrix_exp, triangular_solve=triangular_solve)


def lu(A, pivot=True, get_infos=False):
    LU, piv = _la.lu_factor(A, pivot=pivot)
    if get_infos:
        from .factory import zeros
        from .. import _dtype

        return LU, piv, zeros(A.shape[:-2], dtype=_dtype.int32)
    return LU, piv


def lu_solve(b, LU_data, LU_pivots):
    return _la.lu_solve(LU_data, LU_pivots, b)


lu_unpack = _la.lu_unpack
tensor_methods(lu=lu, lu_solve=lu_solve)
public(lu, lu_solve, lu_unpack=lu_unpack)
