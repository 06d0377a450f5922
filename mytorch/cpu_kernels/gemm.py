"""Matrix products on mytorch's thread pool: each thread calls a BLAS sgemm / dgemm (MKL's or numpy's own
OpenBLAS, see below), on one thread, for its share of the product (its matrices of a batch, or its rows or
columns of one).

numpy's matmul runs OpenBLAS on OpenBLAS's own threads, and a stack of small products (attention's
per-head GEMMs) one after the other on one thread. Beside the compiled bodies on numba's OpenMP pool
that is two pools on the same cores: the OpenMP threads must sleep soon after each body or they get in
the way of OpenBLAS's, and waking them costs 100-150 us on a 2-core VM. PyTorch runs both its GEMMs and
its elementwise loops on one OpenMP pool, which may then keep spinning between ops; so does mytorch
(_parallel.SPINCOUNT).

Which BLAS: Intel's MKL where the `mkl` wheel is installed (`pip install ".[mkl]"`, Linux x86-64), else
numpy's own OpenBLAS. MKL's sgemm is the one PyTorch's CPU build calls, 8-17% faster per thread than
OpenBLAS's on a Xeon (measurements in benchmarks/results/train_step_cpu.txt); mytorch loads it privately,
with MKL's sequential layer (no threads of its own), and only where no other MKL is in the process (a numpy
built on MKL keeps its library to itself). With MKL the products of a one-thread process (set_num_threads(1))
run through it too; with OpenBLAS they are numpy's matmul (the same kernels), as they are wherever the pool
can't run (numpy's BLAS then has the threads).

It applies to float32 / float64 numpy arrays whose matrices are row- or column-major (any leading dimension)
and whose batch axes fold into at most two strides; everything else, and products too small to thread
(MIN_FLOPS), is numpy's; results agree with numpy's matmul to rounding. OpenBLAS must export
openblas_set_num_threads_local (0.3.27+, numpy >= 2.1's wheels): it keeps each worker's call on its own
thread without changing numpy's setting.
"""
import ctypes
import glob
import math
import os
import sys
from typing import NamedTuple

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from . import _parallel
from .. import _threads
from .._array import data_address as _data
from .._threads import intra_op_threads

MIN_FLOPS = 1 << 18  # m * n * k up to which OpenBLAS stays on one thread itself: numpy's call then
_state = {"blas": None}
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS's enums
_BATCH, _ROWS, _COLS = 0, 1, 2  # how a product is shared out
_NO_BIAS = {np.dtype(t): np.zeros(0, t) for t in (np.float32, np.float64)}
_ONE = {dtype: dtype.type(1) for dtype in _NO_BIAS}
_NO_C = {dtype: np.zeros((1, 1, 1), dtype) for dtype in _NO_BIAS}  # C's array is only read for the bias




class Blas(NamedTuple):
    """A BLAS the pool calls: its name, {dtype: address of its cblas gemm with 64-bit sizes}, and the address
    of its set_num_threads_local (0: a library without threads of its own)."""
    name: str
    gemm: dict
    local: int


def _address(lib, name):
    fn = getattr(lib, name, None)
    return None if fn is None else ctypes.cast(fn, ctypes.c_void_p).value


def _blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [info for info in threadpool_info() if info.get("user_api") == "blas"]


def _mkl_candidates():
    """Paths of libmkl_rt that the `mkl` wheel installed (in this environment's lib/, or the user's)."""
    try:
        from importlib import metadata

        files = metadata.distribution("mkl").files or []
        found = [str(f.locate()) for f in files if os.path.basename(str(f)).startswith("libmkl_rt.so")]
    except Exception:  # no such distribution, or one without a file list
        found = []
    return found + sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")))


_SEQUENTIAL = 1  # MKL_THREADING_SEQUENTIAL


