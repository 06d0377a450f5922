"""mytorch.distributed collectives, checked in real multi-process groups (gloo on CPU; NCCL on GPUs).

Process start-up (torch and mytorch imported) costs seconds, so one 2-process run checks it all:
init with a missing peer times out with a clear message, every collective on every dtype, then a
collective that a peer skips times out. Workers assert inside the child processes; the test checks
that every rank finished cleanly and in time.
"""
import datetime
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

if __package__ in (None, ""):  # started as a worker script by spawn.run_ranks
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.distributed.spawn import free_port, run_ranks, save, worker_main  # noqa: E402

HERE = Path(__file__)


def _inputs(rank, shape, dtype):
    """Rank r's input: distinct per rank, with negatives so MIN/MAX/AVG's rounding are exercised."""
    base = np.arange(np.prod(shape)).reshape(shape) - 2
    return (base * (rank + 1) + 3 * rank).astype(dtype)


def check_collectives(backend, device):
    import mytorch
    import mytorch.distributed as dist
    from mytorch.utils.data import DistributedSampler

    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=60))
    rank, world = dist.get_rank(), dist.get_world_size()
    assert dist.is_initialized() and dist.get_backend() == backend
    assert world == int(os.environ["WORLD_SIZE"]) and rank == int(os.environ["RANK"])

    def t(arr):
        return mytorch.tensor(arr, device=device)

    def host(x):
        return x.cpu().numpy()

    everyone = lambda shape, dtype: [_inputs(r, shape, dtype) for r in range(world)]  # noqa: E731
    for dtype in (np.float32, np.float64, np.int64):
        ins = everyone((2, 3), dtype)
        stacked = np.stack(ins)
        expected = {dist.ReduceOp.SUM: stacked.sum(0), dist.ReduceOp.MAX: stacked.max(0),
                    dist.ReduceOp.MIN: stacked.min(0), dist.ReduceOp.PRODUCT: stacked.prod(0),
                    dist.ReduceOp.AVG: (stacked.sum(0) / world if dtype != np.int64
                                        else np.trunc(stacked.sum(0) / world).astype(np.int64))}
        for op, want in expected.items():
            x = t(ins[rank])
            dist.all_reduce(x, op=op)
            assert x.dtype == mytorch.tensor(ins[rank]).dtype
            np.testing.assert_allclose(host(x), want, rtol=1e-6, err_msg=f"all_reduce {op} {dtype}")

        # a non-contiguous view is reduced in place into its base
        base = t(np.zeros((3, 2), dtype))
        view = base.t()
        view.copy_(t(ins[rank]))
        dist.all_reduce(view)
        np.testing.assert_array_equal(host(base), expected[dist.ReduceOp.SUM].T, err_msg=f"strided {dtype}")

        x = t(ins[rank])
        work = dist.all_reduce(x, op=dist.ReduceOp.MAX, async_op=True)
        work.wait()
        assert work.is_completed()
        np.testing.assert_array_equal(host(x), expected[dist.ReduceOp.MAX], err_msg="async all_reduce")

        src = world - 1  # broadcast from the last rank (rank 1 of 2)
        x = t(ins[rank])
        dist.broadcast(x, src=src)
        np.testing.assert_array_equal(host(x), ins[src], err_msg=f"broadcast {dtype}")

        outs = [t(np.zeros((2, 3), dtype)) for _ in range(world)]
        dist.all_gather(outs, t(ins[rank]))
        for r in range(world):
            np.testing.assert_array_equal(host(outs[r]), ins[r], err_msg=f"all_gather[{r}] {dtype}")

        flat = t(np.zeros((2 * world, 3), dtype))
        dist.all_gather_into_tensor(flat, t(ins[rank]))
        np.testing.assert_array_equal(host(flat), np.concatenate(ins), err_msg=f"all_gather_into_tensor {dtype}")

        # reduce_scatter: rank r gets the reduction of everyone's input_list[r]
        lists = [[_inputs(r, (4,), dtype) + 10 * j for j in range(world)] for r in range(world)]
        for op in (dist.ReduceOp.SUM, dist.ReduceOp.MAX):
            out = t(np.zeros(4, dtype))
            dist.reduce_scatter(out, [t(a) for a in lists[rank]], op=op)
            mine = np.stack([lists[r][rank] for r in range(world)])
            want = mine.sum(0) if op is dist.ReduceOp.SUM else mine.max(0)
            np.testing.assert_array_equal(host(out), want, err_msg=f"reduce_scatter {op} {dtype}")
            out = t(np.zeros(4, dtype))
            dist.reduce_scatter_tensor(out, t(np.concatenate(lists[rank])), op=op)
            np.testing.assert_array_equal(host(out), want, err_msg=f"reduce_scatter_tensor {op} {dtype}")

    # int16: neither gloo nor NCCL reduces it (a clear TypeError), but it can be moved
    with pytest.raises(TypeError, match="int16"):
        dist.all_reduce(t(_inputs(rank, (3,), np.int16)))
    x = t(_inputs(rank, (3,), np.int16))
    dist.broadcast(x, src=world - 1)
    np.testing.assert_array_equal(host(x), _inputs(world - 1, (3,), np.int16))

    flags = t(np.array([rank == 0, False, True]))
    dist.all_reduce(flags)  # bool SUM is logical or
    np.testing.assert_array_equal(host(flags), [True, False, True])

    objs = [None] * world
    dist.all_gather_object(objs, {"rank": rank, "payload": "x" * (100 * rank + 1)})
    assert objs == [{"rank": r, "payload": "x" * (100 * r + 1)} for r in range(world)], objs
    sent = [rank, f"from {rank}", {"nested": [rank]}]
    dist.broadcast_object_list(sent, src=world - 1)
    assert sent == [world - 1, f"from {world - 1}", {"nested": [world - 1]}], sent

    # barrier really waits: the last rank arrives 0.5 s late
    if rank == world - 1:
        time.sleep(0.5)
    start = time.monotonic()
    dist.barrier()
    waited = time.monotonic() - start
    if rank == 0 and world > 1:
        assert waited > 0.3, f"barrier returned after {waited:.3f}s, before the late rank arrived"

    with pytest.raises(ValueError, match=f"world_size={world} tensors, got {world + 1}"):
        dist.all_gather([t(np.zeros(3)) for _ in range(world + 1)], t(np.zeros(3)))
    with pytest.raises(RuntimeError, match="shape"):
        dist.all_gather([t(np.zeros(3)) for _ in range(world)], t(np.zeros(4)))
    with pytest.raises(RuntimeError, match=r"expected world_size=\d+ times \[2\]"):
        dist.all_gather_into_tensor(t(np.zeros(2 * world + 1)), t(np.zeros(2)))
    with pytest.raises(TypeError, match="ReduceOp"):
        dist.all_reduce(t(np.zeros(3)), op="sum")

    sampler = DistributedSampler(list(range(10)), shuffle=False)
    assert (sampler.num_replicas, sampler.rank) == (world, rank)
    assert list(sampler) == list(range(10))[rank::world]

    with pytest.raises(RuntimeError, match="twice"):
        dist.init_process_group(backend)
    dist.destroy_process_group()
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="not been initialized"):
        dist.get_rank()


