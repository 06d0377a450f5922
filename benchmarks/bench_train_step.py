"""Time one training step (forward, backward, AdamW) of a small GPT in mytorch and PyTorch.

    python benchmarks/bench_train_step.py                     # dim 128, 2 layers, batch 16 x 64 tokens
    python benchmarks/bench_train_step.py --dim 256 --batch 8 --threads 2
    python benchmarks/bench_train_step.py --profile           # cProfile of the mytorch step

The model is benchmarks/train_parity.build_transformer: embeddings, pre-LN blocks with causal
scaled_dot_product_attention and a GELU MLP, a linear head, cross-entropy loss.
"""
import argparse
import cProfile
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import mytorch  # noqa: E402
from benchmarks.train_parity import build_transformer, text_batches  # noqa: E402


def time_steps(lib, args, profile=False):
    lib.manual_seed(0)
    model = build_transformer(lib, vocab=args.vocab, dim=args.dim, heads=args.heads, ctx=args.ctx)
    opt = lib.optim.AdamW(model.parameters(), lr=1e-3)
    batches = list(text_batches(args.steps + 1, batch=args.batch, ctx=args.ctx, vocab=args.vocab))

    def step(x, y):
        logits = model(lib.tensor(x))
        loss = lib.nn.functional.cross_entropy(logits.reshape(-1, args.vocab), lib.tensor(y).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    step(*batches[0])  # warm-up
    if profile:
        prof = cProfile.Profile()
        prof.enable()
    start = time.perf_counter()
    for x, y in batches[1:]:
        step(x, y)
    elapsed = (time.perf_counter() - start) / args.steps
    if profile:
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ctx", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch intra-op threads")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    mine = time_steps(mytorch, args, args.profile)
    ref = time_steps(torch, args)
    print(f"GPT step (dim={args.dim}, batch={args.batch}x{args.ctx}): mytorch {mine * 1e3:.1f} ms, "
          f"torch {ref * 1e3:.1f} ms, mytorch/torch = {mine / ref:.2f}x")


if __name__ == "__main__":
    main()
