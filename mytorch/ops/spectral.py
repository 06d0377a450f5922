"""torch.stft / torch.istft, composed from differentiable ops: padding by index, frames by unfold, an FFT
per frame (mytorch.fft), and overlap-add by index_add; autograd comes from those pieces."""
import warnings

import numpy as np

from ..tensor import Tensor
from ._registry import public, tensor_methods


def _fft():
    from .. import fft  # imported on use: mytorch.fft itself builds on the op modules

    return fft


def _pad_signal(x, pad, mode):
    """Pad the last dim by `pad` on both sides, as F.pad does for stft's center=True."""
    from .factory import zeros

    n = x.shape[-1]
    if mode == "constant":
        z = zeros(*x.shape[:-1], pad, dtype=x.dtype, device=x.device)
        return _cat([z, x, z])
    if mode == "reflect":
        if pad >= n:
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({pad}, {pad}) at dimension {x.ndim} of input {[1, *x.shape]}")
        idx = np.concatenate([np.arange(pad, 0, -1), np.arange(n), np.arange(n - 2, n - 2 - pad, -1)])
    elif mode == "replicate":
        idx = np.clip(np.arange(-pad, n + pad), 0, n - 1)
    elif mode == "circular":
        idx = np.arange(-pad, n + pad) % n
    else:
        raise NotImplementedError(f"stft: unsupported pad_mode {mode!r} (reflect, constant, replicate, circular)")
    return x[..., idx]


def _cat(parts):
    from .shape import cat

    return cat(parts, -1)


