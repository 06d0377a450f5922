"""Fused mytorch vs unfused mytorch vs PyTorch, through the public API, forward and forward + backward.

Each op is written once as `fn(lib, T)` with `lib` = mytorch or torch and `T` a dict of tensors, then run as
  fused    mytorch with mytorch.backends.fused on (Triton kernels; a kernel launch is asserted),
  unfused  mytorch with the switch off (numpy on CPU, cupy on CUDA),
  torch    PyTorch eager (and torch.compile with --compile).
Memory-bound ops report GB/s (bytes read + written once), matmul/attention/conv TFLOP/s. The same run checks
correctness: fused vs unfused vs torch (outputs and input grads), and on a GPU vs the CPU numpy path.
Any error above tolerance -> exit code 1. Results: <out>/kernels.md and kernels_<op>.png, by default in
benchmarks/results/ on a GPU; smoke runs write kernels_smoke.md to benchmarks/results/smoke/ (not tracked by
git), so a smoke run leaves the checkout clean.

    python benchmarks/bench_kernels.py                 # GPU: a size sweep (cupy, device="cuda")
    python benchmarks/bench_kernels.py --smoke         # tiny sizes on the CPU Triton interpreter
    python benchmarks/bench_kernels.py --ops softmax,sdpa_causal --compile --dtype float16
"""
import argparse
import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass


def _gpu_present():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


# triton.jit picks interpreter or compiler when a kernel module is imported: decide before any import of it.
SMOKE = "--smoke" in sys.argv or not _gpu_present()
if SMOKE:
    os.environ["TRITON_INTERPRET"] = "1"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import mytorch  # noqa: E402
from mytorch import kernels  # noqa: E402

# Peak DRAM bandwidth (bytes/s) by device-name substring; first match wins (PCIe before SXM).
PEAK_BANDWIDTH = [("H100 PCIe", 2.0e12), ("H100 NVL", 3.9e12), ("H100", 3.35e12), ("H200", 4.8e12),
                  ("A100-SXM4-80GB", 2.04e12), ("A100", 1.55e12)]


@dataclass
class Case:
    op: str
    label: str
    inputs: dict                  # name -> numpy array
    grad: tuple                   # inputs that require grad
    fn: object                    # fn(lib, T) -> output tensor
    unit: str                     # "GB/s" or "TFLOP/s"
    work: tuple                   # (forward, forward + backward) in bytes or flops
    kernel: tuple                 # launch_counts name prefixes the fused run must hit
    tol: float = 1e-4             # on max|a - b| / max|b|
    step: bool = False            # an optimizer step: no backward, one timed pass
    self_check: object = None     # check(inputs, out, grads, dy) -> error, for random ops (dropout)


def F(lib):
    return lib.nn.functional


def rand(rng, dtype, *shape):
    return rng.standard_normal(shape).astype(dtype)


# ---- the ops, each a function of the library -------------------------------------------------------------

def softmax_case(rng, dt, rows, cols, log=False):
    x = rand(rng, dt, rows, cols)
    fn = (lambda lib, T: F(lib).log_softmax(T["x"], dim=-1)) if log else (lambda lib, T: F(lib).softmax(T["x"], -1))
    return Case("log_softmax" if log else "softmax", f"{rows}x{cols}", {"x": x}, ("x",), fn, "GB/s",
                (2 * x.nbytes, 5 * x.nbytes), ("softmax",))


def norm_case(rng, dt, rows, cols, rms=False):
    x, w, b = rand(rng, dt, rows, cols), 1 + 0.1 * rand(rng, dt, cols), rand(rng, dt, cols)
    if rms:
        inputs, fn = {"x": x, "w": w}, lambda lib, T: F(lib).rms_norm(T["x"], (cols,), T["w"], eps=1e-6)
    else:
        inputs, fn = {"x": x, "w": w, "b": b}, lambda lib, T: F(lib).layer_norm(T["x"], (cols,), T["w"], T["b"])
    name = "rms_norm" if rms else "layer_norm"
    return Case(name, f"{rows}x{cols}", inputs, tuple(inputs), fn, "GB/s", (2 * x.nbytes, 5 * x.nbytes), (name,))


def cross_entropy_case(rng, dt, rows, vocab):
    x, target = rand(rng, dt, rows, vocab), rng.integers(0, vocab, rows)
    return Case("cross_entropy", f"{rows}x{vocab}", {"x": x, "target": target}, ("x",),
                lambda lib, T: F(lib).cross_entropy(T["x"], T["target"]), "GB/s", (x.nbytes, 3 * x.nbytes),
                ("cross_entropy",))


