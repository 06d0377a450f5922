"""GradScaler against torch.amp.GradScaler("cpu"): skipped steps, growth, backoff, state_dict, stage errors."""
import copy
import pickle
import warnings

import numpy as np
import pytest
import torch

import mytorch
from mytorch.amp import GradScaler


def _model(seed=0):
    mytorch.manual_seed(seed)
    return mytorch.nn.Linear(4, 3)


def _set_grads(model, values):
    for p, v in zip(model.parameters(), values):
        p.grad = mytorch.tensor(np.asarray(v, dtype=np.float32))


def _grads_like(model, scale, bad=False, seed=0):
    rng = np.random.RandomState(seed)
    out = [rng.randn(*p.shape).astype(np.float32) * scale for p in model.parameters()]
    if bad:
        out[0].flat[0] = np.inf
    return out


def _snapshot(model, opt):
    params = [p.detach().numpy().copy() for p in model.parameters()]
    state = [{k: (v.detach().numpy().copy() if isinstance(v, mytorch.Tensor) else v) for k, v in s.items()}
             for s in opt.state.values()]
    return params, state


def _assert_bit_identical(a, b):
    for x, y in zip(a[0], b[0]):
        assert x.tobytes() == y.tobytes()
    assert len(a[1]) == len(b[1])
    for s, t in zip(a[1], b[1]):
        assert s.keys() == t.keys()
        for k in s:
            assert np.asarray(s[k]).tobytes() == np.asarray(t[k]).tobytes(), k


def test_inf_gradient_skips_step_and_halves_scale():
    model = _model()
    opt = mytorch.optim.Adam(model.parameters(), lr=0.1)
    scaler = GradScaler("cpu", init_scale=1024.0)
    scaler.scale(mytorch.tensor(1.0))  # creates the scale on the device, as a real loss would
    _set_grads(model, _grads_like(model, 1024.0))
    assert scaler.step(opt) is None or True  # Adam.step returns None; the step ran
    assert scaler._last_step_skipped is False
    scaler.update()
    before = _snapshot(model, opt)
    _set_grads(model, _grads_like(model, 1024.0, bad=True, seed=1))
    assert scaler.step(opt) is None
    assert scaler._last_step_skipped is True
    _assert_bit_identical(before, _snapshot(model, opt))  # weights and both Adam moments untouched
    assert opt.state[next(iter(model.parameters()))]["step"] == before[1][0]["step"]
    scaler.update()
    assert scaler.get_scale() == 512.0
    assert isinstance(scaler.get_scale(), float)


def test_nan_gradient_also_skips():
    model = _model()
    opt = mytorch.optim.SGD(model.parameters(), lr=0.1)
    scaler = GradScaler("cpu", init_scale=8.0)
    scaler.scale(mytorch.tensor(1.0))
    grads = _grads_like(model, 1.0)
    grads[1][0] = np.nan
    _set_grads(model, grads)
    before = _snapshot(model, opt)
    scaler.step(opt)
    _assert_bit_identical(before, _snapshot(model, opt))
    scaler.update()
    assert scaler.get_scale() == 4.0


def test_growth_after_clean_steps():
    model = _model()
    opt = mytorch.optim.SGD(model.parameters(), lr=0.0)
    scaler = GradScaler("cpu", init_scale=4.0, growth_interval=3)
    scaler.scale(mytorch.tensor(1.0))
    scales = []
    for step in range(7):
        _set_grads(model, _grads_like(model, 1.0, seed=step))
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    assert scales == [4.0, 4.0, 8.0, 8.0, 8.0, 16.0, 16.0]
    assert scaler._get_growth_tracker() == 1


@pytest.mark.parametrize("pattern", [
    [0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0],
    [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
])
def test_scale_sequence_matches_torch(pattern):
    """Both scalers see the same gradients (inf where the pattern says) and must agree step by step on the
    scale, the growth tracker, whether the step ran and the resulting weights."""
    model = _model()
    ref = torch.nn.Linear(4, 3)
    with torch.no_grad():
        for p, q in zip(ref.parameters(), model.parameters()):
            p.copy_(torch.from_numpy(q.detach().numpy()))
    opt = mytorch.optim.Adam(model.parameters(), lr=0.01)
    ref_opt = torch.optim.Adam(ref.parameters(), lr=0.01)
    scaler = GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=3)
    ref_scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=3)
    scaler.scale(mytorch.tensor(1.0))
    ref_scaler.scale(torch.tensor(1.0))
    for step, bad in enumerate(pattern):
        grads = _grads_like(model, scaler.get_scale(), bad=bool(bad), seed=step)
        _set_grads(model, grads)
        for p, g in zip(ref.parameters(), grads):
            p.grad = torch.from_numpy(g.copy())
        scaler.step(opt)
        ref_scaler.step(ref_opt)
        scaler.update()
        ref_scaler.update()
        assert scaler.get_scale() == ref_scaler.get_scale(), step
        assert scaler._get_growth_tracker() == ref_scaler._get_growth_tracker(), step
        for p, q in zip(model.parameters(), ref.parameters()):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_state_dict_round_trip_and_keys_match_torch():
    scaler = GradScaler("cpu", init_scale=256.0, growth_factor=3.0, backoff_factor=0.25, growth_interval=5)
    model = _model()
    opt = mytorch.optim.SGD(model.parameters(), lr=0.1)
    scaler.scale(mytorch.tensor(1.0))
    for step in range(2):
        _set_grads(model, _grads_like(model, 1.0, seed=step))
        scaler.step(opt)
        scaler.update()
    sd = scaler.state_dict()
    ref = torch.amp.GradScaler("cpu", init_scale=256.0, growth_factor=3.0, backoff_factor=0.25, growth_interval=5)
    assert list(sd) == list(ref.state_dict())
    assert sd == {"scale": 256.0, "growth_factor": 3.0, "backoff_factor": 0.25, "growth_interval": 5,
                  "_growth_tracker": 2}
    fresh = GradScaler("cpu")
    fresh.load_state_dict(sd)
    assert fresh.state_dict() == sd
    assert fresh.get_scale() == 256.0
    fresh.scale(mytorch.tensor(1.0))  # the lazily made scale starts from the loaded values
    assert fresh.get_scale() == 256.0 and fresh._get_growth_tracker() == 2
    ref.load_state_dict(sd)
    assert ref.state_dict() == sd
    with pytest.raises(RuntimeError, match="empty"):
        GradScaler("cpu").load_state_dict({})
    restored = pickle.loads(pickle.dumps(fresh))
    assert restored.state_dict() == sd


