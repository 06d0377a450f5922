"""Process subgroups and all-to-all in mytorch.distributed, checked against torch.distributed's semantics.

One 4-process gloo run (start-up dominates) checks it all, with groups [0, 2] and [1, 3] side by side,
[1, 2, 3] (rank 0 left out) and [3, 1] in that order: the rank-mapping helpers, every collective on a
subgroup, what a non-member gets (torch's warning, nothing done), all_to_all / all_to_all_single with
uneven splits (torch's documented example among them), the argument errors, new_subgroups, DDP on a
subgroup and destroying groups. Expected values are computed directly. The NCCL code for subgroups and
all-to-all is driven on a fake cupy (no GPU here).
"""
import datetime
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

if __package__ in (None, ""):  # started as a worker script by spawn.run_ranks
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.distributed.spawn import run_ranks, save, worker_main  # noqa: E402

HERE = Path(__file__)
WORLD = 4

# torch.distributed.all_to_all_single's docstring example: 4 ranks, uneven splits, and what each receives
DOC_INPUT = [list(range(0, 6)), list(range(10, 19)), list(range(20, 25)), list(range(30, 37))]
DOC_IN_SPLITS = [[2, 2, 1, 1], [3, 2, 2, 2], [2, 1, 1, 1], [2, 2, 2, 1]]
DOC_OUT_SPLITS = [[2, 3, 2, 2], [2, 2, 1, 2], [1, 2, 1, 2], [1, 2, 1, 1]]
DOC_OUTPUT = [[0, 1, 10, 11, 12, 20, 21, 30, 31], [2, 3, 13, 14, 22, 32, 33], [4, 15, 16, 23, 34, 35],
              [5, 17, 18, 24, 36]]


def _inputs(rank, shape, dtype):
    base = np.arange(np.prod(shape)).reshape(shape) - 2
    return (base * (rank + 1) + 3 * rank).astype(dtype)


def _all_to_all_reference(inputs, in_splits):
    """What each rank receives: piece r of every rank's input (split along dim 0), in rank order."""
    pieces = [np.split(x, np.cumsum(s)[:-1]) for x, s in zip(inputs, in_splits)]
    return [np.concatenate([p[r] for p in pieces]) for r in range(len(inputs))]


def _line_up(tag, ranks):
    """Wait (through files, not the network being tested) until `ranks` have passed `tag`."""
    out = Path(os.environ["TEST_OUT_DIR"])
    (out / f"{tag}{os.environ['RANK']}").touch()
    deadline = time.monotonic() + 30
    while not all((out / f"{tag}{r}").exists() for r in ranks):
        assert time.monotonic() < deadline, f"ranks {ranks} never reached {tag}"
        time.sleep(0.02)


def check_mapping(dist, rank, pair, members, tail, backwards):
    assert dist.get_rank(pair) == members.index(rank) and dist.get_world_size(pair) == 2
    assert dist.get_process_group_ranks(pair) == members and dist.get_backend(pair) == "gloo"
    assert [dist.get_global_rank(pair, i) for i in range(2)] == members
    assert dist.get_group_rank(pair, rank) == members.index(rank)
    outsider = (rank + 1) % WORLD
    with pytest.raises(ValueError, match=f"Global rank {outsider} is not part of group"):
        dist.get_group_rank(pair, outsider)
    with pytest.raises(ValueError, match="Group rank 2 is not part of group"):
        dist.get_global_rank(pair, 2)
    world = dist.group.WORLD
    assert dist.get_group_rank(world, 3) == 3 and dist.get_global_rank(world, 2) == 2
    assert dist.get_process_group_ranks(None) == list(range(WORLD)) and dist.get_rank(world) == rank
    # ranks [3, 1, 2] are sorted (torch's default); [3, 1] with sort_ranks=False keep their order
    if rank == 0:
        assert tail is dist.GroupMember.NON_GROUP_MEMBER == -100
        assert dist.get_rank(tail) == -1 and dist.get_world_size(tail) == -1
    else:
        assert dist.get_process_group_ranks(tail) == [1, 2, 3] and dist.get_rank(tail) == rank - 1
    if rank in (1, 3):
        assert dist.get_process_group_ranks(backwards) == [3, 1] and dist.get_rank(backwards) == [3, 1].index(rank)
        order = [None, None]
        dist.all_gather_object(order, rank, group=backwards)
        assert order == [3, 1], order
    else:
        assert backwards == dist.GroupMember.NON_GROUP_MEMBER
        assert dist.get_process_group_ranks(backwards) == [3, 1]  # as torch: the last group it was left out of


