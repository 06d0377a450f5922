"""The "nccl" backend (GPUs): cupy's NCCL bindings run every collective.

Rank 0 makes the NCCL unique id and shares it through the TCP store at MASTER_ADDR:MASTER_PORT;
each rank then builds a `cupy.cuda.nccl.NcclCommunicator`. Collectives are queued on the current
CUDA stream, so later kernels on that stream see their results. `Work.wait` polls an event
recorded after the collective and aborts the communicator if it outlives the timeout, so a
missing peer raises instead of hanging forever. Reductions NCCL lacks (AVG on old versions,
bool) are composed: SUM then divide, bool as uint8 with SUM -> MAX and PRODUCT -> MIN.
A subgroup gets its own communicator, made the same way: its group rank 0 creates the unique id and
shares it under a key naming the group's ranks. All-to-all is grouped send/recv (NCCL 2.7+).
"""
import copy
import datetime
import json
import time

from .process_group import ReduceOp, Work, divide_in_place
from .store import TCPStore, wait_for_peers

# numpy dtype name -> cupy.cuda.nccl constant name (NCCL has no int16; bool travels as uint8)
_NCCL_TYPES = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
               "bfloat16": "NCCL_BFLOAT16", "int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "bool": "NCCL_UINT8",
               "int32": "NCCL_INT32", "uint32": "NCCL_UINT32", "int64": "NCCL_INT64", "uint64": "NCCL_UINT64"}
_NCCL_OPS = {ReduceOp.SUM: "NCCL_SUM", ReduceOp.AVG: "NCCL_SUM", ReduceOp.PRODUCT: "NCCL_PROD",
             ReduceOp.MIN: "NCCL_MIN", ReduceOp.MAX: "NCCL_MAX"}


def _import_nccl():
    from .._array import cupy_module

    cp = cupy_module()
    if cp is None:
        raise RuntimeError('the "nccl" backend needs an NVIDIA GPU and cupy (pip install "mytorch[gpu]"); '
                           'on CPUs use backend="gloo"')
    try:
        from cupy.cuda import nccl
    except ImportError as err:
        raise RuntimeError(f'the "nccl" backend needs cupy with NCCL support (cupy.cuda.nccl): {err}') from None
    if not getattr(nccl, "available", True):
        raise RuntimeError('cupy was built without NCCL; install a cupy wheel with NCCL (pip install '
                           '"mytorch[gpu]") or use backend="gloo"')
    return cp, nccl


