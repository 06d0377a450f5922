"""Operations on nested structures of tensors: move to a device, upcast, gather and reduce across processes."""
import functools

from .. import _dtype
from ..tensor import Tensor


def recursively_apply(fn, data, test=lambda x: isinstance(x, Tensor)):
    """fn applied to every leaf of `data` that passes `test`, keeping the containers (tuple, list, dict, namedtuple)."""
    if isinstance(data, (tuple, list)):
        items = [recursively_apply(fn, d, test) for d in data]
        if hasattr(data, "_fields"):  # namedtuple
            return type(data)(*items)
        return type(data)(items)
    if isinstance(data, dict):
        return type(data)({k: recursively_apply(fn, v, test) for k, v in data.items()})
    return fn(data) if test(data) else data


def send_to_device(data, device):
    return recursively_apply(lambda t: t if t.device == device else t.to(device), data)


def _upcast(t):
    return t.float() if t.dtype in (_dtype.float16, _dtype.bfloat16) else t


def convert_to_fp32(data):
    """float16/bfloat16 tensors in `data` become float32 (the model's outputs leave autocast in full precision)."""
    return recursively_apply(_upcast, data)


def autocast_forward(forward, make_autocast):
    """`forward` run under the accelerator's autocast, its half-precision outputs upcast to float32."""

    @functools.wraps(forward)
    def wrapped(*args, **kwargs):
        with make_autocast():
            out = forward(*args, **kwargs)
        return convert_to_fp32(out)

    wrapped._accelerate_original_forward = forward
    return wrapped


def _dist():
    from .. import distributed

    return distributed


def _gather_one(t, world_size):
    """All ranks' `t` concatenated along dim 0 (0-d tensors become a 1-d tensor of world_size)."""
    from ..ops.shape import cat

    dist = _dist()
    t = t.detach()
    scalar = t.dim() == 0
    if scalar:
        t = t.reshape(1)
    t = t.contiguous()
    parts = [t.new_empty(t.shape) for _ in range(world_size)]
    dist.all_gather(parts, t)
    return cat(parts, dim=0)


def gather(data, num_processes):
    if num_processes == 1:
        return data
    return recursively_apply(lambda t: _gather_one(t, num_processes), data)


def gather_object(obj, num_processes):
    """Every rank's object in one list (lists are concatenated, as Accelerate's gather_object does)."""
    if num_processes == 1:
        return obj if isinstance(obj, list) else [obj]
    out = [None] * num_processes
    _dist().all_gather_object(out, obj)
    return [x for part in out for x in (part if isinstance(part, list) else [part])]


def reduce(data, reduction, num_processes):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")

    def reduce_one(t):
        t = t.detach().clone()
        if num_processes == 1 or reduction == "none":
            return t
        dist = _dist()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t / num_processes if reduction == "mean" else t

    return recursively_apply(reduce_one, data)
