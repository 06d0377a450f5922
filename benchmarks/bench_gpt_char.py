"""Train the CPU Shakespeare GPT (configs/shakespeare_char_cpu.yaml) in mytorch and in PyTorch, side by side.

    python benchmarks/bench_gpt_char.py                       # 2000 steps, the quality-bar run
    python benchmarks/bench_gpt_char.py --steps 200 --threads 1
    python benchmarks/bench_gpt_char.py --steps 3 --eval_batches 2 --log_every 1   # smoke test

Both sides get the same model (mytorch.models.GPT, mirrored in PyTorch below with the same parameter
names), the same initial weights (mytorch's init copied into PyTorch), the same batches, the same
warmup + cosine schedule, AdamW with the same parameter groups, and the same number of BLAS / intra-op
threads. Steps alternate between the libraries, so both see the same machine load; each side's time
counts only its own steps (forward, backward, clipping, optimizer). The validation loss is the mean
over the same held-out batches.
"""
import argparse
import math
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
    args = p.parse_args(argv)
    if not os.path.isfile(args.corpus):
        p.error(f"--corpus {args.corpus}: not found (tiny Shakespeare text file)")

    import torch
    from threadpoolctl import threadpool_limits

    threads = args.threads or blas_threads()
    torch_threads, mine_threads = torch.get_num_threads(), mytorch.get_num_threads()
    # PyTorch's intra-op pool, and mytorch's (its compiled bodies, its GEMMs and numpy's BLAS): the same count
    torch.set_num_threads(threads)
    mytorch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):  # BLAS libraries loaded later (scipy's) too
            return run(args, torch, threads)
    finally:
        torch.set_num_threads(torch_threads)
        mytorch.set_num_threads(mine_threads)


def run(args, torch, threads):
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
    mytorch.manual_seed(args.seed)
    mine_model = GPT(cfg)
    torch_model = torch_gpt(torch, cfg)
    copy_weights(mine_model, torch_model, torch)
    betas = (0.9, 0.99)
    mine = Trainer(mytorch, mine_model, mine_model.configure_optimizers(args.weight_decay, args.lr, betas=betas),
                   args)
    ref = Trainer(torch, torch_model, torch_optimizer(torch, torch_model, args.lr, args.weight_decay, betas), args)

    load_before = os.getloadavg()
    print(f"GPT char-level tiny Shakespeare: {args.n_layer} layers, {args.n_head} heads, {args.n_embd} wide, "
          f"context {args.context}, batch {args.batch}, {mine_model.num_params() / 1e6:.2f}M parameters, "
          f"{args.steps} steps, lr {args.lr} -> {args.min_lr} (warmup {args.warmup}, cosine), AdamW "
          f"betas {betas}, weight decay {args.weight_decay}, grad clip 1.0")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.2f} at start | threads: {threads} for numpy BLAS (mytorch) and torch "
          f"| mytorch {mytorch.__version__}, torch {torch.__version__}, numpy {np.__version__}")
    print(f"{'step':>6} {'mytorch loss':>13} {'torch loss':>11} {'mytorch s':>10} {'torch s':>8}")
    for step in range(args.steps):
        x, y = batch(train)
        # alternate which library goes first so neither always gets the warmer cache
        for trainer in ((mine, ref) if step % 2 == 0 else (ref, mine)):
            trainer.step(step, x, y)
        if step % args.log_every == 0 or step == args.steps - 1:
            print(f"{step:>6} {mine.losses[-1]:>13.4f} {ref.losses[-1]:>11.4f} {mine.seconds:>10.1f} "
                  f"{ref.seconds:>8.1f}", flush=True)

    mine_val, ref_val = mine.val_loss(val_batches), ref.val_loss(val_batches)
    load_after = os.getloadavg()
    print()
    print(f"{'':>10} {'steps/s':>8} {'train s':>8} {'val loss':>9}")
    print(f"{'mytorch':>10} {args.steps / mine.seconds:>8.2f} {mine.seconds:>8.1f} {mine_val:>9.4f}")
    print(f"{'torch':>10} {args.steps / ref.seconds:>8.2f} {ref.seconds:>8.1f} {ref_val:>9.4f}")
    print(f"mytorch time / torch time = {mine.seconds / ref.seconds:.2f}x; first-step loss difference "
          f"{abs(mine.losses[0] - ref.losses[0]):.2e}; load average {load_before[0]:.2f} -> {load_after[0]:.2f} "
          f"(above {os.cpu_count()} means the CPUs were shared with other work)")
    return {"mytorch": (mine.seconds, mine_val, mine.losses), "torch": (ref.seconds, ref_val, ref.losses)}


if __name__ == "__main__":
    main()
