"""The default process group: rendezvous from env:// or tcp://, the backend it drives, its state.

`init_process_group` reads who this process is (rank, world size, master address) from its
arguments, the environment (torchrun's RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT,
or SLURM's), builds the backend ("gloo" on CPUs, "nccl" on GPUs) and keeps it here. Collectives
(collectives.py) ask `default_group()` for it.
"""
import datetime
import enum
import os
import re

# PyTorch's defaults: gloo waits 30 minutes, NCCL 10
_DEFAULT_TIMEOUTS = {"gloo": datetime.timedelta(minutes=30), "nccl": datetime.timedelta(minutes=10)}
default_pg_timeout = _DEFAULT_TIMEOUTS["gloo"]


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"

    def __repr__(self):
        return f"<ReduceOp.{self.name}>"


class Backend(str):
    """Backend names, spelled like torch.distributed.Backend."""
    GLOO = "gloo"
    NCCL = "nccl"

    def __new__(cls, name):
        name = str(name).lower()
        if name not in (cls.GLOO, cls.NCCL):
            raise ValueError(f"Invalid backend: '{name}' (mytorch.distributed supports 'gloo' for CPU tensors "
                             f"and 'nccl' for CUDA tensors)")
        return super().__new__(cls, name)


class ProcessGroup:
    """The group of all processes: its backend engine, rank, size and rendezvous address."""

    def __init__(self, backend_name, engine, rank, world_size, local_rank, timeout, address):
        self.backend_name, self.engine = backend_name, engine
        self._rank, self._size, self.local_rank = rank, world_size, local_rank
        self.timeout, self.address = timeout, address

    def rank(self):
        return self._rank

    def size(self):
        return self._size

    def describe(self, what):
        return (f"mytorch.distributed {what} (backend {self.backend_name}, rank {self._rank} of world size "
                f"{self._size}, timeout {self.timeout})")

    def __repr__(self):
        return f"ProcessGroup(backend={self.backend_name!r}, rank={self._rank}, size={self._size})"


class group:  # noqa: N801  (torch.distributed.group.WORLD)
    WORLD = None


GroupMember = group
_default = None


def is_available():
    return True


def is_initialized():
    return _default is not None


def default_group(pg=None):
    if pg is not None and pg is not _default:
        raise ValueError("mytorch.distributed has one process group, the default (WORLD); got "
                         f"group={pg!r}")
    if _default is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return _default


def get_rank(group=None):
    return default_group(group).rank()


def get_world_size(group=None):
    return default_group(group).size()


def get_backend(group=None):
    return default_group(group).backend_name


def get_node_local_rank(fallback_rank=None):
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow "
                       "`get_node_local_rank` to work, assuming you are not running in a multi-device context "
                       "and want the code to run locally instead.")


def is_gloo_available():
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def is_nccl_available():
    from .. import cuda

    return cuda.is_available()


def _env(*names):
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            return value
    return None


def _first_slurm_host(nodelist):
    """'gpu[003-004,9],cpu1' -> 'gpu003' (the job's first node hosts the store)."""
    match = re.match(r"([^,\[]+)(\[([^\]]+)\])?", nodelist)
    prefix, ranges = match.group(1), match.group(3)
    return prefix if ranges is None else prefix + ranges.split(",")[0].split("-")[0]


