"""Shape ops: views (transpose, reshape, expand, narrow, ...), joins (cat, stack), splits, and copies
(flip, roll, repeat, tril). Forward and backward together, on raw arrays.

View ops set `is_view = True`: their output is a numpy view of input 0 and shares its version
counter, so an in-place edit through a view is seen by autograd's saved-tensor checks.
Ops that PyTorch defines as copies (flip, repeat, ...) always copy, even where numpy could view.
"""
import builtins
import math

import numpy as np

from .. import _dtype, cpu_kernels
from .._array import data_address, xp_of
from ..autograd.function import Function
from ..tensor import Size, Tensor, wrap_dim
from ._registry import public, tensor_methods
from ._util import check_same_device

_VIEW_ERROR = ("view size is not compatible with input tensor's size and stride (at least one dimension spans "
               "across two contiguous subspaces). Use .reshape(...) instead.")


def _sizes(args):
    """Accept f(2, 3), f((2, 3)) and f([2, 3]) like PyTorch's IntArrayRef arguments."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        args = args[0]
    return tuple(int(a) for a in args)


# ---------------------------------------------------------------------------------------------
# views
# ---------------------------------------------------------------------------------------------
class Permute(Function):
    broadcast_grads = True
    is_view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        dims = ctx.dims  # the inverse permutation, in Python (np.argsort costs ~2 us here)
        return grad.transpose(sorted(range(len(dims)), key=dims.__getitem__)), None

    @staticmethod
    def differentiable_backward(ctx, grad):
        return grad.permute(*np.argsort(ctx.dims).tolist()), None


class View(Function):
    """A reshape that numpy can do without copying (the caller checked)."""

    broadcast_grads = True
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None

    @staticmethod
    def differentiable_backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None


class ReshapeCopy(Function):
    broadcast_grads = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        if type(x) is np.ndarray and x.size >= cpu_kernels.MIN_SIZE:  # a transposed view copies faster by tiles
            return cpu_kernels.contiguous_copy(x).reshape(shape)
        out = x.reshape(shape)  # numpy copies here: _can_view said no view exists
        return out.copy() if out.size and xp_of(out).may_share_memory(out, x) else out

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None

    @staticmethod
    def differentiable_backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None


class Expand(Function):
    broadcast_grads = True
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        xp = xp_of(x)
        if xp is not np:
            return xp.broadcast_to(x, shape)
        # numpy's broadcast_to is read-only; PyTorch's expand is a writable view whose repeated elements
        # share memory (x.expand(2, 3)[0, 0] = 5 writes both rows). In-place ops that would write one
        # location twice are refused in mytorch.ops.inplace, as in PyTorch.
        lead = len(shape) - x.ndim
        strides = [0] * lead + [0 if n == 1 and s != 1 else st for n, s, st in zip(x.shape, shape[lead:], x.strides)]
        return np.lib.stride_tricks.as_strided(x, shape, strides)

    @staticmethod
    def backward(ctx, grad):
        return grad, None  # the engine sums the broadcast dims back to x's shape

    differentiable_backward = backward


class Narrow(Function):
    broadcast_grads = True
    is_view = True

    @staticmethod
    def forward(ctx, x, dim, start, length):
        ctx.in_shape = x.shape
        ctx.key = (slice(None),) * dim + (slice(start, start + length),)
        return x[ctx.key]

    @staticmethod
    def backward(ctx, grad):
        out = xp_of(grad).zeros(ctx.in_shape, grad.dtype)
        out[ctx.key] = grad
        return out, None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        from .index import scatter_into

        return scatter_into(grad, ctx.in_shape, ctx.key), None, None, None


def _concatenate(arrays, dim):
    """np / cupy concatenate; large float CPU arrays copied over the threads (cpu_kernels.concatenate)."""
    xp = xp_of(arrays[0])
    return cpu_kernels.concatenate(arrays, dim) if xp is np else xp.concatenate(arrays, dim)


def _side_by_side(grads, shape, dim, pieces):
    """The array whose pieces along dim the gradients already are (attention's q, k, v gradients, written into
    one buffer laid out as the qkv projection: nn/functional/attention.py), so that concatenating them would
    copy it into itself; else None."""
    base = grads[0].base
    if type(base) is not np.ndarray or base.size != math.prod(shape) or base.dtype != grads[0].dtype or \
            not base.flags.c_contiguous:
        return None
    owner, base = base, base.reshape(shape)  # the buffer may have the projection's (rows, 3C) shape
    start = data_address(base)
    step = base.strides[dim]
    for g, (first, _) in zip(grads, pieces):
        if type(g) is not np.ndarray or g.base is not owner or g.strides != base.strides or \
                data_address(g) != start + first * step:
            return None
    return base


class Split(Function):
    """One node, several view outputs (split/chunk/unbind/tensor_split). pieces: (start, length) along dim;
    squeeze: unbind's integer selects. Unused outputs arrive as zero grads."""

    broadcast_grads = True
    is_view = True

    @staticmethod
    def forward(ctx, x, dim, pieces, squeeze):
        ctx.args = (x.shape, dim, pieces, squeeze)
        key = (slice(None),) * dim
        if squeeze:
            return tuple(x[key + (start,) + (Ellipsis,)] for start, _ in pieces)
        return tuple(x[key + (slice(start, start + n),)] for start, n in pieces)

    @staticmethod
    def backward(ctx, *grads):
        shape, dim, pieces, squeeze = ctx.args
        xp = xp_of(grads[0])
        if squeeze:
            return xp.stack(grads, dim), None, None, None
        if all(p[0] == q[0] + q[1] for q, p in zip(pieces, pieces[1:])) and sum(n for _, n in pieces) == shape[dim]:
            whole = _side_by_side(grads, shape, dim, pieces)
            return (_concatenate(grads, dim) if whole is None else whole), None, None, None
        out = xp.zeros(shape, grads[0].dtype)  # overlapping pieces (tensor_split with unsorted indices)
        key = (slice(None),) * dim
        for (start, n), g in zip(pieces, grads):
            out[key + (slice(start, start + n),)] += g
        return out, None, None, None

    @staticmethod
    def differentiable_backward(ctx, *grads):
        from .index import scatter_into

        shape, dim, pieces, squeeze = ctx.args
        if squeeze:
            return stack(grads, dim), None, None, None
        if all(p[0] == q[0] + q[1] for q, p in zip(pieces, pieces[1:])) and sum(n for _, n in pieces) == shape[dim]:
            return cat(grads, dim), None, None, None
        key = (slice(None),) * dim
        total = None
        for (start, n), g in zip(pieces, grads):
            part = scatter_into(g, shape, key + (slice(start, start + n),))
            total = part if total is None else total + part
        return total, None, None, None


