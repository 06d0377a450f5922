"""mytorch.linalg: PyTorch's torch.linalg on numpy.linalg / cupy.linalg (batched over leading dims).

Factorizations are Functions with the standard backward formulas next to their forward; the rest
(norms, solve_triangular, lstsq, pinv-based ops, matrix_power, ...) are composites of those and get their
gradients from them.
"""
import math

import numpy as np

from . import _dtype
from ._array import xp_of
from .autograd.function import Function
from .ops import misc_ops as _misc
from .ops.reduce import _return_type
from .tensor import Tensor, wrap_dim


class LinAlgError(RuntimeError):
    """A matrix the factorization or solve can't handle (singular, not positive-definite), as PyTorch's."""


def _m():
    import mytorch

    return mytorch


def _mT(a):
    return a.swapaxes(-1, -2)


def _check_square(name, A):
    if A.ndim < 2:
        raise RuntimeError(f"linalg.{name}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")


def _check_float(name, A):
    if A.dtype not in (_dtype.float32, _dtype.float64):
        raise RuntimeError(f"linalg.{name}: Expected a floating point tensor as input. Got {A.dtype.name.capitalize()}")


def _mH_t(t):
    """_mH for a Tensor (a differentiable_backward's)."""
    t = t.transpose(-1, -2)
    return t.conj() if t.is_complex() else t


def _mH(a):
    """The conjugate transpose (the transpose for real arrays): complex gradients use A^H where real ones use A^T."""
    return _mT(a).conj() if a.dtype.kind == "c" else _mT(a)


def _float(name, A, complex_ok=False):
    if A.dtype.is_complex and complex_ok:
        return A
    if A.dtype.is_complex:  # casting would silently drop the imaginary part
        raise NotImplementedError(f"linalg.{name}: complex inputs are not supported here (got {A.dtype}); "
                                  "linalg.det, inv, solve, cholesky, qr, eigh, svd, eig, eigvals and the norms take "
                                  "them")
    A = A if A.dtype.is_floating_point else A.to(_dtype.get_default_dtype())
    _check_float(name, A)
    return A


SlogdetResult = _return_type("slogdet", ["sign", "logabsdet"])
EighResult = _return_type("eigh", ["eigenvalues", "eigenvectors"])
QRResult = _return_type("qr", ["Q", "R"])
SVDResult = _return_type("svd", ["U", "S", "Vh"])
LstsqResult = _return_type("lstsq", ["solution", "residuals", "rank", "singular_values"])
InvExResult = _return_type("inv_ex", ["inverse", "info"])
SolveExResult = _return_type("solve_ex", ["result", "info"])
CholeskyExResult = _return_type("cholesky_ex", ["L", "info"])


# ---------------------------------------------------------------------------------------------
# determinants and inverses
# ---------------------------------------------------------------------------------------------
class Det(Function):
    @staticmethod
    def forward(ctx, A):
        xp = xp_of(A)
        d = xp.linalg.det(A)
        ctx.save_for_backward(A, d)
        return xp.asarray(d, dtype=A.dtype)

    @staticmethod
    def backward(ctx, grad):
        A, d = ctx.saved_tensors
        xp = xp_of(A)
        # d det / dA = det * A^{-T} (complex: grad * conj(det) * A^{-H}); the pseudo-inverse keeps it finite for
        # singular A
        d = xp.conj(d) if A.dtype.kind == "c" else d
        return (grad * d)[..., None, None] * _mH(xp.linalg.pinv(A))

    @staticmethod
    def differentiable_backward(ctx, grad):
        A, _ = ctx.saved_tensors
        d = Det.apply(A)  # det as a function of A again: its derivative counts
        d = d.conj() if d.is_complex() else d
        return (grad * d).unsqueeze(-1).unsqueeze(-1) * _mH_t(Inv.apply(A))


class SlogDet(Function):
    @staticmethod
    def forward(ctx, A):
        xp = xp_of(A)
        sign, logabs = xp.linalg.slogdet(A)
        ctx.save_for_backward(A)
        return xp.asarray(sign, dtype=A.dtype), xp.asarray(logabs, dtype=A.dtype)

    @staticmethod
    def backward(ctx, grad_sign, grad_logabs):
        (A,) = ctx.saved_tensors
        if grad_logabs is None:
            return None
        return grad_logabs[..., None, None] * _mT(xp_of(A).linalg.inv(A))

    @staticmethod
    def differentiable_backward(ctx, grad_sign, grad_logabs):
        (A,) = ctx.saved_tensors
        return grad_logabs.unsqueeze(-1).unsqueeze(-1) * Inv.apply(A).transpose(-1, -2)


