"""prepare_data/ scripts, run as subprocesses on the local corpus and on small local datasets. Downloads are
blocked (a proxy on a refused local port, empty caches, Hugging Face offline), so nothing touches the network."""
import json
import os
import site
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from mytorch.tokenizers import BPETokenizer, CharTokenizer, load_tokenizer
from mytorch.utils.data import TokenDataset

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAKESPEARE = os.path.join(REPO, "prepare_data", "prepare_shakespeare.py")
OWT = os.path.join(REPO, "prepare_data", "prepare_owt.py")
CORPUS_PATH = "/work/shared/data/tinyshakespeare.txt"
BLOCKING_PROXY = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def corpus():
    if not os.path.exists(CORPUS_PATH):
        pytest.skip(f"{CORPUS_PATH} not present")
    with open(CORPUS_PATH, encoding="utf-8") as f:
        return f.read()


def _offline_env(tmp_path):
    env = dict(os.environ, TIKTOKEN_CACHE_DIR=str(tmp_path / "tiktoken-cache"), HF_HOME=str(tmp_path / "hf"),
               HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", NO_PROXY="", no_proxy="",
               HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env[var] = BLOCKING_PROXY
    return env


def _run(args, tmp_path, env=None, python=(sys.executable,), check=True):
    result = subprocess.run([*python, *args], cwd=tmp_path, env=env or _offline_env(tmp_path),
                            capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def _tokens(path):
    return np.fromfile(path, dtype=np.uint16)


def test_shakespeare_char_from_a_fresh_clone(tmp_path, corpus):
    # `python -S` skips site.py, so an editable install of mytorch is invisible; PYTHONPATH still provides
    # numpy & co. A stand-in package first on the path hides a regular (site-packages) install too. The
    # script must find the mytorch next to itself.
    hide = tmp_path / "hide"
    (hide / "mytorch").mkdir(parents=True)
    (hide / "mytorch" / "__init__.py").write_text('raise ModuleNotFoundError("No module named \'mytorch\'")\n')
    env = dict(_offline_env(tmp_path), PYTHONPATH=os.pathsep.join([str(hide), *site.getsitepackages()]))
    fresh = (sys.executable, "-S")
    no_mytorch = _run(["-c", "import mytorch"], tmp_path, env, fresh, check=False)
    assert no_mytorch.returncode != 0 and "No module named 'mytorch'" in no_mytorch.stderr
    out = tmp_path / "shakespeare"
    result = _run([SHAKESPEARE, "--path_to_save", str(out), "--input_file", CORPUS_PATH], tmp_path, env, fresh)
    assert "char tokenizer, vocab_size 65" in result.stdout

    meta = json.loads((out / "meta.json").read_text())
    train, val = _tokens(out / "train.bin"), _tokens(out / "val.bin")
    split = int(len(corpus) * 0.9)
    assert meta["tokenizer"] == "char" and meta["vocab_size"] == 65 == len(set(corpus))
    assert meta["dtype"] == "uint16" and meta["source"] == CORPUS_PATH
    assert (meta["train_tokens"], meta["val_tokens"]) == (len(train), len(val)) == (split, len(corpus) - split)
    tok = load_tokenizer(out)
    assert isinstance(tok, CharTokenizer)
    assert tok.decode(train) + tok.decode(val) == corpus
    assert tok.decode(val) == corpus[split:]


def test_shakespeare_bpe(tmp_path, corpus):
    out = tmp_path / "bpe"
    _run([SHAKESPEARE, "--path_to_save", str(out), "--input_file", CORPUS_PATH, "--tokenizer", "bpe",
          "--vocab_size", "512"], tmp_path)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["tokenizer"] == "bpe" and meta["vocab_size"] == 512 and len(meta["merges"]) == 512 - 257
    tok = load_tokenizer(out / "tokenizer.json")
    assert tok.merges == load_tokenizer(out).merges  # meta.json alone restores the tokenizer
    split = int(len(corpus) * 0.9)
    # the merges were learned on the train split only
    assert tok.merges == BPETokenizer.train(corpus[:split], 512).merges
    train, val = _tokens(out / "train.bin"), _tokens(out / "val.bin")
    assert train.tolist() == tok.encode(corpus[:split]) and val.tolist() == tok.encode(corpus[split:])
    assert (meta["train_tokens"], meta["val_tokens"]) == (len(train), len(val))
    assert tok.decode(train) + tok.decode(val) == corpus
    ds = TokenDataset(out / "train.bin", 64)
    assert len(ds) == len(train) - 64 and int(ds[0][1][-1]) == int(train[64])


def test_shakespeare_gpt2_offline_error(tmp_path):
    result = _run([SHAKESPEARE, "--path_to_save", str(tmp_path / "g"), "--input_file", CORPUS_PATH,
                   "--tokenizer", "gpt2"], tmp_path, check=False)
    assert result.returncode != 0
    assert "GPT-2's BPE) is not available" in result.stderr and "tiktoken-cache" in result.stderr
    assert "--tokenizer char" in result.stderr and "--tokenizer bpe --vocab_size N" in result.stderr
    assert not (tmp_path / "g" / "train.bin").exists()


def test_shakespeare_download_error_names_input_file(tmp_path):
    result = _run([SHAKESPEARE, "--path_to_save", str(tmp_path / "d")], tmp_path, check=False)
    assert result.returncode != 0
    assert "could not download tiny Shakespeare from https://raw.githubusercontent.com/karpathy/char-rnn" \
        in result.stderr and "--input_file PATH" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--tokenizer", "bpe", "--vocab_size", "70000"], "vocab_size 70000 does not fit the uint16"),
    (["--tokenizer", "bpe"], "--tokenizer bpe needs --vocab_size"),
    (["--tokenizer", "wordpiece"], "neither char, bpe, gpt2 nor an existing tokenizer file"),
    (["--input_file", "nope.txt"], "--input_file 'nope.txt' does not exist"),
])
def test_shakespeare_bad_flags(tmp_path, args, message):
    full = ["--path_to_save", str(tmp_path / "x"), "--input_file", CORPUS_PATH] + args
    result = _run([SHAKESPEARE, *full], tmp_path, check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr


def _documents(corpus, count=300):
    return [p for p in corpus.split("\n\n") if p.strip()][:count]


def test_owt_on_a_local_json_dataset(tmp_path, corpus):
    docs = _documents(corpus)
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    out = tmp_path / "owt"
    result = _run([OWT, "--num_proc", "2", "--path_to_save", str(out), "--dataset", str(data),
                   "--tokenizer", "bpe", "--vocab_size", "320", "--val_fraction", "0.05"], tmp_path)
    assert "bpe tokenizer, vocab_size 320" in result.stdout

    meta = json.loads((out / "meta.json").read_text())
    tok = load_tokenizer(out)
    train, val = _tokens(out / "train.bin"), _tokens(out / "val.bin")
    assert meta["train_documents"] == 285 and meta["val_documents"] == 15
    assert (meta["train_tokens"], meta["val_tokens"]) == (len(train), len(val))
    eot = tok.eot_token
    assert (train == eot).sum() == 285 and (val == eot).sum() == 15 and train[-1] == val[-1] == eot
    # each document, in shuffled order, followed by <|endoftext|>
    decoded = [tok.decode(part) for ids in (train, val) for part in np.split(ids, np.flatnonzero(ids == eot) + 1)
               if len(part)]
    assert Counter(d[:-len("<|endoftext|>")] for d in decoded) == Counter(docs)
    assert len(train) + len(val) == sum(len(tok.encode_ordinary(d)) + 1 for d in docs)

    # reuse the trained tokenizer on a plain-text dataset (one document per line)
    lines = [line for line in corpus[:20_000].splitlines() if line.strip()]
    (tmp_path / "lines.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out2 = tmp_path / "owt2"
    _run([OWT, "--num_proc", "1", "--path_to_save", str(out2), "--dataset", str(tmp_path / "lines.txt"),
          "--tokenizer", str(out / "tokenizer.json")], tmp_path)
    meta2 = json.loads((out2 / "meta.json").read_text())
    assert meta2["merges"] == meta["merges"] and meta2["val_documents"] == 1
    total = len(_tokens(out2 / "train.bin")) + len(_tokens(out2 / "val.bin"))
    assert total == meta2["train_tokens"] + meta2["val_tokens"] == sum(len(tok.encode_ordinary(s)) + 1 for s in lines)


def test_owt_errors(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"body": "a"}\n{"body": "b"}\n')
    result = _run([OWT, "--num_proc", "1", "--path_to_save", str(tmp_path / "o"), "--dataset",
                   str(tmp_path / "d.jsonl"), "--tokenizer", "bpe", "--vocab_size", "300"], tmp_path, check=False)
    assert result.returncode != 0 and "no --text_column 'text'" in result.stderr and "['body']" in result.stderr
    result = _run([OWT, "--path_to_save", str(tmp_path / "o"), "--tokenizer", "char"], tmp_path, check=False)
    assert result.returncode != 0 and "--tokenizer char has no <|endoftext|>" in result.stderr
    result = _run([OWT, "--num_proc", "1", "--path_to_save", str(tmp_path / "o"), "--dataset",
                   str(tmp_path / "d.jsonl"), "--text_column", "body"], tmp_path, check=False)
    assert result.returncode != 0 and "Offline alternatives" in result.stderr  # default gpt2, blocked download


def _script_module(path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def stand_in_gpt2(monkeypatch, corpus):
    """tiktoken's registry answers "gpt2" with a small local encoding, so the gpt2 paths run offline."""
    import tiktoken.registry

    bpe = BPETokenizer.train(corpus[:30_000], 300)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {"gpt2": bpe.to_tiktoken(name="gpt2")})
    return bpe


def test_gpt2_paths_with_a_stand_in_encoding(tmp_path, corpus, stand_in_gpt2, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out = tmp_path / "shakespeare_gpt2"
    _script_module(SHAKESPEARE).main(["--path_to_save", str(out), "--input_file", CORPUS_PATH, "--tokenizer", "gpt2"])
    meta = json.loads((out / "meta.json").read_text())
    assert meta["tokenizer"] == "gpt2" and meta["encoding"] == "gpt2" and meta["vocab_size"] == 300
    assert not (out / "tokenizer.json").exists()  # tiktoken's own files are the tokenizer
    split = int(len(corpus) * 0.9)
    assert _tokens(out / "val.bin").tolist() == stand_in_gpt2.encode(corpus[split:])

    docs = _documents(corpus, 40)
    (tmp_path / "docs.json").write_text(json.dumps([{"text": d} for d in docs]))
    out = tmp_path / "owt_gpt2"
    _script_module(OWT).main(["--num_proc", "1", "--path_to_save", str(out), "--dataset", str(tmp_path / "docs.json"),
                              "--val_fraction", "0.1"])
    meta = json.loads((out / "meta.json").read_text())
    ids = np.concatenate([_tokens(out / "train.bin"), _tokens(out / "val.bin")])
    assert meta["tokenizer"] == "gpt2" and (meta["train_documents"], meta["val_documents"]) == (36, 4)
    assert (ids == 299).sum() == 40 and len(ids) == sum(len(stand_in_gpt2.encode(d)) + 1 for d in docs)
