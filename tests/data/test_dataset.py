"""Datasets, samplers, DistributedSampler and collate, compared with torch.utils.data."""
import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import mytorch
import mytorch.utils.data as mdata


def _same(a, b):
    """Recursively compare a mytorch structure with torch's: container types, dtypes, shapes, values."""
    if isinstance(b, torch.Tensor):
        assert isinstance(a, mytorch.Tensor), type(a)
        assert a.dtype.name == str(b.dtype).replace("torch.", "") and tuple(a.shape) == tuple(b.shape)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(b, dict):
        assert type(a) is type(b) and list(a) == list(b)
        for k in b:
            _same(a[k], b[k])
    elif isinstance(b, (list, tuple)):
        assert type(a).__name__ == type(b).__name__ and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b and type(a) is type(b)


# datasets --------------------------------------------------------------------------------------
def test_tensor_dataset():
    x, y = mytorch.randn(5, 3), mytorch.arange(5)
    ds = mdata.TensorDataset(x, y)
    assert len(ds) == 5 and ds[2][1].item() == 2 and ds[2][0].tolist() == x[2].tolist()
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        mdata.TensorDataset(x, mytorch.arange(4))


def test_concat_subset_and_add():
    a, b = mdata.TensorDataset(mytorch.arange(3)), mdata.TensorDataset(mytorch.arange(10, 14))
    cat = a + b
    assert isinstance(cat, mdata.ConcatDataset) and len(cat) == 7 and cat.cumulative_sizes == [3, 7]
    assert [cat[i][0].item() for i in range(-7, 7)] == [0, 1, 2, 10, 11, 12, 13] * 2
    with pytest.raises(ValueError, match="absolute value of index"):
        cat[-8]
    with pytest.raises(AssertionError, match="empty iterable"):
        mdata.ConcatDataset([])
    sub = mdata.Subset(cat, [6, 0, 3])
    assert len(sub) == 3 and [s[0].item() for s in sub.__getitems__([0, 1, 2])] == [13, 0, 10]


class Range(mdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def test_iterable_chain_and_concat_rejects():
    chain = Range(2) + Range(3)
    assert isinstance(chain, mdata.ChainDataset) and list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        mdata.ConcatDataset([Range(2)])


def test_stack_dataset():
    a, b = list(range(4)), list("abcd")
    assert mdata.StackDataset(a, b)[1] == (1, "b") and mdata.StackDataset(x=a, y=b)[2] == {"x": 2, "y": "c"}
    with pytest.raises(ValueError, match="Size mismatch"):
        mdata.StackDataset(a, b[:2])


@pytest.mark.parametrize("n,lengths,expected", [
    (10, [3, 7], [3, 7]), (10, [0.5, 0.5], [5, 5]), (10, [0.33, 0.33, 0.34], [4, 3, 3]), (7, [0.1, 0.9], [1, 6])])
def test_random_split_lengths_match_torch(n, lengths, expected):
    parts = mdata.random_split(list(range(n)), lengths, generator=mytorch.Generator().manual_seed(1))
    th_parts = tdata.random_split(list(range(n)), lengths, generator=torch.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [len(p) for p in th_parts] == expected
    assert sorted(i for p in parts for i in p) == list(range(n))
    again = mdata.random_split(list(range(n)), lengths, generator=mytorch.Generator().manual_seed(1))
    assert [list(p) for p in parts] == [list(p) for p in again]


def test_random_split_bad_lengths():
    with pytest.raises(ValueError, match="Sum of input lengths"):
        mdata.random_split(range(5), [2, 2])


# samplers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,batch_size,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False),
                                                    (2, 5, True), (0, 2, False)])
