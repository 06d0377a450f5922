"""Real-world-style PyTorch programs run unchanged on mytorch: each script in tests/programs/ does
`import torch` (and torch.nn, torch.utils.data, torch.onnx, ...) in a subprocess where
sys.modules["torch"] is mytorch, trains, and prints a JSON line of losses; the test checks they fall.

The scripts are written in the style of nanoGPT (train.py/model.py), minGPT (model + Trainer) and
pytorch/examples (mnist, vae, regression, word_language_model with LSTM and Transformer)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).parent / "programs"
SHAKESPEARE = "/work/shared/data/tinyshakespeare.txt"

# runs the script as __main__ with `torch` bound to mytorch; afterwards no real torch module may be loaded
RUNNER = """
import runpy, sys
import mytorch
sys.modules["torch"] = mytorch
path = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(path, run_name="__main__")
leaked = [name for name, m in list(sys.modules.items())
          if name == "torch" and m is not mytorch or name.startswith("torch.") and
          not getattr(m, "__name__", "").startswith("mytorch")]
assert not leaked, f"real torch modules loaded: {leaked[:5]}"
"""


def _run(tmp_path, script, *args):
    env = dict(os.environ, SHAKESPEARE=SHAKESPEARE, WANDB_MODE="offline", PYTHONWARNINGS="ignore")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1]), env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-c", RUNNER, str(PROGRAMS / script), *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result.stdout, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not os.path.exists(SHAKESPEARE), reason="needs the tiny Shakespeare corpus")
def test_nanogpt_style_training(tmp_path):
    out, report = _run(tmp_path, "nanogpt_style.py")
    losses = report["losses"]
    assert losses[0] > 3.9  # ~ln(vocab) at init
    assert losses[-1] < losses[0] - 0.5, losses
    assert "train loss" in out and report["sample_len"] == 11
    assert (tmp_path / "ckpt.pt").exists() and (tmp_path / "train.bin").exists()


def test_mingpt_style_trainer(tmp_path):
    out, report = _run(tmp_path, "mingpt_style.py")
    first, last = report["losses"]
    assert last < 0.6 * first, report
    assert "iter 20: train loss" in out


@pytest.mark.skipif(not os.path.exists(SHAKESPEARE), reason="needs the tiny Shakespeare corpus")
def test_pytorch_examples_style(tmp_path):
    out, report = _run(tmp_path, "examples_style.py", "mnist", "vae", "regression", "lstm", "transformer")
    for name in ("mnist", "vae", "regression", "word_language_model_LSTM", "word_language_model_Transformer"):
        first, last = report[name]["losses"]
        assert last < first, (name, report[name])
    assert report["mnist"]["losses"][1] < 0.5 * report["mnist"]["losses"][0]
    assert report["mnist"]["accuracy"] > 0.9
    assert report["regression"]["losses"][1] < 1e-3
    assert report["vae"]["losses"][1] < 0.9 * report["vae"]["losses"][0]
    for name in ("word_language_model_LSTM", "word_language_model_Transformer"):
        first, last = report[name]["losses"]
        assert last < first - 0.5, (name, report[name])
        assert report[name]["saved_whole"] is False  # torch.save(model) refused with a state_dict hint
    assert (tmp_path / "mnist_cnn.pt").exists() and (tmp_path / "model.pt").exists()