def _rendezvous(init_method, rank, world_size):
    """(rank, world_size, local_rank, addr, port) from the arguments, then the environment."""
    def need(value, name):
        if value is None:
            raise ValueError(f"Error initializing mytorch.distributed using {init_method} rendezvous: "
                             f"environment variable {name} expected, but not set")
        return value

    addr, port = None, None
    if init_method.startswith("tcp://"):
        location, _, query = init_method.partition("?")
        match = re.fullmatch(r"tcp://\[?([^\]]+?)\]?:(\d+)/?", location)
        if match is None:
            raise ValueError(f"init_method {init_method!r} should look like tcp://HOST:PORT[?rank=R&world_size=N]")
        addr, port = match.group(1), int(match.group(2))
        params = dict(item.partition("=")[::2] for item in query.split("&") if item)
        if "rank" in params and (rank is None or rank < 0):
            rank = int(params["rank"])
        if "world_size" in params and (world_size is None or world_size < 0):
            world_size = int(params["world_size"])
    elif init_method != "env://":
        raise ValueError(f"init_method {init_method!r} is not supported: use 'env://' (MASTER_ADDR, "
                         f"MASTER_PORT, RANK, WORLD_SIZE) or 'tcp://HOST:PORT'")
    if rank is None or rank < 0:
        rank = int(need(_env("RANK", "SLURM_PROCID"), "RANK"))
    if world_size is None or world_size < 0:
        world_size = int(need(_env("WORLD_SIZE", "SLURM_NTASKS"), "WORLD_SIZE"))
    local_rank = int(_env("LOCAL_RANK", "SLURM_LOCALID") or 0)
    if addr is None:
        addr = _env("MASTER_ADDR")
        nodelist = _env("SLURM_JOB_NODELIST", "SLURM_NODELIST")
        if addr is None and nodelist:
            addr = _first_slurm_host(nodelist)
        addr = need(addr, "MASTER_ADDR")
    if port is None:
        port = _env("MASTER_PORT")
        job_id = _env("SLURM_JOB_ID")
        if port is None and job_id and job_id.isdigit():
            port = 15000 + int(job_id) % 20000  # same on every task of the job, clear of system ports
        port = int(need(port, "MASTER_PORT"))
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"invalid rank {rank} for world size {world_size}: need 0 <= rank < world_size")
    return rank, world_size, local_rank, addr, port


def _default_backend():
    from .. import cuda

    name = os.environ.get("MYTORCH_BACKEND")
    if name:
        return name
    return "nccl" if cuda.is_available() else "gloo"


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the default process group. env:// (the default) reads RANK, WORLD_SIZE, MASTER_ADDR,
    MASTER_PORT, LOCAL_RANK (or SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_JOB_NODELIST).
    A rank that can't meet the others within `timeout` raises a RuntimeError instead of hanging."""
    global _default
    if _default is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    name = Backend(backend if backend is not None else _default_backend())
    if timeout is None:
        timeout = _DEFAULT_TIMEOUTS[name]
    elif not isinstance(timeout, datetime.timedelta):
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {timeout!r}")
        timeout = datetime.timedelta(seconds=timeout)
    if store is not None:
        if rank < 0 or world_size < 1:
            raise ValueError("init_process_group with a store needs rank and world_size")
        local_rank = int(_env("LOCAL_RANK", "SLURM_LOCALID") or 0)
        addr, port = getattr(store, "host", "store"), getattr(store, "port", "?")
    else:
        rank, world_size, local_rank, addr, port = _rendezvous(init_method or "env://", rank, world_size)
    if name == "gloo":
        from .gloo import GlooEngine as engine_cls
    else:
        from .nccl import NcclEngine as engine_cls
    engine = engine_cls(addr, port, rank, world_size, local_rank, timeout, store, device_id)
    _default = ProcessGroup(name, engine, rank, world_size, local_rank, timeout, f"{addr}:{port}")
    group.WORLD = _default


def destroy_process_group(group=None):
    """Leave the default group and free the backend (and, on rank 0, the rendezvous store)."""
    global _default
    pg = default_group(group)
    _default = None
    GroupMember.WORLD = None
    pg.engine.close()


# ---- pieces the backends share -----------------------------------------------------------------

class Work:
    """The handle an async collective returns: wait() blocks until it is done (or raises on its
    timeout), then runs the backend's finishing step (AVG's division, copying staged data back)."""

    def __init__(self, wait, finish=None, done=None):
        self._wait, self._finish, self._done = wait, finish, done
        self._completed = False

    def wait(self, timeout=None):
        if not self._completed:
            self._wait()
            if self._finish is not None:
                self._finish()
            self._completed = True
        return True

    def is_completed(self):
        if self._completed:
            return True
        return bool(self._done()) if self._done is not None else False

    def result(self):
        return []


def divide_in_place(arr, n):
    """AVG = SUM / n. Integers divide like C (toward zero), as NCCL's average does."""
    kind = arr.dtype.kind
    if kind == "b":
        raise RuntimeError("ReduceOp.AVG is not supported for bool tensors")
    if kind in "iu":
        sign = (arr >= 0) * 2 - 1
        arr[...] = sign * (abs(arr) // n)
    else:
        arr /= n
