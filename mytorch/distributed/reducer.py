"""DDP's gradient reducer: bucketed all-reduce that overlaps with backward.

Parameters are grouped, in reverse registration order (roughly the order backward produces their
gradients), into buckets of at most `bucket_cap_bytes` of one dtype and device. A hook on each
parameter marks it ready once backward has accumulated its `.grad`; when every parameter of a
bucket is ready, its gradients are flattened into one buffer and an async all-reduce starts while
backward goes on. Buckets start strictly in index order, so every rank issues the same collectives
in the same order. At the end of backward a queued callback starts what is left, waits, divides by
the world size and writes the averages back into each `.grad` (in place: optimizers hold them).
"""
import weakref

import numpy as np

from .._array import array_module, to_device
from ..autograd.engine import queue_callback
from ..autograd.function import AccumulateGrad
from ..tensor import Tensor
from .process_group import ReduceOp

FIRST_BUCKET_BYTES = 1 << 20  # a small first bucket starts communication early (as in PyTorch)


class _Bucket:
    def __init__(self, index, dtype, device):
        self.index, self.dtype, self.device = index, dtype, device
        self.params, self.slices, self.nbytes = [], [], 0
        self.pending, self.flat, self.work = 0, None, None

    def add(self, param):
        start = self.slices[-1][1] if self.slices else 0
        self.params.append(param)
        self.slices.append((start, start + param.numel()))
        self.nbytes += param.numel() * param.element_size()


def assign_buckets(params, bucket_cap_bytes, first_bucket_bytes=FIRST_BUCKET_BYTES):
    """Buckets over `params` taken last to first; one open bucket per (dtype, device)."""
    buckets, open_buckets = [], {}
    for param in reversed(params):
        key = (param.dtype, str(param.device))
        bucket = open_buckets.get(key)
        nbytes = param.numel() * param.element_size()
        cap = first_bucket_bytes if bucket is not None and bucket.index == 0 else bucket_cap_bytes
        if bucket is None or bucket.nbytes + nbytes > cap:
            bucket = _Bucket(len(buckets), *key)
            buckets.append(bucket)
            open_buckets[key] = bucket
        bucket.add(param)
    return buckets


def _output_tensors(obj, found):
    if isinstance(obj, Tensor):
        found.append(obj)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _output_tensors(item, found)
    elif isinstance(obj, dict):
        for item in obj.values():
            _output_tensors(item, found)
    return found


def reachable_leaves(outputs):
    """ids of the leaf tensors whose gradient backward from `outputs` can reach."""
    seen, leaves = set(), set()
    stack = [t.grad_fn or (t._grad_accumulator() if t.requires_grad else None) for t in _output_tensors(outputs, [])]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if isinstance(node, AccumulateGrad):
            leaves.add(id(node.variable))
        stack.extend(edge[0] for edge in node.next_edges if edge is not None)
    return leaves


class Reducer:
    def __init__(self, params, names, group, bucket_cap_bytes, find_unused_parameters):
        self.params, self.names, self.group = params, names, group
        self.find_unused_parameters = find_unused_parameters
        self.buckets = assign_buckets(params, bucket_cap_bytes)
        self._index = {id(p): i for i, p in enumerate(params)}
        self._place = {}  # id(param) -> (bucket, slice)
        for bucket in self.buckets:
            for param, span in zip(bucket.params, bucket.slices):
                self._place[id(param)] = (bucket, span)
        ref = weakref.ref(self)  # the hooks must not keep a discarded DDP's reducer alive

        def hook(param):
            reducer = ref()
            if reducer is not None:
                reducer._grad_ready(param)
        self._handles = [p.register_post_accumulate_grad_hook(hook) for p in params]
        self._expecting = False

    def remove_hooks(self):
        for handle in self._handles:
            handle.remove()

    # one backward ----------------------------------------------------------------------------------
    def prepare_for_backward(self, outputs):
        self._expecting, self._callback_queued = True, False
        self._ready, self._next_bucket = set(), 0
        for bucket in self.buckets:
            bucket.pending, bucket.flat, bucket.work = len(bucket.params), None, None
        self._locally_used = set()
        if self.find_unused_parameters:
            used = reachable_leaves(outputs)
            for param in self.params:
                if id(param) not in used:
                    self._mark_ready(param)

    def skip_this_backward(self):
        """A forward under no_sync(): its backward only accumulates locally."""
        self._expecting = False

    def _grad_ready(self, param):
        if not self._expecting:
            return  # no_sync, eval, or a backward that this DDP's forward didn't prepare
        if not self._callback_queued:
            queue_callback(self._finalize)
            self._callback_queued = True
        self._locally_used.add(id(param))
        self._mark_ready(param)
        self._launch_ready_buckets()

    def _mark_ready(self, param):
        if id(param) in self._ready:
            raise RuntimeError(f"DistributedDataParallel: parameter {self.names[id(param)]!r} was marked ready "
                               f"twice in one backward (is it used by two DDP-wrapped forwards?)")
        self._ready.add(id(param))
        self._place[id(param)][0].pending -= 1

    def _launch_ready_buckets(self):
        while self._next_bucket < len(self.buckets) and self.buckets[self._next_bucket].pending == 0:
            self._launch(self.buckets[self._next_bucket])
            self._next_bucket += 1

    def _launch(self, bucket):
        xp = array_module(to_device(bucket.device))
        # a locally unused parameter contributes its current grad (accumulated under no_sync) or zeros
        pieces = [self._grad_or_zeros(p, xp).reshape(-1) for p in bucket.params]
        bucket.flat = xp.concatenate(pieces)  # always a fresh buffer: .grad is written back after
        bucket.work = self.group.engine.all_reduce(bucket.flat, ReduceOp.SUM)

    @staticmethod
    def _grad_or_zeros(param, xp):
        if param.grad is not None:
            return param.grad._data
        return xp.zeros(param._data.shape, param._data.dtype)

    def _finalize(self):
        self._expecting = False
        missing = [p for p in self.params if id(p) not in self._ready]
        if missing and not self.find_unused_parameters:
            for bucket in self.buckets[:self._next_bucket]:
                bucket.work.wait()  # keep the group's collectives matched before raising
            raise RuntimeError(
                f"DistributedDataParallel: parameters {[self.names[id(p)] for p in missing]} (indices "
                f"{[self._index[id(p)] for p in missing]}) received no gradient in this backward on rank "
                f"{self.group.rank()}. This module has parameters that were not used in producing the loss: pass "
                f"find_unused_parameters=True to DistributedDataParallel, and make sure every forward output "
                f"takes part in the loss")
        for param in missing:  # reachable in the graph, yet backward delivered nothing
            self._mark_ready(param)
        self._launch_ready_buckets()
        used_by_any = None
        if self.find_unused_parameters:
            used = np.array([id(p) in self._locally_used for p in self.params], dtype=np.int32)
            used = self.group.engine.array(used)
            self.group.engine.all_reduce(used, ReduceOp.SUM).wait()
            used_by_any = self.group.engine.to_host(used) > 0
        world = self.group.size()
        for bucket in self.buckets:
            bucket.work.wait()
            bucket.flat /= world
            for param, (start, stop) in zip(bucket.params, bucket.slices):
                if used_by_any is not None and not used_by_any[self._index[id(param)]]:
                    continue  # no rank used it: leave its grad as it was, like PyTorch
                average = bucket.flat[start:stop].reshape(param._data.shape)
                if param.grad is None:
                    param.grad = Tensor._make(average.copy())
                else:
                    param.grad._data[...] = average
            bucket.flat = bucket.work = None
