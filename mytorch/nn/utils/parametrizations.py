"""torch.nn.utils.parametrizations: ready-made parametrizations (orthogonal, weight_norm, spectral_norm).

`orthogonal` keeps a matrix (or a batch of matrices, shape (..., n, k)) with orthonormal columns, or rows when
it is wide, as PyTorch does: a wide matrix is handled as its transpose, and the tall (n >= k) case maps the
unconstrained `original` X to Q by one of
  matrix_exp / cayley: A = Y - Y^H with Y = tril(X) padded to (n, n); Q = exp(A) or (I - A/2)^{-1} (I + A/2),
                       then its first k columns;
  householder:         the product of the reflectors below X's diagonal (tau = 2 / (1 + |v|^2)), each column
                       multiplied by the sign held on X's diagonal.
With use_trivialization=True ("dynamic trivialization", Lezcano-Casado 2019) Q is multiplied on the left by an
orthogonal `base` buffer, and assigning module.weight = W stores an orthogonal completion of W in `base` and
sets the original to -I, which every map sends to the identity.
"""
from enum import Enum, auto

from ... import linalg
from ..._finfo import finfo
from ...autograd.grad_mode import no_grad
from ...ops.complex_ops import complex as make_complex
from ...ops.elementwise import allclose, where
from ...ops.factory import eye, randn, zeros_like
from ...ops.linalg_factor import geqrf
from ...ops.shape import cat
from ...tensor import Tensor
from ..modules.module import Module
from . import parametrize
from .spectral_norm import parametrized_spectral_norm as spectral_norm
from .weight_norm import parametrized_weight_norm as weight_norm

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _is_orthogonal(Q):
    n, k = Q.size(-2), Q.size(-1)
    eps = 10.0 * n * finfo(Q.dtype).eps
    return allclose(Q.mH @ Q, eye(k, dtype=Q.dtype, device=Q.device), atol=eps)


def _make_orthogonal(A):
    """The Q of A = QR (A tall, maybe complex) with diag(R) made real and non-negative."""
    Q, R = linalg.qr(A)
    return Q * R.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


def _matrix_exp(A):
    """exp(A); a complex A = B + iC goes through the real matrix [[B, -C], [C, B]], whose exp is
    [[Re e^A, -Im e^A], [Im e^A, Re e^A]] (mytorch's matrix_exp is real only)."""
    if not A.is_complex():
        return linalg.matrix_exp(A)
    n = A.size(-1)
    B, C = A.real, A.imag
    E = linalg.matrix_exp(cat([cat([B, -C], dim=-1), cat([C, B], dim=-1)], dim=-2))
    return make_complex(E[..., :n, :n], E[..., n:, :n])


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    """The orthogonal parametrization of a weight of `weight`'s shape (see the module docstring)."""

    def __init__(self, weight, orthogonal_map, *, use_trivialization=True):
        super().__init__()
        # complex (or rectangular) reflectors cannot carry the n^2 real parameters of a unitary matrix
        if weight.is_complex() and orthogonal_map == _OrthMaps.householder:
            raise ValueError("The householder parametrization does not support complex tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        n, k = X.size(-2), X.size(-1)
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            X = X.tril()  # n*k - k(k-1)/2 free parameters
            if n != k:
                X = cat([X, X.new_zeros(n, n - k).expand(*X.shape[:-2], -1, -1)], dim=-1)
            A = X - X.mH  # skew-symmetric (skew-Hermitian)
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = _matrix_exp(A)
            else:  # Cayley: (I - A/2)^{-1} (I + A/2)
                Id = eye(n, dtype=A.dtype, device=A.device)
                Q = linalg.solve(Id - 0.5 * A, Id + 0.5 * A)
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = linalg.householder_product(A, tau)
            # the diagonal of X holds the signs +-1; cast to int so it is neither differentiated nor updated
            Q = Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        if "base" in self._buffers:
            Q = self.base @ Q
        return Q.mT if transposed else Q

    def right_inverse(self, Q):
        with no_grad():
            return self._right_inverse(Q)

    def _right_inverse(self, Q):
        if Q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {Q.shape}.")
        Q_init = Q
        n, k = Q.size(-2), Q.size(-1)
        transpose = n < k
        if transpose:
            Q = Q.mT
            n, k = k, n
        if "base" not in self._buffers:
            if self.orthogonal_map != _OrthMaps.householder:
                raise NotImplementedError("It is not possible to assign to the matrix exponential "
                                          "or the Cayley parametrizations when use_trivialization=False.")
            # Householder: the reflectors of Q's QR, with diag(R) > 0 encoded as the signs on the diagonal
            A, tau = geqrf(Q)
            diag = A.diagonal(dim1=-2, dim2=-1)
            signs = diag.sign()
            # LAPACK returns tau exactly 0 where it skips a reflection; that column keeps the opposite sign
            diag.copy_(where(tau == 0.0, -signs, signs))
            return A.mT if transpose else A
        if n == k:
            Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
        else:  # complete Q to an n x n orthogonal matrix
            N = randn(*(Q.size()[:-2] + (n, n - k)), dtype=Q.dtype, device=Q.device)
            Q = _make_orthogonal(cat([Q, N], dim=-1))
        self.base = Q
        # -I (shaped like the weight): every map sends it to the identity, so the weight becomes base[..., :k]
        neg_id = zeros_like(Q_init)
        neg_id.diagonal(dim1=-2, dim2=-1).fill_(-1.0)
        return neg_id


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Make module.<name> orthogonal (unitary) through the map "matrix_exp", "cayley" or "householder"."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        square = weight.size(-2) == weight.size(-1)
        orthogonal_map = "matrix_exp" if square or weight.is_complex() else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None) if isinstance(orthogonal_map, str) else None
    if orth_enum is None:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
