"""Process groups: the default one (rendezvous from env:// or tcp://) and subgroups of it.

`init_process_group` reads who this process is (rank, world size, master address) from its
arguments, the environment (torchrun's RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT,
or SLURM's), builds the backend ("gloo" on CPUs, "nccl" on GPUs) and keeps it here. `new_group`
asks that backend for a sub-communicator over some of the ranks. Collectives (collectives.py) ask
`default_group(group)` for the group to run on.
"""
import datetime
import enum
import os
import re
import warnings

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
    """A group of processes: its backend engine, this process's rank in it, its size, and its
    members' global ranks (ordered by group rank)."""

    def __init__(self, backend_name, engine, rank, world_size, local_rank, timeout, address, ranks=None,
                 group_desc=None):
        self.backend_name, self.engine = backend_name, engine
        self._rank, self._size, self.local_rank = rank, world_size, local_rank
        self.timeout, self.address = timeout, address
        self.ranks = list(range(world_size)) if ranks is None else list(ranks)
        self.group_desc = group_desc

    def rank(self):
        return self._rank

    def size(self):
        return self._size

    def describe(self, what):
        return (f"mytorch.distributed {what} (backend {self.backend_name}, rank {self._rank} of world size "
                f"{self._size}, timeout {self.timeout})")

    def __repr__(self):
        members = "" if self is _default else f", ranks={self.ranks}"
        return f"ProcessGroup(backend={self.backend_name!r}, rank={self._rank}, size={self._size}{members})"


class group:  # noqa: N801  (torch.distributed.group.WORLD)
    WORLD = None
    NON_GROUP_MEMBER = -100  # what new_group returns to a rank outside the new group


GroupMember = group
_default = None
# group -> {global rank: group rank}, like torch's _world.pg_group_ranks. As in torch, the
# NON_GROUP_MEMBER key holds the ranks of the last group this process was left out of.
_group_ranks = {}


def is_available():
    return True


def is_initialized():
    return _default is not None


def _not_member(pg):
    """Is `pg` the NON_GROUP_MEMBER sentinel (this rank was left out of the group)?"""
    return type(pg) is int and pg == GroupMember.NON_GROUP_MEMBER


def default_group(pg=None):
    """The ProcessGroup a call with group=pg runs on: the default one for None, else `pg`, which must
    be a live group this rank belongs to."""
    if _default is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    if pg is None or pg is _default:
        return _default
    if _not_member(pg):
        raise ValueError("Invalid process group specified")
    if not (isinstance(pg, ProcessGroup) and pg in _group_ranks):
        raise ValueError(f"Process group {pg} is not initialized in the world group map. Please initialize the "
                         f"group first.")
    return pg


def member_group(pg, what):
    """default_group(pg), or None after torch's warning when this rank is not in the group (its
    collectives on that group do nothing)."""
    if _not_member(pg):
        global_rank = -1 if _default is None else _default.rank()
        warnings.warn(f"Running {what} on global rank {global_rank} which does not belong to the given group.",
                      stacklevel=3)
        return None
    return default_group(pg)


def get_rank(group=None):
    """This process's rank in `group` (-1 if it is not a member)."""
    if _not_member(group):
        return -1
    world = default_group()
    if group is None or group is world:
        return world.rank()
    return get_group_rank(group, world.rank())


def get_world_size(group=None):
    """The number of processes in `group` (-1 if this process is not a member)."""
    if _not_member(group):
        return -1
    return default_group(group).size()


def get_backend(group=None):
    return default_group(group).backend_name


def _rank_map(group):
    try:
        ranks = _group_ranks.get(group)  # ProcessGroups hash by identity
    except TypeError:  # unhashable: not a group
        ranks = None
    if ranks is None:
        raise ValueError(f"Group {group} is not registered, please create group with torch.distributed.new_group "
                         f"API")
    return ranks


def get_group_rank(group, global_rank):
    """The rank in `group` of the process with global rank `global_rank`."""
    if group is GroupMember.WORLD:
        return global_rank
    ranks = _rank_map(group)
    if global_rank not in ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return ranks[global_rank]


def get_global_rank(group, group_rank):
    """The global rank of the process with rank `group_rank` in `group`."""
    if group is GroupMember.WORLD:
        return group_rank
    for global_rank, rank in _rank_map(group).items():
        if rank == group_rank:
            return global_rank
    raise ValueError(f"Group rank {group_rank} is not part of group {group}")


def get_process_group_ranks(group):
    """The global ranks of `group`'s members, ordered by group rank."""
    return list(_rank_map(default_group() if group is None else group))


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
    _group_ranks[_default] = {r: r for r in range(world_size)}
    group.WORLD = _default


