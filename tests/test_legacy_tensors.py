"""torch.FloatTensor / LongTensor / ... against PyTorch: construction, isinstance, .type()."""
import numpy as np
import pytest
import torch

import mytorch


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor",
                                  "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"])
def test_constructors_match_torch(name):
    mine, ref = getattr(mytorch, name), getattr(torch, name)
    for args in [([1, 0, 2],), (2, 3), (), (torch.Size([4]),)]:
        margs = tuple(mytorch.Size(a) if isinstance(a, torch.Size) else a for a in args)
        m, r = mine(*margs), ref(*args)
        assert tuple(m.shape) == tuple(r.shape) and m.dtype.name == str(r.dtype).split(".")[1]
        if args and isinstance(args[0], list):
            np.testing.assert_array_equal(m.numpy(), r.numpy())
        assert isinstance(m, mine) and m.type() == r.type() == f"torch.{name}"
    other = mytorch.zeros(2, dtype=mytorch.float64 if name != "DoubleTensor" else mytorch.float32)
    assert not isinstance(other, mine)
    with pytest.raises(TypeError, match=f"expected torch.{name}"):
        mine(other)
    assert repr(mine) == repr(ref)


def test_type_conversions():
    x = mytorch.tensor([1.5, -2.0])
    assert x.type(mytorch.LongTensor).dtype is mytorch.int64
    assert x.type("torch.DoubleTensor").dtype is mytorch.float64
    assert torch.tensor([1.5, -2.0]).type("torch.DoubleTensor").dtype is torch.float64
    with pytest.raises(ValueError, match="invalid type"):
        x.type("torch.NotATensor")
    assert isinstance(mytorch.cuda.FloatTensor, type) and not isinstance(x, mytorch.cuda.FloatTensor)


def test_annotations_resolve():
    def forward(input_ids: mytorch.LongTensor, mask: mytorch.FloatTensor = None) -> mytorch.FloatTensor:
        return input_ids

    assert forward.__annotations__["input_ids"] is mytorch.LongTensor
