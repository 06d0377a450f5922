"""The prepared DataLoader: per-rank shards, a reproducible and resumable order, batches on the device.

Order. A shuffling loader (RandomSampler) draws one seed at prepare() time (from the loader's
generator, else mytorch's default one; rank 0's seed is shared with all ranks) and epoch e uses the
permutation seeded by (seed, e). The order of epoch e is then a function of (seed, e) only, the same
on every rank and after a restart, and iterating the loader never touches the global RNG (the
worker base seed comes from a private generator too).

Sharding (num_processes W > 1, batch size b). Round i gives rank r the batch
order[(i*W + r)*b : (i*W + r + 1)*b]. With drop_last the incomplete last round is dropped; without
it the order wraps around to fill the last round, so every rank sees the same number of full batches
(DDP needs that) and `gradient_state.remainder` tells gather_for_metrics how many gathered samples
of the last round are real. A DistributedSampler the user set up is kept as is (set_epoch is called).

Resume. state_dict() holds (seed, epoch, batches yielded in that epoch). After load_state_dict the
next `iter(loader)` continues that epoch right after the last batch the interrupted run had
yielded (the skipped batches are not loaded); later iterations start epochs e+1, e+2, ... Custom
samplers are replayed from the start of the epoch and fast-forwarded, which is exact only if they
are deterministic.
"""
import itertools
import math

import numpy as np

from ..random import Generator, rng_for
from .._array import CPU
from ..utils.data import DataLoader, DistributedSampler, RandomSampler, SequentialSampler
from .operations import send_to_device


class _EpochBatches:
    """The batch sampler the inner DataLoader iterates: this rank's index batches for the epoch the
    owning DataLoaderShard is on, starting after the batches to skip."""

    def __init__(self, shard):
        self.shard = shard

    def __iter__(self):
        return self.shard._batches()

    def __len__(self):
        return len(self.shard)


