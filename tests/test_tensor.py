"""Tensor basics: repr, dtypes and defaults, conversion, devices, Python protocol."""
import copy
import pickle

import numpy as np
import pytest
import torch

import mytorch


def torch_repr(t):
    return repr(t).replace("torch.", "mytorch.")


REPR_CASES = [
    [[0.1, 2.0]], [1.0, 2.0, 3.0], [1, 2, 3], [True, False], 3.5, 7, [[1e-5, 1.0]], [1e10, 1.0],
    [[1.5, -2.25], [3.0, 4.0]], [float("nan"), float("inf"), -1.0], [0.0, 0.0], [],
    np.arange(24.0).reshape(2, 3, 4).tolist(), np.linspace(-1, 1, 30).tolist(),
    np.arange(2000.0).tolist(), np.arange(1200).reshape(40, 30).tolist(), [123456.789, 0.5],
]


@pytest.mark.parametrize("data", REPR_CASES, ids=range(len(REPR_CASES)))
def test_repr_matches_torch(data):
    assert repr(mytorch.tensor(data)) == torch_repr(torch.tensor(data))


@pytest.mark.parametrize("dtype", ["float64", "float16", "int32", "int8", "uint8"])
def test_repr_shows_nondefault_dtype(dtype):
    data = [[1, 2], [3, 4]]
    assert repr(mytorch.tensor(data, dtype=getattr(mytorch, dtype))) == torch_repr(
        torch.tensor(data, dtype=getattr(torch, dtype)))


def test_repr_requires_grad_and_grad_fn():
    x = mytorch.tensor([[0.1, 2.0]], requires_grad=True)
    assert repr(x) == "tensor([[0.1000, 2.0000]], requires_grad=True)"
    assert repr(x * 2) == torch_repr(torch.tensor([[0.1, 2.0]], requires_grad=True) * 2)
    assert repr(mytorch.zeros(0, 3)) == torch_repr(torch.zeros(0, 3))
    assert repr(mytorch.ones(2).shape) == "mytorch.Size([2])"


def test_default_dtypes():
    assert mytorch.tensor([1, 2]).dtype == mytorch.int64
    assert mytorch.tensor([1.0]).dtype == mytorch.float32
    assert mytorch.tensor([True]).dtype == mytorch.bool
    assert mytorch.get_default_dtype() == mytorch.float32
    mytorch.set_default_dtype(mytorch.float64)
    try:
        assert mytorch.tensor([1.0]).dtype == mytorch.float64
        assert mytorch.ones(2).dtype == mytorch.float64
        assert (mytorch.tensor([1]) / 2).dtype == mytorch.float64
    finally:
        mytorch.set_default_dtype(mytorch.float32)
    with pytest.raises(TypeError):
        mytorch.set_default_dtype(mytorch.int64)


def test_promote_types_matches_torch():
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
    for a in names:
        for b in names:
            mine = mytorch.promote_types(getattr(mytorch, a), getattr(mytorch, b))
            ref = torch.promote_types(getattr(torch, a), getattr(torch, b))
            assert mine.name == str(ref).split(".")[-1], (a, b)


def test_conversions():
    x = mytorch.tensor([[1.5, 2.5]])
    assert x.tolist() == [[1.5, 2.5]] and x[0, 1].item() == 2.5
    assert x.int().dtype == mytorch.int32 and x.double().dtype == mytorch.float64 and x.half().dtype == mytorch.float16
    assert x.to(mytorch.int64).tolist() == [[1, 2]]
    assert x.to("cpu") is x and x.cpu() is x
    assert x.to(mytorch.float32, copy=True) is not x
    assert isinstance(x.numpy(), np.ndarray) and np.asarray(x).shape == (1, 2)
    assert float(mytorch.tensor(2.5)) == 2.5 and int(mytorch.tensor(3)) == 3
    assert [1, 2, 3][mytorch.tensor(1)] == 2
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        x.item()
    with pytest.raises(RuntimeError, match="requires grad"):
        mytorch.ones(2, requires_grad=True).numpy()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(mytorch.ones(2))


def test_to_grad_flows_back_with_dtype():
    x = mytorch.ones(2, requires_grad=True)
    x.double().sum().backward()
    assert x.grad.dtype == mytorch.float32


def test_shape_and_size():
    x = mytorch.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size() == mytorch.Size([2, 3, 4]) and x.size(-1) == 4
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24 and len(x) == 2
    assert x.stride() == (12, 4, 1) and x.is_contiguous() and x.element_size() == 4
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.size(3)


def test_devices():
    assert mytorch.device("cpu") == mytorch.ones(1).device
    assert repr(mytorch.device("cuda:1")) == "device(type='cuda', index=1)"
    assert str(mytorch.device("cuda", 0)) == "cuda:0"
    with pytest.raises(RuntimeError):
        mytorch.device("tpu")
    if not mytorch.cuda.is_available():
        assert mytorch.cuda.device_count() == 0
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            mytorch.ones(2).cuda()


def test_pickle_and_deepcopy():
    x = mytorch.tensor([1.0, 2.0], requires_grad=True)
    y = pickle.loads(pickle.dumps(x))
    assert y.tolist() == [1.0, 2.0] and y.requires_grad
    z = copy.deepcopy(x)
    assert z.tolist() == x.tolist() and z.data_ptr() != x.data_ptr()
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(x * 2)


def test_legacy_constructor():
    assert mytorch.Tensor([1, 2]).dtype == mytorch.float32
    assert mytorch.Tensor(2, 3).shape == (2, 3)
    assert mytorch.is_tensor(mytorch.Tensor([1]))


def test_bfloat16_exists_and_fails_clearly_without_backend_support():
    assert repr(mytorch.bfloat16) == "mytorch.bfloat16" and mytorch.bfloat16.is_floating_point
    if not mytorch._dtype._HAS_BF16:
        with pytest.raises(TypeError, match="ml_dtypes"):
            mytorch.ones(2).to(mytorch.bfloat16)
        with pytest.raises(TypeError, match="ml_dtypes"):
            mytorch.zeros(2, dtype=mytorch.bfloat16)
    else:
        assert mytorch.ones(2).bfloat16().dtype == mytorch.bfloat16