class Inv(Function):
    @staticmethod
    def forward(ctx, A):
        xp = xp_of(A)
        try:
            out = xp.linalg.inv(A)
        except np.linalg.LinAlgError:
            raise LinAlgError("linalg.inv: The diagonal element 1 is zero, the inversion could not be completed "
                               "because the input matrix is singular.") from None
        ctx.save_for_backward(out)
        return out.astype(A.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return -_mH(out) @ grad @ _mH(out)

    @staticmethod
    def differentiable_backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return -_mH_t(out).matmul(grad).matmul(_mH_t(out))


class Solve(Function):
    """X = A^{-1} B (B a batch of matrices); gB = A^{-T} g, gA = -gB X^T (complex: A^{-H}, X^H)."""

    @staticmethod
    def forward(ctx, A, B):
        xp = xp_of(A)
        try:
            X = xp.linalg.solve(A, B)
        except np.linalg.LinAlgError:
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is singular.") from None
        ctx.save_for_backward(A, X)
        return X.astype(A.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        A, X = ctx.saved_tensors
        gB = xp_of(A).linalg.solve(_mH(A), grad)
        gA = -gB @ _mH(X) if ctx.needs_input_grad[0] else None
        return gA, gB

    @staticmethod
    def differentiable_backward(ctx, grad):
        A, X = ctx.saved_tensors
        gB = Solve.apply(_mH_t(A), grad)
        gA = -gB.matmul(_mH_t(X)) if ctx.needs_input_grad[0] else None
        return gA, gB


def det(A):
    _check_square("det", A)
    return Det.apply(_float("det", A, complex_ok=True))


def slogdet(A):
    _check_square("slogdet", A)
    sign, logabs = SlogDet.apply(_float("slogdet", A))
    return SlogdetResult(sign.detach(), logabs)


def logdet(A):
    sign, logabs = slogdet(A)
    m = _m()
    return m.where(sign < 0, m.full_like(logabs, float("nan")), m.where(sign == 0, m.full_like(
        logabs, -float("inf")), logabs))


def inv(A):
    _check_square("inv", A)
    return Inv.apply(_float("inv", A, complex_ok=True))


def inv_ex(A, *, check_errors=False):
    out = inv(A)
    return InvExResult(out, _m().zeros(A.shape[:-2], dtype=_dtype.int32))


def _solve_matrix(A, B):
    """Broadcast batch dims, then Solve on matrices."""
    batch = np.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2]))
    A = A.expand(*batch, *A.shape[-2:])
    B = B.expand(*batch, *B.shape[-2:])
    return Solve.apply(A, B)


def solve(A, B, *, left=True):
    _check_square("solve", A)
    A = _float("solve", A, complex_ok=True)
    if B.dtype.is_complex != A.dtype.is_complex:  # casting B would drop (or invent) imaginary parts
        names = [t.type().rsplit(".", 1)[-1][:-len("Tensor")] for t in (A, B)]
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type {names[0]} "
                           f"and B of type {names[1]} instead")
    B = B.to(A.dtype)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _solve_matrix(A.mT, B.mT).mT
    # B is a (batch of) vector(s) when it is 1-D or has A's batch shape with one dim less
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector:
        return _solve_matrix(A, B.unsqueeze(-1)).squeeze(-1)
    return _solve_matrix(A, B)


def solve_ex(A, B, *, left=True, check_errors=False):
    out = solve(A, B, left=left)
    return SolveExResult(out, _m().zeros(A.shape[:-2], dtype=_dtype.int32))


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """Solve with the triangle of A (the other half is never read, so it gets no gradient)."""
    m = _m()
    T = A.triu() if upper else A.tril()
    if unitriangular:
        eye = m.eye(A.shape[-1], dtype=A.dtype)
        T = T * (1 - eye) + eye
    return solve(T, B, left=left)


TriangularSolveResult = _return_type("triangular_solve", ["solution", "cloned_coefficient"])


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    T = A.mT if transpose else A
    x = solve_triangular(T, b, upper=upper != transpose, unitriangular=unitriangular)
    return TriangularSolveResult(x, A.clone())


# ---------------------------------------------------------------------------------------------
# factorizations
# ---------------------------------------------------------------------------------------------
def _phi(xp, X):
    """Lower triangle with the diagonal halved."""
    L = xp.tril(X)
    idx = xp.arange(X.shape[-1])
    L[..., idx, idx] *= 0.5
    return L


