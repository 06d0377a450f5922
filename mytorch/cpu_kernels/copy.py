"""C-order copies of transposed views (x.t().contiguous(), x.transpose(-1, -2).reshape(...)).

numpy copies a transposed matrix element by element along the destination rows, reading the source a
column at a time: every read misses the cache. This copies square tiles, so both sides stay in cache.
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


def is_transposed(a):
    """A view whose last two axes are swapped relative to C order (the layout this copy is for)."""
    return a.ndim >= 2 and a.strides[-2] == a.itemsize and a.strides[-1] > a.itemsize and a.shape[-1] > 1


def copy_c(a):
    """A C-contiguous copy of a (a numpy array whose last two axes are transposed), or None when its
    leading axes don't fold into one (the caller copies with numpy then)."""
    m, n = a.shape[-2:]
    try:
        src = np.reshape(a, (-1, m, n), copy=False)
    except ValueError:
        return None
    out = np.empty(a.shape, a.dtype)
    dst = out.reshape(-1, m, n)
    _copy_tiles(src, dst)
    return out
