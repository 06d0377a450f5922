import numpy as np
import pytest
import torch

from tests.kernels.kutil import assert_close, randn
from mytorch.kernels import cross_entropy as ce

CASES = [  # (rows, vocab, block, ignore some rows, label_smoothing)
    (5, 11, None, False, 0.0),
    (6, 100, 16, True, 0.0),
    (4, 67, 32, True, 0.1),
    (3, 1000, 128, False, 0.25),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("rows,vocab,block,ignore,smoothing", CASES)
def test_cross_entropy(rows, vocab, block, ignore, smoothing, dtype):
    logits = (3 * randn(rows, vocab)).astype(dtype)
    target = np.random.default_rng(1).integers(0, vocab, rows)
    if ignore:
        target[::3] = -100
    loss, dlogits, lse = ce.cross_entropy_fwd(logits, target, -100, smoothing, block_size=block)
    assert loss.shape == (rows,) and dlogits.dtype == dtype
    lt = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(lt, torch.tensor(target), ignore_index=-100,
                                            label_smoothing=smoothing, reduction="none")
    ref.sum().backward()
    assert_close(loss, ref.detach().numpy(), dtype, scale=5)
    assert_close(dlogits, lt.grad.numpy(), dtype)
    ref_loss, ref_d = ce.reference(logits, target, -100, smoothing)
    assert_close(loss, ref_loss, dtype, scale=5)
    # reduction="mean": scale by 1 / number of valid rows, in place
    n_valid = int((target != -100).sum())
    lt.grad = None
    torch.nn.functional.cross_entropy(lt, torch.tensor(target), label_smoothing=smoothing).backward()
    ce.cross_entropy_bwd(dlogits, np.array(1.0 / n_valid, np.float32))
    assert_close(dlogits, lt.grad.numpy(), dtype)
    # reduction="none" with a per-row upstream gradient
    g = randn(rows, seed=3)
    _, d2, _ = ce.cross_entropy_fwd(logits, target, -100, smoothing, block_size=block)
    ce.cross_entropy_bwd(d2, g)
    assert_close(d2, ref_d * g[:, None], dtype)


def test_cross_entropy_forward_only_and_errors():
    logits, target = randn(3, 9), np.array([1, 2, 8])
    loss, d, lse = ce.cross_entropy_fwd(logits, target, compute_grad=False)
    assert d is None
    assert_close(lse, np.log(np.exp(logits.astype(np.float64)).sum(1)))
    with pytest.raises(IndexError, match="out of bounds"):
        ce.cross_entropy_fwd(logits, np.array([1, 9, 0]))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_minus_inf_logits(smoothing):
    # row 0: a whole streamed block of -inf; row 1: one -inf logit (with eps = 0, no 0 * -inf = NaN)
    logits = randn(2, 40)
    logits[0, :16] = -np.inf
    logits[1, 7] = -np.inf
    target = np.array([20, 3])
    loss, d, lse = ce.cross_entropy_fwd(logits, target, label_smoothing=smoothing, block_size=16)
    lt = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(lt, torch.tensor(target), label_smoothing=smoothing, reduction="none")
    ref.sum().backward()
    np.testing.assert_allclose(loss, ref.detach().numpy(), rtol=1e-5)  # inf where PyTorch is inf (eps > 0)
    assert_close(d, lt.grad.numpy())
    ref_loss, _ = ce.reference(logits, target, label_smoothing=smoothing)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)


def test_cross_entropy_unchecked_bad_target_gives_nan_row():
    # the GPU default: no host sync for the bounds check; the kernel reads nothing outside the row
    logits, target = randn(3, 9), np.array([1, 9, -100])
    loss, d, _ = ce.cross_entropy_fwd(logits, target, check_target=False)
    assert np.isnan(loss[1]) and np.isnan(d[1]).all()
    assert np.isfinite(loss[0]) and loss[2] == 0 and (d[2] == 0).all()
