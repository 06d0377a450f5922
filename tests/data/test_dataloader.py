"""DataLoader: batching, shuffling, argument checks, worker processes, errors, shutdown."""
import gc
import multiprocessing as mp
import os
import signal
import time

import numpy as np
import pytest
import torch.utils.data as tdata

import mytorch
from mytorch.utils.data import (DataLoader, Dataset, IterableDataset, RandomSampler, SequentialSampler,
                                TensorDataset, get_worker_info)


class Squares(Dataset):
    """Sample i is (tensor([i, i*i]), i); optionally fails or sleeps at one index."""

    def __init__(self, n, fail_at=None, sleep_at=None, sleep=0.0):
        self.n, self.fail_at, self.sleep_at, self.sleep = n, fail_at, sleep_at, sleep

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"cannot load sample {i}")
        if i == self.sleep_at:
            time.sleep(self.sleep)
        return mytorch.tensor([i, i * i]), i


class WorkerTagged(Dataset):
    """Returns (index, worker id, worker seed, pid): shows which process produced what."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return i, info.id, info.seed, os.getpid()


class Shards(IterableDataset):
    """An IterableDataset sharded across workers by get_worker_info()."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


def _labels(loader):
    return [b[1].tolist() for b in loader]


def _no_children():
    gc.collect()
    deadline = time.time() + 10
    while mp.active_children() and time.time() < deadline:
        time.sleep(0.05)
    return mp.active_children() == []


# single process --------------------------------------------------------------------------------
@pytest.mark.parametrize("n,batch_size,drop_last", [(10, 3, False), (10, 3, True), (10, 5, False), (3, 4, True)])
def test_batching_and_len_match_torch(n, batch_size, drop_last):
    loader = DataLoader(Squares(n), batch_size=batch_size, drop_last=drop_last)
    theirs = tdata.DataLoader(list(range(n)), batch_size=batch_size, drop_last=drop_last)
    assert _labels(loader) == [b.tolist() for b in theirs] and len(loader) == len(theirs)
    for x, y in loader:
        assert x.dtype == mytorch.int64 and tuple(x.shape) == (len(y), 2)


def test_tensor_dataset_batches():
    x, y = mytorch.randn(7, 3), mytorch.arange(7)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4))
    assert [tuple(b[0].shape) for b in batches] == [(4, 3), (3, 3)]
    np.testing.assert_array_equal(batches[1][0].numpy(), x.numpy()[4:])


def test_batch_size_none_uses_default_convert():
    loader = DataLoader([np.arange(3), np.ones(2)], batch_size=None)
    out = list(loader)
    assert len(loader) == 2 and all(isinstance(t, mytorch.Tensor) for t in out) and out[0].tolist() == [0, 1, 2]


def test_shuffle_reproducible_with_generator_and_seed():
    def epoch(gen=None):
        return sum(_labels(DataLoader(Squares(20), batch_size=4, shuffle=True, generator=gen)), [])

    a, b = epoch(mytorch.Generator().manual_seed(7)), epoch(mytorch.Generator().manual_seed(7))
    assert a == b and sorted(a) == list(range(20)) and a != list(range(20))
    mytorch.manual_seed(3)
    c = epoch()
    mytorch.manual_seed(3)
    assert epoch() == c
    gen = mytorch.Generator().manual_seed(7)
    loader = DataLoader(Squares(20), batch_size=4, shuffle=True, generator=gen)
    assert sum(_labels(loader), []) != sum(_labels(loader), [])  # a new order every epoch


def test_custom_sampler_and_batch_sampler():
    assert _labels(DataLoader(Squares(5), sampler=[4, 0, 2], batch_size=2)) == [[4, 0], [2]]
    assert _labels(DataLoader(Squares(5), batch_sampler=[[1, 2], [0]])) == [[1, 2], [0]]