class Cholesky(Function):
    @staticmethod
    def forward(ctx, A):
        xp = xp_of(A)
        try:
            L = xp.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            raise LinAlgError("linalg.cholesky: The factorization could not be completed because the input is not "
                               "positive-definite.") from None
        ctx.save_for_backward(L)
        return L.astype(A.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (L,) = ctx.saved_tensors
        xp = xp_of(L)
        if L.dtype.kind == "c":  # PyTorch's form: gA = L^{-H} (X + tril(X, -1)^H) / 2 L^{-1},  X = tril(L^H gL)
            X = xp.tril(_mH(L) @ xp.tril(grad))
            L_inv = xp.linalg.inv(L)
            return _mH(L_inv) @ (0.5 * (X + _mH(xp.tril(X, -1)))) @ L_inv
        # S = L^{-T} phi(L^T gL) L^{-1}; gA = (S + S^T) / 2
        P = _phi(xp, _mT(L) @ xp.tril(grad))
        L_inv = xp.linalg.inv(L)
        S = _mT(L_inv) @ P @ L_inv
        return 0.5 * (S + _mT(S))

    @staticmethod
    def differentiable_backward(ctx, grad):
        (L,) = ctx.saved_tensors
        if L.is_complex():
            raise RuntimeError("the derivative of a complex cholesky is not implemented for create_graph=True")
        n = L.shape[-1]
        xp = xp_of(L._data)
        halve = Tensor._make(xp.tril(xp.ones((n, n), L._data.dtype)) - 0.5 * xp.eye(n, dtype=L._data.dtype))
        P = L.transpose(-1, -2).matmul(grad.tril()) * halve  # phi: the lower triangle, diagonal halved
        L_inv = Inv.apply(L)
        S = L_inv.transpose(-1, -2).matmul(P).matmul(L_inv)
        return 0.5 * (S + S.transpose(-1, -2))


def cholesky(A, *, upper=False):
    _check_square("cholesky", A)
    L = Cholesky.apply(_float("cholesky", A, complex_ok=True))
    return L.mH if upper else L  # U = L^H


def _is_pd(m):
    try:
        np.linalg.cholesky(m)
        return True
    except np.linalg.LinAlgError:
        return False


def _cholesky_info(a):
    """LAPACK potrf's info for each matrix of a batch (numpy, float): 0 when positive-definite, else the
    order of the first leading minor that is not."""
    batch = a.reshape((-1,) + a.shape[-2:])
    info = np.zeros(len(batch), np.int32)
    for b, m in enumerate(batch):
        if not _is_pd(m):
            info[b] = next(k for k in range(1, len(m) + 1) if not _is_pd(m[:k, :k]))
    return info.reshape(a.shape[:-2])


def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info) as PyTorch: info is 0 for a positive-definite matrix, else the order of the first leading
    minor that is not (its L is then not a factorization). check_errors=True raises instead."""
    try:
        L = cholesky(A, upper=upper)
        return CholeskyExResult(L, _m().zeros(A.shape[:-2], dtype=_dtype.int32, device=A.device))
    except LinAlgError:
        if check_errors:
            raise
    a = A._data  # only when some matrix failed: find which, and at which minor
    host = a if isinstance(a, np.ndarray) else xp_of(a).asnumpy(a)
    info = _cholesky_info(host.astype(np.float64) if host.dtype.kind == "f" else host)
    # the failed matrices are factored as identities (their L is not a factorization, as in PyTorch); the
    # others keep their gradient
    torch = _m()
    bad = torch.tensor(info != 0, device=A.device)[..., None, None]
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    L = cholesky(torch.where(bad, eye, A), upper=upper)
    return CholeskyExResult(L, _m().tensor(info, device=A.device))


def _copyltu(xp, M):
    """The symmetric (complex: Hermitian) matrix with M's lower triangle."""
    low = xp.tril(M, -1)
    diag = xp.tril(xp.triu(M))
    return low + _mH(low) + (diag.real if M.dtype.kind == "c" else diag)


class QR(Function):
    @staticmethod
    def forward(ctx, A, mode):
        xp = xp_of(A)
        Q, R = xp.linalg.qr(A, mode="complete" if mode == "complete" else "reduced")
        ctx.save_for_backward(Q, R)
        ctx.mode = mode
        return Q.astype(A.dtype, copy=False), R.astype(A.dtype, copy=False)

    @staticmethod
    def backward(ctx, gQ, gR):
        Q, R = ctx.saved_tensors
        xp = xp_of(Q)
        m, n = Q.shape[-2], R.shape[-1]
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The derivative of linalg.qr is not implemented when mode='complete' and nrows > "
                               "ncols.")
        gQ = xp.zeros_like(Q) if gQ is None else gQ
        gR = xp.zeros_like(R) if gR is None else gR
        k = min(m, n)
        R1, gR1 = R[..., :, :k], gR[..., :, :k]
        if n > k:  # wide: R2 = Q^T A2 adds A2 gR2^T to Q's gradient and gives A2 the gradient Q gR2
            R2, gR2 = R[..., :, k:], gR[..., :, k:]
            gQ = gQ + (Q @ R2) @ _mH(gR2)
        # gA1 = (gQ + Q copyltu(M)) R1^{-T},  M = R1 gR1^T - gQ^T Q  (complex: ^H for ^T)
        M = R1 @ _mH(gR1) - _mH(gQ) @ Q
        rhs = gQ + Q @ _copyltu(xp, M)
        gA = _mH(xp.linalg.solve(R1, _mH(rhs)))
        if n > k:
            gA = xp.concatenate([gA, Q @ gR2], axis=-1)
        return gA, None


