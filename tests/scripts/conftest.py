"""Shared fixtures for the script tests: a char-level tiny Shakespeare data dir and tiny-model flags."""
import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(REPO, "..", "shared", "data", "tinyshakespeare.txt")  # CI keeps it beside the clone
if REPO not in sys.path:
    sys.path.insert(0, REPO)

# a model small enough that a few steps take well under a second
TINY_MODEL = ["--model_size", "tiny", "--n_layer", "1", "--n_head", "2", "--n_embd", "32", "--context_length", "16",
              "--batch_size", "4", "--eval_iterations", "2", "--log_iter", "1", "--warmup_steps", "2",
              "--device", "cpu", "--seed", "7"]


@pytest.fixture(scope="session")
def char_data(tmp_path_factory):
    """prepare_data/prepare_shakespeare.py output (train.bin, val.bin, meta.json) in a temp dir."""
    if not os.path.isfile(CORPUS):
        pytest.skip(f"tiny Shakespeare corpus not found at {CORPUS}")
    from prepare_data.prepare_shakespeare import main as prepare
    out = tmp_path_factory.mktemp("shakespeare_char")
    prepare(["--path_to_save", str(out), "--input_file", CORPUS])
    return str(out)
