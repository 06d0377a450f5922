"""What every tokenizer shares: JSON save / load of its self-contained meta dict."""
import json
import os


class Tokenizer:
    """Base class. Subclasses define `encode`, `decode`, `vocab_size`, `to_meta` and `from_meta`."""

    kind = None  # the "tokenizer" field of the meta dict: "char", "bpe" or "gpt2"
    eot_token = None  # id of <|endoftext|>, when the tokenizer has one

    def encode_ordinary(self, text):
        """Encode with special tokens treated as plain text."""
        return self.encode(text)

    def __len__(self):
        return self.vocab_size

    def save(self, path):
        """Write `to_meta()` as JSON: to `path` if it ends in .json, else to `path/tokenizer.json`.
        Returns the file written."""
        path = os.fspath(path)
        if not path.endswith(".json"):
            os.makedirs(path, exist_ok=True)
            path = os.path.join(path, "tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_meta(), f, ensure_ascii=False)
        return path

    def __repr__(self):
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"