def check_nccl():
    check_collectives("nccl", "cuda")
    save(done=1)


def _line_up(tag, world):
    """Wait until every rank got here (through files, not the network being tested)."""
    out = Path(os.environ["TEST_OUT_DIR"])
    (out / f"{tag}{os.environ['RANK']}").touch()
    deadline = time.monotonic() + 60
    while not all((out / f"{tag}{r}").exists() for r in range(world)):
        assert time.monotonic() < deadline, f"the other ranks never reached {tag}"
        time.sleep(0.02)


def check_init_timeout(rank, world, port):
    """Rank 0 waits alone at `port` for rank 1 that never comes; rank 1 dials a port nobody serves.
    Both must raise a RuntimeError naming rank, world size, address and timeout, within the timeout."""
    import mytorch.distributed as dist

    start = time.monotonic()
    with pytest.raises(RuntimeError) as err:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=2))
    elapsed = time.monotonic() - start
    message = str(err.value)
    for part in (f"rank {rank}", f"world size {world}", f"127.0.0.1:{port}", "0:00:02"):
        assert part in message, f"{part!r} missing from: {message}"
    if rank == 0:
        assert f"{list(range(1, world))}" in message, message  # names the ranks that never joined
    assert 1.5 < elapsed < 8, f"init gave up after {elapsed:.1f}s with a 2 s timeout"
    assert not dist.is_initialized()


