"""TokenDataset over a uint16 token file: windows, lengths, errors, and use with mytorch's DataLoader,
RandomSampler(replacement=True), DistributedSampler and worker processes (collated like torch's DataLoader)."""
import pickle

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import mytorch
from mytorch.utils.data import DataLoader, DistributedSampler, RandomSampler, TokenDataset


def _write(path, n, dtype=np.uint16):
    tokens = (np.arange(n) * 7 % 1000).astype(dtype)  # distinct neighbours, so a misplaced window shows
    tokens.tofile(path)
    return tokens


class _TorchWindows(tdata.Dataset):
    """The same windows as torch tensors: what a PyTorch user would write by hand."""

    def __init__(self, tokens, context_length, stride):
        self.tokens, self.T, self.stride = tokens.astype(np.int64), context_length, stride

    def __len__(self):
        return (len(self.tokens) - self.T - 1) // self.stride + 1

    def __getitem__(self, i):
        chunk = torch.from_numpy(self.tokens[i * self.stride:i * self.stride + self.T + 1])
        return chunk[:-1], chunk[1:]


@pytest.mark.parametrize("n, context_length, stride, windows", [
    (100, 8, 1, 92), (100, 8, 4, 23), (100, 99, 1, 1), (9, 8, 1, 1), (100, 10, 89, 2), (100, 10, 90, 1),
])
def test_windows(tmp_path, n, context_length, stride, windows):
    tokens = _write(tmp_path / "t.bin", n)
    ds = TokenDataset(tmp_path / "t.bin", context_length, stride=stride)
    ref = _TorchWindows(tokens, context_length, stride)
    assert len(ds) == len(ref) == windows and ds.num_tokens == n
    for i in (0, len(ds) - 1, -1):
        x, y = ds[i]
        rx, ry = ref[i % len(ds)]
        assert x.dtype == mytorch.int64 and tuple(x.shape) == tuple(y.shape) == (context_length,)
        np.testing.assert_array_equal(x.numpy(), rx.numpy())
        np.testing.assert_array_equal(y.numpy(), ry.numpy())
    x, y = ds[0]
    np.testing.assert_array_equal(y.numpy()[:-1], x.numpy()[1:])  # y is x shifted by one
    with pytest.raises(IndexError, match=f"index {windows} is out of range .* {windows} windows"):
        ds[windows]


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.bin.* prepare_data"):
        TokenDataset(tmp_path / "missing.bin", 8)
    _write(tmp_path / "short.bin", 8)
    with pytest.raises(ValueError, match="holds 8 tokens, fewer than the context_length \\+ 1 = 9"):
        TokenDataset(tmp_path / "short.bin", 8)
    for bad in (0, -3, 2.5, True, "8"):
        with pytest.raises(ValueError, match="context_length should be a positive integer"):
            TokenDataset(tmp_path / "short.bin", bad)
    with pytest.raises(ValueError, match="stride should be a positive integer"):
        TokenDataset(tmp_path / "short.bin", 4, stride=0)
    (tmp_path / "odd.bin").write_bytes(b"\x00" * 21)
    with pytest.raises(ValueError, match="21 bytes, not a multiple of uint16"):
        TokenDataset(tmp_path / "odd.bin", 4)


def test_memmap_opens_lazily_and_pickles_small(tmp_path):
    _write(tmp_path / "t.bin", 50_000)
    ds = TokenDataset(tmp_path / "t.bin", 16)
    assert ds._data is None
    ds[0]
    assert isinstance(ds._data, np.memmap)
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._data is None and len(pickle.dumps(ds)) < 1000  # the path travels, not the tokens
    np.testing.assert_array_equal(clone[5][0].numpy(), ds[5][0].numpy())


def test_dataloader_random_sampler_with_replacement_matches_torch(tmp_path):
    tokens = _write(tmp_path / "t.bin", 500)
    ds = TokenDataset(tmp_path / "t.bin", 12, stride=3)
    sampler = RandomSampler(ds, replacement=True, num_samples=20)
    indices = list(iter(sampler))
    assert len(indices) == 20 and all(0 <= i < len(ds) for i in indices)
    mine = list(DataLoader(ds, batch_size=8, sampler=indices))
    ref = list(tdata.DataLoader(_TorchWindows(tokens, 12, 3), batch_size=8, sampler=indices))
    assert [tuple(x.shape) for x, _ in mine] == [tuple(x.shape) for x, _ in ref] == [(8, 12), (8, 12), (4, 12)]
    for (x, y), (rx, ry) in zip(mine, ref):
        assert x.dtype == mytorch.int64
        np.testing.assert_array_equal(x.numpy(), rx.numpy())
        np.testing.assert_array_equal(y.numpy(), ry.numpy())
    assert len(list(DataLoader(ds, batch_size=8, sampler=sampler))) == 3


def test_worker_processes(tmp_path):
    _write(tmp_path / "t.bin", 2_000)
    ds = TokenDataset(tmp_path / "t.bin", 32, stride=32)
    batches = list(DataLoader(ds, batch_size=4, num_workers=2))
    assert ds._data is None  # only the workers opened the file
    x = np.concatenate([b[0].numpy() for b in batches])
    np.testing.assert_array_equal(x, np.stack([ds[i][0].numpy() for i in range(len(ds))]))


def test_distributed_sampler_shards_disjointly(tmp_path):
    _write(tmp_path / "t.bin", 1_000)
    ds = TokenDataset(tmp_path / "t.bin", 10, stride=5)
    shards = [list(DistributedSampler(ds, num_replicas=3, rank=r, shuffle=True, seed=1, drop_last=True))
              for r in range(3)]
    assert all(len(s) == len(ds) // 3 for s in shards)
    assert not set(shards[0]) & set(shards[1]) and not set(shards[1]) & set(shards[2])
    ref = [list(tdata.DistributedSampler(range(len(ds)), num_replicas=3, rank=r, shuffle=False)) for r in range(3)]
    ours = [list(DistributedSampler(ds, num_replicas=3, rank=r, shuffle=False)) for r in range(3)]
    assert ours == ref


def test_random_batch(tmp_path):
    tokens = _write(tmp_path / "t.bin", 1_000).astype(np.int64)
    ds = TokenDataset(tmp_path / "t.bin", 16, stride=2)
    mytorch.manual_seed(3)
    x, y = ds.random_batch(5)
    mytorch.manual_seed(3)
    x2, _ = ds.random_batch(5)
    assert tuple(x.shape) == tuple(y.shape) == (5, 16) and x.dtype == mytorch.int64
    np.testing.assert_array_equal(x.numpy(), x2.numpy())  # reproducible under manual_seed
    for row, target in zip(x.numpy(), y.numpy()):
        start = int(np.flatnonzero(tokens == row[0])[0])
        assert start % 2 == 0 and start <= len(tokens) - 17  # a window start of the dataset
        np.testing.assert_array_equal(row, tokens[start:start + 16])
        np.testing.assert_array_equal(target, tokens[start + 1:start + 17])
