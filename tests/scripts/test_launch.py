"""train_gpt2.sh: two CPU processes through the launcher train, checkpoint, and resume exactly."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.scripts.conftest import REPO, TINY_MODEL

SCRIPT = os.path.join(REPO, "train_gpt2.sh")


def launch(data, workdir, project, *flags, env=None):
    cmd = ["bash", SCRIPT, "shakespeare", "--num_gpus", "0", "--num_processes", "2", "--path_to_data", data,
           "--working_directory", str(workdir), "--project_name", project, *TINY_MODEL, "--train_iterations", "4",
           "--eval_interval", "2", "--log_with", "jsonl", *flags]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, f"{' '.join(cmd)}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def train_losses(checkpoint):
    with open(os.path.join(checkpoint, "trainer_state.json")) as f:
        return [loss for _, loss in json.load(f)["history"]["train"]]


def test_two_cpu_processes_train_and_resume(char_data, tmp_path):
    first = launch(char_data, tmp_path, "two")
    assert "2 process(es) on cpu" in first.stdout + first.stderr
    project = tmp_path / "two"
    assert {"checkpoint_2", "checkpoint_4", "loss_curve.png"} <= set(os.listdir(project))
    assert {"random_states_0.json", "random_states_1.json"} <= set(os.listdir(project / "checkpoint_4"))

    # resume from step 2 in a fresh project, this time through `python -m mytorch.distributed.run`:
    # a PATH without the mytorchrun console script makes train_gpt2.sh fall back to it
    shutil.copytree(project / "checkpoint_2", tmp_path / "resumed" / "checkpoint_2")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # keeps the venv
    (bin_dir / "python").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin")
    second = launch(char_data, tmp_path, "resumed", "--resume_from_checkpoint", "latest", env=env)
    assert "mytorch.distributed.run launch" in second.stderr  # the command line train_gpt2.sh echoes
    assert "resumed from" in second.stdout + second.stderr
    assert train_losses(tmp_path / "resumed" / "checkpoint_4") == train_losses(project / "checkpoint_4")


@pytest.mark.parametrize("args, message", [
    ([], "usage: bash train_gpt2.sh shakespeare|owt"),
    (["tinystories"], "unknown dataset 'tinystories'"),
    (["shakespeare", "--num_processes", "two"], "--num_processes needs a non-negative integer"),
])
def test_shell_script_bad_arguments(args, message):
    result = subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and message in result.stderr
