"""torch.finfo / iinfo against PyTorch, and torch.jit's eager stand-ins."""
import pytest
import torch

import mytorch

FLOATS = ["float16", "bfloat16", "float32", "float64", "complex64", "complex128"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]


@pytest.mark.parametrize("name", FLOATS)
def test_finfo_matches_torch(name):
    mine, ref = mytorch.finfo(getattr(mytorch, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(mine, attr) == getattr(ref, attr), attr
    assert mine.dtype == ref.dtype and repr(mine) == repr(ref)
    assert mytorch.finfo(getattr(mytorch, name)) == mine


@pytest.mark.parametrize("name", INTS)
def test_iinfo_matches_torch(name):
    mine, ref = mytorch.iinfo(getattr(mytorch, name)), torch.iinfo(getattr(torch, name))
    assert (mine.bits, mine.min, mine.max, mine.dtype, repr(mine)) == (ref.bits, ref.min, ref.max, ref.dtype, repr(ref))


def test_defaults_and_errors():
    assert mytorch.finfo().dtype == torch.finfo().dtype == "float32"
    with pytest.raises(TypeError, match="floating point"):
        mytorch.finfo(mytorch.int64)
    with pytest.raises(TypeError, match="integer"):
        mytorch.iinfo(mytorch.float32)
    x = mytorch.tensor([1.0, 2.0])
    assert mytorch.finfo(x.dtype).min == torch.finfo(torch.float32).min  # the common masking idiom


def test_jit_runs_eagerly():
    model = mytorch.nn.Linear(3, 2)
    assert mytorch.jit.script(model) is model and mytorch.jit.trace(model, mytorch.zeros(1, 3)) is model
    assert not mytorch.jit.is_scripting() and not mytorch.jit.is_tracing()

    @mytorch.jit.ignore
    def helper(x):
        return x + 1

    @mytorch.jit.unused
    def other(x):
        return x

    assert helper(1) == 2 and other(3) == 3 and mytorch.jit.annotate(int, 5) == 5
    with pytest.raises(RuntimeError, match="state_dict"):
        mytorch.jit.save(model, "model.pt")
    with pytest.raises(RuntimeError, match="TorchScript"):
        mytorch.jit.load("model.pt")
