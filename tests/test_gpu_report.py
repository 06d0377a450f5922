"""`python -m mytorch.utils.gpu_report` end to end in its smoke mode, on the fake GPU, plus --list / --part / budget."""
import json
import os
import subprocess
import sys

import pytest

from mytorch.utils import gpu_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _report(args, fake=True, timeout=170):
    env = dict(os.environ, WANDB_MODE="offline", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if fake:
        env["MYTORCH_FAKE_CUDA"] = "1"
    else:
        env.pop("MYTORCH_FAKE_CUDA", None)
    return subprocess.run([sys.executable, "-m", "mytorch.utils.gpu_report", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_report")
    proc = _report(["--smoke", "--out", str(out)])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (folder,) = os.listdir(out)
    return out, os.path.join(out, folder), proc.stdout


def _load(folder, part):
    with open(os.path.join(folder, f"{part}.json")) as f:
        return json.load(f)


def test_smoke_writes_every_part_with_plots(smoke_run):
    out, folder, stdout = smoke_run
    assert os.path.basename(folder) == gpu_report.slug("Fake CUDA GPU (numpy) 0")  # named after the device
    for part in gpu_report.PARTS:
        rec = _load(folder, part)
        assert rec["status"] == "ok" and rec["smoke"] and rec["device_name"].startswith("Fake CUDA GPU"), rec
    env = _load(folder, "env")["result"]
    assert env["device"] == "cuda" and env["capability"] == [9, 0] and env["total_memory"] > 0
    tests = _load(folder, "tests")["result"]["runs"]["device_parametrised"]
    assert tests["returncode"] == 0 and tests["tests"] >= 5 and tests["failures"] == 0
    train = {(r["lib"], r["precision"]): r for r in _load(folder, "train")["result"]["rows"]}
    assert set(train) == {("mytorch", "no"), ("mytorch", "fp16"), ("torch eager", "no"), ("torch eager", "fp16")}
    assert all(r["tokens_per_s"] > 0 and r["mfu"] is not None and r["mfu"] > 0 for r in train.values()), train
    for row in _load(folder, "attention")["result"]["rows"]:
        assert row["mytorch_max_err"] < 1e-4 and row["mytorch_ms"] > 0 and row["torch_ms"] > 0, row
    gen = _load(folder, "generate")["result"]["rows"]
    assert {r["kv_cache"] for r in gen} == {True, False} and all(r["tokens_per_s"] > 0 for r in gen)
    assert _load(folder, "kernels")["result"]["tables"], "bench_kernels wrote no table"
    for png in ("train.png", "attention.png", "generate.png"):
        assert os.path.getsize(os.path.join(folder, png)) > 1000
    with open(os.path.join(folder, "report.md")) as f:
        report = f.read()
    assert all(f"## {p}" in report for p in gpu_report.PARTS) and "not run yet" not in report
    assert "![train](train.png)" in report and "| mytorch | False | fp16 |" in report


def test_list_and_part_rerun_resume(smoke_run):
    out, folder, _ = smoke_run
    listed = _report(["--smoke", "--out", str(out), "--list"])
    assert listed.returncode == 0
    for part in gpu_report.PARTS:
        assert any(line.startswith(part) and " ok " in line for line in listed.stdout.splitlines()), listed.stdout
    before = {p: _load(folder, p)["finished"] + str(_load(folder, p)["seconds"]) for p in gpu_report.PARTS}
    again = _report(["--smoke", "--out", str(out), "--part", "attention"])
    assert again.returncode == 0 and "[attention] ok" in again.stdout and "[train]" not in again.stdout
    after = {p: _load(folder, p)["finished"] + str(_load(folder, p)["seconds"]) for p in gpu_report.PARTS}
    assert [p for p in gpu_report.PARTS if before[p] != after[p]] == ["attention"]
    done = _report(["--smoke", "--out", str(out)])  # everything is done: nothing runs
    assert done.returncode == 0 and "] ok in" not in done.stdout and "report:" in done.stdout, done.stdout


def test_budget_stops_between_parts_and_says_how_to_continue(tmp_path):
    proc = _report(["--smoke", "--out", str(tmp_path), "--budget", "0", "--part", "env,generate"], fake=False)
    assert proc.returncode == 0, proc.stderr
    (folder,) = os.listdir(tmp_path)
    assert folder == "cpu" and os.path.exists(tmp_path / folder / "env.json")
    assert not os.path.exists(tmp_path / folder / "generate.json")
    assert f"--part generate --out {tmp_path}" in proc.stdout


def test_unknown_part_is_refused():
    with pytest.raises(SystemExit, match="unknown part.*'nope'.*env, tests"):
        gpu_report.main(["--part", "nope"])
