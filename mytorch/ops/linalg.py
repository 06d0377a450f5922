"""Matrix products: matmul (@), mm, bmm, mv, dot, outer, inner, addmm family, einsum, tensordot.

Gradients of a product C = A @ B are dA = dC @ B^T and dB = A^T @ dC; the engine sums them over
broadcast batch dims. einsum's gradient for operand i is another einsum: the output gradient
contracted with every other operand, giving operand i's subscripts.
"""
import math
import string

import numpy as np

from .. import _dtype, cpu_kernels
from .._array import repeat_view, xp_of
from ..autograd.function import Function, autocast
from ..tensor import Tensor
from ._registry import public, tensor_methods
from ._util import check_same_device

_DTYPE_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
                "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
                "uint8": "unsigned char", "bool": "bool"}
_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                 "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _shape_str(shape):
    return "x".join(str(n) for n in shape)


def _check_dtypes(op, a, b):
    check_same_device(op, a, b)
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_DTYPE_NAMES[a.dtype.name]} != "
                           f"{_DTYPE_NAMES[b.dtype.name]}")


def shape_only(a):
    """A zero-memory stand-in with a's shape and dtype, for a saved operand whose values backward won't read."""
    return repeat_view(xp_of(a).zeros((), a.dtype), a.shape)


def _refuse_bool(kernel, a):
    """numpy multiplies bool matrices (as logical and/or); PyTorch has no such kernel."""
    if a._data.dtype == np.bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def _fold_rows(a):
    """(..., m, k) -> (prod(...) * m, k): one big GEMM instead of a batch of small ones."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])  # not -1: k may be 0


def _blas_ready(a):
    """numpy's matmul leaves BLAS (100x slower) for stride-0 or doubly strided matrices: copy those."""
    if a.ndim and not a.flags.c_contiguous:
        inner = a.strides[-2:]
        if 0 in inner or a.itemsize not in inner:
            return xp_of(a).ascontiguousarray(a)
    return a


_HALF = {np.dtype(np.float16)}
_dtype.on_bfloat16(_HALF.add)
_FLOAT32 = np.dtype(np.float32)


def acc_dtype(a):
    """float32 for float16/bfloat16 arrays (sums over many terms accumulate in it, as PyTorch's do), else None."""
    return _FLOAT32 if a.dtype in _HALF else None


def _matmul(a, b, out_dtype=None, bias=None):
    """a @ b (numpy semantics), + bias (a row added to every row of the product: linear's, addmm's) when
    given. numpy has no float16/bfloat16 GEMM (its loops are ~10x slower and round every partial sum), so
    half inputs on the CPU are multiplied in float32 and the product rounded once, as tensor cores do (half
    inputs, float32 accumulation). out_dtype=float32 keeps the float32 product."""
    if a.dtype in _HALF and (type(a) is np.ndarray or out_dtype is not None):
        if type(a) is np.ndarray:
            out = _matmul(a.astype(_FLOAT32), b.astype(_FLOAT32))
            out = out if out_dtype == _FLOAT32 else out.astype(a.dtype)
        else:
            out = _matmul(a, b).astype(out_dtype)
        if bias is not None:
            out += bias
        return out
    a, b = _blas_ready(a), _blas_ready(b)
    if a.ndim > 2 and b.ndim == 2:
        return _product(_fold_rows(a), b, bias).reshape(a.shape[:-1] + b.shape[-1:])
    return _product(a, b, bias)


def _product(a, b, bias=None, out=None):
    """a @ b (+ bias); large float CPU products on mytorch's thread pool (cpu_kernels.gemm), like its other
    bodies, which write the bias in place before the product is added to it. out: an array of the product's
    shape and dtype to write it into (no bias)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.dtype.kind == "f" and cpu_kernels.available():
        from ..cpu_kernels import gemm

        res = gemm.matmul(a, b, bias, out)
        if res is not None:
            return res
    if out is not None:
        return xp_of(a).matmul(a, b, out=out)
    res = a @ b
    if bias is not None:
        res += bias
    return res


def column_sums(a):
    """a.sum(0) of a 2-D float array (a bias's gradient). Large float32 CPU arrays take one compiled pass over
    a's rows, by columns over the threads (cpu_kernels.reduce); other float CPU arrays a row of ones times a,
    a product that reads a once on the pool's threads (numpy's sum(0) adds a's rows into the result one after
    another on one thread); half arrays sum in float32, as PyTorch's do."""
    if cpu_kernels.use(a):
        from ..cpu_kernels import reduce

        return reduce.column_sums(a)
    if type(a) is np.ndarray and a.dtype.char in "fd":
        return _matmul(np.ones((1, a.shape[0]), a.dtype), a)[0]
    return a.sum(axis=0, dtype=acc_dtype(a))


