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


# ---------------------------------------------------------------------------------------------
# deprecated spellings PyTorch keeps: chain_matmul, frobenius_norm, nuclear_norm
# ---------------------------------------------------------------------------------------------
def _deprecated(name, use):
    import warnings

    warnings.warn(f"{name} is deprecated and {use}", UserWarning, stacklevel=3)


def chain_matmul(*matrices, out=None):
    """The product of 2-D matrices (linalg.multi_dot, which picks the cheapest order)."""
    _deprecated("torch.chain_matmul", "will be removed in a future PyTorch release. Use torch.linalg.multi_dot "
                "instead, which accepts a list of two or more tensors rather than multiple parameters.")
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m.ndim}, expected 2 instead.")
    for i, (a, b) in enumerate(zip(matrices, matrices[1:])):
        if a.shape[1] != b.shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(a.shape)} and "
                               f"{list(b.shape)} cannot be multiplied")
    result = matrices[0].clone() if len(matrices) == 1 else _la.multi_dot(matrices)
    return result if out is None else out.set_data_(result)


def frobenius_norm(input, dim, keepdim=False):
    _deprecated("at::frobenius_norm", "it is just left for JIT compatibility. It will be removed in a future "
                "PyTorch release. Please use `linalg.vector_norm(A, 2., dim, keepdim)` instead")
    return _la.vector_norm(input, 2, dim, keepdim)


def nuclear_norm(input, dim=None, keepdim=False):
    """nuclear_norm(input, keepdim=False) over the last two dims, or nuclear_norm(input, dim, keepdim=False)."""
    _deprecated("at::nuclear_norm", "it is just left for JIT compatibility. It will be removed in a future "
                "PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead")
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    return _la.matrix_norm(input, "nuc", (-2, -1) if dim is None else tuple(dim), keepdim)


public(chain_matmul, frobenius_norm, nuclear_norm)


# ---------------------------------------------------------------------------------------------
# removed in PyTorch 1.9: the names remain, raising the errors that say what replaces them
# ---------------------------------------------------------------------------------------------
_REMOVED = "This function was deprecated since version 1.9 and is now removed. "


def matrix_rank(input, tol=None, symmetric=False, *, out=None):
    raise RuntimeError(_REMOVED.rstrip(" ") + "\nPlease use the `torch.linalg.matrix_rank` function instead. "
                       "The parameter 'symmetric' was renamed in `torch.linalg.matrix_rank()` to 'hermitian'.")


def solve(input, A, *, out=None):
    raise RuntimeError(_REMOVED + "`torch.solve` is deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` "
                       "has its arguments reversed and does not return the LU factorization.\n\nTo get the LU "
                       "factorization see `torch.lu`, which can be used with `torch.lu_solve` or `torch.lu_unpack`.\n"
                       "X = torch.solve(B, A).solution should be replaced with:\nX = torch.linalg.solve(A, B)")


def lstsq(input, A, *, out=None):
    raise RuntimeError(_REMOVED + "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n`torch.linalg.lstsq` "
                       "has reversed arguments and does not return the QR decomposition in the returned tuple "
                       "(although it returns other information about the problem).\n\nTo get the QR decomposition "
                       "consider using `torch.linalg.qr`.\n\nThe returned solution in `torch.lstsq` stored the "
                       "residuals of the solution in the last m - n columns of the returned value whenever m > n. In "
                       "torch.linalg.lstsq, the residuals are in the field 'residuals' of the returned named tuple.\n\n"
                       "The unpacking of the solution, as in\nX, _ = torch.lstsq(B, A).solution[:A.size(1)]\nshould be "
                       "replaced with:\nX = torch.linalg.lstsq(A, B).solution")


def symeig(input, eigenvectors=False, upper=True, *, out=None):
    raise RuntimeError(_REMOVED + "The default behavior has changed from using the upper triangular portion of the "
                       "matrix by default to using the lower triangular portion.\n\nL, _ = torch.symeig(A, "
                       "upper=upper) should be replaced with:\nL = torch.linalg.eigvalsh(A, UPLO='U' if upper else "
                       "'L')\n\nand\n\nL, V = torch.symeig(A, eigenvectors=True) should be replaced with:\nL, V = "
                       "torch.linalg.eigh(A, UPLO='U' if upper else 'L')")


def eig(self, eigenvectors=False, *, e=None, v=None):
    raise RuntimeError(_REMOVED + "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather "
                       "than real tensors mimicking complex tensors.\n\nL, _ = torch.eig(A) should be replaced with:\n"
                       "L_complex = torch.linalg.eigvals(A)\n\nand\n\nL, V = torch.eig(A, eigenvectors=True) should be "
                       "replaced with:\nL_complex, V_complex = torch.linalg.eig(A)")


tensor_methods(solve=solve, lstsq=lstsq, symeig=symeig, eig=eig)
public(matrix_rank, solve, lstsq, symeig, eig)
