"""linear, bilinear, embedding, one_hot and the dropout family."""
import math

import numpy as np

from ... import _determinism, _dtype, cpu_kernels
from ..._array import CPU, device_of_array, on_device, xp_of
from ...autograd.function import Function, autocast
from ...ops.inplace import apply_inplace
from ...ops.linalg import _matmul, column_sums, shape_only
from ...random import rng_for
from ...tensor import Tensor

__all__ = ["linear", "bilinear", "embedding", "one_hot", "dropout", "dropout1d", "dropout2d", "dropout3d",
           "alpha_dropout", "feature_alpha_dropout"]


def _dtype_name(arr):
    return _dtype.from_numpy_dtype(arr.dtype).name.capitalize()


# ---------------------------------------------------------------------------------------------
# linear: y = x W^T + b, any number of leading dims
# ---------------------------------------------------------------------------------------------
class Linear(Function):
    """fused=True runs the Triton matmul kernels (mytorch.kernels.linear) instead of numpy/cupy `@`."""

    @staticmethod
    def forward(ctx, x, weight, bias, fused=False):
        need_x, need_w = ctx.needs_input_grad[:2]
        if fused:
            ctx.save_for_backward(x, weight)
        else:  # as PyTorch: x only for the weight's gradient, the weight only for x's
            ctx.save_for_backward(x if need_w else shape_only(x), weight if need_x else shape_only(weight))
        ctx.has_bias, ctx.fused = bias is not None, fused
        if fused:
            from ...kernels import linear as kernel

            return kernel.linear_fwd(x, weight, bias)[0]
        return _matmul(x, weight.T, bias=bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if ctx.fused:
            from ...kernels import linear as kernel

            dx, dw, db = kernel.linear_bwd(grad, x, weight, need_dx=need_x, need_dweight=need_w,
                                           need_dbias=need_b and ctx.has_bias)
            return dx, dw, db, None
        if grad.dtype.kind == "c":  # complex: dx = g conj(W), dW = g^T conj(x)
            x, weight = (x.conj() if need_w else x), (weight.conj() if need_x else weight)
        grad_x = _matmul(grad, weight) if need_x else None
        grad_w = grad_b = None
        if need_w or need_b:
            g2 = grad.reshape(-1, weight.shape[0])
            if need_w:
                grad_w = _matmul(g2.T, x.reshape(g2.shape[0], weight.shape[1]))  # not -1: K may be 0
            if need_b:
                grad_b = column_sums(g2)  # half: float32, which the engine rounds to the bias dtype
        return grad_x, grad_w, grad_b, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if grad.is_complex():
            x, weight = (x.conj() if need_w else x), (weight.conj() if need_x else weight)
        grad_x = grad.matmul(weight) if need_x else None
        grad_w = grad_b = None
        g2 = grad.reshape(-1, weight.shape[0])
        if need_w:
            grad_w = g2.t().matmul(x.reshape(g2.shape[0], weight.shape[1]))
        if need_b:
            grad_b = g2.sum(0)
        return grad_x, grad_w, grad_b, None


# backward kernels that accumulate with tl.atomic_add (flash attention drops its dQ atomics by itself then)
_ATOMIC_KERNELS = {"embedding"}


def _use_fused(op, fused, *tensors):
    """The Triton kernel runs when asked (the module's `fused` flag or the global switch), the op's flag in
    mytorch.backends.fused is on, kernels can run here, and every float tensor is float16/float32."""
    from ... import backends

    flags = backends.fused
    if not ((fused or flags.enabled) and getattr(flags, op)):
        return False
    from ...kernels import is_available

    if not is_available():
        return False
    if op in _ATOMIC_KERNELS and _determinism.are_deterministic_algorithms_enabled():
        return False  # their float atomic adds sum in a varying order: take the deterministic path
    return all(t is None or t._data.dtype in (np.float16, np.float32) for t in tensors)


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias; input (*, in_features), weight (out_features, in_features)."""
    return _linear(input, weight, bias)


def _linear(input, weight, bias=None, fused=False):
    """F.linear with nn.Linear's `fused` request (F.linear keeps PyTorch's signature)."""
    if autocast.enabled:
        input, weight, bias = autocast.cast("linear", input, weight, bias)
    x, w = input._data, weight._data
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        rows = math.prod(x.shape[:-1]) if x.ndim > 1 else 1
        mat2 = "x".join(str(s) for s in w.shape[::-1])
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1] if x.ndim else 1} "
                           f"and {mat2})")
    if x.dtype != w.dtype or (bias is not None and bias._data.dtype != w.dtype):
        other = bias._data if x.dtype == w.dtype else x
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_dtype_name(other)} and "
                           f"{_dtype_name(w)}")
    fused = w.shape[1] > 0 and _use_fused("linear", fused, input, weight, bias)  # the kernel needs K > 0
    return Linear.apply(input, weight, bias, fused)


# ---------------------------------------------------------------------------------------------
# bilinear: y_o = x1^T A_o x2 + b_o
# ---------------------------------------------------------------------------------------------
class Bilinear(Function):
    @staticmethod
    def forward(ctx, x1, x2, weight, bias):
        xp = xp_of(x1)
        ctx.save_for_backward(x1, x2, weight)
        out = xp.einsum("...i,oij,...j->...o", x1, weight, x2, optimize=True)
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, grad):
        x1, x2, weight = ctx.saved_tensors
        xp = xp_of(x1)
        n1, n2, nw, nb = ctx.needs_input_grad
        g1 = xp.einsum("...o,oij,...j->...i", grad, weight, x2, optimize=True) if n1 else None
        g2 = xp.einsum("...o,oij,...i->...j", grad, weight, x1, optimize=True) if n2 else None
        gw = xp.einsum("...o,...i,...j->oij", grad, x1, x2, optimize=True) if nw else None
        gb = grad.reshape(-1, grad.shape[-1]).sum(axis=0) if nb else None
        return g1, g2, gw, gb

    @staticmethod
    def differentiable_backward(ctx, grad):
        from ...ops.linalg import einsum

        x1, x2, weight = ctx.saved_tensors
        n1, n2, nw, nb = ctx.needs_input_grad
        g1 = einsum("...o,oij,...j->...i", grad, weight, x2) if n1 else None
        g2 = einsum("...o,oij,...i->...j", grad, weight, x1) if n2 else None
        gw = einsum("...o,...i,...j->oij", grad, x1, x2) if nw else None
        gb = grad.reshape(-1, grad.shape[-1]).sum(0) if nb else None
        return g1, g2, gw, gb


def bilinear(input1, input2, weight, bias=None):
    if autocast.enabled:
        input1, input2, weight, bias = autocast.cast("bilinear", input1, input2, weight, bias)
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
                           f"{list(input2.shape[:-1])}")
    if weight.dim() != 3 or input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear(): input sizes {input1.shape[-1]}, {input2.shape[-1]} do not match weight "
                           f"size {list(weight.shape)}")
    return Bilinear.apply(input1, input2, weight, bias)


# ---------------------------------------------------------------------------------------------
# embedding: a row lookup; its gradient scatters rows back (repeated indices add up)
# ---------------------------------------------------------------------------------------------
def _scatter_add_rows(xp, target, idx, rows):
    if xp is np:
        if (target.ndim == rows.ndim == 2 and target.dtype.char in "fd" and rows.dtype == target.dtype
                and idx.dtype.kind in "iu" and cpu_kernels.available()):
            from ...cpu_kernels import scatter

            scatter.add_rows(target, np.ascontiguousarray(idx), np.ascontiguousarray(rows))
            return
        np.add.at(target, idx, rows)
    else:
        import cupyx

        cupyx.scatter_add(target, idx, rows)


class Embedding(Function):
    """fused=True gathers rows / scatter-adds their gradient with the Triton kernels (mytorch.kernels.embedding)."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq, fused=False):
        ctx.save_for_backward(indices)
        ctx.meta = (weight.shape, padding_idx, scale_grad_by_freq)
        ctx.fused = fused
        if fused:
            from ...kernels import embedding as kernel

            return kernel.embedding_fwd(indices, weight)
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        shape, padding_idx, by_freq = ctx.meta
        if ctx.fused:
            from ...kernels import embedding as kernel

            return kernel.embedding_bwd(grad, indices, shape[0], padding_idx), None, None, None, None
        xp = xp_of(grad)
        flat_idx = indices.reshape(-1)
        rows = grad.reshape(-1, shape[1])
        if by_freq:  # scale each row's gradient by 1 / (count of its index in this batch)
            counts = xp.bincount(flat_idx, minlength=shape[0])
            rows = rows / counts[flat_idx][:, None].astype(rows.dtype)
        grad_w = xp.zeros(shape, dtype=grad.dtype)
        _scatter_add_rows(xp, grad_w, flat_idx, rows)
        if padding_idx is not None and padding_idx >= 0:
            grad_w[padding_idx] = 0
        return grad_w, None, None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        shape, padding_idx, by_freq = ctx.meta
        flat_idx = indices.reshape(-1)
        rows = grad.reshape(-1, shape[1])
        if by_freq:
            counts = xp_of(flat_idx._data).bincount(flat_idx._data, minlength=shape[0])
            rows = rows / Tensor._make(counts[flat_idx._data][:, None].astype(rows._data.dtype))
        if padding_idx is not None and padding_idx >= 0:
            rows = rows.masked_fill((flat_idx == padding_idx).unsqueeze(1), 0.0)
        return grad.new_zeros(shape).index_add(0, flat_idx, rows), None, None, None, None


