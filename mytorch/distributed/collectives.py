"""Collectives on mytorch tensors, with torch.distributed's names and signatures.

Each checks its arguments, hands the tensors' arrays to the group's backend engine (gloo or
NCCL), and either waits (the default) or returns the Work for `async_op=True`. Results are
written in place into the given tensors, as in PyTorch. On a rank outside `group` (which holds
GroupMember.NON_GROUP_MEMBER) a collective warns and does nothing, as in PyTorch. Ranks are group
ranks everywhere except `src`, which is a global rank (`group_src` is the group rank).
"""
import pickle

import numpy as np

from ..tensor import Tensor
from .process_group import ReduceOp, get_group_rank, member_group


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
    pg = member_group(group, "all_reduce")
    if pg is None:
        return None
    work = pg.engine.all_reduce(tensor._data, op)
    _written(tensor)
    return _complete(work, async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy the `tensor` of global rank `src` (or of group rank `group_src`) into `tensor` on every rank."""
    _check_tensor(tensor, "tensor", "broadcast")
    group_src = _group_src(group, src, group_src)
    pg = member_group(group, "broadcast")
    if pg is None:
        return None
    _check_rank(group_src, pg, "broadcast", "src" if src is not None else "group_src")
    work = pg.engine.broadcast(tensor._data, group_src)
    _written(tensor)
    return _complete(work, async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[r] <- rank r's `tensor`, on every rank."""
    _check_tensor(tensor, "tensor", "all_gather")
    pg = member_group(group, "all_gather")
    if pg is None:
        return None
    _check_list(tensor_list, pg.size(), "tensor_list", tensor, "all_gather")
    work = pg.engine.all_gather([t._data for t in tensor_list], tensor._data)
    _written(*tensor_list)
    return _complete(work, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """output on rank r <- the reduction over ranks of their input_list[r]."""
    _check_tensor(output, "output", "reduce_scatter")
    _check_op(op, output, "reduce_scatter")
    pg = member_group(group, "reduce_scatter")
    if pg is None:
        return None
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
    pg = member_group(group, "all_gather_into_tensor")
    if pg is None:
        return None
    outs = _chunks(output_tensor, pg.size(), "output_tensor", input_tensor, "all_gather_into_tensor")
    work = pg.engine.all_gather(outs, input_tensor._data)
    _written(output_tensor)
    return _complete(work, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """output on rank r <- the reduction over ranks of chunk r of `input` (split along dim 0)."""
    _check_tensor(output, "output", "reduce_scatter_tensor")
    _check_tensor(input, "input", "reduce_scatter_tensor")
    _check_op(op, output, "reduce_scatter_tensor")
    pg = member_group(group, "reduce_scatter_tensor")
    if pg is None:
        return None
    ins = _chunks(input, pg.size(), "input", output, "reduce_scatter_tensor")
    work = pg.engine.reduce_scatter(output._data, ins, op)
    _written(output)
    return _complete(work, async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Block until every rank of the group has reached this barrier (or raise after the group's timeout)."""
    pg = member_group(group, "barrier")
    if pg is None:
        return None
    return _complete(pg.engine.barrier(), async_op)


def _check_rank(rank, pg, what, name):
    if not isinstance(rank, (int, np.integer)) or not 0 <= rank < pg.size():
        raise ValueError(f"{what}: {name}={rank!r} is not a rank of the group (world size {pg.size()})")


def _group_src(group, src, group_src):
    """The group rank of the source: `group_src`, or the global rank `src` translated (torch's rules)."""
    if group_src is not None:
        if src is not None:
            raise ValueError("Can't specify both group_rank and global_rank")
        return group_src
    if src is None:
        raise ValueError("Must specify global_rank or group_rank")
    return get_group_rank(group, src) if group is not None else src


# all-to-all: rank i's j-th piece goes to rank j, which keeps it as its i-th piece -------------------

def _check_tensor_list(tensors, name):
    if not isinstance(tensors, list) or not all(isinstance(t, Tensor) for t in tensors):
        got = type(tensors) if not isinstance(tensors, list) else [type(t) for t in tensors]
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type List[Tensor] but got {got} "
                        f"instead.")


def _check_same_dtype(tensors):
    for t in tensors[1:]:
        if t.dtype != tensors[0].dtype:
            raise ValueError(f"Invalid usage of tensors with different dtypesFound {tensors[0].dtype} and  {t.dtype}")


def _split_counts(splits, tensor, group_size):
    """Elements per peer of `tensor`, split along dim 0 by `splits` (rows; empty: equal parts)."""
    if tensor.dim() == 0:
        raise RuntimeError("all_to_all_single: tensors need at least one dimension to split along dim 0")
    rows = tensor.shape[0]
    if not splits:
        if rows % group_size != 0:
            raise RuntimeError("Tensor's dim 0 does not divide equally across group size")
        splits = [rows // group_size] * group_size
    elif len(splits) != group_size:
        raise RuntimeError("Number of tensor splits not equal to group size")
    elif sum(splits) != rows or min(splits) < 0:
        raise RuntimeError("Split sizes doesn't match total dim 0 size")
    row_numel = tensor.numel() // rows if rows else 0
    return [int(n) * row_numel for n in splits]


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op=False):
    """Split `input` along dim 0 (by input_split_sizes, or evenly) and send piece j to rank j; `output`
    receives the pieces from ranks 0, 1, ... concatenated (sized by output_split_sizes, or evenly)."""
    pg = member_group(group, "all_to_all_single")
    if pg is None:
        return None
    _check_tensor(output, "output", "all_to_all_single")
    _check_tensor(input, "input", "all_to_all_single")
    _check_same_dtype([output, input])
    if not output_split_sizes and not input_split_sizes and output.numel() != input.numel():
        raise RuntimeError("Tensors are not equal in size or data type")
    out_counts = _split_counts(output_split_sizes, output, pg.size())
    in_counts = _split_counts(input_split_sizes, input, pg.size())
    work = pg.engine.all_to_all_single(output._data, input._data, out_counts, in_counts)
    _written(output)
    return _complete(work, async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Send input_tensor_list[j] to rank j; output_tensor_list[i] receives rank i's piece for this rank.
    Pieces may differ in size (as long as sender and receiver agree)."""
    pg = member_group(group, "all_to_all")
    if pg is None:
        return None
    _check_tensor_list(output_tensor_list, "output_tensor_list")
    _check_tensor_list(input_tensor_list, "input_tensor_list")
    _check_same_dtype(output_tensor_list + input_tensor_list)
    for name, tensors in (("output", output_tensor_list), ("input", input_tensor_list)):
        if len(tensors) != pg.size():
            raise RuntimeError(f"all_to_all: {name} tensor list size {len(tensors)} does not match world size "
                               f"{pg.size()}")
    work = pg.engine.all_to_all([t._data for t in output_tensor_list], [t._data for t in input_tensor_list])
    _written(*output_tensor_list)
    return _complete(work, async_op)


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
    pg = member_group(group, "all_gather_object")
    if pg is None:
        return None
    if not isinstance(object_list, list) or len(object_list) != pg.size():
        got = len(object_list) if isinstance(object_list, list) else type(object_list).__name__
        raise ValueError(f"all_gather_object: object_list must be a list of world_size={pg.size()} entries, "
                         f"got {got}")
    for r, data in enumerate(_all_gather_bytes(pg, pickle.dumps(obj))):
        object_list[r] = pickle.loads(data)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Replace object_list's entries on every rank with those of global rank `src` (or group rank
    `group_src`; default: global rank 0). The lists have equal lengths."""
    if src is None and group_src is None:
        src = 0
    src = _group_src(group, src, group_src)
    pg = member_group(group, "broadcast_object_list")
    if pg is None:
        return None
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
