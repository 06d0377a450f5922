"""mytorch.testing.assert_close / assert_allclose: PyTorch's comparison, messages and default tolerances."""
import math

import numpy as np

# dtype name -> (rtol, atol), PyTorch's defaults
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7), "complex32": (1e-3, 1e-5), "complex64": (1.3e-6, 1e-5),
               "complex128": (1e-7, 1e-7)}


def _tensor_type():
    from ..tensor import Tensor

    return Tensor


def _fail(msg, path, custom):
    if custom is not None:
        msg = custom(msg) if callable(custom) else custom
    elif path:
        msg += f"\n\nThe failure occurred for item {''.join(f'[{p!r}]' for p in path)}"
    raise AssertionError(msg)


def _tolerances(dtype_name, rtol, atol):
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {'rtol' if rtol is None else 'atol'}.")
    if rtol is not None:
        return rtol, atol
    return _TOLERANCES.get(dtype_name, (0.0, 0.0))


def _compare_tensors(actual, expected, rtol, atol, equal_nan, check_device, check_dtype, path, msg):
    for attr, a, e in (("shape", actual.shape, expected.shape),
                       ("device", actual.device, expected.device) if check_device else (None, 0, 0),
                       ("dtype", actual.dtype, expected.dtype) if check_dtype else (None, 0, 0)):
        if attr and a != e:
            fmt = (lambda v: str(v).replace("mytorch.", "torch.")) if attr != "device" else \
                (lambda v: f"{v.type}:{v.index}" if getattr(v, "index", None) is not None else str(v))
            _fail(f"The values for attribute '{attr}' do not match: {fmt(a)} != {fmt(e)}.", path, msg)
    a, e = actual.detach().cpu().numpy(), expected.detach().cpu().numpy()
    if a.dtype != e.dtype:
        common = np.result_type(a, e)
        a, e = a.astype(common), e.astype(common)
    rtol, atol = _tolerances(expected.dtype.name, rtol, atol)
    exact = a.dtype.kind in "biu"
    wide = np.complex128 if a.dtype.kind == "c" else np.float64
    af, ef = a.astype(wide), e.astype(wide)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(af - ef)
        ok = diff <= atol + rtol * np.abs(ef)
        both_inf = np.isinf(af) & np.isinf(ef) & (af == ef)
        ok |= both_inf
        if equal_nan:
            ok |= np.isnan(af) & np.isnan(ef)
    if ok.all():
        return
    if a.ndim == 0:  # PyTorch words 0-d tensors as scalars
        av, ev = a.item(), e.item()
        rel0 = float(diff) / abs(ev) if ev else math.inf
        _fail(f"Scalars are not {'equal' if rtol == atol == 0 else 'close'}!\n\nExpected {ev} but got {av}.\n"
              f"Absolute difference: {num_of(diff, exact)} (up to {atol} allowed)\n"
              f"Relative difference: {rel0} (up to {rtol} allowed)", path, msg)
    total, bad = a.size, int((~ok).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = diff / np.abs(ef)
    # the greatest differences among the mismatched elements (nan where a nan is involved, as PyTorch)
    ia = np.unravel_index(np.argmax(np.where(ok, -1.0, np.where(np.isnan(diff), np.inf, diff))), a.shape)
    ir = np.unravel_index(np.argmax(np.where(ok, -1.0, np.where(np.isnan(rel), np.inf, rel))), a.shape)

    def num(v):
        v = float(v)
        return int(v) if exact and math.isfinite(v) and v == int(v) else v

    kind = "equal" if (rtol == 0 and atol == 0) else "close"
    lines = [f"Tensor-likes are not {kind}!", "", f"Mismatched elements: {bad} / {total} ({100 * bad / total:.1f}%)",
             f"Greatest absolute difference: {num(diff[ia])} at index {tuple(int(i) for i in ia)}"
             + ("" if kind == "equal" else f" (up to {atol} allowed)"),
             f"Greatest relative difference: {float(np.float32(rel[ir]) if a.dtype == np.float32 or exact else rel[ir])}"
             f" at index {tuple(int(i) for i in ir)}" + ("" if kind == "equal" else f" (up to {rtol} allowed)")]
    _fail("\n".join(lines), path, msg)


def num_of(v, exact):
    v = float(v)
    return int(v) if exact and math.isfinite(v) and v == int(v) else v


def _compare_scalars(actual, expected, rtol, atol, equal_nan, path, msg):
    if isinstance(expected, bool) or isinstance(expected, int) and not isinstance(expected, bool):
        default = (0.0, 0.0)
    elif isinstance(expected, complex):
        default = _TOLERANCES["complex128"]
    else:
        default = _TOLERANCES["float64"]
    rtol, atol = (rtol, atol) if rtol is not None else default
    if (equal_nan and isinstance(actual, float) and math.isnan(actual) and math.isnan(expected)) or actual == expected:
        return
    diff = abs(actual - expected)
    if diff <= atol + rtol * abs(expected):
        return
    rel = diff / abs(expected) if expected else math.inf
    _fail(f"Scalars are not close!\n\nExpected {expected} but got {actual}.\nAbsolute difference: {diff} "
          f"(up to {atol} allowed)\nRelative difference: {rel} (up to {rtol} allowed)", path, msg)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False, check_device=True,
                 check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raise AssertionError unless actual and expected are close: tensors (same shape, device and dtype, then
    |a - e| <= atol + rtol |e| elementwise), Python numbers, or sequences / mappings of them."""
    _assert_close(actual, expected, rtol, atol, equal_nan, check_device, check_dtype, (), msg)


def _assert_close(actual, expected, rtol, atol, equal_nan, check_device, check_dtype, path, msg):
    Tensor = _tensor_type()
    if isinstance(actual, np.ndarray):
        actual = _from_numpy(actual)
    if isinstance(expected, np.ndarray):
        expected = _from_numpy(expected)
    if isinstance(actual, Tensor) or isinstance(expected, Tensor):
        if not (isinstance(actual, Tensor) and isinstance(expected, Tensor)):
            _fail(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.",
                  path, msg)
        return _compare_tensors(actual, expected, rtol, atol, equal_nan, check_device, check_dtype, path, msg)
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            _fail(f"The keys of the mappings do not match: {sorted(map(str, actual))} != {sorted(map(str, expected))}",
                  path, msg)
        for k in expected:
            _assert_close(actual[k], expected[k], rtol, atol, equal_nan, check_device, check_dtype, path + (k,), msg)
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            _fail(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}", path, msg)
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_close(a, e, rtol, atol, equal_nan, check_device, check_dtype, path + (i,), msg)
        return None
    if isinstance(expected, (int, float, complex, bool)) and isinstance(actual, (int, float, complex, bool)):
        if check_dtype and type(actual) is not type(expected):
            _fail(f"The values for attribute 'dtype' do not match: {type(actual)} != {type(expected)}.", path, msg)
        return _compare_scalars(actual, expected, rtol, atol, equal_nan, path, msg)
    if actual != expected:
        _fail(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.", path, msg)
    return None


def _from_numpy(a):
    from ..ops.factory import from_numpy

    return from_numpy(np.ascontiguousarray(a))


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """The deprecated spelling: no device/dtype checks, NaNs equal by default."""
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=False, check_dtype=False,
                 msg=msg or None)
