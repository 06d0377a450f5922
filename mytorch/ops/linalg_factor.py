"""Householder QR in LAPACK's compact form (geqrf, householder_product = orgqr, ormqr) and the symmetric
indefinite LDL^T factorization (Bunch-Kaufman pivoting, LAPACK sytrf/sytrs layout).

geqrf stores R on and above the diagonal and the Householder vectors v_i below it (v_i[i] = 1 implied);
Q = H_1 H_2 ... H_k with H_i = I - tau_i v_i v_i^T. householder_product and ormqr are composites of
tensor ops (one rank-1 update per reflector), so their gradients come from autograd. geqrf and the LDL
routines have no derivative in PyTorch either.
"""
import math

import numpy as np

from .. import _dtype
from .._array import CPU, device_of_array, move_array, xp_of
from ..tensor import Tensor
from ._registry import public, tensor_methods
from .reduce import _return_type

GeqrfResult = _return_type("geqrf", ["a", "tau"])
LDLFactorResult = _return_type("linalg_ldl_factor", ["LD", "pivots"])
LDLFactorExResult = _return_type("linalg_ldl_factor_ex", ["LD", "pivots", "info"])
_ALPHA = (1 + math.sqrt(17)) / 8  # Bunch-Kaufman's growth bound


def _m():
    import mytorch

    return mytorch


def _check_matrix(op, A):
    if A.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions.")
    if A.dtype not in (_dtype.float32, _dtype.float64):
        raise RuntimeError(f"{op}: Expected a floating point tensor as input. Got {A.dtype.name.capitalize()}")


# ---------------------------------------------------------------------------------------------
# Householder QR
# ---------------------------------------------------------------------------------------------
def geqrf(input):
    _check_matrix("torch.geqrf", input)
    x = input._data
    xp = xp_of(x)
    m, n = x.shape[-2:]
    if x.size == 0:
        return GeqrfResult(Tensor._make(x.copy()), Tensor._make(xp.zeros(x.shape[:-2] + (min(m, n),), x.dtype)))
    if xp is np:
        h, tau = np.linalg.qr(x, mode="raw")  # LAPACK geqrf; h is the factor transposed (Fortran order)
    else:  # cupy's raw mode takes one matrix at a time
        flat = x.reshape((-1, m, n))
        parts = [xp.linalg.qr(a, mode="raw") for a in flat]
        h = xp.stack([p[0] for p in parts]).reshape(x.shape[:-2] + (n, m))
        tau = xp.stack([p[1] for p in parts]).reshape(x.shape[:-2] + (min(m, n),))
    a = xp.ascontiguousarray(xp.swapaxes(h, -1, -2)).astype(x.dtype, copy=False)
    return GeqrfResult(Tensor._make(a), Tensor._make(tau.astype(x.dtype, copy=False)))


def _reflectors(input, k):
    """The first k Householder vectors of a geqrf result as columns (..., m, k): unit diagonal, zeros above."""
    m = _m()
    rows = input.shape[-2]
    V = input[..., :k].tril(-1)
    return V + m.eye(rows, k, dtype=input.dtype, device=input.device)


def householder_product(input, tau):
    op = "torch.linalg.householder_product"
    _check_matrix(op, input)
    rows, cols = input.shape[-2:]
    if rows < cols:
        raise RuntimeError(f"{op}: input.shape[-2] must be greater than or equal to input.shape[-1]")
    if cols < tau.shape[-1]:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    if tuple(tau.shape[:-1]) != tuple(input.shape[:-2]):
        raise RuntimeError(f"{op}: Expected batch dimensions of tau to be equal to input.shape[:-2], but got "
                           f"{list(tau.shape[:-1])}")
    if tau.dtype != input.dtype:
        raise RuntimeError(f"{op}: tau dtype {_dtype_name(tau)} does not match input dtype {_dtype_name(input)}")
    k = tau.shape[-1]
    m = _m()
    Q = m.eye(rows, cols, dtype=input.dtype, device=input.device).expand(*input.shape).clone()
    if k == 0:  # no reflectors: the identity, still attached to input with a zero gradient (as in PyTorch)
        return Q + input.mul(0).nan_to_num(0.0, 0.0, 0.0)
    V = _reflectors(input, k)
    for i in reversed(range(k)):  # Q = H_1 (H_2 (... (H_k I)))
        Q = _apply_reflector(Q, V[..., :, i:i + 1], tau[..., i], left=True)
    return Q