def _pieces(sizes):
    out, start = [], 0
    for n in sizes:
        out.append((start, n))
        start += n
    return tuple(out)


def _diag_view(x, offset, dim1, dim2):
    """A writable strided view of a diagonal (numpy's own diagonal() is read-only)."""
    xp = xp_of(x)
    n1, n2 = x.shape[dim1], x.shape[dim2]
    length = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    start = [0] * x.ndim
    if length:
        start[dim2 if offset >= 0 else dim1] = abs(offset)
        x = x[tuple(slice(s, None) for s in start)]
    keep = [d for d in range(x.ndim) if d not in (dim1, dim2)]
    shape = tuple(x.shape[d] for d in keep) + (length,)
    strides = tuple(x.strides[d] for d in keep) + (x.strides[dim1] + x.strides[dim2],)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


class Diagonal(Function):
    is_view = True

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        ctx.args = (x.shape, offset, dim1, dim2)
        return _diag_view(x, offset, dim1, dim2)

    @staticmethod
    def backward(ctx, grad):
        shape, offset, dim1, dim2 = ctx.args
        out = xp_of(grad).zeros(shape, grad.dtype)
        _diag_view(out, offset, dim1, dim2)[...] = grad
        return out, None, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        shape, offset, dim1, dim2 = ctx.args
        return grad.new_zeros(shape).diagonal_scatter(grad, offset, dim1, dim2), None, None, None


