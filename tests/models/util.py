"""Helpers shared by the model tests."""
import numpy as np

import mytorch
from mytorch.models import GPT, GPTConfig

TINY = dict(vocab_size=100, context_length=16, n_layer=2, n_head=4, n_embd=32)

# every block option, one config each (names are pytest ids)
OPTIONS = {
    "gpt2": dict(),
    "sinusoidal": dict(pos_encoding="sinusoidal"),
    "rope": dict(pos_encoding="rope"),
    "alibi": dict(pos_encoding="alibi"),
    "nope": dict(pos_encoding="none"),
    "rmsnorm": dict(norm="rmsnorm"),
    "swiglu": dict(mlp="swiglu"),
    "gqa": dict(n_kv_heads=2),
    "mqa-rope": dict(n_kv_heads=1, pos_encoding="rope"),
    "window-learned": dict(sliding_window=5),
    "window-rope-gqa": dict(sliding_window=5, pos_encoding="rope", n_kv_heads=2),
    "window-alibi": dict(sliding_window=4, pos_encoding="alibi"),
    "llama": dict(pos_encoding="rope", norm="rmsnorm", mlp="swiglu", n_kv_heads=2, bias=False, tie_weights=False),
}


def tiny_model(std=0.3, seed=0, **overrides):
    """A tiny GPT whose weights are large enough (std) that attention and greedy choices are decisive."""
    mytorch.manual_seed(seed)
    model = GPT(GPTConfig(**{**TINY, **overrides}))
    with mytorch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.normal_(0.0, std)
    return model.eval()


def tokens(batch, length, vocab=100, seed=0):
    return mytorch.tensor(np.random.default_rng(seed).integers(0, vocab, (batch, length)))
