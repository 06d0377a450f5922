"""Train the CPU Shakespeare GPT (configs/shakespeare_char_cpu.yaml) in mytorch and in PyTorch, side by side.

    python benchmarks/bench_gpt_char.py                       # 2000 steps, the quality-bar run
    python benchmarks/bench_gpt_char.py --steps 200 --threads 1
    python benchmarks/bench_gpt_char.py --steps 300 --threads 2 --separate   # each library in its own process
    python benchmarks/bench_gpt_char.py --steps 3 --eval_batches 2 --log_every 1   # smoke test

Both sides get the same model (mytorch.models.GPT, mirrored in PyTorch below with the same parameter
names), the same initial weights (mytorch's init copied into PyTorch), the same batches, the same
warmup + cosine schedule, AdamW with the same parameter groups, and the same number of BLAS / intra-op
threads. Steps alternate between the libraries, so both see the same machine load; each side's time
counts only its own steps (forward, backward, clipping, optimizer). The validation loss is the mean
over the same held-out batches. mytorch's compiled bodies are loaded before the first step, as PyTorch's
kernels are. With more than one thread, alternating in one process shares one OpenMP pool between the two
libraries (PyTorch's spins long; mytorch then keeps its bodies to one thread): `--separate` trains each
library in its own fresh process instead, on the same batches.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

import mytorch  # noqa: E402
from train_gpt2 import lr_multiplier  # noqa: E402

DEFAULT_CORPUS = os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt")


def torch_gpt(torch, cfg):
    """GPT-2's architecture in PyTorch with mytorch.models.GPT's parameter names (learned positions,
    pre-LayerNorm blocks, tanh-GELU MLP, lm_head tied to the token embedding)."""
    nn, F = torch.nn, torch.nn.functional

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
            self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = (t.view(B, T, cfg.n_head, C // cfg.n_head).transpose(1, 2)
                       for t in self.c_attn(x).split(C, dim=2))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).reshape(B, T, C))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(cfg.n_embd, cfg.mlp_hidden, bias=cfg.bias)
            self.c_proj = nn.Linear(cfg.mlp_hidden, cfg.n_embd, bias=cfg.bias)

        def forward(self, x):
            return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.norm_eps, bias=cfg.bias)
            self.attn = Attention()
            self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.norm_eps, bias=cfg.bias)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(cfg.vocab_size, cfg.n_embd), wpe=nn.Embedding(cfg.context_length, cfg.n_embd),
                h=nn.ModuleList(Block() for _ in range(cfg.n_layer)),
                ln_f=nn.LayerNorm(cfg.n_embd, eps=cfg.norm_eps, bias=cfg.bias)))
            self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
            self.lm_head.weight = self.transformer.wte.weight

        def forward(self, idx, targets):
            pos = torch.arange(idx.shape[1], device=idx.device)
            x = self.transformer.wte(idx) + self.transformer.wpe(pos)
            for block in self.transformer.h:
                x = block(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            return logits, F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))

    return GPT()


def copy_weights(src, dst, torch):
    """mytorch model -> PyTorch model, by parameter name; the two must have the same names and shapes."""
    mine = {k: v.detach().numpy() for k, v in src.state_dict().items()}
    theirs = dst.state_dict()
    missing, extra = set(theirs) - set(mine), set(mine) - set(theirs)
    if missing or extra:
        raise RuntimeError(f"parameter names differ: PyTorch-only {sorted(missing)}, mytorch-only {sorted(extra)}")
    with torch.no_grad():
        for name, tensor in theirs.items():
            if tuple(tensor.shape) != mine[name].shape:
                raise RuntimeError(f"{name}: mytorch shape {mine[name].shape}, PyTorch {tuple(tensor.shape)}")
            tensor.copy_(torch.from_numpy(mine[name].copy()))


def torch_optimizer(torch, model, lr, weight_decay, betas):
    """AdamW with GPT.configure_optimizers' groups: decay matrices/embeddings, not biases or norm weights."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                             lr=lr, betas=betas, eps=1e-8)