def attention_case(rng, dt, B, H, Hkv, L, D):
    q, k, v = rand(rng, dt, B, H, L, D), rand(rng, dt, B, Hkv, L, D), rand(rng, dt, B, Hkv, L, D)
    gqa = Hkv != H
    flops = 4 * B * H * L * L * D * 0.5  # two matmuls, causal half; backward does 2.5x the forward
    return Case("sdpa_gqa" if gqa else "sdpa_causal", f"B{B} H{H}/{Hkv} L{L} D{D}", {"q": q, "k": k, "v": v},
                ("q", "k", "v"),
                lambda lib, T: F(lib).scaled_dot_product_attention(T["q"], T["k"], T["v"], is_causal=True,
                                                                   enable_gqa=gqa),
                "TFLOP/s", (flops, 3.5 * flops), ("flash_attention",), tol=2e-3)


def linear_gelu_case(rng, dt, M, K, N):
    x, w, b = rand(rng, dt, M, K), rand(rng, dt, N, K) / math.sqrt(K), rand(rng, dt, N)
    return Case("linear_gelu", f"{M}x{K}x{N}", {"x": x, "w": w, "b": b}, ("x", "w", "b"),
                lambda lib, T: F(lib).gelu(F(lib).linear(T["x"], T["w"], T["b"]), approximate="tanh"),
                "TFLOP/s", (2 * M * K * N, 6 * M * K * N), ("linear", "activation"), tol=2e-3)


def activation_case(rng, dt, n, name):
    x = rand(rng, dt, n)
    return Case(name, f"{n}", {"x": x}, ("x",), lambda lib, T: getattr(F(lib), name)(T["x"]), "GB/s",
                (2 * x.nbytes, 5 * x.nbytes), ("activation",))


def dropout_check(inputs, out, grads, dy, p=0.5):
    """Masks differ between implementations: check y = x*m/(1-p), dx = dy*m/(1-p), keep rate ~ 1-p."""
    x, keep = inputs["x"].astype(np.float64), out != 0
    err = max(np.abs(out - x * keep / (1 - p)).max(), np.abs(grads["x"] - dy * keep / (1 - p)).max())
    sigma = math.sqrt(p * (1 - p) / keep.size)
    return float(err) if abs(keep.mean() - (1 - p)) < 6 * sigma + 1e-3 else float("inf")


def dropout_case(rng, dt, n):
    x = rand(rng, dt, n)
    return Case("dropout", f"{n}", {"x": x}, ("x",), lambda lib, T: F(lib).dropout(T["x"], 0.5, training=True),
                "GB/s", (2 * x.nbytes, 4 * x.nbytes), ("dropout",), self_check=dropout_check)


def embedding_case(rng, dt, N, V, D):
    idx, w = rng.integers(0, V, N), rand(rng, dt, V, D)
    rows = N * D * w.itemsize
    return Case("embedding", f"N{N} V{V} D{D}", {"idx": idx, "w": w}, ("w",),
                lambda lib, T: F(lib).embedding(T["idx"], T["w"]), "GB/s", (2 * rows, 4 * rows + w.nbytes),
                ("embedding",))


def conv2d_case(rng, dt, N, C, HW, O):
    x, w, b = rand(rng, dt, N, C, HW, HW), rand(rng, dt, O, C, 3, 3) / math.sqrt(9 * C), rand(rng, dt, O)
    flops = 2 * N * O * HW * HW * C * 9
    return Case("conv2d", f"N{N} C{C} {HW}x{HW} O{O}", {"x": x, "w": w, "b": b}, ("x", "w", "b"),
                lambda lib, T: F(lib).conv2d(T["x"], T["w"], T["b"], padding=1), "TFLOP/s", (flops, 3 * flops),
                ("conv2d",), tol=2e-3)


def adamw_fn(lib, T):
    if "_opt" not in T:  # built on the first call, then reused: the timed work is opt.step()
        T["p"].grad = T["g"]
        extra = {"fused": True} if T["_fused"] else {}
        T["_opt"] = lib.optim.AdamW([T["p"]], lr=1e-2, weight_decay=0.1, **extra)
    T["_opt"].step()
    return T["p"]