def check_subgroup_collectives(mytorch, dist, rank, pair, members):
    t, host = mytorch.tensor, lambda x: x.numpy()
    me, n = members.index(rank), len(members)
    for dtype in (np.float32, np.int64):
        ins = {g: _inputs(g, (2, 3), dtype) for g in members}
        stacked = np.stack([ins[g] for g in members])
        avg = stacked.sum(0) / n if dtype != np.int64 else np.trunc(stacked.sum(0) / n).astype(np.int64)
        for op, want in ((dist.ReduceOp.SUM, stacked.sum(0)), (dist.ReduceOp.MAX, stacked.max(0)),
                         (dist.ReduceOp.AVG, avg)):
            x = t(ins[rank])
            dist.all_reduce(x, op=op, group=pair)
            np.testing.assert_allclose(host(x), want, rtol=1e-6, err_msg=f"all_reduce {op} {dtype}")
        x = t(ins[rank])
        dist.broadcast(x, src=members[1], group=pair)  # src: a global rank
        np.testing.assert_array_equal(host(x), ins[members[1]])
        x = t(ins[rank])
        dist.broadcast(x, group_src=0, group=pair)
        np.testing.assert_array_equal(host(x), ins[members[0]])
        outs = [t(np.zeros((2, 3), dtype)) for _ in range(n)]
        dist.all_gather(outs, t(ins[rank]), group=pair)
        for i, g in enumerate(members):
            np.testing.assert_array_equal(host(outs[i]), ins[g])
        flat = t(np.zeros((2 * n, 3), dtype))
        dist.all_gather_into_tensor(flat, t(ins[rank]), group=pair)
        np.testing.assert_array_equal(host(flat), np.concatenate([ins[g] for g in members]))
        lists = {g: [_inputs(g, (4,), dtype) + 10 * j for j in range(n)] for g in members}
        want = sum(lists[g][me] for g in members)
        out = t(np.zeros(4, dtype))
        dist.reduce_scatter(out, [t(a) for a in lists[rank]], group=pair)
        np.testing.assert_array_equal(host(out), want)
        out = t(np.zeros(4, dtype))
        dist.reduce_scatter_tensor(out, t(np.concatenate(lists[rank])), group=pair)
        np.testing.assert_array_equal(host(out), want)
    x = t(np.full(3, float(rank)))
    dist.all_reduce(x, group=pair, async_op=True).wait()
    np.testing.assert_array_equal(host(x), np.full(3, float(sum(members))))
    objs = [None] * n
    dist.all_gather_object(objs, {"rank": rank}, group=pair)
    assert objs == [{"rank": g} for g in members], objs
    sent = [rank, f"from {rank}"]
    dist.broadcast_object_list(sent, src=members[1], group=pair)
    assert sent == [members[1], f"from {members[1]}"], sent
    sent = [rank]
    dist.broadcast_object_list(sent, group_src=0, group=pair)
    assert sent == [members[0]], sent
    with pytest.raises(ValueError, match=f"Global rank {(rank + 1) % WORLD} is not part of group"):
        dist.broadcast(t(np.zeros(2)), src=(rank + 1) % WORLD, group=pair)
    with pytest.raises(ValueError, match="world_size=2 tensors, got 4"):
        dist.all_gather([t(np.zeros(2)) for _ in range(WORLD)], t(np.zeros(2)), group=pair)
    # the groups are independent: [1, 3] waits until [0, 2] has passed its barrier
    if rank % 2 == 0:
        dist.barrier(group=pair)
        _line_up("even_barrier", [0, 2])
    else:
        _line_up("even_barrier", [0, 2])
        dist.barrier(group=pair)


