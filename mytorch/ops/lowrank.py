"""Randomized low-rank SVD and PCA (torch.svd_lowrank, torch.pca_lowrank).

Halko, Martinsson & Tropp 2009 (arXiv:0909.4061): a random projection finds an orthonormal basis Q of A's
range (Algorithm 4.4, `niter` power iterations with re-orthogonalization), then the small matrix Q^T A gets
an exact SVD (Algorithm 5.1). Everything is tensor ops (matmul, qr, svd), so gradients come from autograd.
"""
from ._registry import public


def _m():
    import mytorch

    return mytorch


def _floating(A):
    return A if A.dtype.is_floating_point else A.to(_m().get_default_dtype())


def get_approximate_basis(A, q, niter=2, M=None):
    """An (..., m, q) orthonormal basis approximating the range of A - M."""
    m = _m()
    niter = 2 if niter is None else niter
    R = m.randn(A.shape[-1], q, dtype=A.dtype, device=A.device)

    def times(X):  # (A - M) @ X without forming A - M
        return A @ X if M is None else A @ X - M @ X

    def times_t(X):
        return A.mT @ X if M is None else A.mT @ X - M.mT @ X

    Q = m.linalg.qr(times(R)).Q
    for _ in range(niter):
        Q = m.linalg.qr(times_t(Q)).Q
        Q = m.linalg.qr(times(Q)).Q
    return Q


def _svd_lowrank(A, q, niter, M):
    rows, cols = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.shape)
    if rows < cols:  # work on the tall orientation
        A = A.mT
        M = None if M is None else M.mT
    Q = get_approximate_basis(A, q, niter=niter, M=M)
    B = Q.mT @ A if M is None else Q.mT @ A - Q.mT @ M
    U, S, Vh = _m().linalg.svd(B, full_matrices=False)
    U, V = Q @ U, Vh.mT
    return (V, S, U) if rows < cols else (U, S, V)


def svd_lowrank(A, q=6, niter=2, M=None):
    """(U, S, V) with A - M ~= U diag(S) V^T, rank q."""
    A = _floating(A)
    q = 6 if q is None else q
    return _svd_lowrank(A, q, niter, M)


def pca_lowrank(A, q=None, center=True, niter=2):
    """svd_lowrank of A with its column means removed (center=True): the principal directions are V."""
    A = _floating(A)
    rows, cols = A.shape[-2:]
    if q is None:
        q = min(6, rows, cols)
    elif not (0 <= q <= min(rows, cols)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(rows, cols)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if center:
        A = A - A.mean(dim=-2, keepdim=True)
    return _svd_lowrank(A, q, niter, None)


public(svd_lowrank, pca_lowrank)