def test_stage_errors_follow_torch():
    model = _model()
    opt = mytorch.optim.SGD(model.parameters(), lr=0.1)
    scaler = GradScaler("cpu")
    with pytest.raises(AssertionError, match="did not use scaler.scale"):
        scaler.unscale_(opt)
    scaler.scale(mytorch.tensor(1.0))
    _set_grads(model, _grads_like(model, 1.0))
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called on this optimizer"):
        scaler.unscale_(opt)
    scaler.step(opt)  # does not unscale again
    with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step\\(\\)"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    scaler.update()
    with pytest.raises(RuntimeError, match="Closure"):
        scaler.step(opt, closure=lambda: 0)
    with pytest.raises(ValueError, match="outputs must be a Tensor"):
        scaler.scale(3.0)


def test_unscale_gives_true_gradients_once():
    model = _model()
    opt = mytorch.optim.SGD(model.parameters(), lr=0.5)
    scaler = GradScaler("cpu", init_scale=64.0)
    x = mytorch.randn(5, 4)
    scaler.scale(model(x).sum()).backward()
    scaled = [p.grad.numpy().copy() for p in model.parameters()]
    scaler.unscale_(opt)
    for p, g in zip(model.parameters(), scaled):
        np.testing.assert_allclose(p.grad.numpy(), g / 64.0, rtol=1e-7)
    before = [p.detach().numpy().copy() for p in model.parameters()]
    scaler.step(opt)
    for p, w, g in zip(model.parameters(), before, scaled):
        np.testing.assert_allclose(p.detach().numpy(), w - 0.5 * g / 64.0, rtol=1e-6, atol=1e-7)


def test_scale_of_containers_and_multiplier():
    scaler = GradScaler("cpu", init_scale=4.0)
    a, b = mytorch.tensor(1.5), mytorch.tensor([1.0, 2.0])
    out = scaler.scale([a, (b, a)])
    assert isinstance(out, list) and isinstance(out[1], tuple)
    np.testing.assert_array_equal(out[0].numpy(), 6.0)
    np.testing.assert_array_equal(out[1][0].numpy(), [4.0, 8.0])
    half = scaler.scale(mytorch.tensor([1.0, 2.0], dtype=mytorch.float16))
    ref = torch.amp.GradScaler("cpu", init_scale=4.0).scale(torch.tensor([1.0, 2.0], dtype=torch.float16))
    assert str(half.dtype) == str(ref.dtype).replace("torch", "mytorch")
    assert [t.item() for t in scaler.scale(iter([a]))] == [6.0]


def test_disabled_scaler_is_a_pass_through():
    model = _model()
    opt = mytorch.optim.SGD(model.parameters(), lr=1.0)
    scaler = GradScaler("cpu", enabled=False)
    loss = model(mytorch.ones(1, 4)).sum()
    assert scaler.scale(loss) is loss
    loss.backward()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    assert not any(np.array_equal(p.detach().numpy(), w) for p, w in zip(model.parameters(), before))
    assert scaler.get_scale() == 1.0 and scaler.state_dict() == {} and not scaler.is_enabled()


def test_fp16_gradients_refused_and_cuda_scaler_without_gpu():
    model = _model().half()
    opt = mytorch.optim.SGD(model.parameters(), lr=1.0)
    scaler = GradScaler("cpu", init_scale=4.0)
    scaler.scale(model(mytorch.ones(1, 4, dtype=mytorch.float16)).sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients."):
        scaler.step(opt)
    if not mytorch.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available"):
            cuda_scaler = GradScaler()
        assert not cuda_scaler.is_enabled()
        from mytorch.cuda.amp import GradScaler as CudaGradScaler

        with pytest.warns(FutureWarning, match="deprecated"), pytest.warns(UserWarning, match="not available"):
            assert not CudaGradScaler().is_enabled()


def test_new_scale_and_bad_factors():
    scaler = GradScaler("cpu", init_scale=8.0)
    scaler.scale(mytorch.tensor(1.0))
    scaler.update(new_scale=2.0)
    assert scaler.get_scale() == 2.0
    scaler.update(new_scale=mytorch.tensor(32.0))
    assert scaler.get_scale() == 32.0
    with pytest.raises(ValueError, match="growth factor"):
        GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(ValueError, match="backoff factor"):
        GradScaler("cpu", backoff_factor=1.0)
    copy.deepcopy(GradScaler("cpu"))
    warnings.simplefilter("default")
