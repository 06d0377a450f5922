"""nn.AdaptiveLogSoftmaxWithLoss against PyTorch: outputs, loss and gradients, log_prob, predict, errors."""
import numpy as np
import pytest
import torch

import mytorch


def _pair(in_features=16, n_classes=30, cutoffs=(6, 14, 22), div_value=2.0, head_bias=True):
    torch.manual_seed(0)
    ref = torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, list(cutoffs), div_value=div_value,
                                              head_bias=head_bias).double()
    mine = mytorch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, list(cutoffs), div_value=div_value,
                                                 head_bias=head_bias, dtype=mytorch.float64)
    mine.load_state_dict({k: mytorch.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    return mine, ref


@pytest.mark.parametrize("cutoffs,targets", [((6, 14, 22), [0, 5, 6, 13, 14, 21, 22, 29, 3, 25]),
                                             ((6, 14, 22), [1, 2, 3, 4]),  # shortlist only
                                             ((4,), [9, 8, 7, 5])])  # one cluster only
def test_forward_backward_match_torch(cutoffs, targets):
    mine, ref = _pair(cutoffs=cutoffs)
    x = np.random.default_rng(0).standard_normal((len(targets), 16))
    xm, xt = mytorch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_m, out_t = mine(xm, mytorch.tensor(targets)), ref(xt, torch.tensor(targets))
    np.testing.assert_allclose(out_m.output.detach().numpy(), out_t.output.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(out_m.loss.item(), out_t.loss.item(), rtol=1e-12)
    out_m.loss.backward()
    out_t.loss.backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    grads = dict(ref.named_parameters())
    for name, p in mine.named_parameters():
        want = grads[name].grad  # None for a tail no target reached, on both sides
        assert (p.grad is None) == (want is None), name
        if want is not None:
            np.testing.assert_allclose(p.grad.numpy(), want.numpy(), rtol=1e-10, atol=1e-14, err_msg=name)


def test_log_prob_and_predict_match_torch():
    mine, ref = _pair()
    x = np.random.default_rng(1).standard_normal((12, 16)) * 3
    lp_m, lp_t = mine.log_prob(mytorch.tensor(x)), ref.log_prob(torch.tensor(x))
    np.testing.assert_allclose(lp_m.detach().numpy(), lp_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.exp(lp_m.detach().numpy()).sum(1), 1.0, rtol=1e-12)
    assert mine.predict(mytorch.tensor(x)).tolist() == ref.predict(torch.tensor(x)).tolist()
    # unbatched inputs (PyTorch's own forward and predict fail on one row that reaches a cluster, so these
    # are compared with its batched answers)
    one_m = mine(mytorch.tensor(x[0]), mytorch.tensor(25))
    one_t = ref(torch.tensor(x[:2]), torch.tensor([25, 1]))
    np.testing.assert_allclose(one_m.output.item(), one_t.output[0].item(), rtol=1e-12)
    assert mine.predict(mytorch.tensor(x[0])).item() == ref.predict(torch.tensor(x[:1])).item()
    np.testing.assert_allclose(mine.log_prob(mytorch.tensor(x[0])).detach().numpy(),
                               ref.log_prob(torch.tensor(x[:1]))[0].detach().numpy(), rtol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique"):
        mytorch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [5, 3])
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique"):
        mytorch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [5, 10])
    mine, _ = _pair()
    with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 29\]"):
        mine(mytorch.randn(2, 16, dtype=mytorch.float64), mytorch.tensor([1, 30]))
    with pytest.raises(RuntimeError, match="same size in the batch dimension"):
        mine(mytorch.randn(3, 16, dtype=mytorch.float64), mytorch.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="multi-target not supported"):
        mine(mytorch.randn(3, 16, dtype=mytorch.float64), mytorch.ones(3, 2, dtype=mytorch.long))