def _renorm_rows(weight, indices, max_norm, norm_type):
    """In place, no grad: rows referenced by `indices` with norm > max_norm are scaled to max_norm."""
    w = weight._data
    xp = xp_of(w)
    rows = xp.unique(indices._data.reshape(-1))
    sel = w[rows]
    norms = (xp.abs(sel) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    w[rows] = sel * scale[:, None]
    weight._version.value += 1


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """weight[input]; rows at padding_idx get no gradient. `sparse` grads are returned dense."""
    return _embedding(input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq)


def _embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
               fused=False):
    """F.embedding with nn.Embedding's `fused` request (the kernel has no scale_grad_by_freq)."""
    idx = input._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (while checking arguments for embedding)")
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= num or padding_idx < 0 and padding_idx < -num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            padding_idx += num
    fused = not scale_grad_by_freq and _use_fused("embedding", fused, weight)
    if not fused:  # the kernel checks the range itself, with no device->host sync on a GPU
        with on_device(input.device):  # cupy computes on the current GPU
            if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num):
                raise IndexError("index out of range in self")
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    return Embedding.apply(weight, input, padding_idx, scale_grad_by_freq, fused)


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape (*tensor.shape, num_classes) with a 1 at each index."""
    idx = tensor._data
    if idx.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    xp = xp_of(idx)
    if idx.size and int(idx.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(idx.max()) + 1
    elif idx.size and int(idx.max()) >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = (idx[..., None] == xp.arange(num_classes)).astype(np.int64)
    return Tensor._make(out)


# ---------------------------------------------------------------------------------------------
# dropout: out = x * mask / (1 - p); the mask is saved as bool (1 byte per element)
# ---------------------------------------------------------------------------------------------
class Dropout(Function):
    """fused=True: the Triton kernel draws the mask from a counter-based RNG keyed by a seed taken from
    mytorch's generator, so nothing is stored and backward regenerates the same mask from the seed."""

    @staticmethod
    def forward(ctx, x, p, mask_shape, fused=False):
        xp = xp_of(x)
        ctx.fused = fused
        if fused:
            from ...kernels import dropout as kernel

            ctx.p, ctx.seed = p, int(rng_for(_device(x)).integers(0, 2 ** 31 - 1))
            return kernel.dropout_fwd(x, p, ctx.seed)
        if p == 1:
            keep = xp.zeros(mask_shape, dtype=bool)
            scale = 0.0
        else:
            keep = rng_for(_device(x)).random(mask_shape, dtype=np.float32) >= p
            scale = 1.0 / (1.0 - p)
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return (x * keep) * x.dtype.type(scale)

    @staticmethod
    def backward(ctx, grad):
        if ctx.fused:
            from ...kernels import dropout as kernel

            return kernel.dropout_bwd(grad, ctx.p, ctx.seed), None, None, None
        (keep,) = ctx.saved_tensors
        return (grad * keep) * grad.dtype.type(ctx.scale), None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        if ctx.fused:
            raise RuntimeError("the derivative of the fused (Triton) dropout is not implemented for "
                               "create_graph=True")
        (keep,) = ctx.saved_tensors
        return (grad * keep) * ctx.scale, None, None, None


