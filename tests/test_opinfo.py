"""PyTorch's own OpInfo database as a conformance check: every entry's first few CPU sample inputs run
through torch and mytorch side by side; values (float32, or complex64 for complex-only entries) and input
gradients (float64 / complex128) must agree.

An entry passes when all of its judged samples pass. Entries that can't apply to mytorch (sparse layouts,
complex32/float8-only ops, private `torch._*` / aten entries, ...) are skipped with a reason. `opinfo_passing.txt`
is a ratchet: every entry listed there must keep passing. To add newly passing entries (the file only
grows) run with MYTORCH_OPINFO_UPDATE=1; MYTORCH_OPINFO_REPORT=path writes every entry's status;
MYTORCH_OPINFO_SAMPLES=n judges n samples per entry instead of 10.

Second derivatives (a backward recorded with create_graph=True, differentiated again) are judged the same way for
the entries whose values and gradients pass, with their own ratchet, `opinfo_gradgrad_passing.txt`.
"""
import math
import os
import pathlib
import signal
import types
import warnings

import numpy as np
import pytest
import torch

import mytorch

try:
    from torch.testing._internal.common_methods_invocations import op_db
except ImportError as e:  # the database needs the `expecttest` package
    pytest.skip(f"PyTorch's OpInfo database is unavailable: {e}", allow_module_level=True)

RATCHET = pathlib.Path(__file__).with_name("opinfo_passing.txt")
GRADGRAD_RATCHET = pathlib.Path(__file__).with_name("opinfo_gradgrad_passing.txt")
GRADGRAD_SAMPLES_PER_OP = int(os.environ.get("MYTORCH_OPINFO_GRADGRAD_SAMPLES", 3))
SAMPLES_PER_OP = int(os.environ.get("MYTORCH_OPINFO_SAMPLES", 10))  # per entry, the first n samples
SECONDS_PER_ENTRY = 5
# random ops: only the shape and dtype of the result can be compared
RANDOM = {"bernoulli", "normal", "uniform", "cauchy", "exponential", "geometric", "log_normal", "multinomial",
          "rand_like", "randn_like", "randint_like", "randint", "randn", "rand", "randperm",
          "nn.functional.dropout", "nn.functional.dropout2d", "nn.functional.dropout3d",
          "nn.functional.alpha_dropout", "nn.functional.feature_alpha_dropout", "nn.functional.rrelu",
          "nn.functional.gumbel_softmax", "empty", "empty_like", "new_empty", "new_empty_strided", "empty_strided",
          "empty_permuted", "torch.empty", "nn.functional.fractional_max_pool2d",
          "nn.functional.fractional_max_pool3d"}
# the dtype an entry's values are judged in: the first of these it supports
VALUE_DTYPES = (torch.float32, torch.float64, torch.int64, torch.int32, torch.bool, torch.complex64, torch.complex128)
# entries that can never apply: reason by name (or name prefix ending in '.')
NOT_APPLICABLE = {
    "sparse.": "sparse layouts", "to_sparse": "sparse layouts", "torch.ops.aten.": "private aten op",
    "pin_memory": "pinned host memory (CUDA)",
    "jiterator_": "CUDA jiterator",
    # a helper around torch.ops.aten.max_pool2d_with_indices_backward: a private backward kernel with no public
    # torch name (mytorch's max_pool2d gradient is judged through nn.functional.max_pool2d)
    "max_pool2d_with_indices_backward": "private aten backward kernel",
}


def _entry_key(op):
    return op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")


def _not_applicable(op):
    name = op.name
    if name.startswith("_") and not name.startswith("__"):
        return "private torch._* entry"
    for key, why in NOT_APPLICABLE.items():
        if name == key or (key.endswith(".") or key.endswith("_")) and name.startswith(key):
            return why
    if type(op.op).__name__ in ("OpOverloadPacket", "OpOverload"):
        return "private aten op"
    dtypes = op.supported_dtypes("cpu")
    if not any(d in dtypes for d in VALUE_DTYPES):
        return "no supported dtype (complex32/float8 only)"
    return None


def _rebind(fn):
    """A copy of an OpInfo lambda (`lambda x, y: torch.where(y, x, ...)`) that sees mytorch as `torch`."""
    g = dict(fn.__globals__, torch=mytorch)
    if "F" in g:
        g["F"] = mytorch.nn.functional
    new = types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    return new


