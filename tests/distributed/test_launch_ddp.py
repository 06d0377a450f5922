"""A 2-process gloo DDP training run started through `mytorchrun launch` ends with the same parameters on
both ranks, equal to single-process training on the combined batch."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mytorch
from mytorch import nn

try:
    from mytorch.nn.parallel import DistributedDataParallel  # noqa: F401
    _MISSING = None
except ImportError as err:
    _MISSING = str(err)

pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"DistributedDataParallel not importable: {_MISSING}")

STEPS, BATCH, WORLD = 5, 16, 2

SHARED = textwrap.dedent("""
    import numpy as np
    import mytorch
    from mytorch import nn

    def make_model(seed):
        mytorch.manual_seed(seed)
        return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))

    def batch(step, batch_size):
        rng = np.random.default_rng(step)
        x = rng.standard_normal((batch_size, 8)).astype(np.float32)
        y = (x[:, :1] * 2 - x[:, 1:2] + 0.1 * rng.standard_normal((batch_size, 1))).astype(np.float32)
        return mytorch.tensor(x), mytorch.tensor(y)
""")

WORKER = SHARED + textwrap.dedent("""
    import os, sys
    import mytorch.distributed as dist
    from mytorch.nn.parallel import DistributedDataParallel as DDP

    steps, batch_size, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    model = DDP(make_model(seed=1000 + rank))  # different inits: DDP must broadcast rank 0's
    optimizer = mytorch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    shard = batch_size // world
    for step in range(steps):
        x, y = batch(step, batch_size)
        x, y = x[rank * shard:(rank + 1) * shard], y[rank * shard:(rank + 1) * shard]
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        print(f"step {step} loss {loss.item():.5f}")
    np.savez(f"{out}/rank{rank}.npz", *[p.detach().numpy() for p in model.module.parameters()])
    dist.destroy_process_group()
""")


def _shared():
    namespace = {}
    exec(SHARED, namespace)  # the very model and data the workers use
    return namespace


def _single_process_reference():
    namespace = _shared()
    model = namespace["make_model"](seed=1000)
    optimizer = mytorch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for step in range(STEPS):
        x, y = namespace["batch"](step, BATCH)
        loss = nn.functional.mse_loss(model(x), y)  # mean over the whole batch = mean of the shards' means
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return [p.detach().numpy() for p in model.parameters()]


def test_two_process_ddp_through_mytorchrun_matches_single_process(tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(WORKER)
    env = dict(os.environ, MYTORCH_CONFIG_FILE=str(tmp_path / "none.yaml"), CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([Path(sys.executable).with_name("mytorchrun"), "launch", "--num_processes", str(WORLD),
                             "--num_gpus", "0", str(script), str(STEPS), str(BATCH), str(tmp_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for rank in range(WORLD):
        assert sum(line.startswith(f"[rank{rank}]: step ") for line in lines) == STEPS

    ranks = [np.load(tmp_path / f"rank{rank}.npz") for rank in range(WORLD)]
    ranks = [[f[key] for key in sorted(f.files, key=lambda k: int(k.split("_")[1]))] for f in ranks]
    for a, b in zip(*ranks):
        np.testing.assert_array_equal(a, b)  # identical on both ranks, bit for bit
    reference = _single_process_reference()
    assert [p.shape for p in reference] == [p.shape for p in ranks[0]]
    for got, want in zip(ranks[0], reference):
        # float32; only the summation order of the gradient differs (two half-batch means averaged)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    initial = [p.detach().numpy() for p in _shared()["make_model"](seed=1000).parameters()]
    assert all(not np.allclose(p, q) for p, q in zip(ranks[0], initial))  # training moved every parameter
