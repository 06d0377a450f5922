import numpy as np
import pytest
import torch

from tests.kernels.kutil import assert_close, randn
from mytorch.kernels import layer_norm as ln
from mytorch.kernels import softmax as sm

# (shape, block_size): single block, looped rows with a masked tail, odd sizes
SHAPES = [((3, 5), None), ((4, 37), 16), ((2, 3, 100), 32), ((7, 1), None)]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape,block", SHAPES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_fwd_bwd(shape, block, dtype, log):
    x, dy = randn(*shape, dtype=dtype), randn(*shape, dtype=dtype, seed=1)
    y = sm.softmax_fwd(x, log=log, block_size=block)
    assert y.dtype == dtype
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yt = torch.log_softmax(xt, -1) if log else torch.softmax(xt, -1)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    assert_close(y, yt.detach().numpy(), dtype)
    assert_close(y, sm.reference(x, log), dtype)
    dx = sm.softmax_bwd(dy, y, log=log, block_size=block)
    assert_close(dx, xt.grad.numpy(), dtype, scale=3)


NORM_CASES = [  # (shape, block, rms, affine, residual)
    ((3, 10), None, False, True, False),
    ((5, 37), 16, False, True, True),
    ((2, 3, 19), 8, True, True, False),
    ((4, 33), None, True, True, True),
    ((3, 12), 4, False, False, False),
    ((2, 21), None, False, True, True),  # one block (row read once) with a residual
    ((3, 12), None, False, False, True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape,block,rms,affine,residual", NORM_CASES)
def test_norm_fwd_bwd(shape, block, rms, affine, residual, dtype):
    n = shape[-1]
    x, dy = randn(*shape, dtype=dtype), randn(*shape, dtype=dtype, seed=1)
    res = randn(*shape, dtype=dtype, seed=2) if residual else None
    w = (1 + 0.5 * randn(n, seed=3)).astype(dtype) if affine else None
    b = randn(n, dtype=dtype, seed=4) if affine and not rms else None
    dres = randn(*shape, dtype=dtype, seed=5) if residual else None
    y, h, mean, rstd = ln.norm_fwd(x, w, b, 1e-5, residual=res, rms=rms, block_size=block)

    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) if a is not None else None for a in (x, res, w, b)]
    ht = ts[0] + ts[1] if residual else ts[0]
    if rms:
        yt = torch.nn.functional.rms_norm(ht, (n,), ts[2], 1e-5)
    else:
        yt = torch.nn.functional.layer_norm(ht, (n,), ts[2], ts[3], 1e-5)
    loss = (yt * torch.tensor(dy, dtype=torch.float64)).sum()
    if residual:
        loss = loss + (ht * torch.tensor(dres, dtype=torch.float64)).sum()
    loss.backward()
    assert_close(y, yt.detach().numpy(), dtype, scale=2)
    assert_close(h, ht.detach().numpy(), dtype)
    assert rstd.shape == (x.size // n,) and rstd.dtype == np.float32
    dx, dw, db = ln.norm_bwd(dy, h, w, mean, rstd, rms=rms, has_bias=b is not None, dresidual=dres,
                             block_size=block)
    assert_close(dx, ts[0].grad.numpy(), dtype, scale=4)
    if residual:
        assert_close(dx, ts[1].grad.numpy(), dtype, scale=4)
    if affine:
        assert_close(dw, ts[2].grad.numpy(), dtype, scale=4)
    if b is not None:
        assert_close(db, ts[3].grad.numpy(), dtype, scale=4)
    else:
        assert db is None


def test_norm_wrappers_match_reference():
    x, w, b = randn(4, 24), randn(24, seed=1), randn(24, seed=2)
    y, _, _, _ = ln.layer_norm_fwd(x, w, b)
    assert_close(y, ln.reference(x, w, b))
    y, _, rstd = ln.rms_norm_fwd(x, w, eps=1e-6)
    assert_close(y, ln.reference(x, w, eps=1e-6, rms=True))
    dx, dw = ln.rms_norm_bwd(np.ones_like(x), x, w, rstd)
    assert dx.shape == x.shape and dw.shape == w.shape


@pytest.mark.parametrize("log", [False, True])
def test_streamed_softmax_with_a_minus_inf_block(log):
    # a row longer than the block whose first block is all -inf (a causal mask row, a masked vocab chunk):
    # the running max is -inf there, and exp(-inf - -inf) would make the whole row NaN
    x = randn(3, 40)
    x[:, :16] = -np.inf
    x[2, 20:] = -np.inf
    y = sm.softmax_fwd(x, log=log, block_size=16)
    xt = torch.tensor(x, dtype=torch.float64)
    want = torch.log_softmax(xt, -1) if log else torch.softmax(xt, -1)
    assert not np.isnan(y).any()
    np.testing.assert_allclose(y, want.numpy(), rtol=1e-5, atol=1e-6)