def _dtype_name(t):
    return {"float32": "Float", "float64": "Double"}.get(t.dtype.name, t.dtype.name.capitalize())


def _apply_reflector(C, v, tau_i, left):
    """H C (left) or C H, H = I - tau v v^T, v a column (..., m, 1), tau_i of shape (...)."""
    t = tau_i[..., None, None]
    if left:
        return C - (t * v) @ (v.mT @ C)
    return C - ((C @ v) * t) @ v.mT


def ormqr(input, tau, other, left=True, transpose=False):
    """other multiplied by the Q of a geqrf result: Q C, Q^T C (left) or C Q, C Q^T."""
    op = "torch.ormqr"
    _check_matrix(op, input)
    if other.ndim < 2:
        raise RuntimeError(f"{op}: other must have at least 2 dimensions.")
    side = -2 if left else -1
    if other.shape[side] != input.shape[-2]:
        raise RuntimeError(f"{op}: other.shape[{side}] must be equal to input.shape[-2]")
    k = tau.shape[-1]
    if k > min(other.shape[side], input.shape[-1]):
        raise RuntimeError(f"{op}: tau.shape[-1] must be equal to min(other.shape[{side}], input.shape[-1])")
    if tau.dtype != input.dtype or other.dtype != input.dtype:
        bad = tau if tau.dtype != input.dtype else other
        raise RuntimeError(f"{op}: Expected input and {'tau' if bad is tau else 'other'} to have the same dtype, "
                           f"but input has dtype {_dtype_name(input)} and the other has {_dtype_name(bad)}")
    V = _reflectors(input, k)
    # Q = H_1 ... H_k: Q C applies H_k first, Q^T C applies H_1 first; on the right the order flips
    order = range(k) if left == transpose else reversed(range(k))
    out = other
    for i in order:
        out = _apply_reflector(out, V[..., :, i:i + 1], tau[..., i], left)
    return out


# ---------------------------------------------------------------------------------------------
# LDL^T with Bunch-Kaufman pivoting (the lower-triangle algorithm of LAPACK's sytf2)
# ---------------------------------------------------------------------------------------------
def _first_argmax(v):
    return int(np.argmax(np.abs(v)))