def qr(A, mode="reduced"):
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           f"or 'complete'")
    Q, R = QR.apply(_float("qr", A, complex_ok=True), "complete" if mode == "complete" else "reduced")
    if mode == "r":
        return QRResult(_m().empty(0, dtype=A.dtype), R)
    return QRResult(Q, R)


class Eigh(Function):
    @staticmethod
    def forward(ctx, A, uplo):
        xp = xp_of(A)
        w, V = xp.linalg.eigh(A, UPLO=uplo)
        ctx.save_for_backward(w, V)
        return w.astype(A.real.dtype, copy=False), V.astype(A.dtype, copy=False)  # real eigenvalues

    @staticmethod
    def backward(ctx, gw, gV):
        w, V = ctx.saved_tensors
        xp = xp_of(V)
        inner = xp.zeros(V.shape, V.dtype)
        if gV is not None:
            E = w[..., None, :] - w[..., :, None]
            idx = xp.arange(w.shape[-1])
            E[..., idx, idx] = 1
            VhgV = _mH(V) @ gV
            inner = 0.5 * (VhgV - _mH(VhgV)) / E  # PyTorch's projection onto skew-Hermitian matrices
            inner[..., idx, idx] = 0
        if gw is not None:
            inner = inner + xp.eye(w.shape[-1], dtype=V.dtype) * gw[..., None, :]
        return V @ inner @ _mH(V), None


def eigh(A, UPLO="L"):
    _check_square("eigh", A)
    w, V = Eigh.apply(_float("eigh", A, complex_ok=True), UPLO)
    return EighResult(w, V)


def eigvalsh(A, UPLO="L"):
    return eigh(A, UPLO).eigenvalues


class SVD(Function):
    @staticmethod
    def forward(ctx, A, full_matrices):
        xp = xp_of(A)
        U, S, Vh = xp.linalg.svd(A, full_matrices=full_matrices)
        ctx.save_for_backward(U, S, Vh)
        ctx.full = full_matrices
        return (U.astype(A.dtype, copy=False), S.astype(A.real.dtype, copy=False),  # real singular values
                Vh.astype(A.dtype, copy=False))

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        xp = xp_of(S)
        k = S.shape[-1]
        m, n = U.shape[-2], Vh.shape[-1]
        U, Vh = U[..., :k], Vh[..., :k, :]
        gU = None if gU is None else gU[..., :k]
        gVh = None if gVh is None else gVh[..., :k, :]
        V = _mH(Vh)
        eye = xp.eye(k, dtype=S.dtype)
        gA = 0
        if gS is not None:
            gA = (U * gS[..., None, :]) @ Vh
        if gU is None and gVh is None:
            return gA, None
        # F_ij = 1 / (s_j^2 - s_i^2) off the diagonal
        s2 = S * S
        denom = s2[..., None, :] - s2[..., :, None]
        F = xp.where(eye.astype(bool), 0, 1 / xp.where(eye.astype(bool), 1, denom))
        Sd = S[..., None, :] * eye  # diag(S)
        J = 0
        phase = 0  # complex: the phase of each singular pair (fixed only up to e^{i phi}) takes Im diag(U^H gU)
        if gU is not None:
            UtgU = _mH(U) @ gU
            J = F * (UtgU - _mH(UtgU))
            if UtgU.dtype.kind == "c":
                phase = phase + UtgU.diagonal(0, -2, -1).imag
        K = 0
        if gVh is not None:
            gV = _mH(gVh)
            VtgV = _mH(V) @ gV
            K = F * (VtgV - _mH(VtgV))
            if VtgV.dtype.kind == "c":
                phase = phase - VtgV.diagonal(0, -2, -1).imag
        inner = (J @ Sd if gU is not None else 0) + (Sd @ K if gVh is not None else 0)
        if not np.isscalar(phase):
            inner = inner + 1j * eye * (phase / (2 * S))[..., None, :]
        gA = gA + U @ inner @ Vh
        S_inv = 1 / S
        if gU is not None and m > k:
            gA = gA + ((gU - U @ (_mH(U) @ gU)) * S_inv[..., None, :]) @ Vh
        if gVh is not None and n > k:
            gV = _mH(gVh)
            gA = gA + U @ _mH((gV - V @ (_mH(V) @ gV)) * S_inv[..., None, :])
        return gA, None