def _device(arr):
    return CPU if type(arr) is np.ndarray else device_of_array(arr)


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(input, p, training, inplace, mask_shape, fused=False):
    _check_p(p)
    if not training or p == 0:
        return input
    # the kernel draws one mask value per element: feature dropout (a broadcast mask) stays unfused
    fused = tuple(mask_shape) == tuple(input.shape) and _use_fused("dropout", fused, input)
    if inplace:
        return apply_inplace(input, lambda t: Dropout.apply(t, p, mask_shape, fused))
    return Dropout.apply(input, p, mask_shape, fused)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p); identity when not training."""
    return _dropout(input, p, training, inplace, input.shape)


def _feature_mask_shape(input, batched):
    # one draw per (sample, channel): the mask broadcasts over the spatial dims
    shape = tuple(input.shape)
    keep = 2 if batched else 1
    return shape[:keep] + (1,) * (len(shape) - keep)


def dropout1d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    if input.dim() not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _dropout(input, p, training, inplace, _feature_mask_shape(input, input.dim() == 3))


def dropout2d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    # like PyTorch, a 3-D input is read as (N, C, L)
    return _dropout(input, p, training, inplace, _feature_mask_shape(input, input.dim() >= 3))


def dropout3d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    return _dropout(input, p, training, inplace, _feature_mask_shape(input, input.dim() == 5))


class AlphaDropout(Function):
    """SELU-preserving dropout: dropped units are set to the SELU negative saturation value, then an
    affine map a * x + b restores zero mean and unit variance (Klambauer et al. 2017)."""

    @staticmethod
    def forward(ctx, x, p, mask_shape):
        alpha = -1.7580993408473766  # -SELU scale * SELU alpha
        a = ((1 - p) * (1 + p * alpha * alpha)) ** -0.5
        b = -a * alpha * p
        keep = rng_for(_device(x)).random(mask_shape, dtype=np.float32) >= p
        ctx.save_for_backward(keep)
        ctx.a = a
        dt = x.dtype.type
        return xp_of(x).where(keep, x * dt(a), dt(a * alpha)) + dt(b)

    @staticmethod
    def backward(ctx, grad):
        (keep,) = ctx.saved_tensors
        return (grad * keep) * grad.dtype.type(ctx.a), None, None


def _alpha_dropout(input, p, training, inplace, mask_shape):
    _check_p(p)
    if not training or p == 0:
        return input
    if p == 1:
        return input.mul_(0) if inplace else input * 0
    if inplace:
        return apply_inplace(input, lambda t: AlphaDropout.apply(t, p, mask_shape))
    return AlphaDropout.apply(input, p, mask_shape)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _alpha_dropout(input, p, training, inplace, input.shape)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _alpha_dropout(input, p, training, inplace, _feature_mask_shape(input, True))
