"""Byte-level BPE: training (fast, and the same merges as a naive full recount), encoding identical to a
tiktoken.Encoding built from the exported ranks, lossless round trips on arbitrary unicode, special tokens."""
import json
import os
import pickle
import time
from collections import Counter

import pytest
import regex
import tiktoken
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mytorch.tokenizers import ENDOFTEXT, GPT2_PATTERN, GPT4_PATTERN, BPETokenizer, load_tokenizer

CORPUS_PATH = "/work/shared/data/tinyshakespeare.txt"
TRICKY = [
    "", " ", "  ", "\n", "\n\n\n", " \n \t\r\n", "a   b", "trailing spaces   ", "\ttab\tseparated\t",
    "I'll've don't it's we're you'd THEY'RE O'er", "'s 's' ''", "12345 3.14159 1,000,000 ½ ², ٣",
    "café naïve e\u0301 n\u0303 Zalgo: ḁ̷̛̫̜ͅ", "日本語のテキスト、中文文本。한국어", "emoji 🎉🧑‍🤝‍🧑 👍🏽 🇫🇷",
    "mixed: abc123def ___ --- !!! ???", "control \x00\x01\x1b[31m \x7f", "Ελληνικά кириллица עברית العربية",
    "KING RICHARD III:\nNow is the winter of our discontent", "\u200b zero\u200dwidth \ufeff bom",
]