def svd(A, full_matrices=True, *, driver=None):
    U, S, Vh = SVD.apply(_float("svd", A, complex_ok=True), full_matrices)
    return SVDResult(U, S, Vh)


class SVDVals(Function):
    @staticmethod
    def forward(ctx, A):
        xp = xp_of(A)
        U, S, Vh = xp.linalg.svd(A, full_matrices=False)
        ctx.save_for_backward(U, Vh)
        return S.astype(A.real.dtype, copy=False)  # real singular values

    @staticmethod
    def backward(ctx, grad):
        U, Vh = ctx.saved_tensors
        return (U * grad[..., None, :]) @ Vh


def svdvals(A, *, driver=None):
    return SVDVals.apply(_float("svdvals", A, complex_ok=True))


class PInv(Function):
    @staticmethod
    def forward(ctx, A, rtol, hermitian):
        xp = xp_of(A)
        X = xp.linalg.pinv(A, rcond=rtol, hermitian=hermitian) if xp is np else xp.linalg.pinv(A, rcond=rtol)
        ctx.save_for_backward(A, X)
        return X.astype(A.dtype, copy=False)

    @staticmethod
    def backward(ctx, G):
        A, X = ctx.saved_tensors
        xp = xp_of(A)
        m, n = A.shape[-2], A.shape[-1]
        Im, In = xp.eye(m, dtype=A.dtype), xp.eye(n, dtype=A.dtype)
        Xt, Gt = _mT(X), _mT(G)
        # d pinv = -X dA X + X X^T dA^T (I - A X) + (I - X A) dA^T X^T X, transposed onto dA
        gA = -Xt @ G @ Xt + (Im - A @ X) @ Gt @ (X @ Xt) + (Xt @ X) @ Gt @ (In - X @ A)
        return gA, None, None


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    A = _float("pinv", A)
    if atol is not None or isinstance(rtol, Tensor):
        # explicit tolerances: cut singular values below max(atol, rtol * s_max)
        U, S, Vh = svd(A, full_matrices=False)
        tol = _tolerance(S, atol, rtol, A)
        m = _m()
        S_inv = m.where(S > tol, 1 / m.where(S > tol, S, m.ones_like(S)), m.zeros_like(S))
        return (Vh.mT * S_inv.unsqueeze(-2)) @ U.mT
    if rtol is None:
        rtol = float(np.finfo(A._data.dtype).eps) * max(A.shape[-2:]) if A.numel() else 0.0
    return PInv.apply(A, float(rtol), bool(hermitian))


def _tolerance(S, atol, rtol, A):
    m = _m()
    smax = S.amax(-1, keepdim=True) if S.shape[-1] else m.zeros(*S.shape[:-1], 1, dtype=S.dtype)
    if rtol is None:
        rtol = 0.0 if atol is not None and (not isinstance(atol, Tensor) and atol > 0) else float(
            np.finfo(A._data.dtype).eps) * max(A.shape[-2:])
    atol_t = atol.unsqueeze(-1) if isinstance(atol, Tensor) else (atol or 0.0)
    rtol_t = rtol.unsqueeze(-1) if isinstance(rtol, Tensor) else rtol
    return m.maximum(m.zeros_like(smax) + atol_t, rtol_t * smax)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None):
    A = _float("matrix_rank", A)
    if tol is not None:
        atol, rtol = tol, 0.0
    S = eigvalsh(A).abs() if hermitian else svdvals(A)
    return (S > _tolerance(S, atol, rtol, A)).sum(-1).detach()


def lstsq(A, B, rcond=None, *, driver=None):
    A = _float("lstsq", A)
    m = _m()
    vector = B.ndim == A.ndim - 1
    Bm = B.unsqueeze(-1) if vector else B
    X = pinv(A) @ Bm
    rows, cols = A.shape[-2], A.shape[-1]
    rank = matrix_rank(A)
    residuals = m.empty(0, dtype=A.dtype)
    if rows > cols and bool((rank == cols).all()) and driver not in (None, "gelsy"):
        residuals = ((A @ X - Bm) ** 2).sum(-2)
    # PyTorch's singular values here carry no gradient (lstsq's derivative is only through the solution)
    sv = svdvals(A).detach() if driver in ("gelsd", "gelss") else m.empty(0, dtype=A.dtype)
    if driver not in ("gelsd", "gelss", "gelsy", None):
        rank = m.empty(0, dtype=_dtype.int64)
    return LstsqResult(X.squeeze(-1) if vector else X, residuals, rank, sv)