def _matmul_grads(a, b, grad, need_a, need_b):
    """Input gradients of a @ b (numpy matmul semantics, 1-D operands included)."""
    xp = xp_of(grad)
    if grad.dtype.kind == "c":  # complex: dA = dC @ B^H, dB = A^H @ dC
        a, b = (a.conj() if need_b else a), (b.conj() if need_a else b)
    if a.ndim == 1 and b.ndim == 1:  # dot product: grad is a scalar
        return (grad * b if need_a else None), (grad * a if need_b else None)
    a2 = a[None, :] if a.ndim == 1 else a  # (..., m, k)
    b2 = b[:, None] if b.ndim == 1 else b  # (..., k, n)
    g = _blas_ready(grad)
    if a.ndim == 1:
        g = xp.expand_dims(g, -2)
    if b.ndim == 1:
        g = xp.expand_dims(g, -1)  # g: (..., m, n)
    ga = gb = None
    if need_a:
        ga = _matmul(g, xp.swapaxes(b2, -1, -2))
        if a.ndim == 1:
            ga = ga[..., 0, :]
    if need_b:
        if b2.ndim == 2 and g.ndim > 2:  # weight-like b: contract all rows at once
            gb = _fold_rows(a2).T @ _fold_rows(g)
        else:
            gb = _matmul(xp.swapaxes(a2, -1, -2), g)
        if b.ndim == 1:
            gb = gb[..., 0]
    return ga, gb


def matmul_grads_t(a, b, grad, need_a, need_b):
    """_matmul_grads in recorded Tensor ops (a differentiable_backward's): the engine sums broadcast batch dims."""
    if grad.is_complex():
        a, b = (a.conj() if need_b else a), (b.conj() if need_a else b)
    if a.ndim == 1 and b.ndim == 1:
        return (grad * b if need_a else None), (grad * a if need_b else None)
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    g = grad.unsqueeze(-2) if a.ndim == 1 else grad
    g = g.unsqueeze(-1) if b.ndim == 1 else g
    ga = gb = None
    if need_a:
        ga = g.matmul(b2.transpose(-1, -2))
        ga = ga.squeeze(-2) if a.ndim == 1 else ga
    if need_b:
        gb = a2.transpose(-1, -2).matmul(g)
        gb = gb.squeeze(-1) if b.ndim == 1 else gb
    return ga, gb


class Matmul(Function):
    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        # as PyTorch, keep b only for a's gradient and a only for b's (the other is a shape-only stand-in)
        ctx.save_for_backward(a if need_b else shape_only(a), b if need_a else shape_only(b))
        return _matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _matmul_grads(a, b, grad, *ctx.needs_input_grad)

    @staticmethod
    def differentiable_backward(ctx, grad):
        a, b = ctx.saved_tensors
        return matmul_grads_t(a, b, grad, *ctx.needs_input_grad)


class Mm(Matmul):
    pass


class Bmm(Matmul):
    pass


class Mv(Matmul):
    pass


class Dot(Matmul):
    pass


def _check_matmul_shapes(a, b):
    sa, sb = a._data.shape, b._data.shape  # tuples (a Tensor's .shape builds a Size)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D")
    k_a, k_b = sa[-1], (sb[0] if b.ndim == 1 else sb[-2])
    if a.ndim == 1 and b.ndim == 1:
        if k_a != k_b:
            _dot_size_error(k_a, k_b)
        return
    batch_a, batch_b = sa[:-2], sb[:-2]
    for i in range(1, min(len(batch_a), len(batch_b)) + 1):
        x, y = batch_a[-i], batch_b[-i]
        if x != y and x != 1 and y != 1:
            d = max(len(batch_a), len(batch_b)) - i
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) at non-singleton "
                               f"dimension {d}")
    if k_a == k_b:
        return
    if b.ndim == 1:
        rows = math.prod(sa[:-1])
        raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k_a}), vec ({k_b})")
    if b.ndim == 2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({math.prod(sa[:-1])}x{k_a} and "
                           f"{_shape_str(sb)})")
    batch = math.prod(np.broadcast_shapes(batch_a, batch_b))
    raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, {k_a}] but got: "
                       f"[{batch}, {k_b}].")


