"""Collectives on mytorch tensors, with torch.distributed's names and signatures.

Each checks its arguments, hands the tensors' arrays to the group's backend engine (gloo or
NCCL), and either waits (the default) or returns the Work for `async_op=True`. Results are
written in place into the given tensors, as in PyTorch.
"""
import pickle

import numpy as np

from ..tensor import Tensor
from .process_group import ReduceOp, default_group


def _check_tensor(tensor, name, what):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what}: {name} must be a mytorch.Tensor, got {type(tensor).__name__}")


def _check_op(op, tensor, what):
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{what}: op must be a mytorch.distributed.ReduceOp (SUM, AVG, PRODUCT, MIN, MAX), "
                        f"got {op!r}")
    if op is ReduceOp.AVG and tensor._data.dtype.kind == "b":
        raise RuntimeError(f"{what}: ReduceOp.AVG is not supported for bool tensors")


def _check_list(tensors, world_size, name, like, what):
    if not isinstance(tensors, (list, tuple)) or len(tensors) != world_size:
        got = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{what}: {name} must be a list of world_size={world_size} tensors, got {got}")
    for i, t in enumerate(tensors):
        _check_tensor(t, f"{name}[{i}]", what)
        if t.shape != like.shape or t.dtype != like.dtype:
            raise RuntimeError(f"{what}: {name}[{i}] has shape {list(t.shape)} and dtype {t.dtype}, but every "
                               f"tensor must match shape {list(like.shape)} and dtype {like.dtype}")


def _written(*tensors):
    for t in tensors:
        t._version.value += 1  # in-place write: autograd's saved-tensor checks must see it


