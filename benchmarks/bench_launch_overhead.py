"""The Python time a kernel launcher spends around its launch: argument checks, output allocation, the
array -> Triton pointer hand-off, grid and config choice. Kernel launches are recorded instead of run
(mytorch.kernels.aot.capture), so what is timed is mytorch's own per-call overhead, not Triton's launcher
(binding and its cache lookup) nor the kernel. Inputs are tiny numpy arrays.

    python benchmarks/bench_launch_overhead.py      # (without TRITON_INTERPRET) -> a table in us per call
"""
import os
import time

import numpy as np


def _cases():
    from mytorch.kernels import (activations, adamw, cross_entropy, dropout, embedding, flash_attention, layer_norm,
                                 rotary, softmax)

    f32 = lambda *shape: np.zeros(shape, np.float32)
    x, w, b = f32(8, 256), f32(256), f32(256)
    y, h, mean, rstd = layer_norm.norm_fwd(x, w, b)
    logits, target = f32(8, 512), np.zeros(8, np.int64)
    q = f32(1, 4, 16, 64)
    out, lse = flash_attention.flash_attention_fwd(q, q, q, causal=True)
    cos, sin = rotary.rotary_cos_sin(16, 64)
    idx, table = np.zeros(16, np.int64), f32(100, 64)
    params = [f32(64, 64) if i % 2 else f32(64) for i in range(50)]
    states = [[f32(*p.shape) for p in params] for _ in range(2)]
    return {
        "softmax_fwd": lambda: softmax.softmax_fwd(x),
        "layer_norm fwd": lambda: layer_norm.norm_fwd(x, w, b),
        "layer_norm bwd": lambda: layer_norm.norm_bwd(x, h, w, mean, rstd, has_bias=True),
        "cross_entropy_fwd": lambda: cross_entropy.cross_entropy_fwd(logits, target),
        "flash_attention_fwd": lambda: flash_attention.flash_attention_fwd(q, q, q, causal=True),
        "flash_attention_bwd": lambda: flash_attention.flash_attention_bwd(q, q, q, q, out, lse, causal=True),
        "activation_fwd (gelu)": lambda: activations.activation_fwd(x, "gelu"),
        "dropout_fwd": lambda: dropout.dropout_fwd(x, 0.1, seed=0),
        "rotary_fwd": lambda: rotary.rotary_fwd(q, cos, sin),
        "embedding_fwd": lambda: embedding.embedding_fwd(idx, table),
        "adamw_multi_step (50 tensors)": lambda: adamw.adamw_multi_step(params, params, *states, step=1),
    }


def measure(repeats=2000):
    """{case: (microseconds per call, kernel launches per call)}."""
    from mytorch.kernels.aot import capture

    results = {}
    with capture() as (launches, _):
        for name, call in _cases().items():
            call()
            n_launches = len(launches)
            call()
            n_launches = len(launches) - n_launches
            best = float("inf")
            for _ in range(5):
                launches.clear()
                start = time.perf_counter()
                for _ in range(repeats // 5):
                    call()
                best = min(best, (time.perf_counter() - start) / (repeats // 5))
            results[name] = (best * 1e6, n_launches)
    return results


def main():
    if os.environ.get("TRITON_INTERPRET") == "1":
        raise SystemExit("run without TRITON_INTERPRET=1: the launches are captured, not interpreted")
    from mytorch import kernels

    pieces = {}
    arr = np.zeros(16, np.float32)
    for name, fn in (("kernels.is_available()", kernels.is_available), ("to_triton(numpy array)", lambda: kernels.to_triton(arr))):
        fn()
        start = time.perf_counter()
        for _ in range(20000):
            fn()
        pieces[name] = (time.perf_counter() - start) / 20000 * 1e6
    print("| launcher (Python part only) | us per call | launches |")
    print("|---|---|---|")
    for name, (us, n) in measure().items():
        print(f"| {name} | {us:.1f} | {n} |")
    for name, us in pieces.items():
        print(f"| {name} | {us:.2f} | - |")


if __name__ == "__main__":
    main()
