"""numpy arrays on 64-byte boundaries, as PyTorch's CPU tensors are.

numpy's own allocator returns what malloc does: 16-byte aligned memory (large blocks start 16 bytes into a
page). MKL's sgemm streams its B operand and writes C fastest from cache-line (64-byte) boundaries: on a Xeon
a (1024, 512) @ (512, 128) product took 704 us with a 16-byte aligned B against 635 us with a 64-byte aligned
one, and about half of a small GPT's training step is such products, on activations and gradients that numpy
allocated. PyTorch allocates every tensor 64-byte aligned.

numpy lets a program choose the allocator of the arrays it makes from then on (NEP 49,
PyDataMem_SetHandler; each array keeps the one that made it, so arrays made before are freed as they were).
`install()` sets one whose four functions are compiled here with numba: each block is malloc's with 64 bytes
more, the address handed out is the first 64-byte boundary past its start, and the start is kept in the 8
bytes before it. Blocks of 4 MiB or more are marked for transparent huge pages (madvise), as numpy's own
allocator does where numpy has that on. The setting is per thread, like numpy's (a context variable):
threads started later allocate as before. It is made when the compiled CPU bodies first load, unless
MYTORCH_ALIGNED_ALLOC=0.
"""
import ctypes
import os

import numpy as np
from llvmlite import ir
from numba import cfunc, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

ALIGN = 64
# unsigned constants: numba would make float64 of an unsigned address plus a signed literal
_ALIGN, _MASK, _NOTE = np.uint64(ALIGN), np.uint64(2 ** 64 - ALIGN), np.uint64(8)
_PAGE, _PAGE_MASK = np.uint64(4095), np.uint64(2 ** 64 - 4096)
_HUGE = np.uint64(1 << 22)  # bytes from which numpy asks for huge pages
_MADV_HUGEPAGE = 14
NAME = b"mytorch_aligned_64"
_state = {"handler": None}

_I64 = ir.IntType(64)
_PTR = ir.IntType(8).as_pointer()


def _call(builder, name, result, params, values):
    """A call of the C library's `name`, found by the linker when the code loads (so it caches on disk)."""
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(result, params), name)
    return builder.call(fn, values)


def _ptr(builder, value):
    return builder.inttoptr(value, _PTR)


@intrinsic
def _malloc(typingctx, size):
    def codegen(context, builder, sig, args):
        return builder.ptrtoint(_call(builder, "malloc", _PTR, [_I64], [args[0]]), _I64)
    return types.uintp(size), codegen


@intrinsic
def _calloc(typingctx, size):
    def codegen(context, builder, sig, args):
        return builder.ptrtoint(_call(builder, "calloc", _PTR, [_I64, _I64], [args[0], ir.Constant(_I64, 1)]), _I64)
    return types.uintp(size), codegen


@intrinsic
def _realloc(typingctx, address, size):
    def codegen(context, builder, sig, args):
        return builder.ptrtoint(_call(builder, "realloc", _PTR, [_PTR, _I64], [_ptr(builder, args[0]), args[1]]),
                                _I64)
    return types.uintp(address, size), codegen


@intrinsic
def _free(typingctx, address):
    def codegen(context, builder, sig, args):
        _call(builder, "free", ir.VoidType(), [_PTR], [_ptr(builder, args[0])])
        return context.get_dummy_value()
    return types.none(address), codegen


@intrinsic
def _memmove(typingctx, dst, src, size):
    def codegen(context, builder, sig, args):
        _call(builder, "memmove", _PTR, [_PTR, _PTR, _I64], [_ptr(builder, args[0]), _ptr(builder, args[1]), args[2]])
        return context.get_dummy_value()
    return types.none(dst, src, size), codegen


@intrinsic
def _madvise(typingctx, address, size, advice):
    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        _call(builder, "madvise", i32, [_PTR, _I64, i32], [_ptr(builder, args[0]), args[1], builder.trunc(args[2], i32)])
        return context.get_dummy_value()
    return types.none(address, size, advice), codegen


@intrinsic
def _load(typingctx, address):
    """The 8 bytes at address, as an integer."""
    def codegen(context, builder, sig, args):
        return builder.load(builder.inttoptr(args[0], _I64.as_pointer()))
    return types.uintp(address), codegen


@intrinsic
def _store(typingctx, address, value):
    def codegen(context, builder, sig, args):
        builder.store(args[1], builder.inttoptr(args[0], _I64.as_pointer()))
        return context.get_dummy_value()
    return types.none(address, value), codegen