def _sytf2_lower(a):
    """Factor one symmetric matrix in place (its lower triangle); returns (pivots 1-based, info)."""
    n = a.shape[0]
    piv = np.zeros(n, dtype=np.int32)
    info = 0
    k = 0
    while k < n:
        kstep = 1
        absakk = abs(a[k, k])
        if k < n - 1:
            imax = k + 1 + _first_argmax(a[k + 1:, k])
            colmax = abs(a[imax, k])
        else:
            imax, colmax = k, 0.0
        if max(absakk, colmax) == 0 or np.isnan(absakk):
            info = info or k + 1  # a zero pivot: D is singular; the column is left as it is
            kp = k
        else:
            if absakk >= _ALPHA * colmax:
                kp = k
            else:
                # the largest off-diagonal entry in row/column imax
                row = a[imax, k:imax]
                rowmax = abs(row[_first_argmax(row)])
                if imax < n - 1:
                    rowmax = max(rowmax, abs(a[imax + 1 + _first_argmax(a[imax + 1:, imax]), imax]))
                if absakk >= _ALPHA * colmax * (colmax / rowmax):
                    kp = k
                elif abs(a[imax, imax]) >= _ALPHA * rowmax:
                    kp = imax
                else:
                    kp, kstep = imax, 2
            kk = k + kstep - 1
            if kp != kk:  # symmetric interchange of rows/columns kk and kp inside a[k:, k:]
                a[kp + 1:, kk], a[kp + 1:, kp] = a[kp + 1:, kp].copy(), a[kp + 1:, kk].copy()
                seg = slice(kk + 1, kp)
                a[seg, kk], a[kp, seg] = a[kp, seg].copy(), a[seg, kk].copy()
                a[kk, kk], a[kp, kp] = a[kp, kp], a[kk, kk]
                if kstep == 2:
                    a[k + 1, k], a[kp, k] = a[kp, k], a[k + 1, k]
            if kstep == 1:
                if k < n - 1:  # rank-1 update of the trailing matrix, then L's column
                    d11 = 1.0 / a[k, k]
                    x = a[k + 1:, k].copy()
                    a[k + 1:, k + 1:] -= np.outer(x, d11 * x)
                    a[k + 1:, k] *= d11
            elif k < n - 2:  # rank-2 update with the inverse of the 2x2 pivot block
                d21 = a[k + 1, k]
                d11 = a[k + 1, k + 1] / d21
                d22 = a[k, k] / d21
                t = 1.0 / (d11 * d22 - 1.0)
                d21 = t / d21
                col_k, col_k1 = a[k + 2:, k].copy(), a[k + 2:, k + 1].copy()
                wk = d21 * (d11 * col_k - col_k1)
                wkp1 = d21 * (d22 * col_k1 - col_k)
                trail = a[k + 2:, k + 2:]
                trail -= np.outer(col_k, wk)
                trail -= np.outer(col_k1, wkp1)
                a[k + 2:, k], a[k + 2:, k + 1] = wk, wkp1
        if kstep == 1:
            piv[k] = kp + 1
        else:
            piv[k] = piv[k + 1] = -(kp + 1)
        k += kstep
    return piv, info


def _check_square(op, A):
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")
    if A.dtype not in (_dtype.float32, _dtype.float64):
        raise RuntimeError(f"{op}: Expected a floating point tensor as input. Got {A.dtype.name.capitalize()}")


def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """A = P L D L^T P^T for symmetric A (read from its lower triangle). For real A hermitian changes nothing."""
    _check_square("torch.linalg.ldl_factor_ex", A)
    dev = device_of_array(A._data)
    x = move_array(A._data, CPU)
    n = x.shape[-1]
    flat = np.tril(x.reshape((math.prod(x.shape[:-2]), n, n))).astype(x.dtype, copy=True)
    pivots = np.zeros(flat.shape[:2], dtype=np.int32)
    infos = np.zeros(flat.shape[0], dtype=np.int32)
    for b in range(flat.shape[0]):
        pivots[b], infos[b] = _sytf2_lower(flat[b])
    LD = np.tril(flat).reshape(x.shape)
    info = infos.reshape(x.shape[:-2])
    if check_errors and info.any():
        _raise_singular("torch.linalg.ldl_factor_ex", info)
    out = (move_array(LD, dev), move_array(pivots.reshape(x.shape[:-1]), dev), move_array(info, dev))
    return LDLFactorExResult(*(Tensor._make(o) for o in out))


def _raise_singular(op, info):
    from ..linalg import LinAlgError

    first = int(info.reshape(-1)[np.flatnonzero(info.reshape(-1))[0]])
    where = "" if info.ndim == 0 else f" (batch element {int(np.flatnonzero(info.reshape(-1))[0])})"
    raise LinAlgError(f"{op}{where}: The factorization could not be completed because the input is singular: "
                       f"D[{first - 1}, {first - 1}] is exactly zero.")


def ldl_factor(A, *, hermitian=False):
    LD, pivots, info = ldl_factor_ex(A, hermitian=hermitian)
    if info._data.any():
        _raise_singular("torch.linalg.ldl_factor", move_array(info._data, CPU))
    return LDLFactorResult(LD, pivots)