def destroy_process_group(group=None):
    """Destroy `group`; for the default group (None or WORLD), every group, and leave the job (freeing
    the backend and, on rank 0, the rendezvous store)."""
    global _default
    if _not_member(group):
        return
    if group is None or group is _default:
        world = default_group()
        subgroups = [pg for pg in _group_ranks if isinstance(pg, ProcessGroup) and pg is not world]
        _default = None
        GroupMember.WORLD = None
        _group_ranks.clear()
        for pg in reversed(subgroups):
            pg.engine.close()
        world.engine.close()
        return
    if not (isinstance(group, ProcessGroup) and group in _group_ranks):
        raise ValueError("Invalid process group specified")
    del _group_ranks[group]
    group.engine.close()


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None, sort_ranks=True):
    """A group of the processes with global ranks `ranks` (default: all). Every process of the job calls
    it, in the same order, with the same ranks (with use_local_synchronization=True only the members
    do); members get the group, the others GroupMember.NON_GROUP_MEMBER. The group uses the default
    group's backend and device; pg_options is accepted for compatibility and unused."""
    world = default_group()
    name = Backend(backend or world.backend_name)
    if name != world.backend_name:
        raise ValueError(f"new_group: backend {name!r} differs from the default group's {world.backend_name!r}; "
                         f"mytorch.distributed builds subgroups on the default group's backend")
    if timeout is None:
        timeout = _DEFAULT_TIMEOUTS[name]
    if not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {timeout}")
    global_rank, global_size = world.rank(), world.size()
    if use_local_synchronization and ranks is not None and global_rank not in ranks:
        return None  # as torch: non-members need not call, and get None
    if ranks is None:
        ranks = list(range(global_size))
    else:
        ranks = [int(r) for r in ranks]
        if sort_ranks:
            ranks = sorted(ranks)
        if len(set(ranks)) != len(ranks):
            raise ValueError(f"ranks list must not contain duplicate entries, got {ranks}")
        if len(ranks) > global_size:
            raise ValueError("the new group's world size should be less or equal to the world size set by "
                             "init_process_group")
        for rank in ranks:
            if rank < 0 or rank >= global_size:
                raise ValueError(f"Rank {rank} is out of range. Valid ranks are 0 to {global_size - 1} "
                                 f"(world_size={global_size})")
    mapping = {r: i for i, r in enumerate(ranks)}
    engine = world.engine.new_group(ranks, timeout, use_local_synchronization)
    if engine is None:
        _group_ranks[GroupMember.NON_GROUP_MEMBER] = mapping
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(name, engine, mapping[global_rank], len(ranks), world.local_rank, timeout, world.address,
                      ranks, group_desc)
    _group_ranks[pg] = mapping
    return pg


def new_subgroups(group_size=None, group=None, timeout=None, backend=None, pg_options=None, group_desc=None):
    """Split `group` (default: WORLD) into consecutive subgroups of `group_size` ranks (default: the GPUs
    per machine). Returns (this rank's subgroup, all the subgroups)."""
    if group_size is None:
        from .. import cuda

        if not cuda.is_available():
            raise ValueError("Default group size only takes effect when CUDA is available.If your subgroup using a "
                             "backend that does not depend on CUDA,please pass in 'group_size' correctly.")
        group_size = cuda.device_count()
    if group_size <= 0:
        raise ValueError(f"The arg 'group_size' ({group_size}) must be positive")
    world_size = get_world_size(group=group)
    if world_size < group_size:
        raise ValueError(f"The arg 'group_size' ({group_size}) must not exceed the world size ({world_size})")
    if world_size % group_size != 0:
        raise ValueError(f"The world size ({world_size}) must be divisible by '{group_size=}'")
    ranks = get_process_group_ranks(group)
    return new_subgroups_by_enumeration([ranks[i:i + group_size] for i in range(0, len(ranks), group_size)],
                                        timeout=timeout, backend=backend, pg_options=pg_options, group_desc=group_desc)


def new_subgroups_by_enumeration(ranks_per_subgroup_list, timeout=None, backend=None, pg_options=None,
                                 group_desc=None):
    """One new_group per list of ranks (they must not overlap). Returns (this rank's subgroup or None,
    all the subgroups)."""
    if ranks_per_subgroup_list is None or len(ranks_per_subgroup_list) == 0:
        raise ValueError("The arg 'ranks_per_subgroup_list' cannot be empty")
    subgroups, mine, owner = [], None, {}
    my_rank = get_rank()
    for ranks in ranks_per_subgroup_list:
        subgroup = new_group(ranks=ranks, timeout=timeout, backend=backend, pg_options=pg_options,
                             group_desc=group_desc)
        subgroups.append(subgroup)
        for rank in ranks:
            if rank in owner:
                raise ValueError(f"Rank {rank} has appeared in both subgroup {owner[rank]} and {ranks}")
            owner[rank] = ranks
            if rank == my_rank:
                mine = subgroup
    return mine, subgroups


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
