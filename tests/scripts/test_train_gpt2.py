"""train_gpt2.py and inference_gpt2.py end to end on a tiny model: flags, config files, schedule,
checkpoints, exact resume, sampling, and clear errors for bad input."""
import json
import math
import os
import shutil

import numpy as np
import pytest

import inference_gpt2
import train_gpt2
from tests.scripts.conftest import REPO, TINY_MODEL


def run_train(data, workdir, *flags, project="run"):
    return train_gpt2.main(["--path_to_data", data, "--working_directory", str(workdir), "--project_name", project,
                            *TINY_MODEL, *flags])


# --------------------------------------------------------------------------- schedule and flags

def test_lr_schedule_warmup_then_cosine():
    m = [train_gpt2.lr_multiplier(s, warmup_steps=10, train_iterations=110, min_ratio=0.1) for s in range(111)]
    np.testing.assert_allclose(m[:10], [(s + 1) / 11 for s in range(10)])  # linear warmup
    assert m[10] == pytest.approx(1.0)  # peak right after warmup
    assert m[60] == pytest.approx(0.1 + 0.9 * 0.5)  # half way down the cosine
    assert m[110] == pytest.approx(0.1)  # min_lr at the end
    assert all(a >= b for a, b in zip(m[10:], m[11:]))  # decays monotonically
    assert train_gpt2.lr_multiplier(500, 10, 110, 0.1) == pytest.approx(0.1)  # and stays at min_lr


