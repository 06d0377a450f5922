"""Tensor.__repr__, laid out like PyTorch's: 4 digits, scientific notation when the value range
is wide, one width per tensor, '...' summaries past 1000 elements."""
import math

import numpy as np

from . import _dtype

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    global PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH
    if profile == "default":
        PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = 4, 1000, 3, 80
    elif profile == "short":
        PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = 2, 1000, 2, 80
    elif profile == "full":
        PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = 4, math.inf, 3, 80
    PRECISION = PRECISION if precision is None else precision
    THRESHOLD = THRESHOLD if threshold is None else threshold
    EDGEITEMS = EDGEITEMS if edgeitems is None else edgeitems
    LINEWIDTH = LINEWIDTH if linewidth is None else linewidth


def _summarized(arr):
    """The elements that will be printed (edges only when summarising)."""
    if arr.ndim == 0:
        return arr.reshape(1)
    if arr.shape[0] > 2 * EDGEITEMS:
        parts = [arr[:EDGEITEMS], arr[-EDGEITEMS:]]
    else:
        parts = [arr]
    if arr.ndim == 1:
        return np.concatenate(parts)
    return np.concatenate([_summarized(row) for p in parts for row in p] or [arr.reshape(-1)[:0]])


class _Formatter:
    def __init__(self, values):
        self.kind = values.dtype.kind
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        if self.kind == "b":
            self.width = max((len(str(bool(v))) for v in values), default=1)
            return
        if self.kind in "iu":
            self.width = max((len(str(int(v))) for v in values), default=1)
            return
        vals = values.astype(np.float64)
        finite = vals[np.isfinite(vals)]
        nonzero = np.abs(finite[finite != 0])
        if finite.size:
            self.int_mode = bool(np.all(np.ceil(finite) == finite))
        if nonzero.size:
            lo, hi = nonzero.min(), nonzero.max()
            if self.int_mode:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
            else:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        # as PyTorch: only nonzero finite values set the width (zeros, nan and inf just fit in)
        self.width = max((len(self._plain(v)) for v in finite[finite != 0]), default=1)

    def _plain(self, v):
        if self.kind == "b":
            return str(bool(v))
        if self.kind in "iu":
            return str(int(v))
        v = float(v)
        if math.isnan(v) or math.isinf(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        if self.sci_mode:
            return f"{v:.{PRECISION}e}"
        if self.int_mode:
            return f"{v:.0f}."
        return f"{v:.{PRECISION}f}"

    def __call__(self, v):
        s = self._plain(v)
        return " " * (self.width - len(s)) + s


class _ComplexFormatter:
    """PyTorch's complex layout: the real parts share one format, the imaginary parts another,
    printed as `1.0000+2.j` (the imaginary part always carries its sign)."""

    def __init__(self, values):
        self.real, self.imag = _Formatter(values.real), _Formatter(values.imag)
        self.width = self.real.width + self.imag.width + 1

    def __call__(self, v):
        imag = (self.imag(v.imag) + "j").lstrip()
        return self.real(v.real) + (imag if imag[0] in "+-" else "+" + imag)


def _vector(arr, indent, summarize, fmt):
    per_line = max(1, int(math.floor((LINEWIDTH - indent) / (fmt.width + 2))))
    if summarize and arr.shape[0] > 2 * EDGEITEMS:
        items = [fmt(v) for v in arr[:EDGEITEMS]] + [" ..."] + [fmt(v) for v in arr[-EDGEITEMS:]]
    else:
        items = [fmt(v) for v in arr]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(arr, indent, summarize, fmt):
    if arr.ndim == 0:
        return fmt(arr.item()).strip()
    if arr.ndim == 1:
        return _vector(arr, indent, summarize, fmt)
    if summarize and arr.shape[0] > 2 * EDGEITEMS:
        rows = ([_nested(arr[i], indent + 1, summarize, fmt) for i in range(EDGEITEMS)] + ["..."]
                + [_nested(arr[i], indent + 1, summarize, fmt) for i in range(arr.shape[0] - EDGEITEMS, arr.shape[0])])
    else:
        rows = [_nested(arr[i], indent + 1, summarize, fmt) for i in range(arr.shape[0])]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def tensor_repr(t, prefix="tensor("):
    arr = t._data
    if type(arr) is not np.ndarray:
        arr = arr.get()
    if arr.dtype.kind == "V" or str(arr.dtype) == "bfloat16":
        arr = arr.astype(np.float32)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    dtype = t.dtype
    default = dtype in (_dtype.get_default_dtype(), _dtype.default_complex_dtype(), _dtype.int64, _dtype.bool_)
    if arr.size == 0:
        default = dtype is _dtype.get_default_dtype()  # no elements to tell int64 or complex: PyTorch names it
        body = "[]"
        if arr.shape != (0,):
            suffixes.append(f"size={tuple(arr.shape)}")
    else:
        summarize = arr.size > THRESHOLD
        values = _summarized(arr) if summarize else arr.reshape(-1)
        fmt = _ComplexFormatter(values) if arr.dtype.kind == "c" else _Formatter(values)
        body = _nested(arr, len(prefix), summarize, fmt)
    if not default:
        suffixes.append(f"dtype={dtype}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    out = [prefix + body]
    last_line_len = len(out[0]) - out[0].rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > LINEWIDTH:
            out.append(",\n" + " " * len(prefix) + suffix)
            last_line_len = len(prefix) + len(suffix)
        else:
            out.append(", " + suffix)
            last_line_len += len(suffix) + 2
    out.append(")")
    return "".join(out)
