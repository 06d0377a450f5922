"""DistributedSampler: each of `num_replicas` processes gets an equal, disjoint share of the indices."""
import math

import numpy as np

from .sampler import Sampler


def _default_world():
    """(world_size, rank) of the initialised default process group."""
    try:
        from ... import distributed as dist
    except ImportError:
        raise RuntimeError("Requires distributed package to be available") from None
    if not (hasattr(dist, "is_initialized") and dist.is_initialized()):
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return dist.get_world_size(), dist.get_rank()


class DistributedSampler(Sampler):
    """Rank r takes indices r, r + R, r + 2R, ... of the (optionally shuffled) index list, padded by
    wrapping around (or truncated with drop_last) to a multiple of R, exactly like PyTorch.
    Shuffling uses seed + epoch, so every rank draws the same permutation; call set_epoch each epoch."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            world, world_rank = _default_world()
            num_replicas = world if num_replicas is None else num_replicas
            rank = world_rank if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            rng = np.random.Generator(np.random.PCG64(self.seed + self.epoch))
            indices = rng.permutation(n)
        else:
            indices = np.arange(n)
        # np.resize repeats cyclically: the same padding as PyTorch's `indices += indices[:pad]`
        indices = np.resize(indices, self.total_size) if n else indices[:0]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        self.epoch = epoch
