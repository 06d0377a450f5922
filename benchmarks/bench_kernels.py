"""Benchmark the Triton fused kernels against the numpy/cupy path and torch eager (and torch.compile).

Each op runs forward + backward. Memory-bound ops report GB/s (bytes of inputs and outputs touched once),
matmul-like ops TFLOP/s. Results: benchmarks/results/kernels.md (+ kernels.png if matplotlib is installed).

    python benchmarks/bench_kernels.py            # on a GPU: cupy + torch CUDA, real sizes
    python benchmarks/bench_kernels.py --smoke    # tiny sizes on the CPU Triton interpreter (checks the script)
    python benchmarks/bench_kernels.py --ops softmax,flash_attention --compile
"""
import argparse
import os
import sys
import time

SMOKE = "--smoke" in sys.argv
if SMOKE:
    os.environ["TRITON_INTERPRET"] = "1"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from mytorch import kernels as K  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def array_module():
    if SMOKE:
        return np, "cpu"
    import cupy

    return cupy, "cuda"


XP, DEVICE = None, None


def sync():
    if DEVICE == "cuda":
        XP.cuda.Device().synchronize()
        torch.cuda.synchronize()


def timeit(fn, reps):
    fn()
    sync()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    sync()
    return (time.perf_counter() - start) / reps


def rand(*shape, dtype=np.float32):
    return XP.asarray(np.random.default_rng(len(shape)).standard_normal(shape).astype(dtype))


def tt(a, grad=True):
    """Torch tensor of the same data (copy; only the torch baseline uses it)."""
    t = torch.as_tensor(np.asarray(a) if DEVICE == "cpu" else a.get(), device=DEVICE)
    return t.requires_grad_(grad and t.is_floating_point())


def torch_fwd_bwd(fn, *tensors):
    def run():
        for t in tensors:
            if isinstance(t, torch.Tensor):
                t.grad = None
        out = fn(*tensors)
        out.backward(torch.ones_like(out))
    return run


# ---- per-op cases: (label, work amount, unit, fused, xp path, torch fn, torch inputs) ----

def softmax_case(rows, cols):
    from mytorch.kernels import softmax as sm
    x, dy = rand(rows, cols), rand(rows, cols)

    def fused():
        sm.softmax_bwd(dy, sm.softmax_fwd(x))

    def ref():
        e = XP.exp(x - x.max(-1, keepdims=True))
        y = e / e.sum(-1, keepdims=True)
        return y * (dy - (dy * y).sum(-1, keepdims=True))
    return f"{rows}x{cols}", 4 * x.nbytes, "GB/s", fused, ref, lambda a: torch.softmax(a, -1), [tt(x)]


def layer_norm_case(rows, cols):
    from mytorch.kernels import layer_norm as ln
    x, dy, w, b = rand(rows, cols), rand(rows, cols), rand(cols), rand(cols)

    def fused():
        y, h, mean, rstd = ln.layer_norm_fwd(x, w, b)
        ln.layer_norm_bwd(dy, h, w, mean, rstd, has_bias=True)

    def ref():
        mu = x.mean(-1, keepdims=True)
        rstd = 1 / XP.sqrt(x.var(-1, keepdims=True) + 1e-5)
        xhat = (x - mu) * rstd
        g = dy * w
        dx = rstd * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))
        return xhat * w + b, dx, (dy * xhat).sum(0), dy.sum(0)
    return (f"{rows}x{cols}", 5 * x.nbytes, "GB/s", fused, ref,
            lambda a, ww, bb: F.layer_norm(a, (cols,), ww, bb), [tt(x), tt(w), tt(b)])


def cross_entropy_case(rows, vocab):
    from mytorch.kernels import cross_entropy as ce
    x = rand(rows, vocab)
    target = XP.asarray(np.random.default_rng(0).integers(0, vocab, rows))

    def fused():
        loss, d, _ = ce.cross_entropy_fwd(x, target)
        ce.cross_entropy_bwd(d, XP.asarray(np.float32(1.0 / rows)))

    def ref():
        m = x.max(-1, keepdims=True)
        e = XP.exp(x - m)
        s = e.sum(-1, keepdims=True)
        loss = (XP.log(s) + m)[:, 0] - x[XP.arange(rows), target]
        d = e / s
        d[XP.arange(rows), target] -= 1
        return loss.mean(), d / rows
    return (f"{rows}x{vocab}", 3 * x.nbytes, "GB/s", fused, ref,
            lambda a, t: F.cross_entropy(a, t), [tt(x), tt(target, grad=False)])