@njit(cache=True)
def _place(raw, size, huge):
    """The 64-byte boundary handed out for the block at raw (64 bytes longer than size), its start noted
    before it. huge: numpy's huge-page setting (the allocator's ctx)."""
    address = (raw + _ALIGN) & _MASK  # 16 to 64 bytes on: room for the note
    _store(address - _NOTE, raw)
    if huge != 0 and size >= _HUGE:  # whole pages inside the block, as numpy does
        page = (address + _PAGE) & _PAGE_MASK
        _madvise(page, address + size - page, _MADV_HUGEPAGE)
    return address


_TOO_BIG = np.uint64(2 ** 64 - 1 - ALIGN)


@cfunc(types.uintp(types.uintp, types.uintp), cache=True)
def _aligned_malloc(ctx, size):
    raw = _malloc(size + _ALIGN)
    return 0 if raw == 0 else _place(raw, size, ctx)


@cfunc(types.uintp(types.uintp, types.uintp, types.uintp), cache=True)
def _aligned_calloc(ctx, count, itemsize):
    if itemsize != 0 and count > _TOO_BIG // itemsize:
        return 0
    size = count * itemsize
    raw = _calloc(size + _ALIGN)
    return 0 if raw == 0 else _place(raw, size, ctx)


@cfunc(types.uintp(types.uintp, types.uintp, types.uintp), cache=True)
def _aligned_realloc(ctx, address, size):
    if address == 0:
        raw = _malloc(size + _ALIGN)
        return 0 if raw == 0 else _place(raw, size, ctx)
    raw = _load(address - _NOTE)
    offset = address - raw
    moved = _realloc(raw, size + _ALIGN)
    if moved == 0:
        return 0
    new = (moved + _ALIGN) & _MASK
    if new - moved != offset:  # the data sit at the old offset from the block's start
        _memmove(new, moved + offset, size)
    _store(new - _NOTE, moved)
    return new


@cfunc(types.void(types.uintp, types.uintp, types.uintp), cache=True)
def _aligned_free(ctx, address, size):
    if address != 0:
        _free(_load(address - _NOTE))


class _Allocator(ctypes.Structure):  # PyDataMemAllocator
    _fields_ = [("ctx", ctypes.c_void_p), ("malloc", ctypes.c_void_p), ("calloc", ctypes.c_void_p),
                ("realloc", ctypes.c_void_p), ("free", ctypes.c_void_p)]


class _Handler(ctypes.Structure):  # PyDataMem_Handler, version 1
    _fields_ = [("name", ctypes.c_char * 127), ("version", ctypes.c_uint8), ("allocator", _Allocator)]


_SET_HANDLER = 304  # PyDataMem_SetHandler's place in numpy's C API table (numpy >= 1.22)


def _numpy_multiarray():
    core = getattr(np, "_core", None) or np.core
    return core._multiarray_umath


def install():
    """Make this thread's new numpy arrays 64-byte aligned (see above); True when they are. Idempotent."""
    multiarray = _numpy_multiarray()
    if not hasattr(multiarray, "get_handler_name") or os.environ.get("MYTORCH_ALIGNED_ALLOC", "1") == "0":
        return False
    if multiarray.get_handler_name() == NAME.decode():
        return True
    if _state["handler"] is None:
        huge = multiarray._get_madvise_hugepage() if hasattr(multiarray, "_get_madvise_hugepage") else False
        handler = _Handler(NAME, 1, _Allocator(1 if huge else None, _aligned_malloc.address, _aligned_calloc.address,
                                               _aligned_realloc.address, _aligned_free.address))
        api = ctypes.pythonapi
        api.PyCapsule_GetPointer.restype, api.PyCapsule_GetPointer.argtypes = ctypes.c_void_p, [ctypes.py_object,
                                                                                              ctypes.c_char_p]
        api.PyCapsule_New.restype = ctypes.py_object
        api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
        table = api.PyCapsule_GetPointer(multiarray._ARRAY_API, None)
        setter = ctypes.c_void_p.from_address(table + _SET_HANDLER * ctypes.sizeof(ctypes.c_void_p)).value
        capsule = api.PyCapsule_New(ctypes.addressof(handler), b"mem_handler", None)
        # the struct, its functions and the capsule live as long as the process: arrays point at them
        _state["handler"] = (handler, capsule, ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.py_object)(setter))
    _state["handler"][2](_state["handler"][1])
    return multiarray.get_handler_name() == NAME.decode()
