"""Time one training step (forward, backward, AdamW) of a small GPT in mytorch and PyTorch, and the peak
memory a step needs in each.

    python benchmarks/bench_train_step.py                     # dim 128, 2 layers, batch 16 x 64 tokens
    python benchmarks/bench_train_step.py --dim 256 --batch 8 --ctx 128
    python benchmarks/bench_train_step.py --threads 1         # both libraries on one thread
    python benchmarks/bench_train_step.py --threads 0         # each library's own default (follows the load)
    python benchmarks/bench_train_step.py --same-process      # alternate steps in one process instead
    python benchmarks/bench_train_step.py --profile           # cProfile of the mytorch steps

Both libraries get the same thread count (mytorch.set_num_threads / torch.set_num_threads; default:
numpy's BLAS thread count; `--threads 0` leaves each library's default, mytorch's following the machine's
load, PyTorch's fixed) and the same batches. Each library trains in its own fresh process (so
neither's idle worker threads get in the other's way), the processes taking turns for --rounds rounds
so both see the same machine load; the time is the median step over all rounds. The speed ratio is
torch time / mytorch time (above 1: mytorch is faster); on a machine whose speed drifts, the per-round
ratios (each of two processes run back to back) and their median are steadier than the overall one. `--same-process` instead alternates the two
libraries step by step in one process (each library's spinning thread pools then slow the other down,
PyTorch's more than mytorch's). Peak memory is the highest resident set size during the steps minus
the resident size just before the first one, in the fresh processes.

The model is benchmarks/train_parity.build_transformer: embeddings, pre-LN blocks with causal
scaled_dot_product_attention and a GELU MLP, a linear head, cross-entropy loss.
"""
import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import mytorch  # noqa: E402
from benchmarks.train_parity import build_transformer, text_batches  # noqa: E402


def make_run(lib, args):
    """A step function for lib's model and optimizer, and the batches it trains on."""
    lib.manual_seed(0)
    model = build_transformer(lib, vocab=args.vocab, dim=args.dim, heads=args.heads, ctx=args.ctx,
                              gelu=args.gelu)
    opt = lib.optim.AdamW(model.parameters(), lr=1e-3)

    def step(x, y):
        logits = model(lib.tensor(x))
        loss = lib.nn.functional.cross_entropy(logits.reshape(-1, args.vocab), lib.tensor(y).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def time_both(args, torch):
    batches = list(text_batches(args.steps + args.warmup, batch=args.batch, ctx=args.ctx, vocab=args.vocab))
    steps = {"mytorch": make_run(mytorch, args), "torch": make_run(torch, args)}
    times = {name: [] for name in steps}
    prof = cProfile.Profile() if args.profile else None
    for i, (x, y) in enumerate(batches):
        for name, step in steps.items():
            if prof is not None and name == "mytorch" and i >= args.warmup:
                prof.enable()
            start = time.perf_counter()
            step(x, y)
            elapsed = time.perf_counter() - start
            if prof is not None and name == "mytorch":
                prof.disable()
            if i >= args.warmup:
                times[name].append(elapsed)
    if prof is not None:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return {name: statistics.median(t) for name, t in times.items()}


def _status_bytes(field):
    """VmRSS (resident now) or VmHWM (its high-water mark) of this process, from /proc/self/status.
    (getrusage's ru_maxrss would not do: Linux carries it over from the parent across fork + exec.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(lib_name, args):
    """Run in a fresh process: (median step seconds, peak RSS growth in bytes) for one library."""
    if lib_name == "torch":
        import torch as lib
    else:
        lib = mytorch
        mytorch.cpu_kernels.warm_up()  # the compiled code is the library's, like torch's own .so files
    if args.threads:
        lib.set_num_threads(args.threads)
    step = make_run(lib, args)
    batches = list(text_batches(args.steps + args.warmup, batch=args.batch, ctx=args.ctx, vocab=args.vocab))
    try:  # restart the high-water mark here, so that imports and set-up don't count (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    base = _status_bytes("VmRSS") if os.path.exists("/proc/self/status") else 0
    times = []
    for i, (x, y) in enumerate(batches):
        start = time.perf_counter()
        step(x, y)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    peak = _status_bytes("VmHWM") - base if base else None
    return statistics.median(times), peak


def separate_processes(args):
    """Each library in its own fresh processes, taking turns for args.rounds rounds."""
    times, peaks = {"mytorch": [], "torch": []}, {"mytorch": [], "torch": []}
    for _ in range(args.rounds):
        for name in ("mytorch", "torch"):
            cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--dim", str(args.dim), "--heads",
                   str(args.heads), "--ctx", str(args.ctx), "--vocab", str(args.vocab), "--batch", str(args.batch),
                   "--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads),
                   "--gelu", args.gelu]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode:
                raise RuntimeError(f"{name} benchmark process failed:\n{res.stderr[-3000:]}")
            out = json.loads(res.stdout.strip().splitlines()[-1])
            times[name].append(out["step_s"])
            if out["peak_bytes"] is not None:
                peaks[name].append(out["peak_bytes"])
    med = {k: statistics.median(v) for k, v in times.items()}
    mem = {k: max(v) for k, v in peaks.items()} if all(peaks.values()) else None
    # each round's two processes ran back to back, so their ratio is free of the machine's slower drift
    med["ratios"] = [t / m for m, t in zip(times["mytorch"], times["torch"])]
    return med, mem


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ctx", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--gelu", default="tanh", choices=["tanh", "none"], help="GELU approximation")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="turns of fresh processes per library")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both (default: numpy's BLAS; 0: each library's default)")
    parser.add_argument("--same-process", action="store_true", help="alternate steps in one process")
    parser.add_argument("--profile", action="store_true", help="cProfile the mytorch steps (--same-process)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads is None:
        args.threads = mytorch.get_num_threads()
    if args.child:
        step_s, peak = child(args.child, args)
        print(json.dumps({"step_s": step_s, "peak_bytes": peak}))
        return None
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if args.same_process or args.profile:
        import torch

        if args.threads:
            mytorch.set_num_threads(args.threads)
            torch.set_num_threads(args.threads)
        t, mem, how = time_both(args, torch), None, "same process, alternating steps"
    else:
        (t, mem), how = separate_processes(args), f"separate processes, {args.rounds} rounds"
    line = (f"GPT step (dim={args.dim}, batch={args.batch}x{args.ctx}, gelu={args.gelu}, "
            f"{f'{args.threads} threads each' if args.threads else 'default threads'}, "
            f"{how}, load {load:.1f}): mytorch {t['mytorch'] * 1e3:.1f} ms, torch {t['torch'] * 1e3:.1f} ms, "
            f"speed ratio torch/mytorch = {t['torch'] / t['mytorch']:.2f}")
    if len(t.get("ratios", ())) > 1:
        r = t["ratios"]
        line += f" (per round: median {statistics.median(r):.2f}, {min(r):.2f}-{max(r):.2f})"
    if mem:
        line += (f"; peak step memory mytorch {mem['mytorch'] / 2**20:.1f} MiB, torch {mem['torch'] / 2**20:.1f} MiB"
                 f" ({mem['mytorch'] / max(mem['torch'], 1):.2f}x)")
    print(line)
    return t, mem


if __name__ == "__main__":
    main()