class Trainer:
    """One library's model, optimizer and step loop, timed."""

    def __init__(self, lib, model, optimizer, args):
        self.lib, self.model, self.optimizer, self.args = lib, model, optimizer, args
        self.seconds, self.losses = 0.0, []

    def step(self, step, x, y):
        lib, args = self.lib, self.args
        start = time.perf_counter()
        lr = args.lr * lr_multiplier(step, args.warmup, args.steps, args.min_lr / args.lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        _, loss = self.model(lib.from_numpy(x), lib.from_numpy(y))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.losses.append(loss.item())
        self.seconds += time.perf_counter() - start

    def val_loss(self, batches):
        self.model.eval()
        with self.lib.no_grad():
            losses = [self.model(self.lib.from_numpy(x), self.lib.from_numpy(y))[1].item() for x, y in batches]
        self.model.train()
        return sum(losses) / len(losses)


def blas_threads():
    from threadpoolctl import threadpool_info
    counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(counts) if counts else 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=DEFAULT_CORPUS, help="tinyshakespeare.txt")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--n_layer", type=int, default=4)
    p.add_argument("--n_head", type=int, default=4)
    p.add_argument("--n_embd", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min_lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight_decay", type=float, default=0.1)
    p.add_argument("--eval_batches", type=int, default=50, help="validation batches for the final loss")
    p.add_argument("--threads", type=int, default=None, help="threads for both (default: numpy's BLAS threads)")
    p.add_argument("--log_every", type=int, default=250)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--separate", action="store_true",
                   help="each library in its own fresh process (one after the other) instead of alternating steps")
    p.add_argument("--child", choices=["mytorch", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not os.path.isfile(args.corpus):
        p.error(f"--corpus {args.corpus}: not found (tiny Shakespeare text file)")
    threads = args.threads or blas_threads()
    if args.separate and not args.child:
        return separate(args, argv if argv is not None else sys.argv[1:], threads)

    from threadpoolctl import threadpool_limits

    if args.child == "mytorch":  # a process without PyTorch (its OpenMP pool would be shared with mytorch's)
        mytorch.set_num_threads(threads)
        with threadpool_limits(threads):
            return child(args, None, threads)
    import torch

    torch_threads, mine_threads = torch.get_num_threads(), mytorch.get_num_threads()
    # PyTorch's intra-op pool, and mytorch's (its compiled bodies, its GEMMs and numpy's BLAS): the same count
    torch.set_num_threads(threads)
    mytorch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):  # BLAS libraries loaded later (scipy's) too
            if args.child:
                return child(args, torch, threads)
            return run(args, torch, threads)
    finally:
        torch.set_num_threads(torch_threads)
        mytorch.set_num_threads(mine_threads)


def setup(args, torch):
    """The corpus split, the batch sampler, the validation batches, and both models from the same weights."""
    from mytorch.models import GPT, GPTConfig
    from mytorch.tokenizers import CharTokenizer

    with open(args.corpus) as f:
        text = f.read()
    tokenizer = CharTokenizer.from_text(text)
    data = np.array(tokenizer.encode(text), dtype=np.int64)
    train, val = data[:int(0.9 * len(data))], data[int(0.9 * len(data)):]
    rng = np.random.default_rng(args.seed)

    def batch(source):
        starts = rng.integers(0, len(source) - args.context - 1, size=args.batch)
        return (np.stack([source[s:s + args.context] for s in starts]),
                np.stack([source[s + 1:s + 1 + args.context] for s in starts]))

    val_batches = [batch(val) for _ in range(args.eval_batches)]
    cfg = GPTConfig(vocab_size=tokenizer.vocab_size, context_length=args.context, n_layer=args.n_layer,
                    n_head=args.n_head, n_embd=args.n_embd, dropout=0.0)
    mytorch.cpu_kernels.warm_up()  # compiled (or loaded from disk) now: the library's code, as torch's .so files
    mytorch.manual_seed(args.seed)
    mine_model = GPT(cfg)
    betas = (0.9, 0.99)
    mine = Trainer(mytorch, mine_model, mine_model.configure_optimizers(args.weight_decay, args.lr, betas=betas),
                   args)
    ref = None  # torch None: a mytorch-only process
    if torch is not None:
        torch_model = torch_gpt(torch, cfg)
        copy_weights(mine_model, torch_model, torch)
        ref = Trainer(torch, torch_model, torch_optimizer(torch, torch_model, args.lr, args.weight_decay, betas),
                      args)
    print(f"GPT char-level tiny Shakespeare: {args.n_layer} layers, {args.n_head} heads, {args.n_embd} wide, "
          f"context {args.context}, batch {args.batch}, {mine_model.num_params() / 1e6:.2f}M parameters, "
          f"{args.steps} steps, lr {args.lr} -> {args.min_lr} (warmup {args.warmup}, cosine), AdamW "
          f"betas {betas}, weight decay {args.weight_decay}, grad clip 1.0")
    return (lambda: batch(train)), val_batches, mine, ref


def _machine(threads, torch):
    versions = f"mytorch {mytorch.__version__}" + (f", torch {torch.__version__}" if torch is not None else "")
    return (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.2f} at start | threads: {threads} for each library | {versions}, "
            f"numpy {np.__version__}")