def attention_case(B, H, L, D, causal=True):
    from mytorch.kernels import flash_attention as fa
    q, k, v, do = (rand(B, H, L, D, dtype=np.float16 if DEVICE == "cuda" else np.float32) for _ in range(4))

    def fused():
        o, lse = fa.flash_attention_fwd(q, k, v, causal=causal)
        fa.flash_attention_bwd(do, q, k, v, o, lse, causal=causal)

    def ref():
        s = (q @ k.swapaxes(-1, -2)).astype(np.float32) / np.sqrt(D)
        s = XP.where(XP.tril(XP.ones((L, L), bool)), s, -np.inf)
        p = XP.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        o = p @ v.astype(np.float32)
        dp = do.astype(np.float32) @ v.astype(np.float32).swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(-1, keepdims=True))
        return o, ds @ k.astype(np.float32), ds.swapaxes(-1, -2) @ q.astype(np.float32), p.swapaxes(-1, -2) @ do
    flops = 4 * B * H * L * L * D * 3.5 * (0.5 if causal else 1)  # fwd 2 matmuls + bwd 5
    return (f"B{B} H{H} L{L} D{D}", flops, "TFLOP/s", fused, ref,
            lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=causal), [tt(q), tt(k), tt(v)])


def linear_case(M, Kd, N):
    from mytorch.kernels import linear as lin
    x, w, b, dy = rand(M, Kd), rand(N, Kd), rand(N), rand(M, N)

    def fused():
        y, pre = lin.linear_fwd(x, w, b, "gelu_tanh")
        lin.linear_bwd(dy, x, w, pre, "gelu_tanh")

    def ref():
        z = x @ w.T + b
        t = XP.tanh(0.7978845608 * (z + 0.044715 * z ** 3))
        y = 0.5 * z * (1 + t)
        dz = dy * (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * 0.7978845608 * (1 + 0.134145 * z * z))
        return y, dz @ w, dz.T @ x, dz.sum(0)
    return (f"{M}x{Kd}x{N}", 6 * M * Kd * N, "TFLOP/s", fused, ref,
            lambda a, ww, bb: F.gelu(F.linear(a, ww, bb), approximate="tanh"), [tt(x), tt(w), tt(b)])


def silu_case(n):
    from mytorch.kernels import activations as act
    x, dy = rand(n), rand(n)

    def fused():
        act.activation_fwd(x, "silu")
        act.activation_bwd(dy, x, "silu")

    def ref():
        s = 1 / (1 + XP.exp(-x))
        return x * s, dy * s * (1 + x * (1 - s))
    return f"{n}", 5 * x.nbytes, "GB/s", fused, ref, F.silu, [tt(x)]


def adamw_case(n):
    from mytorch.kernels import adamw
    p, g, m, v = rand(n), rand(n), XP.zeros(n, np.float32), XP.zeros(n, np.float32)

    def fused():
        adamw.adamw_step(p, g, m, v, step=1)

    def ref():
        p[...] *= 1 - 1e-3 * 1e-2
        m[...] = 0.9 * m + 0.1 * g
        v[...] = 0.999 * v + 0.001 * g * g
        p[...] -= 1e-3 / 0.1 * m / (XP.sqrt(v) / np.sqrt(0.001) + 1e-8)
    tp = tt(p)
    tp.grad = tt(g, grad=False)
    opt = torch.optim.AdamW([tp], foreach=True)

    def torch_step(*_):
        opt.step()
    return f"{n}", 7 * p.nbytes, "GB/s", fused, ref, torch_step, None


def conv2d_case(N, C, HW, O):
    from mytorch.kernels import conv2d
    x, w = rand(N, C, HW, HW), rand(O, C, 3, 3)
    dy = rand(N, O, HW, HW)

    def fused():
        conv2d.conv2d_fwd(x, w, padding=1)
        conv2d.conv2d_bwd(dy, x, w, padding=1)
    flops = 3 * 2 * N * O * HW * HW * C * 9
    return (f"N{N} C{C} {HW}x{HW} O{O}", flops, "TFLOP/s", fused, None,
            lambda a, ww: F.conv2d(a, ww, padding=1), [tt(x), tt(w)])


