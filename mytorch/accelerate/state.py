"""Who am I and where do I run (PartialState), and where are we in an accumulation window (GradientState)."""
import os

from .._array import device as Device


def _env_int(name, default):
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def _dist():
    """mytorch.distributed, or None while it is not available (single-process runs never need it)."""
    try:
        from .. import distributed
    except ImportError:
        return None
    return distributed if getattr(distributed, "is_available", lambda: False)() else None


class PartialState:
    """The process layout: rank, world size, local rank and device. Joins the process group that a
    launcher (mytorchrun, torchrun, SLURM) describes in the environment when WORLD_SIZE > 1."""

    def __init__(self, cpu=False):
        world_size = _env_int("WORLD_SIZE", _env_int("SLURM_NTASKS", 1))
        dist = _dist()
        if dist is not None and dist.is_initialized():
            world_size = dist.get_world_size()
        elif world_size > 1:
            if dist is None:
                raise RuntimeError(f"WORLD_SIZE={world_size} asks for a multi-process run, but mytorch.distributed "
                                   "is not available")
            dist.init_process_group(backend=self._backend(cpu))
        self.distributed = world_size > 1
        self.num_processes = world_size
        self.process_index = dist.get_rank() if self.distributed else 0
        self.local_process_index = _env_int("LOCAL_RANK", _env_int("SLURM_LOCALID", 0))
        self.device = self._device(cpu)

    @staticmethod
    def _backend(cpu):
        backend = os.environ.get("MYTORCH_BACKEND")
        if backend:
            return backend
        from .. import cuda

        return "nccl" if (cuda.is_available() and not cpu) else "gloo"

    def _device(self, cpu):
        from .. import cuda

        if cpu or not cuda.is_available():
            return Device("cpu")
        index = self.local_process_index % max(cuda.device_count(), 1)
        cuda.set_device(index)
        return Device("cuda", index)

    @property
    def is_main_process(self):
        return self.process_index == 0

    @property
    def is_local_main_process(self):
        return self.local_process_index == 0

    def wait_for_everyone(self):
        if self.distributed:
            _dist().barrier()


class GradientState:
    """Counts micro-steps. `sync_gradients` is True on the micro-step that completes an accumulation
    window (every `num_steps`-th one, and the last batch of a prepared DataLoader's epoch)."""

    def __init__(self, num_steps=1):
        self.num_steps = num_steps
        self.micro_step = 0  # micro-batches accumulated in the open window
        self.sync_gradients = True
        self.in_accumulate = False
        self.dataloaders = []  # prepared loaders being iterated, innermost (most recent) last

    @property
    def active_dataloader(self):
        return self.dataloaders[-1] if self.dataloaders else None

    @property
    def end_of_dataloader(self):
        """True while the batch being processed is the last one of the innermost active prepared loader."""
        return bool(self.dataloaders) and self.dataloaders[-1].end_of_dataloader

    @property
    def remainder(self):
        """Real samples in that loader's last gathered round (-1: nothing padded)."""
        return self.dataloaders[-1].remainder if self.dataloaders else -1

    def advance(self):
        """Start the next micro-step: decide whether it completes the window."""
        self.micro_step += 1
        self.sync_gradients = self.micro_step >= self.num_steps or self.end_of_dataloader
        if self.sync_gradients:
            self.micro_step = 0
        return self.sync_gradients

    def state_dict(self):
        return {"micro_step": self.micro_step, "sync_gradients": self.sync_gradients}

    def load_state_dict(self, state):
        self.micro_step = int(state["micro_step"])
        self.sync_gradients = bool(state["sync_gradients"])
