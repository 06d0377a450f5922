"""Losses vs PyTorch: every reduction and option, values and gradients (float64), errors, modules."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import mytorch
import mytorch.nn.functional as F
from mytorch import nn
from tests.helpers import check_against_torch, randn

pytestmark = pytest.mark.filterwarnings("ignore:reduction")
REDUCTIONS = ["mean", "sum", "none"]
rng = np.random.default_rng(0)


def _labels(shape, C, ignore=None, seed=0):
    t = np.random.default_rng(seed).integers(0, C, size=shape)
    if ignore is not None:
        t.flat[::3] = ignore
    return t.astype(np.int64)


def _probs(shape, seed=0):
    p = np.random.default_rng(seed).random(shape) + 0.05
    return p / p.sum(1, keepdims=True)


W5 = np.array([0.2, 1.0, 2.0, 0.5, 1.5])


def _int_pair(t):
    return mytorch.tensor(t), torch.tensor(t)


# (name, input shape, target maker, kwargs) - target is (mytorch, torch) or a float array (differentiable)
CE_CASES = [
    ("basic", (6, 5), lambda: _labels(6, 5), {}),
    ("weight", (6, 5), lambda: _labels(6, 5), {"weight": W5}),
    ("ignore", (6, 5), lambda: _labels(6, 5, ignore=-100), {}),
    ("ignore_custom_weight", (6, 5), lambda: _labels(6, 5, ignore=2), {"ignore_index": 2, "weight": W5}),
    ("smoothing", (6, 5), lambda: _labels(6, 5), {"label_smoothing": 0.2}),
    ("smoothing_ignore", (6, 5), lambda: _labels(6, 5, ignore=-100), {"label_smoothing": 0.3}),
    ("smoothing_weight_ignore", (6, 5), lambda: _labels(6, 5, ignore=-1),
     {"label_smoothing": 0.1, "weight": W5, "ignore_index": -1}),
    ("nd", (2, 5, 3, 4), lambda: _labels((2, 3, 4), 5), {}),
    ("nd_all_options", (2, 5, 3), lambda: _labels((2, 3), 5, ignore=-100), {"label_smoothing": 0.1, "weight": W5}),
    ("unbatched", (5,), lambda: np.array(3), {}),
    ("probs", (6, 5), lambda: _probs((6, 5)), {}),
    ("probs_weight_smoothing", (6, 5), lambda: _probs((6, 5)), {"weight": W5, "label_smoothing": 0.2}),
    ("probs_nd", (2, 5, 3), lambda: _probs((2, 5, 3)), {}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,shape,make_target,kw", CE_CASES, ids=[c[0] for c in CE_CASES])
def test_cross_entropy(name, shape, make_target, kw, reduction):
    x = randn(*shape, seed=1) * 2
    target = make_target()
    kw = dict(kw, reduction=reduction)
    th_kw = dict(kw)
    if "weight" in kw:
        kw["weight"], th_kw["weight"] = mytorch.tensor(kw["weight"]), torch.tensor(kw["weight"])
    if target.dtype.kind == "f":  # probabilities are differentiable too
        check_against_torch(lambda x, t: F.cross_entropy(x, t, **kw), lambda x, t: TF.cross_entropy(x, t, **th_kw),
                            x, target)
        return
    tm, tt = _int_pair(target)
    check_against_torch(lambda x: F.cross_entropy(x, tm, **kw), lambda x: TF.cross_entropy(x, tt, **th_kw), x)


NLL_CASES = [
    ("basic", (6, 5), _labels(6, 5), {}),
    ("weight_ignore", (6, 5), _labels(6, 5, ignore=-100), {"weight": W5}),
    ("ignore_custom", (6, 5), _labels(6, 5, ignore=0), {"ignore_index": 0}),
    ("nd", (2, 5, 4), _labels((2, 4), 5), {"weight": W5}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,shape,target,kw", NLL_CASES, ids=[c[0] for c in NLL_CASES])
def test_nll_loss(name, shape, target, kw, reduction):
    x = randn(*shape, seed=2)
    tm, tt = _int_pair(target)
    mk, tk = dict(kw, reduction=reduction), dict(kw, reduction=reduction)
    if "weight" in kw:
        mk["weight"], tk["weight"] = mytorch.tensor(kw["weight"]), torch.tensor(kw["weight"])
    check_against_torch(lambda x: F.nll_loss(x, tm, **mk), lambda x: TF.nll_loss(x, tt, **tk), x)


def _unit(shape, seed):
    return np.random.default_rng(seed).uniform(0.05, 0.95, shape)


def _sign(shape, seed):
    return np.where(np.random.default_rng(seed).random(shape) > 0.5, 1.0, -1.0)


# (name, function name, input makers, kwargs, number of leading inputs that get gradients compared)
POINTWISE = [
    ("mse", "mse_loss", [lambda: randn(4, 5, seed=1), lambda: randn(4, 5, seed=2)], {}),
    ("l1", "l1_loss", [lambda: randn(4, 5, seed=1), lambda: randn(4, 5, seed=2)], {}),
    ("smooth_l1", "smooth_l1_loss", [lambda: randn(4, 5, seed=1), lambda: randn(4, 5, seed=2)], {}),
    ("smooth_l1_beta", "smooth_l1_loss", [lambda: randn(4, 5, seed=1), lambda: randn(4, 5, seed=2)], {"beta": 0.5}),
    ("smooth_l1_beta0", "smooth_l1_loss", [lambda: randn(4, 5, seed=1), lambda: randn(4, 5, seed=2)], {"beta": 0.0}),
    ("huber", "huber_loss", [lambda: randn(4, 5, seed=1) * 2, lambda: randn(4, 5, seed=2)], {}),
    ("huber_delta", "huber_loss", [lambda: randn(4, 5, seed=1) * 2, lambda: randn(4, 5, seed=2)], {"delta": 0.7}),
    ("bce", "binary_cross_entropy", [lambda: _unit((4, 5), 1), lambda: _unit((4, 5), 2)], {}),
    ("bce_weight", "binary_cross_entropy", [lambda: _unit((4, 5), 1), lambda: _unit((4, 5), 2)],
     {"weight": _unit((5,), 3)}),
    ("bce_logits", "binary_cross_entropy_with_logits", [lambda: randn(4, 5, seed=1) * 3, lambda: _unit((4, 5), 2)], {}),
    ("bce_logits_pos_weight", "binary_cross_entropy_with_logits",
     [lambda: randn(4, 5, seed=1) * 3, lambda: _unit((4, 5), 2)], {"pos_weight": _unit((5,), 4) * 3,
                                                                    "weight": _unit((4, 1), 5)}),
    ("bce_logits_extreme", "binary_cross_entropy_with_logits",
     [lambda: np.array([-200.0, -30, 0, 30, 200]), lambda: np.array([1.0, 0, 1, 0, 1])], {}),
    ("kl_div", "kl_div", [lambda: np.log(_probs((4, 5), 1)), lambda: _probs((4, 5), 2)], {}),
    ("kl_div_log_target", "kl_div", [lambda: np.log(_probs((4, 5), 1)), lambda: np.log(_probs((4, 5), 2))],
     {"log_target": True}),
    ("soft_margin", "soft_margin_loss", [lambda: randn(4, 5, seed=1), lambda: _sign((4, 5), 2)], {}),
    ("poisson", "poisson_nll_loss", [lambda: randn(4, 5, seed=1), lambda: _unit((4, 5), 2) * 4], {}),
    ("poisson_full_linear", "poisson_nll_loss", [lambda: _unit((4, 5), 1) * 3, lambda: _unit((4, 5), 2) * 4],
     {"log_input": False, "full": True}),
    ("margin_ranking", "margin_ranking_loss",
     [lambda: randn(6, seed=1), lambda: randn(6, seed=2), lambda: _sign(6, 3)], {"margin": 0.3}),
    ("hinge_embedding", "hinge_embedding_loss", [lambda: randn(4, 5, seed=1), lambda: _sign((4, 5), 2)],
     {"margin": 0.5}),
    ("cosine_embedding", "cosine_embedding_loss",
     [lambda: randn(6, 4, seed=1), lambda: randn(6, 4, seed=2), lambda: _sign(6, 3)], {"margin": 0.1}),
    ("triplet", "triplet_margin_loss",
     [lambda: randn(5, 4, seed=1), lambda: randn(5, 4, seed=2), lambda: randn(5, 4, seed=3)], {}),
    ("triplet_swap_p1", "triplet_margin_loss",
     [lambda: randn(5, 4, seed=1), lambda: randn(5, 4, seed=2), lambda: randn(5, 4, seed=3)],
     {"swap": True, "p": 1, "margin": 2.0}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,fn,makers,kw", POINTWISE, ids=[c[0] for c in POINTWISE])
def test_pointwise_losses(name, fn, makers, kw, reduction):
    arrays = [m() for m in makers]
    mk = {k: mytorch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tk = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    mk["reduction"] = tk["reduction"] = reduction
    if name in ("soft_margin", "hinge_embedding", "margin_ranking", "cosine_embedding"):  # torch: no target grad
        tm, tt = mytorch.tensor(arrays[-1]), torch.tensor(arrays[-1])
        check_against_torch(lambda *a: getattr(F, fn)(*a, tm, **mk), lambda *a: getattr(TF, fn)(*a, tt, **tk),
                            *arrays[:-1])
        return
    check_against_torch(lambda *a: getattr(F, fn)(*a, **mk), lambda *a: getattr(TF, fn)(*a, **tk), *arrays)


def test_kl_div_batchmean():
    check_against_torch(lambda a, b: F.kl_div(a, b, reduction="batchmean"),
                        lambda a, b: TF.kl_div(a, b, reduction="batchmean"), np.log(_probs((4, 5), 1)),
                        _probs((4, 5), 2))


def test_bce_clamps_log_like_torch():
    x, y = np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.5])
    check_against_torch(F.binary_cross_entropy, TF.binary_cross_entropy, x, y, grad=False)


DIST = [
    ("cosine_similarity", {}, (4, 6), (4, 6)),
    ("cosine_similarity", {"dim": 0}, (4, 6), (4, 6)),
    ("cosine_similarity", {"dim": -1, "eps": 1e-3}, (3, 4, 6), (1, 6)),
    ("pairwise_distance", {}, (4, 6), (4, 6)),
    ("pairwise_distance", {"p": 1.0, "keepdim": True}, (4, 6), (4, 6)),
    ("pairwise_distance", {"p": 3.0, "eps": 0.0}, (2, 4, 6), (4, 6)),
    ("pairwise_distance", {"p": float("inf")}, (4, 6), (4, 6)),
]


@pytest.mark.parametrize("fn,kw,s1,s2", DIST)
def test_distances(fn, kw, s1, s2):
    check_against_torch(lambda a, b: getattr(F, fn)(a, b, **kw), lambda a, b: getattr(TF, fn)(a, b, **kw),
                        randn(*s1, seed=1), randn(*s2, seed=2))


def test_cosine_similarity_zero_vector():
    a = np.zeros((2, 3))
    a[1] = [1.0, 2.0, 3.0]
    check_against_torch(F.cosine_similarity, TF.cosine_similarity, a, randn(2, 3, seed=1))


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: F.cross_entropy(mytorch.randn(3, 5), mytorch.tensor([1, 2, 5])), IndexError,
     "Target 5 is out of bounds."),
    (lambda: F.cross_entropy(mytorch.randn(3, 5), mytorch.tensor([1, -3, 2])), IndexError,
     "Target -3 is out of bounds."),
    (lambda: F.cross_entropy(mytorch.randn(3, 5), mytorch.tensor([1, 2, 3, 4])), ValueError,
     r"Expected input batch_size \(3\) to match target batch_size \(4\)."),
    (lambda: F.nll_loss(mytorch.randn(3, 5), mytorch.tensor([1, 2, 3, 4])), ValueError,
     r"Expected input batch_size \(3\) to match target batch_size \(4\)."),
    (lambda: F.cross_entropy(mytorch.randn(3, 5, 2), mytorch.tensor([1, 2, 3])), RuntimeError,
     r"Expected target size \[3, 2\], got \[3\]"),
    (lambda: F.cross_entropy(mytorch.randn(3, 5), mytorch.tensor([1, 2, 3]), reduction="foo"), ValueError,
     "foo is not a valid value for reduction"),
    (lambda: F.mse_loss(mytorch.randn(3, 5), mytorch.randn(3, 4)), RuntimeError, "must match the size"),
    (lambda: F.binary_cross_entropy(mytorch.rand(3), mytorch.rand(4)), ValueError,
     r"Using a target size \(torch.Size\(\[4\]\)\) that is different to the input size"),
    (lambda: F.binary_cross_entropy(mytorch.tensor([1.5]), mytorch.rand(1)), RuntimeError,
     "all elements of input should be between 0 and 1"),
    (lambda: F.binary_cross_entropy_with_logits(mytorch.rand(3), mytorch.rand(4)), ValueError,
     r"Target size \(torch.Size\(\[4\]\)\) must be the same as input size"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_all_ignored_mean_is_nan_like_torch():
    out = F.cross_entropy(mytorch.randn(3, 5), mytorch.tensor([-100, -100, -100]))
    assert np.isnan(out.item())


def test_float32_stays_float32():
    x = mytorch.randn(4, 7, requires_grad=True)
    loss = F.cross_entropy(x, mytorch.tensor([0, 1, 2, 3]), label_smoothing=0.1)
    loss.backward()
    assert loss.dtype == mytorch.float32 and x.grad.dtype == mytorch.float32


# ---------------------------------------------------------------------------------------------
# modules
# ---------------------------------------------------------------------------------------------
MODULES = [
    ("CrossEntropyLoss", {"label_smoothing": 0.1, "ignore_index": 1}, "ce"),
    ("CrossEntropyLoss", {"weight": W5, "reduction": "sum"}, "ce"),
    ("NLLLoss", {"weight": W5}, "ce"),
    ("MSELoss", {"reduction": "none"}, "reg"),
    ("L1Loss", {}, "reg"),
    ("SmoothL1Loss", {"beta": 0.3}, "reg"),
    ("HuberLoss", {"delta": 0.4, "reduction": "sum"}, "reg"),
    ("BCELoss", {"weight": _unit((5,), 1)}, "prob"),
    ("BCEWithLogitsLoss", {"pos_weight": _unit((5,), 2) * 2}, "reg01"),
    ("KLDivLoss", {"reduction": "batchmean", "log_target": True}, "reg"),
    ("SoftMarginLoss", {}, "sign"),
    ("PoissonNLLLoss", {"full": True}, "reg01"),
]


@pytest.mark.parametrize("name,kw,kind", MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules(name, kw, kind):
    mk = {k: mytorch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tk = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    mt_mod, th_mod = getattr(nn, name)(**mk), getattr(torch.nn, name)(**tk)
    assert repr(mt_mod) == repr(th_mod)
    assert sorted(mt_mod.state_dict()) == sorted(th_mod.state_dict())
    x = randn(6, 5, seed=1)
    if kind == "ce":
        tm, tt = _int_pair(_labels(6, 5))
        check_against_torch(lambda x: mt_mod(x, tm), lambda x: th_mod(x, tt), x)
        return
    target = {"reg": randn(6, 5, seed=2), "prob": _unit((6, 5), 2), "reg01": _unit((6, 5), 2) * 2,
              "sign": _sign((6, 5), 2)}[kind]
    if kind == "prob":
        x = _unit((6, 5), 3)
    if kind == "sign":  # torch allows no target gradient here
        tm, tt = mytorch.tensor(target), torch.tensor(target)
        check_against_torch(lambda x: mt_mod(x, tm), lambda x: th_mod(x, tt), x)
        return
    check_against_torch(mt_mod, th_mod, x, target)


def test_distance_modules():
    a, b = randn(4, 6, seed=1), randn(4, 6, seed=2)
    for name, kw in [("CosineSimilarity", {"dim": 1}), ("PairwiseDistance", {"p": 1.5, "keepdim": True})]:
        mt_mod, th_mod = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(mt_mod) == repr(th_mod)
        check_against_torch(mt_mod, th_mod, a, b)
    for name, kw, n in [("MarginRankingLoss", {"margin": 0.2}, 1), ("CosineEmbeddingLoss", {"margin": 0.1}, 2),
                        ("TripletMarginLoss", {"margin": 0.5, "swap": True}, 2),
                        ("HingeEmbeddingLoss", {"margin": 2.0}, 2)]:
        mt_mod, th_mod = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
        if name == "MarginRankingLoss":
            arrays, target = (randn(6, seed=1), randn(6, seed=2)), _sign(6, 3)
        elif name == "CosineEmbeddingLoss":
            arrays, target = (a, b), _sign(4, 3)
        elif name == "HingeEmbeddingLoss":
            arrays, target = (a,), _sign((4, 6), 3)
        else:
            check_against_torch(mt_mod, th_mod, a, b, randn(4, 6, seed=3))
            continue
        tm, tt = mytorch.tensor(target), torch.tensor(target)
        check_against_torch(lambda *x: mt_mod(*x, tm), lambda *x: th_mod(*x, tt), *arrays)


def test_cross_entropy_fused_flag():
    loss = nn.CrossEntropyLoss(fused=True)
    assert loss.fused and repr(loss) == "CrossEntropyLoss()"