def test_config_file_values_and_command_line_override(char_data, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("data:\n  path_to_data: %s\nmodel:\n  model_size: tiny\ntraining:\n  batch_size: 5\n"
                      "  max_lr: 3.0e-3\nlog_with: jsonl\n" % char_data)
    args = train_gpt2.parse_args(["--config", str(config), "--batch_size", "7"])
    assert (args.batch_size, args.max_lr, args.model_size, args.path_to_data) == (7, 3e-3, "tiny", char_data)
    assert args.log_with == ["jsonl"]
    as_json = tmp_path / "run.json"
    as_json.write_text(json.dumps({"path_to_data": char_data, "train_iterations": 9}))
    assert train_gpt2.parse_args(["--config", str(as_json)]).train_iterations == 9
    assert train_gpt2.parse_args(["--path_to_data", char_data, "--log_wandb"]).log_with == ["wandb"]


@pytest.mark.parametrize("flags, message", [
    (["--model_size", "huge"], "--model_size 'huge' is not a GPTConfig preset"),
    (["--batch_size", "0"], "--batch_size must be a positive integer"),
    (["--min_lr", "1e-2", "--max_lr", "1e-3"], "min_lr <= --max_lr"),
    (["--mixed_precision", "fp8"], "invalid choice: 'fp8'"),
    (["--norm", "batchnorm"], "invalid choice: 'batchnorm'"),
    (["--train_iterations", "ten"], "invalid int value: 'ten'"),
    (["--config", "/nonexistent/run.yaml"], "--config: no such file"),
])
def test_bad_flags_fail_clearly(char_data, flags, message, capsys):
    with pytest.raises(SystemExit) as exc:
        train_gpt2.parse_args(["--path_to_data", char_data, *flags])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_data_dir_and_config_keys(tmp_path, char_data, capsys):
    with pytest.raises(SystemExit):
        train_gpt2.parse_args(["--path_to_data", str(tmp_path)])
    assert f"--path_to_data {tmp_path}: missing train.bin" in capsys.readouterr().err
    config = tmp_path / "bad.yaml"
    config.write_text("model:\n  n_layers: 4\n")  # the flag is n_layer
    with pytest.raises(SystemExit):
        train_gpt2.parse_args(["--config", str(config), "--path_to_data", char_data])
    assert "unknown setting 'n_layers'" in capsys.readouterr().err
    config.write_text("norm: batchnorm\n")
    with pytest.raises(SystemExit):
        train_gpt2.parse_args(["--config", str(config), "--path_to_data", char_data])
    assert "norm='batchnorm' is not one of" in capsys.readouterr().err


def test_resume_from_missing_checkpoint(char_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint_"):
        run_train(char_data, tmp_path, "--train_iterations", "2", "--resume_from_checkpoint", "latest")
    with pytest.raises(FileNotFoundError, match="checkpoint_9: no such directory"):
        run_train(char_data, tmp_path, "--resume_from_checkpoint", str(tmp_path / "checkpoint_9"))
    with pytest.raises(FileNotFoundError, match="not a training checkpoint"):
        run_train(char_data, tmp_path, "--resume_from_checkpoint", str(tmp_path))


# --------------------------------------------------------------------------- train, resume, sample

@pytest.fixture(scope="module")
def trained(char_data, tmp_path_factory):
    """6 steps with checkpoints at 3 and 6, every step's loss recorded."""
    work = tmp_path_factory.mktemp("work")
    history = run_train(char_data, work, "--train_iterations", "6", "--eval_interval", "3", "--log_with", "jsonl",
                        "--keep_last_k", "2")
    return work / "run", history


def test_training_writes_checkpoints_curve_and_logs(trained):
    project, history = trained
    assert [step for step, _ in history["train"]] == [1, 2, 3, 4, 5, 6]
    assert [step for step, _ in history["eval_val"]] == [3, 6]
    assert all(math.isfinite(loss) for _, loss in history["train"])
    # untrained char model starts near ln(65); a few steps of lr 1e-3 bring it down
    assert history["train"][0][1] == pytest.approx(math.log(65), abs=0.5)
    assert history["train"][-1][1] < history["train"][0][1]
    assert {"checkpoint_3", "checkpoint_6", "loss_curve.png"} <= set(os.listdir(project))
    checkpoint = project / "checkpoint_6"
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["model_type"] == "mytorch-gpt" and (config["n_layer"], config["n_embd"]) == (1, 32)
    meta = json.loads((checkpoint / "meta.json").read_text())
    assert meta["tokenizer"] == "char" and meta["vocab_size"] == 65
    assert (checkpoint / "model.safetensors").is_file()
    with open(project / "loss_curve.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(project / "run.jsonl") as f:  # the jsonl tracker: one record per logged step
        logged = [json.loads(line) for line in f]
    train_logged = [r for r in logged if "train/loss" in r]
    assert [r["step"] for r in train_logged] == [1, 2, 3, 4, 5, 6]
    assert [r["train/loss"] for r in train_logged] == [loss for _, loss in history["train"]]
    assert [r["eval/val_loss"] for r in logged if "eval/val_loss" in r] == [loss for _, loss in history["eval_val"]]


def test_keep_last_k(char_data, tmp_path):
    run_train(char_data, tmp_path, "--train_iterations", "4", "--eval_interval", "1", "--keep_last_k", "2")
    assert sorted(d for d in os.listdir(tmp_path / "run") if d.startswith("checkpoint_")) == \
        ["checkpoint_3", "checkpoint_4"]


def test_resume_continues_exactly(trained, char_data, tmp_path):
    project, history = trained
    shutil.copytree(project / "checkpoint_3", tmp_path / "run" / "checkpoint_3")
    resumed = run_train(char_data, tmp_path, "--train_iterations", "6", "--eval_interval", "3",
                        "--resume_from_checkpoint", "latest")
    assert resumed["train"][:3] == history["train"][:3]  # carried over from the checkpoint
    # the resumed steps see the same batches, weights, optimizer moments and lr as the uninterrupted run
    np.testing.assert_array_equal([loss for _, loss in resumed["train"][3:]],
                                  [loss for _, loss in history["train"][3:]])
    np.testing.assert_array_equal(resumed["eval_val"], history["eval_val"])


def test_inference_streams_text_from_a_project_dir(trained, capsys):
    project, _ = trained
    inference_gpt2.main([str(project), "--prompt", "ROMEO:", "--max_tokens", "40", "--seed", "0",
                         "--temperature", "0.8", "--topk", "10", "--num_samples", "2"])
    out = capsys.readouterr()
    assert "checkpoint_6" in out.err  # the newest checkpoint of the project
    samples = out.out.split("---------- sample ")[1:]
    assert len(samples) == 2
    texts = [sample.split("\n", 1)[1][:-1] for sample in samples]  # header line / text / newline
    for text in texts:
        assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 40
    # a seed makes sampling repeatable
    inference_gpt2.main([str(project / "checkpoint_6"), "--prompt", "ROMEO:", "--max_tokens", "40", "--seed", "0",
                         "--temperature", "0.8", "--topk", "10"])
    assert capsys.readouterr().out[:-1] == texts[0]


def test_inference_continues_validation_excerpts(trained, capsys):
    project, _ = trained
    inference_gpt2.main([str(project), "--split", "val", "--examples", "2", "--length", "12", "--seed", "1"])
    out = capsys.readouterr().out
    assert out.count("---------- model continuation ----------") == 2
    assert out.count("---------- real continuation ----------") == 2


def test_inference_bad_input(trained, tmp_path, capsys):
    project, _ = trained
    with pytest.raises(FileNotFoundError, match="no such directory"):
        inference_gpt2.main([str(tmp_path / "missing")])
    with pytest.raises(FileNotFoundError, match="neither a model dir"):
        inference_gpt2.main([str(tmp_path)])
    with pytest.raises(SystemExit):
        inference_gpt2.main([str(project), "--topp", "1.5"])
    assert "--topp must be in (0, 1]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        inference_gpt2.main([str(project), "--max_tokens", "0"])
    assert "--max_tokens must be a positive integer, got 0" in capsys.readouterr().err


@pytest.mark.slow
def test_cpu_preset_reaches_quality_bar(char_data, tmp_path):
    """The documented CPU run: configs/shakespeare_char_cpu.yaml, 2000 steps, validation loss <= 1.90."""
    history = train_gpt2.main(["--config", os.path.join(REPO, "configs", "shakespeare_char_cpu.yaml"),
                               "--path_to_data", char_data, "--working_directory", str(tmp_path)])
    step, val_loss = history["eval_val"][-1]
    assert step == 2000 and val_loss <= 1.90


@pytest.fixture(scope="module")
def hf_gpt2_dir(tmp_path_factory):
    """A tiny randomly initialised Hugging Face GPT-2 saved with transformers."""
    transformers = pytest.importorskip("transformers")
    import torch
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=50257, n_positions=32, n_embd=16, n_layer=1, n_head=2)
    path = tmp_path_factory.mktemp("hf_gpt2")
    transformers.GPT2LMHeadModel(config).save_pretrained(path)
    return path


def test_inference_on_a_hugging_face_dir(hf_gpt2_dir, monkeypatch, capsys):
    import mytorch.tokenizers

    class Bytes:  # stands in for GPT-2's BPE, which needs tiktoken's downloaded files
        vocab_size = 50257

        def encode(self, text):
            return list(text.encode())

        def decode(self, ids):
            return bytes(i % 256 for i in ids).decode("latin-1")

    monkeypatch.setattr(mytorch.tokenizers, "GPT2Tokenizer", Bytes)
    inference_gpt2.main([str(hf_gpt2_dir), "--prompt", "Hello", "--max_tokens", "5", "--seed", "0"])
    out = capsys.readouterr()
    assert "vocabulary 50257" in out.err and out.out.startswith("Hello") and len(out.out) == len("Hello") + 5 + 1

    def unavailable():
        raise OSError("The tiktoken encoding 'gpt2' (GPT-2's BPE) is not available")

    monkeypatch.setattr(mytorch.tokenizers, "GPT2Tokenizer", unavailable)
    with pytest.raises(OSError, match="has no meta.json, so its text goes through GPT-2's tokenizer: The tiktoken"):
        inference_gpt2.main([str(hf_gpt2_dir)])