@pytest.fixture(scope="module")
def corpus():
    if not os.path.exists(CORPUS_PATH):
        pytest.skip(f"{CORPUS_PATH} not present")
    with open(CORPUS_PATH, encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def trained(corpus):
    """1,000 merges learned on the first 90% of tiny Shakespeare, and the training time."""
    split = int(len(corpus) * 0.9)
    start = time.perf_counter()
    tok = BPETokenizer.train(corpus[:split], vocab_size=256 + 1000 + 1)
    return tok, time.perf_counter() - start, corpus[split:]


@pytest.fixture(scope="module")
def reference(trained):
    return trained[0].to_tiktoken()


def test_training_is_fast_and_complete(trained):
    tok, seconds, _ = trained
    print(f"\nBPE training, 1000 merges on 90% of tiny Shakespeare: {seconds:.2f}s")
    assert len(tok.merges) == 1000 and tok.vocab_size == 1257 and tok.eot_token == 1256
    assert seconds < 60  # about a second on one core; a full recount per merge would take minutes
    # the first merges are the most frequent byte pairs of English
    assert tok.vocab[256] in (b" t", b"he", b"e ", b"th") and b" the" in tok.ranks


def _naive_train(text, num_merges):
    """Textbook BPE: recount every pair of every chunk before each merge (slow, obviously right).
    Same tie rule (highest count, then smallest pair) and same reuse of an existing byte string."""
    words = Counter(tuple(c.encode("utf-8")) for c in regex.findall(GPT2_PATTERN, text))
    vocab = [bytes([i]) for i in range(256)]
    merges = []
    while len(merges) < num_merges:
        counts = Counter()
        for word, freq in words.items():
            for pair in zip(word, word[1:]):
                counts[pair] += freq
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        new_bytes = vocab[pair[0]] + vocab[pair[1]]
        if new_bytes in vocab:
            new_id = vocab.index(new_bytes)
        else:
            new_id, _ = len(vocab), vocab.append(new_bytes)
            merges.append(pair)
        merged = Counter()
        for word, freq in words.items():
            out, i = [], 0
            while i < len(word):
                if word[i:i + 2] == pair:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += freq
        words = merged
    return merges


@pytest.mark.parametrize("text, num_merges", [
    ("aaaa aaaaa aa a aaaaaaa abab ababab baba", 12),  # overlapping runs, merges of merged tokens
    (None, 150),  # a slice of Shakespeare
])
def test_incremental_training_matches_full_recount(corpus, text, num_merges):
    text = corpus[:20_000] if text is None else text
    tok = BPETokenizer.train(text, 256 + num_merges + 1)
    assert tok.merges == _naive_train(text, num_merges)


def test_training_stops_when_pairs_run_out():
    tok = BPETokenizer.train("ab ab", vocab_size=1000)  # chunks "ab" and " ab": two merges, then nothing
    assert tok.vocab[256:] == [b"ab", b" ab"] and tok.vocab_size == 256 + 2 + 1


def test_special_tokens_in_training_text_are_not_learned():
    tok = BPETokenizer.train("<|endoftext|>the end<|endoftext|>" * 50, 300)
    assert not any(b"<|" in token or b"|>" in token for token in tok.vocab)
    assert tok.encode("the end<|endoftext|>", allowed_special="all")[-1] == tok.eot_token


def test_encode_matches_tiktoken_on_held_out_text(trained, reference):
    tok, _, held_out = trained
    ids = tok.encode(held_out)
    assert ids == reference.encode(held_out)
    assert tok.decode(ids) == held_out
    assert len(ids) < 0.5 * len(held_out.encode())  # 1000 merges compress English well beyond bytes


@pytest.mark.parametrize("text", TRICKY)
def test_encode_matches_tiktoken_on_tricky_strings(trained, reference, text):
    tok = trained[0]
    assert tok.encode_ordinary(text) == reference.encode_ordinary(text)
    assert tok.decode(tok.encode(text)) == text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_round_trip_and_tiktoken_on_arbitrary_unicode(trained, reference, text):
    # st.text() draws from all of unicode except surrogates: emoji, CJK, combining marks, controls
    tok = trained[0]
    ids = tok.encode_ordinary(text)
    assert tok.decode(ids) == text
    assert ids == reference.encode_ordinary(text)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \n'sé日🎉")), max_size=40))
def test_small_alphabet_training_matches_tiktoken(text):
    # train on the random text itself, so the merges are odd ones and the chunks are dense with them
    tok = BPETokenizer.train(text * 3, 300)
    enc = tok.to_tiktoken()
    probe = text + " " + text[::-1]
    assert tok.encode_ordinary(probe) == enc.encode_ordinary(probe)
    assert tok.decode(tok.encode_ordinary(probe)) == probe


def test_gpt4_pattern_matches_tiktoken(corpus):
    tok = BPETokenizer.train(corpus[:50_000], 400, pattern="gpt4")
    assert tok.pattern == GPT4_PATTERN
    enc = tok.to_tiktoken()
    for text in [corpus[50_000:60_000]] + TRICKY:
        assert tok.encode_ordinary(text) == enc.encode_ordinary(text)


def test_special_tokens_like_tiktoken(trained, reference):
    tok = trained[0]
    text = f"To be{ENDOFTEXT}or not"
    with pytest.raises(ValueError, match="disallowed special token '<\\|endoftext\\|>'"):
        tok.encode(text)
    with pytest.raises(ValueError):
        reference.encode(text)
    for kwargs in ({"allowed_special": "all"}, {"allowed_special": {ENDOFTEXT}}, {"disallowed_special": ()}):
        assert tok.encode(text, **kwargs) == reference.encode(text, **kwargs)
    assert tok.encode(text, allowed_special="all").count(tok.eot_token) == 1
    assert tok.eot_token not in tok.encode_ordinary(text)
    assert tok.decode(tok.encode(text, allowed_special="all")) == text
    with pytest.raises(ValueError, match="unknown special tokens"):
        tok.encode("x", allowed_special={"<|im_start|>"})


def test_several_special_tokens(corpus):
    specials = [ENDOFTEXT, "<|pad|>", "<|end|>"]
    tok = BPETokenizer.train(corpus[:20_000], 300, special_tokens=specials)
    assert tok.special_tokens == {ENDOFTEXT: 297, "<|pad|>": 298, "<|end|>": 299} and tok.vocab_size == 300
    enc = tok.to_tiktoken()
    text = "<|pad|><|pad|>Hello<|end|> world<|endoftext|><|end"
    assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")
    assert tok.encode(text, allowed_special={"<|pad|>"}, disallowed_special=()) == \
        enc.encode(text, allowed_special={"<|pad|>"}, disallowed_special=())


def test_decoding_a_split_multibyte_character(trained, reference):
    tok = trained[0]
    ids = tok.encode("☃")  # 3 UTF-8 bytes, not a merged token in Shakespeare
    assert len(ids) > 1 and tok.decode_bytes(ids) == "☃".encode()
    part = ids[:1]
    assert tok.decode(part) == reference.decode(part) == "\ufffd"  # errors="replace", like tiktoken
    with pytest.raises(UnicodeDecodeError):
        tok.decode(part, errors="strict")
    assert tok.decode_bytes(part) + tok.decode_bytes(ids[1:]) == "☃".encode()


def test_decode_rejects_unknown_ids(trained):
    tok = trained[0]
    with pytest.raises(ValueError, match="token id 1257 is out of range .* vocab_size 1257"):
        tok.decode([1257])
    with pytest.raises(ValueError, match="token id -1"):
        tok.decode([-1])


def test_bad_arguments():
    with pytest.raises(ValueError, match="vocab_size=200 is smaller than the 256 byte tokens plus 1 special"):
        BPETokenizer.train("text", 200)
    with pytest.raises(ValueError, match="refers to a token not defined before it"):
        BPETokenizer([(300, 1)])
    with pytest.raises(ValueError, match="same byte string twice"):
        BPETokenizer([(97, 98), (97, 98)])


def test_save_load_pickle_and_meta(trained, tmp_path):
    tok = trained[0]
    meta = json.loads(json.dumps(tok.to_meta()))  # JSON-able and self-contained
    assert meta["tokenizer"] == "bpe" and meta["vocab_size"] == 1257 and len(meta["merges"]) == 1000
    text = "Wherefore art thou, Romeo?" + ENDOFTEXT
    expected = tok.encode(text, allowed_special="all")
    for loaded in (load_tokenizer(tok.save(tmp_path)), load_tokenizer(tmp_path / "tokenizer.json"),
                   pickle.loads(pickle.dumps(tok))):
        assert loaded.merges == tok.merges and loaded.special_tokens == tok.special_tokens
        assert loaded.encode(text, allowed_special="all") == expected
    assert len(pickle.dumps(tok)) < 50_000  # no encode cache or compiled regex in the pickle


def test_mergeable_ranks_are_tiktoken_format(trained):
    ranks = trained[0].mergeable_ranks()
    assert len(ranks) == 1256 and sorted(ranks.values()) == list(range(1256))
    assert all(ranks[bytes([b])] == b for b in range(256))
    enc = tiktoken.Encoding("check", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={ENDOFTEXT: 1256})
    assert enc.n_vocab == 1257
