"""Tensor: an ndarray (numpy or cupy) plus the autograd bookkeeping.

Math lives in `mytorch.ops`; each op module attaches its Tensor methods at import time
(see `ops/_registry.py`), so this file holds only what is about the tensor itself.
"""
import weakref

import numpy as np

from . import _dtype, _layout
from ._array import CPU, device, device_of_array, move_array, to_device
from .autograd import grad_mode
from .autograd.function import AccumulateGrad


class _VersionCounter:
    """Counts in-place writes; shared by a tensor and all its views."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Tensor:
    __slots__ = ("_data", "_requires_grad", "_grad", "grad_fn", "_output_nr", "_version", "_base",
                 "_accumulator", "_retains_grad", "__weakref__", "__dict__")

    __array_priority__ = 1000  # numpy scalars/arrays defer to Tensor's reflected operators

    # construction ------------------------------------------------------------------------------
    @classmethod
    def _make(cls, data, requires_grad=False):
        """Wrap an ndarray (no copy). The fast path every op uses."""
        t = object.__new__(cls)
        if type(data) is not np.ndarray:
            data = _as_array(data)
        t._data = data
        t._requires_grad = requires_grad
        t._grad = None
        t.grad_fn = None
        t._output_nr = 0
        t._version = _VersionCounter()
        t._base = None
        t._accumulator = None
        t._retains_grad = False
        return t

    def __new__(cls, *args, device=None, dtype=None):
        """Legacy constructor: Tensor([1, 2]) -> float32 data; Tensor(2, 3) -> uninitialised 2x3."""
        from .ops.factory import empty, tensor

        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            src = args[0]
            if isinstance(src, Tensor):
                return src.detach() if type(src) is cls else cls._make(src._data)
            t = tensor(src, dtype=dtype or _dtype.get_default_dtype(), device=device)
        else:
            t = empty(*args, dtype=dtype, device=device)
        if cls is Tensor:
            return t
        out = cls._make(t._data)
        return out

    def __init__(self, *args, **kwargs):
        pass

    # basic attributes -------------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if not value and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to "
                               "use a computed variable in a subgraph that doesn't require differentiation "
                               "use var_no_grad = var.detach().")
        if value and self._data.dtype.kind not in "fcV":  # "V": ml_dtypes' bfloat16
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        self._requires_grad = bool(value)

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        # PyTorch's checks: a wrong-shaped or wrong-typed .grad would be applied silently by optimizers
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            if value is self:
                raise RuntimeError("can't assign Variable as its own grad")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype '{value.dtype}' to a tensor with "
                                   f"dtype '{self.dtype}'. The gradient must match the tensor's dtype")
            if value.device != self.device:
                raise RuntimeError(f"attempting to assign a gradient located on device '{value.device}' to a "
                                   f"tensor located on device '{self.device}'. Please ensure that the gradient "
                                   f"and the tensor are on the same device")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor of "
                                   f"size '{list(self.shape)}'. Please ensure that the gradient and the tensor are "
                                   f"the same size")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[self._wrap_dim(dim)]

    @property
    def dtype(self):
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        data = self._data
        return CPU if type(data) is np.ndarray else device_of_array(data)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def is_cpu(self):
        return self.device.type == "cpu"

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return int(self._data.nbytes)

    def stride(self, dim=None):
        item = self._data.itemsize
        strides = tuple(s // item for s in self._data.strides)
        return strides if dim is None else strides[self._wrap_dim(dim)]

    def is_contiguous(self, memory_format=None):
        return bool(self._data.flags.c_contiguous)

    def is_floating_point(self):
        return self._data.dtype.kind in "fV"  # "V": ml_dtypes' bfloat16

    def is_complex(self):
        return self._data.dtype.kind == "c"

    def data_ptr(self):
        data = self._data
        return data.ctypes.data if type(data) is np.ndarray else data.data.ptr

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def output_nr(self):
        return self._output_nr

    @property
    def _version_value(self):
        return self._version.value

    # mytorch tensors are dense and strided: never sparse, quantized, nested, meta or MKL-DNN
    is_sparse = is_sparse_csr = is_quantized = is_meta = is_mkldnn = is_nested = property(lambda self: False)
    layout = property(lambda self: _layout.strided)

    def get_device(self):
        """The CUDA device index, or -1 for a CPU tensor."""
        dev = self.device
        return -1 if dev.type == "cpu" else (dev.index or 0)

    def storage_offset(self):
        """Elements between the start of the storage (the base tensor's memory, for a view) and this tensor's."""
        if self._base is None or self._data.size == 0:
            return 0
        return (self.data_ptr() - self._base.data_ptr()) // self._data.itemsize

    def is_signed(self):
        return self.dtype.is_signed

    def is_inference(self):
        return False  # inference_mode is no_grad here: no tensor is an inference tensor

    def is_nonzero(self):
        n = self._data.size
        if n != 1:
            raise RuntimeError(f"Boolean value of Tensor with {'no values' if n == 0 else 'more than one value'} "
                               "is ambiguous")
        return bool(self._data.reshape(()) != 0)

    def is_same_size(self, other):
        return self._data.shape == other._data.shape

    def dim_order(self, *, ambiguity_check=False):
        """The dims from outermost to innermost in memory, by PyTorch's ordering of strides. ambiguity_check=True
        refuses a tensor with several valid orders (size-1 dims, equal strides); a list of memory formats accepts
        one that is dense in exactly one of them."""
        if not isinstance(ambiguity_check, (bool, list)):
            raise TypeError("The ambiguity_check argument must be a bool or a list of memory formats.")
        shape, strides = tuple(self._data.shape), self.stride()
        several = 1 in shape or any(a == b for a, b in zip(strides, strides[1:]))
        formats = ambiguity_check if isinstance(ambiguity_check, list) else []
        if (ambiguity_check is not False and several
                and sum(_dense_in(f, shape, strides) for f in formats) != 1):
            raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact one of the given "
                               "memory formats.")
        ndim = len(shape)
        contiguous = _dense_in(_layout.contiguous_format, shape, strides)
        channels_last = _dense_in(_layout.channels_last, shape, strides)
        if ndim < 2 or (contiguous and not channels_last):
            return tuple(range(ndim))
        if channels_last and not contiguous:
            return (0, *range(2, ndim), 1)

        def should_swap(a, b):  # 1: dim a lies inside dim b (the smaller stride), -1: outside, 0: either
            sa, sb = strides[a], strides[b]
            if sa == 0 or sb == 0:
                return 0
            if sa == sb:
                return 0 if shape[b] >= shape[a] else 1
            return -1 if sb >= sa else 1

        perm = list(reversed(range(ndim)))  # PyTorch's insertion sort, innermost dim first
        for i in range(1, ndim):
            d1 = i
            for d0 in reversed(range(i)):
                order = should_swap(perm[d0], perm[d1])
                if order > 0:
                    perm[d0], perm[d1] = perm[d1], perm[d0]
                    d1 = d0
                elif order < 0:
                    break
        if ambiguity_check and any(should_swap(a, b) != -1 for a, b in zip(perm, perm[1:])):
            raise RuntimeError("The tensor does not have unique dim order.")
        return tuple(reversed(perm))

    def new(self, *args, device=None):
        """Legacy constructor: a tensor of self's dtype (and device) from sizes, data, or nothing (empty)."""
        from .ops.factory import empty, tensor

        device = self.device if device is None else device
        if len(args) == 1 and isinstance(args[0], Tensor):
            other = args[0]
            if other._data.dtype != self._data.dtype or other.device != self.device:
                raise TypeError(f"expected {self.type()} (got {other.type()})")
            return other.view(other.shape)  # an alias, as PyTorch's
        if not args or isinstance(args[0], (int, np.integer)) or (len(args) == 1 and isinstance(args[0], Size)):
            return empty(*(args or (0,)), dtype=self.dtype, device=device)
        if len(args) != 1 or isinstance(args[0], (float, complex, bool)):
            raise TypeError(f"new(): data must be a sequence (got {type(args[0]).__name__})")
        return tensor(args[0], dtype=self.dtype, device=device)

    def _wrap_dim(self, dim, ndim=None):
        ndim = self._data.ndim if ndim is None else ndim
        return wrap_dim(dim, ndim)

    def type(self, dtype=None):
        if dtype is None:
            prefix = "torch.cuda." if self.device.type == "cuda" else "torch."
            return f"{prefix}{_dtype.type_name(self.dtype)}Tensor"
        if isinstance(dtype, (str, type)):  # 'torch.cuda.FloatTensor' or torch.FloatTensor: dtype and device
            from ._legacy_tensors import resolve

            dtype, device = resolve(dtype)
            return self.to(device=device, dtype=dtype)
        return self.to(dtype)

    # .data: the same storage, detached from the graph ------------------------------------------
    @property
    def data(self):
        return Tensor._make(self._data)  # its own version counter, as in PyTorch: edits through it go unchecked

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data = value._data

    # autograd ---------------------------------------------------------------------------------
    def _grad_accumulator(self):
        acc = self._accumulator() if self._accumulator is not None else None
        if acc is None:
            acc = AccumulateGrad(self)
            self._accumulator = weakref.ref(acc)
        return acc

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .autograd import backward

        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def retain_grad(self):
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return  # leaves keep their grad anyway
        if self._retains_grad:
            return
        self._retains_grad = True
        ref = weakref.ref(self)

        def _retain(grad):
            t = ref()
            if t is not None:
                if t.grad is None:
                    t.grad = Tensor._make(grad._data.copy())
                else:
                    t.grad = Tensor._make(t.grad._data + grad._data)

        self._add_hook(_retain)

    @property
    def retains_grad(self):
        return self._retains_grad

    def register_hook(self, hook):
        """hook(grad) -> Tensor or None, called when this tensor's gradient is computed."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return self._add_hook(hook)

    def register_post_accumulate_grad_hook(self, hook):
        """hook(tensor) -> None, called on a leaf after backward has added into its `.grad`."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd.function import _RemovableHandle

        hooks = self.__dict__.setdefault("_post_accumulate_hooks", [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def _add_hook(self, hook):
        from .autograd.function import _RemovableHandle

        node = self.grad_fn if self.grad_fn is not None else self._grad_accumulator()
        if self.grad_fn is None:
            self.__dict__["_acc_keepalive"] = node  # hooks live as long as the leaf
        if node._hooks is None:
            node._hooks = {}
        fns = node._hooks.setdefault(self._output_nr, [])
        fns.append(hook)
        return _RemovableHandle(fns, hook)

    def detach(self):
        t = Tensor._make(self._data)
        t._version = self._version
        t._base = self._base
        return t

    def detach_(self):
        if self._base is not None and self._base.requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    # conversion -------------------------------------------------------------------------------
    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        data = self._data
        if type(data) is not np.ndarray:
            data = data.get()
        return data.tolist()

    def numpy(self, force=False):
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        if type(self._data) is not np.ndarray:
            if not force:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                                "copy the tensor to host memory first.")
            return self._data.get()
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = self.detach().cpu()._data
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def __dlpack__(self, stream=None, **kwargs):
        """The DLPack capsule of this tensor's memory (kwargs: the protocol's max_version, dl_device, copy)."""
        if self._requires_grad:
            raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
        if stream is not None:
            kwargs["stream"] = stream
        return self._data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def to(self, *args, **kwargs):
        """to(device), to(dtype), to(device, dtype), to(other_tensor); copy=False, non_blocking ignored."""
        dev, dtype, copy = parse_to_args(args, kwargs)
        from .ops.elementwise import ToCopy

        dev = self.device if dev is None else to_device(dev)
        dtype = self.dtype if dtype is None else _dtype.to_dtype(dtype)
        if dev == self.device and dtype.np == self._data.dtype and not copy:
            return self
        return ToCopy.apply(self, dev, dtype.np)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to("cuda" if device is None else (device if not isinstance(device, int) else f"cuda:{device}"))

    def float(self, memory_format=None):
        return self.to(_dtype.float32)

    def double(self, memory_format=None):
        return self.to(_dtype.float64)

    def half(self, memory_format=None):
        return self.to(_dtype.float16)

    def bfloat16(self, memory_format=None):
        return self.to(_dtype.bfloat16)

    def int(self, memory_format=None):
        return self.to(_dtype.int32)

    def long(self, memory_format=None):
        return self.to(_dtype.int64)

    def short(self, memory_format=None):
        return self.to(_dtype.int16)

    def byte(self, memory_format=None):
        return self.to(_dtype.uint8)

    def char(self, memory_format=None):
        return self.to(_dtype.int8)

    def bool(self, memory_format=None):
        return self.to(_dtype.bool_)

    def type_as(self, other):
        return self.to(other.dtype)

    # python protocol ---------------------------------------------------------------------------
    def __repr__(self, *, tensor_contents=None):
        from ._formatting import tensor_repr

        return tensor_repr(self)

    def __str__(self):
        return self.__repr__()

    def __format__(self, format_spec):
        # f"{loss:.4f}": a 0-d tensor formats like its Python number; others only with an empty spec
        if self._data.ndim == 0:
            return format(self.item(), format_spec)
        return object.__format__(self, format_spec)

    def pin_memory(self, device=None):
        """A page-locked copy for faster host-to-device copies. mytorch's host arrays are ordinary numpy
        memory, so this is a flagged copy: `is_pinned()` is True on it, and `.to("cuda")` works as usual."""
        if self.device.type != "cpu":
            raise RuntimeError(f"cannot pin '{self.type()}' only dense CPU tensors can be pinned")
        if self.is_pinned():
            return self
        pinned = self.clone()
        pinned.__dict__["_pinned"] = True
        return pinned

    def is_pinned(self, device=None):
        return self.__dict__.get("_pinned", False)

    def share_memory_(self):
        """Move this CPU tensor's values into shared memory (in place), so that processes it reaches through
        mytorch.multiprocessing (forked, spawned, or sent it through a Queue) all use the same ones. A GPU
        tensor is left as it is, as in PyTorch."""
        if type(self._data) is not np.ndarray or self.is_shared():
            return self
        from .multiprocessing import reductions

        reductions.init_reductions()
        self._data = reductions.share_array(self._data)
        return self

    def is_shared(self):
        if type(self._data) is not np.ndarray:
            return self.device.type == "cuda"
        from .multiprocessing import reductions

        return reductions.segment_of(self._data) is not None

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __hash__(self):
        return id(self)

    def __reduce_ex__(self, protocol):
        # pickling (DataLoader workers, multiprocessing): data, grad flag; never the graph
        data = self._data if type(self._data) is np.ndarray else self._data.get()
        return (_rebuild, (data, self._requires_grad, str(self.device)))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the "
                               "deepcopy protocol at the moment.")
        t = type(self)._make(self._data.copy()) if type(self) is Tensor else self._copy_like()
        t._requires_grad = self._requires_grad
        if self.grad is not None:
            t.grad = Tensor._make(self.grad._data.copy())
        # hooks stay with the original (a copy of a DDP-wrapped model must not feed its reducer)
        t.__dict__.update({k: v for k, v in self.__dict__.items()
                           if k not in ("_acc_keepalive", "_post_accumulate_hooks")})
        memo[id(self)] = t
        return t

    def _copy_like(self):
        t = object.__new__(type(self))
        src = Tensor._make(self._data.copy())
        for name in Tensor.__slots__:
            if name not in ("__weakref__", "__dict__"):
                object.__setattr__(t, name, getattr(src, name))
        return t


from .autograd import function as _function  # noqa: E402

_function.Tensor = Tensor


def parse_to_args(args, kwargs):
    """The (device, dtype, copy) named by `.to(...)` arguments, as Tensor.to and Module.to take them."""
    kwargs = dict(kwargs)
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = a.device, a.dtype
        elif isinstance(a, bool):
            continue  # non_blocking passed positionally
        elif isinstance(a, _dtype.dtype) or a in (float, int):
            dtype = a
        elif isinstance(a, (str, int, device)):
            dev = a
        elif a is not None:
            raise TypeError(f"to() received an invalid argument {a!r}")
    return dev, dtype, copy


def _rebuild(data, requires_grad, dev):
    t = Tensor._make(data)
    if dev != "cpu":
        t = t.to(dev)
    t._requires_grad = requires_grad
    return t


def _as_array(data):
    """Make sure an op result is an ndarray (numpy returns scalars from 0-d ops)."""
    if isinstance(data, np.generic):
        return np.asarray(data)
    if isinstance(data, np.ndarray):
        return data
    from ._array import cupy_module

    cp = cupy_module()
    if cp is not None and isinstance(data, cp.ndarray):
        return data
    return np.asarray(data)


def _dense_in(memory_format, shape, strides):
    """Whether these sizes and strides are dense in memory_format's order (PyTorch's is_contiguous, size-1 dims
    ignored); channels_last applies to 4-D tensors, channels_last_3d to 5-D."""
    ndim = len(shape)
    if memory_format is _layout.contiguous_format:
        order = range(ndim - 1, -1, -1)
    elif memory_format is _layout.channels_last and ndim == 4:
        order = (1, 3, 2, 0)
    elif memory_format is _layout.channels_last_3d and ndim == 5:
        order = (1, 4, 3, 2, 0)
    else:
        return False
    if 0 in shape:
        return True
    expected = 1
    for d in order:
        if shape[d] != 1:
            if strides[d] != expected:
                return False
            expected *= shape[d]
    return True


def wrap_dim(dim, ndim):
    """Normalise a possibly negative dim, with PyTorch's IndexError for out-of-range dims."""
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if dim < lo or dim > hi:
        raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return dim + ndim if dim < 0 else (0 if ndim == 0 else dim)


class Size(tuple):
    """`tensor.shape`: a tuple that prints like PyTorch's (`mytorch.Size([2, 3])`)."""

    def __repr__(self):
        return f"mytorch.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))
