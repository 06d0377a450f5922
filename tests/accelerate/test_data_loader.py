"""The prepared DataLoader: per-rank shards, a seeded order per epoch, resuming mid-epoch."""
import numpy as np
import pytest

import mytorch
from mytorch.accelerate import Accelerator, GradientState
from mytorch.accelerate.data_loader import DataLoaderShard
from mytorch.utils.data import BatchSampler, DataLoader, Dataset, IterableDataset, SequentialSampler


class Indices(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return mytorch.tensor(i)


def epoch_of(shard):
    return [batch.tolist() for batch in shard]


def shards(n, batch_size, world, shuffle=True, drop_last=False, seed=7, **kwargs):
    return [DataLoaderShard(DataLoader(Indices(n), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, **kwargs),
                            num_processes=world, process_index=rank, gradient_state=GradientState(), seed=seed)
            for rank in range(world)]


@pytest.mark.parametrize("n,batch_size,world,drop_last", [(24, 3, 2, False), (23, 3, 2, False), (23, 3, 2, True),
                                                           (10, 4, 3, False), (31, 2, 4, True)])
def test_sharding_gives_disjoint_batches_per_rank(n, batch_size, world, drop_last):
    ranks = shards(n, batch_size, world, drop_last=drop_last)
    epochs = [epoch_of(shard) for shard in ranks]
    assert len({len(e) for e in epochs}) == 1, "every rank must see the same number of batches"
    assert all(len(e) == len(shard) for e, shard in zip(epochs, ranks))
    assert all(len(b) == batch_size for e in epochs for b in e)
    rounds = len(epochs[0])
    # all rounds but the last are disjoint across ranks and, together, a permutation prefix
    seen = [i for r in range(rounds) for e in epochs for i in e[r]]
    real = seen if drop_last else seen[:n]
    assert len(set(real)) == len(real), "a sample was given to two ranks"
    if drop_last:
        assert len(real) == (n // (batch_size * world)) * batch_size * world
    else:
        assert sorted(real) == list(range(n))
        remainder = n - (rounds - 1) * batch_size * world
        assert ranks[0].remainder == (remainder if remainder < batch_size * world else -1)


def test_single_process_matches_a_plain_loader_without_shuffle():
    plain = DataLoader(Indices(10), batch_size=3)
    (shard,) = shards(10, 3, 1, shuffle=False)
    assert epoch_of(shard) == [b.tolist() for b in plain] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_shuffled_order_depends_on_seed_and_epoch_only():
    a, = shards(20, 4, 1, seed=3)
    b, = shards(20, 4, 1, seed=3)
    mytorch.manual_seed(99)  # the global RNG plays no part
    a1, a2 = epoch_of(a), epoch_of(a)
    assert a1 != a2 and sorted(sum(a1, [])) == list(range(20))
    assert [epoch_of(b), epoch_of(b)] == [a1, a2]
    c, = shards(20, 4, 1, seed=4)
    assert epoch_of(c) != a1
    b.set_epoch(0)
    assert epoch_of(b) == a1


def test_workers_give_the_same_batches():
    a, = shards(16, 4, 1, seed=5)
    b, = shards(16, 4, 1, seed=5, num_workers=2)
    assert epoch_of(a) == epoch_of(b)


@pytest.mark.parametrize("stop_after", [0, 2, 4])
def test_resume_mid_epoch_continues_the_order(stop_after):
    full, = shards(20, 4, 1, seed=11)
    reference = epoch_of(full) + epoch_of(full)
    first, = shards(20, 4, 1, seed=11)
    got = []
    if stop_after:
        for batch in first:
            got.append(batch.tolist())
            if len(got) == stop_after:
                break
    resumed, = shards(20, 4, 1, seed=1234)  # a different seed: the checkpoint's wins
    resumed.load_state_dict(first.state_dict())
    got += epoch_of(resumed)  # the rest of the interrupted epoch (all of epoch 0 if it never started)
    got += epoch_of(resumed)
    assert got == reference


def test_resume_after_a_finished_epoch_starts_the_next():
    full, = shards(8, 4, 1)
    reference = [epoch_of(full) for _ in range(2)]
    first, = shards(8, 4, 1)
    epoch_of(first)
    resumed, = shards(8, 4, 1)
    resumed.load_state_dict(first.state_dict())
    assert epoch_of(resumed) == reference[1]


def test_custom_batch_sampler_is_sharded_round_robin():
    sampler = BatchSampler(SequentialSampler(range(14)), batch_size=3, drop_last=False)  # 5 batches
    ranks = [DataLoaderShard(DataLoader(Indices(14), batch_sampler=sampler), num_processes=2, process_index=r,
                             seed=0) for r in range(2)]
    assert epoch_of(ranks[0]) == [[0, 1, 2], [6, 7, 8], [12, 13]]
    assert epoch_of(ranks[1]) == [[3, 4, 5], [9, 10, 11], [0, 1, 2]]  # refilled to the same count
    assert len(ranks[0]) == len(ranks[1]) == 3


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(mytorch.arange(self.n).unbind(0))


def test_iterable_dataset_is_split_by_whole_rounds():
    base = DataLoader(Stream(10), batch_size=2)  # 5 batches: 2 full rounds over 2 ranks, the 5th dropped
    ranks = [DataLoaderShard(base, num_processes=2, process_index=r, seed=0) for r in range(2)]
    assert epoch_of(ranks[0]) == [[0, 1], [4, 5]] and epoch_of(ranks[1]) == [[2, 3], [6, 7]]
    single = DataLoaderShard(DataLoader(Stream(5), batch_size=2), seed=0)
    assert epoch_of(single) == [[0, 1], [2, 3], [4]]
    single.load_state_dict({"seed": 0, "epoch": 0, "batches_yielded": 1})
    assert epoch_of(single) == [[2, 3], [4]]


def test_prepare_moves_batches_and_marks_the_last_one():
    accelerator = Accelerator()
    shard = accelerator.prepare(DataLoader(Indices(7), batch_size=3, shuffle=True))
    flags = []
    for batch in shard:
        assert batch.device == accelerator.device
        flags.append(accelerator.gradient_state.end_of_dataloader)
    assert flags == [False, False, True]
    assert not accelerator.gradient_state.end_of_dataloader  # the loop is over
    assert shard.batch_size == 3 and len(shard.dataset) == 7 and len(shard) == 3


def test_prepare_rejects_a_loader_it_cannot_shard():
    with pytest.raises(ValueError, match="batch_size=None"):
        DataLoaderShard(DataLoader(Indices(4), batch_size=None), num_processes=2, process_index=0, seed=0)
    with pytest.raises(TypeError, match="DataLoader"):
        DataLoaderShard([1, 2, 3])
