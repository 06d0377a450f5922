"""Character-level tokenizer: one id per distinct character of the corpus (nanoGPT's shakespeare_char)."""
from .base import Tokenizer


class CharTokenizer(Tokenizer):
    """Ids are the positions of the characters in `chars` (sorted when built from text)."""

    kind = "char"

    def __init__(self, chars):
        chars = list(chars)
        if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise ValueError("CharTokenizer needs a sequence of distinct single characters")
        self.itos = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text):
        """The vocabulary is every character that occurs in `text`, sorted by code point."""
        return cls(sorted(set(text)))

    @property
    def vocab_size(self):
        return len(self.itos)

    def encode(self, text):
        try:
            return [self.stoi[c] for c in text]
        except KeyError as err:
            c = err.args[0]
            raise ValueError(f"character {c!r} (U+{ord(c):04X}) is not in this CharTokenizer's vocabulary of "
                             f"{self.vocab_size} characters built from the corpus") from None

    def decode(self, ids):
        ids = [int(i) for i in ids]  # also numpy integers
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"token id {bad[0]} is out of range for a CharTokenizer with vocab_size "
                             f"{self.vocab_size}")
        return "".join([self.itos[i] for i in ids])

    def to_meta(self):
        return {"tokenizer": self.kind, "vocab_size": self.vocab_size, "chars": "".join(self.itos)}

    @classmethod
    def from_meta(cls, meta):
        return cls(meta["chars"])