class Contiguous(Function):
    @staticmethod
    def forward(ctx, x):
        return cpu_kernels.contiguous_copy(x)  # C order

    @staticmethod
    def backward(ctx, grad):
        return grad

    differentiable_backward = backward


def permute(input, *dims):
    dims = _sizes(dims)
    nd = input.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {nd} is not equal "
                           f"to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, nd) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, dims)


def transpose(input, dim0, dim1):
    nd = input.ndim
    d0, d1 = wrap_dim(dim0, nd), wrap_dim(dim1, nd)
    if nd == 0:
        return _alias(input)
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(input, tuple(dims))


def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else _alias(input)


def _alias(x):
    return Permute.apply(x, tuple(range(x.ndim)))


def _T(self):
    return Permute.apply(self, tuple(range(self.ndim - 1, -1, -1)))


def _mT(self):
    if self.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {self.ndim}-D tensor.")
    return transpose(self, -2, -1)


def _infer_shape(shape, numel):
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if any(s < -1 for s in shape):
        raise RuntimeError(f"invalid shape dimension {min(shape)}")
    known = math.prod(s for s in shape if s != -1)
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _can_view(x, shape):
    """Whether `x` can be reshaped to `shape` without copying: PyTorch's view rule (computeStride),
    in O(ndim) Python. Dims are grouped into chunks that are contiguous in memory; each group of new
    dims must exactly cover one chunk."""
    if not x.size or x.ndim == 0:
        return True
    old_shape, old_strides = x.shape, x.strides
    view_d = len(shape) - 1
    chunk_base_stride = old_strides[-1]
    tensor_numel = view_numel = 1
    for d in range(x.ndim - 1, -1, -1):
        tensor_numel *= old_shape[d]
        if d == 0 or (old_shape[d - 1] != 1 and old_strides[d - 1] != tensor_numel * chunk_base_stride):
            while view_d >= 0 and (view_numel < tensor_numel or shape[view_d] == 1):
                view_numel *= shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return False
            if d > 0:
                chunk_base_stride = old_strides[d - 1]
                tensor_numel = view_numel = 1
    return view_d == -1


def reshape(input, *shape):
    shape = _infer_shape(_sizes(shape), input.numel())
    if shape == input._data.shape:
        return _alias(input)
    return (View if _can_view(input._data, shape) else ReshapeCopy).apply(input, shape)


def view(self, *shape):
    if len(shape) == 1 and (isinstance(shape[0], _dtype.dtype) or shape[0] in (float, int, bool)):
        return _view_dtype(self, _dtype.to_dtype(shape[0]))
    shape = _infer_shape(_sizes(shape), self.numel())
    if not _can_view(self._data, shape):
        raise RuntimeError(_VIEW_ERROR)
    return View.apply(self, shape)


def _view_dtype(self, dtype):
    """Reinterpret the bytes as another dtype (no gradient), like torch's Tensor.view(dtype)."""
    out = Tensor._make(self._data.view(dtype.np))
    out._version, out._base = self._version, self._base if self._base is not None else self
    return out


def view_as(self, other):
    return view(self, other.shape)


def reshape_as(self, other):
    return reshape(self, other.shape)


def contiguous(self, memory_format=None):
    return self if self._data.flags.c_contiguous else Contiguous.apply(self)


def flatten(input, start_dim=0, end_dim=-1):
    shape = input.shape
    if input.ndim == 0:
        return reshape(input, (1,))
    s, e = wrap_dim(start_dim, input.ndim), wrap_dim(end_dim, input.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    return reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def ravel(input):
    return reshape(input, (-1,))


def unflatten(input, dim, sizes):
    d = wrap_dim(dim, input.ndim)
    sizes = tuple(sizes)
    n = input.shape[d]
    if -1 in sizes:
        sizes = _infer_shape(sizes, n)
    elif math.prod(sizes) != n:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
                           f"({n}) in the input tensor")
    return reshape(input, input.shape[:d] + sizes + input.shape[d + 1:])


