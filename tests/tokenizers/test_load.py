"""load_tokenizer / tokenizer_from_meta: files, directories, and clear errors."""
import json

import pytest

from mytorch.tokenizers import BPETokenizer, CharTokenizer, load_tokenizer, tokenizer_from_meta


def test_directory_prefers_meta_json(tmp_path):
    char = CharTokenizer.from_text("hello")
    bpe = BPETokenizer.train("hello hello", 260)
    (tmp_path / "meta.json").write_text(json.dumps({**char.to_meta(), "train_tokens": 5}))
    bpe.save(tmp_path)  # tokenizer.json next to it
    assert isinstance(load_tokenizer(tmp_path), CharTokenizer)  # extra keys in meta.json are ignored
    assert isinstance(load_tokenizer(tmp_path / "tokenizer.json"), BPETokenizer)
    (tmp_path / "meta.json").unlink()
    assert load_tokenizer(tmp_path).merges == bpe.merges


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no meta.json or tokenizer.json"):
        load_tokenizer(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_tokenizer(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="tokenizer='sentencepiece'; expected one of"):
        tokenizer_from_meta({"tokenizer": "sentencepiece"})