# ---------------------------------------------------------------------------------------------
# norms and products
# ---------------------------------------------------------------------------------------------
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.is_complex:  # the norm of the magnitudes; abs carries the complex gradient sgn(z)
        x = x.abs()
    x = _float("vector_norm", x) if not x.dtype.is_floating_point else x
    m = _m()
    if dim is None:
        dims = list(range(x.ndim))
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
    if x.ndim == 0:
        return x.abs() if ord != 0 else (x != 0).to(x.dtype)
    ord = float(ord)
    if ord == -math.inf:
        return x.abs().amin(dims, keepdim=keepdim)
    if ord < 0:  # any zero makes the norm 0, with a zero gradient
        a = x.abs()
        zero = a == 0
        s = (m.where(zero, m.ones_like(a), a) ** ord).sum(dims, keepdim=keepdim)
        has_zero = zero.any(dims[0] if len(dims) == 1 else None) if len(dims) == 1 else zero
        if len(dims) != 1:
            has_zero = zero.to(x.dtype).sum(dims, keepdim=keepdim) > 0
        elif keepdim:
            has_zero = has_zero.unsqueeze(dims[0])
        return m.where(has_zero, m.zeros_like(s), s ** (1.0 / ord))
    out = _misc._vector_norm(x, ord, dims, keepdim=keepdim)
    return out


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    if dtype is not None:
        A = A.to(dtype)
    if A.dtype.is_complex and ord not in ("nuc", 2, -2):  # these norms see only the magnitudes
        A = A.abs()
    A = _float("matrix_norm", A, complex_ok=True)
    d0, d1 = (wrap_dim(d, A.ndim) for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    x = A.movedim((d0, d1), (-2, -1))
    if ord == "nuc" or ord in (2, -2):
        S = svdvals(x)
        out = S.sum(-1) if ord == "nuc" else S.amax(-1) if ord == 2 else S.amin(-1)
    elif ord in (1, -1):
        col = x.abs().sum(-2)
        out = col.amax(-1) if ord == 1 else col.amin(-1)
    elif ord in (math.inf, -math.inf):
        row = x.abs().sum(-1)
        out = row.amax(-1) if ord == math.inf else row.amin(-1)
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if keepdim:
        for d in sorted((d0, d1)):
            out = out.unsqueeze(d)
    return out


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2 or (dim is None and ord is not None and A.ndim == 2):
        return matrix_norm(A, "fro" if ord is None else ord, dim or (-2, -1), keepdim, dtype=dtype)
    if ord is not None and dim is None and A.ndim != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                           f"{A.ndim}D.")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def cond(A, p=None):
    A = _float("cond", A)
    if p is None or p in (2, -2):
        S = svdvals(A)
        return S.amax(-1) / S.amin(-1) if p in (None, 2) else S.amin(-1) / S.amax(-1)
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def matrix_power(A, n):
    _check_square("matrix_power", A)
    m = _m()
    if n == 0:
        # the identity, still attached to A with a zero gradient (as in PyTorch)
        return A.mul(0).nan_to_num(0.0, 0.0, 0.0) + m.eye(A.shape[-1], dtype=A.dtype)
    base = inv(A) if n < 0 else A
    result = None
    for _ in range(abs(n)):
        result = base if result is None else result @ base
    return result


def multi_dot(tensors):
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    first_vec, last_vec = ts[0].ndim == 1, ts[-1].ndim == 1
    if first_vec:
        ts[0] = ts[0].unsqueeze(0)
    if last_vec:
        ts[-1] = ts[-1].unsqueeze(-1)
    out = ts[0]
    for t in ts[1:]:
        out = out @ t
    if first_vec:
        out = out.squeeze(0)
    if last_vec:
        out = out.squeeze(-1)
    return out


def vecdot(x, y, *, dim=-1):
    return (x * y).sum(dim)


def cross(input, other, *, dim=-1):
    return _misc.cross(input, other, dim=dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return A.diagonal(offset, dim1, dim2)


def vander(x, *, N=None):
    m = _m()
    x = x.reshape(1) if x.ndim == 0 else x
    n = x.shape[-1] if N is None else N
    if n == 0:
        return x.new_zeros(*x.shape, 0) if hasattr(x, "new_zeros") else m.zeros(*x.shape, 0, dtype=x.dtype)
    cols = [m.ones_like(x)]
    for _ in range(1, n):
        cols.append(cols[-1] * x)
    return m.stack(cols, dim=-1)


def tensorinv(A, ind=2):
    lead, rest = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    n = math.prod(lead)
    if n != math.prod(rest):
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           "prod(self.shape[:ind])")
    return inv(A.reshape(n, n)).reshape(*rest, *lead)


