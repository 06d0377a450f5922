"""pad (every mode and dim count), normalize, pixel_shuffle, softmin and padding modules vs PyTorch."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import mytorch
import mytorch.nn.functional as F
from mytorch import nn
from tests.helpers import check_against_torch, randn

PAD = [
    ((2, 3, 5), (1, 2), "constant", {}),
    ((2, 3, 5), (1, 2, 0, 3), "constant", {"value": 1.5}),
    ((2, 3, 5), (1, 1, 1, 1, 1, 1), "constant", {}),
    ((2, 3, 4, 5), (-1, 2, 1, -2), "constant", {}),
    ((5,), (3, 0), "constant", {}),
    ((2, 3, 5), (2, 4), "reflect", {}),
    ((3, 5), (4, 4), "reflect", {}),
    ((2, 3, 4, 5), (1, 3, 2, 3), "reflect", {}),
    ((1, 2, 3, 4, 5), (1, 2, 2, 1, 1, 2), "reflect", {}),
    ((2, 3, 5), (2, 6), "replicate", {}),
    ((2, 3, 4, 5), (3, 1, 0, 2), "replicate", {}),
    ((2, 3, 4, 4, 4), (1, 1, 2, 2, 3, 0), "replicate", {}),
    ((2, 3, 5), (5, 2), "circular", {}),
    ((2, 3, 4, 5), (1, 2, 4, 3), "circular", {}),
    ((1, 1, 3, 3, 3), (1, 1, 1, 1, 1, 1), "circular", {}),
]


@pytest.mark.parametrize("shape,pad,mode,kw", PAD)
def test_pad(shape, pad, mode, kw):
    check_against_torch(lambda x: F.pad(x, pad, mode, **kw), lambda x: TF.pad(x, pad, mode, **kw),
                        randn(*shape, seed=1))


@pytest.mark.parametrize("shape,pad,mode,exc", [
    ((2, 2, 5), (5, 1), "reflect", RuntimeError),
    ((5,), (1, 1), "reflect", NotImplementedError),
    ((2, 2, 5), (1,), "constant", RuntimeError),
    ((2, 2, 5), (1,) * 8, "constant", RuntimeError),
    ((2, 2, 5), (6, 1), "circular", RuntimeError),
    ((2, 2, 5), (1, 1), "foo", NotImplementedError),
])
def test_pad_errors(shape, pad, mode, exc):
    with pytest.raises(exc):
        TF.pad(torch.zeros(shape), pad, mode)
    with pytest.raises(exc):
        F.pad(mytorch.zeros(*shape), pad, mode)


@pytest.mark.parametrize("kw", [{}, {"p": 1.0}, {"dim": -1}, {"p": 3.0, "dim": 0}, {"p": float("inf")}])
def test_normalize(kw):
    x = randn(4, 5, seed=1)
    x[1] = 0  # a zero row: the norm is clamped at eps
    check_against_torch(lambda x: F.normalize(x, **kw), lambda x: TF.normalize(x, **kw), x)


def test_pixel_shuffle_roundtrip():
    check_against_torch(lambda x: F.pixel_shuffle(x, 2), lambda x: TF.pixel_shuffle(x, 2), randn(2, 8, 3, 4, seed=1))
    check_against_torch(lambda x: F.pixel_unshuffle(x, 3), lambda x: TF.pixel_unshuffle(x, 3), randn(2, 6, 9, seed=1))


def test_softmin():
    if not hasattr(F, "softmax"):
        pytest.skip("F.softmax not available yet")
    check_against_torch(lambda x: F.softmin(x, dim=1), lambda x: TF.softmin(x, dim=1), randn(3, 4, seed=1))


MODULES = [
    ("ZeroPad1d", (2,), (2, 3, 5)), ("ZeroPad2d", (2,), (2, 3, 4, 4)), ("ZeroPad2d", ((1, 0, 2, 3),), (3, 4, 4)),
    ("ZeroPad3d", (1,), (1, 2, 2, 3, 3)), ("ConstantPad1d", (2, 3.5), (2, 3, 5)),
    ("ConstantPad2d", ((1, 2, 0, 1), -1.0), (2, 3, 4, 4)), ("ConstantPad3d", (1, 2.0), (1, 2, 2, 3, 3)),
    ("ReflectionPad1d", ((1, 3),), (2, 3, 5)), ("ReflectionPad2d", (2,), (2, 3, 4, 4)),
    ("ReflectionPad3d", (1,), (1, 2, 3, 3, 3)), ("ReplicationPad1d", (3,), (2, 3, 5)),
    ("ReplicationPad2d", ((1, 2, 3, 4),), (2, 3, 4, 4)), ("ReplicationPad3d", (1,), (1, 2, 3, 3, 3)),
    ("CircularPad1d", (2,), (2, 3, 5)), ("CircularPad2d", ((1, 2, 2, 1),), (2, 3, 4, 4)),
    ("CircularPad3d", (1,), (1, 2, 3, 3, 3)), ("PixelShuffle", (2,), (1, 8, 2, 3)),
    ("PixelUnshuffle", (2,), (1, 2, 4, 6)),
]


@pytest.mark.parametrize("name,args,shape", MODULES)
def test_modules(name, args, shape):
    mt_mod, th_mod = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(mt_mod) == repr(th_mod)
    check_against_torch(mt_mod, th_mod, randn(*shape, seed=2))


def test_pad_float32_large_is_fast_and_exact():
    x = randn(8, 16, 64, 64, seed=0).astype(np.float32)
    check_against_torch(lambda x: F.pad(x, (3, 3, 3, 3), "reflect"), lambda x: TF.pad(x, (3, 3, 3, 3), "reflect"), x)
