"""The Accelerator over 2 gloo processes: DDP + accumulation equals one big batch, disjoint shards,
gather_for_metrics drops the padding, reduce, and a multi-process save_state/load_state.

One 2-process run does all the checks (process start-up dominates)."""
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

if __package__ in (None, ""):  # started as a worker script by spawn.run_ranks
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.distributed.spawn import run_ranks, save, worker_main  # noqa: E402

N_TRAIN, BATCH, K = 32, 4, 2  # 4 rounds of 2 ranks x 4 samples: 2 optimizer steps
N_EVAL = 10  # batch 2 over 2 ranks: 3 rounds, the last one half padding


def accelerate_ddp(out_dir):
    import mytorch
    from mytorch.accelerate import Accelerator
    from mytorch.nn.parallel import DistributedDataParallel
    from mytorch.utils.data import DataLoader, TensorDataset
    from tests.accelerate._common import mlp, mse, params, regression_data

    accelerator = Accelerator(gradient_accumulation_steps=K)
    assert accelerator.num_processes == 2 and accelerator.process_index == int(os.environ["RANK"])
    model = mlp()
    optimizer = mytorch.optim.SGD(model.parameters(), lr=0.1)
    x, y = regression_data(n=N_TRAIN)
    ids = mytorch.arange(N_TRAIN)
    train = DataLoader(TensorDataset(mytorch.tensor(x), mytorch.tensor(y), ids), batch_size=BATCH, shuffle=True)
    evaluation = DataLoader(TensorDataset(mytorch.arange(N_EVAL)), batch_size=2)
    model, optimizer, train, evaluation = accelerator.prepare(model, optimizer, train, evaluation)
    assert isinstance(model, DistributedDataParallel) and len(train) == 4 and len(evaluation) == 3

    seen, grads, syncs = [], [], []
    for inputs, targets, batch_ids in train:
        with accelerator.accumulate(model):
            accelerator.backward(mse(model, (inputs, targets)))
            grads.append(model.module[0].weight.grad.numpy().copy())
            syncs.append(accelerator.sync_gradients)
            optimizer.step()
            optimizer.zero_grad()
        seen.append(batch_ids.numpy())
    assert syncs == [False, True, False, True] and accelerator.step == 2

    gathered = []
    for (batch,) in evaluation:
        gathered.append(accelerator.gather_for_metrics(batch).numpy())
    loss_mean = accelerator.reduce(mytorch.tensor(float(accelerator.process_index + 1)), "mean")
    loss_sum = accelerator.reduce(mytorch.tensor(float(accelerator.process_index + 1)), "sum")
    every = accelerator.gather(mytorch.tensor([accelerator.process_index] * 3))

    checkpoint = os.path.join(out_dir, "ckpt")
    accelerator.save_state(checkpoint, extra_files={"config.json": {"ranks": 2}})
    files = sorted(os.listdir(checkpoint))
    weights = params(accelerator.unwrap_model(model))
    with mytorch.no_grad():
        for p in model.parameters():
            p.zero_()
    accelerator.load_state(checkpoint)
    restored = params(accelerator.unwrap_model(model))
    bad = [(k, float(np.abs(restored[k] - v).max())) for k, v in weights.items() if not np.array_equal(restored[k], v)]
    assert not bad, bad
    save(seen=np.stack(seen), grads=np.stack(grads), gathered=np.concatenate(gathered), mean=loss_mean.numpy(),
         total=loss_sum.numpy(), every=every.numpy(), **{f"param.{k}": v for k, v in weights.items()})
    accelerator.print(json.dumps(files))


def _ddp_available():
    try:
        import mytorch.distributed as dist
        from mytorch.nn.parallel import DistributedDataParallel  # noqa: F401
    except ImportError:
        return False
    return dist.is_available() and dist.is_gloo_available()


