"""mytorch.fft against torch.fft: every transform's values, dtypes and input gradients over sizes that pad and
trim, dims, the three norms, real and complex inputs; plus argument errors."""
import numpy as np
import pytest
import torch

import mytorch

RNG = np.random.default_rng(0)
REAL = RNG.standard_normal((2, 3, 6))
CPLX = REAL + 1j * RNG.standard_normal((2, 3, 6))
ODD = RNG.standard_normal((3, 5)) + 1j * RNG.standard_normal((3, 5))


def _np(t):
    return t.detach().resolve_conj().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _loss(lib, y):
    """A real loss that weighs every real and imaginary output part differently."""
    parts = lib.view_as_real(y.resolve_conj()) if y.is_complex() else y
    w = lib.cos(lib.arange(parts.numel(), dtype=parts.dtype)).reshape(parts.shape)
    return (parts * w).sum()


def check(name, x, tol=1e-10, **kwargs):
    out, grads = [], []
    for lib in (mytorch, torch):
        t = lib.tensor(x.copy(), requires_grad=x.dtype.kind in "fc")
        y = getattr(lib.fft, name)(t, **kwargs)
        out.append(y)
        if t.requires_grad:
            _loss(lib, y).backward()
            grads.append(t.grad)
    (m, r) = out
    assert str(m.dtype).split(".")[-1] == str(r.dtype).split(".")[-1], (m.dtype, r.dtype)
    assert tuple(m.shape) == tuple(r.shape), (m.shape, r.shape)
    np.testing.assert_allclose(_np(m), _np(r), rtol=tol, atol=tol)
    if grads:
        assert grads[0].dtype == getattr(mytorch, str(grads[1].dtype).split(".")[-1])
        np.testing.assert_allclose(_np(grads[0]), _np(grads[1]), rtol=tol, atol=tol)


ONE_D = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
REAL_ONLY = {"rfft", "ihfft", "rfft2", "ihfft2", "rfftn", "ihfftn"}
NORMS = [None, "ortho", "forward"]


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n", [None, 4, 9])  # keep, trim, pad
@pytest.mark.parametrize("name", ONE_D)
def test_one_dim(name, n, norm):
    check(name, REAL, n=n, norm=norm)
    if name not in REAL_ONLY:
        check(name, CPLX, n=n, norm=norm)
        check(name, ODD, n=n, dim=0, norm=norm)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("s", [None, (4, 5), (2, 7)])
@pytest.mark.parametrize("name", ["fft2", "ifft2", "rfft2", "irfft2", "hfft2", "ihfft2",
                                  "fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn"])
def test_two_and_n_dim(name, s, norm):
    x = REAL if name in REAL_ONLY else CPLX
    check(name, x, s=s, norm=norm)


@pytest.mark.parametrize("name,kwargs", [
    ("fftn", dict(dim=(0, 2))), ("fftn", dict(s=(3, -1))), ("ifftn", dict(s=(2, 2, 8))),
    ("rfftn", dict(dim=(2, 0))), ("rfftn", dict(dim=(-1,), s=(7,))), ("irfftn", dict(dim=(2, 0), s=(6, 3))),
    ("irfftn", dict(dim=1)), ("hfftn", dict(dim=(0, 1), s=(3, 5))), ("ihfftn", dict(dim=(0, 1))),
    ("fft2", dict(dim=(0, 1))), ("irfft2", dict(s=(3, 11))), ("fft", dict(dim=1)), ("rfft", dict(dim=0, n=1)),
])
def test_dims(name, kwargs):
    check(name, REAL if name in REAL_ONLY else CPLX, **kwargs)


@pytest.mark.parametrize("name", ["fft", "rfft", "ifft", "irfft", "hfft", "ihfft", "fftn", "irfftn"])
def test_single_precision_dtypes(name):
    """float32 in -> complex64 out (and back to float32 for the c2r transforms), as in PyTorch."""
    check(name, REAL.astype(np.float32), tol=1e-5)
    if name not in REAL_ONLY:
        check(name, CPLX.astype(np.complex64), tol=1e-5)


def test_integer_input_is_promoted():
    check("fft", np.arange(6))
    check("rfft", np.arange(6))


def test_round_trips():
    x = mytorch.tensor(REAL)
    np.testing.assert_allclose(mytorch.fft.irfft(mytorch.fft.rfft(x), n=6).numpy(), REAL, atol=1e-12)
    np.testing.assert_allclose(mytorch.fft.ifftn(mytorch.fft.fftn(x)).real.numpy(), REAL, atol=1e-12)
    np.testing.assert_allclose(mytorch.fft.ihfft(mytorch.fft.hfft(mytorch.fft.ihfft(x), n=6)).numpy(),
                               mytorch.fft.ihfft(x).numpy(), atol=1e-12)


def test_shift_and_freq_helpers():
    x = mytorch.arange(10.).reshape(2, 5)
    t = torch.arange(10.).reshape(2, 5)
    np.testing.assert_array_equal(mytorch.fft.fftshift(x).numpy(), torch.fft.fftshift(t).numpy())
    np.testing.assert_array_equal(mytorch.fft.ifftshift(x, dim=1).numpy(), torch.fft.ifftshift(t, dim=1).numpy())
    np.testing.assert_allclose(mytorch.fft.fftfreq(7, 0.5).numpy(), torch.fft.fftfreq(7, 0.5).numpy())
    np.testing.assert_allclose(mytorch.fft.rfftfreq(8).numpy(), torch.fft.rfftfreq(8).numpy())


@pytest.mark.parametrize("expr,exc", [
    ("lib.fft.fft(lib.ones(4), norm='bad')", RuntimeError),
    ("lib.fft.fft(lib.ones(4), n=0)", RuntimeError),
    ("lib.fft.fft(lib.ones(4, 6), dim=2)", IndexError),
    ("lib.fft.rfft(lib.ones(4, dtype=lib.complex64))", RuntimeError),
    ("lib.fft.ihfft(lib.ones(4, dtype=lib.complex64))", RuntimeError),
    ("lib.fft.fftn(lib.ones(4, 6), s=(3,), dim=(0, 1))", RuntimeError),
    ("lib.fft.fftn(lib.ones(4, 6), dim=(0, 0))", RuntimeError),
    ("lib.fft.irfft(lib.ones(1))", RuntimeError),
    ("lib.fft.fft(lib.ones(()))", IndexError),
    ("lib.fft.fft2(lib.ones(3))", IndexError),
    ("lib.fft.fft(lib.ones(4, dtype=lib.float16))", RuntimeError),
])
def test_errors_match_torch(expr, exc):
    messages = []
    for lib in (mytorch, torch):
        with pytest.raises(exc) as info:
            eval(expr, {"lib": lib})
        messages.append(str(info.value))
    assert messages[0] == messages[1]