def check_non_member(mytorch, dist, rank, tail):
    """Rank 0 is outside [1, 2, 3]: as in torch, each collective warns and does nothing."""
    t = mytorch.tensor
    if rank != 0:
        x = t(np.full(2, float(rank)))
        dist.all_reduce(x, group=tail)
        np.testing.assert_array_equal(x.numpy(), [6.0, 6.0])
        return
    x = t(np.ones(2))
    calls = {"all_reduce": lambda: dist.all_reduce(x, group=tail),
             "broadcast": lambda: dist.broadcast(x, src=1, group=tail),
             "all_gather": lambda: dist.all_gather([t(np.ones(2))] * 3, x, group=tail),
             "all_gather_into_tensor": lambda: dist.all_gather_into_tensor(t(np.ones(6)), x, group=tail),
             "reduce_scatter": lambda: dist.reduce_scatter(x, [t(np.ones(2))] * 3, group=tail),
             "reduce_scatter_tensor": lambda: dist.reduce_scatter_tensor(x, t(np.ones(6)), group=tail),
             "barrier": lambda: dist.barrier(group=tail),
             "all_to_all": lambda: dist.all_to_all([x] * 3, [x] * 3, group=tail),
             "all_to_all_single": lambda: dist.all_to_all_single(t(np.ones(3)), t(np.ones(3)), group=tail),
             "all_gather_object": lambda: dist.all_gather_object([None] * 3, 1, group=tail),
             "broadcast_object_list": lambda: dist.broadcast_object_list([1], src=1, group=tail)}
    for name, call in calls.items():
        with pytest.warns(UserWarning, match=f"Running {name} on global rank 0 which does not belong to the "
                                             f"given group."):
            assert call() is None
    np.testing.assert_array_equal(x.numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match="Invalid process group specified"):
        dist.get_backend(tail)
    assert dist.destroy_process_group(tail) is None  # a no-op for a non-member


def check_all_to_all(mytorch, dist, rank, tail):
    t = mytorch.tensor
    # torch's documented uneven example, on the whole world
    out = t(np.zeros(sum(DOC_OUT_SPLITS[rank]), np.int64))
    dist.all_to_all_single(out, t(np.array(DOC_INPUT[rank])), DOC_OUT_SPLITS[rank], DOC_IN_SPLITS[rank])
    np.testing.assert_array_equal(out.numpy(), DOC_OUTPUT[rank])
    world_single = out.numpy()
    pieces = np.split(np.array(DOC_INPUT[rank]), np.cumsum(DOC_IN_SPLITS[rank])[:-1])
    outs = [t(np.zeros(DOC_OUT_SPLITS[rank][i], np.int64)) for i in range(WORLD)]
    dist.all_to_all(outs, [t(p) for p in pieces])
    np.testing.assert_array_equal(np.concatenate([o.numpy() for o in outs]), DOC_OUTPUT[rank])
    # even splits of a 2-D tensor (no split sizes), async, float32; then bools
    ins = [_inputs(r, (8, 3), np.float32) for r in range(WORLD)]
    out = t(np.zeros((8, 3), np.float32))
    dist.all_to_all_single(out, t(ins[rank]), async_op=True).wait()
    np.testing.assert_array_equal(out.numpy(), _all_to_all_reference(ins, [[2] * WORLD] * WORLD)[rank])
    flags = [np.array([r == j for j in range(WORLD)]) for r in range(WORLD)]
    out = t(np.zeros(WORLD, bool))
    dist.all_to_all_single(out, t(flags[rank]))
    np.testing.assert_array_equal(out.numpy(), np.arange(WORLD) == rank)
    if rank == 0:
        return world_single, np.zeros(0)
    # on [1, 2, 3]: group rank i sends 1 + i + j rows of 2 to group rank j, into a strided output
    members, me = [1, 2, 3], rank - 1
    splits = [[1 + i + j for j in range(3)] for i in range(3)]
    ins = [_inputs(g, (sum(splits[i]), 2), np.float64) for i, g in enumerate(members)]
    want = _all_to_all_reference(ins, splits)[me]
    base = t(np.zeros((2, want.shape[0])))
    out = base.t()
    dist.all_to_all_single(out, t(ins[me]), [splits[i][me] for i in range(3)], splits[me], group=tail)
    np.testing.assert_array_equal(base.numpy().T, want)
    # list form with pieces of different sizes: group rank i's piece for j has 1 + i + 2j elements
    outs = [t(np.zeros(1 + i + 2 * me, np.int64)) for i in range(3)]
    dist.all_to_all(outs, [t(np.arange(1 + me + 2 * j) + 100 * rank + 10 * j) for j in range(3)], group=tail)
    for i, o in enumerate(outs):
        np.testing.assert_array_equal(o.numpy(), np.arange(1 + i + 2 * me) + 100 * members[i] + 10 * me)
    return world_single, base.numpy().T