def _load_mkl():
    """The `mkl` wheel's library on its sequential layer, or None: not installed, not Linux, another MKL
    already in the process (numpy built on MKL: switching that one to sequential would slow numpy down), or a
    library that can't be put on the sequential layer (initialised already) or lacks the 64-bit-size gemms."""
    if not sys.platform.startswith("linux") or os.environ.get("MYTORCH_BLAS", "").lower() == "openblas":
        return None
    if any(info.get("internal_api") == "mkl" for info in _blas_info()):
        return None
    for path in _mkl_candidates():
        try:
            lib = ctypes.CDLL(path)  # RTLD_LOCAL: its cblas symbols don't shadow anyone else's
        except OSError:
            continue
        layer = getattr(lib, "MKL_Set_Threading_Layer", None)
        if layer is None or layer(_SEQUENTIAL) != _SEQUENTIAL:
            return None
        found = {np.dtype(dtype): _address(lib, f"cblas_{letter}gemm_64")
                 for letter, dtype in (("s", np.float32), ("d", np.float64))}
        if all(found.values()):
            _threads.private_blas(lib._name)  # sequential: not a pool the thread count is read from
            return Blas("mkl", found, 0)
        return None
    return None


def _load_openblas():
    """The OpenBLAS numpy is linked with, or None. Only builds with 64-bit indices (symbols ending in 64_, as
    in numpy's wheels) and openblas_set_num_threads_local are used."""
    for info in _blas_info():
        if info.get("internal_api") != "openblas":
            continue
        try:
            lib = ctypes.CDLL(info["filepath"])
        except (OSError, KeyError):
            continue
        local = _address(lib, "openblas_set_num_threads_local")
        for prefix in ("scipy_", ""):
            found = {np.dtype(dtype): _address(lib, f"{prefix}cblas_{letter}gemm64_")
                     for letter, dtype in (("s", np.float32), ("d", np.float64))}
            found = {dtype: fn for dtype, fn in found.items() if fn is not None}
            if found and local is not None:
                return Blas("openblas", found, local)
    return None


def _c_call(builder, address, result, params, values):
    fnty = ir.FunctionType(result, params)
    return builder.call(builder.inttoptr(address, fnty.as_pointer()), values)


@intrinsic
def _set_threads_local(typingctx, address, n):
    """openblas_set_num_threads_local(n) at `address` (an integer: compiled code that takes addresses as
    arguments caches on disk, and numba passes integers for free)."""
    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        return _c_call(builder, args[0], i32, [i32], [builder.trunc(args[1], i32)])
    return types.int32(address, n), codegen


@intrinsic
def _cblas_gemm(typingctx, address, ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc):
    """cblas_?gemm64_(row-major, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc) at `address`: enums as C
    ints, sizes and pointers as 64-bit integers, alpha and beta of the matrices' float type."""
    if alpha not in (types.float32, types.float64) or beta != alpha:
        return None

    def codegen(context, builder, sig, args):
        i32, i64 = ir.IntType(32), ir.IntType(64)
        real = context.get_value_type(sig.args[6])
        params = [i32, i32, i32, i64, i64, i64, real, i64, i64, i64, i64, real, i64, i64]
        ints = [builder.trunc(v, i32) if ty == i32 else v for ty, v in zip(params[1:3], args[1:3])]
        values = [ir.Constant(i32, _ROW_MAJOR)] + ints + list(args[3:])
        _c_call(builder, args[0], ir.VoidType(), params, values)
        return context.get_dummy_value()
    return types.none(address, ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc), codegen


