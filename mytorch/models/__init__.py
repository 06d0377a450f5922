"""mytorch.models: GPT-2 and Llama-style decoder-only transformers, generation with a KV cache, and
loading of Hugging Face / mytorch checkpoints.

    from mytorch.models import GPT, GPTConfig
    model = GPT(GPTConfig.preset("tiny"))
    model = GPT.from_pretrained("gpt2")          # from the local Hugging Face cache
"""
from .config import PRESETS, GPTConfig
from .generation import KVCache, generate, process_logits, sample_next, stream
from .gpt import GPT, Block

__all__ = ["GPT", "GPTConfig", "PRESETS", "Block", "KVCache", "generate", "stream", "sample_next", "process_logits"]
