"""CharTokenizer: vocabulary from the corpus, lossless round trip, clear errors, meta round trip."""
import json

import numpy as np
import pytest

from mytorch.tokenizers import CharTokenizer, load_tokenizer, tokenizer_from_meta

CORPUS = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll: Speak, speak. café ☃"


def test_vocab_is_sorted_distinct_characters():
    tok = CharTokenizer.from_text(CORPUS)
    assert tok.itos == sorted(set(CORPUS))
    assert tok.vocab_size == len(set(CORPUS)) == len(tok)
    assert tok.encode("\n") == [0]  # "\n" sorts first, as in nanoGPT's shakespeare_char


def test_round_trip_and_ids():
    tok = CharTokenizer.from_text(CORPUS)
    ids = tok.encode(CORPUS)
    assert len(ids) == len(CORPUS) and all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == CORPUS
    assert tok.decode(np.array(ids, dtype=np.uint16)) == CORPUS  # ids straight from a .bin file
    assert tok.encode("") == [] and tok.decode([]) == ""


def test_errors():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match=r"'z' \(U\+007A\) is not in .* 3 characters"):
        tok.encode("abz")
    for bad in (3, -1):
        with pytest.raises(ValueError, match=f"token id {bad} is out of range .* vocab_size 3"):
            tok.decode([0, bad])
    with pytest.raises(ValueError, match="distinct single characters"):
        CharTokenizer(["a", "a"])


def test_meta_save_load(tmp_path):
    tok = CharTokenizer.from_text(CORPUS)
    meta = json.loads(json.dumps(tok.to_meta()))
    assert meta["tokenizer"] == "char" and meta["vocab_size"] == tok.vocab_size
    assert tokenizer_from_meta(meta).itos == tok.itos
    path = tok.save(tmp_path)
    assert path == str(tmp_path / "tokenizer.json")
    for where in (tmp_path, path):
        loaded = load_tokenizer(where)
        assert isinstance(loaded, CharTokenizer) and loaded.encode(CORPUS) == tok.encode(CORPUS)