def _sytrs_lower(a, piv, b):
    """Solve A X = B in place on b (n, nrhs) given one sytf2 factorization (a, piv 1-based)."""
    n = a.shape[0]
    k = 0
    while k < n:  # L D Y = P^T B, forwards
        if piv[k] > 0:
            kp = piv[k] - 1
            b[[k, kp]] = b[[kp, k]]
            b[k + 1:] -= np.outer(a[k + 1:, k], b[k])
            b[k] /= a[k, k]
            k += 1
        else:
            kp = -piv[k] - 1
            b[[k + 1, kp]] = b[[kp, k + 1]]
            b[k + 2:] -= np.outer(a[k + 2:, k], b[k])
            b[k + 2:] -= np.outer(a[k + 2:, k + 1], b[k + 1])
            akm1k = a[k + 1, k]
            akm1, ak = a[k, k] / akm1k, a[k + 1, k + 1] / akm1k
            denom = akm1 * ak - 1.0
            bkm1, bk = b[k] / akm1k, b[k + 1] / akm1k
            b[k], b[k + 1] = (ak * bkm1 - bk) / denom, (akm1 * bk - bkm1) / denom
            k += 2
    k = n - 1
    while k >= 0:  # L^T X = Y, backwards, undoing the interchanges
        if piv[k] > 0:
            b[k] -= a[k + 1:, k] @ b[k + 1:]
            kp = piv[k] - 1
            b[[k, kp]] = b[[kp, k]]
            k -= 1
        else:
            b[k] -= a[k + 1:, k] @ b[k + 1:]
            b[k - 1] -= a[k + 1:, k - 1] @ b[k + 1:]
            kp = -piv[k] - 1
            b[[k, kp]] = b[[kp, k]]
            k -= 2
    return b


def ldl_solve(LD, pivots, B, *, hermitian=False):
    op = "torch.linalg.ldl_solve"
    _check_square(op, LD)
    if B.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    n = LD.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for {op}: each A matrix is {n} by {n} but each b matrix is "
                           f"{B.shape[-2]} by {B.shape[-1]}")
    if pivots.dtype not in (_dtype.int32, _dtype.int64) or tuple(pivots.shape) != tuple(LD.shape[:-1]):
        raise RuntimeError(f"{op}: Expected LD.shape[:-1] and pivots.shape to be the same and pivots to be an "
                           f"integer tensor, but got pivots of shape {list(pivots.shape)} and dtype {pivots.dtype}")
    if B.dtype != LD.dtype:
        raise RuntimeError(f"{op}: Expected LD and B to have the same dtype, but got LD with dtype "
                           f"{_dtype_name(LD)} and B with dtype {_dtype_name(B)}")
    dev = device_of_array(B._data)
    batch = tuple(np.broadcast_shapes(tuple(LD.shape[:-2]), tuple(B.shape[:-2])))
    count = math.prod(batch)
    a = np.broadcast_to(move_array(LD._data, CPU), batch + (n, n)).reshape((count, n, n))
    piv = np.broadcast_to(move_array(pivots._data, CPU), batch + (n,)).reshape((count, n))
    b = np.broadcast_to(move_array(B._data, CPU), batch + B.shape[-2:]).reshape((count,) + tuple(B.shape[-2:])).copy()
    if n and piv.size and (np.abs(piv).max() > n or (piv == 0).any()):
        raise RuntimeError(f"{op}: pivots must hold 1-based row numbers in [-{n}, {n}] without 0 (as ldl_factor "
                           f"returns them)")
    for i in range(b.shape[0]):
        _sytrs_lower(a[i], piv[i], b[i])
    return Tensor._make(move_array(b.reshape(batch + tuple(B.shape[-2:])), dev))


tensor_methods(geqrf=geqrf, ormqr=ormqr, orgqr=householder_product)
public(geqrf, ormqr, orgqr=householder_product)