def check_errors(mytorch, dist, rank):
    """Argument errors, raised before anything is sent (so every rank can run them)."""
    t = mytorch.tensor
    z = lambda n, dtype=np.float32: t(np.zeros(n, dtype))  # noqa: E731
    for kwargs, message in (({"input_split_sizes": [4, 4]}, "Number of tensor splits not equal to group size"),
                            ({"input_split_sizes": [4, 4, 1, 0]}, "Split sizes doesn't match total dim 0 size"),
                            ({"output_split_sizes": [2, 2, 2, 1]}, "Split sizes doesn't match total dim 0 size")):
        with pytest.raises(RuntimeError, match=message):
            dist.all_to_all_single(z(8), z(8), **kwargs)
    with pytest.raises(RuntimeError, match="Tensor's dim 0 does not divide equally across group size"):
        dist.all_to_all_single(z(6), z(8), input_split_sizes=[2, 2, 2, 2])
    with pytest.raises(RuntimeError, match="Tensors are not equal in size or data type"):
        dist.all_to_all_single(z(8), z(12))
    with pytest.raises(ValueError, match="Invalid usage of tensors with different dtypes"):
        dist.all_to_all_single(z(8), z(8, np.int64))
    with pytest.raises(TypeError):
        dist.all_to_all_single([1], z(8))
    with pytest.raises(RuntimeError, match="output tensor list size 3 does not match world size 4"):
        dist.all_to_all([z(2)] * 3, [z(2)] * 4)
    with pytest.raises(RuntimeError, match="input tensor list size 3 does not match world size 4"):
        dist.all_to_all([z(2)] * 4, [z(2)] * 3)
    with pytest.raises(TypeError, match="Expected parameter `output_tensor_list`"):
        dist.all_to_all(z(2), [z(2)] * 4)
    with pytest.raises(ValueError, match="Invalid usage of tensors with different dtypes"):
        dist.all_to_all([z(2)] * 4, [z(2, np.float64)] * 4)
    # something that is not a group
    with pytest.raises(ValueError, match="Process group x is not initialized in the world group map"):
        dist.all_reduce(z(2), group="x")
    with pytest.raises(ValueError, match="is not initialized in the world group map"):
        dist.barrier(group=object())
    with pytest.raises(ValueError, match="Group x is not registered, please create group with"):
        dist.get_rank("x")
    with pytest.raises(ValueError, match="not registered"):
        dist.get_process_group_ranks([0, 1])
    with pytest.raises(ValueError, match="Can't specify both group_rank and global_rank"):
        dist.broadcast(z(2), src=0, group_src=0)
    with pytest.raises(ValueError, match="Must specify global_rank or group_rank"):
        dist.broadcast(z(2))
    with pytest.raises(ValueError, match=r"ranks list must not contain duplicate entries, got \[0, 0\]"):
        dist.new_group([0, 0])
    with pytest.raises(ValueError, match=r"Rank 5 is out of range. Valid ranks are 0 to 3 \(world_size=4\)"):
        dist.new_group([0, 5])
    with pytest.raises(TypeError, match="Expected timeout argument to be of type datetime.timedelta, got 5"):
        dist.new_group([0], timeout=5)
    for size, message in ((3, "The world size \\(4\\) must be divisible by 'group_size=3'"),
                          (0, "The arg 'group_size' \\(0\\) must be positive"),
                          (5, "The arg 'group_size' \\(5\\) must not exceed the world size \\(4\\)"),
                          (None, "Default group size only takes effect when CUDA is available")):
        with pytest.raises(ValueError, match=message):
            dist.new_subgroups(size)


