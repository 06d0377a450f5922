"""Helpers the prepare_data scripts share: choosing a tokenizer, writing token files and meta.json.
The scripts put the repository root on sys.path first, so this imports the mytorch next to it."""
import json
import os

import numpy as np

from mytorch.tokenizers import BPETokenizer, CharTokenizer, GPT2Tokenizer, load_tokenizer

TOKEN_DTYPE = np.uint16  # nanoGPT's choice: GPT-2's 50257 ids fit, and half the size of int32


def check_vocab_fits(vocab_size):
    """uint16 holds ids 0..65535, so at most 65536 tokens."""
    limit = np.iinfo(TOKEN_DTYPE).max + 1
    if vocab_size > limit:
        raise SystemExit(f"error: vocab_size {vocab_size} does not fit the uint16 token files (ids up to "
                         f"{limit - 1}); choose --vocab_size <= {limit}")


def build_tokenizer(name, train_text=None, vocab_size=None):
    """`name` is "char", "bpe" (trained on `train_text` to `vocab_size`), "gpt2", or a path to a saved
    tokenizer (a tokenizer.json / meta.json file or a directory holding one)."""
    if name == "char":
        return CharTokenizer.from_text(train_text)
    if name == "bpe":
        if vocab_size is None:
            raise SystemExit("error: --tokenizer bpe needs --vocab_size N (e.g. 1024): 256 byte tokens, "
                             "N - 257 merges and <|endoftext|>")
        check_vocab_fits(vocab_size)
        return BPETokenizer.train(train_text, vocab_size)
    if name == "gpt2":
        try:
            return GPT2Tokenizer()
        except (OSError, ImportError) as err:
            raise SystemExit(f"error: {err}") from None
    if os.path.exists(name):
        return load_tokenizer(name)
    raise SystemExit(f"error: --tokenizer {name!r} is neither char, bpe, gpt2 nor an existing tokenizer file")


def write_tokens(path, ids):
    """Write token ids as a flat uint16 file (what TokenDataset reads); returns the count."""
    ids = np.asarray(ids)
    if ids.size and ids.max() > np.iinfo(TOKEN_DTYPE).max:
        raise SystemExit(f"error: token id {ids.max()} does not fit uint16 ({path})")
    ids.astype(TOKEN_DTYPE).tofile(path)
    return int(ids.size)


def write_meta(directory, tokenizer, **info):
    """meta.json: the tokenizer's own meta (enough to rebuild it) plus dataset facts such as token counts."""
    meta = {**tokenizer.to_meta(), "dtype": np.dtype(TOKEN_DTYPE).name, **info}
    with open(os.path.join(directory, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=False, indent=None if "merges" in meta else 1)  # BPE: merges on one line
    if tokenizer.kind == "bpe":
        tokenizer.save(directory)  # DIR/tokenizer.json, to reuse it elsewhere (--tokenizer DIR/tokenizer.json)
    return meta