def _resolve(op):
    """The mytorch callable for an OpInfo entry, or None when mytorch has no such function or method."""
    if op.name.startswith("__"):  # Python operators, reflected ones included: call the Tensor's method
        method = "__rtruediv__" if op.name == "__rdiv__" else op.name
        return lambda x, *args, **kwargs: getattr(x, method)(*args, **kwargs)
    func_variant = getattr(op, "op", None)
    if isinstance(func_variant, types.FunctionType) and func_variant.__module__.startswith("torch.testing"):
        return _rebind(func_variant)  # the entry's own call pattern, e.g. a method call or reordered args
    obj = mytorch
    for part in op.name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            break
    if obj is not None and not isinstance(obj, mytorch.dtype):  # mytorch.cfloat is a dtype; the entry is the method
        return obj
    if "." not in op.name and hasattr(mytorch.Tensor, op.name):
        return lambda x, *args, **kwargs: getattr(x, op.name)(*args, **kwargs)
    return None


# ---------------------------------------------------------------------------------------------------------
# torch <-> mytorch conversion
# ---------------------------------------------------------------------------------------------------------
class Unsupported(Exception):
    """The sample uses something outside mytorch's scope (sparse tensors, complex32, ...)."""


def _mt_dtype(d):
    name = str(d).split(".")[-1]
    if not hasattr(mytorch, name) or not isinstance(getattr(mytorch, name), mytorch.dtype):
        raise Unsupported(f"dtype {d}")
    return getattr(mytorch, name)