OPS = {
    "softmax": (softmax_case, [(4, 50), (3, 300)], [(4096, 1024), (4096, 8192), (1024, 32768)]),
    "layer_norm": (layer_norm_case, [(4, 50)], [(4096, 1024), (8192, 4096), (4096, 8192)]),
    "cross_entropy": (cross_entropy_case, [(4, 300)], [(4096, 50304), (8192, 32000)]),
    "flash_attention": (attention_case, [(1, 2, 20, 16)], [(8, 16, 1024, 64), (4, 16, 4096, 64), (2, 16, 8192, 128)]),
    "linear_gelu": (linear_case, [(20, 16, 24)], [(4096, 1024, 4096), (8192, 4096, 4096)]),
    "silu": (silu_case, [(1000,)], [(1 << 20,), (1 << 26,)]),
    "adamw": (adamw_case, [(1000,)], [(1 << 20,), (1 << 26,)]),
    "conv2d": (conv2d_case, [(1, 3, 8, 4)], [(32, 64, 56, 64), (32, 128, 28, 128)]),
}


def main():
    global XP, DEVICE
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow to warm up)")
    ap.add_argument("--reps", type=int, default=None)
    args = ap.parse_args()
    if not K.is_available():
        print("triton cannot run here (no GPU and TRITON_INTERPRET != 1); use --smoke")
        return 1
    XP, DEVICE = array_module()
    reps = args.reps or (1 if args.smoke else 20)
    rows = []
    for op in args.ops.split(","):
        make, smoke_sizes, sizes = OPS[op]
        for size in smoke_sizes if args.smoke else sizes:
            label, work, unit, fused, ref, torch_fn, torch_inputs = make(*size)
            scale = 1e12 if unit == "TFLOP/s" else 1e9
            speed = {}
            speed["fused"] = work / timeit(fused, reps) / scale
            speed["numpy/cupy"] = work / timeit(ref, reps) / scale if ref is not None else float("nan")
            run = torch_fwd_bwd(torch_fn, *torch_inputs) if torch_inputs else torch_fn
            speed["torch"] = work / timeit(run, reps) / scale
            speed["torch.compile"] = float("nan")
            if args.compile and torch_inputs:
                try:
                    speed["torch.compile"] = work / timeit(torch_fwd_bwd(torch.compile(torch_fn), *torch_inputs),
                                                           reps) / scale
                except Exception as e:  # no compiler toolchain, unsupported op...
                    print(f"torch.compile skipped for {op}: {type(e).__name__}")
            rows.append((op, label, unit, speed))
            print(f"{op:16s} {label:24s} " + "  ".join(f"{k} {v:8.3f}" for k, v in speed.items()) + f" {unit}")
    write_results(rows, args.smoke)
    return 0


def write_results(rows, smoke):
    os.makedirs(RESULTS, exist_ok=True)
    name = "kernels_smoke" if smoke else "kernels"
    where = "CPU Triton interpreter (smoke: numbers mean nothing)" if smoke else \
        f"GPU {torch.cuda.get_device_name() if torch.cuda.is_available() else '?'}"
    lines = [f"# Fused kernels, forward + backward ({where})", "",
             "| op | size | unit | fused | numpy/cupy | torch | torch.compile |", "|---|---|---|---|---|---|---|"]
    for op, label, unit, s in rows:
        lines.append(f"| {op} | {label} | {unit} | " + " | ".join(f"{s[k]:.3f}" for k in
                                                                   ("fused", "numpy/cupy", "torch", "torch.compile")) + " |")
    with open(os.path.join(RESULTS, name + ".md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: skipping the plot")
        return
    fig, ax = plt.subplots(figsize=(max(6, len(rows) * 0.9), 4))
    keys = ("fused", "numpy/cupy", "torch", "torch.compile")
    x = np.arange(len(rows))
    for i, k in enumerate(keys):
        ax.bar(x + (i - 1.5) * 0.2, [r[3][k] for r in rows], 0.2, label=k)
    ax.set_xticks(x, [f"{r[0]}\n{r[1]}" for r in rows], rotation=60, fontsize=6)
    ax.set_ylabel("GB/s or TFLOP/s (see table)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, name + ".png"), dpi=120)


if __name__ == "__main__":
    sys.exit(main())