def _window(window, win_length, n_fft, x, op):
    """The window (default rectangular), zero-padded on both sides to n_fft."""
    from .factory import ones

    if window is None:
        window = ones(win_length, dtype=x.dtype.to_real(), device=x.device)
    elif window.ndim != 1 or window.shape[0] != win_length:
        raise RuntimeError(f"{op}: expected a 1D window tensor of size equal to win_length={win_length}, but got "
                           f"window with size {list(window.shape)}")
    left = (n_fft - win_length) // 2
    if left or n_fft - win_length - left:
        from .factory import zeros

        window = _cat([zeros(left, dtype=window.dtype, device=window.device), window,
                       zeros(n_fft - win_length - left, dtype=window.dtype, device=window.device)])
    return window


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None, align_to_window=None):
    """Short-time Fourier transform: (B?, L) signal -> (B?, n_freq, n_frames) complex spectrum."""
    if not isinstance(input, Tensor):
        raise TypeError(f"stft(): argument 'input' must be Tensor, not {type(input).__name__}")
    complex_in = input.is_complex() or (window is not None and window.is_complex())
    if return_complex is None:
        if not complex_in:
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will "
                               "further require that return_complex=True in a future PyTorch release.")
        return_complex = True
    if input.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, got {input.ndim}D")
    if align_to_window:
        raise RuntimeError("stft: align_to_window=True is not supported here (frames start at multiples of "
                           "hop_length)")
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    x = input if input.is_floating_point() or input.is_complex() else input.float()
    if center:
        x = _pad_signal(x, n_fft // 2, pad_mode)
    length = x.shape[-1]
    if not 0 < n_fft <= length:
        raise RuntimeError(f"stft: expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop_length <= 0:
        raise RuntimeError(f"stft: expected hop_length > 0, but got hop_length={hop_length}")
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"stft: expected 0 < win_length <= n_fft, but got win_length={win_length}")
    onesided = not complex_in if onesided is None else onesided
    if onesided and complex_in:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    frames = x.unfold(-1, n_fft, hop_length) * _window(window, win_length, n_fft, x, "stft")  # (B?, T, n_fft)
    norm = "ortho" if normalized else "backward"
    spec = _fft().rfft(frames, norm=norm) if onesided else _fft().fft(frames, norm=norm)
    spec = spec.transpose(-1, -2)  # (B?, n_freq, n_frames)
    if not return_complex:
        warnings.warn("stft with return_complex=False is deprecated: use view_as_real on the complex output",
                      UserWarning, stacklevel=2)
        from .complex_ops import view_as_real

        return view_as_real(spec)
    return spec


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False):
    """Inverse of stft by windowed overlap-add, divided by the summed squared window."""
    from .factory import arange, zeros

    if not isinstance(input, Tensor) or not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with "
                           "return_complex=True.")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex, got {input.ndim}")
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    if hop_length <= 0 or not 0 < win_length <= n_fft:
        raise RuntimeError(f"istft: expected 0 < hop_length <= win_length <= n_fft, got hop_length={hop_length}, "
                           f"win_length={win_length}, n_fft={n_fft}")
    n_freq, n_frames = input.shape[-2], input.shape[-1]
    onesided = n_freq != n_fft if onesided is None else onesided
    if onesided and n_freq != n_fft // 2 + 1:
        raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of the input tensor to match "
                           f"n_fft / 2 + 1 when onesided=True, but got {n_freq}")
    if not onesided and n_freq != n_fft:
        raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of the input tensor to match "
                           f"n_fft when onesided=False, but got {n_freq}")
    if onesided and return_complex:
        raise RuntimeError("cannot have onesided output if window or input is complex")
    spec = input.transpose(-1, -2)  # (B?, n_frames, n_freq)
    norm = "ortho" if normalized else "backward"
    if return_complex:
        frames = _fft().ifft(spec, n=n_fft, norm=norm)
    else:  # a real signal: read the first half as a Hermitian spectrum, as PyTorch does for two-sided input too
        frames = _fft().irfft(spec if onesided else spec[..., : n_fft // 2 + 1], n=n_fft, norm=norm)
    win = _window(window, win_length, n_fft, frames.real if frames.is_complex() else frames, "istft")
    frames = frames * win
    # overlap-add: frame t covers samples t * hop ... t * hop + n_fft - 1
    positions = (arange(n_frames, device=input.device)[:, None] * hop_length
                 + arange(n_fft, device=input.device)[None, :]).reshape(-1)
    total = n_fft + hop_length * (n_frames - 1)
    batch = frames.shape[:-2]
    signal = zeros(*batch, total, dtype=frames.dtype, device=input.device).index_add(
        -1, positions, frames.reshape(*batch, -1))
    envelope = zeros(total, dtype=win.dtype, device=input.device).index_add(
        0, positions, (win * win).repeat(n_frames))  # PyTorch's envelope is window ** 2 (not |window| ** 2)
    start = n_fft // 2 if center else 0
    end = total - (n_fft // 2 if center else 0) if length is None else start + length
    end = min(end, total)
    envelope = envelope[start:end]
    if bool((envelope.abs() < 1e-11).any()):
        raise RuntimeError(f"istft: window overlap add min: {float(envelope.abs().min()):g} (the window and hop "
                           "length must give a nonzero sum of squared windows at every sample)")
    out = signal[..., start:end] / envelope
    if length is not None and out.shape[-1] < length:
        warnings.warn("The length of signal is shorter than the length parameter. Result is being padded with zeros "
                      "in the tail. Please check your center and hop_length settings.", UserWarning, stacklevel=2)
        out = _cat([out, zeros(*batch, length - out.shape[-1], dtype=out.dtype, device=input.device)])
    return out


# ---------------------------------------------------------------------------------------------
# torch.*_window: periodic by default (the spectral-analysis form), on mytorch.signal.windows
# ---------------------------------------------------------------------------------------------
def _torch_window(name, make, window_length, periodic, dtype, device, requires_grad):
    from ..signal import windows

    if dtype is not None and not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    return make(windows)(window_length, sym=not periodic, dtype=dtype, device=device, requires_grad=requires_grad)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                requires_grad=False):
    return _torch_window("hann_window", lambda w: w.hann, window_length, periodic, dtype, device, requires_grad)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None, device=None,
                   pin_memory=False, requires_grad=False):
    return _torch_window("hamming_window", lambda w: lambda M, **kw: w.general_cosine(M, a=[alpha, beta], **kw),
                         window_length, periodic, dtype, device, requires_grad)


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                    requires_grad=False):
    return _torch_window("blackman_window", lambda w: w.blackman, window_length, periodic, dtype, device,
                         requires_grad)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, pin_memory=False,
                    requires_grad=False):
    return _torch_window("bartlett_window", lambda w: w.bartlett, window_length, periodic, dtype, device,
                         requires_grad)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  pin_memory=False, requires_grad=False):
    return _torch_window("kaiser_window", lambda w: lambda M, **kw: w.kaiser(M, beta=beta, **kw), window_length,
                         periodic, dtype, device, requires_grad)


tensor_methods(stft=stft, istft=istft)
public(stft, istft, hann_window, hamming_window, blackman_window, bartlett_window, kaiser_window)
