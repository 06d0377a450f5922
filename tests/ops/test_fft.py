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


# ---------------------------------------------------------------------------------------------
# stft / istft
# ---------------------------------------------------------------------------------------------
# public torch.* ops this module checks against PyTorch (tests/ops/test_coverage.py)
COVERED = {"stft", "istft", "hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"}
HANN8, HANN16 = np.hanning(8), np.hanning(16)
STFT_CASES = [  # (signal shape, window, stft kwargs, istft kwargs or None)
    ((2, 40), HANN16, dict(n_fft=16), dict(n_fft=16)),
    ((40,), None, dict(n_fft=8, hop_length=3), dict(n_fft=8, hop_length=3)),
    ((2, 33), np.hanning(10), dict(n_fft=16, hop_length=4, win_length=10),
     dict(n_fft=16, hop_length=4, win_length=10, length=33)),
    ((2, 30), HANN8, dict(n_fft=8, normalized=True, pad_mode="constant"), dict(n_fft=8, normalized=True)),
    ((30,), HANN8, dict(n_fft=8, center=False, pad_mode="replicate"), None),
    ((30,), HANN8, dict(n_fft=8, onesided=False, pad_mode="circular"), dict(n_fft=8, onesided=False)),
    ((2, 30), HANN8 + 0.1, dict(n_fft=8), dict(n_fft=8, center=False)),
    ((2, 30), HANN8 + 0.1, dict(n_fft=8), dict(n_fft=8, length=40)),
]


def _stft_round(lib, x0, w0, kwargs, ikwargs):
    x = lib.tensor(x0, requires_grad=True)
    window = None if w0 is None else lib.tensor(w0)
    spec = lib.stft(x, window=window, return_complex=True, **kwargs)
    outs = [spec]
    loss = _loss(lib, spec)
    if ikwargs is not None:
        y = lib.istft(spec, window=window, **ikwargs)
        outs.append(y)
        loss = loss + _loss(lib, y)
    loss.backward()
    return outs + [x.grad]


@pytest.mark.filterwarnings("ignore::UserWarning")  # rectangular-window and zero-padding notices (both libraries)
@pytest.mark.parametrize("shape,window,kwargs,ikwargs", STFT_CASES)
def test_stft_istft_against_torch(shape, window, kwargs, ikwargs):
    x0 = np.random.default_rng(5).standard_normal(shape)
    for m, r in zip(_stft_round(mytorch, x0, window, kwargs, ikwargs), _stft_round(torch, x0, window, kwargs, ikwargs)):
        assert str(m.dtype).split(".")[-1] == str(r.dtype).split(".")[-1] and tuple(m.shape) == tuple(r.shape)
        np.testing.assert_allclose(_np(m), _np(r), rtol=1e-9, atol=1e-9)


@pytest.mark.filterwarnings("ignore:stft with return_complex=False is deprecated")
def test_stft_complex_input_and_real_pairs():
    """A complex signal gets the two-sided spectrum; return_complex=False gives (real, imag) pairs."""
    x0 = CPLX[0]
    for fn in (lambda lib, x: lib.stft(x, 4, return_complex=True),
               lambda lib, x: x.real.stft(4, window=lib.hann_window(4, dtype=lib.float64), return_complex=False)):
        mine, ref = fn(mytorch, mytorch.tensor(x0)), fn(torch, torch.tensor(x0))
        assert tuple(mine.shape) == tuple(ref.shape)
        np.testing.assert_allclose(_np(mine), _np(ref), atol=1e-10)


@pytest.mark.parametrize("expr,exc,phrase", [
    ("lib.stft(lib.ones(20), 8)", RuntimeError, "stft requires the return_complex parameter be given for real inputs"),
    ("lib.stft(lib.ones(20), 8, hop_length=0, return_complex=True)", RuntimeError, "expected hop_length > 0"),
    ("lib.stft(lib.ones(20), 8, win_length=9, return_complex=True)", RuntimeError, "expected 0 < win_length <= n_fft"),
    ("lib.stft(lib.ones(20), 8, window=lib.ones(5), return_complex=True)", RuntimeError,
     "expected a 1D window tensor of size equal to win_length=8"),
    ("lib.stft(lib.ones(20), 64, center=False, return_complex=True)", RuntimeError, "expected 0 < n_fft < 20"),
    ("lib.stft(lib.ones(2, 2, 20), 8, return_complex=True)", RuntimeError, "expected a 1D or 2D tensor"),
    ("lib.stft(lib.ones(20, dtype=lib.complex64), 8, onesided=True)", RuntimeError,
     "Cannot have onesided output if window or input is complex"),
    ("lib.istft(lib.ones(5, 11), 8)", RuntimeError, "istft requires a complex-valued input tensor"),
    ("lib.istft(lib.stft(lib.ones(20), 8, window=lib.hann_window(8), return_complex=True), 8, "
     "window=lib.hann_window(8), center=False)", RuntimeError, "window overlap add min"),
])
def test_stft_errors(expr, exc, phrase):
    for lib in (mytorch, torch):
        with pytest.raises(exc, match=phrase.replace("(", r"\(")):
            eval(expr, {"lib": lib})


@pytest.mark.parametrize("name,kwargs", [("hann_window", {}), ("hamming_window", {}),
                                         ("hamming_window", dict(alpha=0.6, beta=0.3)), ("blackman_window", {}),
                                         ("bartlett_window", {}), ("kaiser_window", dict(beta=5.0))])
def test_window_functions(name, kwargs):
    for n in (0, 1, 2, 7, 8):
        for periodic in (True, False):
            for dtype in (None, "float64"):
                extra = {} if dtype is None else {"dtype": getattr(mytorch, dtype)}
                mine = getattr(mytorch, name)(n, periodic, **kwargs, **extra)
                ref = getattr(torch, name)(n, periodic, **kwargs, **({} if dtype is None else {"dtype": torch.float64}))
                assert str(mine.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
                np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)


def test_out_arguments_are_filled():
    out = mytorch.empty(3, dtype=mytorch.complex64)
    assert mytorch.fft.fft(mytorch.arange(3.0), out=out) is out
    np.testing.assert_allclose(out.numpy(), torch.fft.fft(torch.arange(3.0)).numpy(), atol=1e-6)
    out2 = mytorch.empty(0, dtype=mytorch.complex64)  # resized, as PyTorch does
    mytorch.fft.rfft2(mytorch.ones(2, 4), out=out2)
    assert tuple(out2.shape) == (2, 3)
    out3 = mytorch.empty(2, dtype=mytorch.complex128)
    mytorch.linalg.eigvals(mytorch.eye(2, dtype=mytorch.float64) * 3, out=out3)
    np.testing.assert_allclose(out3.numpy(), [3, 3])


@pytest.mark.parametrize("name,kwargs,real_input", [
    ("fft", dict(n=3), False), ("ifft", dict(norm="ortho"), False), ("rfft", dict(n=5), True),
    ("irfft", dict(n=4), False), ("hfft", dict(n=3, norm="forward"), False), ("ihfft", {}, True),
    ("fft2", dict(s=(2, 3)), False), ("rfftn", {}, True), ("irfftn", dict(s=(3, 4)), False), ("hfftn", {}, False),
])
def test_finite_difference_gradcheck(name, kwargs, real_input):
    """The analytic Jacobians against central differences (complex inputs/outputs as real pairs)."""
    x0 = REAL[0, :2, :3] if real_input else CPLX[0, :2, :3]
    x = mytorch.tensor(x0, requires_grad=True)
    assert mytorch.autograd.gradcheck(lambda t: getattr(mytorch.fft, name)(t, **kwargs), (x,))