def to_mytorch(x, leaves):
    if isinstance(x, torch.Tensor):
        if x.layout != torch.strided or x.is_quantized:
            raise Unsupported(f"tensor layout {x.layout} / dtype {x.dtype}")
        if x.dtype in (torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2, torch.complex32):
            raise Unsupported(f"dtype {x.dtype}")
        t = mytorch.tensor(x.detach().resolve_conj().resolve_neg().numpy().copy(), requires_grad=x.requires_grad)
        if x.requires_grad:
            leaves.append((x, t))
        return t
    if isinstance(x, torch.dtype):
        return _mt_dtype(x)
    if isinstance(x, torch.Size):
        return tuple(x)
    if isinstance(x, torch.device):
        return mytorch.device(str(x))
    if isinstance(x, torch.memory_format):
        name = str(x).split(".")[-1]
        if not hasattr(mytorch, name):
            raise Unsupported(f"memory format {x}")
        return getattr(mytorch, name)
    if isinstance(x, torch.layout):
        if x != torch.strided:
            raise Unsupported(f"layout {x}")
        return getattr(mytorch, "strided", x)
    if isinstance(x, torch.Generator):
        raise Unsupported("torch.Generator argument")
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(to_mytorch(v, leaves) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(to_mytorch(v, leaves) for v in x)
    if isinstance(x, dict):
        return {k: to_mytorch(v, leaves) for k, v in x.items()}
    if callable(x) and not isinstance(x, type):
        raise Unsupported("callable argument")
    return x


def _values(x):
    """Flatten a result into comparable leaves: ('t', array, dtype name) for tensors, plain values otherwise."""
    if isinstance(x, (torch.Tensor, mytorch.Tensor)):
        if isinstance(x, torch.Tensor) and x.dtype == torch.bfloat16:  # numpy has no bfloat16: compare as float32
            arr = x.detach().float().numpy()
        elif isinstance(x, mytorch.Tensor):
            arr = x.detach().cpu().numpy()
            arr = arr.astype(np.float32) if str(x.dtype).endswith("bfloat16") else arr
        else:
            arr = x.detach().cpu().resolve_conj().numpy(force=True)
        return [("t", arr, str(x.dtype).split(".")[-1])]
    if isinstance(x, (list, tuple)):
        return [("seq", len(x))] + [v for item in x for v in _values(item)]
    if isinstance(x, (torch.dtype, mytorch.dtype)):
        return [("dtype", str(x).split(".")[-1])]
    return [("v", x)]


def _compare(mine, ref, rtol, atol, shape_only=False):
    a, b = _values(mine), _values(ref)
    assert len(a) == len(b), f"result structure differs: {len(a)} vs torch {len(b)} leaves"
    for i, (m, r) in enumerate(zip(a, b)):
        assert m[0] == r[0], f"leaf {i}: {m[0]} vs torch {r[0]}"
        if r[0] == "t":
            (_, ma, md), (_, ra, rd) = m, r
            assert ma.shape == ra.shape, f"leaf {i}: shape {ma.shape} vs torch {ra.shape}"
            assert md == rd, f"leaf {i}: dtype {md} vs torch {rd}"
            if shape_only:
                continue
            if ra.dtype.kind in "biu":
                np.testing.assert_array_equal(ma, ra, err_msg=f"leaf {i}")
            else:
                wide = np.complex128 if ra.dtype.kind == "c" else np.float64
                np.testing.assert_allclose(ma.astype(wide), ra.astype(wide), rtol=rtol, atol=atol,
                                           equal_nan=True, err_msg=f"leaf {i}")
        elif r[0] == "v" and isinstance(r[1], float) and not shape_only:
            assert math.isclose(m[1], r[1], rel_tol=rtol, abs_tol=atol) or (math.isnan(m[1]) and math.isnan(r[1])), \
                f"leaf {i}: {m[1]} vs torch {r[1]}"
        elif not shape_only:
            assert m[1] == r[1], f"leaf {i}: {m[1]!r} vs torch {r[1]!r}"


def _weighted_sum(outputs, lib):
    """sum(out * w) over the float outputs, w a fixed non-constant pattern (a plain sum hides softmax-like bugs);
    a complex output counts as its (real, imag) pairs."""
    total = None
    for o in outputs:
        if not isinstance(o, (torch.Tensor, mytorch.Tensor)) or not o.requires_grad or not (
                o.is_floating_point() or o.is_complex()):
            continue
        if o.is_complex():
            o = lib.view_as_real(o.resolve_conj())
        w = lib.cos(lib.arange(o.numel(), dtype=o.dtype)).reshape(o.shape)
        term = (o * w).sum()
        total = term if total is None else total + term
    return total


def _flat_tensors(x):
    if isinstance(x, (list, tuple)):
        return [t for item in x for t in _flat_tensors(item)]
    return [x]


# ---------------------------------------------------------------------------------------------------------
# running one entry
# ---------------------------------------------------------------------------------------------------------
def _samples(op, dtype, requires_grad):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, s in enumerate(op.sample_inputs("cpu", dtype, requires_grad=requires_grad)):
            if i >= SAMPLES_PER_OP:
                return
            yield s


def _mytorch_version(fn):
    """An OpInfo helper lambda (output post-processing) that may call torch.* functions, seeing mytorch."""
    if isinstance(fn, types.FunctionType) and fn.__module__.startswith("torch.testing"):
        return _rebind(fn)
    return fn


def _call(op, fn, s, args):
    """op's sample call through its gradcheck wrapper (e.g. making the input Hermitian for eigh), then the
    sample's output post-processing (e.g. dropping the sign ambiguity of eigenvectors)."""
    inp, a, kw = args
    wrapper = op.gradcheck_wrapper if fn is op.op else _mytorch_version(op.gradcheck_wrapper)
    out = wrapper(fn, inp, *a, **kw)
    post = s.output_process_fn_grad
    return (post if fn is op.op else _mytorch_version(post))(out)


def _uses_dropout(op, s):
    """A sample of a deterministic op run with dropout (sdpa's dropout_p, multi_head_attention_forward in
    training): its mask comes from the library's own generator, so only shapes and dtypes can agree."""
    if s.kwargs.get("dropout_p", 0) > 0:
        return True
    if op.name == "nn.functional.multi_head_attention_forward":  # dropout_p is its 11th positional argument
        return s.kwargs.get("training", True) and len(s.args) > 9 and s.args[9] > 0
    return False


def _check_values(op, fn, dtype):
    judged = 0
    for s in _samples(op, dtype, requires_grad=False):
        try:
            m_args = to_mytorch([s.input, s.args, s.kwargs], [])
        except Unsupported:
            continue
        try:
            ref = _call(op, op.op, s, (s.input, s.args, s.kwargs))
        except Exception:  # torch itself rejects this sample (error-input style): nothing to compare
            continue
        mine = _call(op, fn, s, m_args)
        _compare(mine, ref, rtol=1e-4, atol=1e-5, shape_only=op.name in RANDOM or _uses_dropout(op, s))
        judged += 1
    return judged


def _grad_samples(op, dtype, limit=None):
    """(sample, [(torch leaf, mytorch leaf)], mytorch arguments) for the samples whose gradients can be judged."""
    for i, s in enumerate(_samples(op, dtype, requires_grad=True)):
        if limit is not None and i >= limit:
            return
        if _uses_dropout(op, s):
            continue
        leaves = []
        try:
            m_args = to_mytorch([s.input, s.args, s.kwargs], leaves)
        except Unsupported:
            continue
        if leaves:
            yield s, leaves, m_args


def _check_grads(op, fn, dtype):
    judged = 0
    for s, leaves, m_args in _grad_samples(op, dtype):
        try:
            ref_out = _call(op, op.op, s, (s.input, s.args, s.kwargs))
            ref_loss = _weighted_sum(_flat_tensors(ref_out), torch)
            if ref_loss is None:
                continue
            ref_grads = torch.autograd.grad(ref_loss, [t for t, _ in leaves], allow_unused=True)
        except Exception:
            continue
        mine_loss = _weighted_sum(_flat_tensors(_call(op, fn, s, m_args)), mytorch)
        if mine_loss is None:  # fine only where torch's gradients are all zero (piecewise-constant ops)
            assert all(g is None or not g.any() for g in ref_grads), "mytorch output does not require grad"
            judged += 1
            continue
        mine_loss.backward()
        for i, ((_, m_leaf), rg) in enumerate(zip(leaves, ref_grads)):
            if rg is None:
                continue
            if m_leaf.grad is None and not rg.any():
                continue  # a zero gradient that mytorch leaves undefined
            assert m_leaf.grad is not None, f"input {i}: no gradient (torch has one)"
            _compare(m_leaf.grad, rg, rtol=1e-5, atol=1e-6)
        judged += 1
    return judged


def _check_gradgrads(op, fn, dtype):
    """Second derivatives: the weighted sum of the input gradients (taken with create_graph=True) differentiated
    again, against torch's, wherever torch has a double backward for the sample."""
    judged = 0
    for s, leaves, m_args in _grad_samples(op, dtype, GRADGRAD_SAMPLES_PER_OP):
        ref_leaves = [t for t, _ in leaves]
        try:
            ref_loss = _weighted_sum(_flat_tensors(_call(op, op.op, s, (s.input, s.args, s.kwargs))), torch)
            if ref_loss is None:
                continue
            ref_grads = torch.autograd.grad(ref_loss, ref_leaves, create_graph=True, allow_unused=True)
            live = [k for k, g in enumerate(ref_grads) if g is not None and g.requires_grad]
            ref_loss2 = _weighted_sum([ref_grads[k] for k in live], torch)
            if ref_loss2 is None:
                continue
            ref_gg = torch.autograd.grad(ref_loss2, ref_leaves, allow_unused=True)
        except Exception:  # torch has no double backward here (or rejects the sample)
            continue
        m_leaves = [t for _, t in leaves]
        mine_loss = _weighted_sum(_flat_tensors(_call(op, fn, s, m_args)), mytorch)
        assert mine_loss is not None, "mytorch output does not require grad"
        grads = mytorch.autograd.grad(mine_loss, m_leaves, create_graph=True, allow_unused=True)
        for k in live:
            assert grads[k] is not None and grads[k].requires_grad, f"input {k}: its gradient is not in the graph"
        mine_gg = mytorch.autograd.grad(_weighted_sum([grads[k] for k in live], mytorch), m_leaves,
                                        allow_unused=True)
        for k, (mg, rg) in enumerate(zip(mine_gg, ref_gg)):
            if rg is None or (mg is None and not rg.any()):
                continue
            assert mg is not None, f"input {k}: no second derivative (torch has one)"
            _compare(mg, rg, rtol=1e-5, atol=1e-6)
        judged += 1
    return judged


def run_gradgrad_entry(op):
    """('skip', reason) | ('pass', '') | ('fail', message) for the second derivatives of one entry."""
    if _not_applicable(op) or not op.supports_autograd or not op.supports_gradgrad or op.name in RANDOM:
        return "skip", "no second derivative to compare"
    fn = _resolve(op)
    dtypes = op.supported_dtypes("cpu")
    grad_dtype = next((d for d in (torch.float64, torch.complex128) if d in dtypes), None)
    if fn is None or grad_dtype is None:
        return "skip", "no float64 variant"
    return _timed(lambda: _check_gradgrads(op, fn, grad_dtype), "no sample with a second derivative in torch")


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout(f"took over {SECONDS_PER_ENTRY}s")


def run_entry(op):
    """('skip', reason) | ('pass', '') | ('fail', message)."""
    why = _not_applicable(op)
    if why:
        return "skip", why
    fn = _resolve(op)
    if fn is None:
        return "fail", "missing in mytorch"
    dtypes = op.supported_dtypes("cpu")
    value_dtype = next(d for d in VALUE_DTYPES if d in dtypes)

    def check():
        judged = _check_values(op, fn, value_dtype)
        if op.supports_autograd and op.name not in RANDOM and (value_dtype.is_floating_point or value_dtype.is_complex):
            grad_dtype = next((d for d in (torch.float64, torch.complex128) if d in dtypes), value_dtype)
            judged += _check_grads(op, fn, grad_dtype)
        return judged
    return _timed(check, "no sample applies (sparse/complex32 inputs or torch rejects them)")


def _timed(check, nothing_judged):
    """Run check() (the number of samples judged) under the per-entry time limit: ('pass' | 'fail' | 'skip', why)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS_PER_ENTRY)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            judged = check()
    except Exception as e:  # noqa: BLE001  (any failure of mytorch on the sample is the entry failing)
        msg = f"{type(e).__name__}: {e}".splitlines()
        return "fail", (msg[0] if msg else type(e).__name__)[:200]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if judged == 0:
        return "skip", nothing_judged
    return "pass", ""


@pytest.fixture(scope="module")
def quiet_op_db():
    from torch.testing._internal import common_utils

    threads, find_test = torch.get_num_threads(), common_utils.extract_test_fn
    torch.set_num_threads(1)  # tiny samples: worker threads only spin on a shared machine
    # OpInfo's sample iterators look for the running unittest method with inspect.stack() on every sample
    # (debugging aid only): under pytest's deep stack that costs more than running the samples
    common_utils.extract_test_fn = lambda: None
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        common_utils.extract_test_fn = find_test


@pytest.fixture(scope="module")
def results(quiet_op_db):
    return _run_all(run_entry)


def _run_all(run, only=None):
    torch.manual_seed(0)
    mytorch.manual_seed(0)
    out = {}
    for op in op_db:
        key = _entry_key(op)
        if only is None or key in only:
            out.setdefault(key, run(op))
    return out


def _read_ratchet(path=RATCHET):
    if not path.exists():
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}


def _judge(results, path, what, capsys):
    passing = {k for k, (status, _) in results.items() if status == "pass"}
    judged = {k for k, (status, _) in results.items() if status != "skip"}
    skipped = len(results) - len(judged)
    with capsys.disabled():
        print(f"\nOpInfo {what}: {len(passing)} / {len(judged)} judgeable entries pass "
              f"({100 * len(passing) / max(len(judged), 1):.0f}%); {skipped} of {len(results)} not applicable")
    if os.environ.get("MYTORCH_OPINFO_REPORT"):
        lines = [f"{k}\t{s}\t{m}" for k, (s, m) in sorted(results.items())]
        report = pathlib.Path(os.environ["MYTORCH_OPINFO_REPORT"])
        report.with_name(report.name + ("" if path == RATCHET else ".gradgrad")).write_text("\n".join(lines) + "\n")
    ratchet = _read_ratchet(path)
    if os.environ.get("MYTORCH_OPINFO_UPDATE"):
        path.write_text(f"# OpInfo entries whose {what} must keep passing (tests/test_opinfo.py); this list only "
                        "grows\n" + "\n".join(sorted(ratchet | passing)) + "\n")
        ratchet |= passing
    regressed = {k: results[k][1] for k in sorted(ratchet) if k in results and results[k][0] != "pass"}
    assert not regressed, f"OpInfo entries that used to pass now fail: {regressed}"
    unknown = sorted(ratchet - set(results))
    assert not unknown, f"ratchet names entries this torch's op_db lacks: {unknown}"


def test_opinfo_ratchet(results, capsys):
    _judge(results, RATCHET, "values and gradients", capsys)


def test_opinfo_second_derivatives(quiet_op_db, capsys):
    """Second derivatives (create_graph=True) of the entries whose values and gradients pass."""
    _judge(_run_all(run_gradgrad_entry, only=_read_ratchet()), GRADGRAD_RATCHET, "second derivatives", capsys)


def test_harness_catches_a_wrong_op(monkeypatch):
    """The comparison itself can fail: a mytorch `exp` that returns sin must not pass."""
    op = next(o for o in op_db if o.name == "exp")
    assert run_entry(op)[0] == "pass"
    monkeypatch.setattr(mytorch, "exp", mytorch.sin)
    status, msg = run_entry(op)
    assert status == "fail", msg


def test_second_derivative_harness_catches_a_wrong_formula(monkeypatch):
    """A wrong double backward must not pass: sin's derivative evaluated as +sin instead of cos."""
    from mytorch.ops import elementwise

    op = next(o for o in op_db if o.name == "sin")
    assert run_gradgrad_entry(op)[0] == "pass"
    monkeypatch.setattr(elementwise.Sin, "deriv", staticmethod(lambda xp, x, y: xp.cos(x) if xp is np else xp.sin(x)))
    status, msg = run_gradgrad_entry(op)
    assert status == "fail", msg
