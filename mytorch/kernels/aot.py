"""Ahead-of-time compilation of the kernels for a GPU target, on a machine without a GPU.

`capture()` runs the real launchers with small numpy inputs but records each kernel launch instead of
running it (for an autotuned kernel: one launch per config), so what gets compiled is exactly what the
launchers would pass on a GPU: constexprs, num_warps/num_stages and Triton's argument specialisations.
`compile_launch` binds those arguments the way Triton's JIT does for a target (sm_80, sm_90), compiles
with `triton.compile(ASTSource(...), target=GPUTarget(...))` and runs the bundled `ptxas -v` on the PTX
to read registers, spills and shared memory. bf16 is compiled from the fp16 capture with the pointer
types swapped (numpy has no bfloat16).

Must run without TRITON_INTERPRET (the kernels must be `triton.jit` functions, not interpreted):
`python -m mytorch.kernels.aot --help`; benchmarks/compile_kernels.py writes the results table.
"""
import contextlib
import dataclasses
import os
import re
import subprocess
import tempfile

ARCHS = {"sm80": 80, "sm90": 90}
DTYPES = ("fp16", "bf16", "fp32")


@dataclasses.dataclass
class Launch:
    case: str                 # which launcher call produced it (see cases.py)
    fn: object                # the JITFunction
    args: tuple
    kwargs: dict

    @property
    def name(self):
        return self.fn.__name__.lstrip("_")

    def config(self):
        """The constexprs and launch options that select a compiled variant, as a short string."""
        params = [p for p in self.fn.params]
        named = dict(zip([p.name for p in params], self.args))
        named.update(self.kwargs)
        parts = [f"{p.name}={named[p.name]}" for p in params if p.is_constexpr and p.name in named]
        parts += [f"{k}={self.kwargs[k]}" for k in ("num_warps", "num_stages") if k in self.kwargs]
        return " ".join(parts)


@contextlib.contextmanager
def capture():
    """Record kernel launches instead of running them; yields the list they are appended to."""
    from triton.runtime.autotuner import Autotuner
    from triton.runtime.jit import JITFunction

    launches, case = [], {"name": ""}

    def jit_run(self, *args, grid, warmup, **kwargs):
        launches.append(Launch(case["name"], self, args, kwargs))

    def tuned_run(self, *args, **kwargs):
        kwargs = {k: v for k, v in kwargs.items() if k not in ("grid", "warmup")}
        for config in self.configs:  # the autotuner may pick any of them
            launches.append(Launch(case["name"], self.fn, args, dict(kwargs, **config.all_kwargs())))

    old = JITFunction.run, Autotuner.run
    JITFunction.run, Autotuner.run = jit_run, tuned_run
    try:
        yield launches, case
    finally:
        JITFunction.run, Autotuner.run = old


def _bind(launch, target):
    """(signature, constexprs, attrs, options) as Triton's JIT would build them for `target`."""
    from triton.compiler import make_backend
    from triton.runtime.jit import create_function_from_signature

    fn = launch.fn
    backend = make_backend(target)
    binder = create_function_from_signature(fn.signature, fn.params, backend)
    kwargs = dict(launch.kwargs, debug=False)
    bound, specialization, options = binder(*launch.args, **kwargs)
    options, signature, constexprs, attrs = fn._pack_args(backend, kwargs, bound, specialization, options)
    return signature, constexprs, attrs, options


PTXAS_RE = {
    "registers": r"Used (\d+) registers",
    "spill_stores": r"(\d+) bytes spill stores",
    "spill_loads": r"(\d+) bytes spill loads",
    "stack": r"(\d+) bytes stack frame",
}


def ptxas_usage(ptx, arch):
    """Registers, spill bytes and stack of a PTX module, from the ptxas bundled with Triton."""
    from triton.backends.nvidia.compiler import get_ptxas, sm_arch_from_capability

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "k.ptx")
        with open(src, "w") as f:
            f.write(ptx)
        log = subprocess.run([get_ptxas(arch).path, "-v", f"--gpu-name={sm_arch_from_capability(arch)}", src,
                              "-o", os.path.join(tmp, "k.cubin")], capture_output=True, text=True, check=True).stderr
    out = {}
    for key, pattern in PTXAS_RE.items():
        found = re.findall(pattern, log)
        out[key] = max(int(v) for v in found) if found else 0
    return out