def squeeze(input, dim=None):
    shape = input.shape
    if dim is None:
        dims = range(input.ndim)
    elif isinstance(dim, (tuple, list)):
        dims = [wrap_dim(d, input.ndim) for d in dim]
    else:
        dims = [wrap_dim(dim, input.ndim)]
    drop = {d for d in dims if input.ndim and shape[d] == 1}
    return View.apply(input, tuple(s for i, s in enumerate(shape) if i not in drop))


def unsqueeze(input, dim):
    d = wrap_dim(dim, input.ndim + 1)
    shape = input.shape
    return View.apply(input, shape[:d] + (1,) + shape[d:])


def expand(self, *sizes):
    sizes = _sizes(sizes)
    shape = self.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand({self.type()}{{{list(shape)}}}, size={list(sizes)}): the number of sizes "
                           f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the "
                           f"tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a leading, "
                                   f"non-existing dimension {i}")
            target.append(s)
            continue
        have = shape[i - lead]
        if s == -1:
            s = have
        elif have != s and have != 1:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({have}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(shape)}")
        target.append(s)
    return Expand.apply(self, tuple(target))


def expand_as(self, other):
    return expand(self, other.shape)


def broadcast_shapes(*shapes):
    try:
        return Size(np.broadcast_shapes(*(tuple(s) if not isinstance(s, int) else (s,) for s in shapes)))
    except ValueError:
        raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape: "
                           f"{', '.join(str(list(s)) for s in shapes)}") from None


def broadcast_to(input, size):
    return expand(input, tuple(size))


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


def narrow(input, dim, start, length):
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d]
    start = int(start)
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return Narrow.apply(input, d, start, int(length))


def diagonal(input, offset=0, dim1=0, dim2=1):
    d1, d2 = wrap_dim(dim1, input.ndim), wrap_dim(dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, offset, d1, d2)


def movedim(input, source, destination):
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should contain "
                           f"the same number of dims as destination ({dst} dims)")
    nd = input.ndim
    src = [wrap_dim(s, nd) for s in src]
    dst = [wrap_dim(d, nd) for d in dst]
    order = [None] * nd
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(nd) if d not in src)
    return Permute.apply(input, tuple(o if o is not None else next(rest) for o in order))