def check_collective_timeout(rank, world, port):
    """In a group with a 2 s timeout, ranks > 0 skip an all_reduce: rank 0's raises in time."""
    import mytorch
    import mytorch.distributed as dist

    _line_up("ready", world)  # so the short timeout measures only the skipped collective
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=2))
    dist.barrier()
    if rank == 0:
        start = time.monotonic()
        with pytest.raises(RuntimeError, match="all_reduce") as err:
            dist.all_reduce(mytorch.ones(3))
        elapsed = time.monotonic() - start
        assert "rank 0" in str(err.value) and "0:00:02" in str(err.value), str(err.value)
        assert 1.5 < elapsed < 8, f"all_reduce gave up after {elapsed:.1f}s with a 2 s timeout"
    _line_up("finished", world)  # the others stay alive (and silent) until rank 0 has timed out


def check_gloo(idle_port, unserved_port, short_port):
    import torch  # noqa: F401  (imported up front, so the timings below measure only the waiting)

    import mytorch.distributed  # noqa: F401

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    for name, step in [("init timeout", lambda: check_init_timeout(rank, world, idle_port if rank == 0
                                                                   else unserved_port)),
                       ("collectives", lambda: check_collectives("gloo", "cpu")),
                       ("collective timeout", lambda: check_collective_timeout(rank, world, short_port))]:
        start = time.monotonic()
        step()
        print(f"rank {rank}: {name} checks took {time.monotonic() - start:.2f}s", flush=True)
    save(done=1)


def test_collectives_and_timeouts_gloo(tmp_path):
    # one 2-process run (start-up dominates): init timeouts, every collective, a collective's timeout
    run_ranks(HERE, "check_gloo", tmp_path, args=(free_port(), free_port(), free_port()), timeout=150)