def compile_launch(launch, arch, dtype):
    """Compile one captured launch for `arch` (80 or 90) with pointer dtype `dtype` (fp16/bf16/fp32).

    Returns a dict: kernel, case, config, arch, dtype, ok, error, registers, spill_stores, spill_loads,
    stack, smem (bytes of shared memory the kernel needs)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    row = dict(kernel=launch.name, case=launch.case, config=launch.config(), arch=f"sm{arch}", dtype=dtype)
    try:
        target = GPUTarget("cuda", arch, 32)
        signature, constexprs, attrs, options = _bind(launch, target)
        if dtype == "bf16":
            signature = {k: v.replace("fp16", "bf16") for k, v in signature.items()}
        kernel = triton.compile(ASTSource(launch.fn, signature, constexprs, attrs), target=target,
                                options=options.__dict__)
        row.update(ok=True, error="", smem=kernel.metadata.shared, **ptxas_usage(kernel.asm["ptx"], arch))
    except Exception as e:  # a compile failure is a result to report, not a crash of the sweep
        row.update(ok=False, error=f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300],
                   smem=0, registers=0, spill_stores=0, spill_loads=0, stack=0)
    return row


def captured(default_only=True):
    """Every (launch, dtype) pair of the cases: fp16 captures also stand for bf16."""
    from . import aot_cases as cases

    pairs = []
    for np_dtype, names in (("float16", ("fp16", "bf16")), ("float32", ("fp32",))):
        for launch in cases.capture_all(np_dtype, default_only):
            for name in names:
                pairs.append((launch, name))
    return pairs


def compile_key(launch, arch, dtype):
    """A hash of everything that decides the compiled binary: Triton's version, the kernel's source and the
    jit functions it calls (fn.cache_key), the bound signature/constexprs/attrs, the options, arch, dtype."""
    import hashlib

    import triton
    from triton.backends.compiler import GPUTarget

    try:
        signature, constexprs, attrs, options = _bind(launch, GPUTarget("cuda", arch, 32))
        bound = (sorted(signature.items()), sorted(map(repr, constexprs.items())), sorted(map(repr, attrs.items())),
                 sorted((k, repr(v)) for k, v in options.__dict__.items()))
    except Exception as e:
        bound = repr(e)
    text = repr((triton.__version__, launch.fn.cache_key, bound, arch, dtype))
    # options hold absolute paths into Triton's install (libdevice): the same binary in another venv
    text = text.replace(os.path.dirname(triton.__file__), "<triton>")
    return hashlib.sha256(text.encode()).hexdigest()[:24]


_TODO = []  # the work list, inherited by forked workers (launches hold functions and tensors: no pickling)


def _job(index):
    launch, dtype, arch, key = _TODO[index]
    return dict(compile_launch(launch, arch, dtype), key=key)


def default_cases():
    from . import aot_cases

    return {fn.__name__ for fn in aot_cases.DEFAULT}


def run(default_only=True, archs=("sm80", "sm90"), jobs=1, cache=(), only=None, dtypes=DTYPES):
    """Compile every captured launch for every arch; returns the rows (dicts) in a stable order.

    cache: earlier rows; a row whose key matches is reused (marked cached=True) instead of recompiled.
    only: kernel names (e.g. {"softmax_fwd_kernel"}) to restrict to; dtypes: a subset of DTYPES."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        raise RuntimeError("mytorch.kernels.aot must run without TRITON_INTERPRET=1 (the kernels would be "
                           "interpreted, not compiled)")
    known = {row["key"]: row for row in cache}
    defaults = default_cases()
    todo, rows, seen = [], [], set()
    for launch, dtype in captured(default_only):
        if (only and launch.fn.__name__.lstrip("_") not in only) or dtype not in dtypes:
            continue
        for arch in archs:
            key = compile_key(launch, ARCHS[arch], dtype)
            if key in seen:  # two cases that launch the same variant compile once
                continue
            seen.add(key)
            if key in known:
                rows.append(dict(known[key], case=launch.case, default=launch.case in defaults, cached=True))
            else:
                todo.append((launch, dtype, ARCHS[arch], key))
    _TODO[:] = todo
    if jobs > 1 and len(todo) > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            fresh = pool.map(_job, range(len(todo)), chunksize=1)
    else:
        fresh = [_job(i) for i in range(len(todo))]
    rows += [dict(row, default=item[0].case in defaults, cached=False) for row, item in zip(fresh, todo)]
    rows.sort(key=lambda r: (r["kernel"], r["dtype"], r["arch"], r["config"], r["key"]))
    return rows


def main(argv=None):
    import argparse
    import json
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="every config the launchers can choose (slow)")
    parser.add_argument("--arch", action="append", choices=sorted(ARCHS), help="default: sm80 and sm90")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache", help="a JSON file of earlier rows (this script's output) to reuse by key")
    parser.add_argument("--only", help="comma-separated kernel names, e.g. softmax_fwd_kernel")
    parser.add_argument("--dtype", action="append", choices=DTYPES, help="default: all")
    parser.add_argument("--json", required=True, help="write the rows here")
    args = parser.parse_args(argv)
    cache = []
    if args.cache and os.path.exists(args.cache):
        with open(args.cache) as f:
            cache = json.load(f)["rows"]
    start = time.time()
    rows = run(default_only=not args.all, archs=tuple(args.arch or ARCHS), jobs=args.jobs, cache=cache,
               only=set(args.only.split(",")) if args.only else None, dtypes=tuple(args.dtype or DTYPES))
    with open(args.json, "w") as f:
        json.dump({"seconds": round(time.time() - start, 1), "rows": rows}, f, indent=0)


if __name__ == "__main__":
    main()
