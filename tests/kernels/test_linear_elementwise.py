import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.kernels.kutil import assert_close, randn
from mytorch.kernels import activations as act
from mytorch.kernels import dropout as dr
from mytorch.kernels import linear as lin

TORCH_ACT = {"none": lambda z: z, "gelu": F.gelu, "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
             "relu": F.relu, "silu": F.silu}

LINEAR_CASES = [  # (x shape, out features, bias, activation, blocks)
    ((5, 7), 3, True, "none", None),
    ((2, 9, 20), 33, True, "gelu", (16, 16, 16)),
    ((37, 40), 18, False, "gelu_tanh", None),
    ((6, 17), 50, True, "relu", (16, 32, 16)),
    ((3, 4, 35), 19, True, "silu", None),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape,n_out,has_bias,activation,blocks", LINEAR_CASES)
def test_linear_fwd_bwd(shape, n_out, has_bias, activation, blocks, dtype):
    x, w = randn(*shape, dtype=dtype), (0.3 * randn(n_out, shape[-1], seed=1)).astype(dtype)
    b = randn(n_out, dtype=dtype, seed=2) if has_bias else None
    dy = randn(*shape[:-1], n_out, dtype=dtype, seed=3)
    y, pre = lin.linear_fwd(x, w, b, activation, blocks=blocks)
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) if a is not None else None for a in (x, w, b)]
    yt = TORCH_ACT[activation](F.linear(*ts))
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    assert y.dtype == dtype and y.shape == yt.shape
    assert_close(y, yt.detach().numpy(), dtype, scale=5)
    assert_close(y, lin.reference(x, w, b, activation), dtype, scale=5)
    dx, dw, db = lin.linear_bwd(dy, x, w, pre, activation, need_dbias=has_bias, blocks=blocks)
    assert_close(dx, ts[0].grad.numpy(), dtype, scale=10)
    assert_close(dw, ts[1].grad.numpy(), dtype, scale=10)
    if has_bias:
        assert_close(db, ts[2].grad.numpy(), dtype, scale=10)


def test_matmul_transposed_views():
    a, b = randn(20, 13), randn(9, 13, seed=1)
    c, _ = lin.matmul(a, b.T, blocks=(16, 16, 16))
    assert_close(c, a.astype(np.float64) @ b.T.astype(np.float64))
    c, _ = lin.matmul(a.T, randn(20, 5, seed=2))
    assert c.shape == (13, 5)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh", "relu", "silu"])
@pytest.mark.parametrize("shape,block", [((3, 77), None), ((1000,), 128)])
def test_activation_fwd_bwd(activation, shape, block, dtype):
    x, dy = (2 * randn(*shape)).astype(dtype), randn(*shape, dtype=dtype, seed=1)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yt = TORCH_ACT[activation](xt)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    assert_close(act.activation_fwd(x, activation, block), yt.detach().numpy(), dtype)
    assert_close(act.activation_bwd(dy, x, activation, block), xt.grad.numpy(), dtype)
    value, grad = act.reference(x, activation)
    assert_close(act.activation_fwd(x, activation, block), value, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("block", [None, 16])
def test_swiglu_on_halves_of_one_array(block, dtype):
    x, dy = randn(2, 5, 2 * 37, dtype=dtype), randn(2, 5, 37, dtype=dtype, seed=1)
    a, b = x[..., :37], x[..., 37:]  # strided views, no copy
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    at, bt = xt.chunk(2, -1)
    yt = F.silu(at) * bt
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    assert_close(act.swiglu_fwd(a, b, block), yt.detach().numpy(), dtype)
    da, db = act.swiglu_bwd(dy, a, b, block)
    assert_close(np.concatenate([da, db], -1), xt.grad.numpy(), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("p,block", [(0.25, None), (0.6, 64)])
def test_dropout_mask_regenerated(p, block, dtype):
    x = (randn(3, 333) + 3).astype(dtype)  # nonzero so dropped == exactly zero
    y = dr.dropout_fwd(x, p, seed=123, block_size=block)
    keep = y != 0
    assert abs(keep.mean() - (1 - p)) < 0.06
    assert_close(y[keep], x[keep].astype(np.float64) / (1 - p), dtype)
    dy = randn(3, 333, dtype=dtype, seed=1)
    dx = dr.dropout_bwd(dy, p, seed=123, block_size=block)
    assert_close(dx, np.where(keep, dy.astype(np.float64) / (1 - p), 0), dtype)
    assert not np.array_equal(dr.dropout_fwd(x, p, seed=124) != 0, keep)  # another seed, another mask
    assert np.array_equal(dr.dropout_fwd(x, p, seed=123, block_size=32) != 0, keep)  # independent of blocks


def test_dropout_offsets_do_not_wrap_at_2_32():
    # element i of a tensor launched at offset 2**32 draws counter 2**32 + i, not i (uint32 wrap)
    x = np.ones(512, np.float32)
    base, far = dr.dropout_fwd(x, 0.5, seed=3), dr.dropout_fwd(x, 0.5, seed=3, offset=2 ** 32)
    assert not np.array_equal(base != 0, far != 0)
    np.testing.assert_array_equal(dr.dropout_fwd(x, 0.5, seed=3, offset=2 ** 32), far)
