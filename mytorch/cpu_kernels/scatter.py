"""Row scatter-add (embedding backward): target[idx[i]] += rows[i], in index order as numpy's np.add.at
(so the sums are bit-identical to it), without np.add.at's per-element overhead."""
import numba as nb

_kernel = nb.njit(nogil=True, error_model="numpy", cache=True)


@_kernel
def _add_rows(target, idx, rows):
    n = rows.shape[1]
    for i in range(idx.shape[0]):
        dst, src = target[idx[i]], rows[i]
        for j in range(n):
            dst[j] += src[j]


def add_rows(target, idx, rows):
    """In place; idx holds valid row numbers of target (checked by the caller's forward)."""
    _add_rows(target, idx, rows)
