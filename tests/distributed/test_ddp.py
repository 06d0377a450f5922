"""DistributedDataParallel in a real 2-process gloo group, against single-process training.

Everything runs in float64, so "equal to single-process training on the combined batch" is
checked to rtol 1e-10 (only the order of the gradient sums differs), and "identical on both
ranks" is checked bit for bit. One 2-process run does all the DDP checks (start-up dominates).
"""
import copy
import datetime
import sys
from pathlib import Path

import numpy as np
import pytest

if __package__ in (None, ""):  # started as a worker script by spawn.run_ranks
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.distributed.spawn import run_ranks, save, worker_main  # noqa: E402

HERE = Path(__file__)
RTOL, ATOL = 1e-10, 1e-12  # float64 DDP vs single process: only the summation order differs
N_DATA, STEPS = 16, 3


def _net(seed, extra=False, device="cpu"):
    import mytorch
    import mytorch.nn as nn
    import mytorch.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 16)
            self.fc2 = nn.Linear(16, 3)
            self.register_buffer("offset", mytorch.randn(3))
            if extra:
                self.extra = nn.Linear(3, 3)  # used only when forward(x, use_extra=True)
                self.never = nn.Linear(3, 3)  # used by no rank

        def forward(self, x, use_extra=False):
            out = self.fc2(F.tanh(self.fc1(x))) + self.offset
            return out + self.extra(out) if use_extra else out

    mytorch.manual_seed(seed)
    return Net().double().to(device)


def _data(device="cpu"):
    import mytorch

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((N_DATA, 4)), rng.standard_normal((N_DATA, 3))
    return mytorch.tensor(x, device=device), mytorch.tensor(y, device=device)


def _arrays(named):
    return {name: t.detach().cpu().numpy().copy() for name, t in named}


def _grads(module):
    return {n: (p.grad.cpu().numpy().copy() if p.grad is not None else None) for n, p in module.named_parameters()}


def _close(mine, ref, what):
    for name in ref:
        np.testing.assert_allclose(mine[name], ref[name], rtol=RTOL, atol=ATOL, err_msg=f"{what}: {name}")


