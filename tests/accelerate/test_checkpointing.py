"""save_state / load_state: bit-for-bit resume, the directory layout, atomicity, corruption errors."""
import json
import os
import random
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mytorch
from mytorch.accelerate import Accelerator
from mytorch.optim import lr_scheduler as lr

from ._common import loader, mlp, mse, params, regression_data

TOTAL_STEPS = 10


def setup(seed, k=2, **kwargs):
    """A fresh run: dropout MLP, AdamW, warmup LambdaLR, shuffled loader (seed changes only the initial state)."""
    accelerator = Accelerator(gradient_accumulation_steps=k, **kwargs)
    model = mlp(dropout=0.2, seed=seed)
    optimizer = mytorch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.1)
    scheduler = mytorch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 4))
    x, y = regression_data(n=20)
    mytorch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    return (accelerator, *accelerator.prepare(model, optimizer, loader(x, y, 3, shuffle=True), scheduler))


def run(accelerator, model, optimizer, data, scheduler, stop_at=None, checkpoint=None):
    """Train to TOTAL_STEPS optimizer steps (7 batches an epoch, k=2: 4 steps an epoch). The loss also
    draws from Python's and numpy's RNGs, so all of them have to be restored."""
    losses = []
    while accelerator.step < TOTAL_STEPS:
        for batch in data:
            with accelerator.accumulate(model):
                jitter = 1.0 + 1e-3 * np.random.standard_normal() + 1e-3 * random.random()
                loss = mse(model, batch) * jitter
                accelerator.backward(loss)
                accelerator.clip_grad_norm_(1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            losses.append(loss.item())
            if accelerator.sync_gradients and accelerator.step == stop_at:
                accelerator.save_state(checkpoint, extra_files={"config.json": {"n_layer": 2}, "notes.txt": "hi"})
                return losses
            if accelerator.step >= TOTAL_STEPS:
                break
    return losses


def snapshot(model, optimizer, scheduler):
    opt = {f"{i}.{k}": v.numpy().copy() for i, s in optimizer.state_dict()["state"].items() for k, v in s.items()}
    return params(model), opt, scheduler.get_last_lr(), (mytorch.rand(3).numpy(), np.random.rand(), random.random())


@pytest.mark.parametrize("stop_at", [5, 8])  # mid-epoch, and the end of an epoch
def test_interrupted_and_resumed_equals_uninterrupted_bit_for_bit(tmp_path, stop_at):
    acc, model, opt, data, sched = setup(seed=0)
    full_losses = run(acc, model, opt, data, sched)
    expected = snapshot(model, opt, sched)

    acc, model, opt, data, sched = setup(seed=0)
    first_losses = run(acc, model, opt, data, sched, stop_at=stop_at, checkpoint=tmp_path / "ckpt")
    assert first_losses == full_losses[:len(first_losses)]

    acc, model, opt, data, sched = setup(seed=123)  # different weights, data order and RNG until load_state
    acc.load_state(tmp_path / "ckpt")
    assert acc.step == stop_at
    resumed_losses = run(acc, model, opt, data, sched)
    assert first_losses + resumed_losses == full_losses
    got = snapshot(model, opt, sched)
    for name, value in expected[0].items():
        np.testing.assert_array_equal(got[0][name], value, err_msg=name)
    assert expected[1].keys() == got[1].keys()
    for name, value in expected[1].items():
        np.testing.assert_array_equal(got[1][name], value, err_msg=name)
    assert got[2] == expected[2]
    np.testing.assert_array_equal(got[3][0], expected[3][0])
    assert got[3][1:] == expected[3][1:]


def test_checkpoint_layout(tmp_path):
    import safetensors.numpy

    acc, model, opt, data, sched = setup(seed=0)
    run(acc, model, opt, data, sched, stop_at=2, checkpoint=tmp_path / "ckpt")
    names = sorted(os.listdir(tmp_path / "ckpt"))
    assert names == ["accelerator_state.json", "config.json", "model.safetensors", "notes.txt", "optimizer.json",
                     "optimizer.safetensors", "random_states_0.json", "scheduler.json"]
    assert sorted(os.listdir(tmp_path)) == ["ckpt"]  # no temp dir left behind
    weights = safetensors.numpy.load_file(str(tmp_path / "ckpt" / "model.safetensors"))
    assert weights.keys() == params(model).keys()
    for name, value in params(model).items():
        np.testing.assert_array_equal(weights[name], value)
    state = json.loads((tmp_path / "ckpt" / "accelerator_state.json").read_text())
    assert state["step"] == 2 and state["files"].keys() == set(names) - {"accelerator_state.json"}
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text()) == {"n_layer": 2}
    assert (tmp_path / "ckpt" / "notes.txt").read_text() == "hi"
    optimizer_json = json.loads((tmp_path / "ckpt" / "optimizer.json").read_text())
    assert optimizer_json["param_groups"][0]["betas"] == {"__tuple__": [0.9, 0.999]}
    for name in names:  # no pickle anywhere
        assert b"\x80\x04" not in (tmp_path / "ckpt" / name).read_bytes()[:2]


