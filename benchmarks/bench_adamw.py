"""AdamW step time on the CPU (numpy path) for a GPT with many small parameters, against torch.optim.AdamW.

    python benchmarks/bench_adamw.py [--preset tiny] [--steps 100]

Gradients are fixed random arrays (no forward/backward): this times optimizer.step() alone, the way
configure_optimizers builds it (two groups: decayed matrices, undecayed vectors).
"""
import argparse
import time

import numpy as np


def _time(step, steps):
    for _ in range(5):
        step()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - start) / steps)
    return best * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import threadpoolctl
    import torch

    import mytorch
    from mytorch.models import GPT, GPTConfig

    torch.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads)
    model = GPT(GPTConfig.preset(args.preset))
    params = list(model.parameters())
    rng = np.random.default_rng(0)
    for p in params:
        p.grad = mytorch.tensor(rng.standard_normal(p.shape).astype(np.float32))
    opt = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-3, fused=False)
    n = sum(p.numel() for p in params)
    from mytorch.optim import adam

    ms, ms_flat = [], []
    for _ in range(3):  # interleaved: a shared machine's load changes over seconds
        adam._FLAT_ON_CPU = False
        ms.append(_time(opt.step, args.steps))
        adam._FLAT_ON_CPU = True  # the flat (foreach-style) update that GPU arrays take
        ms_flat.append(_time(opt.step, args.steps))
    adam._FLAT_ON_CPU = False
    ms, ms_flat = min(ms), min(ms_flat)

    tparams = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in params]
    for tp, p in zip(tparams, params):
        tp.grad = torch.tensor(p.grad.numpy())
    groups = [{"params": [t for t in tparams if t.dim() >= 2], "weight_decay": 0.1},
              {"params": [t for t in tparams if t.dim() < 2], "weight_decay": 0.0}]
    results = {}
    for name, kw in (("foreach", dict(foreach=True)), ("for-loop", dict(foreach=False))):
        topt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95), **kw)
        results[name] = _time(topt.step, args.steps)
    print(f"GPT preset {args.preset}: {len(params)} parameter tensors, {n / 1e6:.2f}M parameters, "
          f"{args.threads} thread(s)")
    print(f"mytorch AdamW.step (numpy, per tensor: the CPU default): {ms:.2f} ms")
    print(f"mytorch AdamW.step (numpy, flat buffers: the GPU path): {ms_flat:.2f} ms")
    for name, t in results.items():
        print(f"torch.optim.AdamW {name}: {t:.2f} ms")


if __name__ == "__main__":
    main()