def check_training(ddp_cls, rank, world, opt_name, bucket_cap_mb, device):
    """STEPS optimizer steps of DDP on each rank's shard == the same steps on the whole batch."""
    import mytorch
    import mytorch.nn.functional as F
    from mytorch.utils.data import DataLoader, DistributedSampler, TensorDataset

    x, y = _data(device)
    ddp = ddp_cls(_net(10 + rank, device=device), bucket_cap_mb=bucket_cap_mb)  # ranks start different
    ref = copy.deepcopy(ddp.module)  # rank 0's weights, broadcast at wrap time
    make = {"sgd": lambda ps: mytorch.optim.SGD(ps, lr=0.1, momentum=0.9),
            "adamw": lambda ps: mytorch.optim.AdamW(ps, lr=0.01, weight_decay=0.1)}[opt_name]
    opt, ref_opt = make(ddp.parameters()), make(ref.parameters())
    sampler = DistributedSampler(TensorDataset(x, y), shuffle=True, seed=3)
    loader = DataLoader(TensorDataset(x, y), batch_size=N_DATA // world, sampler=sampler)
    launched_during_backward = []
    finalize = ddp.reducer._finalize

    def spy():
        launched_during_backward.append(ddp.reducer._next_bucket)
        finalize()
    ddp.reducer._finalize = spy
    for step in range(STEPS):
        sampler.set_epoch(step)
        (xb, yb), = list(loader)  # this rank's half of the (reshuffled) data
        opt.zero_grad()
        F.mse_loss(ddp(xb), yb).backward()
        ref_opt.zero_grad()
        F.mse_loss(ref(x), y).backward()  # the combined batch: the mean of the ranks' means
        _close(_grads(ddp.module), _grads(ref), f"{opt_name} grads, step {step}")
        opt.step()
        ref_opt.step()
    _close(_arrays(ddp.module.named_parameters()), _arrays(ref.named_parameters()), f"{opt_name} params")
    if len(ddp.reducer.buckets) > 1:  # buckets start while backward still runs
        assert min(launched_during_backward) >= 1, launched_during_backward
    return _arrays(ddp.module.named_parameters())


def check_ddp():
    import torch

    import mytorch
    import mytorch.distributed as dist
    import mytorch.nn.functional as F
    from mytorch.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    rank, world = dist.get_rank(), dist.get_world_size()
    out = {}

    # wrap time: rank 0's parameters and buffers everywhere, though each rank seeded differently
    net = _net(10 + rank)
    out.update({f"init_before.{k}": v for k, v in _arrays(net.state_dict().items()).items()})
    ddp = DDP(net)
    assert ddp.module is net
    out.update({f"init_after.{k}": v for k, v in _arrays(net.state_dict().items()).items()})

    # gradients are averaged and written back into every .grad (each rank's own data)
    x, y = _data()
    xb, yb = x[rank::world], y[rank::world]
    local = copy.deepcopy(net)
    F.mse_loss(local(xb), yb).backward()
    F.mse_loss(ddp(xb), yb).backward()
    out.update({f"local_grad.{k}": v for k, v in _grads(local).items()})
    out.update({f"ddp_grad.{k}": v for k, v in _grads(net).items()})

    # buffers follow rank 0's at every forward (broadcast_buffers=True)
    if rank == 1:
        net.offset.add_(1.0)
    with mytorch.no_grad():
        np.testing.assert_array_equal(ddp(xb).numpy(), net(xb).numpy())
    out["offset_after_forward"] = net.offset.numpy().copy()

    # training: SGD with momentum, AdamW, and SGD with one bucket per parameter
    for opt_name, cap in (("sgd", 25), ("adamw", 25), ("sgd", 1e-4)):
        final = check_training(DDP, rank, world, opt_name, cap, "cpu")
        out.update({f"trained_{opt_name}_{cap}.{k}": v for k, v in final.items()})

    # no_sync: micro-steps accumulate locally; the synced backward reduces the accumulated sum
    ddp = DDP(_net(20 + rank))
    ref = copy.deepcopy(ddp.module)
    opt, ref_opt = mytorch.optim.SGD(ddp.parameters(), lr=0.1), mytorch.optim.SGD(ref.parameters(), lr=0.1)
    shard_x, shard_y = x[rank::world], y[rank::world]
    half = len(shard_x) // 2
    for cycle in range(2):
        opt.zero_grad()
        with ddp.no_sync():
            assert not ddp.require_backward_grad_sync
            (F.mse_loss(ddp(shard_x[:half]), shard_y[:half]) / 2).backward()
        assert ddp.require_backward_grad_sync
        out.update({f"no_sync_grad{cycle}.{k}": v for k, v in _grads(ddp.module).items()})
        (F.mse_loss(ddp(shard_x[half:]), shard_y[half:]) / 2).backward()
        ref_opt.zero_grad()
        F.mse_loss(ref(x), y).backward()
        _close(_grads(ddp.module), _grads(ref), f"accumulated grads, cycle {cycle}")
        opt.step()
        ref_opt.step()
    _close(_arrays(ddp.module.named_parameters()), _arrays(ref.named_parameters()), "no_sync params")

    # a parameter without a gradient: a clear error, or find_unused_parameters like PyTorch
    ddp = DDP(_net(30, extra=True))
    with pytest.raises(RuntimeError, match="find_unused_parameters") as err:
        F.mse_loss(ddp(xb), yb).backward()
    assert "extra.weight" in str(err.value) and "find_unused_parameters" in str(err.value), str(err.value)
    net = _net(30, extra=True)
    ddp = DDP(net, find_unused_parameters=True, bucket_cap_mb=1e-4)
    local = copy.deepcopy(net)
    use_extra = rank == 0  # only rank 0 uses `extra`; no rank uses `never`
    F.mse_loss(local(xb, use_extra), yb).backward()
    F.mse_loss(ddp(xb, use_extra), yb).backward()
    assert net.never.weight.grad is None and net.never.bias.grad is None
    out.update({f"unused_local.{k}": v for k, v in _grads(local).items() if v is not None})
    out.update({f"unused_ddp.{k}": v for k, v in _grads(net).items() if v is not None})

    with pytest.raises(ValueError, match=r"device_ids .* only work with single-device GPU modules"):
        DDP(_net(0), device_ids=[0])  # a CPU module
    # replicas must match: a different shape on one rank is an error on every rank
    with pytest.raises(RuntimeError, match=r"same model on every rank, but rank 1 differs .*\(4, 4\)"):
        DDP(mytorch.nn.Linear(4, 3 + rank))

    # checkpoints: PyTorch's "module." keys; loading takes keys with or without the prefix
    keys = list(ddp.state_dict())
    assert keys == ["module." + k for k in net.state_dict()], keys
    torch_net = torch.nn.Module()
    torch_net.fc1, torch_net.fc2 = torch.nn.Linear(4, 16), torch.nn.Linear(16, 3)
    torch_net.register_buffer("offset", torch.zeros(3))
    torch_net.extra, torch_net.never = torch.nn.Linear(3, 3), torch.nn.Linear(3, 3)
    assert keys == list(torch.nn.parallel.DistributedDataParallel(torch_net).state_dict())  # same group
    donor = _net(40, extra=True)
    ddp.load_state_dict(donor.state_dict())
    _close(_arrays(net.state_dict().items()), _arrays(donor.state_dict().items()), "load without prefix")
    ddp.load_state_dict(DDP(_net(50, extra=True)).state_dict())
    _close(_arrays(net.state_dict().items()), _arrays(_net(50, extra=True).state_dict().items()), "with prefix")
    with pytest.raises(RuntimeError, match="Missing key"):
        ddp.load_state_dict({"module.fc1.weight": donor.fc1.weight})

    dist.destroy_process_group()
    save(**out)


def test_ddp_two_processes(tmp_path):
    ranks = run_ranks(HERE, "check_ddp", tmp_path, timeout=180)
    r0, r1 = ranks
    names = [k[len("init_before."):] for k in r0 if k.startswith("init_before.")]
    assert not np.array_equal(r0["init_before.fc1.weight"], r1["init_before.fc1.weight"])  # different seeds
    for name in names:  # rank 0's weights and buffers reach every rank at wrap time
        np.testing.assert_array_equal(r1[f"init_after.{name}"], r0[f"init_before.{name}"], err_msg=name)
        np.testing.assert_array_equal(r0[f"init_after.{name}"], r0[f"init_before.{name}"], err_msg=name)
    for prefix in ("ddp_grad.", "trained_sgd_25.", "trained_adamw_25.", "trained_sgd_0.0001.", "unused_ddp."):
        params = [k for k in r0 if k.startswith(prefix)]
        assert params and sorted(params) == sorted(k for k in r1 if k.startswith(prefix)), prefix
        for k in params:  # every rank holds bit-identical gradients / parameters
            np.testing.assert_array_equal(r0[k], r1[k], err_msg=k)
    for k in (k for k in r0 if k.startswith("ddp_grad.")):  # the average of the ranks' own gradients
        name = k[len("ddp_grad."):]
        mean = (r0[f"local_grad.{name}"] + r1[f"local_grad.{name}"]) / 2
        np.testing.assert_allclose(r0[k], mean, rtol=RTOL, atol=ATOL, err_msg=k)
        assert not np.allclose(r0[f"local_grad.{name}"], r1[f"local_grad.{name}"])  # the ranks really differed
    np.testing.assert_array_equal(r1["offset_after_forward"], r0["offset_after_forward"])
    for k in (k for k in r0 if k.startswith("no_sync_grad")):  # inside no_sync nothing is exchanged
        assert not np.allclose(r0[k], r1[k]), k
    # find_unused_parameters: `extra` (used on rank 0 only) gets rank 0's gradient / 2; `never` keeps None
    for name in ("extra.weight", "extra.bias", "fc1.weight", "fc2.bias"):
        local1 = r1.get(f"unused_local.{name}", np.zeros_like(r0[f"unused_local.{name}"]))
        np.testing.assert_allclose(r0[f"unused_ddp.{name}"], (r0[f"unused_local.{name}"] + local1) / 2,
                                   rtol=RTOL, atol=ATOL, err_msg=name)
    assert "unused_local.extra.weight" not in r1 and "unused_ddp.never.weight" not in r0


def test_ddp_needs_a_process_group():
    import mytorch.nn as nn

    with pytest.raises(ValueError, match="not been initialized"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))