def adamw_case(rng, dt, n):
    p, g = rand(rng, np.float32, n), rand(rng, np.float32, n)  # the fused AdamW keeps float32 parameters
    return Case("adamw", f"{n}", {"p": p, "g": g}, ("p",), adamw_fn, "GB/s", (7 * p.nbytes, 7 * p.nbytes),
                ("adamw",), step=True)


# op -> (make, smoke sizes, GPU sweep)
OPS = {
    "softmax": (softmax_case, [(4, 50), (3, 300)], [(4096, 1024), (4096, 8192), (1024, 32768)]),
    "log_softmax": (lambda r, d, *s: softmax_case(r, d, *s, log=True), [(4, 50)], [(4096, 1024), (4096, 8192)]),
    "layer_norm": (norm_case, [(4, 50)], [(4096, 1024), (8192, 4096), (4096, 8192)]),
    "rms_norm": (lambda r, d, *s: norm_case(r, d, *s, rms=True), [(4, 50)], [(4096, 1024), (8192, 4096)]),
    "cross_entropy": (cross_entropy_case, [(4, 300)], [(4096, 32000), (8192, 50304), (2048, 128256)]),
    "sdpa_causal": (lambda r, d, B, H, L, D: attention_case(r, d, B, H, H, L, D), [(1, 2, 20, 16)],
                    [(8, 16, 1024, 64), (4, 16, 2048, 64), (2, 16, 4096, 128)]),
    "sdpa_gqa": (attention_case, [(1, 4, 2, 20, 16)], [(8, 32, 8, 1024, 128), (4, 32, 8, 2048, 128)]),
    "linear_gelu": (linear_gelu_case, [(20, 16, 24)], [(4096, 1024, 4096), (8192, 4096, 4096)]),
    "gelu": (lambda r, d, n: activation_case(r, d, n, "gelu"), [(1000,)], [(1 << 20,), (1 << 24,), (1 << 26,)]),
    "silu": (lambda r, d, n: activation_case(r, d, n, "silu"), [(1000,)], [(1 << 20,), (1 << 24,), (1 << 26,)]),
    "dropout": (dropout_case, [(4000,)], [(1 << 20,), (1 << 24,), (1 << 26,)]),
    "embedding": (embedding_case, [(30, 50, 16)], [(8192, 50304, 768), (32768, 50304, 1024)]),
    "conv2d": (conv2d_case, [(1, 3, 8, 4)], [(32, 64, 56, 64), (32, 128, 28, 128)]),
    "adamw": (adamw_case, [(1000,)], [(1 << 20,), (1 << 24,), (1 << 26,)]),
}


# ---- running one implementation ----------------------------------------------------------------------------

class Impl:
    """One way to run a case: library, device, fused switch, optional torch.compile."""

    def __init__(self, name, lib, device, fused=False, compile=False):
        self.name, self.lib, self.device, self.fused, self.compile = name, lib, device, fused, compile

    def context(self):
        if self.lib is mytorch:
            return mytorch.backends.fused.flags(enabled=self.fused)
        return contextlib.nullcontext()

    def tensors(self, case):
        T = {"_fused": self.fused}
        for name, arr in case.inputs.items():
            T[name] = self.lib.tensor(arr, device=self.device, requires_grad=name in case.grad)
        return T

    def no_grad(self):
        return self.lib.no_grad()


def to_np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def sync():
    mytorch.cuda.synchronize()
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timeit(fn, reps, budget_s=1.0):
    fn()  # warm-up (and compilation)
    sync()
    start = time.perf_counter()
    fn()
    sync()
    once = time.perf_counter() - start
    reps = max(1, min(reps, int(budget_s / max(once, 1e-9))))
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    sync()
    return (time.perf_counter() - start) / reps


class NotFused(RuntimeError):
    """The fused run fell back to numpy/cupy: no kernel launch was counted."""


def launched(prefixes):
    return {p: sum(n for k, n in kernels.launch_counts.items() if k.startswith(p)) for p in prefixes}


