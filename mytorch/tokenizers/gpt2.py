"""GPT-2's own BPE (50257 tokens) through tiktoken, which downloads its two files once and caches them."""
import os
import tempfile

from .base import Tokenizer

OFFLINE_HINT = ("Offline alternatives: a character tokenizer built from your corpus (CharTokenizer.from_text, "
                "--tokenizer char) or a byte-level BPE trained on your own text (BPETokenizer.train, "
                "--tokenizer bpe --vocab_size N).")


def _tiktoken_cache_dir():
    """Where tiktoken looks for its cached files (same rule as tiktoken.load.read_file_cached)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return os.environ[var]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def load_tiktoken_encoding(name="gpt2"):
    """`tiktoken.get_encoding(name)`, with a clear error naming the cache and the offline choices."""
    try:
        import tiktoken
    except ImportError:
        raise ImportError(f"The GPT-2 tokenizer needs tiktoken: pip install tiktoken. {OFFLINE_HINT}") from None
    try:
        return tiktoken.get_encoding(name)
    except ValueError as err:
        if "Unknown encoding" in str(err):
            raise
        cause = err
    except Exception as err:  # requests' ConnectionError, timeouts, hash mismatches, ...
        cause = err
    raise OSError(f"The tiktoken encoding {name!r} (GPT-2's BPE) is not available: its files are not in the "
                  f"tiktoken cache {_tiktoken_cache_dir()!r} and downloading them failed "
                  f"({type(cause).__name__}: {cause}). With internet, run once to fill the cache (set "
                  f"TIKTOKEN_CACHE_DIR to keep it), or copy a filled cache directory there. {OFFLINE_HINT}") from cause


class GPT2Tokenizer(Tokenizer):
    """tiktoken's "gpt2" encoding (or another named one, e.g. "cl100k_base") behind mytorch's tokenizer API."""

    kind = "gpt2"

    def __init__(self, encoding="gpt2"):
        self.encoding_name = encoding
        self.encoding = load_tiktoken_encoding(encoding)

    @property
    def vocab_size(self):
        return self.encoding.n_vocab

    @property
    def eot_token(self):
        return self.encoding.eot_token

    @property
    def special_tokens(self):
        return {s: self.encoding.encode_single_token(s) for s in self.encoding.special_tokens_set}

    def encode(self, text, allowed_special=frozenset(), disallowed_special="all"):
        return self.encoding.encode(text, allowed_special=allowed_special, disallowed_special=disallowed_special)

    def encode_ordinary(self, text):
        return self.encoding.encode_ordinary(text)

    def decode(self, ids, errors="replace"):
        return self.encoding.decode([int(i) for i in ids], errors=errors)

    def decode_bytes(self, ids):
        return self.encoding.decode_bytes([int(i) for i in ids])

    def to_meta(self):
        return {"tokenizer": self.kind, "vocab_size": self.vocab_size, "encoding": self.encoding_name}

    @classmethod
    def from_meta(cls, meta):
        return cls(meta.get("encoding", "gpt2"))

    def __getstate__(self):  # workers reload from tiktoken's cache instead of pickling the ranks
        return {"encoding": self.encoding_name}

    def __setstate__(self, state):
        self.__init__(state["encoding"])