def _complete(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce `tensor` over all ranks, in place, so every rank holds the result."""
    _check_tensor(tensor, "tensor", "all_reduce")
    _check_op(op, tensor, "all_reduce")
    pg = default_group(group)
    work = pg.engine.all_reduce(tensor._data, op)
    _written(tensor)
    return _complete(work, async_op)


def broadcast(tensor, src, group=None, async_op=False):
    """Copy rank `src`'s `tensor` into `tensor` on every rank."""
    _check_tensor(tensor, "tensor", "broadcast")
    pg = default_group(group)
    _check_rank(src, pg, "broadcast", "src")
    work = pg.engine.broadcast(tensor._data, src)
    _written(tensor)
    return _complete(work, async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[r] <- rank r's `tensor`, on every rank."""
    _check_tensor(tensor, "tensor", "all_gather")
    pg = default_group(group)
    _check_list(tensor_list, pg.size(), "tensor_list", tensor, "all_gather")
    work = pg.engine.all_gather([t._data for t in tensor_list], tensor._data)
    _written(*tensor_list)
    return _complete(work, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """output on rank r <- the reduction over ranks of their input_list[r]."""
    _check_tensor(output, "output", "reduce_scatter")
    _check_op(op, output, "reduce_scatter")
    pg = default_group(group)
    _check_list(input_list, pg.size(), "input_list", output, "reduce_scatter")
    work = pg.engine.reduce_scatter(output._data, [t._data for t in input_list], op)
    _written(output)
    return _complete(work, async_op)


def _chunks(tensor, world_size, name, like, what):
    """`tensor` split along dim 0 into world_size views shaped like `like`."""
    if tensor.dim() == 0 or tensor.shape[0] != world_size * (like.shape[0] if like.dim() else 1) \
            or tensor.shape[1:] != (like.shape[1:] if like.dim() else ()) or tensor.dtype != like.dtype:
        raise RuntimeError(f"{what}: {name} has shape {list(tensor.shape)} and dtype {tensor.dtype}; expected "
                           f"world_size={world_size} times {list(like.shape)} along dim 0, dtype {like.dtype}")
    chunks = tensor._data.reshape((world_size,) + tuple(like.shape))
    return [chunks[r] for r in range(world_size)]


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """output_tensor (world_size * n, ...) <- every rank's input_tensor (n, ...), concatenated in rank order."""
    _check_tensor(output_tensor, "output_tensor", "all_gather_into_tensor")
    _check_tensor(input_tensor, "input_tensor", "all_gather_into_tensor")
    if not output_tensor.is_contiguous():
        raise RuntimeError("all_gather_into_tensor: output_tensor must be contiguous")
    pg = default_group(group)
    outs = _chunks(output_tensor, pg.size(), "output_tensor", input_tensor, "all_gather_into_tensor")
    work = pg.engine.all_gather(outs, input_tensor._data)
    _written(output_tensor)
    return _complete(work, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """output on rank r <- the reduction over ranks of chunk r of `input` (split along dim 0)."""
    _check_tensor(output, "output", "reduce_scatter_tensor")
    _check_tensor(input, "input", "reduce_scatter_tensor")
    _check_op(op, output, "reduce_scatter_tensor")
    pg = default_group(group)
    ins = _chunks(input, pg.size(), "input", output, "reduce_scatter_tensor")
    work = pg.engine.reduce_scatter(output._data, ins, op)
    _written(output)
    return _complete(work, async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Block until every rank has reached this barrier (or raise after the group's timeout)."""
    return _complete(default_group(group).engine.barrier(), async_op)


def _check_rank(rank, pg, what, name):
    if not isinstance(rank, (int, np.integer)) or not 0 <= rank < pg.size():
        raise ValueError(f"{what}: {name}={rank!r} is not a rank of the group (world size {pg.size()})")


# objects: pickled to bytes, moved as uint8 arrays (pickle, as in PyTorch: only exchange objects
# with processes you trust) ------------------------------------------------------------------------

def _all_gather_bytes(pg, payload):
    engine, world = pg.engine, pg.size()
    sizes = [engine.array(np.zeros(1, np.int64)) for _ in range(world)]
    engine.all_gather(sizes, engine.array(np.array([len(payload)], np.int64))).wait()
    sizes = [int(engine.to_host(s)[0]) for s in sizes]
    padded = np.zeros(max(sizes), np.uint8)
    padded[:len(payload)] = np.frombuffer(payload, np.uint8)
    gathered = [engine.array(np.zeros(max(sizes), np.uint8)) for _ in range(world)]
    engine.all_gather(gathered, engine.array(padded)).wait()
    return [engine.to_host(g)[:n].tobytes() for g, n in zip(gathered, sizes)]


def all_gather_object(object_list, obj, group=None):
    """object_list[r] <- rank r's picklable `obj`; object_list must have world_size entries."""
    pg = default_group(group)
    if not isinstance(object_list, list) or len(object_list) != pg.size():
        got = len(object_list) if isinstance(object_list, list) else type(object_list).__name__
        raise ValueError(f"all_gather_object: object_list must be a list of world_size={pg.size()} entries, "
                         f"got {got}")
    for r, data in enumerate(_all_gather_bytes(pg, pickle.dumps(obj))):
        object_list[r] = pickle.loads(data)


def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Replace object_list's entries on every rank with rank `src`'s (lists of equal length)."""
    pg = default_group(group)
    _check_rank(src, pg, "broadcast_object_list", "src")
    if not isinstance(object_list, list):
        raise TypeError(f"broadcast_object_list: object_list must be a list, got {type(object_list).__name__}")
    engine = pg.engine
    payload = pickle.dumps(list(object_list)) if pg.rank() == src else b""
    size = engine.array(np.array([len(payload)], np.int64))
    engine.broadcast(size, src).wait()
    buf = np.zeros(int(engine.to_host(size)[0]), np.uint8)
    if pg.rank() == src:
        buf[:] = np.frombuffer(payload, np.uint8)
    buf = engine.array(buf)
    engine.broadcast(buf, src).wait()
    values = pickle.loads(engine.to_host(buf).tobytes())
    if len(values) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {src} sent {len(values)} objects but this rank's "
                         f"object_list has {len(object_list)}; use lists of the same length on every rank")
    object_list[:] = values