@pytest.mark.skipif(not _ddp_available(), reason="needs mytorch.distributed (gloo) and DistributedDataParallel")
def test_accelerator_over_two_gloo_processes(tmp_path):
    import mytorch
    from tests.accelerate._common import mlp, mse, params, regression_data

    ranks = run_ranks(Path(__file__), "accelerate_ddp", tmp_path, args=(tmp_path,), timeout=150)
    # each rank saw its own batches: together every sample exactly once
    seen = np.concatenate([r["seen"].reshape(-1) for r in ranks])
    assert sorted(seen.tolist()) == list(range(N_TRAIN))
    # no_sync on the first micro-step of each window: local gradients differ; the sync step averages them
    assert not np.array_equal(ranks[0]["grads"][0], ranks[1]["grads"][0])
    np.testing.assert_array_equal(ranks[0]["grads"][1], ranks[1]["grads"][1])
    for name in [k for k in ranks[0] if k.startswith("param.")]:
        np.testing.assert_array_equal(ranks[0][name], ranks[1][name], err_msg=name)
    # = single-process training with one batch of 2 ranks x K micro-batches per step
    x, y = regression_data(n=N_TRAIN)
    model = mlp()
    optimizer = mytorch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(2):
        window = np.concatenate([r["seen"][K * step:K * step + K].reshape(-1) for r in ranks])
        loss = mse(model, (mytorch.tensor(x[window]), mytorch.tensor(y[window])))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    for name, value in params(model).items():
        np.testing.assert_allclose(ranks[0][f"param.{name}"], value, rtol=1e-5, atol=1e-6, err_msg=name)
    # gather_for_metrics: every eval sample once, the padded repeats of the last round dropped
    for r in ranks:
        assert sorted(r["gathered"].tolist()) == list(range(N_EVAL))
        assert float(r["mean"]) == 1.5 and float(r["total"]) == 3.0
        assert r["every"].tolist() == [0, 0, 0, 1, 1, 1]
    files = json.loads((tmp_path / "rank0.log").read_text().strip().splitlines()[-1])
    assert files == ["accelerator_state.json", "config.json", "model.safetensors", "optimizer.json",
                     "optimizer.safetensors", "random_states_0.json", "random_states_1.json"]
    state = json.loads((tmp_path / "ckpt" / "accelerator_state.json").read_text())
    assert state["num_processes"] == 2 and state["step"] == 2


LAUNCHED_SCRIPT = """
import json, os, sys
import mytorch
from mytorch.accelerate import Accelerator
from mytorch.utils.data import DataLoader, TensorDataset

accelerator = Accelerator(log_with="jsonl", project_dir=sys.argv[1])
model = mytorch.nn.Linear(4, 1)
optimizer = mytorch.optim.SGD(model.parameters(), lr=0.1)
data = DataLoader(TensorDataset(mytorch.randn(16, 4), mytorch.randn(16, 1)), batch_size=2)
model, optimizer, data = accelerator.prepare(model, optimizer, data)
accelerator.init_trackers("launched")
for i, (x, y) in enumerate(data, 1):
    loss = mytorch.nn.functional.mse_loss(model(x), y)
    accelerator.backward(loss)
    optimizer.step()
    optimizer.zero_grad()
    accelerator.log({"loss": accelerator.reduce(loss.detach()).item()}, step=i)
accelerator.end_training()
with open(os.path.join(sys.argv[1], f"rank{accelerator.process_index}.json"), "w") as f:
    json.dump({"n": accelerator.num_processes, "mp": accelerator.mixed_precision, "steps": accelerator.step,
               "scaler": accelerator.scaler is not None}, f)
"""


@pytest.mark.slow
@pytest.mark.skipif(not _ddp_available(), reason="needs mytorch.distributed (gloo) and DistributedDataParallel")
def test_launched_by_mytorchrun(tmp_path):
    import subprocess

    from tests.distributed.spawn import REPO, free_port

    script = tmp_path / "train.py"
    script.write_text(LAUNCHED_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-m", "mytorch.distributed.run", "launch", "--num_processes", "2",
                           "--mixed_precision", "fp16", "--master_port", str(free_port()), str(script), str(tmp_path)],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(2)]
    assert ranks[0] == ranks[1]
    # 4 batches per rank; the first fp16 steps may overflow at the initial scale of 2**16 and be skipped
    assert ranks[0]["n"] == 2 and ranks[0]["mp"] == "fp16" and ranks[0]["scaler"] and 0 < ranks[0]["steps"] <= 4
    lines = (tmp_path / "launched.jsonl").read_text().splitlines()  # the main process logged, once per step
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4]


if __name__ == "__main__":
    worker_main(globals())