def test_save_over_an_existing_checkpoint_replaces_it(tmp_path):
    acc, model, opt, data, sched = setup(seed=0)
    run(acc, model, opt, data, sched, stop_at=2, checkpoint=tmp_path / "ckpt")
    acc.save_state(tmp_path / "ckpt")  # same name, no extra files now
    assert "notes.txt" not in os.listdir(tmp_path / "ckpt")
    assert sorted(os.listdir(tmp_path)) == ["ckpt"]
    acc.load_state(tmp_path / "ckpt")


@pytest.fixture
def checkpoint(tmp_path):
    acc, model, opt, data, sched = setup(seed=0)
    run(acc, model, opt, data, sched, stop_at=2, checkpoint=tmp_path / "ckpt")
    return acc, tmp_path / "ckpt"


def flip_byte(path, offset=-5):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["model.safetensors", "optimizer.safetensors", "optimizer.json", "scheduler.json",
                                  "random_states_0.json", "config.json"])
@pytest.mark.parametrize("damage", ["tamper", "truncate"])
def test_damaged_file_gives_an_error_naming_it(checkpoint, name, damage):
    acc, folder = checkpoint
    path = folder / name
    if damage == "tamper":
        flip_byte(path)
    else:
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(RuntimeError, match=f"{name}: checksum mismatch"):
        acc.load_state(folder)


def test_missing_or_edited_state_file(checkpoint):
    acc, folder = checkpoint
    (folder / "scheduler.json").unlink()
    with pytest.raises(FileNotFoundError, match="scheduler.json: listed in accelerator_state.json but missing"):
        acc.load_state(folder)
    state = json.loads((folder / "accelerator_state.json").read_text())
    state["step"] = 99
    (folder / "accelerator_state.json").write_text(json.dumps(state))
    with pytest.raises(RuntimeError, match="accelerator_state.json: checksum mismatch"):
        acc.load_state(folder)
    (folder / "accelerator_state.json").write_text("{not json")
    with pytest.raises(RuntimeError, match="accelerator_state.json: corrupt"):
        acc.load_state(folder)
    (folder / "accelerator_state.json").unlink()
    with pytest.raises(FileNotFoundError, match="accelerator_state.json: missing"):
        acc.load_state(folder)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        acc.load_state(folder / "nope")


def test_mismatched_run_and_bad_extra_files(checkpoint, tmp_path):
    acc, folder = checkpoint
    other = Accelerator()
    other.prepare(mlp())
    with pytest.raises(ValueError, match="holds 1 optimizers, but 0 were prepared"):
        other.load_state(folder)
    with pytest.raises(ValueError, match="reserved"):
        acc.save_state(tmp_path / "x", extra_files={"model.safetensors": {}})
    with pytest.raises(ValueError, match="plain file names"):
        acc.save_state(tmp_path / "x", extra_files={"../evil.json": {}})
    with pytest.raises(TypeError, match="extra_files"):
        acc.save_state(tmp_path / "x", extra_files={"a.bin": 3.5})
    assert not (tmp_path / "x").exists() and not any(p.name.startswith(".x") for p in tmp_path.iterdir())


def test_register_for_checkpointing(tmp_path):
    class Counter:
        def __init__(self):
            self.count, self.history = 0, (1.5, float("inf"))

        def state_dict(self):
            return {"count": self.count, "history": self.history, "weights": mytorch.arange(3.0)}

        def load_state_dict(self, state):
            self.count, self.history = state["count"], state["history"]
            self.weights = state["weights"]

    acc = Accelerator()
    counter = Counter()
    counter.count = 7
    acc.register_for_checkpointing(counter)
    acc.save_state(tmp_path / "c")
    fresh = Counter()
    acc._custom_objects = [fresh]
    acc.load_state(tmp_path / "c")
    assert fresh.count == 7 and fresh.history == (1.5, float("inf"))
    np.testing.assert_array_equal(fresh.weights.numpy(), [0.0, 1.0, 2.0])
    with pytest.raises(TypeError, match="state_dict"):
        acc.register_for_checkpointing(object())


