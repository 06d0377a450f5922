"""linalg.eig / linalg.eigvals: the general (non-Hermitian) eigendecomposition, complex results, on
numpy.linalg.eig (LAPACK geev: unit-norm eigenvectors), with PyTorch's backward.

Backward (A = V diag(L) V^{-1}, eigenvectors of norm 1, so each is fixed only up to a phase):
    gA = V^{-H} (diag(gL) + (V^H gV - V^H V diag(Re(V^H gV))) / conj(E)) V^H,   E_ij = L_j - L_i (i != j)
with the diagonal of the bracket set to gL. A real A takes the real part (the engine does that).
"""
import numpy as np

from . import _dtype
from ._array import xp_of
from .autograd.function import Function
from .ops.elementwise import _out
from .ops.reduce import _return_type
from .tensor import Tensor

EigResult = _return_type("eig", ["eigenvalues", "eigenvectors"])


class Eig(Function):
    @staticmethod
    def forward(ctx, A):
        xp = xp_of(A)
        complex_np = _dtype.from_numpy_dtype(A.dtype).to_complex().np
        if xp is not np:  # cupy has no general eig: LAPACK on the host, results back on the GPU
            L, V = np.linalg.eig(A.get())
            L, V = xp.asarray(L), xp.asarray(V)
        else:
            L, V = np.linalg.eig(A)
        L, V = L.astype(complex_np, copy=False), V.astype(complex_np, copy=False)  # real spectra come back real
        ctx.save_for_backward(L, V)
        return L, V

    @staticmethod
    def backward(ctx, gL, gV):
        L, V = ctx.saved_tensors
        xp = xp_of(V)
        Vh = V.conj().swapaxes(-1, -2)
        VhgV = Vh @ gV
        # remove the phase gauge: each eigenvector may rotate by e^{i phi} without changing A
        VhgV = VhgV - Vh @ (V * VhgV.diagonal(0, -2, -1).real[..., None, :])
        E = L.conj()[..., None, :] - L.conj()[..., :, None]
        n = L.shape[-1]
        eye = xp.eye(n, dtype=bool)
        inner = xp.where(eye, 0, VhgV / xp.where(eye, 1, E))
        inner = inner + xp.eye(n, dtype=inner.dtype) * gL[..., None, :]
        return xp.linalg.solve(Vh, inner @ Vh)


def _check(name, A):
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.{name}(): argument 'input' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"linalg.{name}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")
    if A._data.dtype not in (np.float32, np.float64, np.complex64, np.complex128):
        raise RuntimeError(f"linalg.{name}: Expected a floating point or complex tensor as input. Got "
                           f"{A.type().rsplit('.', 1)[-1][:-len('Tensor')]}")
    if A._data.size and not bool(xp_of(A._data).isfinite(A._data).all()):
        raise RuntimeError(f"torch.linalg.{name}: input tensor should not contain infs or NaNs.")


def eig(A, *, out=None):
    _check("eig", A)
    L, V = Eig.apply(A)
    if out is not None:  # (eigenvalues, eigenvectors) tensors to fill
        L, V = _out(L, out[0]), _out(V, out[1])
    return EigResult(L, V)


def eigvals(A, *, out=None):
    _check("eigvals", A)
    return _out(Eig.apply(A)[0], out)