class NcclEngine:
    def __init__(self, addr, port, rank, world_size, local_rank, timeout, store, device_id):
        self.cp, self.nccl = cp, nccl = _import_nccl()
        self.rank, self.world_size, self.timeout = rank, world_size, timeout
        self.device_index = self._pick_device(device_id, local_rank)
        cp.cuda.Device(self.device_index).use()  # like torch.cuda.set_device(local_rank)
        where = f"{addr}:{port}"
        own_store = store is None
        if own_store:
            try:
                store = TCPStore(addr, port, world_size, is_master=rank == 0, timeout=timeout)
            except (OSError, RuntimeError) as err:
                role = "open" if rank == 0 else "reach"
                raise RuntimeError(f"mytorch.distributed: rank {rank} of world size {world_size} could not {role} "
                                   f"the rendezvous store at {where} within {timeout}: {err}") from None
        self.store, self._own_store = store, own_store
        wait_for_peers(store, rank, world_size, timeout, where)
        if rank == 0:
            store.set("mytorch/nccl_unique_id", json.dumps(list(nccl.get_unique_id())))
        unique_id = tuple(json.loads(store.get("mytorch/nccl_unique_id")))
        with cp.cuda.Device(self.device_index):
            self.comm = nccl.NcclCommunicator(world_size, unique_id, rank)
        self._aborted = False
        self._can_check_errors = nccl.get_build_version() >= 2400  # ncclCommGetAsyncError: NCCL 2.4+
        self.where = f"rank {rank} of world size {world_size}"
        self._groups_made = {}  # ranks -> how many groups over exactly these ranks this rank has made

    def new_group(self, ranks, timeout, use_local_synchronization=False):
        """The engine of the subgroup of global `ranks` (in group-rank order), or None on a rank outside
        it. Members must create their groups in the same order; non-members need not take part."""
        members = "-".join(map(str, ranks))
        # the n-th group over these ranks has its own key, whether or not non-members call new_group
        count = self._groups_made.get(members, 0)
        self._groups_made[members] = count + 1
        if self.rank not in ranks:
            return None
        group_rank, key = ranks.index(self.rank), f"mytorch/nccl_unique_id/group/{members}/{count}"
        if group_rank == 0:
            self.store.set(key, json.dumps(list(self.nccl.get_unique_id())))
        unique_id = tuple(json.loads(self.store.get(key)))
        sub = copy.copy(self)
        with self.cp.cuda.Device(self.device_index):
            sub.comm = self.nccl.NcclCommunicator(len(ranks), unique_id, group_rank)
        sub.rank, sub.world_size, sub.timeout = group_rank, len(ranks), timeout
        sub.where = f"rank {group_rank} of group {ranks} (global rank {self.rank})"
        sub._own_store, sub._aborted, sub._groups_made = False, False, None
        return sub

    def _pick_device(self, device_id, local_rank):
        cp = self.cp
        if device_id is not None:
            from .._array import to_device

            dev = to_device(device_id if not isinstance(device_id, int) else f"cuda:{device_id}")
            return dev.index or 0
        count, current = cp.cuda.runtime.getDeviceCount(), cp.cuda.runtime.getDevice()
        # a process that didn't choose a GPU (still on 0) takes GPU LOCAL_RANK, as torchrun scripts do
        if current == 0 and count > 1:
            return local_rank % count
        return current

    # buffers ---------------------------------------------------------------------------------------
    def _buffer(self, arr, what):
        """(contiguous device buffer, copy-back step or None)."""
        cp = self.cp
        if not isinstance(arr, cp.ndarray):
            raise RuntimeError(f"mytorch.distributed {what} with backend nccl needs CUDA tensors on cuda:"
                               f"{self.device_index}, got a CPU tensor; move it with .cuda() or use gloo")
        if arr.device.id != self.device_index:
            raise RuntimeError(f"mytorch.distributed {what}: tensor is on cuda:{arr.device.id} but this rank's "
                               f"NCCL communicator is on cuda:{self.device_index}")
        if arr.flags.c_contiguous:
            return arr, None
        buf = cp.ascontiguousarray(arr)
        return buf, lambda: arr.__setitem__(Ellipsis, buf)

    def _type(self, arr, what):
        name = _NCCL_TYPES.get(arr.dtype.name)
        if name is None or not hasattr(self.nccl, name):
            raise TypeError(f"mytorch.distributed {what}: NCCL can't reduce {arr.dtype.name} tensors "
                            f"(supported: {', '.join(k for k in _NCCL_TYPES if hasattr(self.nccl, _NCCL_TYPES[k]))})")
        return getattr(self.nccl, name)

    def _op(self, arr, op):
        if arr.dtype.kind == "b":
            op = {ReduceOp.SUM: ReduceOp.MAX, ReduceOp.PRODUCT: ReduceOp.MIN}.get(op, op)
        return getattr(self.nccl, _NCCL_OPS[op])

    def _launch(self, what, call, steps, buffers):
        """Run `call(stream_ptr)` on the current stream; the Work waits for it with the timeout and
        holds `buffers` (the device memory the collective reads and writes) until then."""
        cp = self.cp
        if self._aborted:
            raise RuntimeError(f"mytorch.distributed {what}: the NCCL communicator was aborted after an earlier "
                               f"timeout; destroy_process_group() and initialise again")
        stream = cp.cuda.get_current_stream()
        try:
            with cp.cuda.Device(self.device_index):
                call(stream.ptr)
        except self.nccl.NcclError as err:
            raise RuntimeError(f"mytorch.distributed {what} failed on {self.where} (nccl): {err}") from None
        done = cp.cuda.Event(disable_timing=True)
        done.record(stream)
        timeout_s = self.timeout.total_seconds()

        def wait():
            deadline = time.monotonic() + timeout_s
            delay = 0.0
            while not done.done:
                if time.monotonic() > deadline:
                    self.comm.abort()
                    self._aborted = True
                    raise RuntimeError(f"mytorch.distributed {what} timed out after "
                                       f"{datetime.timedelta(seconds=timeout_s)} on {self.where} (nccl): a peer "
                                       f"never joined this collective; the communicator was aborted")
                time.sleep(delay)
                delay = min(delay * 2 or 1e-5, 1e-3)
            if self._can_check_errors:
                self.comm.check_async_error()  # raises NcclError if the collective failed

        def finish():
            for step in steps:
                if step is not None:
                    step()
        work = Work(wait, finish, lambda: done.done)
        work.buffers = buffers
        return work

    # collectives -----------------------------------------------------------------------------------
    def all_reduce(self, arr, op):
        buf, copy_back = self._buffer(arr, "all_reduce")
        dtype, nccl_op = self._type(buf, "all_reduce"), self._op(buf, op)
        ptr = buf.data.ptr
        steps = [copy_back]
        if op is ReduceOp.AVG:
            steps.append(lambda: divide_in_place(arr, self.world_size))
        return self._launch("all_reduce", lambda s: self.comm.allReduce(ptr, ptr, buf.size, dtype, nccl_op, s),
                            steps, (buf,))

    def broadcast(self, arr, src):
        buf, copy_back = self._buffer(arr, "broadcast")
        # data movement only: send the raw bytes, whatever the dtype
        return self._launch("broadcast", lambda s: self.comm.bcast(buf.data.ptr, buf.nbytes, self.nccl.NCCL_UINT8,
                                                                   src, s), [copy_back], (buf,))

    def all_gather(self, out_arrays, arr):
        cp = self.cp
        send, _ = self._buffer(arr, "all_gather")
        for out in out_arrays:
            self._buffer(out, "all_gather")  # device checks
        recv = cp.empty(self.world_size * send.nbytes, dtype=cp.uint8)
        nbytes = send.nbytes

        def copy_out():
            for i, out in enumerate(out_arrays):
                out[...] = recv[i * nbytes:(i + 1) * nbytes].view(arr.dtype).reshape(arr.shape)
        return self._launch("all_gather", lambda s: self.comm.allGather(send.data.ptr, recv.data.ptr, nbytes,
                                                                        self.nccl.NCCL_UINT8, s), [copy_out],
                            (send, recv))

    def reduce_scatter(self, out, in_arrays, op):
        cp = self.cp
        recv, copy_back = self._buffer(out, "reduce_scatter")
        for a in in_arrays:
            self._buffer(a, "reduce_scatter")
        send = cp.concatenate([cp.ascontiguousarray(a).ravel() for a in in_arrays])
        dtype, nccl_op = self._type(recv, "reduce_scatter"), self._op(recv, op)
        steps = [copy_back]
        if op is ReduceOp.AVG:
            steps.append(lambda: divide_in_place(out, self.world_size))
        return self._launch("reduce_scatter", lambda s: self.comm.reduceScatter(send.data.ptr, recv.data.ptr,
                                                                                recv.size, dtype, nccl_op, s), steps,
                            (send, recv))

    def _send_recv(self, what, sends, recvs):
        """One NCCL group of point-to-point calls: sends[peer] / recvs[peer] are (pointer, bytes), to and
        from each rank of this communicator (self included); zero-byte pieces are skipped (a pair is
        skipped on both sides, since sender and receiver agree on its size)."""
        nccl = self.nccl
        if not hasattr(nccl, "groupStart") or not hasattr(self.comm, "send"):
            raise RuntimeError(f"mytorch.distributed {what} with backend nccl needs NCCL 2.7+ and a cupy with "
                               f"its send/recv (cupy.cuda.nccl.groupStart, NcclCommunicator.send)")

        def call(stream):
            nccl.groupStart()
            try:
                for peer, ((send_ptr, send_bytes), (recv_ptr, recv_bytes)) in enumerate(zip(sends, recvs)):
                    if send_bytes:
                        self.comm.send(send_ptr, send_bytes, nccl.NCCL_UINT8, peer, stream)
                    if recv_bytes:
                        self.comm.recv(recv_ptr, recv_bytes, nccl.NCCL_UINT8, peer, stream)
            finally:
                nccl.groupEnd()
        return call

    def all_to_all_single(self, out, arr, out_counts, in_counts):
        """Flat all-to-all: this rank's `arr` (flattened) in pieces of in_counts elements, one per
        rank; `out` gets out_counts elements from each rank, in rank order."""
        recv, copy_back = self._buffer(out, "all_to_all_single")
        send, _ = self._buffer(arr, "all_to_all_single")
        item = send.dtype.itemsize

        def pieces(buf, counts):
            starts = [0]
            for n in counts[:-1]:
                starts.append(starts[-1] + n)
            return [(buf.data.ptr + start * item, n * item) for start, n in zip(starts, counts)]
        call = self._send_recv("all_to_all_single", pieces(send, in_counts), pieces(recv, out_counts))
        return self._launch("all_to_all_single", call, [copy_back], (send, recv))

    def all_to_all(self, out_arrays, in_arrays):
        sends = [self._buffer(a, "all_to_all")[0] for a in in_arrays]
        recvs = [self._buffer(out, "all_to_all") for out in out_arrays]
        call = self._send_recv("all_to_all", [(b.data.ptr, b.nbytes) for b in sends],
                               [(b.data.ptr, b.nbytes) for b, _ in recvs])
        buffers = tuple(sends) + tuple(b for b, _ in recvs)
        return self._launch("all_to_all", call, [step for _, step in recvs], buffers)

    def barrier(self):
        token = self.cp.zeros(1, dtype=self.cp.float32)
        return self.all_reduce(token, ReduceOp.SUM)

    # object collectives stage their bytes on this rank's GPU
    def array(self, host):
        with self.cp.cuda.Device(self.device_index):
            return self.cp.asarray(host)

    def to_host(self, arr):
        return self.cp.asnumpy(arr)

    def close(self):
        if not self._aborted:
            self.comm.destroy()
        if self._own_store:
            self.store.close()
