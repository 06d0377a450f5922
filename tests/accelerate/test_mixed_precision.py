"""fp16 (GradScaler, skipped steps) and bf16 autocast through the Accelerator, on the CPU."""
import json
import math

import numpy as np
import pytest
import torch

import mytorch
from mytorch.accelerate import Accelerator

from ._common import mlp, mse, params, regression_data


def batch(n=6, seed=0):
    x, y = regression_data(n=n, seed=seed)
    return mytorch.tensor(x), mytorch.tensor(y)


def hidden_dtype(model):
    """The dtype the first Linear computes in, seen by a forward hook."""
    seen = []
    model[0].register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    return seen


@pytest.mark.parametrize("mixed_precision,dtype,torch_dtype", [("fp16", mytorch.float16, torch.float16),
                                                               ("bf16", mytorch.bfloat16, torch.bfloat16)])
def test_autocast_forward_matches_torch(mixed_precision, dtype, torch_dtype):
    accelerator = Accelerator(mixed_precision=mixed_precision)
    model = mlp()
    ref = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.GELU(), torch.nn.Linear(16, 2))
    ref.load_state_dict({k: torch.tensor(v) for k, v in params(model).items()})
    model, optimizer = accelerator.prepare(model, mytorch.optim.SGD(model.parameters(), lr=0.1))
    seen = hidden_dtype(model)
    x, y = batch()
    out = model(x)
    assert seen == [dtype] and out.dtype == mytorch.float32  # computed in half, handed back in float32
    with torch.autocast("cpu", dtype=torch_dtype):
        expected = ref(torch.tensor(x.numpy()))
    np.testing.assert_allclose(out.detach().numpy(), expected.float().detach().numpy(), rtol=2e-2, atol=2e-2)
    accelerator.backward(mytorch.nn.functional.mse_loss(out, y))
    assert all(p.grad.dtype == mytorch.float32 for p in model.parameters())  # float32 master weights
    before = params(model)
    optimizer.step()
    assert not accelerator.optimizer_step_was_skipped and accelerator.step == 1
    assert not np.array_equal(params(model)["0.weight"], before["0.weight"])
    with accelerator.autocast():
        assert mytorch.is_autocast_enabled("cpu") and mytorch.get_autocast_dtype("cpu") == dtype
    plain = accelerator.unwrap_model(model, keep_fp32_wrapper=False)
    assert plain(x).dtype == mytorch.float32 and seen[-1] == mytorch.float32  # autocast taken off


def test_fp16_injected_inf_skips_optimizer_and_scheduler():
    accelerator = Accelerator(mixed_precision="fp16")
    model = mlp()
    optimizer = mytorch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = mytorch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    scale = accelerator.scaler.get_scale()

    def train_step(inject_inf):
        accelerator.backward(mse(model, batch()))
        if inject_inf:
            model[0].weight.grad._data[0, 0] = np.inf
        norm = accelerator.clip_grad_norm_(1e6)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        return norm

    norm = train_step(False)
    assert math.isfinite(norm.item()) and norm.item() < 100  # unscaled before clipping
    assert not accelerator.optimizer_step_was_skipped and accelerator.step == 1
    assert scheduler.get_last_lr() == [0.5]
    before = params(model)
    norm = train_step(True)
    assert not math.isfinite(norm.item())
    assert accelerator.optimizer_step_was_skipped and accelerator.step == 1
    assert all(np.array_equal(v, before[k]) for k, v in params(model).items()), "a skipped step changed weights"
    assert scheduler.get_last_lr() == [0.5], "the scheduler stepped after a skipped optimizer step"
    assert accelerator.scaler.get_scale() == scale * 0.5
    train_step(False)
    assert not accelerator.optimizer_step_was_skipped and accelerator.step == 2
    assert scheduler.get_last_lr() == [0.25]


def test_fp16_accumulation_unscales_the_whole_window():
    # k=2 in fp16 gives the same update as k=2 in fp32 (the scale cancels), up to half-precision error
    results = []
    for mixed_precision in ("no", "fp16"):
        accelerator = Accelerator(mixed_precision=mixed_precision, gradient_accumulation_steps=2)
        model = mlp()
        model, optimizer = accelerator.prepare(model, mytorch.optim.SGD(model.parameters(), lr=0.1))
        for seed in (0, 1):
            with accelerator.accumulate(model):
                accelerator.backward(mse(model, batch(seed=seed)))
                accelerator.clip_grad_norm_(100.0)
                optimizer.step()
                optimizer.zero_grad()
        assert accelerator.step == 1
        results.append(params(model))
    for name, value in results[0].items():
        np.testing.assert_allclose(results[1][name], value, rtol=1e-2, atol=2e-3, err_msg=name)


def test_scaler_state_is_checkpointed(tmp_path):
    accelerator = Accelerator(mixed_precision="fp16")
    model = mlp()
    model, optimizer = accelerator.prepare(model, mytorch.optim.SGD(model.parameters(), lr=0.1))
    accelerator.backward(mse(model, batch()))
    optimizer.step()
    accelerator.scaler.update(new_scale=1024.0)
    accelerator.save_state(tmp_path / "ckpt")
    assert json.loads((tmp_path / "ckpt" / "scaler.json").read_text())["scale"] == 1024.0
    accelerator.scaler.update(new_scale=8.0)
    accelerator.load_state(tmp_path / "ckpt")
    assert accelerator.scaler.get_scale() == 1024.0


def test_mixed_precision_from_the_launcher_environment(monkeypatch):
    monkeypatch.setenv("MYTORCH_MIXED_PRECISION", "fp16")
    accelerator = Accelerator()
    assert accelerator.mixed_precision == "fp16" and accelerator.scaler is not None
    assert Accelerator(mixed_precision="no").scaler is None  # the argument wins


def test_bf16_without_ml_dtypes_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(mytorch._dtype, "_HAS_BF16", False)
    with pytest.raises(ImportError, match="ml_dtypes"):
        Accelerator(mixed_precision="bf16")