def test_post_accumulate_grad_hook_and_final_callback():
    import mytorch
    from mytorch.autograd.engine import queue_callback

    a = mytorch.randn(3, requires_grad=True)
    b = mytorch.randn(3, requires_grad=True)
    events = []

    def on_a(t):
        assert t is a
        events.append(("a", t.grad.numpy().copy()))
        queue_callback(lambda: events.append(("end", a.grad is not None and b.grad is not None)))
    handle = a.register_post_accumulate_grad_hook(on_a)
    b.register_post_accumulate_grad_hook(lambda t: events.append(("b", t.grad.numpy().copy())))
    (a * b).sum().backward()
    assert [e[0] for e in events][-1] == "end" and events[-1][1] is True  # after every leaf's grad
    np.testing.assert_array_equal(dict(events[:2])["a"], b.detach().numpy())
    np.testing.assert_array_equal(dict(events[:2])["b"], a.detach().numpy())
    (a * b).sum().backward()  # the hook sees the accumulated .grad
    np.testing.assert_array_equal(dict(events[3:5])["a"], 2 * b.detach().numpy())
    handle.remove()
    events.clear()
    (a * 2).sum().backward()
    assert events == []
    with pytest.raises(RuntimeError, match="non-leaf"):
        (a * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="during backward"):
        queue_callback(lambda: None)