SCHEDULERS = {
    "LambdaLR": lambda o: lr.LambdaLR(o, lambda s: 0.9 ** s),
    "MultiStepLR": lambda o: lr.MultiStepLR(o, [2, 5, 5]),
    "SequentialLR": lambda o: lr.SequentialLR(o, [lr.LinearLR(o, 0.1, total_iters=3), lr.CosineAnnealingLR(o, 6)],
                                              milestones=[3]),
    "ReduceLROnPlateau": lambda o: lr.ReduceLROnPlateau(o, patience=1),
    "CyclicLR": lambda o: lr.CyclicLR(o, 0.01, 0.1, step_size_up=2),
    "OneCycleLR": lambda o: lr.OneCycleLR(o, 0.1, total_steps=12),
    "CosineAnnealingWarmRestarts": lambda o: lr.CosineAnnealingWarmRestarts(o, 3),
}


@pytest.mark.parametrize("name", SCHEDULERS)
def test_every_scheduler_resumes_its_schedule(tmp_path, name):
    def make():
        acc = Accelerator()
        model = mlp()
        opt = mytorch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        _, opt, sched = acc.prepare(model, opt, SCHEDULERS[name](opt))
        return acc, opt, sched

    def lrs(opt, sched, steps, start):
        out = []
        for i in range(start, start + steps):
            opt.step()
            sched.step(1.0) if name == "ReduceLROnPlateau" else sched.step()
            out.append(opt.param_groups[0]["lr"])
        return out

    acc, opt, sched = make()
    expected = lrs(opt, sched, 10, 0)
    acc, opt, sched = make()
    first = lrs(opt, sched, 4, 0)
    acc.save_state(tmp_path / "s")
    acc, opt, sched = make()
    acc.load_state(tmp_path / "s")
    assert first + lrs(opt, sched, 6, 4) == expected


KILL_SCRIPT = textwrap.dedent("""
    import os, sys, time
    import mytorch, mytorch.nn as nn
    from mytorch.accelerate import Accelerator, checkpointing

    target, second = sys.argv[1], sys.argv[2]
    acc = Accelerator()
    model = nn.Linear(64, 64)
    opt = mytorch.optim.AdamW(model.parameters(), lr=0.1)
    model, opt = acc.prepare(model, opt)
    model(mytorch.randn(2, 64)).sum().backward(); opt.step()
    acc.save_state(target)                      # a complete checkpoint
    with mytorch.no_grad():
        model.weight.fill_(123.0)
    real_write = checkpointing._write_state
    def slow_write(*args, **kwargs):            # stall in the middle of the next save
        real_write(*args, **kwargs)
        print("SAVING", flush=True)
        time.sleep(60)
    checkpointing._write_state = slow_write
    acc.save_state(second)
""")


@pytest.mark.parametrize("same_name", [True, False])
def test_sigkill_during_save_leaves_the_previous_checkpoint(tmp_path, same_name):
    script = tmp_path / "kill_me.py"
    script.write_text(KILL_SCRIPT)
    target = tmp_path / "ckpt"
    second = target if same_name else tmp_path / "ckpt_next"
    proc = subprocess.Popen([sys.executable, str(script), str(target), str(second)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=os.path.dirname(os.path.dirname(__file__)),
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        line = proc.stdout.readline()
        assert line.strip() == "SAVING", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    if not same_name:
        assert not second.exists(), "a half-written checkpoint is visible under its final name"
    acc = Accelerator()
    model = mytorch.nn.Linear(64, 64)
    model, opt = acc.prepare(model, mytorch.optim.AdamW(model.parameters(), lr=0.1))
    acc.load_state(target)
    assert acc.step == 1
    assert not np.any(model.weight.detach().numpy() == 123.0)  # the old weights, not the stalled save's
    # the leftover temp dir is cleared by the next save of that name
    leftovers = [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert len(leftovers) == 1
    acc.save_state(second)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
