"""mytorch.tokenizers: character-level, trainable byte-level BPE, and GPT-2's BPE (tiktoken).

Each tokenizer has `encode(text) -> list[int]`, `decode(ids) -> str`, `vocab_size`, `to_meta()` (a
self-contained JSON-able dict) and `save(path)`; `load_tokenizer` rebuilds one from that dict.
"""
import json
import os

from .base import Tokenizer
from .bpe import ENDOFTEXT, GPT2_PATTERN, GPT4_PATTERN, BPETokenizer
from .char import CharTokenizer
from .gpt2 import GPT2Tokenizer

TOKENIZERS = {"char": CharTokenizer, "bpe": BPETokenizer, "gpt2": GPT2Tokenizer}


def tokenizer_from_meta(meta):
    """The tokenizer a `to_meta()` dict (e.g. a dataset's or checkpoint's meta.json) describes."""
    kind = meta.get("tokenizer")
    if kind not in TOKENIZERS:
        raise ValueError(f"meta has tokenizer={kind!r}; expected one of {sorted(TOKENIZERS)}")
    return TOKENIZERS[kind].from_meta(meta)


def load_tokenizer(path):
    """Load from a JSON file (meta.json / tokenizer.json) or a directory holding meta.json or tokenizer.json."""
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in ("meta.json", "tokenizer.json"):
            if os.path.isfile(os.path.join(path, name)):
                path = os.path.join(path, name)
                break
        else:
            raise FileNotFoundError(f"no meta.json or tokenizer.json in directory {path!r}")
    elif not os.path.isfile(path):
        raise FileNotFoundError(f"tokenizer file {path!r} does not exist")
    with open(path, encoding="utf-8") as f:
        return tokenizer_from_meta(json.load(f))


__all__ = ["BPETokenizer", "CharTokenizer", "ENDOFTEXT", "GPT2Tokenizer", "GPT2_PATTERN", "GPT4_PATTERN",
           "TOKENIZERS", "Tokenizer", "load_tokenizer", "tokenizer_from_meta"]