def tensorsolve(A, B, dims=None):
    if dims is not None:
        dims = [wrap_dim(d, A.ndim) for d in dims]
        keep = [i for i in range(A.ndim) if i not in dims]
        A = A.permute(*keep, *dims)
    rest = tuple(A.shape[B.ndim:])
    return solve(A.reshape(B.numel(), math.prod(rest)), B.reshape(-1)).reshape(rest)


# ---------------------------------------------------------------------------------------------
# matrix exponential
# ---------------------------------------------------------------------------------------------
def _expm(xp, A):
    """exp(A) by scaling and squaring with a Taylor series (in float64)."""
    a = A.astype(np.float64)
    norm = float(xp.abs(a).sum(-2).max()) if a.size else 0.0
    s = max(0, int(math.ceil(math.log2(norm))) + 1) if norm > 0.5 else 0
    a = a / (2.0 ** s)
    eye = xp.broadcast_to(xp.eye(a.shape[-1]), a.shape)
    term, out = eye.copy(), eye.copy()
    for k in range(1, 20):
        term = term @ a / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


class MatrixExp(Function):
    @staticmethod
    def forward(ctx, A):
        ctx.save_for_backward(A)
        return _expm(xp_of(A), A).astype(A.dtype)

    @staticmethod
    def backward(ctx, grad):
        (A,) = ctx.saved_tensors
        xp = xp_of(A)
        n = A.shape[-1]
        # the gradient is the upper-right block of exp([[A^T, G], [0, A^T]])
        block = xp.zeros(A.shape[:-2] + (2 * n, 2 * n), np.float64)
        block[..., :n, :n] = _mT(A)
        block[..., n:, n:] = _mT(A)
        block[..., :n, n:] = grad
        return _expm(xp, block)[..., :n, n:].astype(grad.dtype)


def matrix_exp(A):
    _check_square("matrix_exp", A)
    return MatrixExp.apply(_float("matrix_exp", A))


# ---------------------------------------------------------------------------------------------
# LU with partial pivoting (LAPACK getrf's choice of pivot: the first largest |value| in the column)
# ---------------------------------------------------------------------------------------------
LUFactorResult = _return_type("lu_factor", ["LU", "pivots"])
LUFactorExResult = _return_type("lu_factor_ex", ["LU", "pivots", "info"])
LUResult = _return_type("lu", ["P", "L", "U"])


