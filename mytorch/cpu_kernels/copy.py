"""C-order copies of strided views: transposed (x.t().contiguous(), x.transpose(-1, -2).reshape(...)) and
broadcast (a reduction's gradient, x.expand(...).contiguous()).

numpy copies a transposed matrix element by element along the destination rows, reading the source a
column at a time: every read misses the cache. This copies small tiles, so both sides stay in cache.
numpy copies a broadcast view element by element too (2x slower than filling); here a row whose source
repeats one value is a fill, and large copies are split over the threads.
"""
import numba as nb
import numpy as np

from . import _parallel

# small tiles: the source's columns are a power of two apart in memory for the common shapes, so a tile
# of many columns evicts itself from the cache (measured on 1024 x 1024: 8 columns 1.0 ms, 32 columns 2.4 ms)
ROWS, COLS = 16, 8


@_parallel.kernel()
def _copy_tiles(src, dst):
    """src, dst: (B, M, N) arrays, any strides; dst[...] = src tile by tile, the B * (M / ROWS) bands of
    rows shared out over the threads."""
    nb_, m, n = src.shape
    bands = (m + ROWS - 1) // ROWS
    for k in nb.prange(nb_ * bands):
        b = k // bands
        i0 = (k % bands) * ROWS
        i1 = min(i0 + ROWS, m)
        for j0 in range(0, n, COLS):
            j1 = min(j0 + COLS, n)
            for i in range(i0, i1):
                for j in range(j0, j1):
                    dst[b, i, j] = src[b, i, j]


@_parallel.kernel()
def _copy_rows(src, dst):
    """src, dst: (B, M, N) arrays, src any strides; dst[...] = src row by row, the B * M rows shared out."""
    nb_, m, n = src.shape
    repeat = src.strides[2] == 0
    for k in nb.prange(nb_ * m):
        s, d = src[k // m, k % m], dst[k // m, k % m]
        if repeat:
            d[:] = s[0]
        else:
            d[:] = s


def is_transposed(a):
    """A view whose last two axes are swapped relative to C order (the layout this copy is for)."""
    return a.ndim >= 2 and a.strides[-2] == a.itemsize and a.strides[-1] > a.itemsize and a.shape[-1] > 1


def _as_3d(a):
    shape = a.shape if a.ndim > 1 else (1,) * (2 - a.ndim) + a.shape
    return np.reshape(a, (-1,) + shape[-2:], copy=False)


def copy_into(dst, src, threads):
    """dst[...] = src for numpy arrays of one shape (ndim >= 1), dst any strides: transposed views tile by
    tile, others row by row. False (nothing copied) when either's leading axes don't fold into one."""
    try:
        s3, d3 = _as_3d(src), _as_3d(dst)
    except ValueError:
        return False
    (_copy_tiles if is_transposed(src) else _copy_rows).run(threads, s3, d3)
    return True


def copy_c(a, threads):
    """A C-contiguous copy of numpy array a (ndim >= 1), or None when its leading axes don't fold into one
    (the caller copies with numpy then)."""
    out = np.empty(a.shape, a.dtype)
    return out if copy_into(out, a, threads) else None
