"""Gradient accumulation, the no-op optimizer/scheduler between boundaries, clipping, prepare()."""
import numpy as np
import pytest
import torch

import mytorch
from mytorch.accelerate import Accelerator
from mytorch.accelerate.optimizer import AcceleratedOptimizer, AcceleratedScheduler
from mytorch.accelerate.data_loader import DataLoaderShard

from ._common import loader, mlp, mse, params, regression_data


def torch_mlp(model):
    """A torch copy of _common.mlp (no dropout) with the same weights."""
    ref = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.GELU(), torch.nn.Linear(16, 2))
    ref.load_state_dict({k: torch.tensor(v) for k, v in params(model).items()})
    return ref


def train(k, batch_size, use_accumulate, steps_per_epoch=None, x=None, y=None, opt="sgd"):
    x, y = regression_data() if x is None else (x, y)
    accelerator = Accelerator(gradient_accumulation_steps=k)
    model = mlp()
    optimizer = (mytorch.optim.SGD(model.parameters(), lr=0.1) if opt == "sgd"
                 else mytorch.optim.AdamW(model.parameters(), lr=0.01))
    model, optimizer, data = accelerator.prepare(model, optimizer, loader(x, y, batch_size))
    syncs = []
    for batch in data:
        if use_accumulate:
            with accelerator.accumulate(model):
                accelerator.backward(mse(model, batch))
                optimizer.step()
                optimizer.zero_grad()
        else:
            accelerator.backward(mse(model, batch))
            optimizer.step()
            optimizer.zero_grad()
        syncs.append(accelerator.sync_gradients)
    return model, accelerator, syncs


