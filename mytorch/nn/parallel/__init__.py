"""mytorch.nn.parallel: DistributedDataParallel (one process per replica, gradients all-reduced)."""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
