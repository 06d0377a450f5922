"""The "gloo" backend (CPUs): torch.distributed's gloo runs every collective.

Our numpy buffers are handed to gloo as zero-copy torch views (torch.from_numpy), so a collective
writes straight into the mytorch tensor. A subgroup's engine is a copy of the world's that passes
the matching torch.distributed group (torch's new_group) to every call. torch is needed only here,
imported on first use.
"""
import copy

import numpy as np

from .process_group import ReduceOp, Work, divide_in_place
from .store import wait_for_peers, wait_for_server

_INSTALL_HINT = 'pip install "mytorch[distributed]"'
_REDUCIBLE = ("float16", "bfloat16", "float32", "float64", "int8", "uint8", "int32", "int64", "bool")


def import_torch_distributed():
    try:
        import torch
        import torch.distributed as dist
    except ImportError:
        raise ImportError("mytorch.distributed's \"gloo\" backend (multi-process training on CPUs) runs on "
                          f"torch.distributed's gloo, and torch is not installed: {_INSTALL_HINT}") from None
    if not dist.is_available() or not dist.is_gloo_available():
        raise RuntimeError(f"this torch build ({torch.__version__}) has no gloo backend; install a standard "
                           f"build: {_INSTALL_HINT}")
    return torch, dist


class GlooEngine:
    def __init__(self, addr, port, rank, world_size, local_rank, timeout, store, device_id):
        self.torch, self.dist = torch, dist = import_torch_distributed()
        self.rank, self.world_size, self.timeout = rank, world_size, timeout
        self._group, self.ranks = None, list(range(world_size))  # torch's group (None: its default one)
        self.where = f"rank {rank} of world size {world_size}"
        where = f"{addr}:{port}"
        if dist.is_initialized():
            raise RuntimeError("torch.distributed's default process group is already initialized in this "
                               "process; mytorch's gloo backend needs it for itself")
        if store is not None and not isinstance(store, dist.Store):
            raise TypeError(f"the gloo backend needs a torch.distributed store (TCPStore, FileStore, HashStore), "
                            f"got {type(store).__name__}")
        if store is None:
            try:
                if rank != 0:  # torch's client retries with long back-offs: wait for rank 0 ourselves
                    wait_for_server(addr, port, timeout)
                store = dist.TCPStore(addr, port, world_size, rank == 0, timeout=timeout, wait_for_workers=False)
            except Exception as err:  # DistNetworkError / DistStoreError, depending on torch's version
                role = "open" if rank == 0 else "reach"
                raise RuntimeError(f"mytorch.distributed: rank {rank} of world size {world_size} could not {role} "
                                   f"the rendezvous store at {where} within {timeout} (is rank 0 running, and "
                                   f"MASTER_ADDR/MASTER_PORT the same everywhere?): {err}") from None
        self.store = store
        wait_for_peers(store, rank, world_size, timeout, where)
        try:
            dist.init_process_group("gloo", store=dist.PrefixStore("mytorch/gloo", store), rank=rank,
                                    world_size=world_size, timeout=timeout)
        except Exception as err:
            raise RuntimeError(f"mytorch.distributed: gloo failed to connect rank {rank} of world size "
                               f"{world_size} (store at {where}, timeout {timeout}): {err}") from None
        self._reduce_ops = {ReduceOp.SUM: dist.ReduceOp.SUM, ReduceOp.AVG: dist.ReduceOp.SUM,
                            ReduceOp.PRODUCT: dist.ReduceOp.PRODUCT, ReduceOp.MIN: dist.ReduceOp.MIN,
                            ReduceOp.MAX: dist.ReduceOp.MAX}

    def new_group(self, ranks, timeout, use_local_synchronization=False):
        """The engine of the subgroup of global `ranks` (in group-rank order), or None on a rank outside
        it. Every rank calls it (only members, with use_local_synchronization), as torch's new_group."""
        options = {"use_local_synchronization": True} if use_local_synchronization else {}
        if ranks != sorted(ranks):
            options["sort_ranks"] = False
        torch_group = self.dist.new_group(ranks, timeout=timeout, backend="gloo", **options)
        if self.rank not in ranks:
            return None
        sub = copy.copy(self)
        sub._group, sub.ranks, sub.timeout = torch_group, list(ranks), timeout
        sub.rank, sub.world_size = ranks.index(self.rank), len(ranks)
        sub.where = f"rank {sub.rank} of group {ranks} (global rank {self.rank})"
        return sub

    # buffers: our arrays as torch tensors ---------------------------------------------------------
    def _view(self, arr, writes_back=True, reduces=False):
        """(torch tensor over `arr`'s memory, list of copy-back steps). A CUDA array, a
        non-contiguous or read-only one goes through a contiguous host copy."""
        if reduces and arr.dtype.name not in _REDUCIBLE:
            raise TypeError(f"gloo can't reduce {arr.dtype.name} tensors (it reduces {', '.join(_REDUCIBLE)})")
        steps = []
        if type(arr) is not np.ndarray:  # cupy: gloo reads host memory
            host = arr.get()
            if writes_back:
                steps.append(lambda: arr.__setitem__(Ellipsis, _to_like(arr, host)))
        elif not (arr.flags.c_contiguous and arr.flags.writeable):
            host = np.ascontiguousarray(arr).copy() if not arr.flags.writeable else np.ascontiguousarray(arr)
            if writes_back and host is not arr:
                steps.append(lambda: np.copyto(arr, host))
        else:
            host = arr
        if host.dtype.kind == "b":
            host = host.view(np.uint8)
        elif host.dtype.name == "int16" and not reduces:  # moved, not reduced: any 2-byte type will do
            host = host.view(np.float16)
        if host.dtype.name == "bfloat16":  # ml_dtypes' bfloat16: hand torch the same 2-byte words
            return self.torch.from_numpy(host.view(np.int16)).view(self.torch.bfloat16), steps
        return self.torch.from_numpy(host), steps

    def _work(self, what, torch_work, steps):
        def wait():
            try:
                torch_work.wait()
            except RuntimeError as err:
                raise RuntimeError(f"mytorch.distributed {what} failed on {self.where} (gloo, timeout "
                                   f"{self.timeout}): {err}") from None

        def finish():
            for step in steps:
                step()
        return Work(wait, finish, torch_work.is_completed)

    def _reduce_op(self, arr, op):
        if arr.dtype.kind == "b":  # bools travel as uint8: "sum" is or, "product" is and
            op = {ReduceOp.SUM: ReduceOp.MAX, ReduceOp.PRODUCT: ReduceOp.MIN}.get(op, op)
        return self._reduce_ops[op]

    # collectives -----------------------------------------------------------------------------------
    def all_reduce(self, arr, op):
        tensor, steps = self._view(arr, reduces=True)
        work = self.dist.all_reduce(tensor, op=self._reduce_op(arr, op), group=self._group, async_op=True)
        if op is ReduceOp.AVG:
            steps.append(lambda: divide_in_place(arr, self.world_size))
        return self._work("all_reduce", work, steps)

    def broadcast(self, arr, src):
        tensor, steps = self._view(arr)
        work = self.dist.broadcast(tensor, self.ranks[src], group=self._group, async_op=True)  # torch: global src
        return self._work("broadcast", work, steps)

    def all_gather(self, out_arrays, arr):
        tensor, _ = self._view(arr, writes_back=False)
        outs, steps = [], []
        for out in out_arrays:
            view, out_steps = self._view(out)
            outs.append(view)
            steps += out_steps
        return self._work("all_gather", self.dist.all_gather(outs, tensor, group=self._group, async_op=True), steps)

    def reduce_scatter(self, out, in_arrays, op):
        out_tensor, steps = self._view(out, reduces=True)
        ins = [self._view(a, writes_back=False, reduces=True)[0] for a in in_arrays]
        try:
            work = self.dist.reduce_scatter(out_tensor, ins, op=self._reduce_op(out, op), group=self._group,
                                            async_op=True)
        except RuntimeError as err:
            if "support" not in str(err):
                raise
            return self._reduce_scatter_by_all_reduce(out, in_arrays, op)
        if op is ReduceOp.AVG:
            steps.append(lambda: divide_in_place(out, self.world_size))
        return self._work("reduce_scatter", work, steps)

    def _reduce_scatter_by_all_reduce(self, out, in_arrays, op):
        # torch < 2.4's gloo has no reduce_scatter: reduce everything, keep this rank's share
        stacked = np.stack([np.asarray(a) if type(a) is np.ndarray else a.get() for a in in_arrays])
        work = self.all_reduce(stacked, op)
        return Work(work.wait, lambda: out.__setitem__(Ellipsis, _to_like(out, stacked[self.rank])))

    def all_to_all_single(self, out, arr, out_counts, in_counts):
        """Flat all-to-all: this rank's `arr` (flattened) in pieces of in_counts elements, one per
        rank; `out` gets out_counts elements from each rank, in rank order."""
        out_tensor, steps = self._view(out)
        in_tensor, _ = self._view(arr, writes_back=False)
        work = self.dist.all_to_all_single(out_tensor.reshape(-1), in_tensor.reshape(-1), list(out_counts),
                                           list(in_counts), group=self._group, async_op=True)
        return self._work("all_to_all", work, steps)

    def all_to_all(self, out_arrays, in_arrays):
        # gloo's list all-to-all wants equal shapes; one flat exchange allows any sizes (as NCCL's)
        send = np.concatenate([_host(a).reshape(-1) for a in in_arrays])
        recv = np.empty(sum(out.size for out in out_arrays), send.dtype)
        work = self.all_to_all_single(recv, send, [out.size for out in out_arrays], [a.size for a in in_arrays])

        def copy_out():
            start = 0
            for out in out_arrays:
                out[...] = _to_like(out, recv[start:start + out.size].reshape(out.shape))
                start += out.size
        return Work(work.wait, copy_out, work.is_completed)

    def barrier(self):
        return self._work("barrier", self.dist.barrier(group=self._group, async_op=True), [])

    # object collectives stage their bytes in host arrays
    def array(self, host):
        return host

    def to_host(self, arr):
        return arr

    def close(self):
        if self.dist.is_initialized():
            self.dist.destroy_process_group(self._group)  # None: the default group and all the others
        self.store = None


def _host(arr):
    return arr if type(arr) is np.ndarray else arr.get()


def _to_like(arr, host):
    """`host` (numpy) as an array of `arr`'s kind (numpy or cupy)."""
    if type(arr) is np.ndarray:
        return host
    import cupy

    return cupy.asarray(host)
