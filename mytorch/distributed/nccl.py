"""The "nccl" backend (GPUs): cupy's NCCL bindings run every collective.

Rank 0 makes the NCCL unique id and shares it through the TCP store at MASTER_ADDR:MASTER_PORT;
each rank then builds a `cupy.cuda.nccl.NcclCommunicator`. Collectives are queued on the current
CUDA stream, so later kernels on that stream see their results. `Work.wait` polls an event
recorded after the collective and aborts the communicator if it outlives the timeout, so a
missing peer raises instead of hanging forever. Reductions NCCL lacks (AVG on old versions,
bool) are composed: SUM then divide, bool as uint8 with SUM -> MAX and PRODUCT -> MIN.
"""
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
            raise RuntimeError(f"mytorch.distributed {what} failed on rank {self.rank} of world size "
                               f"{self.world_size} (nccl): {err}") from None
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
                                       f"{datetime.timedelta(seconds=timeout_s)} on rank {self.rank} of world size "
                                       f"{self.world_size} (nccl): a peer never joined this collective; the "
                                       f"communicator was aborted")
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
