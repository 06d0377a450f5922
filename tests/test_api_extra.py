"""Smaller PyTorch APIs that real programs reach for: gumbel_softmax, nn.attention.sdpa_kernel, the
deterministic-algorithms switches, torch.detach, legacy names."""
import numpy as np
import pytest
import torch

import mytorch

F = mytorch.nn.functional


def test_gumbel_softmax_matches_its_definition():
    logits = mytorch.tensor([[1.0, -0.5, 2.0, 0.3]], requires_grad=True)
    mytorch.manual_seed(3)
    y = F.gumbel_softmax(logits, tau=0.7)
    mytorch.manual_seed(3)
    g = -mytorch.empty_like(logits).exponential_().log()  # the same Gumbel noise
    ref_logits = torch.tensor(logits.detach().numpy(), requires_grad=True)
    ref = torch.softmax((ref_logits + torch.tensor(g.numpy())) / 0.7, -1)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-6)
    w = np.array([[0.3, -1.0, 2.0, 0.5]], np.float32)
    (y * mytorch.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(logits.grad.numpy(), ref_logits.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_gumbel_softmax_hard_samples_follow_the_softmax():
    logits = mytorch.tensor([0.0, 1.0, 2.0]).log_softmax(-1).expand(20000, 3)
    mytorch.manual_seed(0)
    y = F.gumbel_softmax(logits, tau=1.0, hard=True)
    assert set(np.unique(y.numpy())) <= {0.0, 1.0} and np.all(y.numpy().sum(-1) == 1)
    freq = y.numpy().mean(0)
    np.testing.assert_allclose(freq, torch.softmax(torch.tensor([0.0, 1.0, 2.0]), -1).numpy(), atol=0.015)


def test_sdpa_kernel_context():
    from mytorch.nn.attention import SDPBackend, sdpa_kernel

    assert [b.name for b in SDPBackend] == list(torch.nn.attention.SDPBackend.__members__)
    q = mytorch.randn(1, 2, 4, 8)
    with mytorch.backends.fused.flags(enabled=True, flash_attention=True):
        with sdpa_kernel(SDPBackend.MATH):
            assert not mytorch.backends.fused.flash_attention
            out = F.scaled_dot_product_attention(q, q, q)
        assert mytorch.backends.fused.flash_attention
    assert out.shape == q.shape
    with pytest.raises(TypeError):
        with sdpa_kernel(["math"]):
            pass


def test_deterministic_switches_match_torch():
    for lib in (mytorch, torch):
        assert not lib.are_deterministic_algorithms_enabled()
        lib.use_deterministic_algorithms(True, warn_only=True)
        assert lib.are_deterministic_algorithms_enabled() and lib.is_deterministic_algorithms_warn_only_enabled()
        assert lib.get_deterministic_debug_mode() == 1
        lib.set_deterministic_debug_mode("error")
        assert lib.get_deterministic_debug_mode() == 2
        lib.use_deterministic_algorithms(False)
        assert lib.get_deterministic_debug_mode() == 0
    with pytest.raises(RuntimeError):
        mytorch.set_deterministic_debug_mode("loud")


def test_small_names():
    x = mytorch.ones(2, requires_grad=True)
    assert not mytorch.detach(x).requires_grad
    assert mytorch.legacy_contiguous_format is mytorch.contiguous_format
    from mytorch.nn.modules.batchnorm import _BatchNorm

    assert isinstance(mytorch.nn.BatchNorm1d(3), _BatchNorm)
    assert mytorch.jit.script_if_tracing(len) is len


def test_cholesky_ex_reports_info_like_torch():
    A = np.stack([[[4.0, 2.0], [2.0, 3.0]], [[1.0, 2.0], [2.0, 1.0]], [[-1.0, 0.0], [0.0, 1.0]]])
    mine, ref = mytorch.linalg.cholesky_ex(mytorch.tensor(A)), torch.linalg.cholesky_ex(torch.tensor(A))
    np.testing.assert_array_equal(mine.info.numpy(), ref.info.numpy())
    np.testing.assert_allclose(mine.L[0].numpy(), ref.L[0].numpy())
    with pytest.raises(RuntimeError, match="positive-definite"):
        mytorch.linalg.cholesky_ex(mytorch.tensor(A), check_errors=True)


def test_flip_spellings():
    x = mytorch.arange(6.0).reshape(2, 3)
    t = torch.arange(6.0).reshape(2, 3)
    assert x.flip(0, 1).tolist() == t.flip(0, 1).tolist()
    assert mytorch.flip(x, dims=[1]).tolist() == torch.flip(t, dims=[1]).tolist()


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_undefined_partial_derivatives_raise_like_torch(name):
    for lib in (mytorch, torch):
        a = lib.tensor([1.5], dtype=lib.float64, requires_grad=True)
        x = lib.tensor([0.7], dtype=lib.float64, requires_grad=True)
        with pytest.raises(NotImplementedError, match=f"derivative for '{name}: input'"):
            getattr(lib, name)(a, x).sum().backward()


def test_float32_matmul_precision_like_torch():
    for lib in (mytorch, torch):
        assert lib.get_float32_matmul_precision() == "highest"
        lib.set_float32_matmul_precision("high")
        assert lib.backends.cuda.matmul.allow_tf32 and lib.get_float32_matmul_precision() == "high"
        lib.set_float32_matmul_precision("highest")
        assert not lib.backends.cuda.matmul.allow_tf32
        with pytest.warns(UserWarning):
            lib.set_float32_matmul_precision("low")


def test_detect_anomaly_names_the_function_like_torch():
    messages = []
    for lib in (mytorch, torch):
        x = lib.tensor([-1.0, 4.0], requires_grad=True)
        with lib.autograd.detect_anomaly():
            assert lib.is_anomaly_enabled()
            y = lib.sqrt(x)
            with pytest.raises(RuntimeError) as err, pytest.warns(UserWarning) if lib is torch else _nothing():
                (y * 0).sum().backward()
        messages.append(str(err.value).splitlines()[0])
        assert not lib.is_anomaly_enabled()
        y = lib.sqrt(x)
        y.sum().backward()  # off again: NaN gradients flow silently
        assert np.isnan(x.grad.numpy()[0])
    assert messages[0] == messages[1] == "Function 'SqrtBackward0' returned nan values in its 0th output."
    with mytorch.autograd.set_detect_anomaly(True):
        assert mytorch.is_anomaly_enabled()
    assert not mytorch.is_anomaly_enabled()


def _nothing():
    import contextlib

    return contextlib.nullcontext()


DEFAULT_DEVICE = """
import mytorch as torch
assert str(torch.get_default_device()) == "cpu"
with torch.device("cuda"):
    assert str(torch.get_default_device()) == "cuda:0"
    assert {str(t.device) for t in (torch.zeros(2), torch.tensor([1, 2]), torch.nn.Linear(2, 2).weight,
                                      torch.randn(3), torch.arange(3))} == {"cuda:0"}
    assert str(torch.zeros_like(torch.zeros(2, device="cpu")).device) == "cpu"  # *_like keep their input's
assert str(torch.zeros(2).device) == "cpu"
torch.set_default_device("cuda:1")
assert str(torch.ones(1).device) == "cuda:1"
torch.set_default_device(None)
assert str(torch.ones(1).device) == "cpu"
print("ok")
"""


def test_default_device_on_two_fake_gpus():
    import os
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", DEFAULT_DEVICE], env=dict(os.environ, MYTORCH_FAKE_CUDA="1"),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
    with mytorch.device("cpu"):
        assert mytorch.get_default_device() == mytorch.device("cpu")
