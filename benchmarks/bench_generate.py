"""Greedy decoding speed of a small GPT with and without the KV cache, at two prompt lengths.

    python benchmarks/bench_generate.py                       # 4 layers, 128 wide, prompts of 64 and 512
    python benchmarks/bench_generate.py --new 64 --pos rope --out ''   # print only
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_generate.py         # steadier on a busy machine

tokens/s counts the new tokens only, timed after the first one (which includes the prompt's prefill);
the best of --repeats runs is reported (the least disturbed by other load on the machine).
With the cache a step runs the model on one token, so its cost barely depends on the prompt length;
without it every step re-runs the whole context.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import mytorch  # noqa: E402
from mytorch.models import GPT, GPTConfig  # noqa: E402


def decode_rate(model, prompt_len, new_tokens, use_cache):
    prompt = mytorch.randint(0, model.config.vocab_size, (1, prompt_len))
    start = None
    count = 0
    t0 = time.perf_counter()
    for _ in model.stream(prompt, new_tokens + 1, temperature=0, use_cache=use_cache):
        if start is None:
            prefill, start = time.perf_counter() - t0, time.perf_counter()  # first token: prefill + 1 step
            continue
        count += 1
    return count / (time.perf_counter() - start), prefill


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--pos", default="learned", help="pos_encoding: learned | rope | alibi | ...")
    p.add_argument("--prompts", default="64,512")
    p.add_argument("--new", type=int, default=32, help="new tokens timed per run")
    p.add_argument("--repeats", type=int, default=3, help="runs per setting; the fastest is reported")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "generate_cpu.txt"))
    args = p.parse_args()
    prompts = [int(n) for n in args.prompts.split(",")]
    mytorch.manual_seed(0)
    config = GPTConfig(vocab_size=args.vocab, context_length=max(prompts) + args.new + 1, n_layer=args.layers,
                       n_head=args.heads, n_embd=args.dim, pos_encoding=args.pos)
    model = GPT(config).eval()
    lines = [f"# greedy decoding, batch 1, {args.layers} layers, n_embd {args.dim}, {args.heads} heads, vocab "
             f"{args.vocab}, pos_encoding {args.pos}, {model.num_params() / 1e6:.2f}M params, {args.new} new tokens, "
             f"best of {args.repeats}",
             f"# cpu threads: {os.cpu_count()}, "
             f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
             f"load average {os.getloadavg()[0]:.1f} (on a shared machine, numbers are noisy)",
             f"{'prompt':>8} {'cache':>6} {'tokens/s':>10} {'prefill+1 (s)':>14}"]
    print("\n".join(lines), flush=True)
    decode_rate(model, 8, 4, True)  # warm-up
    for use_cache in (True, False):
        for n in prompts:
            runs = [decode_rate(model, n, args.new, use_cache) for _ in range(args.repeats)]
            rate, prefill = max(r for r, _ in runs), min(p for _, p in runs)
            lines.append(f"{n:>8} {'yes' if use_cache else 'no':>6} {rate:>10.1f} {prefill:>14.3f}")
            print(lines[-1], flush=True)
    if args.out:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