def test_not_initialized_and_bad_arguments():
    import mytorch.distributed as dist

    assert dist.is_available() and not dist.is_initialized()
    with pytest.raises(ValueError, match="not been initialized"):
        dist.get_world_size()
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("mpi", rank=0, world_size=1, init_method="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="RANK"):
        env = {k: os.environ.pop(k) for k in ("RANK", "SLURM_PROCID") if k in os.environ}
        try:
            dist.init_process_group("gloo")
        finally:
            os.environ.update(env)
    with pytest.raises(ValueError, match="init_method"):
        dist.init_process_group("gloo", init_method="file:///tmp/x", rank=0, world_size=1)


def test_gloo_without_torch_names_the_extra(monkeypatch):
    import mytorch.distributed as dist

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    monkeypatch.setitem(sys.modules, "torch.distributed", None)
    with pytest.raises(ImportError, match=r'pip install "mytorch\[distributed\]"'):
        dist.init_process_group("gloo", init_method="tcp://127.0.0.1:1", rank=0, world_size=1)
    assert not dist.is_initialized()


def test_rendezvous_from_slurm_and_tcp_urls(monkeypatch):
    from mytorch.distributed.process_group import _rendezvous

    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("SLURM_NTASKS", "8")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu[007-008,012],cpu1")
    monkeypatch.setenv("SLURM_JOB_ID", "123456")
    rank, world, local_rank, addr, port = _rendezvous("env://", -1, -1)
    assert (rank, world, local_rank, addr) == (3, 8, 1, "gpu007")
    assert 1024 < port < 65536 and port == _rendezvous("env://", -1, -1)[4]  # same on every task
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    assert _rendezvous("env://", 0, 2)[2:] == (1, "10.0.0.1", 29500)
    assert _rendezvous("tcp://10.1.2.3:1234?rank=1&world_size=4", -1, -1) == (1, 4, 1, "10.1.2.3", 1234)
    assert _rendezvous("tcp://[::1]:1234", 0, 2)[3:] == ("::1", 1234)
    with pytest.raises(ValueError, match="invalid rank 4 for world size 4"):
        _rendezvous("tcp://h:1?rank=4&world_size=4", -1, -1)


def test_store_get_waits_and_times_out():
    from mytorch.distributed import TCPStore

    server = TCPStore("127.0.0.1", 0, is_master=True, timeout=datetime.timedelta(seconds=5))
    client = TCPStore("127.0.0.1", server.port, timeout=datetime.timedelta(seconds=5))
    try:
        client.set("k", b"v")
        assert server.get("k") == b"v" and server.add("n", 2) == 2 and client.add("n", 3) == 5
        assert client.check(["k"]) and not client.check(["missing"])
        start = time.monotonic()
        with pytest.raises(RuntimeError, match="'missing' was not set"):
            client.get("missing", timeout=datetime.timedelta(seconds=0.3))
        assert 0.25 < time.monotonic() - start < 3
    finally:
        client.close()
        server.close()


def _fake_cupy(event_done=True):
    """A stand-in for cupy + cupy.cuda.nccl, enough to drive the NCCL engine's code on a CPU: arrays
    are numpy arrays with a `.data.ptr`, and a one-rank communicator moves the bytes behind the
    pointers exactly as NCCL would for a world of one (so wrong counts or byte sizes show up)."""
    import ctypes
    import types

    class FakeArray(np.ndarray):
        @property
        def data(self):
            return types.SimpleNamespace(ptr=self.ctypes.data)

        @property
        def device(self):
            return types.SimpleNamespace(id=0)

    wrap = lambda a: np.asarray(a).view(FakeArray)  # noqa: E731
    sizes = {1: 1, 2: 1, 3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 4, 9: 8}
    calls = []

    class Communicator:
        def __init__(self, ndev, uid, rank):
            assert (ndev, rank) == (1, 0) and len(uid) == 128
            self.aborted = False

        def allReduce(self, send, recv, count, dtype, op, stream):
            calls.append(("allReduce", op))
            ctypes.memmove(recv, send, count * sizes[dtype])

        def bcast(self, buff, count, dtype, root, stream):
            calls.append(("bcast", root))

        def allGather(self, send, recv, count, dtype, stream):
            ctypes.memmove(recv, send, count * sizes[dtype])

        def reduceScatter(self, send, recv, recvcount, dtype, op, stream):
            ctypes.memmove(recv, send, recvcount * sizes[dtype])

        def check_async_error(self):
            pass

        def abort(self):
            self.aborted = True
            calls.append(("abort",))

        def destroy(self):
            calls.append(("destroy",))

    nccl = types.SimpleNamespace(available=True, NcclCommunicator=Communicator,
                                 NcclError=type("NcclError", (RuntimeError,), {}), get_unique_id=lambda: tuple(range(-64, 64)), get_build_version=lambda: 21800,
                                 NCCL_INT8=1, NCCL_UINT8=2, NCCL_INT32=3, NCCL_UINT32=4, NCCL_INT64=5,
                                 NCCL_UINT64=6, NCCL_FLOAT16=7, NCCL_FLOAT32=8, NCCL_FLOAT64=9,
                                 NCCL_SUM=0, NCCL_PROD=1, NCCL_MAX=2, NCCL_MIN=3)

    class Device:
        def __init__(self, index=0):
            self.id = index

        def use(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    class Event:
        def __init__(self, disable_timing=False):
            self.done = event_done

        def record(self, stream):
            pass

    cuda = types.SimpleNamespace(Device=Device, Event=Event, nccl=nccl, nccl_enabled=True,
                                 get_current_stream=lambda: types.SimpleNamespace(ptr=0),
                                 runtime=types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0))
    cp = types.SimpleNamespace(cuda=cuda, ndarray=FakeArray, uint8=np.uint8, float32=np.float32,
                               asarray=wrap, asnumpy=lambda a: np.asarray(a).view(np.ndarray).copy(),
                               ascontiguousarray=lambda a: wrap(np.ascontiguousarray(a)),
                               concatenate=lambda xs: wrap(np.concatenate(xs)),
                               empty=lambda *a, **k: wrap(np.empty(*a, **k)),
                               zeros=lambda *a, **k: wrap(np.zeros(*a, **k)))
    return cp, wrap, calls


@pytest.mark.parametrize("event_done", [True, False])
def test_nccl_engine_plumbing_on_a_fake_cupy(monkeypatch, event_done):
    """The NCCL engine's argument handling, without a GPU: counts, byte sizes, staging of strided
    arrays, AVG's division, bool ops, the object collectives' staging, and the timeout path."""
    import sys

    import mytorch._array
    import mytorch.distributed as dist
    from mytorch.distributed.process_group import ReduceOp

    cp, wrap, calls = _fake_cupy(event_done)
    monkeypatch.setattr(mytorch._array, "cupy_module", lambda: cp)
    for name, module in (("cupy", cp), ("cupy.cuda", cp.cuda), ("cupy.cuda.nccl", cp.cuda.nccl)):
        monkeypatch.setitem(sys.modules, name, module)
    dist.init_process_group("nccl", init_method="tcp://127.0.0.1:0", rank=0, world_size=1,
                            timeout=datetime.timedelta(seconds=0.3))
    try:
        engine = dist.group.WORLD.engine
        if not event_done:  # the collective never completes: wait() aborts and raises in time
            start = time.monotonic()
            with pytest.raises(RuntimeError, match="timed out after 0:00:00.300000 on rank 0"):
                engine.all_reduce(wrap(np.ones(3, np.float32)), ReduceOp.SUM).wait()
            assert time.monotonic() - start < 3 and ("abort",) in calls
            with pytest.raises(RuntimeError, match="aborted"):
                engine.all_reduce(wrap(np.ones(3, np.float32)), ReduceOp.SUM)
            return
        x = wrap(np.arange(6, dtype=np.float64).reshape(2, 3))
        engine.all_reduce(x, ReduceOp.AVG).wait()
        np.testing.assert_array_equal(x, np.arange(6).reshape(2, 3))
        strided = wrap(np.zeros((3, 2), np.int64)).T
        strided[...] = np.arange(6).reshape(2, 3)
        engine.all_reduce(strided, ReduceOp.MAX).wait()
        np.testing.assert_array_equal(strided, np.arange(6).reshape(2, 3))
        flags = wrap(np.array([True, False]))
        engine.all_reduce(flags, ReduceOp.SUM).wait()
        assert ("allReduce", cp.cuda.nccl.NCCL_MAX) in calls  # bool sum is or: MAX on uint8
        with pytest.raises(TypeError, match="int16"):
            engine.all_reduce(wrap(np.zeros(2, np.int16)), ReduceOp.SUM)
        with pytest.raises(RuntimeError, match="CPU tensor"):
            engine.all_reduce(np.zeros(2, np.float32), ReduceOp.SUM)
        engine.broadcast(x, 0).wait()
        assert calls[-1] == ("bcast", 0)
        outs = [wrap(np.zeros((2, 3), np.float64))]
        engine.all_gather(outs, x).wait()
        np.testing.assert_array_equal(outs[0], x)
        out = wrap(np.zeros(4, np.int32))
        engine.reduce_scatter(out, [wrap(np.arange(4, dtype=np.int32) * 3)], ReduceOp.SUM).wait()
        np.testing.assert_array_equal(out, np.arange(4) * 3)
        engine.barrier().wait()
        objs = [None]
        dist.all_gather_object(objs, {"a": [1, 2]})
        assert objs == [{"a": [1, 2]}]
        sent = ["x", 3]
        dist.broadcast_object_list(sent)
        assert sent == ["x", 3]
    finally:
        dist.destroy_process_group()
    assert calls[-1] == ("destroy",)


@pytest.mark.gpu
def test_collectives_nccl_one_gpu(tmp_path):
    run_ranks(HERE, "check_nccl", tmp_path, world_size=1, timeout=120)


@pytest.mark.gpu
def test_collectives_nccl_two_gpus(tmp_path):
    import mytorch

    if mytorch.cuda.device_count() < 2:
        pytest.skip("needs 2 GPUs (NCCL runs one rank per GPU)")
    run_ranks(HERE, "check_nccl", tmp_path, world_size=2, timeout=120)


if __name__ == "__main__":
    worker_main(globals())
