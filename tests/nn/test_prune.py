"""nn.utils.prune against torch.nn.utils.prune: the same masks (deterministic methods), buffers, parameters,
outputs and gradients, iterative pruning through PruningContainer, global pruning, remove()."""
import numpy as np
import pytest
import torch
import torch.nn.utils.prune as TP

import mytorch
import mytorch.nn.utils.prune as P


def _pair():
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3), torch.nn.Flatten(), torch.nn.Linear(6 * 3 * 3, 4))
    mine = mytorch.nn.Sequential(mytorch.nn.Conv2d(3, 6, 3), mytorch.nn.Flatten(), mytorch.nn.Linear(6 * 3 * 3, 4))
    mine.load_state_dict({k: mytorch.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    return mine, ref


def _same(mine, ref):
    assert sorted(mine.state_dict()) == sorted(ref.state_dict())
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(mine.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    out_m, out_t = mine(mytorch.tensor(x)), ref(torch.tensor(x))
    np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    out_m.sum().backward()
    out_t.sum().backward()
    grads = dict(ref.named_parameters())
    for name, p in mine.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name].grad.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


STEPS = [("l1_unstructured", dict(name="weight", amount=0.3)), ("ln_structured", dict(name="weight", amount=0.5, n=2, dim=0)),
         ("l1_unstructured", dict(name="weight", amount=5)), ("ln_structured", dict(name="weight", amount=1, n=1, dim=1)),
         ("identity", dict(name="bias")), ("l1_unstructured", dict(name="bias", amount=2))]


def test_iterative_pruning_matches_torch():
    mine, ref = _pair()
    for fn, kwargs in STEPS:
        for lib, model in ((P, mine), (TP, ref)):
            getattr(lib, fn)(model[0], **kwargs)
        _same(mine, ref)
    assert isinstance(mine[0]._forward_pre_hooks[next(iter(mine[0]._forward_pre_hooks))], P.PruningContainer)
    assert P.is_pruned(mine) and not P.is_pruned(mine[2])
    for lib, model in ((P, mine), (TP, ref)):
        lib.remove(model[0], "weight")
        lib.remove(model[0], "bias")
    _same(mine, ref)
    assert sorted(dict(mine[0].named_parameters())) == ["bias", "weight"] and not P.is_pruned(mine)
    with pytest.raises(ValueError, match="has to be pruned before"):
        P.remove(mine[0], "weight")


def test_global_and_custom_masks_and_importance_scores_match_torch():
    mine, ref = _pair()
    for lib, model in ((P, mine), (TP, ref)):
        lib.global_unstructured([(model[0], "weight"), (model[2], "weight")], pruning_method=lib.L1Unstructured,
                                amount=0.4)
    _same(mine, ref)
    mask = (np.arange(4) % 2).astype(np.float32)
    P.custom_from_mask(mine[2], "bias", mytorch.tensor(mask))
    TP.custom_from_mask(ref[2], "bias", torch.tensor(mask))
    scores = np.random.default_rng(1).random((6, 3, 3, 3)).astype(np.float32)
    P.l1_unstructured(mine[0], "bias", amount=2, importance_scores=mytorch.tensor(scores[:, 0, 0, 0]))
    TP.l1_unstructured(ref[0], "bias", amount=2, importance_scores=torch.tensor(scores[:, 0, 0, 0]))
    _same(mine, ref)


def test_random_pruning_counts_and_seeding():
    counts = []
    for _ in range(2):
        mytorch.manual_seed(3)
        lin = mytorch.nn.Linear(10, 8)
        P.random_unstructured(lin, "weight", amount=0.25)
        P.random_structured(lin, "weight", amount=2, dim=0)
        counts.append(lin.weight_mask.numpy().copy())
    np.testing.assert_array_equal(counts[0], counts[1])  # repeatable under manual_seed
    mask = counts[0]
    assert (mask.sum(1) == 0).sum() >= 2  # two whole output rows gone
    lin = mytorch.nn.Linear(10, 8)
    P.random_unstructured(lin, "weight", amount=0.25)
    assert int(lin.weight_mask.sum()) == 80 - 20


def test_bad_amounts():
    lin = mytorch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="should either be a float in the range"):
        P.l1_unstructured(lin, "weight", amount=1.5)
    with pytest.raises(TypeError, match="Must be int or float"):
        P.l1_unstructured(lin, "weight", amount="half")
    with pytest.raises(ValueError, match="should be smaller than the number of parameters"):
        P.l1_unstructured(lin, "weight", amount=7)
    assert sorted(dict(lin.named_parameters())) == ["bias", "weight"] and not P.is_pruned(lin)  # left as it was
    with pytest.raises(ValueError, match="multidimensional"):
        P.ln_structured(mytorch.nn.Linear(3, 2), "bias", amount=1, n=2, dim=0)
    with pytest.raises(TypeError, match="unstructured"):
        P.global_unstructured([(lin, "bias")], pruning_method=P.RandomStructured, amount=1)