class DataLoaderShard:
    def __init__(self, loader, device=None, num_processes=1, process_index=0, gradient_state=None, seed=None,
                 device_placement=True):
        if not isinstance(loader, DataLoader):
            raise TypeError(f"prepare() expects a mytorch.utils.data.DataLoader, got {type(loader).__name__}")
        self.base_loader = loader
        self.device = device if device_placement else None
        self.num_processes = num_processes
        self.process_index = process_index
        self.gradient_state = gradient_state
        self.seed = default_shuffle_seed(loader) if seed is None else seed
        self.epoch = -1  # the epoch being (or last) iterated
        self.batches_yielded = 0
        self._resume = None  # (epoch, batches to skip) set by load_state_dict
        self._iterable = loader._is_iterable
        self._epoch_remainder = -1  # real samples in this epoch's last round, known once its order is drawn
        self.end_of_dataloader, self.remainder = False, -1  # published when the last batch is handed out
        if not self._iterable:
            self._batch_size = loader.batch_size
            self._sharded = num_processes > 1 and not isinstance(loader.sampler, DistributedSampler)
            self._own_order = loader.batch_size is not None and isinstance(loader.sampler, (RandomSampler,
                                                                                          SequentialSampler))
            if self._sharded and loader.batch_sampler is None:
                raise ValueError("prepare() cannot shard a DataLoader with batch_size=None over "
                                 f"{num_processes} processes; give it a batch_size or a DistributedSampler")
            self._worker_generator = Generator()
            self._loader = DataLoader(loader.dataset, batch_sampler=_EpochBatches(self), num_workers=loader.num_workers,
                                      collate_fn=loader.collate_fn, pin_memory=loader.pin_memory,
                                      timeout=loader.timeout, worker_init_fn=loader.worker_init_fn,
                                      multiprocessing_context=loader.multiprocessing_context,
                                      generator=self._worker_generator, prefetch_factor=loader.prefetch_factor,
                                      persistent_workers=loader.persistent_workers, in_order=loader.in_order)

    # what the DataLoader API users read --------------------------------------------------------
    @property
    def dataset(self):
        return self.base_loader.dataset

    @property
    def batch_size(self):
        return self.base_loader.batch_size

    @property
    def sampler(self):
        return self.base_loader.sampler

    def set_epoch(self, epoch):
        """Iterate epoch `epoch` next (like DistributedSampler.set_epoch)."""
        self._resume = (int(epoch), 0)

    # order -------------------------------------------------------------------------------------
    def _epoch_order(self, epoch):
        """All dataset indices of one epoch, in visiting order (before sharding)."""
        sampler = self.base_loader.sampler
        n = len(self.base_loader.dataset)
        if isinstance(sampler, SequentialSampler):
            return np.arange(n)
        generator = Generator().manual_seed(self.seed + epoch)
        fresh = RandomSampler(self.base_loader.dataset, replacement=sampler.replacement,
                              num_samples=sampler._num_samples, generator=generator)
        return np.fromiter(iter(fresh), dtype=np.int64, count=len(fresh))

    def _all_rank_batches(self, epoch):
        """(number of rounds, a function round -> this rank's batch) for own-order loaders."""
        order = self._epoch_order(epoch)
        b, world, rank = self._batch_size, self.num_processes, self.process_index
        per_round = b * world
        self._epoch_remainder = -1
        if self.base_loader.drop_last:
            rounds = len(order) // per_round
        else:
            rounds = math.ceil(len(order) / per_round)
            real_last = len(order) - (rounds - 1) * per_round
            if world > 1 and real_last < per_round:  # wrap around to fill the last round
                self._epoch_remainder = real_last
                order = np.resize(order, rounds * per_round)
        return rounds, lambda i: order[(i * world + rank) * b:(i * world + rank + 1) * b].tolist()

    def _batches(self):
        epoch, skip = self.epoch, self._skip
        if self._own_order:
            rounds, batch = self._all_rank_batches(epoch)
            return (batch(i) for i in range(skip, rounds))
        sampler = self.base_loader.sampler
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        batches = iter(self.base_loader.batch_sampler if self.base_loader.batch_sampler is not None else sampler)
        if self._sharded:
            batches = self._round_robin(batches)
        return itertools.islice(batches, skip, None)

    def _round_robin(self, batches):
        """Rank r's share of a custom batch sampler: batch r of every round of W. Ranks with no batch in a
        short last round repeat one of the first batches, so all ranks yield the same count."""
        world, rank = self.num_processes, self.process_index
        first_round, count = [], 0
        for count, batch in enumerate(batches, 1):
            if count <= world:
                first_round.append(batch)
            if (count - 1) % world == rank:
                yield batch
        short = count % world
        if short and rank >= short:
            yield first_round[(rank - short) % len(first_round)]

    def __len__(self):
        if self._iterable:
            n = len(self.base_loader)
            return n // self.num_processes if self.num_processes > 1 else n
        n_batches = len(self.base_loader)
        if not self._sharded:
            return n_batches
        if self._own_order:
            n, per_round = len(self.base_loader.sampler), self._batch_size * self.num_processes
            return n // per_round if self.base_loader.drop_last else math.ceil(n / per_round)
        return math.ceil(n_batches / self.num_processes)

    def _length_or_inf(self):
        try:
            return len(self)
        except TypeError:  # an IterableDataset without __len__
            return math.inf

    # iteration ---------------------------------------------------------------------------------
    def _start_epoch(self):
        if self._resume is not None:
            self.epoch, self._skip = self._resume
            self._resume = None
        else:
            self.epoch, self._skip = self.epoch + 1, 0
        self.batches_yielded = self._skip
        if not self._iterable:
            self._worker_generator.manual_seed((self.seed or 0) * 1_000_003 + self.epoch)

    def _source(self):
        if not self._iterable:
            return iter(self._loader)
        # an IterableDataset: rank r takes batch r of every round of W, full rounds only
        it = itertools.islice(iter(self.base_loader), self._skip * self.num_processes, None)
        if self.num_processes == 1:
            return it
        return (batch for i, batch in enumerate(self._full_rounds(it)) if i % self.num_processes == self.process_index)

    def _full_rounds(self, it):
        while True:
            round_ = list(itertools.islice(it, self.num_processes))
            if len(round_) < self.num_processes:
                return
            yield from round_

    def __iter__(self):
        self._start_epoch()
        self.end_of_dataloader, self.remainder = False, -1
        active = self.gradient_state.dataloaders if self.gradient_state is not None else []
        active.append(self)
        try:
            # one batch ahead, so the last batch is known to be the last when it is handed out
            it = self._source()
            current = next(it, _END)
            while current is not _END:
                upcoming = next(it, _END)
                if upcoming is _END:
                    self.end_of_dataloader, self.remainder = True, self._epoch_remainder
                self.batches_yielded += 1
                yield send_to_device(current, self.device) if self.device is not None else current
                current = upcoming
        finally:
            if self in active:
                active.remove(self)

    # checkpointing -----------------------------------------------------------------------------
    def state_dict(self):
        return {"seed": self.seed, "epoch": self.epoch, "batches_yielded": self.batches_yielded}

    def load_state_dict(self, state):
        self.seed = state["seed"]
        epoch, done = int(state["epoch"]), int(state["batches_yielded"])
        if epoch < 0:
            self.epoch, self._resume = -1, None
        elif done >= self._length_or_inf():  # the epoch was finished: go on with the next one
            self.epoch, self._resume = epoch, None
        else:
            self._resume = (epoch, done)

    def __repr__(self):
        return (f"DataLoaderShard(process {self.process_index} of {self.num_processes}, "
                f"batch_size={self.batch_size}, epoch={self.epoch})")


_END = object()


def default_shuffle_seed(loader):
    """The shuffling seed of a loader, drawn at prepare() time from its generator (else mytorch's
    default CPU one); 0 for a loader that doesn't shuffle."""
    if isinstance(loader.sampler, RandomSampler):
        return int(rng_for(CPU, loader.generator).integers(0, 1 << 62))
    return 0