def _dot_size_error(n, m):
    raise RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the same number of "
                       f"elements, but got {n} and {m} elements respectively")


def matmul(input, other):
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not "
                        f"{type(other if isinstance(input, Tensor) else input).__name__}")
    if autocast.enabled:
        input, other = autocast.cast("matmul", input, other)
    _check_matmul_shapes(input, other)
    if input.ndim == 1 and other.ndim == 1:
        return dot(input, other)
    _check_dtypes("matmul", input, other)
    _refuse_bool("addmv_impl_cpu" if other.ndim == 1 else "addmm_impl_cpu_" if other.ndim == 2 else "bmm", input)
    return Matmul.apply(input, other)


def mm(input, mat2):
    if autocast.enabled:
        input, mat2 = autocast.cast("mm", input, mat2)
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_shape_str(input.shape)} and "
                           f"{_shape_str(mat2.shape)})")
    _check_dtypes("mm", input, mat2)
    _refuse_bool("addmm_impl_cpu_", input)
    return Mm.apply(input, mat2)


def _check_bmm(batch1, batch2):
    if batch1.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if batch2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    b, _, k = batch1.shape
    if tuple(batch2.shape[:2]) != (b, k):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {k}] but got: "
                           f"[{batch2.shape[0]}, {batch2.shape[1]}].")
    if batch1._data.dtype != batch2._data.dtype:
        raise RuntimeError(f"expected scalar type {_SCALAR_NAMES[batch1.dtype.name]} but found "
                           f"{_SCALAR_NAMES[batch2.dtype.name]}")


def bmm(input, mat2):
    if autocast.enabled:
        input, mat2 = autocast.cast("bmm", input, mat2)
    _check_bmm(input, mat2)
    check_same_device("bmm", input, mat2)
    _refuse_bool("bmm", input)
    return Bmm.apply(input, mat2)


def _check_mv(mat, vec):
    if mat.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {mat.ndim}, {vec.ndim}")
    if mat.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({mat.shape[0]}), mat ({_shape_str(mat.shape)}), "
                           f"vec ({vec.shape[0]})")


def mv(input, vec):
    if autocast.enabled:
        input, vec = autocast.cast("mv", input, vec)
    _check_mv(input, vec)
    _check_dtypes("mv", input, vec)
    _refuse_bool("addmv_impl_cpu", input)
    return Mv.apply(input, vec)


def dot(input, tensor):
    if autocast.enabled:
        input, tensor = autocast.cast("dot", input, tensor)
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input.shape[0] != tensor.shape[0]:
        _dot_size_error(input.shape[0], tensor.shape[0])
    if input._data.dtype != tensor._data.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{_SCALAR_NAMES[input.dtype.name]} and {_SCALAR_NAMES[tensor.dtype.name]}")
    check_same_device("dot", input, tensor)
    _refuse_bool("dot", input)
    return Dot.apply(input, tensor)


def outer(input, vec2):
    for name, v in (("self", input), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
    return input.reshape(-1, 1) * vec2


def inner(input, other):
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, dims=([-1], [-1]))


