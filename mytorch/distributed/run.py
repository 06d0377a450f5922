"""mytorchrun: the command-line launcher (`mytorchrun config | test | launch`, also `python -m mytorch.distributed.run`).

    mytorchrun config                       # answer a few questions, saved as the launch defaults
    mytorchrun test --num_processes 2       # check the environment, then all-reduce + a DDP step
    mytorchrun launch --num_gpus 2 train.py --lr 3e-4
    mytorchrun --nproc_per_node 2 train.py  # torchrun's spelling (no subcommand) works too

Workers get RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT,
MYTORCH_MIXED_PRECISION and MYTORCH_BACKEND. On GPUs every worker sees the same GPUs (all, or
--gpu_ids) and uses cuda:LOCAL_RANK, as torchrun does: PyTorch scripts select `cuda:{LOCAL_RANK}`, which
would not exist if each worker saw only its own GPU. CPU workers get CUDA_VISIBLE_DEVICES="" so that
code asking `cuda.is_available()` stays on the CPU.
"""
import argparse
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import config as _config
from .launch import WorkerGroup

SUBCOMMANDS = ("config", "test", "launch")
_SELFTEST_WORKER = "_selftest_worker"  # hidden subcommand: the body of each `mytorchrun test` worker


class UsageError(ValueError):
    """A bad combination of flags / config values; reported through argparse (exit code 2)."""


# ---------------------------------------------------------------------------------------------- flags

def _add(parser, *names, **kwargs):
    """Add an option under each name and its hyphen/underscore twin (--num_gpus and --num-gpus)."""
    spellings = []
    for name in names:
        for spelling in (name, name.replace("_", "-")) if name.startswith("--") else (name,):
            if spelling not in spellings:
                spellings.append(spelling)
    parser.add_argument(*spellings, **kwargs)


def _nproc(value):
    if value in ("auto", "cpu", "gpu"):
        return value
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or auto|cpu|gpu, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _nnodes(value):
    low, _, high = value.partition(":")
    try:
        low, high = int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if low != high:
        raise argparse.ArgumentTypeError(f"elastic node ranges ({value}) are not supported; give one number")
    if low < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {low}")
    return low


def _non_negative(value):
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {number}")
    return number


def _port(value):
    number = int(value)
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number in 1..65535, got {number}")
    return number


def _seconds(value):
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return number


def _layout_options(parser):
    """Flags shared by config / test / launch. Default None everywhere: None means "not given"."""
    _add(parser, "--config_file", metavar="PATH", help="config file to read (default: $MYTORCH_CONFIG_FILE or "
                                        "$XDG_CONFIG_HOME/mytorch/default_config.yaml)")
    _add(parser, "--num_processes", "--nproc_per_node", type=_nproc, metavar="N",
         help="processes on this node (int, or auto|cpu|gpu like torchrun); on GPUs one per GPU")
    _add(parser, "--num_gpus", type=_non_negative, metavar="N", help="GPUs to use on this node, one process each (0 = CPU processes)")
    _add(parser, "--gpu_ids", metavar="IDS", help="which GPUs, e.g. 0,1 (default: all visible)")
    _add(parser, "--num_nodes", "--nnodes", type=_nnodes, metavar="N", help="number of machines (default 1)")
    _add(parser, "--node_rank", type=_non_negative, metavar="R", help="index of this machine, 0..num_nodes-1")
    _add(parser, "--master_addr", metavar="ADDR", help="address of the rank-0 machine (default 127.0.0.1)")
    _add(parser, "--master_port", type=_port, metavar="PORT", help="port of the rank-0 store (default: a free port, single node)")
    _add(parser, "--mixed_precision", choices=_config.MIXED_PRECISION,
         help="exported as MYTORCH_MIXED_PRECISION (a bare --mixed_precision means fp16)")
    _add(parser, "--backend", choices=("gloo", "nccl"), help="exported as MYTORCH_BACKEND (default: nccl on GPUs, else gloo)")