def test_bucket_assignment():
    import mytorch
    import mytorch.nn as nn
    from mytorch.distributed.reducer import assign_buckets

    model = nn.Sequential(nn.Linear(256, 512), nn.Linear(512, 512), nn.Linear(512, 4))
    model[1].double()
    params = list(model.parameters())
    buckets = assign_buckets(params, bucket_cap_bytes=1 << 20, first_bucket_bytes=4096)
    order = [p for b in buckets for p in b.params]
    assert sorted(map(id, order)) == sorted(map(id, params))
    for b in buckets:
        assert len({p.dtype for p in b.params}) == 1
        cap = 4096 if b.index == 0 else 1 << 20
        assert len(b.params) == 1 or b.nbytes <= cap, (b.index, b.nbytes)
        assert b.slices[-1][1] == sum(p.numel() for p in b.params)
    assert buckets[0].params[0] is params[-1]  # the last layer's gradients come first in backward
    assert {p.dtype for p in buckets[0].params} == {mytorch.float32}
    assert any(p.dtype == mytorch.float64 for b in buckets for p in b.params)


def check_ddp_nccl():
    import mytorch
    import mytorch.distributed as dist
    from mytorch.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("nccl", timeout=datetime.timedelta(seconds=60))
    rank, world = dist.get_rank(), dist.get_world_size()
    device = f"cuda:{mytorch.cuda.current_device()}"
    for opt_name, cap in (("sgd", 25), ("adamw", 1e-4)):
        check_training(lambda m, **kw: DDP(m, device_ids=[mytorch.cuda.current_device()], **kw), rank, world,
                       opt_name, cap, device)
    dist.destroy_process_group()
    save(done=1)


@pytest.mark.gpu
def test_ddp_nccl(tmp_path):
    import mytorch

    world = min(mytorch.cuda.device_count(), 2)
    run_ranks(HERE, "check_ddp_nccl", tmp_path, world_size=world, timeout=180)


if __name__ == "__main__":
    worker_main(globals())