# ---------------------------------------------------------------------------------------------
# beta * input + alpha * (product): addmm, addmv, addr, baddbmm, addbmm
# ---------------------------------------------------------------------------------------------
class AddMatmul(Function):
    """out = beta * input + alpha * (a @ b), summed over the batch when `sum_batch` (addbmm).
    With beta == 0 the input is ignored (NaN in it does not propagate), as in PyTorch."""

    @staticmethod
    def forward(ctx, input, a, b, beta, alpha, sum_batch):
        xp = xp_of(a)
        prod = _matmul(a, b)
        if sum_batch:
            prod = prod.sum(axis=0)
        out = prod if alpha == 1 else prod * alpha
        if beta != 0:
            try:
                out_shape = np.broadcast_shapes(input.shape, out.shape)
            except ValueError:
                out_shape = None
            if out_shape != out.shape:
                raise RuntimeError(f"The expanded size of the tensor ({out.shape[-1]}) must match the existing size "
                                   f"({input.shape[-1]}) at non-singleton dimension {out.ndim - 1}.  Target sizes: "
                                   f"{list(out.shape)}.  Tensor sizes: {list(input.shape)}")
            out = out + (input if beta == 1 else beta * input)
        ctx.save_for_backward(a, b)
        ctx.meta = (beta, alpha, sum_batch)
        return xp.asarray(out, dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        beta, alpha, sum_batch = ctx.meta
        xp = xp_of(grad)
        need_in, need_a, need_b = ctx.needs_input_grad[:3]
        if isinstance(beta, complex) or isinstance(alpha, complex):  # complex scales enter conjugated
            beta, alpha = beta.conjugate(), alpha.conjugate()
        g_in = (grad * beta if beta != 1 else grad) if need_in else None
        g = grad * alpha if alpha != 1 else grad
        if sum_batch:
            g = xp.broadcast_to(g, (a.shape[0],) + g.shape)
        ga, gb = _matmul_grads(a, b, g, need_a, need_b)
        return g_in, ga, gb, None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        a, b = ctx.saved_tensors
        beta, alpha, sum_batch = ctx.meta
        need_in, need_a, need_b = ctx.needs_input_grad[:3]
        if isinstance(beta, complex) or isinstance(alpha, complex):
            beta, alpha = beta.conjugate(), alpha.conjugate()
        g_in = (grad * beta if beta != 1 else grad) if need_in else None
        g = grad * alpha if alpha != 1 else grad
        if sum_batch:
            g = g.expand((a.shape[0],) + tuple(g.shape))
        ga, gb = matmul_grads_t(a, b, g, need_a, need_b)
        return g_in, ga, gb, None, None, None


def _add_matmul(op, input, a, b, beta, alpha, sum_batch=False):
    if autocast.enabled:
        input, a, b = autocast.cast(op, input, a, b)
    for t in (input, b):
        if t._data.dtype != a._data.dtype:
            raise RuntimeError(f"{op}: expected all tensors to have the same dtype, but got "
                               f"{a.dtype.name} and {t.dtype.name}")
    check_same_device(op, input, a)
    check_same_device(op, a, b)
    return AddMatmul.apply(input, a, b, beta, alpha, sum_batch)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"{'mat1' if mat1.ndim != 2 else 'mat2'} must be a matrix, got "
                           f"{(mat1 if mat1.ndim != 2 else mat2).ndim}-D tensor")
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_shape_str(mat1.shape)} and "
                           f"{_shape_str(mat2.shape)})")
    return _add_matmul("addmm", input, mat1, mat2, beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    _check_mv(mat, vec)
    return _add_matmul("addmv", input, mat, vec, beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.ndim}-D")
    return _add_matmul("addr", input, vec1.reshape(-1, 1), vec2.reshape(1, -1), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    _check_bmm(batch1, batch2)
    return _add_matmul("baddbmm", input, batch1, batch2, beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    _check_bmm(batch1, batch2)
    return _add_matmul("addbmm", input, batch1, batch2, beta, alpha, sum_batch=True)


# ---------------------------------------------------------------------------------------------
# einsum and tensordot
# ---------------------------------------------------------------------------------------------
def _parse_einsum(equation, shapes):
    """Rewrite an equation with explicit letters only: ellipses expanded, output made explicit.
    Returns (input terms, output term, {letter: size})."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    if len(terms) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    for c in eq.replace("...", "").replace(",", "").replace("->", ""):
        if c not in string.ascii_letters:
            raise RuntimeError(f"einsum(): invalid subscript given at index {eq.index(c)} in the equation string, "
                               f"subscripts must be in [a-zA-Z]")
    free = iter(c for c in string.ascii_letters if c not in eq)
    ell_ndims = [len(s) - (len(t) - 3) for t, s in zip(terms, shapes) if "..." in t]
    ell = "".join(next(free) for _ in range(max(ell_ndims, default=0)))
    expanded = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        if "..." in term:
            n = len(shape) - (len(term) - 3)
            if n < 0:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(term) - 3}) is more "
                                   f"than the number of dimensions ({len(shape)}) for operand {i}")
            term = term.replace("...", ell[len(ell) - n:])
        elif len(term) != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(term)}) does not match "
                               f"the number of dimensions ({len(shape)}) for operand {i} and no ellipsis was given")
        expanded.append(term)
    sizes = {}
    for i, (term, shape) in enumerate(zip(expanded, shapes)):
        for c, n in zip(term, shape):
            seen = sizes.get(c)
            if seen is None or seen == 1:
                sizes[c] = n
            elif n != seen and n != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which does not broadcast "
                                   f"with previously seen size {seen}")
    if arrow:
        out = rhs.replace("...", ell)
        for c in out:
            if c not in sizes:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input "
                                   f"operand")
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
    else:  # implicit: ellipsis dims, then letters used exactly once, alphabetically
        letters = "".join(expanded)
        out = ell + "".join(sorted(c for c in set(letters) if c not in ell and letters.count(c) == 1))
    return expanded, out, sizes


def _einsum(xp, terms, out, arrays):
    return xp.einsum(",".join(terms) + "->" + out, *arrays, optimize=len(arrays) > 1)


class Einsum(Function):
    @staticmethod
    def forward(ctx, spec, *arrays):
        terms, out, _ = spec
        ctx.spec = spec
        needs = ctx.needs_input_grad[1:]  # an operand's values feed only the other operands' gradients
        ctx.save_for_backward(*(a if any(n for j, n in enumerate(needs) if j != i) else shape_only(a)
                                for i, a in enumerate(arrays)))
        xp = xp_of(arrays[0])
        result = xp.asarray(_einsum(xp, terms, out, arrays))
        if len(arrays) == 1 and xp.may_share_memory(result, arrays[0]):  # 'ij->ji', 'ii->i' return views
            result = result.copy()
        return result

    @staticmethod
    def backward(ctx, grad):
        terms, out, sizes = ctx.spec
        arrays = ctx.saved_tensors
        xp = xp_of(grad)
        grads = [None]
        for i, (term, arr) in enumerate(zip(terms, arrays)):
            if not ctx.needs_input_grad[i + 1]:
                grads.append(None)
                continue
            other_terms = [t for j, t in enumerate(terms) if j != i] + [out]
            others = [a for j, a in enumerate(arrays) if j != i] + [grad]
            if grad.dtype.kind == "c":  # complex: the other operands enter conjugated (PyTorch's convention)
                others = [xp.conj(a) for a in others[:-1]] + [grad]
            available = set("".join(other_terms))
            unique = "".join(dict.fromkeys(term))
            kept = "".join(c for c in unique if c in available)
            g = _einsum(xp, other_terms, kept, others)
            if kept != term:
                g = _einsum_build(xp, g, kept, term, sizes, arr.dtype)
            grads.append(g)
        return tuple(grads)

    @staticmethod
    def differentiable_backward(ctx, grad):
        terms, out, sizes = ctx.spec
        arrays = ctx.saved_tensors
        grads = [None]
        for i, (term, arr) in enumerate(zip(terms, arrays)):
            if not ctx.needs_input_grad[i + 1]:
                grads.append(None)
                continue
            other_terms = [t for j, t in enumerate(terms) if j != i] + [out]
            others = [a for j, a in enumerate(arrays) if j != i] + [grad]
            if grad.is_complex():
                others = [a.conj() for a in others[:-1]] + [grad]
            if len(set(term)) != len(term) or not set(term) <= set("".join(other_terms)):
                raise RuntimeError("the derivative of einsum with a repeated or summed-out subscript is not "
                                   "implemented for create_graph=True")
            grads.append(einsum(",".join(other_terms) + "->" + term, *others))
        return tuple(grads)


def _einsum_build(xp, g, kept, term, sizes, dtype):
    """Spread g (subscripts `kept`) to operand subscripts `term`: repeated letters go on the
    diagonal (via identity matrices), letters summed only inside this operand are broadcast."""
    used = set(term) | set(kept)
    fresh = iter(c for c in string.ascii_letters if c not in used)
    target, extra_terms, extra = [], [], []
    seen = set()
    for c in term:
        if c in seen:  # repeated letter: a new letter tied to c by an identity matrix
            d = next(fresh)
            extra_terms.append(c + d)
            extra.append(xp.eye(sizes[c], dtype=dtype))
            target.append(d)
        else:
            seen.add(c)
            target.append(c)
    for c in seen - set(kept):  # letter summed away inside this operand only: broadcast
        extra_terms.append(c)
        extra.append(xp.ones(sizes[c], dtype=dtype))
    return _einsum(xp, [kept] + extra_terms, "".join(target), [g] + extra)


def _sublist_equation(args):
    """einsum(a, [0, 1], b, [1, 2], [0, 2]) -> ("Ab,bc->Ac", (a, b)); ints 0-51 map to A-Za-z, Ellipsis to ..."""
    def term(sub):
        return "".join("..." if s is Ellipsis else string.ascii_letters[(s + 26) % 52] for s in sub)

    operands, terms = args[0::2], args[1::2]
    output = None
    if len(operands) > len(terms):  # a trailing output sublist
        operands, output = operands[:-1], operands[-1]
    equation = ",".join(term(t) for t in terms)
    return (equation if output is None else equation + "->" + term(output)), tuple(operands)


def einsum(*args):
    if args and isinstance(args[0], Tensor):
        equation, operands = _sublist_equation(args)
    else:
        equation, operands = args[0], args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    if autocast.enabled:
        operands = autocast.cast("einsum", *operands)
    for t in operands[1:]:
        if t._data.dtype != operands[0]._data.dtype:
            raise RuntimeError(f"expected scalar type {_SCALAR_NAMES[operands[0].dtype.name]} but found "
                               f"{_SCALAR_NAMES[t.dtype.name]}")
        check_same_device("einsum", operands[0], t)
    terms, out, sizes = _parse_einsum(equation, [t.shape for t in operands])
    # stretch size-1 (broadcast) dims explicitly so every backend sees equal sizes
    stretched = []
    for term, t in zip(terms, operands):
        shape = tuple(sizes[c] for c in term)
        if shape != tuple(t.shape) and len(set(term)) == len(term):
            t = t.expand(*shape)
        stretched.append(t)
    return Einsum.apply((terms, out, sizes), *stretched)


def tensordot(a, b, dims=2):
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a, dims_b = list(range(-dims, 0)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    letters = iter(string.ascii_letters)
    term_a = [next(letters) for _ in range(a.ndim)]
    term_b = [next(letters) for _ in range(b.ndim)]
    for da, db in zip(dims_a, dims_b):
        ia, ib = da % a.ndim, db % b.ndim
        if a.shape[ia] != b.shape[ib] and 1 in (a.shape[ia], b.shape[ib]):
            if a.shape[ia] == 1:
                a = a.expand(*a.shape[:ia], b.shape[ib], *a.shape[ia + 1:])
            else:
                b = b.expand(*b.shape[:ib], a.shape[ia], *b.shape[ib + 1:])
        elif a.shape[ia] != b.shape[ib]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[ia]} in dim {da} "
                               f"and second has size {b.shape[ib]} in dim {db}")
        term_b[ib] = term_a[ia]
    contracted = {term_a[d % a.ndim] for d in dims_a}
    out = [c for c in term_a if c not in contracted] + [c for c in term_b if c not in contracted]
    return einsum("".join(term_a) + "," + "".join(term_b) + "->" + "".join(out), a, b)


# ---------------------------------------------------------------------------------------------
# Tensor methods and public names
# ---------------------------------------------------------------------------------------------
def _matmul_op(self, other):
    return matmul(self, other) if isinstance(other, Tensor) else NotImplemented


def _rmatmul_op(self, other):
    return matmul(other, self) if isinstance(other, Tensor) else NotImplemented


tensor_methods(
    __matmul__=_matmul_op, __rmatmul__=_rmatmul_op, matmul=matmul, mm=mm, bmm=bmm, mv=mv, dot=dot, outer=outer,
    ger=outer, inner=inner, addmm=addmm, addmv=addmv, addr=addr, baddbmm=baddbmm, addbmm=addbmm,
)

public(matmul, mm, bmm, mv, dot, outer, inner, addmm, addmv, addr, baddbmm, addbmm, einsum, tensordot)
public(ger=outer)