@pytest.mark.parametrize("use_accumulate", [True, False])
@pytest.mark.parametrize("opt", ["sgd", "adamw"])
def test_k_micro_batches_equal_one_k_times_batch(use_accumulate, opt):
    accumulated, acc, syncs = train(4, 3, use_accumulate, opt=opt)  # 24 samples: 8 micro-batches, 2 updates
    big, big_acc, _ = train(1, 12, use_accumulate, opt=opt)
    assert syncs == [False, False, False, True] * 2
    assert acc.step == big_acc.step == 2
    for name, value in params(big).items():
        np.testing.assert_allclose(params(accumulated)[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_accumulation_matches_torch_loop():
    x, y = regression_data()
    model, _, _ = train(4, 3, True, opt="adamw")
    ref = torch_mlp(mlp())
    opt = torch.optim.AdamW(ref.parameters(), lr=0.01)
    for i in range(8):
        xb, yb = torch.tensor(x[3 * i:3 * i + 3]), torch.tensor(y[3 * i:3 * i + 3])
        (torch.nn.functional.mse_loss(ref(xb), yb) / 4).backward()
        if i % 4 == 3:
            opt.step()
            opt.zero_grad()
    for name, value in ref.state_dict().items():
        np.testing.assert_allclose(params(model)[name], value.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_optimizer_and_zero_grad_noop_between_boundaries():
    accelerator = Accelerator(gradient_accumulation_steps=3)
    model = mlp()
    model, optimizer = accelerator.prepare(model, mytorch.optim.SGD(model.parameters(), lr=0.1))
    x, y = regression_data(n=9)
    before = params(model)
    grads = []
    for i in range(3):
        batch = (mytorch.tensor(x[3 * i:3 * i + 3]), mytorch.tensor(y[3 * i:3 * i + 3]))
        with accelerator.accumulate(model):
            accelerator.backward(mse(model, batch))
            grads.append(model[0].weight.grad.numpy().copy())
            optimizer.step()
            optimizer.zero_grad()
        if i < 2:
            assert all(np.array_equal(v, before[k]) for k, v in params(model).items()), "stepped early"
            assert model[0].weight.grad is not None, "zero_grad cleared a partial accumulation"
    assert not np.array_equal(grads[0], grads[1])  # grads add up across micro-steps
    assert not np.array_equal(params(model)["0.weight"], before["0.weight"])
    assert model[0].weight.grad is None  # cleared at the boundary


def test_end_of_dataloader_completes_the_window():
    # 5 batches with k=2: the last (odd) batch still syncs, and the next epoch starts a fresh window
    _, acc, syncs = train(2, 5, True, x=regression_data(n=25)[0], y=regression_data(n=25)[1])
    assert syncs == [False, True, False, True, True]
    assert acc.step == 3 and acc.gradient_state.micro_step == 0


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")  # unlinked: intended
@pytest.mark.parametrize("with_optimizer", [True, False])
def test_scheduler_steps_once_per_optimizer_step(with_optimizer):
    accelerator = Accelerator(gradient_accumulation_steps=2, step_scheduler_with_optimizer=with_optimizer)
    model = mlp()
    optimizer = mytorch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = mytorch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    x, y = regression_data(n=24)
    model, optimizer, data, scheduler = accelerator.prepare(model, optimizer, loader(x, y, 4), scheduler)
    assert isinstance(optimizer, AcceleratedOptimizer) and isinstance(scheduler, AcceleratedScheduler)
    assert isinstance(data, DataLoaderShard)
    lrs = []
    for batch in data:
        with accelerator.accumulate(model):
            accelerator.backward(mse(model, batch))
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        lrs.append(scheduler.get_last_lr()[0])
    if with_optimizer:
        assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    else:
        assert lrs == [0.5 ** i for i in range(1, 7)]


def test_clip_grad_norm_unscaled_total_norm_like_torch():
    accelerator = Accelerator(gradient_accumulation_steps=2)
    model = mlp()
    ref = torch_mlp(model)
    model, _ = accelerator.prepare(model, mytorch.optim.SGD(model.parameters(), lr=0.1))
    x, y = regression_data(n=8)
    norms = []
    for i in range(2):
        batch = (mytorch.tensor(x[4 * i:4 * i + 4]), mytorch.tensor(y[4 * i:4 * i + 4]))
        with accelerator.accumulate(model):
            accelerator.backward(mse(model, batch) * 10)
            before = model[0].weight.grad.numpy().copy()
            norms.append(accelerator.clip_grad_norm_(model.parameters(), 0.5))
            if i == 0:  # window still open: the norm is reported, nothing is clipped
                np.testing.assert_array_equal(model[0].weight.grad.numpy(), before)
        (torch.nn.functional.mse_loss(ref(torch.tensor(x[4 * i:4 * i + 4])), torch.tensor(y[4 * i:4 * i + 4]))
         * 10 / 2).backward()
        if i == 0:
            partial = torch.nn.utils.get_total_norm([p.grad for p in ref.parameters()])
    total = torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
    np.testing.assert_allclose(norms[0].item(), partial.item(), rtol=1e-5)
    np.testing.assert_allclose(norms[1].item(), total.item(), rtol=1e-5)
    for (name, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7, err_msg=name)
    # the one-argument form clips all prepared models
    assert accelerator.clip_grad_norm_(0.5).item() == pytest.approx(0.5, rel=1e-4)


def test_prepare_returns_objects_in_order_and_leaves_others_alone():
    accelerator = Accelerator()
    model = mlp()
    optimizer = mytorch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = mytorch.optim.lr_scheduler.StepLR(optimizer, 1)
    thing = object()
    out = accelerator.prepare(scheduler, thing, model, optimizer)
    assert isinstance(out[0], AcceleratedScheduler) and out[1] is thing and out[2] is model
    assert isinstance(out[3], AcceleratedOptimizer)
    assert out[0].optimizers == [out[3]]
    assert accelerator.prepare(model) is model
    assert accelerator.unwrap_model(model) is model


def test_accelerator_attributes_and_bad_arguments(capsys, monkeypatch):
    accelerator = Accelerator(gradient_accumulation_steps=2)
    assert (accelerator.num_processes, accelerator.process_index, accelerator.local_process_index) == (1, 0, 0)
    assert accelerator.is_main_process and accelerator.is_local_main_process
    assert accelerator.device == mytorch.device("cpu") and accelerator.mixed_precision == "no"
    assert accelerator.sync_grad is True and accelerator.step == 0 and not accelerator.optimizer_step_was_skipped
    accelerator.print("hello")
    accelerator.wait_for_everyone()
    with accelerator.main_process_first():
        pass
    assert capsys.readouterr().out == "hello\n"
    accelerator.state.process_index = 1  # a non-main rank prints nothing
    accelerator.print("hidden")
    assert capsys.readouterr().out == ""
    x = mytorch.tensor([1.0, 2.0])
    assert accelerator.gather(x) is x
    np.testing.assert_array_equal(accelerator.reduce(x, "sum").numpy(), [1.0, 2.0])
    with pytest.raises(ValueError, match="reduction"):
        accelerator.reduce(x, "max")
    with pytest.raises(ValueError, match="mixed_precision"):
        Accelerator(mixed_precision="fp8")
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        Accelerator(gradient_accumulation_steps=0)
    with pytest.raises(ValueError, match="unknown tracker"):
        Accelerator(log_with="tensorboardx")
    monkeypatch.setenv("MYTORCH_MIXED_PRECISION", "no")
    assert Accelerator().mixed_precision == "no"