@pytest.mark.parametrize("kwargs,message", [
    ({"num_workers": -1}, "num_workers option should be non-negative"),
    ({"timeout": -1}, "timeout option should be non-negative"),
    ({"prefetch_factor": 2}, "prefetch_factor option could only be specified in multiprocessing"),
    ({"num_workers": 1, "prefetch_factor": -1}, "prefetch_factor option should be non-negative"),
    ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
    ({"sampler": [0], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
    ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive with batch_size"),
    ({"batch_sampler": [[0]], "drop_last": True}, "batch_sampler option is mutually exclusive"),
    ({"batch_size": None, "drop_last": True}, "batch_size=None option disables auto-batching"),
    ({"multiprocessing_context": "fork"}, "multiprocessing_context can only be used with multi-process"),
    ({"num_workers": 1, "multiprocessing_context": "nope"}, "should specify a valid start method"),
])
def test_argument_checks_match_torch(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(Squares(3), **kwargs)
    with pytest.raises(ValueError, match=message):
        tdata.DataLoader(list(range(3)), **kwargs)


def test_iterable_dataset_checks_and_len():
    for kwargs in ({"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}):
        with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified"):
            DataLoader(Shards(4), **kwargs)
    assert len(DataLoader(Shards(10), batch_size=3)) == 4 and len(DataLoader(Shards(10), batch_size=3,
                                                                             drop_last=True)) == 3
    assert [b.tolist() for b in DataLoader(Shards(5), batch_size=2)] == [[0, 1], [2, 3], [4]]


def test_attributes_frozen_after_init():
    loader = DataLoader(Squares(3))
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        loader.batch_size = 4
    assert isinstance(loader.sampler, SequentialSampler)
    assert isinstance(DataLoader(Squares(3), shuffle=True).sampler, RandomSampler)


# worker processes ------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size,drop_last", [(3, False), (4, True), (1, False)])
def test_workers_every_sample_once_in_order(batch_size, drop_last):
    loader = DataLoader(Squares(11), batch_size=batch_size, drop_last=drop_last, num_workers=2)
    single = DataLoader(Squares(11), batch_size=batch_size, drop_last=drop_last)
    assert _labels(loader) == _labels(single)
    assert _no_children()


def test_in_order_false_delivers_ready_batches_first():
    slow_first = Squares(8, sleep_at=0, sleep=0.3)
    ordered = _labels(DataLoader(slow_first, batch_size=2, num_workers=2))
    unordered = _labels(DataLoader(slow_first, batch_size=2, num_workers=2, in_order=False))
    assert ordered == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert unordered[0] != [0, 1] and sorted(map(tuple, unordered)) == sorted(map(tuple, ordered))
    assert _no_children()


def test_workers_share_work_and_seeds():
    gen = mytorch.Generator().manual_seed(11)
    rows = [row for batch in DataLoader(WorkerTagged(), batch_size=2, num_workers=2, generator=gen)
            for row in zip(*(b.tolist() if isinstance(b, mytorch.Tensor) else b for b in batch))]
    assert [r[0] for r in rows] == list(range(12))
    by_worker = {r[1]: (r[2], r[3]) for r in rows}
    assert sorted(by_worker) == [0, 1] and by_worker[0][1] != by_worker[1][1] != os.getpid()
    assert by_worker[1][0] == by_worker[0][0] + 1  # seed = base_seed + worker_id
    again = DataLoader(WorkerTagged(), batch_size=2, num_workers=2, generator=mytorch.Generator().manual_seed(11))
    assert next(iter(again))[2].tolist()[0] == by_worker[0][0]  # base seed comes from the generator
    assert _no_children()


def _init_fn(worker_id):
    np.random.seed(1000 + worker_id)


class NumpyRandom(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return float(np.random.rand())


def test_worker_init_fn_runs_in_each_worker():
    values = sum((b.tolist() for b in DataLoader(NumpyRandom(), batch_size=1, num_workers=2,
                                                worker_init_fn=_init_fn)), [])
    expected = [np.random.RandomState(1000 + w).rand(2)[k] for k in range(2) for w in range(2)]
    np.testing.assert_allclose(values, expected)


def test_worker_exception_carries_traceback():
    loader = DataLoader(Squares(8, fail_at=5), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(loader)
    message = str(info.value)
    assert "Caught ValueError in DataLoader worker process 0" in message
    assert "Original Traceback (most recent call last)" in message and "cannot load sample 5" in message
    assert "__getitem__" in message
    del info
    it = iter(DataLoader(Squares(6, fail_at=1), batch_size=2, num_workers=2))
    with pytest.raises(ValueError, match="cannot load sample 1"):
        next(it)
    assert next(it)[1].tolist() == [2, 3]  # like PyTorch, the epoch can go on after a failed batch
    del it
    assert _no_children()


def test_no_zombies_after_break():
    for batch in DataLoader(Squares(40), batch_size=2, num_workers=2):
        break
    assert _no_children()
    it = iter(DataLoader(Squares(40), batch_size=2, num_workers=2))
    next(it)
    assert len(mp.active_children()) == 2
    del it
    assert _no_children()


def test_persistent_workers_reused_across_epochs():
    loader = DataLoader(Squares(9), batch_size=2, num_workers=2, persistent_workers=True)
    first = _labels(loader)
    pids = sorted(p.pid for p in mp.active_children())
    assert len(pids) == 2
    assert _labels(loader) == first == _labels(DataLoader(Squares(9), batch_size=2))
    next(iter(loader))  # an epoch abandoned midway...
    assert _labels(loader) == first  # ...does not leak stale batches into the next one
    assert sorted(p.pid for p in mp.active_children()) == pids
    del loader
    assert _no_children()


@pytest.mark.parametrize("persistent", [False, True])
def test_iterable_dataset_with_workers(persistent):
    loader = DataLoader(Shards(11), batch_size=2, num_workers=2, persistent_workers=persistent)
    theirs = tdata.DataLoader(_TorchShards(11), batch_size=2, num_workers=2)
    expected = [b.tolist() for b in theirs]
    for _ in range(2 if persistent else 1):
        assert [b.tolist() for b in loader] == expected  # round-robin over the workers' shards
    del loader
    assert _no_children()


class _TorchShards(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tdata.get_worker_info()
        return iter(range(info.id, self.n, info.num_workers))


def test_timeout_raises():
    loader = DataLoader(Squares(4, sleep_at=0, sleep=0.6), batch_size=1, num_workers=2, timeout=0.2)
    it = iter(loader)
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.2 seconds"):
        next(it)
    del it
    assert _no_children()


class DiesInWorker(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 1:
            os._exit(3)  # a crash that bypasses Python's exception handling
        return i


def test_dead_worker_detected():
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(DataLoader(DiesInWorker(), batch_size=1, num_workers=2, timeout=0.3))
    assert _no_children()


class KilledInWorker(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


def test_killed_worker_reported_promptly():
    # no timeout: the loader must notice the death itself, well before its 5 s status poll
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"exited unexpectedly \(exit code\(s\) -9"):
        list(DataLoader(KilledInWorker(), batch_size=1, num_workers=1))
    assert time.perf_counter() - start < 3.0
    assert _no_children()


def test_get_worker_info_in_main_process_is_none():
    assert get_worker_info() is None
