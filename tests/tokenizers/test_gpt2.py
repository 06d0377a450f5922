"""GPT2Tokenizer through tiktoken. Tests never touch the network: the "not available" case uses an empty
TIKTOKEN_CACHE_DIR with downloads blocked; the real encoding is only checked when already cached."""
import hashlib
import os
import pickle
import tempfile

import pytest
import tiktoken
import tiktoken.load
import tiktoken.registry

from mytorch.tokenizers import GPT2Tokenizer, tokenizer_from_meta

GPT2_FILES = ["https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
              "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json"]
BLOCKING_PROXY = "http://127.0.0.1:9"  # connection refused at once, on this machine


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty tiktoken cache, every download refused, and no encoding memoised in this process."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, BLOCKING_PROXY)
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "")
    calls = []

    def refuse(blobpath):
        calls.append(blobpath)
        raise ConnectionError(f"network blocked in tests: {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    return tmp_path, calls


def test_unavailable_gives_clear_error(offline):
    cache, calls = offline
    with pytest.raises(OSError) as info:
        GPT2Tokenizer()
    message = str(info.value)
    assert "'gpt2'" in message and str(cache) in message and "ConnectionError" in message
    assert "TIKTOKEN_CACHE_DIR" in message
    assert "--tokenizer char" in message and "--tokenizer bpe" in message  # the offline alternatives
    assert calls and calls[0].startswith("https://openaipublic")  # it did try tiktoken's download
    with pytest.raises(OSError, match="Offline alternatives"):
        tokenizer_from_meta({"tokenizer": "gpt2", "vocab_size": 50257, "encoding": "gpt2"})


def test_unknown_encoding_name_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown encoding"):
        GPT2Tokenizer("no-such-encoding")


def _gpt2_cached():
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or \
        os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return all(os.path.exists(os.path.join(cache, hashlib.sha1(url.encode()).hexdigest())) for url in GPT2_FILES)


@pytest.mark.skipif(not _gpt2_cached(), reason="GPT-2's tiktoken files are not cached here (needs internet once)")
def test_matches_tiktoken_when_cached():
    tok = GPT2Tokenizer()
    enc = tiktoken.get_encoding("gpt2")
    text = "Hello world<|endoftext|> café 日本 🎉"
    assert tok.vocab_size == 50257 and tok.eot_token == 50256
    assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    assert tok.encode_ordinary(text) == enc.encode_ordinary(text)
    assert tok.decode(tok.encode_ordinary(text)) == text
    assert tok.to_meta() == {"tokenizer": "gpt2", "vocab_size": 50257, "encoding": "gpt2"}
    assert pickle.loads(pickle.dumps(tok)).encode_ordinary(text) == enc.encode_ordinary(text)


def test_wrapper_over_a_stand_in_encoding(monkeypatch):
    """The API around tiktoken, offline: a small BPE's tiktoken.Encoding registered under "gpt2"."""
    from mytorch.tokenizers import BPETokenizer

    bpe = BPETokenizer.train("the cat sat on the mat " * 20, 263)
    stand_in = bpe.to_tiktoken(name="gpt2")
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {"gpt2": stand_in})
    tok = GPT2Tokenizer()
    text = "the cat<|endoftext|> é"
    assert tok.vocab_size == 263 and tok.eot_token == 262 and tok.special_tokens == {"<|endoftext|>": 262}
    assert tok.encode(text, allowed_special="all") == stand_in.encode(text, allowed_special="all")
    with pytest.raises(ValueError, match="disallowed special token"):
        tok.encode(text)
    assert tok.encode_ordinary(text) == stand_in.encode_ordinary(text)
    assert tok.decode(tok.encode(text, allowed_special="all")) == text
    assert tok.decode(tok.encode("é")[:1]) == "\ufffd"  # errors="replace", as tiktoken
    assert tok.to_meta() == {"tokenizer": "gpt2", "vocab_size": 263, "encoding": "gpt2"}
    restored = pickle.loads(pickle.dumps(tok))  # workers re-fetch the encoding by name
    assert restored.encoding is stand_in
    assert tokenizer_from_meta(tok.to_meta()).encode_ordinary(text) == tok.encode_ordinary(text)
