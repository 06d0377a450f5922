"""Time common ops in mytorch and PyTorch on the same inputs, in one run, and print the ratios.

Small tensors measure per-op Python overhead (dispatch-bound); large ones measure the array work
(compute-bound). Forward+backward is timed where the op is differentiable.

    python benchmarks/bench_ops.py            # CPU, small and large sizes
    python benchmarks/bench_ops.py --quick    # fewer repeats
    python benchmarks/bench_ops.py --device cuda
    python benchmarks/bench_ops.py --markdown benchmarks/results/ops_cpu.md
    python benchmarks/bench_ops.py --threads 1
    python benchmarks/bench_ops.py --same-process   # both libraries in this process
    python benchmarks/bench_ops.py --rounds 5       # best of 5 alternating rounds per library

Both libraries run with the same thread count (mytorch.set_num_threads / torch.set_num_threads;
default: numpy's BLAS thread count). By default each library is timed in its own fresh process, as a
program using one of them runs (in one process PyTorch's OpenMP pool is loaded first, and mytorch then
keeps its compiled bodies to one thread: mytorch/cpu_kernels/_parallel.py), the two alternating over a few
rounds, each keeping its best time per row.
"""
import argparse
import json
import os
import subprocess
import sys
import timeit

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import mytorch  # noqa: E402

torch = None  # imported in main(), where this process times PyTorch

SIZES = {"small": (8, 8), "large": (1024, 1024)}

# name: (fn(lib, a, b), differentiable)
OPS = {
    "add": (lambda lib, a, b: a + b, True),
    "mul": (lambda lib, a, b: a * b, True),
    "exp": (lambda lib, a, b: a.exp(), True),
    "tanh": (lambda lib, a, b: a.tanh(), True),
    "sum": (lambda lib, a, b: a.sum(), True),
    "mean(dim)": (lambda lib, a, b: a.mean(-1), True),
    "softmax": (lambda lib, a, b: lib.softmax(a, -1), True),
    "matmul": (lambda lib, a, b: a @ b, True),
    "transpose+reshape": (lambda lib, a, b: a.t().reshape(-1), True),
    "getitem": (lambda lib, a, b: a[1:, ::2], True),
    "cat": (lambda lib, a, b: lib.cat([a, b], 0), True),
    "relu": (lambda lib, a, b: lib.relu(a), True),
    "where": (lambda lib, a, b: lib.where(a > 0, a, b), True),
}


def make_inputs(lib, shape, device, requires_grad):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(2)]
    return [lib.tensor(x, device=device, requires_grad=requires_grad) for x in arrays]


def time_call(fn, repeats):
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(1, number // 4) if repeats < 5 else number
    best = min(timer.repeat(repeat=repeats, number=number)) / number
    return best


def bench(device, repeats, names, libs=None):
    """Rows (size, op, pass, mytorch seconds, torch seconds); libs: the libraries timed here (the others'
    entries are None)."""
    libs = libs or (mytorch, torch)
    sync = (lambda: None)
    if device == "cuda":
        def sync():
            if torch is not None:
                torch.cuda.synchronize()
            mytorch.cuda.synchronize()
    rows = []
    for size_name, shape in SIZES.items():
        for name in names:
            fn, diff = OPS[name]
            for mode in ("forward", "fwd+bwd") if diff else ("forward",):
                results = {"mytorch": None, "torch": None}
                for lib in libs:
                    a, b = make_inputs(lib, shape, device, mode != "forward")
                    if mode == "forward":
                        def run():
                            with lib.no_grad():
                                fn(lib, a, b)
                            sync()
                    else:
                        def run():
                            out = fn(lib, a, b)
                            out.sum().backward() if out.dim() else out.backward()
                            a.grad = b.grad = None
                            sync()
                    results[lib.__name__] = time_call(run, repeats)
                rows.append((size_name, name, mode, results["mytorch"], results["torch"]))
    return rows


def report(rows, markdown_path=None, note=""):
    header = f"| size | op | pass | mytorch (us) | torch (us) | mytorch / torch |"
    lines = ([f"{note}\n"] if note else []) + [header, "|---|---|---|---:|---:|---:|"]
    for size, name, mode, mine, ref in rows:
        lines.append(f"| {size} | {name} | {mode} | {mine * 1e6:.1f} | {ref * 1e6:.1f} | {mine / ref:.2f}x |")
    for size in SIZES:
        ratios = [m / r for s, _, _, m, r in rows if s == size]
        geo = float(np.exp(np.mean(np.log(ratios))))
        lines.append(f"\n{size}: geometric-mean time ratio mytorch/torch = {geo:.2f}x")
    text = "\n".join(lines)
    print(text)
    if markdown_path:
        os.makedirs(os.path.dirname(markdown_path) or ".", exist_ok=True)
        with open(markdown_path, "w") as f:
            f.write(text + "\n")


def _separate_processes(args, threads):
    """Each library timed in fresh processes of its own, the two alternating for args.rounds rounds (a
    shared machine's speed drifts over a run); each row keeps each library's best round."""
    best = {}
    for _ in range(args.rounds):
        for name in ("mytorch", "torch"):
            cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--threads", str(threads),
                   "--device", args.device, "--ops", *args.ops] + (["--quick"] if args.quick else [])
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode:
                raise RuntimeError(f"{name} benchmark process failed:\n{res.stderr[-3000:]}")
            rows = json.loads(res.stdout.strip().splitlines()[-1])
            column = 3 if name == "mytorch" else 4
            for row in rows:
                key = tuple(row[:3])
                entry = best.setdefault(key, list(row))
                entry[column] = row[column] if entry[column] is None else min(entry[column], row[column])
    return [tuple(r) for r in best.values()]


def main(argv=None):
    global torch
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--ops", nargs="*", default=list(OPS), choices=list(OPS))
    parser.add_argument("--markdown", default=None, help="also write the table to this file")
    parser.add_argument("--threads", type=int, default=None, help="threads for both (default: numpy's BLAS)")
    parser.add_argument("--same-process", action="store_true", help="time both libraries in this process")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the two processes (default 3)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    threads = args.threads or mytorch.get_num_threads()
    if args.child != "mytorch":
        try:
            import torch
        except ImportError:  # pragma: no cover
            sys.exit("benchmarks compare against PyTorch: pip install torch")
        torch.set_num_threads(threads)
    mytorch.set_num_threads(threads)
    repeats = 2 if args.quick else 5
    if args.child:
        rows = bench(args.device, repeats, args.ops, [mytorch if args.child == "mytorch" else torch])
        print(json.dumps(rows))
        return
    if args.device == "cuda" and not (mytorch.cuda.is_available() and (torch is None or torch.cuda.is_available())):
        sys.exit("--device cuda needs a GPU with cupy and CUDA-enabled PyTorch")
    rows = bench(args.device, repeats, args.ops) if args.same_process else _separate_processes(args, threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    mode = "one process" if args.same_process else f"each library in its own process, best of {args.rounds} rounds"
    report(rows, args.markdown, f"{threads} threads for both libraries, {mode}, load average {load:.1f} after the run")


if __name__ == "__main__":
    main()