def _split_sizes(n, split_size_or_sections):
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                               f"at dimension {{dim}}), but got split_sizes={sizes}")
        return sizes
    size = int(split_size_or_sections)
    if size <= 0 and not (size == 0 and n == 0):
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
    if n == 0:
        return [0]
    return [size] * (n // size) + ([n % size] if n % size else [])


def split(tensor, split_size_or_sections, dim=0):
    d = wrap_dim(dim, tensor.ndim)
    try:
        sizes = _split_sizes(tensor.shape[d], split_size_or_sections)
    except RuntimeError as e:
        raise RuntimeError(str(e).replace("{dim}", str(d))) from None
    return Split.apply(tensor, d, _pieces(sizes), False)


def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d]
    size = -(-n // chunks) if n else 0
    return split(input, size, d) if n else Split.apply(input, d, ((0, 0),) * chunks, False)


def tensor_split(input, indices_or_sections, dim=0):
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
    else:
        bounds = [min(max(i + n if i < 0 else i, 0), n) for i in indices_or_sections]
        starts = [0] + bounds
        stops = bounds + [n]
        return Split.apply(input, d, tuple((a, max(b - a, 0)) for a, b in zip(starts, stops)), False)
    return Split.apply(input, d, _pieces(sizes), False)


def _nd_split(fn_name, min_dim, dim):
    def op(input, indices_or_sections):
        if input.ndim < min_dim:
            raise RuntimeError(f"torch.{fn_name} requires a tensor with at least {min_dim} dimension, but got a "
                               f"tensor with {input.ndim} dimensions!")
        d = 0 if (fn_name == "hsplit" and input.ndim == 1) else dim
        if isinstance(indices_or_sections, int) and input.shape[d] % indices_or_sections:
            raise RuntimeError(f"torch.{fn_name} attempted to split along dimension {d}, but the size of the "
                               f"dimension {input.shape[d]} is not divisible by the split_size "
                               f"{indices_or_sections}!")
        return tensor_split(input, indices_or_sections, d)

    op.__name__ = fn_name
    return op


hsplit = _nd_split("hsplit", 1, 1)
vsplit = _nd_split("vsplit", 2, 0)
dsplit = _nd_split("dsplit", 3, 2)


def unbind(input, dim=0):
    d = wrap_dim(dim, input.ndim)
    return Split.apply(input, d, tuple((i, 1) for i in range(input.shape[d])), True)


def select(input, dim, index):
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {d}")
    index = index + n if index < 0 else index
    return squeeze(Narrow.apply(input, d, index, 1), d)


def swapaxes(input, axis0, axis1):
    return transpose(input, axis0, axis1)


# ---------------------------------------------------------------------------------------------
# joins
# ---------------------------------------------------------------------------------------------
class Cat(Function):
    broadcast_grads = True

    @staticmethod
    def forward(ctx, dim, *arrays):
        # legacy rule: 1-D empty tensors are skipped whatever the other shapes
        kept = [a for a in arrays if not (a.ndim == 1 and a.shape[0] == 0)] or list(arrays[:1])
        ctx.dim, ctx.sizes = dim, [None if a.ndim == 1 and a.shape[0] == 0 else a.shape[dim] for a in arrays]
        return _concatenate(kept, dim)

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        grads, start = [None], 0
        key = (slice(None),) * ctx.dim
        for n in ctx.sizes:
            if n is None:
                grads.append(xp.zeros(0, grad.dtype))
            else:
                grads.append(grad[key + (slice(start, start + n),)])
                start += n
        return tuple(grads)

    @staticmethod
    def differentiable_backward(ctx, grad):
        grads, start = [None], 0
        for n in ctx.sizes:
            if n is None:
                grads.append(grad.new_zeros(0))
            else:
                grads.append(grad.narrow(ctx.dim, start, n))
                start += n
        return tuple(grads)


class Stack(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        return xp_of(arrays[0]).stack(arrays, dim)

    @staticmethod
    def backward(ctx, grad):
        key = (slice(None),) * ctx.dim
        return (None,) + tuple(grad[key + (i,)] for i in range(grad.shape[ctx.dim]))

    @staticmethod
    def differentiable_backward(ctx, grad):
        return (None,) + tuple(grad.unbind(ctx.dim))


def _common_dtype(tensors):
    first = tensors[0]._data.dtype
    if all(t._data.dtype == first for t in tensors):
        return tensors
    rt = tensors[0].dtype
    for t in tensors[1:]:
        if t.dtype != rt:
            rt = _dtype.promote_types(rt, t.dtype)
    return [t if t.dtype == rt else t.to(rt) for t in tensors]


def cat(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    check_same_device("cat", *tensors)
    tensors = _common_dtype(tensors)
    shapes = [t._data.shape for t in tensors]  # tuples (a Tensor's .shape builds a Size)
    kept = [s for s in shapes if s != (0,)]  # legacy rule: 1-D empty tensors are skipped
    if not kept:
        return Cat.apply(0, *tensors)
    ref = kept[0]
    d = wrap_dim(dim, len(ref))
    for i, shape in enumerate(shapes):
        if shape == (0,):
            continue
        if len(shape) != len(ref):
            raise RuntimeError(f"Tensors must have same number of dimensions: got {len(ref)} and {len(shape)}")
        for k in range(len(ref)):
            if k != d and shape[k] != ref[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size "
                                   f"{ref[k]} but got size {shape[k]} for tensor number {i} in the list.")
    result = Cat.apply(d, *tensors)
    if out is not None:
        out.set_data_(result)
        return out
    return result


def stack(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    check_same_device("stack", *tensors)
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} at "
                               f"entry 0 and {list(t.shape)} at entry {i}")
    tensors = _common_dtype(tensors)
    result = Stack.apply(wrap_dim(dim, tensors[0].ndim + 1), *tensors)
    if out is not None:
        out.set_data_(result)
        return out
    return result


def atleast_1d(*tensors):
    res = [t if t.ndim >= 1 else reshape(t, (1,)) for t in _flat_args(tensors)]
    return res[0] if len(res) == 1 else tuple(res)


def atleast_2d(*tensors):
    res = [t if t.ndim >= 2 else reshape(t, (1,) * (2 - t.ndim) + tuple(t.shape)) for t in _flat_args(tensors)]
    return res[0] if len(res) == 1 else tuple(res)


def atleast_3d(*tensors):
    res = []
    for t in _flat_args(tensors):
        shape = {0: (1, 1, 1), 1: (1, t.numel(), 1), 2: tuple(t.shape) + (1,)}.get(t.ndim, t.shape)
        res.append(reshape(t, shape) if t.ndim < 3 else t)
    return res[0] if len(res) == 1 else tuple(res)


def _flat_args(tensors):
    return list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else list(tensors)


def hstack(tensors):
    tensors = [atleast_1d(t) for t in tensors]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    return cat([atleast_2d(t) for t in tensors], 0)


def dstack(tensors):
    return cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors):
    return hstack([reshape(t, (-1, 1)) if t.ndim <= 1 else t for t in tensors])


row_stack = vstack


# ---------------------------------------------------------------------------------------------
# copies: flip, roll, repeat, tril/triu, diag
# ---------------------------------------------------------------------------------------------
class Flip(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return xp_of(x).flip(x, dims).copy()

    @staticmethod
    def backward(ctx, grad):
        return xp_of(grad).flip(grad, ctx.dims), None

    @staticmethod
    def differentiable_backward(ctx, grad):
        return grad.flip(ctx.dims), None


class Roll(Function):
    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.args = (shifts, dims)
        if dims is None:
            return xp_of(x).roll(x.reshape(-1), shifts).reshape(x.shape)
        return xp_of(x).roll(x, shifts, dims)

    @staticmethod
    def backward(ctx, grad):
        shifts, dims = ctx.args
        neg = tuple(-s for s in shifts) if isinstance(shifts, tuple) else -shifts
        if dims is None:
            return xp_of(grad).roll(grad.reshape(-1), neg).reshape(grad.shape), None, None
        return xp_of(grad).roll(grad, neg, dims), None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        shifts, dims = ctx.args
        neg = tuple(-s for s in shifts) if isinstance(shifts, tuple) else -shifts
        if dims is None:
            return grad.reshape(-1).roll(neg).reshape(grad.shape), None, None
        return grad.roll(neg, dims), None, None


class Repeat(Function):
    """torch.repeat == numpy.tile once reps cover every dim."""

    @staticmethod
    def forward(ctx, x, reps):
        ctx.args = (x.shape, reps)
        return xp_of(x).tile(x.reshape((1,) * (len(reps) - x.ndim) + x.shape), reps)

    @staticmethod
    def backward(ctx, grad):
        in_shape, reps = ctx.args
        full = (1,) * (len(reps) - len(in_shape)) + tuple(in_shape)
        # grad[(r0, s0), (r1, s1), ...]: sum over every repeat axis r_i
        split = grad.reshape(tuple(v for r, s in zip(reps, full) for v in (r, s)))
        return split.sum(axis=tuple(range(0, 2 * len(reps), 2))).reshape(in_shape), None

    @staticmethod
    def differentiable_backward(ctx, grad):
        in_shape, reps = ctx.args
        full = (1,) * (len(reps) - len(in_shape)) + tuple(in_shape)
        split = grad.reshape(tuple(v for r, s in zip(reps, full) for v in (r, s)))
        return split.sum(tuple(range(0, 2 * len(reps), 2))).reshape(in_shape), None


class RepeatInterleave(Function):
    @staticmethod
    def forward(ctx, x, repeats, dim):
        ctx.args = (x.shape, repeats, dim)
        return xp_of(x).repeat(x, repeats, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        in_shape, repeats, dim = ctx.args
        xp = xp_of(grad)
        n = in_shape[dim]
        if isinstance(repeats, int):
            g = grad.reshape(grad.shape[:dim] + (n, repeats) + grad.shape[dim + 1:]).sum(dim + 1)
        else:  # each output slice came from source index idx: scatter-add it back
            from .index import add_at

            g = xp.zeros(in_shape, grad.dtype)
            add_at(g, (slice(None),) * dim + (xp.repeat(xp.arange(n), repeats),), grad)
        return g, None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        from .index import scatter_into

        in_shape, repeats, dim = ctx.args
        n = in_shape[dim]
        if isinstance(repeats, int):
            g = grad.reshape(tuple(grad.shape[:dim]) + (n, repeats) + tuple(grad.shape[dim + 1:])).sum(dim + 1)
        else:
            xp = xp_of(grad._data)
            g = scatter_into(grad, in_shape, (slice(None),) * dim + (xp.repeat(xp.arange(n), repeats),), True)
        return g, None, None


class Tri(Function):
    @staticmethod
    def forward(ctx, x, diagonal, upper):
        ctx.args = (diagonal, upper)
        xp = xp_of(x)
        return xp.triu(x, diagonal) if upper else xp.tril(x, diagonal)

    @staticmethod
    def backward(ctx, grad):
        diagonal, upper = ctx.args
        xp = xp_of(grad)
        return (xp.triu(grad, diagonal) if upper else xp.tril(grad, diagonal)), None, None

    @staticmethod
    def differentiable_backward(ctx, grad):
        diagonal, upper = ctx.args
        return (grad.triu(diagonal) if upper else grad.tril(diagonal)), None, None


class DiagEmbed1D(Function):
    """diag of a vector: a square matrix with the vector on diagonal `offset`."""

    @staticmethod
    def forward(ctx, x, offset):
        ctx.offset = offset
        n = x.shape[0] + abs(offset)
        out = xp_of(x).zeros((n, n), x.dtype)
        _diag_view(out, offset, 0, 1)[...] = x
        return out

    @staticmethod
    def backward(ctx, grad):
        return _diag_view(grad, ctx.offset, 0, 1).copy(), None


def flip(input, *args, dims=None):
    """torch.flip(input, dims) / Tensor.flip(*dims): reverse the order along dims."""
    if dims is None:
        if not args:
            raise TypeError("flip() missing required argument 'dims'")
        dims = args[0] if len(args) == 1 else args
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    dims = tuple(wrap_dim(d, input.ndim) for d in dims)
    for i, d in enumerate(dims):
        if d in dims[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return Flip.apply(input, dims)


def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input):
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def roll(input, shifts, dims=None):
    if dims is None:
        shifts = shifts if isinstance(shifts, int) else tuple(shifts)
        if isinstance(shifts, tuple):
            if len(shifts) != 1:
                raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
            shifts = shifts[0]
        return Roll.apply(input, int(shifts), None)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    return Roll.apply(input, shifts, tuple(wrap_dim(d, input.ndim) for d in dims))


def repeat(self, *sizes):
    reps = _sizes(sizes)
    if len(reps) < self.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of "
                           "tensor")
    if builtins.any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(reps)}: {list(reps)}")
    return Repeat.apply(self, reps)


def tile(input, dims):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    if repeats is None:  # torch.repeat_interleave(repeats): indices repeated by counts
        counts = input._data
        return Tensor._make(xp_of(counts).repeat(xp_of(counts).arange(counts.shape[0]), counts))
    if dim is None:
        input, dim = reshape(input, (-1,)), 0
    d = wrap_dim(dim, input.ndim)
    if isinstance(repeats, Tensor):
        if repeats.ndim == 0 or repeats.numel() == 1:
            repeats = int(repeats.item())
        else:
            if repeats.shape[0] != input.shape[d]:
                raise RuntimeError("repeats must have the same size as input along dim, but got "
                                   f"repeats.size(0) = {repeats.shape[0]} and input.size({d}) = {input.shape[d]}")
            if (repeats._data < 0).any():
                raise RuntimeError("repeats can not be negative")
            repeats = repeats._data
    elif repeats < 0:
        raise RuntimeError("repeats can not be negative")
    return RepeatInterleave.apply(input, repeats, d)


def tril(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Tri.apply(input, diagonal, False)


def triu(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Tri.apply(input, diagonal, True)


def diag(input, diagonal=0):
    if input.ndim == 1:
        return DiagEmbed1D.apply(input, diagonal)
    if input.ndim == 2:
        return Contiguous.apply(Diagonal.apply(input, diagonal, 0, 1))
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{input.ndim}D")


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    n = input.shape[-1] + abs(offset)
    out_nd = input.ndim + 1
    d1, d2 = wrap_dim(dim1, out_nd), wrap_dim(dim2, out_nd)
    from .factory import zeros

    base = zeros(input.shape[:-1] + (n, n), dtype=input.dtype, device=input.device)
    out = _DiagEmbed.apply(base, input, offset)
    # the new (n, n) pair sits at the end; move it to (dim1, dim2)
    return movedim(out, (out_nd - 2, out_nd - 1), (d1, d2)) if (d1, d2) != (out_nd - 2, out_nd - 1) else out


class _DiagEmbed(Function):
    @staticmethod
    def forward(ctx, base, x, offset):
        ctx.offset = offset
        out = base.copy()
        _diag_view(out, offset, out.ndim - 2, out.ndim - 1)[...] = x
        return out

    @staticmethod
    def backward(ctx, grad):
        return None, _diag_view(grad, ctx.offset, grad.ndim - 2, grad.ndim - 1).copy(), None


def rot90(input, k=1, dims=(0, 1)):
    d0, d1 = (wrap_dim(d, input.ndim) for d in dims)
    k %= 4
    if k == 0:
        return Contiguous.apply(input)
    if k == 2:
        return flip(input, (d0, d1))
    return transpose(flip(input, (d1,)), d0, d1) if k == 1 else flip(transpose(input, d0, d1), (d1,))


# ---------------------------------------------------------------------------------------------
# Tensor methods and public functions
# ---------------------------------------------------------------------------------------------
tensor_methods(
    permute=permute, transpose=transpose, swapaxes=swapaxes, swapdims=swapaxes, t=t,
    T=property(_T), mT=property(_mT), H=property(_T), mH=property(_mT),
    reshape=reshape, view=view, view_as=view_as, reshape_as=reshape_as, contiguous=contiguous,
    flatten=flatten, ravel=ravel, unflatten=unflatten, squeeze=squeeze, unsqueeze=unsqueeze, expand=expand,
    expand_as=expand_as, broadcast_to=broadcast_to, narrow=narrow, diagonal=diagonal, movedim=movedim,
    moveaxis=movedim, split=split, chunk=chunk, tensor_split=tensor_split, hsplit=hsplit, vsplit=vsplit,
    dsplit=dsplit, unbind=unbind, select=select, flip=flip, fliplr=fliplr, flipud=flipud, roll=roll,
    repeat=repeat, tile=tile, repeat_interleave=repeat_interleave, tril=tril, triu=triu, diag=diag,
    diag_embed=diag_embed, rot90=rot90,
)

public(permute, transpose, swapaxes, t, reshape, flatten, ravel, unflatten, squeeze, unsqueeze, broadcast_to,
       broadcast_tensors, broadcast_shapes, narrow, diagonal, movedim, split, chunk, tensor_split, hsplit,
       vsplit, dsplit, unbind, select, cat, stack, hstack, vstack, dstack, column_stack, atleast_1d, atleast_2d,
       atleast_3d, flip, fliplr, flipud, roll, tile, repeat_interleave, tril, triu, diag, diag_embed, rot90)
public(swapdims=swapaxes, moveaxis=movedim, concat=cat, concatenate=cat, row_stack=vstack)
