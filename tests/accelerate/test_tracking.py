"""Trackers: jsonl lines, wandb offline runs, an MLflow file store and TensorBoard event files under
project_dir; main process only."""
import glob
import json
import os
import time

import pytest

import mytorch
from mytorch.accelerate import Accelerator

CONFIG = {"lr": 0.01, "n_layer": 2, "name": "tiny"}


def log_three_steps(accelerator):
    accelerator.init_trackers("demo", config=CONFIG)
    for step in range(1, 4):
        accelerator.log({"loss": mytorch.tensor(1.0 / step), "lr": 0.01 * step}, step=step)
    accelerator.end_training()


def test_jsonl_tracker_writes_one_object_per_line(tmp_path):
    log_three_steps(Accelerator(log_with="jsonl", project_dir=str(tmp_path)))
    lines = [json.loads(line) for line in (tmp_path / "demo.jsonl").read_text().splitlines()]
    assert lines[0] == {"config": CONFIG}
    assert [(r["step"], r["loss"], r["lr"]) for r in lines[1:]] == [(1, 1.0, 0.01), (2, 0.5, 0.02),
                                                                    (3, pytest.approx(1 / 3), pytest.approx(0.03))]
    assert all(isinstance(r["time"], float) for r in lines[1:])


def test_trackers_only_log_on_the_main_process(tmp_path):
    accelerator = Accelerator(log_with="jsonl", project_dir=str(tmp_path))
    accelerator.state.process_index = 1
    log_three_steps(accelerator)
    assert accelerator.trackers == [] and not (tmp_path / "demo.jsonl").exists()


def test_wandb_offline(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")  # no stdout wrapping under pytest capture
    accelerator = Accelerator(log_wandb=True, project_dir=str(tmp_path))
    assert accelerator.log_with == ["wandb"]
    accelerator.init_trackers("demo", config=CONFIG)
    run = accelerator.get_tracker("wandb", unwrap=True)
    for step in range(1, 4):
        accelerator.log({"loss": mytorch.tensor(1.0 / step)}, step=step)
    assert dict(run.config)["n_layer"] == 2
    accelerator.end_training()
    (log_file,) = glob.glob(str(tmp_path / "wandb" / "offline-run-*" / "*.wandb"))
    for _ in range(100):  # wandb's service process may still be flushing the run file
        records = open(log_file, "rb").read()  # protobuf records: keys and JSON values appear verbatim
        if b"n_layer" in records and b"loss" in records:
            break
        time.sleep(0.1)
    assert b"loss" in records and repr(mytorch.tensor(1 / 3).item()).encode() in records and b"n_layer" in records


def test_mlflow_local_file_store(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    accelerator = Accelerator(log_with="mlflow", project_dir=str(tmp_path))
    log_three_steps(accelerator)
    assert (tmp_path / "mlruns").is_dir()
    client = mlflow.MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("demo").experiment_id])
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(1, 1.0), (2, 0.5), (3, pytest.approx(1 / 3))]
    assert run.data.params == {"lr": "0.01", "n_layer": "2", "name": "tiny"}
    assert run.info.status == "FINISHED"


def test_tensorboard_event_files(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accelerator = Accelerator(log_with="tensorboard", project_dir=str(tmp_path))
    accelerator.init_trackers("demo", config=dict(CONFIG, betas=(0.9, 0.95)))
    assert isinstance(accelerator.get_tracker("tensorboard", unwrap=True), mytorch.utils.tensorboard.SummaryWriter)
    for step in range(1, 4):
        accelerator.log({"loss": mytorch.tensor(1.0 / step), "note": f"step {step}", "pair": {"a": step}}, step=step)
    accelerator.end_training()
    events = EventAccumulator(str(tmp_path / "demo"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [(1, 1.0), (2, 0.5), (3, pytest.approx(1 / 3))]
    assert "note/text_summary" in events.Tags()["tensors"]
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    tags = {v.tag for path in glob.glob(str(tmp_path / "demo" / "events.out.tfevents.*"))
            for e in LegacyEventFileLoader(path).Load() for v in e.summary.value}
    assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= tags  # the config
    pair = EventAccumulator(str(tmp_path / "demo" / "pair_a"))
    pair.Reload()
    assert [(e.step, e.value) for e in pair.Scalars("pair")] == [(1, 1.0), (2, 2.0), (3, 3.0)]
