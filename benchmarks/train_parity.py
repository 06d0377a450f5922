"""Train the same small CNN and small transformer in mytorch and PyTorch from the same initial
weights on the same batches, and print both loss curves side by side.

    python benchmarks/train_parity.py --steps 300

The test suite runs a shorter version (tests/test_training_parity.py).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import mytorch  # noqa: E402


def build_cnn(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4))


def build_transformer(lib, vocab=32, dim=32, heads=4, ctx=16, gelu="tanh"):
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(dim)
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)
            self.ln2 = nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(approximate=gelu), nn.Linear(4 * dim, dim))

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=-1)
            q, k, v = (t.view(B, T, heads, C // heads).transpose(1, 2) for t in (q, k, v))
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(att.transpose(1, 2).reshape(B, T, C))
            return x + self.mlp(self.ln2(x))

    class TinyGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, dim)
            self.pos = nn.Embedding(ctx, dim)
            self.blocks = nn.ModuleList([Block(), Block()])
            self.ln_f = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, vocab, bias=False)

        def forward(self, idx):
            T = idx.shape[1]
            x = self.tok(idx) + self.pos(lib.arange(T))
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    return TinyGPT()


def copy_weights(torch_model, my_model):
    state = {k: mytorch.tensor(v.detach().numpy()) for k, v in torch_model.state_dict().items()}
    my_model.load_state_dict(state)


def cnn_batches(steps, batch=16, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        y = rng.integers(0, 4, batch)
        x = rng.standard_normal((batch, 1, 12, 12)).astype(np.float32) * 0.5
        x[np.arange(batch), 0, y * 3, :] += 2.0  # class = which row band is bright
        yield x, y


def text_batches(steps, batch=8, ctx=16, vocab=32, seed=0):
    path = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "tinyshakespeare.txt")
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = np.frombuffer(f.read(200_000), dtype=np.uint8) % vocab
    else:  # no corpus beside the checkout: a learnable synthetic sequence (a noisy repeating pattern)
        rng = np.random.default_rng(1)
        data = (np.arange(200_000) * 5 % 23 + (rng.random(200_000) < 0.1) * rng.integers(0, vocab, 200_000))
        data = (data % vocab).astype(np.uint8)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        starts = rng.integers(0, len(data) - ctx - 1, batch)
        x = np.stack([data[s:s + ctx] for s in starts]).astype(np.int64)
        y = np.stack([data[s + 1:s + ctx + 1] for s in starts]).astype(np.int64)
        yield x, y


def train(lib, model, batches, make_opt, loss_fn):
    opt = make_opt(lib, model)
    losses = []
    model.train()
    for x, y in batches:
        logits = model(lib.tensor(x))
        loss = loss_fn(lib, logits, lib.tensor(y))
        opt.zero_grad()
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return losses


def run_cnn(steps):
    import torch

    torch.manual_seed(0)
    ref = build_cnn(torch)
    mine = build_cnn(mytorch)
    copy_weights(ref, mine)

    def opt(lib, m):
        return lib.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)

    def loss(lib, logits, y):
        return lib.nn.functional.cross_entropy(logits, y)

    return train(mytorch, mine, cnn_batches(steps), opt, loss), train(torch, ref, cnn_batches(steps), opt, loss)


def run_transformer(steps):
    import torch

    torch.manual_seed(0)
    ref = build_transformer(torch)
    mine = build_transformer(mytorch)
    copy_weights(ref, mine)

    def opt(lib, m):
        return lib.optim.AdamW(m.parameters(), lr=3e-3, weight_decay=0.1)

    def loss(lib, logits, y):
        return lib.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    return (train(mytorch, mine, text_batches(steps), opt, loss),
            train(torch, ref, text_batches(steps), opt, loss))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    for name, run in (("cnn", run_cnn), ("transformer", run_transformer)):
        mine, ref = run(args.steps)
        print(f"\n{name}: step  mytorch   torch")
        for i in list(range(0, args.steps, max(1, args.steps // 10))) + [args.steps - 1]:
            print(f"{name}: {i:5d}  {mine[i]:.4f}  {ref[i]:.4f}")
        print(f"{name}: max |diff| over {args.steps} steps = {max(abs(a - b) for a, b in zip(mine, ref)):.2e}")


if __name__ == "__main__":
    main()
