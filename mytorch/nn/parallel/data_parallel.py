"""nn.DataParallel: one process, the batch split over several GPUs.

Each forward scatters the inputs along `dim` over `device_ids`, runs a replica of the module on every
device and gathers the outputs on `output_device`. Replicas are made with differentiable copies
(`tensor.to(device)`), so backward sums every replica's gradient into the original parameters, as
PyTorch's Broadcast does. The replica on device_ids[0] is the module itself (its buffer updates, e.g.
BatchNorm's running statistics, are kept; the other replicas' are dropped, as in PyTorch). Without GPUs,
or with one, the module runs unchanged. The replicas run one after another: cupy launches are
asynchronous, so the GPUs still overlap their work. (PyTorch recommends DistributedDataParallel instead,
and so does mytorch: nn.parallel.DistributedDataParallel.)
"""
import copy

from ... import cuda
from ..._array import to_device
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["DataParallel", "data_parallel"]


def _device_index(d):
    if isinstance(d, int):
        return d
    dev = to_device(d)
    return dev.index if dev.index is not None else 0


def _scatter(obj, devices, dim):
    """obj split into len(devices) chunks along dim (tensors), recursively through tuples/lists/dicts."""
    if isinstance(obj, Tensor):
        chunks = obj.chunk(len(devices), dim)
        return [c.to(f"cuda:{d}") for c, d in zip(chunks, devices)]
    if isinstance(obj, (tuple, list)) and obj:
        per = [_scatter(o, devices, dim) for o in obj]
        n = min(len(p) for p in per)
        return [type(obj)(p[i] for p in per) for i in range(n)]
    if isinstance(obj, dict) and obj:
        per = {k: _scatter(v, devices, dim) for k, v in obj.items()}
        n = min(len(p) for p in per.values())
        return [{k: p[i] for k, p in per.items()} for i in range(n)]
    return [obj for _ in devices]


def _gather(outputs, device, dim):
    first = outputs[0]
    if isinstance(first, Tensor):
        from ...ops.shape import cat

        if first.ndim == 0:  # scalars (a loss per replica): stacked, as PyTorch's Gather does
            from ...ops.shape import stack

            return stack([o.to(device) for o in outputs])
        return cat([o.to(device) for o in outputs], dim)
    if isinstance(first, (tuple, list)):
        return type(first)(_gather([o[i] for o in outputs], device, dim) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _gather([o[k] for o in outputs], device, dim) for k in first}
    return first


def _replicate(module, device):
    """A copy of module's tree whose parameters are differentiable copies on `device`, buffers plain copies."""
    memo = {}

    def copy_tree(m):
        if id(m) in memo:
            return memo[id(m)]
        r = copy.copy(m)
        memo[id(m)] = r
        r.__dict__ = dict(m.__dict__)
        r._parameters = {k: (None if p is None else p.to(device)) for k, p in m._parameters.items()}
        r._buffers = {k: (None if b is None else b.detach().to(device)) for k, b in m._buffers.items()}
        r._modules = {k: (None if c is None else copy_tree(c)) for k, c in m._modules.items()}
        return r

    return copy_tree(module)


class DataParallel(Module):
    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.dim = dim
        if not cuda.is_available():
            self.device_ids, self.output_device = [], None
            return
        if device_ids is None:
            device_ids = list(range(cuda.device_count()))
        self.device_ids = [_device_index(d) for d in device_ids]
        self.output_device = _device_index(output_device) if output_device is not None else self.device_ids[0]
        self.src_device = f"cuda:{self.device_ids[0]}"
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if str(t.device) != self.src_device:
                raise RuntimeError(f"module must have its parameters and buffers on device {self.src_device} "
                                   f"(device_ids[0]) but found one of them on device: {t.device}")

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        if len(self.device_ids) == 1:
            inputs = _scatter(inputs, self.device_ids, self.dim)[0]
            kwargs = _scatter(kwargs, self.device_ids, self.dim)[0] if kwargs else {}
            return self.module(*inputs, **kwargs)
        ins = _scatter(inputs, self.device_ids, self.dim)
        kws = _scatter(kwargs, self.device_ids, self.dim) if kwargs else [{} for _ in ins]
        used = self.device_ids[:len(ins)]
        outputs = []
        for i, (d, a, k) in enumerate(zip(used, ins, kws)):
            replica = self.module if i == 0 else _replicate(self.module, f"cuda:{d}")
            with cuda.device(d):
                outputs.append(replica(*a, **k))
        return _gather(outputs, f"cuda:{self.output_device}", self.dim)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """The functional form: one DataParallel forward."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    return DataParallel(module, device_ids, output_device, dim)(*inputs, **(module_kwargs or {}))
