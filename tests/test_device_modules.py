"""torch.cpu (device module, older amp spellings), backends.cuda.sdp_kernel and backends.opt_einsum."""
import warnings

import pytest
import torch

import mytorch
import mytorch.backends


def test_cpu_device_module_matches_torch():
    import mytorch.cpu

    for name in ("is_available", "device_count", "current_device"):
        assert getattr(mytorch.cpu, name)() == getattr(torch.cpu, name)()
    stream = mytorch.cpu.Stream()
    event = stream.record_event()
    assert event.query() and stream.query()
    with mytorch.cpu.stream(stream):
        mytorch.cpu.synchronize()
    assert mytorch.cpu.current_stream() is mytorch.cpu.current_stream()


def test_cpu_amp_autocast_is_the_deprecated_spelling():
    import mytorch.cpu

    a = mytorch.randn(4, 4)
    with pytest.warns(FutureWarning, match="amp.autocast\\('cpu'"):
        ctx = mytorch.cpu.amp.autocast()
    with ctx:
        assert (a @ a).dtype == mytorch.bfloat16
    with pytest.warns(FutureWarning):
        scaler = mytorch.cpu.amp.GradScaler()
    assert scaler.get_scale() == 2.0 ** 16


def test_sdp_kernel_is_sdpa_kernel_with_flags():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mytorch.backends.cuda.sdp_kernel(enable_flash=False):
            assert not mytorch.backends.cuda.flash_sdp_enabled()
            assert not mytorch.backends.fused.flash_attention
            q = mytorch.randn(1, 2, 3, 4)
            out = mytorch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert mytorch.backends.cuda.flash_sdp_enabled()
    ref = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(q.numpy()),) * 3)
    torch.testing.assert_close(torch.tensor(out.numpy()), ref)
    with pytest.warns(FutureWarning, match="sdp_kernel"):
        with mytorch.backends.cuda.sdp_kernel():
            pass


def test_opt_einsum_flags():
    import mytorch.backends.opt_einsum as oe

    assert (oe.enabled, oe.strategy, oe.is_available()) == (False, None, False)
    oe.enabled = True  # settable, as in PyTorch; einsum's result doesn't depend on it
    a = mytorch.randn(2, 3)
    assert mytorch.einsum("ij,kj->ik", a, a).shape == (2, 2)
    oe.enabled = False