def test_sequential_and_batch_samplers_match_torch(n, batch_size, drop_last):
    ours = mdata.BatchSampler(mdata.SequentialSampler(range(n)), batch_size, drop_last)
    theirs = tdata.BatchSampler(tdata.SequentialSampler(range(n)), batch_size, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("kwargs,message", [({"batch_size": 0, "drop_last": False}, "batch_size should be"),
                                            ({"batch_size": True, "drop_last": False}, "batch_size should be"),
                                            ({"batch_size": 2, "drop_last": 1}, "drop_last should be")])
def test_batch_sampler_checks(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mdata.BatchSampler(range(3), **kwargs)


@pytest.mark.parametrize("replacement,num_samples", [(False, None), (False, 23), (False, 4), (True, None),
                                                     (True, 40)])
def test_random_sampler(replacement, num_samples):
    n = 10
    make = lambda: mdata.RandomSampler(range(n), replacement, num_samples, mytorch.Generator().manual_seed(3))
    drawn = list(make())
    assert drawn == list(make()) and len(drawn) == len(make()) == (num_samples or n)
    assert all(0 <= i < n for i in drawn)
    if not replacement:  # whole permutations, then a prefix of one more
        full, rest = divmod(len(drawn), n)
        for k in range(full):
            assert sorted(drawn[k * n:(k + 1) * n]) == list(range(n))
        assert len(set(drawn[full * n:])) == rest


def test_random_sampler_follows_manual_seed_and_checks():
    mytorch.manual_seed(5)
    first = list(mdata.RandomSampler(range(20)))
    mytorch.manual_seed(5)
    assert list(mdata.RandomSampler(range(20))) == first
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        mdata.RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        mdata.RandomSampler(range(3), replacement=1)


def test_subset_random_and_weighted_samplers():
    idx = [4, 8, 15, 16, 23, 42]
    drawn = list(mdata.SubsetRandomSampler(idx, generator=mytorch.Generator().manual_seed(0)))
    assert sorted(drawn) == idx and len(mdata.SubsetRandomSampler(idx)) == 6
    w = mdata.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 200, generator=mytorch.Generator().manual_seed(0))
    counts = np.bincount(list(w), minlength=4)
    assert len(w) == 200 and counts[0] == counts[2] == 0 and counts[3] > 2 * counts[1]
    without = list(mdata.WeightedRandomSampler([1.0, 1.0, 1.0, 0.0], 3, replacement=False))
    assert sorted(without) == [0, 1, 2]
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        mdata.WeightedRandomSampler([[1.0]], 2)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        mdata.WeightedRandomSampler([1.0], 0)


@pytest.mark.parametrize("n,replicas", [(10, 3), (10, 2), (3, 4), (1, 3), (16, 4), (7, 5)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_matches_torch_without_shuffle(n, replicas, drop_last):
    for rank in range(replicas):
        ours = mdata.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = tdata.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
        assert (ours.num_samples, ours.total_size) == (theirs.num_samples, theirs.total_size)


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (12, 4, False), (2, 3, False)])
def test_distributed_sampler_shuffle_partitions(n, replicas, drop_last):
    def shards(epoch, seed=0):
        out = []
        for rank in range(replicas):
            s = mdata.DistributedSampler(range(n), replicas, rank, shuffle=True, seed=seed, drop_last=drop_last)
            s.set_epoch(epoch)
            out.append(list(s))
        return out

    parts = shards(0)
    lengths = {len(p) for p in parts}
    expected = len(tdata.DistributedSampler(range(n), replicas, 0, drop_last=drop_last))
    assert lengths == {expected}
    flat = [i for p in parts for i in p]
    if drop_last:
        assert len(set(flat)) == len(flat) == expected * replicas  # disjoint, nothing padded
    else:
        assert set(flat) == set(range(n))  # everything covered; padding repeats some
    assert shards(0) == parts  # every rank derives the same permutation
    if n > 3:
        assert shards(1) != parts and shards(0, seed=1) != parts


def test_distributed_sampler_checks():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        mdata.DistributedSampler(range(5), num_replicas=3, rank=3)


# collate ---------------------------------------------------------------------------------------
Point = collections.namedtuple("Point", "x y")


def _mt_and_th(make):
    """Build the same batch twice: with mytorch tensors and with torch tensors."""
    return make(mytorch), make(torch)


def _np(lib, arr):
    return lib.from_numpy(np.asarray(arr))


COLLATE_CASES = [
    ("tensors", lambda lib: [_np(lib, np.full((2, 3), i, np.float32)) for i in range(4)]),
    ("int_tensors", lambda lib: [_np(lib, np.arange(3) + i) for i in range(2)]),
    ("numpy", lambda lib: [np.full(3, i, np.int32) for i in range(3)]),
    ("numpy_scalars", lambda lib: [np.float32(i) for i in range(3)]),
    ("floats", lambda lib: [0.5, 1.5, 2.0]),
    ("ints", lambda lib: [1, 2, 3]),
    ("bools", lambda lib: [True, False]),
    ("strings", lambda lib: ["a", "bc"]),
    ("bytes", lambda lib: [b"a", b"b"]),
    ("dicts", lambda lib: [{"x": _np(lib, np.ones(2) * i), "label": i, "name": str(i)} for i in range(3)]),
    ("ordered", lambda lib: [collections.OrderedDict(b=i, a=float(i)) for i in range(2)]),
    ("tuples", lambda lib: [(_np(lib, np.ones(1) * i), i) for i in range(3)]),
    ("namedtuples", lambda lib: [Point(i, _np(lib, np.zeros(2) + i)) for i in range(2)]),
    ("lists", lambda lib: [[i, float(i)] for i in range(3)]),
    ("nested", lambda lib: [{"a": [(i, {"b": np.float64(i)})]} for i in range(2)]),
]


@pytest.mark.parametrize("name,make", COLLATE_CASES, ids=[c[0] for c in COLLATE_CASES])
def test_default_collate_matches_torch(name, make):
    ours, theirs = _mt_and_th(make)
    _same(mdata.default_collate(ours), tdata.default_collate(theirs))


CONVERT_CASES = [
    ("numpy", lambda lib: np.arange(3)),
    ("numpy_scalar", lambda lib: np.float32(2)),
    ("number", lambda lib: 3),
    ("dict", lambda lib: {"a": np.ones(2), "b": "s"}),
    ("tuple", lambda lib: (np.ones(2), 1)),
    ("namedtuple", lambda lib: Point(np.ones(2), 1)),
    ("list", lambda lib: [np.zeros(1), "x"]),
    ("tensor", lambda lib: _np(lib, np.ones(2))),
]


@pytest.mark.parametrize("name,make", CONVERT_CASES, ids=[c[0] for c in CONVERT_CASES])
def test_default_convert_matches_torch(name, make):
    ours, theirs = _mt_and_th(make)
    _same(mdata.default_convert(ours), tdata.default_convert(theirs))


@pytest.mark.parametrize("batch,error,message", [
    ([object(), object()], TypeError, "default_collate: batch must contain"),
    ([np.array(["a"]), np.array(["b"])], TypeError, "default_collate: batch must contain"),
    ([[1, 2], [3]], RuntimeError, "each element in list of batch should be of equal size"),
    ([mytorch.ones(2), mytorch.ones(3)], RuntimeError, "stack expects each tensor to be equal size"),
])
def test_default_collate_errors(batch, error, message):
    with pytest.raises(error, match=message):
        mdata.default_collate(batch)