def run_impl(impl, case, dy_np, reps, timed=True):
    """Correctness pass (output + input grads as numpy), then timings: (results, t_forward, t_fwd_bwd)."""
    lib = impl.lib
    fn = case.fn
    if impl.compile:
        compiled = torch.compile(lambda T: case.fn(torch, T))
        fn = lambda lib_, T: compiled(T)  # noqa: E731
    with impl.context():
        T = impl.tensors(case)
        dy = None if case.step else lib.tensor(dy_np, device=impl.device)

        def forward_backward():
            for name in case.grad:
                if not case.step:
                    T[name].grad = None
            out = fn(lib, T)
            if not case.step:
                out.backward(dy)
            return out

        before = launched(case.kernel)
        out = forward_backward()
        result = (to_np(out), {n: to_np(T[n].grad) for n in case.grad if not case.step})
        if impl.fused:
            after = launched(case.kernel)
            missing = [p for p in case.kernel if after[p] == before[p]]
            if missing:
                raise NotFused(f"fused run launched no {'/'.join(missing)} kernel")
        if not timed:
            return result, math.nan, math.nan
        t_fb = timeit(forward_backward, reps)
        if case.step:
            return result, t_fb, t_fb
        with impl.no_grad():
            t_f = timeit(lambda: fn(lib, T), reps)
    return result, t_f, t_fb


def compare(case, got, ref):
    """Max abs error over the output and every input grad, and whether all are within tolerance."""
    worst, ok = 0.0, True
    pairs = [(got[0], ref[0])] + [(got[1][n], ref[1][n]) for n in ref[1]]
    for a, b in pairs:
        err = float(np.abs(a - b).max()) if a.size else 0.0
        worst = max(worst, err)
        ok &= a.shape == b.shape and err <= case.tol * max(float(np.abs(b).max()) if b.size else 0.0, 1.0)
    return worst, ok


# ---- the benchmark -----------------------------------------------------------------------------------------

def bench_case(case, impls, cpu_ref, reps, dtype):
    speeds, times, errors, ok = {}, {}, [], True
    results, dy_np = {}, None
    if not case.step:  # the output gradient: same random values for every implementation
        meta = {n: torch.empty(a.shape, dtype=torch.from_numpy(a[:0]).dtype, device="meta")
                for n, a in case.inputs.items()}
        out_shape = tuple(case.fn(torch, meta).shape)  # shapes only, no compute
        dy_np = np.asarray(np.random.default_rng(1).standard_normal(out_shape), dtype=dtype)
    for impl in impls:
        try:
            results[impl.name], t_f, t_fb = run_impl(impl, case, dy_np, reps)
        except NotFused as e:
            errors.append(str(e))
            ok, t_f, t_fb = False, math.nan, math.nan
        except Exception as e:
            if not impl.compile:
                raise
            print(f"  torch.compile failed for {case.op}: {type(e).__name__}: {str(e)[:120]}")
            t_f = t_fb = math.nan
        times[impl.name] = (t_f, t_fb)
    if cpu_ref is not None:
        results["cpu"] = run_impl(cpu_ref, case, dy_np, reps, timed=False)[0]
    if case.self_check is not None:
        for name, res in results.items():
            err = case.self_check(case.inputs, res[0], res[1], dy_np)
            errors.append(f"{name} {err:.1e}")
            ok &= err <= case.tol
    elif "fused" in results:
        for name in ("unfused", "torch", "torch.compile", "cpu"):
            if name in results:
                err, good = compare(case, results["fused"], results[name])
                errors.append(f"{name} {err:.1e}" + ("" if good else " FAIL"))
                ok &= good
    for name, (t_f, t_fb) in times.items():
        scale = 1e12 if case.unit == "TFLOP/s" else 1e9
        speeds[name] = (case.work[0] / t_f / scale, case.work[1] / t_fb / scale)
    return speeds, ", ".join(errors), ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU Triton interpreter")
    ap.add_argument("--ops", default=",".join(OPS), help="comma-separated subset of " + ",".join(OPS))
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow to warm up)")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--dtype", default="float32", choices=("float32", "float16"))
    ap.add_argument("--out", default=None, help="results folder (default: benchmarks/results, smoke runs "
                                                "benchmarks/results/smoke)")
    args = ap.parse_args()
    if args.out is None:
        results = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
        args.out = os.path.join(results, "smoke") if SMOKE else results
    unknown = set(args.ops.split(",")) - set(OPS)
    if unknown:
        ap.error(f"unknown ops {sorted(unknown)}; choose from {', '.join(OPS)}")
    if SMOKE and not args.smoke:
        print("no GPU found: running the --smoke sweep on the CPU Triton interpreter")
    if not kernels.is_available():
        print("triton cannot run here (not installed?)")
        return 1
    on_gpu = not SMOKE
    device = "cuda" if on_gpu else "cpu"
    torch_device = "cuda" if on_gpu and torch.cuda.is_available() else "cpu"
    dtype = np.dtype(args.dtype)
    reps = args.reps or (1 if SMOKE else 20)
    impls = [Impl("fused", mytorch, device, fused=True), Impl("unfused", mytorch, device),
             Impl("torch", torch, torch_device)]
    if args.compile:
        impls.append(Impl("torch.compile", torch, torch_device, compile=True))
    rng = np.random.default_rng(0)

    rows, all_ok = [], True
    for op in args.ops.split(","):
        make, smoke_sizes, sizes = OPS[op]
        for i, size in enumerate(smoke_sizes if SMOKE else sizes):
            case = make(rng, dtype, *size)
            if dtype == np.float16:
                case.tol = max(case.tol, 2e-2)
            # on a GPU, also check against the CPU numpy path (smallest size: numpy is slow on big ones)
            cpu_ref = Impl("cpu", mytorch, "cpu") if on_gpu and i == 0 else None
            speeds, errors, ok = bench_case(case, impls, cpu_ref, reps, dtype)
            all_ok &= ok
            rows.append((case, speeds, errors, ok))
            fmt = "  ".join(f"{k} {v[1]:9.4g}" for k, v in speeds.items())
            print(f"{op:14s} {case.label:26s} {'step' if case.step else 'fwd+bwd'} {fmt} {case.unit}  err: {errors}{'' if ok else '  FAIL'}")
            if on_gpu:
                mytorch.cuda.empty_cache()

    device_name = mytorch.cuda.get_device_name() if on_gpu else "CPU, Triton interpreter (smoke: timings mean nothing)"
    peak = next((bw for key, bw in PEAK_BANDWIDTH if key in device_name), None) if on_gpu else None
    os.makedirs(args.out, exist_ok=True)
    name = "kernels_smoke" if SMOKE else "kernels"
    write_table(os.path.join(args.out, name + ".md"), rows, [i.name for i in impls], device_name, torch_device,
                args.dtype, peak)
    write_plots(args.out, rows, [i.name for i in impls], device_name)
    print(f"wrote {os.path.join(args.out, name + '.md')}" + ("" if all_ok else "  -- CORRECTNESS FAILURES"))
    return 0 if all_ok else 1