@_parallel.kernel()
def _gemm(gemm, local, parts, how, ta, tb, outer, inner, m, n, k, one, a, lda, sa1, sa2, b, ldb, sb1, sb2,
          pc0, ldc, sc1, sc2, c, bias):
    """C = op(A) op(B) (+ bias, a row added to every row of C where bias has n entries) by the gemm at address
    `gemm` on `parts` threads, each set to one OpenBLAS thread (`local`: 0 for a library without threads of
    its own) while it multiplies. a, b, pc0: addresses of the first matrices, matrix (i, j) of the batch lying
    sa1 * i + sa2 * j bytes on (sb1, sb2; sc1, sc2 for C, whose rows are ldc elements apart); c: C as a
    C-contiguous (batch, m, n) array where there is a bias; one: 1 in the matrices' float type. Each thread
    writes the bias into its own part of C, then has the gemm add the product to it (beta = 1)."""
    batch = outer * inner
    es = c.itemsize
    zero = one - one
    add = bias.shape[0] == n
    beta = one if add else zero
    for t in nb.prange(parts):
        # one OpenBLAS thread while multiplying, then the setting back (one of these threads is the caller's)
        before = _set_threads_local(local, 1) if local != 0 else 0
        first, last = (batch * t // parts, batch * (t + 1) // parts) if how == _BATCH else (0, batch)
        lo, hi = (m * t // parts, m * (t + 1) // parts) if how == _ROWS else (
            (n * t // parts, n * (t + 1) // parts) if how == _COLS else (0, 0))
        for i in range(first, last):
            pa = a + (i // inner) * sa1 + (i % inner) * sa2
            pb = b + (i // inner) * sb1 + (i % inner) * sb2
            pc = pc0 + (i // inner) * sc1 + (i % inner) * sc2
            if add:
                ci = c[i]
                r0, r1 = (lo, hi) if how == _ROWS else (0, m)
                c0, c1 = (lo, hi) if how == _COLS else (0, n)
                src = bias[c0:c1]
                for r in range(r0, r1):  # indices from 0, for the loop to vectorise
                    dst = ci[r, c0:c1]
                    for j in range(dst.shape[0]):
                        dst[j] = src[j]
            if how == _BATCH:
                _cblas_gemm(gemm, ta, tb, m, n, k, one, pa, lda, pb, ldb, beta, pc, ldc)
            elif how == _ROWS and hi > lo:  # rows lo..hi of op(A) and of C
                _cblas_gemm(gemm, ta, tb, hi - lo, n, k, one, pa + es * lo * (1 if ta == _TRANS else lda), lda,
                            pb, ldb, beta, pc + es * lo * ldc, ldc)
            elif how == _COLS and hi > lo:  # columns lo..hi of op(B) and of C
                _cblas_gemm(gemm, ta, tb, m, hi - lo, k, one, pa, lda, pb + es * lo * (ldb if tb == _TRANS else 1),
                            ldb, beta, pc + es * lo, ldc)
        if local != 0:
            _set_threads_local(local, before)


def libraries():
    """Every BLAS the pool can call here, the preferred first (see the module docstring; MYTORCH_BLAS=openblas
    leaves MKL out). Loaded once: after MKL is, it is one of the process's libraries itself."""
    if "libraries" not in _state:
        _state["libraries"] = [lib for lib in (_load_mkl(), _load_openblas()) if lib is not None]
    return _state["libraries"]


def blas():
    """The Blas the pool's products call, or None when there is none."""
    if _state["blas"] is None:
        found = libraries()
        _state["blas"] = found[0] if found else False
    return _state["blas"] or None


def _matrix(x, rows, cols):
    """(transpose flag, leading dimension) of x's last two axes as BLAS sees them, or None (no such layout)."""
    es = x.itemsize
    s_row, s_col = x.strides[-2], x.strides[-1]
    if s_col == es and s_row % es == 0 and s_row >= max(cols, 1) * es:
        return _NO_TRANS, s_row // es
    if s_row == es and s_col % es == 0 and s_col >= max(rows, 1) * es:
        return _TRANS, s_col // es
    if rows == 1 and s_col == es:  # one row, or one column: the other stride is never used
        return _NO_TRANS, max(cols, 1)
    if cols == 1 and s_row == es:
        return _TRANS, max(rows, 1)
    return None


def _fold(shape, strides):
    """The stride of a run of batch axes taken as one axis, or None when they don't fold into one."""
    stride = expect = None
    for size, step in zip(reversed(shape), reversed(strides)):
        if size == 1:
            continue
        if stride is None:
            stride = step
        elif step != expect:
            return None
        expect = step * size
    return stride or 0


def _batch_strides(operands, batch_shape):
    """(outer, inner) batch sizes and each operand's two strides in bytes, the batch axes folded into two
    runs (the (batch, heads) axes of attention's q = qkv[..., :d] don't fold into one), or None."""
    if not batch_shape:
        return 1, 1, ((0, 0),) * len(operands)
    for cut in range(len(batch_shape) + 1):
        strides = []
        for x in operands:
            if x.ndim == 2:
                strides.append((0, 0))
                continue
            outer, inner = _fold(x.shape[:cut], x.strides[:cut]), _fold(x.shape[cut:-2], x.strides[cut:-2])
            if outer is None or inner is None:
                break
            strides.append((outer, inner))
        else:
            return math.prod(batch_shape[:cut]), math.prod(batch_shape[cut:]), strides
    return None


def matmul(a, b, bias=None, out=None):
    """a @ b (+ bias, a 1-D array of b.shape[-1] entries of their dtype) for numpy arrays a (..., m, k),
    b (..., k, n) of one float dtype with equal batch shapes (or one of them 2-D), on the pool; None where
    numpy's matmul is to be used. out: an array of the product's shape and dtype to write it into, rows
    contiguous (any row and batch strides), without a bias."""
    if a.ndim < 2 or b.ndim < 2 or a.dtype != b.dtype or out is not None and bias is not None:
        return None
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if b.shape[-2] != k or a.ndim > 2 and b.ndim > 2 and a.shape[:-2] != b.shape[:-2]:
        return None
    if bias is not None and (type(bias) is not np.ndarray or bias.shape != (n,) or bias.dtype != a.dtype):
        return None
    batch_shape = a.shape[:-2] if a.ndim > 2 else b.shape[:-2]
    flops = math.prod(batch_shape) * m * n * k
    if flops <= MIN_FLOPS:
        return None
    parts = _parallel.threads(flops, MIN_FLOPS)
    found = blas()
    # one thread: numpy's call is the same OpenBLAS; or, where the pool can't run (_parallel.threads), numpy's
    # BLAS is what has threads
    if found is None or parts == 1 and (found.name == "openblas" or intra_op_threads() > 1):
        return None
    gemm = found.gemm.get(a.dtype)
    la, lb = _matrix(a, m, k), _matrix(b, k, n)
    if gemm is None or la is None or lb is None:
        return None
    if out is None:
        c = np.empty(batch_shape + (m, n), a.dtype)
    elif type(out) is not np.ndarray or out.shape != batch_shape + (m, n) or out.dtype != a.dtype:
        return None
    else:
        c = out
    lc = _matrix(c, m, n)
    if lc is None or lc[0] != _NO_TRANS:  # C's rows contiguous (the gemm writes row-major)
        return None
    folded = _batch_strides((a, b, c), batch_shape)
    if folded is None:
        return None
    outer, inner, ((sa1, sa2), (sb1, sb2), (sc1, sc2)) = folded
    # by rows where A is the larger operand or tall enough (128 rows: faster in every GPT-step shape measured),
    # else by columns (a few rows of A, copied by every thread, against many columns of B)
    how = _BATCH if outer * inner >= parts else (_ROWS if m >= min(n, 128) else _COLS)
    _gemm.run(parts, gemm, found.local, parts, how, la[0], lb[0], outer, inner, m, n, k, _ONE[a.dtype],
              _data(a), la[1], sa1, sa2, _data(b), lb[1], sb1, sb2, _data(c), lc[1], sc1, sc2,
              _NO_C[a.dtype] if bias is None else c.reshape(-1, m, n),
              _NO_BIAS[a.dtype] if bias is None else np.ascontiguousarray(bias))
    return c
