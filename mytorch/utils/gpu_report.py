"""One command that shows what mytorch does on an NVIDIA GPU, written down with plots.

    python -m mytorch.utils.gpu_report               # every part not done yet, within a 10-minute budget
    python -m mytorch.utils.gpu_report --list        # the parts, and which are done
    python -m mytorch.utils.gpu_report --part train  # one part (again); --part a,b for several
    python -m mytorch.utils.gpu_report --smoke       # tiny sizes on the CPU (or MYTORCH_FAKE_CUDA=1), temp dir

Parts: env (device, driver, versions), tests (`pytest -m gpu` and the device-parametrised tests on the GPU),
kernels (benchmarks/bench_kernels.py), train (GPT-2 124M tokens/s and MFU: mytorch fused on/off x fp16/bf16
against PyTorch eager, same model and batch), attention (flash attention vs PyTorch SDPA over sequence
lengths), generate (KV-cache decoding tokens/s). Each part writes <part>.json (+ .png) into
benchmarks/results/gpu/<device name>/ and report.md gathers them, so a run cut short by the budget resumes
where it stopped: run the same command again.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(ROOT, "benchmarks", "results", "gpu")

# sizes per mode; "smoke" keeps the whole report well under a minute on a laptop CPU
SIZES = {
    "full": dict(preset="gpt2", batch=8, ctx=1024, warmup=2, steps=8, config_seconds=60,
                 attn=dict(batch=4, heads=12, head_dim=64, seqs=(256, 512, 1024, 2048, 4096), reps=5),
                 gen=dict(preset="gpt2", prompts=(64, 512), new=64),
                 precisions=("fp16", "bf16"), fused=(False, True)),
    "smoke": dict(preset="tiny", n_layer=1, batch=2, ctx=16, warmup=1, steps=1, config_seconds=5,
                  attn=dict(batch=1, heads=2, head_dim=16, seqs=(16, 32), reps=1),
                  gen=dict(preset="tiny", prompts=(8,), new=4),
                  precisions=("no", "bf16"), fused=(False,)),  # bf16 becomes fp16 on a (fake) GPU
}


class Report:
    """Where results go, the device they describe, and the time left."""

    def __init__(self, out, smoke, budget):
        import mytorch

        self.smoke, self.sizes = smoke, SIZES["smoke" if smoke else "full"]
        self.device = "cuda" if mytorch.cuda.is_available() else "cpu"
        self.device_name = mytorch.cuda.get_device_name() if self.device == "cuda" else "cpu"
        self.dir = os.path.join(out, slug(self.device_name))
        os.makedirs(self.dir, exist_ok=True)
        self.deadline = time.monotonic() + budget

    def left(self):
        return self.deadline - time.monotonic()

    def path(self, name):
        return os.path.join(self.dir, name)

    def load(self, part):
        try:
            with open(self.path(f"{part}.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def save(self, part, result):
        tmp = self.path(f".{part}.json.tmp")
        with open(tmp, "w") as f:
            json.dump(result, f, indent=1, default=str)
        os.replace(tmp, self.path(f"{part}.json"))


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "device"


def sync():
    import mytorch

    mytorch.cuda.synchronize()


def _torch_device():
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# parts ---------------------------------------------------------------------------------------------
def part_env(rep):
    import numpy as np

    import mytorch

    info = {"device": rep.device, "device_name": rep.device_name, "python": sys.version.split()[0],
            "numpy": np.__version__, "fake_cuda": os.environ.get("MYTORCH_FAKE_CUDA") == "1"}
    if rep.device == "cuda":
        props = mytorch.cuda.get_device_properties()
        free, total = mytorch.cuda.mem_get_info()
        import cupy

        info.update(capability=list(mytorch.cuda.get_device_capability()), total_memory=props.total_memory,
                    free_memory=free, multi_processor_count=props.multi_processor_count,
                    device_count=mytorch.cuda.device_count(), cupy=cupy.__version__,
                    cuda_runtime=cupy.cuda.runtime.runtimeGetVersion(),
                    cuda_driver=cupy.cuda.runtime.driverGetVersion())
    for mod in ("torch", "triton"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = None
    return info


def _pytest(rep, args, env, name):
    xml = rep.path(f"{name}.xml")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}", *args]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=max(rep.left(), 1))
        out, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), None
    counts = _junit_counts(xml)
    counts.update(command=" ".join(cmd[1:]), returncode=rc, seconds=round(time.monotonic() - start, 1),
                  tail=out[-3000:], timed_out=rc is None)
    return counts


def _junit_counts(xml):
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError):
        return {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "failed_tests": []}
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    failed = [f"{c.get('classname')}::{c.get('name')}" for c in suite.iter("testcase")
              if c.find("failure") is not None or c.find("error") is not None]
    return {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")} | {"failed_tests": failed}


def part_tests(rep):
    from mytorch.testing import DEVICE_TEST_FILES, DEVICE_TEST_SELECT

    env = dict(os.environ, WANDB_MODE="offline")
    runs = {}
    if not rep.smoke:
        runs["gpu_marked"] = _pytest(rep, ["-m", "gpu", "tests"], env, "tests_gpu_marked")
    args = ["tests/test_fake_cuda.py", "-k", "fake_ or device_ops"] if rep.smoke else ["-k", DEVICE_TEST_SELECT,
                                                                                   *DEVICE_TEST_FILES]
    runs["device_parametrised"] = _pytest(rep, args, dict(env, MYTORCH_TEST_DEVICE=rep.device), "tests_device")
    ok = all(r["returncode"] == 0 for r in runs.values())
    return {"runs": runs, "ok": ok}


def part_kernels(rep):
    cmd = [sys.executable, os.path.join(ROOT, "benchmarks", "bench_kernels.py"), "--out", rep.dir]
    if rep.smoke:
        cmd += ["--smoke", "--ops", "softmax", "--reps", "1"]
    env = dict(os.environ)
    env.pop("MYTORCH_FAKE_CUDA", None)  # Triton kernels need real device memory: never the fake GPU
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=max(rep.left(), 1))
        rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        rc, out = None, "timed out"
    tables = sorted(f for f in os.listdir(rep.dir) if f.startswith("kernels") and f.endswith(".md"))
    return {"command": " ".join(cmd[1:]), "returncode": rc, "seconds": round(time.monotonic() - start, 1),
            "tables": tables, "tail": out[-3000:], "ok": rc == 0}


def _timed_steps(step, warmup, steps, seconds):
    """Seconds per step, after `warmup` untimed steps, over up to `steps` steps (or `seconds` of them)."""
    for _ in range(warmup):
        step()
    sync()
    start, n = time.perf_counter(), 0
    while n < steps and (n == 0 or time.perf_counter() - start < seconds):
        step()
        n += 1
    sync()
    return (time.perf_counter() - start) / n


def _mytorch_train(rep, config, fused, precision):
    import mytorch
    from mytorch.accelerate import Accelerator
    from mytorch.models import GPT

    s = rep.sizes
    mytorch.manual_seed(0)
    acc = Accelerator(mixed_precision=precision, cpu=rep.device == "cpu")
    model = GPT(config)
    opt = model.configure_optimizers(0.1, 6e-4)
    model, opt = acc.prepare(model, opt)
    x = mytorch.randint(0, config.vocab_size, (s["batch"], s["ctx"]), device=acc.device)
    y = mytorch.randint(0, config.vocab_size, (s["batch"], s["ctx"]), device=acc.device)
    losses = []

    def step():
        with mytorch.backends.fused.flags(enabled=fused):  # every kernel: forward, backward and AdamW
            with acc.autocast():
                _, loss = model(x, y)
            acc.backward(loss)
            opt.step()
            opt.zero_grad(set_to_none=True)
        losses.append(loss.item())  # item() waits for the GPU

    sec = _timed_steps(step, s["warmup"], s["steps"], s["config_seconds"])
    tokens_per_s = s["batch"] * s["ctx"] / sec
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mfu = acc.unwrap_model(model).estimate_mfu(tokens_per_s)
    return {"tokens_per_s": tokens_per_s, "step_ms": sec * 1e3, "mfu": mfu, "loss": losses[-1]}


def _torch_train(rep, config, precision, mfu_of):
    import torch

    from benchmarks.bench_gpt_char import torch_gpt, torch_optimizer

    s = rep.sizes
    dev = _torch_device()
    torch.manual_seed(0)
    model = torch_gpt(torch, config).to(dev)
    opt = torch_optimizer(torch, model, 6e-4, 0.1, (0.9, 0.95))
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    scaler = torch.amp.GradScaler(dev, enabled=precision == "fp16" and dev == "cuda")
    x = torch.randint(0, config.vocab_size, (s["batch"], s["ctx"]), device=dev)
    y = torch.randint(0, config.vocab_size, (s["batch"], s["ctx"]), device=dev)
    losses = []

    def step():
        with torch.autocast(dev, dtype=dtype, enabled=dtype is not None):
            _, loss = model(x, y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())

    sec = _timed_steps(step, s["warmup"], s["steps"], s["config_seconds"])
    tokens_per_s = s["batch"] * s["ctx"] / sec
    return {"tokens_per_s": tokens_per_s, "step_ms": sec * 1e3, "mfu": mfu_of(tokens_per_s), "loss": losses[-1],
            "device": dev}


def part_train(rep):
    from mytorch.models import GPT, GPTConfig

    s = rep.sizes
    config = GPTConfig.preset(s["preset"], context_length=s["ctx"], vocab_size=50304 if not rep.smoke else 65,
                              **({"n_layer": s["n_layer"]} if "n_layer" in s else {}))
    ref = GPT(config).to(rep.device)

    def mfu_of(tokens_per_s):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ref.estimate_mfu(tokens_per_s)  # the same model: the same flops per token

    rows = []
    precisions = s["precisions"]
    if rep.smoke and rep.device == "cuda":
        precisions = ("no", "fp16")  # cupy has no bfloat16
    plans = [("mytorch", fused, p) for fused in s["fused"] for p in precisions]
    plans += [("torch eager", None, p) for p in precisions]
    for lib, fused, precision in plans:
        row = {"lib": lib, "fused": fused, "precision": precision}
        if rep.left() < 2 * s["config_seconds"]:
            row["error"] = "skipped: time budget used up (rerun --part train)"
        else:
            try:
                if lib == "mytorch":
                    row.update(_mytorch_train(rep, config, fused, precision))
                else:
                    row.update(_torch_train(rep, config, precision, mfu_of))
            except Exception as e:  # one configuration failing must not hide the others
                row["error"] = f"{type(e).__name__}: {e}"
                row["traceback"] = traceback.format_exc(limit=-4)
        rows.append(row)
        print(f"  train {lib} fused={fused} {precision}: " +
              (f"{row['tokens_per_s']:.0f} tokens/s" if "tokens_per_s" in row else row["error"]), flush=True)
    _plot_bars(rep.path("train.png"), [f"{r['lib']}\n{'fused ' if r['fused'] else ''}{r['precision']}" for r in rows],
               [r.get("tokens_per_s", 0) for r in rows], "tokens/s", f"GPT {s['preset']} training, batch "
               f"{s['batch']}x{s['ctx']} ({rep.device_name})")
    return {"model": s["preset"], "params": ref.num_params(), "batch": s["batch"], "ctx": s["ctx"], "rows": rows,
            "ok": any("tokens_per_s" in r for r in rows if r["lib"] == "mytorch")}


def part_attention(rep):
    import numpy as np
    import torch

    import mytorch
    import mytorch.nn.functional as F

    a = rep.sizes["attn"]
    tdev = _torch_device()
    on_gpu = rep.device == "cuda" and tdev == "cuda"
    dtype = "float16" if on_gpu else "float32"
    fused_options = [True, False] if (rep.device == "cuda" and not os.environ.get("MYTORCH_FAKE_CUDA")) else [False]
    rows = []
    for T in a["seqs"]:
        rng = np.random.default_rng(T)
        qkv = [rng.standard_normal((a["batch"], a["heads"], T, a["head_dim"])).astype(dtype) for _ in range(3)]
        flops = 3.5 * 4 * a["batch"] * a["heads"] * T * T * a["head_dim"] / 2  # causal fwd + bwd (2.5x fwd)
        row = {"seq": T}
        tq = [torch.tensor(x, device=tdev, requires_grad=True) for x in qkv]

        def torch_step():
            out = torch.nn.functional.scaled_dot_product_attention(*tq, is_causal=True)
            out.float().sum().backward()
            return out

        ref = torch_step().detach().float().cpu().numpy()
        row["torch_ms"] = _timed_attention(torch_step, a["reps"], torch.cuda.synchronize if tdev == "cuda" else None)
        for fused in fused_options:
            name = "mytorch_fused" if fused else "mytorch"
            mq = [mytorch.tensor(x, device=rep.device, requires_grad=True) for x in qkv]

            def step():
                with mytorch.backends.fused.flags(enabled=fused):
                    out = F.scaled_dot_product_attention(*mq, is_causal=True)
                out.float().sum().backward()
                return out

            if rep.left() < 10:
                row[f"{name}_error"] = "skipped: time budget used up"
                continue
            try:
                got = step().detach().float().cpu().numpy()
                row[f"{name}_max_err"] = float(np.abs(got - ref).max())
                row[f"{name}_ms"] = _timed_attention(step, a["reps"], sync)
                row[f"{name}_tflops"] = flops / (row[f"{name}_ms"] * 1e-3) / 1e12
            except Exception as e:
                row[f"{name}_error"] = f"{type(e).__name__}: {e}"
        row["torch_tflops"] = flops / (row["torch_ms"] * 1e-3) / 1e12
        rows.append(row)
        print(f"  attention T={T}: " + ", ".join(f"{k} {v:.3g}" for k, v in row.items()
                                                 if k.endswith("_ms")), flush=True)
    _plot_lines(rep.path("attention.png"), [r["seq"] for r in rows],
                {k[:-3]: [r.get(k, math.nan) for r in rows] for k in rows[0] if k.endswith("_ms")},
                "sequence length", "ms (forward + backward)",
                f"causal attention, B={a['batch']} H={a['heads']} D={a['head_dim']} {dtype} ({rep.device_name})")
    ok = all(f"{n}_ms" in r for r in rows for n in ["mytorch"] + (["mytorch_fused"] if len(fused_options) > 1 else []))
    return {"dtype": dtype, "shape": a, "rows": rows, "ok": ok}


def _timed_attention(step, reps, synchronize):
    step()  # warm-up (and kernel compilation)
    if synchronize:
        synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        step()
    if synchronize:
        synchronize()
    return (time.perf_counter() - start) / reps * 1e3


def part_generate(rep):
    import mytorch
    from mytorch.models import GPT, GPTConfig

    g = rep.sizes["gen"]
    config = GPTConfig.preset(g["preset"], context_length=max(g["prompts"]) + g["new"] + 1,
                              vocab_size=50304 if not rep.smoke else 65)
    mytorch.manual_seed(0)
    model = GPT(config).to(rep.device).eval()
    rows = []
    for use_cache in (True, False):
        for n in g["prompts"]:
            prompt = mytorch.randint(0, config.vocab_size, (1, n), device=rep.device)
            start = first = None
            count = 0
            t0 = time.perf_counter()
            with mytorch.no_grad():
                for _ in model.stream(prompt, g["new"] + 1, temperature=0, use_cache=use_cache):
                    if start is None:  # the first token includes the prompt's prefill
                        first, start = time.perf_counter() - t0, time.perf_counter()
                        continue
                    count += 1
            rate = count / (time.perf_counter() - start)
            rows.append({"prompt": n, "kv_cache": use_cache, "tokens_per_s": rate, "prefill_s": first})
            print(f"  generate prompt={n} cache={use_cache}: {rate:.1f} tokens/s", flush=True)
    _plot_bars(rep.path("generate.png"), [f"prompt {r['prompt']}\n{'cache' if r['kv_cache'] else 'no cache'}"
                                          for r in rows], [r["tokens_per_s"] for r in rows], "tokens/s",
               f"greedy decoding, GPT {g['preset']}, batch 1 ({rep.device_name})")
    return {"model": g["preset"], "new_tokens": g["new"], "rows": rows, "ok": True}


PARTS = {  # name: (function, rough seconds on a GPU, what it does)
    "env": (part_env, 5, "device, memory, driver and library versions"),
    "tests": (part_tests, 240, "pytest -m gpu, and the device-parametrised tests on the GPU"),
    "kernels": (part_kernels, 180, "benchmarks/bench_kernels.py sweep (fused vs unfused vs PyTorch)"),
    "train": (part_train, 150, "GPT-2 124M training tokens/s and MFU: fused on/off x fp16/bf16 vs PyTorch eager"),
    "attention": (part_attention, 60, "flash attention vs PyTorch SDPA across sequence lengths"),
    "generate": (part_generate, 60, "KV-cache generation tokens/s"),
}


# plots and the summary -----------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_bars(path, labels, values, ylabel, title):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, len(labels) * 1.2), 4))
    ax.bar(range(len(values)), values)
    ax.set_xticks(range(len(values)), labels, fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_lines(path, xs, series, xlabel, ylabel, title):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, ys in series.items():
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _table(rows, keys):
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |" for r in rows]
    return lines


def write_summary(rep):
    lines = [f"# mytorch GPU report: {rep.device_name}", ""]
    for name in PARTS:
        res = rep.load(name)
        lines.append(f"## {name}")
        if res is None:
            lines += ["not run yet", ""]
            continue
        lines.append(f"status: {res['status']}, {res['seconds']:.0f} s, {res['finished']}")
        body = res.get("result") or {}
        if "error" in res:
            lines.append(f"error: `{res['error']}`")
        elif name == "env":
            lines += [f"- {k}: {v}" for k, v in body.items()]
        elif name == "tests":
            for run, r in body["runs"].items():
                lines.append(f"- {run}: {r['tests']} tests, {r['failures']} failed, {r['errors']} errors, "
                             f"{r['skipped']} skipped ({r['seconds']} s)")
                lines += [f"  - FAILED {t}" for t in r["failed_tests"][:30]]
        elif name == "kernels":
            lines.append(f"returncode {body['returncode']}; tables: {', '.join(body['tables'])}")
        elif name == "train":
            lines += _table(body["rows"], ["lib", "fused", "precision", "tokens_per_s", "step_ms", "mfu", "loss", "error"])
        elif name == "attention":
            lines += _table(body["rows"], list(dict.fromkeys(k for r in body["rows"] for k in r)))
        elif name == "generate":
            lines += _table(body["rows"], ["prompt", "kv_cache", "tokens_per_s", "prefill_s"])
        if os.path.exists(rep.path(f"{name}.png")):
            lines.append(f"![{name}]({name}.png)")
        lines.append("")
    with open(rep.path("report.md"), "w") as f:
        f.write("\n".join(lines))


# command line --------------------------------------------------------------------------------------
def run_part(rep, name):
    fn = PARTS[name][0]
    start = time.monotonic()
    print(f"[{name}] {PARTS[name][2]}", flush=True)
    record = {"part": name, "device_name": rep.device_name, "smoke": rep.smoke}
    try:
        result = fn(rep)
        record.update(result=result, status="ok" if result.get("ok", True) else "failed")
    except Exception as e:
        record.update(status="failed", error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
        print(record["traceback"], file=sys.stderr)
    record.update(seconds=time.monotonic() - start, finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    rep.save(name, record)
    write_summary(rep)
    print(f"[{name}] {record['status']} in {record['seconds']:.1f} s", flush=True)
    return record


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m mytorch.utils.gpu_report", description=__doc__.splitlines()[0])
    p.add_argument("--part", action="append", default=[], help="run these parts (comma-separated or repeated): "
                   + ", ".join(PARTS))
    p.add_argument("--list", action="store_true", help="list the parts and whether each is done")
    p.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (or the fake GPU), into a temp dir")
    p.add_argument("--out", default=None, help=f"results root (default {DEFAULT_OUT}; a temp dir with --smoke)")
    p.add_argument("--budget", type=float, default=600.0, help="seconds this call may take (default 600)")
    p.add_argument("--force", action="store_true", help="rerun parts already done")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    parts = [n for spec in args.part for n in spec.split(",") if n]
    unknown = [n for n in parts if n not in PARTS]
    if unknown:
        raise SystemExit(f"unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    if args.smoke:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before any kernel module is imported
    sys.path.insert(0, ROOT)  # benchmarks/ is imported by the train part
    out = args.out or (tempfile.mkdtemp(prefix="mytorch_gpu_report_") if args.smoke else DEFAULT_OUT)
    rep = Report(out, args.smoke, args.budget)
    if args.list:
        for name, (_, est, what) in PARTS.items():
            res = rep.load(name)
            state = "not run" if res is None else res["status"]
            print(f"{name:10s} ~{est:4d} s  {state:8s} {what}")
        print(f"results: {rep.dir}")
        return 0
    if not args.smoke and rep.device != "cuda":
        print("note: no CUDA device (mytorch.cuda.is_available() is False); numbers below are for the CPU",
              file=sys.stderr)
    todo = parts or [n for n in PARTS if args.force or (rep.load(n) or {}).get("status") != "ok"]
    failed = []
    for i, name in enumerate(todo):
        est = 2 if args.smoke else PARTS[name][1]
        if i and rep.left() < est:
            print(f"time budget reached; continue with: python -m mytorch.utils.gpu_report --part "
                  f"{','.join(todo[i:])}" + (f" --out {out}" if args.out else ""), flush=True)
            break
        if run_part(rep, name)["status"] != "ok":
            failed.append(name)
    write_summary(rep)
    print(f"report: {rep.path('report.md')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