def ratio(a, b):
    return f"{a / b:.3g}x" if b and not math.isnan(a) and not math.isnan(b) else "-"


def write_table(path, rows, names, device_name, torch_device, dtype, peak):
    head = ["op", "size", "pass", "unit"] + names + ["fused/torch", "fused/unfused"]
    head += ["roofline %"] if peak else []
    head += ["max abs err (fused vs ...)", "ok"]
    lines = [f"# Fused kernels: mytorch fused vs unfused vs PyTorch ({device_name})", "",
             f"dtype {dtype}; torch eager on {torch_device}; unfused = mytorch numpy/cupy path. "
             "GB/s counts bytes read + written once; roofline % = fused GB/s / peak DRAM bandwidth.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case, speeds, errors, ok in rows:
        passes = [("step", 1)] if case.step else [("fwd", 0), ("fwd+bwd", 1)]
        for label, j in passes:
            vals = [speeds[n][j] for n in names]
            cells = [case.op, case.label, label, case.unit] + [f"{v:.4g}" for v in vals]
            cells += [ratio(speeds["fused"][j], speeds["torch"][j]), ratio(speeds["fused"][j], speeds["unfused"][j])]
            if peak:
                cells.append(f"{100 * speeds['fused'][j] * 1e9 / peak:.0f}" if case.unit == "GB/s" else "-")
            cells += [errors, "ok" if ok else "FAIL"]
            lines.append("| " + " | ".join(cells) + " |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_plots(out_dir, rows, names, device_name):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: skipping the plots")
        return
    for op in dict.fromkeys(case.op for case, *_ in rows):
        op_rows = [r for r in rows if r[0].op == op]
        passes = [("step", 1)] if op_rows[0][0].step else [("forward", 0), ("forward + backward", 1)]
        fig, axes = plt.subplots(1, len(passes), figsize=(5 * len(passes), 3.6), squeeze=False)
        x = np.arange(len(op_rows))
        for ax, (title, j) in zip(axes[0], passes):
            for k, name in enumerate(names):
                ax.bar(x + (k - (len(names) - 1) / 2) * 0.8 / len(names), [r[1][name][j] for r in op_rows],
                       0.8 / len(names), label=name)
            ax.set_xticks(x, [r[0].label for r in op_rows], fontsize=7)
            ax.set_title(f"{op} {title}", fontsize=9)
            ax.set_ylabel(op_rows[0][0].unit)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(device_name, fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, f"kernels_{op}.png"), dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