def _run_options(parser):
    """Flags of commands that start workers (test / launch)."""
    _add(parser, "--cpu", action="store_true", help="CPU processes even when GPUs are visible")
    _add(parser, "--standalone", action="store_true", help="single node on a free local port (torchrun)")
    _add(parser, "--no_prefix", action="store_true", help="don't prefix worker output with [rankN]:")
    _add(parser, "--shutdown_timeout", type=_seconds, default=5.0, metavar="SECONDS",
         help="seconds between SIGTERM and SIGKILL when stopping workers (default 5)")


def build_parsers():
    """The top-level parser and a dict of subcommand parsers."""
    parser = argparse.ArgumentParser(
        prog="mytorchrun", allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Configure, test and launch mytorch distributed runs.",
        epilog="examples:\n  mytorchrun config --num_gpus 0 --num_processes 2\n  mytorchrun test\n"
               "  mytorchrun launch --num_gpus 2 --mixed_precision bf16 train.py --lr 3e-4\n"
               "  mytorchrun --nproc_per_node 2 train.py      (torchrun's spelling: launch is implied)")
    subparsers = parser.add_subparsers(dest="command", metavar="{config,test,launch}", required=True)
    subs = {}

    subs["config"] = sub = subparsers.add_parser(
        "config", allow_abbrev=False, help="write the launch defaults (questions, or flags)",
        description="Ask the questions (or take the flags) and save the answers as the launch defaults. "
                    "Flags update the saved config; without flags and with a terminal, questions are asked.")
    _layout_options(sub)
    sub.add_argument("--show", action="store_true", help="print the current config and exit")

    subs["test"] = sub = subparsers.add_parser(
        "test", allow_abbrev=False, help="check the environment and run a tiny all-reduce and DDP step",
        description="Report versions and devices, then run an all-reduce and one DDP step across the configured "
                    "processes. Prints PASS or FAIL; exit code 0 or 1.")
    _layout_options(sub)
    _run_options(sub)
    _add(sub, "--timeout", type=_seconds, default=180.0, metavar="SECONDS", help="give up after this many seconds (default 180)")

    subs["launch"] = sub = subparsers.add_parser(
        "launch", allow_abbrev=False, help="start the workers of a training script",
        description="Start one worker per GPU (or N CPU workers) running script.py with the distributed "
                    "environment set. Config-file values are defaults; flags override them.")
    _layout_options(sub)
    _run_options(sub)
    sub.add_argument("-m", "--module", action="store_true", help="run the script as a module, like python -m")
    _add(sub, "--no_python", action="store_true", help="run the script directly, not through python")
    sub.add_argument("script", help="the training script (or module with -m)")
    sub.add_argument("script_args", nargs=argparse.REMAINDER, help="arguments for the script")
    return parser, subs


def _expand_bare_mixed_precision(parser, argv):
    """`--mixed_precision` alone (the original MyTorch flag) means fp16. Only the launcher's own flags,
    before the script name, are looked at."""
    takes_value = {name for action in parser._actions if action.nargs != 0 for name in action.option_strings}
    out, i = [], 0
    while i < len(argv):
        token = argv[i]
        out.append(token)
        if token == "--" or not token.startswith("-"):
            return out + argv[i + 1:]  # the script and its arguments
        if token in ("--mixed_precision", "--mixed-precision"):
            value = argv[i + 1] if i + 1 < len(argv) else "-"
            if value.startswith("-") or value.endswith(".py") or Path(value).is_file():
                out.append("fp16")  # the next token is a flag or the script, not a value
            else:
                out.append(value)
                i += 1
        elif token in takes_value and i + 1 < len(argv):
            out.append(argv[i + 1])
            i += 1
        i += 1
    return out


# ---------------------------------------------------------------------------------------------- plan