def _getrf(xp, A):
    """Packed LU and 1-based pivots of a batch of m x n matrices."""
    lu = A.astype(np.float64, copy=True)
    m, n = lu.shape[-2:]
    k = min(m, n)
    piv = xp.zeros(lu.shape[:-2] + (k,), np.int64)
    rows = xp.arange(m)
    for j in range(k):
        p = j + xp.argmax(xp.abs(lu[..., j:, j]), axis=-1)
        piv[..., j] = p
        # swap rows j and p
        row_j = lu[..., j:j + 1, :].copy()
        row_p = xp.take_along_axis(lu, p[..., None, None] + xp.zeros((1, n), np.int64), -2)
        sel_j = rows == j
        sel_p = rows[None, :] == p[..., None] if p.ndim else rows == p
        lu = xp.where(sel_p[..., None], row_j, xp.where(sel_j[:, None], row_p, lu))
        pivot = lu[..., j, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            lu[..., j + 1:, j] = lu[..., j + 1:, j] / pivot[..., None]
        lu[..., j + 1:, j + 1:] -= lu[..., j + 1:, j, None] * lu[..., j, None, j + 1:]
    return lu.astype(A.dtype), (piv + 1).astype(np.int32)


def _perm_from_pivots(xp, piv, m):
    """perm with A[perm] == L U, from LAPACK's sequence of row swaps."""
    perm = xp.broadcast_to(xp.arange(m), piv.shape[:-1] + (m,)).copy()
    flat_perm, flat_piv = perm.reshape(-1, m), piv.reshape(-1, piv.shape[-1]) - 1
    for b in range(flat_perm.shape[0]):
        for i, p in enumerate(flat_piv[b].tolist()):
            flat_perm[b, i], flat_perm[b, p] = flat_perm[b, p], flat_perm[b, i]
    return flat_perm.reshape(perm.shape)


def _perm_matrix(xp, perm, dtype):
    m = perm.shape[-1]
    # P[perm[i], i] = 1, so that A = P L U
    return (perm[..., None, :] == xp.arange(m)[:, None]).astype(dtype)


class LUFactor(Function):
    @staticmethod
    def forward(ctx, A):
        xp = xp_of(A)
        lu, piv = _getrf(xp, A)
        ctx.save_for_backward(lu, piv)
        return lu, piv

    @staticmethod
    def backward(ctx, gLU, gpiv=None):
        lu, piv = ctx.saved_tensors
        xp = xp_of(lu)
        m, n = lu.shape[-2:]
        k = min(m, n)
        L = xp.tril(lu[..., :, :k], -1) + xp.eye(m, k, dtype=lu.dtype)
        U = xp.triu(lu[..., :k, :])
        gL, gU = xp.tril(gLU[..., :, :k], -1), xp.triu(gLU[..., :k, :])
        P = _perm_matrix(xp, _perm_from_pivots(xp, piv, m), lu.dtype)
        L1, U1 = L[..., :k, :], U[..., :, :k]
        gL1, gU1 = gL[..., :k, :], gU[..., :, :k]
        # the rows of L below k (tall A) and the columns of U right of k (wide A) feed back into the
        # square k x k problem: with them eliminated, gA1 = L1^{-T} (tril(L1^T gL1, -1) + triu(gU1 U1^T)) U1^{-T}
        if m > k:
            L2, gL2 = L[..., k:, :], gL[..., k:, :]
            gL2_Uinv = _mT(xp.linalg.solve(U1, _mT(gL2)))  # gL2 U1^{-T}
            gU1 = gU1 - xp.triu(_mT(L2) @ gL2_Uinv)
        if n > k:
            U2, gU2 = U[..., :, k:], gU[..., :, k:]
            Linv_gU2 = xp.linalg.solve(_mT(L1), gU2)  # L1^{-T} gU2
            gL1 = gL1 - xp.tril(Linv_gU2 @ _mT(U2), -1)
        inner = xp.tril(_mT(L1) @ gL1, -1) + xp.triu(gU1 @ _mT(U1))
        gA1 = _mT(xp.linalg.solve(U1, _mT(xp.linalg.solve(_mT(L1), inner))))
        if m > k:
            gA = xp.concatenate([gA1, gL2_Uinv], axis=-2)
        elif n > k:
            gA = xp.concatenate([gA1, Linv_gU2], axis=-1)
        else:
            gA = gA1
        return P @ gA


def lu_factor(A, *, pivot=True):
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    LU, piv = LUFactor.apply(_float("lu_factor", A))
    return LUFactorResult(LU, piv.detach())


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    LU, piv = lu_factor(A, pivot=pivot)
    return LUFactorExResult(LU, piv, _m().zeros(A.shape[:-2], dtype=_dtype.int32))


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    m = _m()
    rows, cols = LU_data.shape[-2:]
    k = min(rows, cols)
    xp = xp_of(LU_data._data)
    P = L = U = None
    if unpack_pivots:
        perm = _perm_from_pivots(xp, LU_pivots._data.astype(np.int64), rows)
        P = Tensor._make(_perm_matrix(xp, perm, LU_data._data.dtype))
    if unpack_data:
        eye = m.eye(rows, k, dtype=LU_data.dtype)
        L = LU_data[..., :, :k].tril(-1) + eye
        U = LU_data[..., :k, :].triu()
    empty = m.empty(0, dtype=LU_data.dtype)
    return LUResult(P if P is not None else empty, L if L is not None else empty, U if U is not None else empty)


def lu(A, *, pivot=True):
    LU, piv = lu_factor(A, pivot=pivot)
    return lu_unpack(LU, piv)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    P, L, U = lu_unpack(LU, pivots)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return lu_solve(LU, pivots, B.mT, left=True, adjoint=not adjoint).mT
    if adjoint:  # A^T X = B with A = P L U:  X = P L^{-T} U^{-T} B
        y = solve_triangular(U.mT, B, upper=False)
        z = solve_triangular(L.mT, y, upper=True, unitriangular=True)
        return P @ z
    y = solve_triangular(L, P.mT @ B, upper=False, unitriangular=True)
    return solve_triangular(U, y, upper=True)


from .ops.linalg import matmul  # noqa: E402,F401  (torch.linalg.matmul is torch.matmul)
from .ops.linalg_factor import householder_product, ldl_factor, ldl_factor_ex, ldl_solve  # noqa: E402,F401
from .linalg_eig import eig, eigvals  # noqa: E402,F401  (general eigendecomposition, complex results)
