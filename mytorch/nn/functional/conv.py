"""Convolutions, functional form: conv1d/2d/3d, conv_transpose1d/2d/3d, unfold, fold.

im2col: `_windows` is a strided *view* of the padded input, shape (N, C, *out, *kernel), no copy; one
copy lays it out as a matrix per image and group, and one broadcast matmul does the convolution:
    cols[n, g] (Cg*K, P)   rows = (c, kernel offset), columns = output positions
    out[n, g] = W[g] @ cols[n, g]           W[g] (Og, Cg*K)       -> already (N, O, *out)
backward:
    dW[g] = sum_n dy[n, g] @ cols[n, g].T     dcols[n, g] = W[g].T @ dy[n, g]     dx = col2im(dcols)
`_col2im` adds each kernel offset's slab back into the padded input: a loop over the K kernel offsets,
each step one whole-array strided add. A transposed convolution is a convolution's input gradient and its
backward is the convolution forward, so the same three array routines serve both.
"""
import itertools

import numpy as np

from ..._array import xp_of
from ...autograd.function import Function, autocast
from ...ops.complex_ops import complex as _make_complex
from ...ops.linalg import _matmul, acc_dtype
from ...tensor import Tensor
from .linear import _use_fused

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "unfold", "fold"]


def _ntuple(value, n, name="argument"):
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1 and n > 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values to match "
                           f"the convolution dimensions, but got {name}={list(value)}")
    return value


def _prod(values):
    out = 1
    for v in values:
        out *= int(v)
    return out


# ---- array routines (numpy or cupy) ----------------------------------------------------------------------