def check_new_subgroups(mytorch, dist, rank):
    mine, subgroups = dist.new_subgroups(2)
    assert len(subgroups) == 2 and subgroups[1 - rank // 2] == dist.GroupMember.NON_GROUP_MEMBER
    assert mine is subgroups[rank // 2] and dist.get_process_group_ranks(mine) == [rank // 2 * 2, rank // 2 * 2 + 1]
    x = mytorch.tensor([float(rank)])
    dist.all_reduce(x, group=mine)
    assert x.item() == sum(dist.get_process_group_ranks(mine))


def check_ddp(mytorch, dist, rank, pair, members):
    """DDP on [0, 2]: wrapping broadcasts group rank 0's parameters, backward averages over the pair."""
    if rank % 2:
        return
    from mytorch.nn.parallel import DistributedDataParallel

    mytorch.manual_seed(rank)  # different weights on each rank until DDP syncs them
    model = mytorch.nn.Linear(3, 2)
    ddp = DistributedDataParallel(model, process_group=pair)
    weights = [None, None]
    dist.all_gather_object(weights, model.weight.detach().numpy(), group=pair)
    np.testing.assert_array_equal(weights[0], weights[1])
    xs = {g: _inputs(g, (4, 3), np.float32) for g in members}
    ddp(mytorch.tensor(xs[rank])).sum().backward()
    want = np.mean([np.broadcast_to(xs[g].sum(0), (2, 3)) for g in members], axis=0)
    np.testing.assert_allclose(model.weight.grad.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(model.bias.grad.numpy(), [4.0, 4.0])


def check_groups():
    import mytorch
    import mytorch.distributed as dist

    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    rank = dist.get_rank()
    timings = {}
    start = time.monotonic()
    even, odd = dist.new_group([0, 2]), dist.new_group([1, 3])
    tail = dist.new_group([3, 1, 2])
    backwards = dist.new_group([3, 1], sort_ranks=False)
    pair, members = (even, [0, 2]) if rank % 2 == 0 else (odd, [1, 3])
    assert (even if rank % 2 else odd) == dist.GroupMember.NON_GROUP_MEMBER
    timings["new_group x4"] = time.monotonic() - start
    check_mapping(dist, rank, pair, members, tail, backwards)
    for name, step in (("subgroup collectives", lambda: check_subgroup_collectives(mytorch, dist, rank, pair, members)),
                       ("non-member", lambda: check_non_member(mytorch, dist, rank, tail)),
                       ("errors", lambda: check_errors(mytorch, dist, rank)),
                       ("new_subgroups", lambda: check_new_subgroups(mytorch, dist, rank)),
                       ("ddp", lambda: check_ddp(mytorch, dist, rank, pair, members))):
        start = time.monotonic()
        step()
        timings[name] = time.monotonic() - start
    world_single, tail_single = check_all_to_all(mytorch, dist, rank, tail)

    dist.destroy_process_group(pair)
    with pytest.raises(ValueError, match="is not initialized in the world group map"):
        dist.all_reduce(mytorch.ones(1), group=pair)
    with pytest.raises(ValueError, match="Invalid process group specified"):
        dist.destroy_process_group(pair)
    dist.barrier()
    dist.destroy_process_group()  # and with it every remaining subgroup
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="not been initialized"):
        dist.new_group([0])
    print(f"rank {rank}: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()), flush=True)
    save(world_single=world_single, tail_single=tail_single)


def test_groups_and_all_to_all_gloo(tmp_path):
    results = run_ranks(HERE, "check_groups", tmp_path, world_size=WORLD, timeout=120)
    for rank, result in enumerate(results):  # the workers checked everything; recheck torch's table here
        np.testing.assert_array_equal(result["world_single"], DOC_OUTPUT[rank])
    splits = [[1 + i + j for j in range(3)] for i in range(3)]
    ins = [_inputs(g, (sum(splits[i]), 2), np.float64) for i, g in enumerate([1, 2, 3])]
    for me, want in enumerate(_all_to_all_reference(ins, splits)):
        np.testing.assert_array_equal(results[me + 1]["tail_single"], want)
    assert results[0]["tail_single"].size == 0


def test_all_to_all_reference_matches_torch_docs():
    got = _all_to_all_reference([np.array(x) for x in DOC_INPUT], DOC_IN_SPLITS)
    assert [g.tolist() for g in got] == DOC_OUTPUT
    assert [[DOC_IN_SPLITS[i][r] for i in range(WORLD)] for r in range(WORLD)] == DOC_OUT_SPLITS


def test_nccl_subgroup_and_all_to_all_on_a_fake_cupy(monkeypatch):
    """The NCCL engine's sub-communicator (unique id through the store, NcclCommunicator(size, id,
    group rank)) and its all-to-all (one NCCL group of send/recv, byte offsets per peer), on a fake
    cupy whose point-to-point calls pair a recv from peer p with the send to peer p."""
    import ctypes

    import mytorch._array
    import mytorch.distributed as dist
    from tests.distributed.test_collectives import _fake_cupy

    cp, wrap, calls = _fake_cupy()
    nccl, pending, in_group = cp.cuda.nccl, [], []

    def group_end():
        in_group.pop()
        sent = {peer: (ptr, n) for op, ptr, n, peer in pending if op == "send"}
        for op, ptr, n, peer in pending:
            if op == "recv":
                assert sent[peer][1] == n, "send and recv sizes differ"
                ctypes.memmove(ptr, sent[peer][0], n)
        calls.append(("group", len(pending)))
        pending.clear()

    def p2p(op):
        def call(self, ptr, count, dtype, peer, stream):
            assert in_group and dtype == nccl.NCCL_UINT8, "send/recv outside an NCCL group"
            pending.append((op, ptr, count, peer))
        return call
    monkeypatch.setattr(nccl, "groupStart", lambda: in_group.append(1), raising=False)
    monkeypatch.setattr(nccl, "groupEnd", group_end, raising=False)
    monkeypatch.setattr(nccl.NcclCommunicator, "send", p2p("send"), raising=False)
    monkeypatch.setattr(nccl.NcclCommunicator, "recv", p2p("recv"), raising=False)
    monkeypatch.setattr(mytorch._array, "cupy_module", lambda: cp)
    for name, module in (("cupy", cp), ("cupy.cuda", cp.cuda), ("cupy.cuda.nccl", nccl)):
        monkeypatch.setitem(sys.modules, name, module)
    with pytest.raises(ValueError, match="not been initialized"):
        dist.get_process_group_ranks(None)
    dist.init_process_group("nccl", init_method="tcp://127.0.0.1:0", rank=0, world_size=1,
                            timeout=datetime.timedelta(seconds=5))
    try:
        sub = dist.new_group([0])
        assert dist.get_rank(sub) == 0 and dist.get_process_group_ranks(sub) == [0]
        engine = sub.engine
        assert engine is not dist.group.WORLD.engine and engine.comm is not dist.group.WORLD.engine.comm
        assert len(json.loads(engine.store.get("mytorch/nccl_unique_id/group/0/0"))) == 128
        again = dist.new_group([0])  # a second group over the same ranks has its own key
        assert len(json.loads(engine.store.get("mytorch/nccl_unique_id/group/0/1"))) == 128
        # pretend three peers: with paired send/recv, out piece p must be exactly in piece p
        counts = [1, 3, 2]
        x = wrap(np.arange(12, dtype=np.float64).reshape(6, 2))
        base = wrap(np.zeros((2, 6)))
        engine.all_to_all_single(base.T, x, [2 * c for c in counts], [2 * c for c in counts]).wait()
        np.testing.assert_array_equal(base.T, x)
        assert calls[-1] == ("group", 6)
        ins = [wrap(np.arange(n, dtype=np.int32) + 10 * n) for n in counts]
        outs = [wrap(np.zeros(n, np.int32)) for n in counts]
        engine.all_to_all(outs, ins).wait()
        for o, i in zip(outs, ins):
            np.testing.assert_array_equal(o, i)
        engine.all_to_all_single(wrap(np.zeros(0)), wrap(np.zeros(0)), [0], [0]).wait()
        assert calls[-1] == ("group", 0)  # empty pieces are skipped on both sides
        engine.all_reduce(wrap(np.ones(2, np.float32)), dist.ReduceOp.SUM).wait()
        dist.destroy_process_group(again)
        assert calls[-1] == ("destroy",)
    finally:
        dist.destroy_process_group()
    assert [c for c in calls if c == ("destroy",)] == [("destroy",)] * 3  # again, sub, then the world


if __name__ == "__main__":
    worker_main(globals())
