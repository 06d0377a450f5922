"""GPTConfig: every choice of the GPT family in one dataclass, plus named presets."""
import dataclasses
import math
from dataclasses import dataclass

POS_ENCODINGS = ("learned", "sinusoidal", "rope", "alibi", "none")
NORMS = ("layernorm", "rmsnorm")
MLPS = ("gelu", "swiglu")


@dataclass
class GPTConfig:
    vocab_size: int = 50304  # GPT-2's 50257 padded up to a multiple of 64
    context_length: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    n_kv_heads: int = None  # None: n_head (multi-head); fewer: grouped-query attention
    dropout: float = 0.0
    bias: bool = True  # biases in Linear layers and LayerNorm
    pos_encoding: str = "learned"  # learned | sinusoidal | rope | alibi | none
    norm: str = "layernorm"  # layernorm | rmsnorm
    mlp: str = "gelu"  # gelu (4x, tanh GELU) | swiglu
    mlp_hidden: int = None  # None: 4 * n_embd for gelu, 8/3 * n_embd rounded up to 64 for swiglu
    sliding_window: int = None  # None: full causal attention; W: each token sees itself and W - 1 before
    rope_theta: float = 10000.0
    rope_scaling: dict = None  # None, {"rope_type": "linear", "factor": f} or Llama 3's "llama3" parameters
    norm_eps: float = 1e-5
    tie_weights: bool = True  # lm_head shares the token embedding
    fused: bool = False  # Triton kernels: flash attention, LayerNorm/RMSNorm, GELU, SwiGLU, RoPE, cross-entropy

    def __post_init__(self):
        if self.n_kv_heads is None:
            self.n_kv_heads = self.n_head
        if self.mlp_hidden is None:
            self.mlp_hidden = 4 * self.n_embd if self.mlp == "gelu" else 64 * math.ceil(8 * self.n_embd / 3 / 64)
        for name, allowed in (("pos_encoding", POS_ENCODINGS), ("norm", NORMS), ("mlp", MLPS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"GPTConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig: n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.n_head % self.n_kv_heads:
            raise ValueError(f"GPTConfig: n_head ({self.n_head}) must be a multiple of n_kv_heads "
                             f"({self.n_kv_heads})")
        if self.pos_encoding == "rope" and self.head_dim % 2:
            raise ValueError(f"GPTConfig: rope needs an even head dim, got {self.head_dim}")
        if self.rope_scaling is not None and self.rope_scaling.get("rope_type") not in ("linear", "llama3"):
            raise ValueError(f"GPTConfig.rope_scaling: rope_type must be 'linear' or 'llama3', got "
                             f"{self.rope_scaling.get('rope_type')!r}")
        if self.sliding_window is not None and self.sliding_window < 1:
            raise ValueError(f"GPTConfig.sliding_window must be None or >= 1, got {self.sliding_window}")

    @property
    def head_dim(self):
        return self.n_embd // self.n_head

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        """Unknown keys (e.g. "model_type" in a checkpoint's config.json) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def preset(cls, name, **overrides):
        if name not in PRESETS:
            raise ValueError(f"unknown GPT preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})


_GPT2 = dict(vocab_size=50257, context_length=1024, bias=True, tie_weights=True)
_LLAMA = dict(pos_encoding="rope", norm="rmsnorm", mlp="swiglu", bias=False, tie_weights=False)
PRESETS = {
    # OpenAI's GPT-2 checkpoints (from_pretrained("gpt2") loads the weights)
    "gpt2": dict(_GPT2, n_layer=12, n_head=12, n_embd=768),  # 124M
    "gpt2-medium": dict(_GPT2, n_layer=24, n_head=16, n_embd=1024),  # 350M
    "gpt2-large": dict(_GPT2, n_layer=36, n_head=20, n_embd=1280),  # 774M
    "gpt2-xl": dict(_GPT2, n_layer=48, n_head=25, n_embd=1600),  # 1558M
    # small CPU models for character-level Shakespeare (vocab 65; override vocab_size for other tokenizers)
    "tiny": dict(vocab_size=65, context_length=64, n_layer=4, n_head=4, n_embd=128),
    "small": dict(vocab_size=65, context_length=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2),
    # Llama-style: RoPE + RMSNorm + SwiGLU + grouped-query attention, no biases, untied head
    "llama-tiny": dict(_LLAMA, vocab_size=65, context_length=64, n_layer=4, n_head=4, n_kv_heads=2, n_embd=128),
    "llama-small": dict(_LLAMA, vocab_size=65, context_length=256, n_layer=6, n_head=6, n_kv_heads=2, n_embd=384),
}