@dataclass
class LaunchPlan:
    """Everything needed to start this node's workers."""
    num_processes: int  # on this node
    num_nodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 0
    mixed_precision: str = "no"
    backend: str = "gloo"
    use_gpu: bool = False
    cuda_visible_devices: str = None  # None: leave the variable as it is
    command: list = field(default_factory=list)

    @property
    def world_size(self):
        return self.num_nodes * self.num_processes

    def worker_env(self, local_rank, base=None):
        env = dict(os.environ if base is None else base)
        env.update(
            RANK=str(self.node_rank * self.num_processes + local_rank), WORLD_SIZE=str(self.world_size),
            LOCAL_RANK=str(local_rank), LOCAL_WORLD_SIZE=str(self.num_processes),
            GROUP_RANK=str(self.node_rank), NODE_RANK=str(self.node_rank), GROUP_WORLD_SIZE=str(self.num_nodes),
            MASTER_ADDR=self.master_addr, MASTER_PORT=str(self.master_port),
            MYTORCH_MIXED_PRECISION=self.mixed_precision, MYTORCH_BACKEND=self.backend,
        )
        if self.cuda_visible_devices is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.cuda_visible_devices
        if "OMP_NUM_THREADS" not in env and self.num_processes > 1:
            # N workers each using every core would oversubscribe the CPU
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // self.num_processes))
        return env

    def worker_envs(self):
        return [self.worker_env(local_rank) for local_rank in range(self.num_processes)]

    def ranks(self):
        return [self.node_rank * self.num_processes + local_rank for local_rank in range(self.num_processes)]