def run(args, torch, threads):
    next_batch, val_batches, mine, ref = setup(args, torch)
    load_before = os.getloadavg()
    print(_machine(threads, torch))
    print(f"{'step':>6} {'mytorch loss':>13} {'torch loss':>11} {'mytorch s':>10} {'torch s':>8}")
    for step in range(args.steps):
        x, y = next_batch()
        # alternate which library goes first so neither always gets the warmer cache
        for trainer in ((mine, ref) if step % 2 == 0 else (ref, mine)):
            trainer.step(step, x, y)
        if step % args.log_every == 0 or step == args.steps - 1:
            print(f"{step:>6} {mine.losses[-1]:>13.4f} {ref.losses[-1]:>11.4f} {mine.seconds:>10.1f} "
                  f"{ref.seconds:>8.1f}", flush=True)
    result = {"mytorch": (mine.seconds, mine.val_loss(val_batches), mine.losses),
              "torch": (ref.seconds, ref.val_loss(val_batches), ref.losses)}
    report(args, result, load_before, "steps alternating in one process")
    return result


def child(args, torch, threads):
    """--separate: train one library (the other's model only supplies the same initial weights)."""
    next_batch, val_batches, mine, ref = setup(args, torch)
    trainer = mine if args.child == "mytorch" else ref
    if trainer is ref:  # mytorch's model only gave PyTorch's its weights
        del mine.model, mine.optimizer
    print(_machine(threads, torch))
    for step in range(args.steps):
        x, y = next_batch()
        trainer.step(step, x, y)
        if step % args.log_every == 0 or step == args.steps - 1:
            print(f"{args.child} step {step:>6} loss {trainer.losses[-1]:.4f} {trainer.seconds:.1f} s", flush=True)
    print(json.dumps({"seconds": trainer.seconds, "val": trainer.val_loss(val_batches), "losses": trainer.losses}))


def separate(args, argv, threads):
    """Each library trains in its own fresh process, one after the other (the PyTorch process builds mytorch's
    model too, for its initial weights; the mytorch one never imports PyTorch), neither's memory, caches
    and thread pool in the other's way."""
    import subprocess

    load_before = os.getloadavg()
    result = {}
    for name in ("mytorch", "torch"):
        cmd = [sys.executable, os.path.abspath(__file__), *argv, "--threads", str(threads), "--child", name]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(f"{name} process failed:\n{res.stderr[-3000:]}")
        lines = res.stdout.strip().splitlines()
        print("\n".join(line for line in lines[:-1] if not line.startswith("GPT char") or name == "mytorch"))
        out = json.loads(lines[-1])
        result[name] = (out["seconds"], out["val"], out["losses"])
    report(args, result, load_before, "each library in its own process")
    return result


def report(args, result, load_before, how):
    (mine_s, mine_val, mine_losses), (ref_s, ref_val, ref_losses) = result["mytorch"], result["torch"]
    load_after = os.getloadavg()
    print()
    print(f"{'':>10} {'steps/s':>8} {'train s':>8} {'val loss':>9}   ({how})")
    print(f"{'mytorch':>10} {args.steps / mine_s:>8.2f} {mine_s:>8.1f} {mine_val:>9.4f}")
    print(f"{'torch':>10} {args.steps / ref_s:>8.2f} {ref_s:>8.1f} {ref_val:>9.4f}")
    print(f"mytorch time / torch time = {mine_s / ref_s:.2f}x; first-step loss difference "
          f"{abs(mine_losses[0] - ref_losses[0]):.2e}; load average {load_before[0]:.2f} -> {load_after[0]:.2f} "
          f"(above {os.cpu_count()} means the CPUs were shared with other work)")


if __name__ == "__main__":
    main()
