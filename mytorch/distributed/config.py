"""The `mytorchrun config` file: where it lives, what it holds, reading and writing it.

The file is YAML (JSON when PyYAML is missing; JSON is valid YAML, so either reader accepts it).
Its values are the launcher's defaults; command-line flags override them.
"""
import json
import os
import sys
from pathlib import Path

MIXED_PRECISION = ("no", "fp16", "bf16")
BACKENDS = ("auto", "gloo", "nccl")

# Every key the file may hold, with the value used when neither the file nor a flag sets it.
# num_processes counts processes per node; num_gpus None means "use GPUs if there are any".
DEFAULTS = {
    "num_processes": 1,
    "num_gpus": None,
    "gpu_ids": "all",
    "num_nodes": 1,
    "node_rank": 0,
    "master_addr": "127.0.0.1",
    "master_port": None,
    "mixed_precision": "no",
    "backend": "auto",
}


def config_path():
    """$MYTORCH_CONFIG_FILE, else $XDG_CONFIG_HOME/mytorch/default_config.yaml (default ~/.config)."""
    if os.environ.get("MYTORCH_CONFIG_FILE"):
        return Path(os.environ["MYTORCH_CONFIG_FILE"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base).expanduser() / "mytorch" / "default_config.yaml"


def _yaml():
    try:
        import yaml
    except ImportError:
        return None
    return yaml


def _positive_int(key, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key} must be an integer >= {minimum}, got {value!r}")
    return value


def validate(config):
    """Check types and ranges of a config dict; returns a normalized copy. Raises ValueError."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown keys {unknown}; known keys: {sorted(DEFAULTS)}")
    out = dict(config)
    for key, minimum in (("num_processes", 1), ("num_nodes", 1), ("node_rank", 0)):
        if key in out:
            out[key] = _positive_int(key, out[key], minimum)
    if out.get("num_gpus") is not None:
        out["num_gpus"] = _positive_int("num_gpus", out["num_gpus"], 0)
    if out.get("master_port") is not None:
        port = _positive_int("master_port", out["master_port"], 1)
        if port > 65535:
            raise ValueError(f"master_port must be at most 65535, got {port}")
    if "mixed_precision" in out:
        value = out["mixed_precision"]
        if isinstance(value, bool):  # a hand-written `mixed_precision: no` is YAML 1.1's False
            value = "fp16" if value else "no"
        if value not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, got {value!r}")
        out["mixed_precision"] = value
    if "backend" in out and out["backend"] not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {out['backend']!r}")
    if "gpu_ids" in out:
        try:
            out["gpu_ids"] = _gpu_ids(str(out["gpu_ids"]))
        except ValueError:
            raise ValueError(f"gpu_ids must be 'all' or distinct GPU indices like 0,1, got {out['gpu_ids']!r}") from None
    if out.get("node_rank", 0) >= out.get("num_nodes", 1):
        raise ValueError(f"node_rank ({out['node_rank']}) must be smaller than num_nodes ({out.get('num_nodes', 1)})")
    return out


def load_config(path=None):
    """The saved config as a dict ({} when there is no file). Raises ValueError naming the file when it is bad."""
    path = Path(path) if path is not None else config_path()
    if not path.is_file():
        return {}
    text = path.read_text()
    yaml = _yaml()
    try:
        data = yaml.safe_load(text) if yaml is not None else json.loads(text)
    except Exception as err:  # yaml.YAMLError / json.JSONDecodeError
        raise ValueError(f"cannot parse config file {path}: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping of keys to values, got {type(data).__name__}")
    try:
        return validate(data)
    except ValueError as err:
        raise ValueError(f"config file {path}: {err}") from None


def save_config(config, path=None):
    """Validate and write `config` (missing keys take DEFAULTS); returns the path written."""
    path = Path(path) if path is not None else config_path()
    config = validate({**DEFAULTS, **config})
    path.parent.mkdir(parents=True, exist_ok=True)
    yaml = _yaml()
    if yaml is not None:
        text = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    else:
        text = json.dumps(config, indent=2) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # never leave a half-written config behind
    return path


_UNSET = {"num_gpus": "auto (every visible GPU, else CPU)", "master_port": "auto (a free port at each launch)"}


def format_config(config):
    """The config as the text `mytorchrun config --show` prints."""
    width = max(len(key) for key in DEFAULTS)
    lines = []
    for key in DEFAULTS:
        value = config.get(key, DEFAULTS[key])
        lines.append(f"{key:<{width}}  {_UNSET.get(key, value) if value is None else value}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- `mytorchrun config`

FLAG_KEYS = tuple(DEFAULTS)  # `mytorchrun config --<key> value` sets <key>


def _ask(ask, question, default, parse):
    """Ask until `parse` accepts the answer; blank takes the default."""
    while True:
        try:
            answer = ask(f"{question} [{'' if default is None else default}]: ").strip()
        except EOFError:
            raise ValueError("config: input ended before every question was answered") from None
        if answer == "":
            if default is not None or parse is _optional_port:
                return default
            print("  please answer")
            continue
        try:
            return parse(answer)
        except ValueError as err:
            print(f"  {err}")


def _int_in(low, high=None):
    def parse(text):
        value = int(text)  # ValueError says "invalid literal"; good enough for a prompt
        if value < low or (high is not None and value > high):
            raise ValueError(f"expected {low}..{high}" if high is not None else f"expected a number >= {low}")
        return value
    return parse


def _optional_port(text):
    return None if text in ("", "none", "None") else _int_in(1, 65535)(text)


def _choice(options):
    def parse(text):
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return text
    return parse


def _gpu_ids(text):
    if text.replace(" ", "") != "all":
        ids = [int(part) for part in text.replace(" ", "").split(",")]
        if len(set(ids)) != len(ids) or min(ids) < 0:
            raise ValueError("expected distinct GPU indices like 0,1 (or all)")
    return text.replace(" ", "")


def ask_questions(current, ask=input, gpus_visible=0):
    """The interactive questionnaire; `current` supplies the defaults. Returns a config dict."""
    answers = dict(current)
    nodes = _ask(ask, "How many machines (nodes) take part?", current["num_nodes"], _int_in(1))
    answers["num_nodes"] = nodes
    if nodes > 1:
        answers["node_rank"] = _ask(ask, f"What is the rank of this machine (0..{nodes - 1})?",
                                    min(current["node_rank"], nodes - 1), _int_in(0, nodes - 1))
        answers["master_addr"] = _ask(ask, "What is the IP address of the rank-0 machine?", current["master_addr"], str)
        answers["master_port"] = _ask(ask, "Which port does the rank-0 machine listen on?",
                                      current["master_port"] or 29500, _int_in(1, 65535))
    else:
        answers["node_rank"], answers["master_addr"] = 0, "127.0.0.1"
        answers["master_port"] = _ask(ask, "Which port should rank 0 listen on (blank: a free port at each launch)?",
                                      current["master_port"], _optional_port)
    default_gpus = current["num_gpus"] if current["num_gpus"] is not None else gpus_visible
    gpus = _ask(ask, f"How many GPUs should this machine use ({gpus_visible} visible; 0 = CPU processes)?",
                default_gpus, _int_in(0))
    answers["num_gpus"] = gpus
    if gpus == 0:
        default_nproc = current["num_processes"] if current["num_processes"] > 1 else 2
        answers["num_processes"] = _ask(ask, "How many CPU processes?", default_nproc, _int_in(1))
        answers["gpu_ids"] = "all"
    else:
        answers["num_processes"] = gpus
        answers["gpu_ids"] = _ask(ask, "Which GPUs (comma-separated ids, or all)?", current["gpu_ids"], _gpu_ids)
    answers["mixed_precision"] = _ask(ask, "Mixed precision (no/fp16/bf16)?", current["mixed_precision"],
                                      _choice(MIXED_PRECISION))
    return answers


def config_command(args, ask=input, interactive=None):
    """`mytorchrun config`: questions on a terminal without flags, else the flags update the saved file."""
    path = Path(args.config_file).expanduser() if args.config_file else config_path()
    saved = load_config(path)
    if args.show:
        if path.is_file():
            print(f"mytorchrun config ({path}):")
        else:
            print(f"No config file at {path}; the launcher uses these defaults:")
        print(format_config(saved))
        return 0

    flags = {key: getattr(args, key) for key in FLAG_KEYS if getattr(args, key, None) is not None}
    if interactive is None:
        interactive = not flags and sys.stdin.isatty()
    if interactive:
        from .. import cuda

        try:
            answers = ask_questions({**DEFAULTS, **saved}, ask, gpus_visible=cuda.device_count())
        except KeyboardInterrupt:
            print("\nmytorchrun config: aborted, nothing written")
            return 130
    else:
        if isinstance(flags.get("num_processes"), str):
            raise ValueError(f"--num_processes {flags['num_processes']}: the config stores a number of processes")
        gpus = flags.get("num_gpus")
        if gpus and "num_processes" in flags and flags["num_processes"] != gpus:
            raise ValueError(f"one process per GPU: --num_processes {flags['num_processes']} does not match "
                             f"--num_gpus {gpus}")
        if gpus:
            flags.setdefault("num_processes", gpus)
        if "num_nodes" in flags:
            flags.setdefault("node_rank", 0)  # a stale node rank would not fit a new node count
        answers = {**saved, **flags}
    written = save_config(answers, path)
    print(f"mytorchrun config written to {written}:")
    print(format_config(load_config(written)))
    return 0
