"""GPT: a decoder-only transformer. With the default config it is OpenAI's GPT-2 (pre-LayerNorm blocks,
learned positions, tanh GELU, tied embeddings); GPTConfig swaps in RoPE / ALiBi / sinusoidal positions,
RMSNorm, SwiGLU, grouped-query and sliding-window attention (the Llama family)."""
import math

from .. import nn
from ..nn.functional.loss import _cross_entropy
from ..ops.factory import arange
from .config import GPTConfig
from .layers import MLP, ALiBi, CausalSelfAttention, Rotary, SinusoidalPositions, SwiGLUMLP, make_norm


class Block(nn.Module):
    def __init__(self, config, rotary=None, alibi=None):
        super().__init__()
        self.ln_1 = make_norm(config)
        self.attn = CausalSelfAttention(config, rotary, alibi)
        self.ln_2 = make_norm(config)
        self.mlp = SwiGLUMLP(config) if config.mlp == "swiglu" else MLP(config)

    def forward(self, x, start=0, cache=None):
        x = x + self.attn(self.ln_1(x), start, cache)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT expects a GPTConfig, got {type(config).__name__}")
        self.config = c = config
        rotary = None
        if c.pos_encoding == "rope":
            rotary = Rotary(c.head_dim, c.context_length, c.rope_theta, c.rope_scaling, c.fused)
        alibi = ALiBi(c.n_head) if c.pos_encoding == "alibi" else None
        parts = dict(wte=nn.Embedding(c.vocab_size, c.n_embd, fused=c.fused))
        if c.pos_encoding == "learned":
            parts["wpe"] = nn.Embedding(c.context_length, c.n_embd, fused=c.fused)
        elif c.pos_encoding == "sinusoidal":
            parts["wpe"] = SinusoidalPositions(c.context_length, c.n_embd)
        parts["drop"] = nn.Dropout(c.dropout)
        parts["h"] = nn.ModuleList([Block(c, rotary, alibi) for _ in range(c.n_layer)])
        parts["ln_f"] = make_norm(c)
        self.transformer = nn.ModuleDict(parts)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.lm_head.weight = self.transformer.wte.weight
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: residual projections scaled by 1/sqrt(2 * n_layer)
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def hidden_states(self, idx, kv_cache=None):
        """idx (B, T) token ids -> final-norm hidden states (B, T, n_embd). With a KVCache, idx continues
        the tokens the cache has seen (positions kv_cache.pos onwards) and the cache is extended."""
        if idx.ndim != 2:
            raise ValueError(f"GPT expects token ids of shape (B, T), got {list(idx.shape)}")
        B, T = idx.shape
        c = self.config
        start = 0 if kv_cache is None else kv_cache.pos
        if "wpe" in self.transformer and start + T > c.context_length:  # absolute positions end there
            raise ValueError(f"GPT: {T} tokens from position {start} do not fit context_length "
                             f"{c.context_length} (pos_encoding={c.pos_encoding!r}); crop the input")
        x = self.transformer.wte(idx)
        if "wpe" in self.transformer:
            x = x + self.transformer.wpe(arange(start, start + T, device=idx.device))
        x = self.transformer.drop(x)
        for i, block in enumerate(self.transformer.h):
            x = block(x, start, None if kv_cache is None else kv_cache.layers[i])
        if kv_cache is not None:
            kv_cache.pos += T
        return self.transformer.ln_f(x)

    def forward(self, idx, targets=None, kv_cache=None):
        """Returns (logits (B, T, vocab), loss); loss is None without targets; targets of -1 are ignored."""
        logits = self.lm_head(self.hidden_states(idx, kv_cache))
        loss = None
        if targets is not None:
            loss = _cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1,
                                  fused=self.config.fused)
        return logits, loss

    # --- training helpers -------------------------------------------------------------------------------
    def num_params(self, non_embedding=True):
        """Parameter count (tied weights once). non_embedding drops the lookup tables that do no matmul:
        position embeddings, and the token embedding too when it is not tied to lm_head."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            if "wpe" in self.transformer:
                n -= sum(p.numel() for p in self.transformer.wpe.parameters())
            if not self.config.tie_weights:
                n -= self.transformer.wte.weight.numel()
        return n

    def configure_optimizers(self, weight_decay, learning_rate, betas=(0.9, 0.95), eps=1e-8, fused=None):
        """AdamW; weight decay only on >= 2-D weights (matmuls, embeddings), not on biases or norm gains."""
        from ..optim import AdamW

        params = [p for p in self.parameters() if p.requires_grad]
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        return AdamW(groups, lr=learning_rate, betas=betas, eps=eps, fused=fused)

    def estimate_mfu(self, tokens_per_s, device=None):
        """Model flops utilization: achieved flops / peak flops (PaLM, appendix B; as in nanoGPT).
        flops per token = 6 N + 12 L H Q T (T capped by the sliding window). device: a peak flops number,
        a GPU name ("H100", "A100", ...), a device, or None (this model's device). None on a CPU."""
        from .pretrained import peak_flops

        c = self.config
        span = min(c.context_length, c.sliding_window or c.context_length)
        flops_per_token = 6 * self.num_params() + 12 * c.n_layer * c.n_head * c.head_dim * span
        peak = peak_flops(self.lm_head.weight.device if device is None else device)
        return None if peak is None else flops_per_token * tokens_per_s / peak

    # --- generation and checkpoints (generation.py, pretrained.py) --------------------------------------
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0,
                 stop_tokens=None, seed=None, use_cache=True):
        """idx (B, T) -> (B, T + new) LongTensor; see mytorch.models.generation.generate."""
        from .generation import generate

        return generate(self, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty, stop_tokens,
                        seed, use_cache)

    def stream(self, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0,
               stop_tokens=None, seed=None, use_cache=True):
        """Yields each new token as it is sampled: an int for batch 1, else a (B,) LongTensor."""
        from .generation import stream

        return stream(self, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty, stop_tokens,
                      seed, use_cache)

    @classmethod
    def from_pretrained(cls, name_or_dir, cache_dir=None, **overrides):
        """A Hugging Face GPT-2 / Llama checkpoint (dir or cached hub name) or a mytorch dir, in eval mode;
        overrides set GPTConfig fields that do not change the weights' shapes (fused, dropout, ...)."""
        from .pretrained import from_pretrained

        return from_pretrained(name_or_dir, cache_dir, **overrides)

    def save_pretrained(self, save_directory):
        """Writes config.json ("model_type": "mytorch-gpt") and model.safetensors."""
        from .pretrained import save_pretrained

        save_pretrained(self, save_directory)