def _windows(x, kernel, stride, dilation):
    """(B, C, *S) -> strided view (B, C, *out, *kernel) of every window (no copy)."""
    xp = xp_of(x)
    d = len(kernel)
    out = tuple((s - dl * (k - 1) - 1) // st + 1 for s, k, st, dl in zip(x.shape[2:], kernel, stride, dilation))
    spatial_strides = x.strides[2:]
    strides = (x.strides[:2] + tuple(ss * st for ss, st in zip(spatial_strides, stride))
               + tuple(ss * dl for ss, dl in zip(spatial_strides, dilation)))
    assert len(out) == d
    return xp.lib.stride_tricks.as_strided(x, x.shape[:2] + out + tuple(kernel), strides)


def _col2im(cols, padded, stride, dilation):
    """Adjoint of the window view: cols (*batch, *kernel, *out) summed into zeros (*batch, *padded)."""
    xp = xp_of(cols)
    d = len(padded)
    batch = cols.shape[:cols.ndim - 2 * d]
    kernel = cols.shape[len(batch):len(batch) + d]
    out = cols.shape[len(batch) + d:]
    buf = xp.zeros(batch + tuple(padded), cols.dtype)
    lead = (slice(None),) * len(batch)
    for offs in itertools.product(*(range(k) for k in kernel)):
        dst = lead + tuple(slice(o * dl, o * dl + st * (n - 1) + 1, st)
                           for o, dl, st, n in zip(offs, dilation, stride, out))
        buf[dst] += cols[lead + offs]  # a contiguous (*out) slab per (batch, offset)
    return buf


def _pad_zeros(x, pads):
    """Zero-pad the spatial axes of (N, C, *S); pads is one (lo, hi) per spatial axis."""
    if not any(lo or hi for lo, hi in pads):
        return x
    return xp_of(x).pad(x, ((0, 0), (0, 0)) + tuple(pads))


def _crop(x, pads):
    if not any(lo or hi for lo, hi in pads):
        return x
    return x[(slice(None), slice(None)) + tuple(slice(lo, x.shape[2 + i] - hi) for i, (lo, hi) in enumerate(pads))]


def _im2col(xpad, kernel, stride, dilation, groups):
    """-> cols (N, G, Cg*K, P) contiguous (one copy of the window view), and the output spatial shape.
    Per image the rows are (c, kernel offset) and the columns output positions, so the copy's inner loop
    runs along contiguous input rows and the product with W lands directly in (N, O, *out) order."""
    win = _windows(xpad, kernel, stride, dilation)
    n, c = win.shape[:2]
    d = len(kernel)
    out = win.shape[2:2 + d]
    perm = (0, 1) + tuple(range(2 + d, 2 + 2 * d)) + tuple(range(2, 2 + d))
    cols = win.transpose(perm).reshape(n, groups, (c // groups) * _prod(kernel), _prod(out))
    return cols, out


def _cols_times_weight(cols, w, out, groups):
    """cols (N, G, Cg*K, P) x weight (O, Cg, *k) -> (N, O, *out): one broadcast matmul."""
    wmat = w.reshape(groups, w.shape[0] // groups, -1)  # (G, Og, Cg*K)
    return _matmul(wmat, cols).reshape((cols.shape[0], w.shape[0]) + tuple(out))


def _conv_weight_grad(dy, cols, w_shape, groups):
    """dW[g] = sum_n dy[n, g] (Og, P) @ cols[n, g].T (P, Cg*K): per-image products, then a sum (no copies)."""
    dyr = dy.reshape(dy.shape[0], groups, -1, cols.shape[-1])
    per_image = _matmul(dyr, cols.transpose(0, 1, 3, 2), out_dtype=acc_dtype(dy))  # half: sum in float32
    return per_image.sum(axis=0).reshape(w_shape)


def _pad_or_crop(x, pads):
    """Spatial (lo, hi) per axis; negative amounts crop."""
    x = x[(slice(None), slice(None)) + tuple(slice(max(-lo, 0), x.shape[2 + i] - max(-hi, 0))
                                             for i, (lo, hi) in enumerate(pads))]
    return _pad_zeros(x, tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads))


def _conv_input_grad(dy, w, padded, pads, stride, dilation, groups):
    """Gradient of the input (N, C, *S) of a convolution with output gradient dy, S = padded - pads."""
    xp = xp_of(w)
    o, cg = w.shape[:2]
    kernel = w.shape[2:]
    d = len(kernel)
    n = dy.shape[0]
    out = dy.shape[2:]
    spatial = tuple(p - lo - hi for p, (lo, hi) in zip(padded, pads))
    if all(s == 1 for s in stride) and o <= 2 * groups * cg:
        # stride 1: dx is the correlation of the padded dy with the flipped, channel-swapped kernel. Its
        # im2col copies O*K*P values where col2im adds C*K*P with slower strided passes: use it unless O >> C.
        left = [dl * (k - 1) - lo for k, dl, (lo, _) in zip(kernel, dilation, pads)]
        dpads = [(a, s + dl * (k - 1) - a - m) for a, s, k, dl, m in zip(left, spatial, kernel, dilation, out)]
        wt = w.reshape((groups, o // groups, cg) + tuple(kernel))[(Ellipsis,) + (slice(None, None, -1),) * d]
        wt = xp.ascontiguousarray(wt.swapaxes(1, 2)).reshape((groups * cg, o // groups) + tuple(kernel))
        cols, dx_out = _im2col(_pad_or_crop(dy, dpads), kernel, stride, dilation, groups)
        return _cols_times_weight(cols, wt, dx_out, groups)
    wmat = w.reshape(groups, o // groups, -1)
    dcols = _matmul(wmat.transpose(0, 2, 1), dy.reshape(n, groups, o // groups, -1))  # (N, G, Cg*K, P)
    dcols = dcols.reshape((n, groups * cg) + tuple(kernel) + tuple(out))
    return _crop(_col2im(dcols, padded, stride, dilation), pads)


def _weight_grad_t(dy, cols, w_shape, groups):
    """_conv_weight_grad in recorded Tensor ops: cols (N, C*K, P) as unfold gives them."""
    n, ck, p = cols.shape
    dyr = dy.reshape(n, groups, -1, p)
    per_image = dyr.matmul(cols.reshape(n, groups, ck // groups, p).transpose(-1, -2))
    return per_image.sum(0).reshape(w_shape)


def _conv_out_shape(spatial, pads, kernel, stride, dilation):
    return tuple((s + lo + hi - d * (k - 1) - 1) // st + 1
                 for s, (lo, hi), k, st, d in zip(spatial, pads, kernel, stride, dilation))


# ---- autograd Functions --------------------------------------------------------------------------------

class _ConvNd(Function):
    """fused=True (2-D, symmetric padding): the Triton implicit-GEMM kernels (mytorch.kernels.conv2d) read
    the input directly, with no im2col copy, and backward recomputes from the saved input."""

    @staticmethod
    def forward(ctx, x, w, bias, stride, pads, dilation, groups, fused=False):
        ctx.fused = fused
        if fused:
            from ...kernels import conv2d as kernel

            ctx.save_for_backward(x, w)
            ctx.geometry = (stride, tuple(lo for lo, _ in pads), dilation, groups)
            return kernel.conv2d_fwd(x, w, bias, *ctx.geometry)
        xpad = _pad_zeros(x, pads)
        cols, out = _im2col(xpad, w.shape[2:], stride, dilation, groups)
        y = _cols_times_weight(cols, w, out, groups)
        if bias is not None:
            y += bias.reshape((1, -1) + (1,) * (y.ndim - 2))
        ctx.save_for_backward(w, cols)
        ctx.geometry = (xpad.shape[2:], stride, pads, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, dy):
        need = ctx.needs_input_grad
        if ctx.fused:
            from ...kernels import conv2d as kernel

            x, w = ctx.saved_tensors
            dx, dw, db = kernel.conv2d_bwd(dy, x, w, *ctx.geometry, need_dx=need[0], need_dweight=need[1],
                                           need_dbias=need[2])
            return dx, dw, db, None, None, None, None, None
        w, cols = ctx.saved_tensors
        padded, stride, pads, dilation, groups = ctx.geometry
        dy = xp_of(dy).ascontiguousarray(dy)  # e.g. the stride-0 gradient of a sum: BLAS needs real strides
        dx = dw = db = None
        if need[0]:
            dx = _conv_input_grad(dy, w, padded, pads, stride, dilation, groups)
        if need[1]:
            dw = _conv_weight_grad(dy, cols, w.shape, groups)
        if need[2]:
            db = dy.sum(axis=(0,) + tuple(range(2, dy.ndim)), dtype=acc_dtype(dy))
        return dx, dw, db, None, None, None, None, None

    @staticmethod
    def differentiable_backward(ctx, dy):
        if ctx.fused:
            raise RuntimeError("the derivative of the fused (Triton) conv2d is not implemented for create_graph=True")
        need = ctx.needs_input_grad
        w, cols = ctx.saved_tensors
        padded, stride, pads, dilation, groups = ctx.geometry
        dx = dw = db = None
        if need[0]:
            if any(lo != hi for lo, hi in pads):
                raise RuntimeError("the derivative of a convolution with uneven padding is not implemented for "
                                   "create_graph=True")
            spatial = tuple(p - lo - hi for p, (lo, hi) in zip(padded, pads))
            dx = _ConvTransposeNd.apply(dy, w, None, spatial, stride, tuple(lo for lo, _ in pads), dilation, groups)
        if need[1]:  # the columns as unfold(x): dw's derivative reaches x
            n, g, ck, p = cols._data.shape
            cols = ctx.attach(_Unfold, 0, cols._data.reshape(n, g * ck, p),
                              geometry=(padded, tuple(dy.shape[2:]), tuple(w.shape[2:]), dilation, pads, stride))
            dw = _weight_grad_t(dy, cols, tuple(w.shape), groups)
        if need[2]:
            db = dy.sum((0,) + tuple(range(2, dy.ndim)))
        return dx, dw, db, None, None, None, None, None


class _ConvTransposeNd(Function):
    """y = the input gradient of a convolution whose output is x: weight (Cin, Cout/G, *k)."""

    @staticmethod
    def forward(ctx, x, w, bias, out_size, stride, padding, dilation, groups):
        pads = tuple((p, p) for p in padding)
        padded = tuple(s + 2 * p for s, p in zip(out_size, padding))
        y = _conv_input_grad(x, w, padded, pads, stride, dilation, groups)
        if bias is not None:
            y += bias.reshape((1, -1) + (1,) * (y.ndim - 2))
        ctx.save_for_backward(x, w)
        ctx.geometry = (pads, stride, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        pads, stride, dilation, groups = ctx.geometry
        dy = xp_of(dy).ascontiguousarray(dy)
        d = x.ndim - 2
        dx = dw = db = None
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if need_x or need_w:
            # the convolution forward of dy gives dx; its cols give dw
            cols, out = _im2col(_pad_zeros(dy, pads), w.shape[2:], stride, dilation, groups)
            out_slice = (Ellipsis,) + tuple(slice(0, s) for s in x.shape[2:])
            if need_x:
                dx = _cols_times_weight(cols, w, out, groups)[out_slice]
            if need_w:
                xm = x
                if tuple(out) != x.shape[2:]:  # output_padding >= stride leaves extra output rows: zero them
                    xm = xp_of(x).zeros(x.shape[:2] + tuple(out), x.dtype)
                    xm[out_slice] = x
                dw = _conv_weight_grad(xm, cols, w.shape, groups)
        if ctx.needs_input_grad[2]:
            db = dy.sum(axis=(0,) + tuple(range(2, 2 + d)))
        return dx, dw, db, None, None, None, None, None

    @staticmethod
    def differentiable_backward(ctx, dy):
        x, w = ctx.saved_tensors
        pads, stride, dilation, groups = ctx.geometry
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        dx = dw = db = None
        out_slice = (Ellipsis,) + tuple(slice(0, s) for s in x.shape[2:])
        if need_x:
            dx = _ConvNd.apply(dy, w, None, stride, pads, dilation, groups)[out_slice]
        if need_w:
            kernel = tuple(w.shape[2:])
            cols = _Unfold.apply(dy, kernel, dilation, pads, stride)
            out = _conv_out_shape(tuple(dy.shape[2:]), pads, kernel, stride, dilation)
            xm = x
            if out != tuple(x.shape[2:]):  # output_padding >= stride: extra output rows get no gradient
                from ...ops.index import scatter_into

                xm = scatter_into(x, tuple(x.shape[:2]) + out, out_slice)
            dw = _weight_grad_t(xm, cols, tuple(w.shape), groups)
        if ctx.needs_input_grad[2]:
            db = dy.sum((0,) + tuple(range(2, dy.ndim)))
        return dx, dw, db, None, None, None, None, None


class _Unfold(Function):
    """(N, C, H, W) -> (N, C*kh*kw, L): the im2col matrix itself."""

    @staticmethod
    def forward(ctx, x, kernel, dilation, pads, stride):
        xpad = _pad_zeros(x, pads)
        cols, out = _im2col(xpad, kernel, stride, dilation, 1)
        ctx.geometry = (xpad.shape[2:], out, kernel, dilation, pads, stride)
        return cols.reshape(cols.shape[0], cols.shape[2], cols.shape[3])

    @staticmethod
    def backward(ctx, dy):
        padded, out, kernel, dilation, pads, stride = ctx.geometry
        return _fold_array(dy, padded, out, kernel, dilation, pads, stride), None, None, None, None

    @staticmethod
    def differentiable_backward(ctx, dy):
        padded, out, kernel, dilation, pads, stride = ctx.geometry
        return _Fold.apply(dy, padded, out, kernel, dilation, pads, stride), None, None, None, None


def _fold_array(cols, padded, out, kernel, dilation, pads, stride):
    n, ck = cols.shape[:2]
    blocks = cols.reshape((n, ck // _prod(kernel)) + tuple(kernel) + tuple(out))
    return _crop(_col2im(blocks, padded, stride, dilation), pads)


class _Fold(Function):
    @staticmethod
    def forward(ctx, cols, padded, out, kernel, dilation, pads, stride):
        ctx.geometry = (kernel, dilation, pads, stride)
        return _fold_array(cols, padded, out, kernel, dilation, pads, stride)

    @staticmethod
    def backward(ctx, dy):
        kernel, dilation, pads, stride = ctx.geometry
        cols, _ = _im2col(_pad_zeros(dy, pads), kernel, stride, dilation, 1)
        return (cols.reshape(cols.shape[0], cols.shape[2], cols.shape[3]),) + (None,) * 6

    @staticmethod
    def differentiable_backward(ctx, dy):
        kernel, dilation, pads, stride = ctx.geometry
        return (_Unfold.apply(dy, kernel, dilation, pads, stride),) + (None,) * 6


# ---- padding modes (reflect / replicate / circular), used by Conv modules --------------------------------

def _pad_index(xp, size, lo, hi, mode):
    """Source index for each padded position along one axis."""
    idx = xp.arange(-lo, size + hi)
    if mode == "reflect":
        period = 2 * (size - 1)
        idx = xp.abs(idx) % period if period else xp.zeros_like(idx)
        return xp.where(idx >= size, period - idx, idx)
    if mode == "replicate":
        return xp.clip(idx, 0, size - 1)
    return idx % size  # circular


def _scatter_axis(g, idx, size, axis):
    """Adjoint of take(x, idx, axis): sum g's entries into `size` slots along `axis` (bincount, no add.at)."""
    xp = xp_of(g)
    moved = xp.moveaxis(g, axis, -1)
    rows = _prod(moved.shape[:-1])
    keys = (xp.arange(rows)[:, None] * size + idx[None, :]).ravel()
    flat = xp.bincount(keys, weights=moved.reshape(rows, -1).ravel(), minlength=rows * size)
    return xp.moveaxis(flat.reshape(moved.shape[:-1] + (size,)).astype(g.dtype, copy=False), -1, axis)


class _PadMode(Function):
    @staticmethod
    def forward(ctx, x, pads, mode):
        """pads: (lo, hi) per trailing axis, first entry for axis x.ndim - len(pads)."""
        xp = xp_of(x)
        first = x.ndim - len(pads)
        plan = []
        for i, (lo, hi) in enumerate(pads):
            size = x.shape[first + i]
            if mode == "reflect" and (lo >= size or hi >= size):
                raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input "
                                   f"dimension, but got: padding ({lo}, {hi}) at dimension {first + i} of "
                                   f"input {list(x.shape)}")
            idx = _pad_index(xp, size, lo, hi, mode)
            x = xp.take(x, idx, axis=first + i)
            plan.append((first + i, idx, size))
        ctx.plan = plan
        return x

    @staticmethod
    def backward(ctx, g):
        for axis, idx, size in reversed(ctx.plan):
            g = _scatter_axis(g, idx, size, axis)
        return g, None, None

    @staticmethod
    def differentiable_backward(ctx, g):
        from ...ops.index import scatter_into

        for axis, idx, size in reversed(ctx.plan):
            target = tuple(g.shape[:axis]) + (size,) + tuple(g.shape[axis + 1:])
            g = scatter_into(g, target, (slice(None),) * axis + (idx,), accumulate=True)
        return g, None, None


# ---- functional API -----------------------------------------------------------------------------------

def _check_dtypes(fn, x, weight, bias):
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.dtype != x.dtype:
            raise RuntimeError(f"{fn}: Input type ({x.dtype}) and {name} type ({p.dtype}) should be the same")
        if p is not None and p.device != x.device:
            raise RuntimeError(f"{fn}: Input and {name} are on different devices ({x.device} vs {p.device})")
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{fn}: expected a floating point input, got {x.dtype}")


def _batched(fn, x, d):
    """Conv and pooling accept (C, *S) unbatched input: returns (batched input, unbatched?)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if x.ndim == d + 1:
        return x.unsqueeze(0), True
    if x.ndim != d + 2:
        raise RuntimeError(f"Expected {d + 1}D (unbatched) or {d + 2}D (batched) input to {fn}, but got input of "
                           f"size: {list(x.shape)}")
    return x, False


def _same_pads(kernel, dilation):
    """padding='same': total d*(k-1), the odd extra element on the right (as PyTorch)."""
    pads = []
    for k, dl in zip(kernel, dilation):
        total = dl * (k - 1)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def _conv_pads(fn, padding, kernel, stride, dilation):
    d = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            return _same_pads(kernel, dilation)
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    return tuple((p, p) for p in _ntuple(padding, d, "padding"))


def _check_geometry(stride, padding, dilation, output_padding=()):
    """PyTorch's refusals of a stride, padding or dilation that would index outside the input."""
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(dl <= 0 for dl in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")


def _complex_conv(fn, d, conv, input, weight, bias):
    """A complex convolution as four real ones: (a + ib) * (c + id) = (a*c - b*d) + i(a*d + b*c)."""
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.dtype != input.dtype:
            raise RuntimeError(f"{fn}: Input type ({input.dtype}) and {name} type ({p.dtype}) should be the same")
    a, b, c, w_imag = input.real, input.imag, weight.real, weight.imag
    out = _make_complex(conv(a, c) - conv(b, w_imag), conv(a, w_imag) + conv(b, c))
    return out if bias is None else out + bias.reshape(-1, *([1] * d))


def _conv(fn, d, input, weight, bias, stride, padding, dilation, groups, fused=None):
    """F.conv1d/2d/3d; fused: nn.Conv2d's kernel request (None: the global switch decides)."""
    if isinstance(input, Tensor) and input.is_complex() and isinstance(weight, Tensor) and weight.is_complex():
        return _complex_conv(fn, d, lambda x, w: _conv(fn, d, x, w, None, stride, padding, dilation, groups),
                             input, weight, bias)
    if autocast.enabled:
        input, weight, bias = autocast.cast(fn, input, weight, bias)
    x, unbatched = _batched(fn, input, d)
    _check_dtypes(fn, x, weight, bias)
    if weight.ndim != d + 2:
        raise RuntimeError(f"{fn}: Expected {d + 2}-dimensional weight for {d + 2}-dimensional input "
                           f"{list(x.shape)}, but got weight of size {list(weight.shape)} instead")
    groups = int(groups)
    out_ch, cg = weight.shape[:2]
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if x.shape[1] != cg * groups or out_ch % groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                           f"{list(x.shape)} to have {cg * groups} channels, but got {x.shape[1]} channels instead")
    if bias is not None and tuple(bias.shape) != (out_ch,):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional with "
                           f"{out_ch} elements, but got bias of size {list(bias.shape)} instead")
    kernel = tuple(weight.shape[2:])
    stride = _ntuple(stride, d, "stride")
    dilation = _ntuple(dilation, d, "dilation")
    pads = _conv_pads(fn, padding, kernel, stride, dilation)
    _check_geometry(stride, [p for lo_hi in pads for p in lo_hi], dilation)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads))
    if any(p < dl * (k - 1) + 1 for p, k, dl in zip(padded, kernel, dilation)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel "
                           f"size: ({' x '.join(str(dl * (k - 1) + 1) for k, dl in zip(kernel, dilation))}). "
                           "Kernel size can't be greater than actual input size")
    # the kernel takes one padding amount per axis ('same' with an even kernel pads unevenly)
    fused = d == 2 and all(lo == hi for lo, hi in pads) and _use_fused("conv2d", fused, x, weight, bias)
    out = _ConvNd.apply(x, weight, bias, stride, pads, dilation, groups, fused)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _transpose_output_size(in_size, kernel, stride, padding, output_padding, dilation):
    return tuple((i - 1) * s - 2 * p + dl * (k - 1) + op + 1
                 for i, k, s, p, op, dl in zip(in_size, kernel, stride, padding, output_padding, dilation))


def _conv_transpose(fn, d, input, weight, bias, stride, padding, output_padding, groups, dilation):
    if isinstance(input, Tensor) and input.is_complex() and isinstance(weight, Tensor) and weight.is_complex():
        return _complex_conv(fn, d, lambda x, w: _conv_transpose(fn, d, x, w, None, stride, padding, output_padding,
                                                                 groups, dilation), input, weight, bias)
    if autocast.enabled:
        input, weight, bias = autocast.cast(fn, input, weight, bias)
    x, unbatched = _batched(fn, input, d)
    _check_dtypes(fn, x, weight, bias)
    if isinstance(padding, str):
        raise RuntimeError(f"{fn}: padding must be an int or a tuple of ints, got '{padding}'")
    groups = int(groups)
    in_ch, og = weight.shape[:2]
    if weight.ndim != d + 2 or x.shape[1] != in_ch or in_ch % groups:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected input"
                           f"{list(x.shape)} to have {in_ch} channels, but got {x.shape[1]} channels instead")
    if bias is not None and tuple(bias.shape) != (og * groups,):
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {og * groups} elements, but got bias of size {list(bias.shape)}")
    kernel = tuple(weight.shape[2:])
    stride, padding = _ntuple(stride, d, "stride"), _ntuple(padding, d, "padding")
    dilation, output_padding = _ntuple(dilation, d, "dilation"), _ntuple(output_padding, d, "output_padding")
    _check_geometry(stride, padding, dilation, output_padding)
    for op, s, dl in zip(output_padding, stride, dilation):
        if op >= s and op >= dl:
            raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got "
                               f"output_padding={list(output_padding)}, stride={list(stride)}, "
                               f"dilation={list(dilation)}")
    out_size = _transpose_output_size(x.shape[2:], kernel, stride, padding, output_padding, dilation)
    if any(s <= 0 for s in out_size):
        raise RuntimeError(f"{fn}: Given input size per channel: {list(x.shape[2:])}, calculated output size "
                           f"{list(out_size)} is too small")
    out = _ConvTransposeNd.apply(x, weight, bias, out_size, stride, padding, dilation, groups)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def _fold_geometry(kernel_size, dilation, padding, stride):
    return (_ntuple(kernel_size, 2, "kernel_size"), _ntuple(dilation, 2, "dilation"),
            tuple((p, p) for p in _ntuple(padding, 2, "padding")), _ntuple(stride, 2, "stride"))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding blocks: (N, C, H, W) -> (N, C * kh * kw, L)."""
    x, unbatched = _batched("unfold", input, 2)
    kernel, dilation, pads, stride = _fold_geometry(kernel_size, dilation, padding, stride)
    padded = [s + 2 * lo for s, (lo, _) in zip(x.shape[2:], pads)]
    if any(p < dl * (k - 1) + 1 for p, k, dl in zip(padded, kernel, dilation)):
        raise RuntimeError(f"Given input with spatial size {list(x.shape[2:])}, kernel_size={list(kernel)}, "
                           f"dilation={list(dilation)}, padding={[p for p, _ in pads]}, calculated shape of the "
                           "array of sliding blocks is non-positive.")
    out = _Unfold.apply(x, kernel, dilation, pads, stride)
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combine sliding blocks (summing overlaps): (N, C * kh * kw, L) -> (N, C, *output_size)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fold(): argument 'input' must be Tensor, not {type(input).__name__}")
    unbatched = input.ndim == 2
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to col2im, but got input of size: "
                           f"{list(input.shape)}")
    x = input.unsqueeze(0) if unbatched else input
    output_size = _ntuple(output_size, 2, "output_size")
    kernel, dilation, pads, stride = _fold_geometry(kernel_size, dilation, padding, stride)
    k = _prod(kernel)
    if x.shape[1] % k:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
                           f"but got input.size(1)={x.shape[1]} and kernel_size={kernel}")
    padded = tuple(s + 2 * lo for s, (lo, _) in zip(output_size, pads))
    out = tuple((p - dl * (kk - 1) - 1) // s + 1 for p, kk, dl, s in zip(padded, kernel, dilation, stride))
    if x.shape[2] != _prod(out) or min(out) <= 0:
        raise RuntimeError(f"Given output_size={output_size}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={tuple(p for p, _ in pads)}, stride={stride}, expected size of input's "
                           f"dimension 2 to match the calculated number of sliding blocks {out[0]} * {out[1]} = "
                           f"{_prod(out)}, but got input.size(2)={x.shape[2]}.")
    res = _Fold.apply(x, padded, out, kernel, dilation, pads, stride)
    return res.squeeze(0) if unbatched else res
