"""mytorch.multiprocessing: shared-memory tensors seen by forked and spawned processes (Hogwild), tensors
through a Queue, spawn() with its error reporting, and a gloo process group started by spawn()."""
import multiprocessing as std_mp
import socket
import sys

import numpy as np
import pytest

import mytorch
import mytorch.multiprocessing as mp

FORK = pytest.mark.skipif("fork" not in std_mp.get_all_start_methods(), reason="needs the fork start method")


def _train_steps(model, seed, steps=5):
    """Hogwild worker: SGD steps on the shared parameters."""
    gen = np.random.default_rng(seed)
    opt = mytorch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        x = mytorch.tensor(gen.standard_normal((4, 3)).astype(np.float32))
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()


def _fill(i, out, value):
    out[i] = value + i


def _fail(i, bad):
    if i == bad:
        raise ValueError(f"worker {i} cannot go on")


def _exit(i, code):
    if i == 1:
        sys.exit(code)


def _add_from_queue(queue):
    t = queue.get()
    t += 5


def _all_reduce(rank, world_size, port, out):
    mytorch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                           world_size=world_size)
    t = mytorch.full((3,), float(rank + 1))
    mytorch.distributed.all_reduce(t)
    out[rank] = t
    mytorch.distributed.destroy_process_group()


def _reference_training(model, seeds):
    for seed in seeds:
        _train_steps(model, seed)
    return [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("start_method", [pytest.param("fork", marks=FORK), "spawn"])
def test_hogwild_workers_update_the_shared_model(start_method):
    mytorch.manual_seed(0)
    model = mytorch.nn.Linear(3, 2)
    twin = mytorch.nn.Linear(3, 2)
    twin.load_state_dict(model.state_dict())
    model.share_memory()
    assert all(p.is_shared() for p in model.parameters())
    ctx = std_mp.get_context(start_method)
    p = ctx.Process(target=_train_steps, args=(model, 1))  # one worker: its updates are deterministic
    p.start()
    p.join(120)
    assert p.exitcode == 0
    want = _reference_training(twin, [1])
    for got, w in zip(model.parameters(), want):
        np.testing.assert_allclose(got.detach().numpy(), w, rtol=1e-6, atol=1e-7)


def test_a_shared_tensor_through_a_queue_is_the_same_memory():
    ctx = std_mp.get_context("spawn")
    t = mytorch.zeros(4).share_memory_()
    queue = ctx.Queue()
    p = ctx.Process(target=_add_from_queue, args=(queue,))
    p.start()
    queue.put(t[1:3])  # a view: offset and strides travel with it
    p.join(120)
    assert p.exitcode == 0
    assert t.tolist() == [0.0, 5.0, 5.0, 0.0]


def test_unshared_tensors_are_copied():
    t = mytorch.zeros(2)
    assert not t.is_shared()
    ctx = std_mp.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=_add_from_queue, args=(queue,))
    p.start()
    queue.put(t)
    p.join(120)
    assert p.exitcode == 0 and t.tolist() == [0.0, 0.0]


def test_spawn_runs_every_index():
    out = mytorch.zeros(3).share_memory_()
    assert mp.spawn(_fill, args=(out, 10.0), nprocs=3) is None
    assert out.tolist() == [10.0, 11.0, 12.0]
    ctx = mp.spawn(_fill, args=(out, 20.0), nprocs=2, join=False)
    assert len(ctx.pids()) == 2
    while not ctx.join():
        pass
    assert out.tolist() == [20.0, 21.0, 12.0]


def test_spawn_reports_the_failing_process():
    with pytest.raises(mp.ProcessRaisedException, match="(?s)Process 1 terminated.*ValueError: worker 1 cannot go"):
        mp.spawn(_fail, args=(1,), nprocs=2)
    with pytest.raises(mp.ProcessExitedException, match="process 1 terminated with exit code 3") as err:
        mp.spawn(_exit, args=(3,), nprocs=2)
    assert err.value.exit_code == 3 and err.value.error_index == 1
    with pytest.raises(ValueError, match="nprocs"):
        mp.spawn(_fill, nprocs=0)


def test_spawned_gloo_group_all_reduces():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = mytorch.zeros(2, 3).share_memory_()
    mp.spawn(_all_reduce, args=(2, port, out), nprocs=2)
    assert out.tolist() == [[3.0] * 3, [3.0] * 3]


def test_module_namespace():
    assert mytorch.multiprocessing is mp
    assert mp.Process is std_mp.Process and mp.get_context is std_mp.get_context
    assert mp.get_sharing_strategy() in mp.get_all_sharing_strategies()
    with pytest.raises(ValueError, match="sharing strategy"):
        mp.set_sharing_strategy("file_descriptor_passing")
