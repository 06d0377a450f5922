"""DistributedDataParallel: one model replica per process, gradients averaged over the processes.

At wrap time rank 0's parameters and buffers are broadcast, so every replica starts identical.
Each forward (with grad enabled, outside `no_sync()`) arms the reducer; during backward it
all-reduces gradient buckets as they fill and, at the end of backward, writes the averages into
every `.grad`, so each rank's optimizer takes the same step.
"""
from contextlib import contextmanager

from ... import distributed as dist
from ..._array import get_array_module, to_device
from ...autograd import grad_mode
from ...distributed.reducer import Reducer
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]


def _to_device(obj, device):
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(x, device) for x in obj)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


class DistributedDataParallel(Module):
    """DistributedDataParallel(module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
    init_sync=True, process_group=None, bucket_cap_mb=25, find_unused_parameters=False, static_graph=False)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True, init_sync=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel expects an nn.Module, got {type(module).__name__}")
        if dim != 0:
            raise ValueError(f"DistributedDataParallel splits no inputs; dim must be 0, got {dim}")
        self.process_group = dist.process_group.default_group(process_group)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        devices = sorted({str(p.device) for _, p in module.named_parameters()})
        if len(devices) > 1:
            raise ValueError(f"DistributedDataParallel's module must live on one device, but its parameters are "
                             f"on {devices}")
        self.device = to_device(devices[0])
        if device_ids is not None:
            if self.device.type == "cpu":
                raise ValueError(f"DistributedDataParallel device_ids and output_device arguments only work with "
                                 f"single-device GPU modules, but got device_ids {device_ids}, output_device "
                                 f"{output_device}, and module parameters {{{self.device}}}.")
            if len(device_ids) != 1 or to_device(_cuda(device_ids[0])) != self.device:
                raise ValueError(f"DistributedDataParallel: device_ids={device_ids} must be the one GPU the module "
                                 f"lives on ({self.device})")
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.static_graph = static_graph  # a hint PyTorch uses for optimisations; the semantics are the same
        self.bucket_cap_mb = 25 if bucket_cap_mb is None else bucket_cap_mb
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._check_same_model_everywhere(named)
        if init_sync:
            self._broadcast_from_rank0(self._state_tensors())
        names = {id(p): n for n, p in named}
        self.reducer = Reducer([p for _, p in named], names, self.process_group,
                               int(self.bucket_cap_mb * (1 << 20)), find_unused_parameters)

    # wrap time -----------------------------------------------------------------------------------------
    def _state_tensors(self):
        seen, tensors = set(), []
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            if id(t) not in seen:
                seen.add(id(t))
                tensors.append(t)
        return tensors

    def _check_same_model_everywhere(self, named):
        mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in named]
        everyone = [None] * self.process_group.size()
        dist.all_gather_object(everyone, mine, group=self.process_group)
        for rank, theirs in enumerate(everyone):
            if theirs != everyone[0]:
                diff = next(((a, b) for a, b in zip(everyone[0], theirs) if a != b), (len(everyone[0]), len(theirs)))
                raise RuntimeError(f"DistributedDataParallel expects the same model on every rank, but rank {rank} "
                                   f"differs from rank 0: {diff[1]} vs {diff[0]} (name, shape, dtype or count)")

    def _broadcast_from_rank0(self, tensors):
        """Broadcast in one flat buffer per dtype (few large collectives, not one per tensor)."""
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(t.dtype, []).append(t)
        for group in by_dtype.values():
            xp = get_array_module(group[0]._data)
            flat = xp.concatenate([t._data.reshape(-1) for t in group])
            dist.broadcast(Tensor._make(flat), group=self.process_group, group_src=0)  # the group's first rank
            start = 0
            for t in group:
                stop = start + t._data.size
                t._data[...] = flat[start:stop].reshape(t._data.shape)
                t._version.value += 1
                start = stop

    # each step -----------------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        if self.require_forward_param_sync and self.broadcast_buffers:
            buffers = list(self.module.buffers())
            if buffers:
                self._broadcast_from_rank0(buffers)
        if self.device_ids is not None:
            inputs, kwargs = _to_device(inputs, self.device), _to_device(kwargs, self.device)
        outputs = self.module(*inputs, **kwargs)
        if grad_mode.is_grad_enabled():  # a no_grad forward (evaluation) leaves a pending sync alone
            if self.require_backward_grad_sync:
                self.reducer.prepare_for_backward(outputs)
            else:
                self.reducer.skip_this_backward()
        return outputs

    @contextmanager
    def no_sync(self):
        """Backward passes inside accumulate gradients locally; the next synced backward all-reduces
        the accumulated sum."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # checkpoints -----------------------------------------------------------------------------------------
    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Accepts a DDP state_dict ("module." keys) or the bare module's."""
        if state_dict and not any(k.startswith("module.") for k in state_dict):
            return self.module.load_state_dict(state_dict, strict=strict, assign=assign)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def __del__(self):
        reducer = self.__dict__.get("reducer")
        if reducer is not None:
            reducer.remove_hooks()


def _cuda(device):
    return f"cuda:{device}" if isinstance(device, int) else device
