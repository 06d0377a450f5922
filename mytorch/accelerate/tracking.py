"""Experiment trackers: jsonl (no dependencies), wandb (offline with WANDB_MODE=offline), MLflow (a local
file store under project_dir/mlruns) and TensorBoard (event files under project_dir/project_name). The
Accelerator creates them on the main process only."""
import json
import math
import numbers
import os
import time

from ..tensor import Tensor


def _scalar(value):
    """A JSON/metrics friendly value: tensors and numpy scalars become Python numbers."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"log() takes scalar values; got a tensor of shape {tuple(value.shape)}")
        return value.item()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return value.item()
    return value


class GeneralTracker:
    """A tracker: `log(values, step)`, plus these two optional steps."""

    name = None

    def store_init_configuration(self, config):
        pass

    def finish(self):
        pass


class JSONLTracker(GeneralTracker):
    """Appends one JSON object per log() call to `{project_dir}/{project_name}.jsonl`:
    {"step": ..., "time": ..., **values}; the config goes first as {"config": {...}}."""

    name = "jsonl"

    def __init__(self, project_name, project_dir=".", **kwargs):
        os.makedirs(project_dir, exist_ok=True)
        self.path = os.path.join(project_dir, f"{project_name}.jsonl")
        self._file = open(self.path, "a", encoding="utf-8")

    @property
    def tracker(self):
        return self._file

    def _write(self, record):
        self._file.write(json.dumps(record, default=str) + "\n")
        self._file.flush()

    def store_init_configuration(self, config):
        self._write({"config": {k: _scalar(v) for k, v in config.items()}})

    def log(self, values, step=None):
        record = {"step": step, "time": time.time()}
        for key, value in values.items():
            value = _scalar(value)
            if isinstance(value, float) and not math.isfinite(value):
                value = repr(value)  # JSON has no inf/nan
            record[key] = value
        self._write(record)

    def finish(self):
        if not self._file.closed:
            self._file.close()


class WandBTracker(GeneralTracker):
    name = "wandb"

    def __init__(self, project_name, project_dir=None, **kwargs):
        import wandb

        if project_dir is not None:
            os.makedirs(project_dir, exist_ok=True)
            kwargs.setdefault("dir", project_dir)
        self.run = wandb.init(project=project_name, **kwargs)

    @property
    def tracker(self):
        return self.run

    def store_init_configuration(self, config):
        self.run.config.update(config, allow_val_change=True)

    def log(self, values, step=None):
        self.run.log({k: _scalar(v) for k, v in values.items()}, step=step)

    def finish(self):
        self.run.finish()


class MLflowTracker(GeneralTracker):
    """Logs to `{project_dir}/mlruns` (a file-based tracking URI) unless MLFLOW_TRACKING_URI is set."""

    name = "mlflow"

    def __init__(self, project_name, project_dir=".", **kwargs):
        import mlflow

        self.mlflow = mlflow
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            store = os.path.abspath(os.path.join(project_dir or ".", "mlruns"))
            os.makedirs(store, exist_ok=True)
            uri = "file://" + store
            # MLflow 3 keeps the file store behind an opt-in; a local file store is what we ask for here
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = mlflow.MlflowClient(tracking_uri=uri)
        experiment = self.client.get_experiment_by_name(project_name)
        experiment_id = (experiment.experiment_id if experiment is not None
                         else self.client.create_experiment(project_name))
        self.run = self.client.create_run(experiment_id, run_name=kwargs.pop("run_name", None),
                                          tags=kwargs.pop("tags", None))
        self.run_id = self.run.info.run_id

    @property
    def tracker(self):
        return self.run

    def store_init_configuration(self, config):
        for key, value in config.items():
            self.client.log_param(self.run_id, key, str(_scalar(value))[:6000])

    def log(self, values, step=None):
        stamp = int(time.time() * 1000)
        for key, value in values.items():
            value = _scalar(value)
            if isinstance(value, numbers.Number):
                self.client.log_metric(self.run_id, key, float(value), timestamp=stamp, step=step or 0)

    def finish(self):
        self.client.set_terminated(self.run_id)


class TensorBoardTracker(GeneralTracker):
    """mytorch.utils.tensorboard.SummaryWriter on `{project_dir}/{project_name}`: numbers as scalars,
    strings as text, dicts of numbers as add_scalars; the config as an hparams session."""

    name = "tensorboard"

    def __init__(self, project_name, project_dir=".", **kwargs):
        from ..utils.tensorboard import SummaryWriter

        self.logging_dir = os.path.join(project_dir or ".", project_name)
        self.writer = SummaryWriter(self.logging_dir, **kwargs)

    @property
    def tracker(self):
        return self.writer

    def store_init_configuration(self, config):
        hparams = {}
        for key, value in config.items():  # what TensorBoard's hparams can't hold is shown as its text
            value = _scalar(value)
            hparams[key] = value if isinstance(value, (bool, int, float, str)) else str(value)
        self.writer.add_hparams(hparams, metric_dict={}, run_name=".")
        self.writer.flush()

    def log(self, values, step=None):
        for key, value in values.items():
            if isinstance(value, dict):
                self.writer.add_scalars(key, {k: _scalar(v) for k, v in value.items()}, global_step=step)
                continue
            value = _scalar(value)
            if isinstance(value, str):
                self.writer.add_text(key, value, global_step=step)
            elif isinstance(value, numbers.Number):
                self.writer.add_scalar(key, value, global_step=step)
        self.writer.flush()

    def finish(self):
        self.writer.close()


TRACKERS = {cls.name: cls for cls in (JSONLTracker, WandBTracker, MLflowTracker, TensorBoardTracker)}


def resolve_log_with(log_with):
    """log_with as a list of tracker names ("all": every one whose package is installed)."""
    if log_with is None:
        return []
    names = [log_with] if isinstance(log_with, str) else list(log_with)
    if "all" in names:
        names = ["jsonl"] + [n for n in ("wandb", "mlflow", "tensorboard") if _installed(n)]
    for name in names:
        if name not in TRACKERS:
            raise ValueError(f"log_with: unknown tracker {name!r}; choose from {sorted(TRACKERS)} or 'all'")
        if name != "jsonl" and not _installed(name):
            raise ImportError(f"log_with={name!r} needs the {name} package (pip install {name})")
    return names


def _installed(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None
