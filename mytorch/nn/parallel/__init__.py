"""mytorch.nn.parallel: DistributedDataParallel (one process per replica, gradients all-reduced) and
DataParallel (one process, the batch split over GPUs)."""
from .data_parallel import DataParallel, data_parallel
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel", "DataParallel", "data_parallel"]