def free_port():
    """A TCP port nobody listens on right now (the rank-0 store binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def visible_gpu_count():
    from .. import cuda

    return cuda.device_count()


def _parse_gpu_ids(text):
    try:
        ids = [int(part) for part in text.split(",") if part != ""]
    except ValueError:
        raise UsageError(f"--gpu_ids must be comma-separated integers, got {text!r}") from None
    if not ids or len(set(ids)) != len(ids) or min(ids) < 0:
        raise UsageError(f"--gpu_ids must list distinct non-negative GPU indices, got {text!r}")
    return ids


_LAYOUT_KEYS = ("num_processes", "num_gpus", "gpu_ids")


def _devices(args, saved):
    """(use_gpu, num_processes, CUDA_VISIBLE_DEVICES or None). Layout flags (--num_processes, --num_gpus,
    --gpu_ids) replace the config's layout as a whole, so that config and flags never mix into a layout
    nobody asked for; --cpu applies to either."""
    from_flags = any(getattr(args, key, None) is not None for key in _LAYOUT_KEYS)
    source = vars(args) if from_flags else saved
    nproc, num_gpus = source.get("num_processes"), source.get("num_gpus")
    gpu_ids = source.get("gpu_ids")
    cpu = bool(getattr(args, "cpu", False)) or nproc == "cpu"
    if nproc == "cpu":
        nproc = os.cpu_count() or 1
    if cpu or num_gpus == 0:
        if nproc == "gpu":
            raise UsageError("--nproc_per_node gpu asks for GPUs, but --num_gpus 0 / --cpu asks for CPU processes")
        nproc = (os.cpu_count() or 1) if nproc == "auto" else (nproc or 1)
        return False, nproc, ""

    explicit_ids = gpu_ids not in (None, "", "all")
    ids = _parse_gpu_ids(gpu_ids) if explicit_ids else list(range(visible_gpu_count()))
    if num_gpus is not None:
        if num_gpus > len(ids):
            raise UsageError(f"--num_gpus {num_gpus} asks for more GPUs than the {len(ids)} available"
                             + (f" (--gpu_ids {gpu_ids})" if explicit_ids else "; use --num_gpus 0 for CPU processes"))
        if isinstance(nproc, int) and nproc != num_gpus:
            raise UsageError(f"one process per GPU: --num_processes {nproc} does not match --num_gpus {num_gpus}")
        ids = ids[:num_gpus]
    else:  # GPUs when there are any
        if nproc in ("auto", "gpu"):
            if not ids and nproc == "gpu":
                raise UsageError("--nproc_per_node gpu, but no GPU is visible")
            nproc = len(ids) or os.cpu_count() or 1
        elif nproc is None:
            nproc = len(ids) if explicit_ids else 1
        if not ids:
            return False, nproc, ""
        if nproc > len(ids):
            raise UsageError(f"--num_processes {nproc} needs one GPU each, but only {len(ids)} are available; "
                             "add --num_gpus 0 (or --cpu) for CPU processes")
        ids = ids[:nproc]
    visible = None
    if explicit_ids:  # indices count within the GPUs this process already sees
        parent = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d != ""]
        if parent and max(ids) >= len(parent):
            raise UsageError(f"--gpu_ids {gpu_ids}: only {len(parent)} GPUs visible (CUDA_VISIBLE_DEVICES={','.join(parent)})")
        visible = ",".join(parent[i] if parent else str(i) for i in ids)
    return True, len(ids), visible


def make_plan(args, saved):
    """Combine flags (`args`) with saved config values (`saved`, a dict) into a LaunchPlan."""
    use_gpu, nproc, visible = _devices(args, saved)

    if args.standalone:
        if (args.num_nodes or 1) > 1:
            raise UsageError(f"--standalone is a single-node run, but --num_nodes is {args.num_nodes}")
        num_nodes, node_rank, addr, port = 1, 0, "127.0.0.1", None
    else:
        num_nodes = args.num_nodes or saved.get("num_nodes", 1)
        # a node rank from the config only belongs to the config's node count
        node_rank = args.node_rank if args.node_rank is not None else (
            saved.get("node_rank", 0) if args.num_nodes is None else 0)
        addr = args.master_addr or saved.get("master_addr")
        port = args.master_port or saved.get("master_port")
    if node_rank >= num_nodes:
        raise UsageError(f"--node_rank {node_rank} must be smaller than --num_nodes {num_nodes}")
    if num_nodes > 1 and (addr is None or port is None):
        raise UsageError(f"--num_nodes {num_nodes}: give --master_addr and --master_port (the rank-0 machine), "
                         "the same on every node")

    backend = args.backend or saved.get("backend", "auto")
    if backend == "auto":
        backend = "nccl" if use_gpu else "gloo"
    if backend == "nccl" and not use_gpu:
        raise UsageError("--backend nccl needs GPUs; CPU processes use gloo")

    return LaunchPlan(num_processes=nproc, num_nodes=num_nodes, node_rank=node_rank,
                      master_addr=addr or "127.0.0.1", master_port=port or free_port(),
                      mixed_precision=args.mixed_precision or saved.get("mixed_precision", "no"),
                      backend=backend, use_gpu=use_gpu, cuda_visible_devices=visible)


def _script_command(args):
    if args.module:
        return [sys.executable, "-m", args.script, *args.script_args]
    if not Path(args.script).is_file() and not (args.no_python and "/" not in args.script):
        raise UsageError(f"script {args.script!r} not found (cwd {os.getcwd()}); use -m for a module")
    if args.no_python:
        return [args.script, *args.script_args]
    return [sys.executable, args.script, *args.script_args]


def _load_saved(args):
    path = Path(args.config_file).expanduser() if args.config_file else None
    if path is not None and not path.is_file():
        raise UsageError(f"--config_file {args.config_file}: no such file")
    try:
        return _config.load_config(path)
    except ValueError as err:
        raise UsageError(str(err)) from None


# ---------------------------------------------------------------------------------------------- commands

def _cmd_launch(args):
    plan = make_plan(args, _load_saved(args))
    plan.command = _script_command(args)
    group = WorkerGroup(plan.command, plan.worker_envs(), plan.ranks(), prefix_output=not args.no_prefix,
                        shutdown_timeout=args.shutdown_timeout)
    try:
        group.start()
    except OSError as err:
        raise UsageError(str(err)) from None
    return group.wait()


def _cmd_config(args):
    try:
        return _config.config_command(args)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _version(module):
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def environment_report(config_file=None):
    """Rows of (what, finding) about this machine: versions, devices, collective libraries."""
    import importlib.util
    import platform

    import numpy

    import mytorch

    rows = [("python", f"{platform.python_version()} ({sys.executable})"),
            ("platform", f"{platform.platform()}, {os.cpu_count()} CPUs"),
            ("numpy", numpy.__version__),
            ("mytorch", f"{mytorch.__version__} ({Path(mytorch.__file__).parent})")]
    gpus = 0
    if importlib.util.find_spec("cupy") is None:
        rows.append(("cupy", "not installed (CPU only)"))
    else:
        from .. import cuda

        try:
            import cupy

            gpus = cuda.device_count()
            rows.append(("cupy", f"{cupy.__version__}, {gpus} GPU(s) visible"))
            rows.extend((f"cuda:{index}", cuda.get_device_name(index)) for index in range(gpus))
            from cupy.cuda import nccl

            rows.append(("nccl", f"{nccl.get_version()} (cupy.cuda.nccl)"))
        except Exception as err:  # broken CUDA libraries, or a cupy built without NCCL
            rows.append(("cupy/nccl", f"not usable ({type(err).__name__}: {err})"))
    rows.append(("triton", _version("triton") or "not installed (no fused GPU kernels)"))
    torch_version = _version("torch")
    rows.append(("torch", f"{torch_version} (the gloo backend)" if torch_version else
                 "not installed: no gloo backend for CPU processes"))
    rows.append(("PyYAML", _version("PyYAML") or "not installed (config written as JSON)"))
    path = Path(config_file).expanduser() if config_file else _config.config_path()
    rows.append(("config", f"{path}" if path.is_file() else f"{path} (none yet: `mytorchrun config`)"))
    return rows, gpus


def _cmd_test(args):
    import json
    import tempfile

    print("mytorchrun test: environment")
    rows, gpus = environment_report(args.config_file)
    width = max(len(name) for name, _ in rows)
    for name, finding in rows:
        print(f"  {name:<{width}}  {finding}")

    saved = _load_saved(args)
    layout_given = any(getattr(args, key) is not None for key in _LAYOUT_KEYS)
    if not layout_given and "num_processes" not in saved and "num_gpus" not in saved:
        args.num_processes = 2  # nothing configured: a 2-process test says more than a 1-process one
        args.num_gpus = 2 if gpus >= 2 and not args.cpu else 0
    plan = make_plan(args, saved)
    where = f"{plan.num_processes} GPU processes" if plan.use_gpu else f"{plan.num_processes} CPU processes"
    print(f"mytorchrun test: all_reduce and one DDP step on {where} (backend {plan.backend}, "
          f"world size {plan.world_size}, {plan.master_addr}:{plan.master_port})", flush=True)

    with tempfile.TemporaryDirectory(prefix="mytorchrun-test-") as results_dir:
        envs = [dict(env, MYTORCH_SELFTEST_DIR=results_dir) for env in plan.worker_envs()]
        command = [sys.executable, "-m", "mytorch.distributed.run", _SELFTEST_WORKER]
        group = WorkerGroup(command, envs, plan.ranks(), prefix_output=not args.no_prefix,
                            shutdown_timeout=args.shutdown_timeout)
        code = group.start().wait(timeout=args.timeout)
        results = {}
        for path in Path(results_dir).glob("rank*.json"):
            result = json.loads(path.read_text())
            results[result["rank"]] = result

    failed = [results[rank] for rank in sorted(results) if not results[rank]["ok"]]
    if code == 0 and len(results) == plan.num_processes and not failed:
        print(f"mytorchrun test: PASS ({where}: all_reduce sum correct, DDP gradients equal the average of "
              "every rank's gradients, parameters identical after the step)")
        return 0
    if failed:
        reason = f"rank {failed[0]['rank']} failed at {failed[0]['stage']}: {failed[0]['error']}"
    elif group.timed_out:
        reason = f"timed out after {args.timeout:g} s (a collective hung?)"
    elif group.failure is not None:
        reason = f"rank {group.failure[0]} exited with code {group.failure[1]} before reporting"
    else:
        reason = f"launcher exit code {code}"
    print(f"mytorchrun test: FAIL: {reason}")
    return 1


def _selftest_worker():
    """One `mytorchrun test` worker: all_reduce, then one DDP step checked against a local computation."""
    import json
    import traceback

    rank = int(os.environ["RANK"])
    result = {"rank": rank, "ok": False, "stage": "import mytorch.distributed"}
    try:
        import numpy as np

        import mytorch
        import mytorch.distributed as dist
        from mytorch import nn

        result["stage"] = "init_process_group"
        backend = os.environ.get("MYTORCH_BACKEND", "gloo")
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        device = f"cuda:{local_rank}" if backend == "nccl" else "cpu"
        if backend == "nccl":
            mytorch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend, timeout=60)
        world = dist.get_world_size()

        result["stage"] = "all_reduce"
        value = mytorch.full((3,), float(rank + 1), device=device)
        dist.all_reduce(value)
        expected = world * (world + 1) / 2
        got = value.cpu().numpy()
        if not np.allclose(got, expected):
            raise AssertionError(f"all_reduce of rank+1 over {world} ranks gave {got.tolist()}, expected {expected}")

        result["stage"] = "import DistributedDataParallel"
        from mytorch.nn.parallel import DistributedDataParallel

        result["stage"] = "DDP step"
        mytorch.manual_seed(0)
        model = nn.Linear(4, 2)
        reference = nn.Linear(4, 2)
        reference.load_state_dict(model.state_dict())
        ddp = DistributedDataParallel(model.to(device), device_ids=[local_rank] if backend == "nccl" else None)
        batches = [mytorch.tensor(np.random.default_rng(r).standard_normal((8, 4)).astype("float32"))
                   for r in range(world)]
        (ddp(batches[rank].to(device)) ** 2).mean().backward()
        for batch in batches:  # expected: every rank's gradient, averaged
            ((reference(batch) ** 2).mean() / world).backward()
        for (name, param), expected_param in zip(model.named_parameters(), reference.parameters()):
            got, want = param.grad.cpu().numpy(), expected_param.grad.cpu().numpy()
            if not np.allclose(got, want, rtol=1e-5, atol=1e-6):
                raise AssertionError(f"DDP gradient of {name} differs from the average of the ranks' gradients "
                                     f"(max diff {np.abs(got - want).max():.3g})")
        mytorch.optim.SGD(model.parameters(), lr=0.1).step()
        params = [p.detach().cpu().numpy() for p in model.parameters()]
        everyone = [None] * world
        dist.all_gather_object(everyone, params)
        if not all(np.array_equal(a, b) for other in everyone for a, b in zip(other, params)):
            raise AssertionError("parameters differ between ranks after the DDP step")
        dist.barrier()
        dist.destroy_process_group()
        result.update(ok=True, stage="done", error=None)
        code = 0
    except Exception as err:
        traceback.print_exc()
        result["error"] = f"{type(err).__name__}: {err}"
        code = 1
    out = Path(os.environ["MYTORCH_SELFTEST_DIR"]) / f"rank{rank}.json"
    out.write_text(json.dumps(result))
    return code


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [_SELFTEST_WORKER]:
        return _selftest_worker()
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help"):
        argv.insert(0, "launch")  # torchrun style: `mytorchrun --nproc_per_node 2 train.py`
    parser, subs = build_parsers()
    sub = subs.get(argv[0]) if argv else None
    if sub is not None:
        argv = argv[:1] + _expand_bare_mixed_precision(sub, argv[1:])
    args = parser.parse_args(argv)
    command = {"launch": _cmd_launch, "config": _cmd_config, "test": _cmd_test}[args.command]
    try:
        return command(args)
    except UsageError as err:
        subs[args.command].error(str(err))


if __name__ == "__main__":
    sys.exit(main())
