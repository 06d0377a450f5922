"""The less common nn.functional ops vs PyTorch: values and float64 gradients, reductions, bad-input errors,
grad_fn names, and their modules' state and repr."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import mytorch
import mytorch.nn.functional as F
from mytorch import nn
from tests.helpers import DEVICE, assert_close, check_against_torch, randn

REDUCTIONS = ["mean", "sum", "none"]
pytestmark = pytest.mark.filterwarnings("ignore:reduction")


def _ints(values):
    return np.asarray(values, dtype=np.int64)


def _tensor(lib, data, **kwargs):
    """lib.tensor(data); mytorch's on the device the shared helpers test on."""
    return lib.tensor(data, **kwargs) if lib is torch else lib.tensor(data, device=DEVICE, **kwargs)


def _both(name):
    return getattr(F, name), getattr(TF, name)


# ---------------------------------------------------------------------------------------------
# losses: (functional name, arrays, kwargs)
# ---------------------------------------------------------------------------------------------
_T6 = _ints([0, 3, 4, 1, 1, 2])
_ML = _ints([[3, 0, -1, 1, 2], [1, 2, 4, 0, -1], [-1, 0, 0, 0, 0], [0, 1, 2, 3, 4]])
_SIGNS = np.array([[1, -1, 0, 2, 1], [-1, -1, 1, 1, 1], [2, 1, -1, 0, -1], [1, 1, 1, -1, -1]], dtype=np.float64)

LOSS_CASES = [
    ("multi_margin_loss", (randn(6, 5, seed=0), _T6), {}),
    ("multi_margin_loss", (randn(6, 5, seed=1), _T6), {"p": 2, "margin": 0.7}),
    ("multi_margin_loss", (randn(6, 5, seed=2), _T6), {"weight": np.array([0.2, 1.0, 2.0, 0.5, 1.5])}),
    ("multi_margin_loss", (randn(5, seed=3), np.int64(2)), {}),
    ("multilabel_margin_loss", (randn(4, 5, seed=4), _ML), {}),
    ("multilabel_margin_loss", (randn(5, seed=5), _ML[0]), {}),
    ("multilabel_soft_margin_loss", (randn(4, 5, seed=6), (randn(4, 5, seed=7) > 0).astype(np.float64)), {}),
    ("multilabel_soft_margin_loss", (randn(4, 5, seed=8), np.random.default_rng(9).random((4, 5))),
     {"weight": np.array([0.2, 1.0, 2.0, 0.5, 1.5])}),
    ("gaussian_nll_loss", (randn(4, 3, seed=10), randn(4, 3, seed=11), np.random.default_rng(1).random((4, 3))), {}),
    ("gaussian_nll_loss", (randn(4, 3, seed=12), randn(4, 3, seed=13), np.random.default_rng(2).random(4)),
     {"full": True}),
    ("gaussian_nll_loss", (randn(4, 3, seed=14), randn(4, 3, seed=15), np.random.default_rng(3).random((4, 1))),
     {"eps": 0.3}),
    ("hinge_embedding_loss", (randn(4, 5, seed=16), _SIGNS), {"margin": 0.5}),
    ("triplet_margin_with_distance_loss", (randn(5, 4, seed=17), randn(5, 4, seed=18), randn(5, 4, seed=19)), {}),
    ("triplet_margin_with_distance_loss", (randn(5, 4, seed=20), randn(5, 4, seed=21), randn(5, 4, seed=22)),
     {"swap": True, "margin": 2.0}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,arrays,kwargs", LOSS_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(LOSS_CASES)])
def test_loss_matches_torch(name, arrays, kwargs, reduction):
    mine, ref = _both(name)
    weight = kwargs.get("weight")
    mk, tk = dict(kwargs, reduction=reduction), dict(kwargs, reduction=reduction)
    if weight is not None:
        mk["weight"], tk["weight"] = _tensor(mytorch, weight), torch.tensor(weight)
    arrays = tuple(np.asarray(a) for a in arrays)
    check_against_torch(lambda *a: mine(*a, **mk), lambda *a: ref(*a, **tk), *arrays)


def test_triplet_with_custom_distance_and_float_var():
    a, p, n = randn(5, 4, seed=1), randn(5, 4, seed=2), randn(5, 4, seed=3)
    check_against_torch(
        lambda *t: F.triplet_margin_with_distance_loss(*t, distance_function=lambda x, y: 1 - F.cosine_similarity(x, y)),
        lambda *t: TF.triplet_margin_with_distance_loss(*t, distance_function=lambda x, y: 1 - TF.cosine_similarity(x, y)),
        a, p, n)
    check_against_torch(lambda x, y: F.gaussian_nll_loss(x, y, 0.5), lambda x, y: TF.gaussian_nll_loss(x, y, 0.5),
                        randn(3, 2, seed=4), randn(3, 2, seed=5))


# ---------------------------------------------------------------------------------------------
# ctc_loss
# ---------------------------------------------------------------------------------------------
def _ctc_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((12, 3, 6))
    targets = rng.integers(1, 6, (3, 5))
    return x, targets, _ints([12, 10, 7]), _ints([5, 3, 0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("layout", ["padded", "concatenated", "lists"])
def test_ctc_loss(reduction, zero_infinity, layout):
    x, targets, il, tl = _ctc_data()
    if zero_infinity:  # an impossible alignment: 2 labels in 1 frame gives an infinite loss
        il = _ints([12, 10, 1])
        tl = _ints([5, 3, 2])
    if layout == "concatenated":
        targets = np.concatenate([targets[i, :n] for i, n in enumerate(tl)])
    lengths = (list(il), list(tl)) if layout == "lists" else (il, tl)
    kw = dict(reduction=reduction, zero_infinity=zero_infinity, blank=0)
    check_against_torch(lambda lp, t, *l: F.ctc_loss(lp.log_softmax(2), t, *l, **kw),
                        lambda lp, t, *l: TF.ctc_loss(lp.log_softmax(2), t, *l, **kw), x, targets, *lengths)


def test_ctc_loss_raw_inputs_blank_and_unbatched():
    x, targets, il, tl = _ctc_data(1)
    # log_probs used directly as the leaf: PyTorch's gradient formula (with its softmax term) is matched
    check_against_torch(lambda lp, t, a, b: F.ctc_loss(lp, t, a, b, blank=5, reduction="sum"),
                        lambda lp, t, a, b: TF.ctc_loss(lp, t, a, b, blank=5, reduction="sum"),
                        x, targets - 1, il, tl)
    check_against_torch(lambda lp, t: F.ctc_loss(lp.log_softmax(1), t, 12, 4),
                        lambda lp, t: TF.ctc_loss(lp.log_softmax(1), t, torch.tensor(12), torch.tensor(4)),
                        x[:, 0], targets[0, :4])


# ---------------------------------------------------------------------------------------------
# embedding_bag
# ---------------------------------------------------------------------------------------------
_BAG_IN = _ints([1, 2, 4, 5, 4, 3, 2, 9, 0])
_BAG_OFFSETS = _ints([0, 2, 2, 5])
BAG_CASES = [
    ({"mode": "sum"}, True), ({"mode": "mean"}, True), ({"mode": "max"}, True),
    ({"mode": "sum", "padding_idx": 2}, True), ({"mode": "mean", "padding_idx": 4}, True),
    ({"mode": "max", "padding_idx": -1}, True), ({"mode": "sum", "per_sample_weights": True}, True),
    ({"mode": "mean"}, False), ({"mode": "max"}, False), ({"mode": "sum", "per_sample_weights": True}, False),
]


@pytest.mark.parametrize("kwargs,offsets", BAG_CASES)
def test_embedding_bag(kwargs, offsets):
    weight = randn(10, 3, seed=0)
    kw = dict(kwargs)
    psw = kw.pop("per_sample_weights", None)
    inp = _BAG_IN if offsets else _BAG_IN[:8].reshape(2, 4)
    arrays = [inp, weight] + ([_BAG_OFFSETS] if offsets else [])
    if psw:
        arrays.append(randn(*inp.shape, seed=1))

    def call(fn):
        def run(i, w, *rest):
            off = rest[0] if offsets else None
            p = rest[-1] if psw else None
            return fn(i, w, off, per_sample_weights=p, **kw)
        return run
    check_against_torch(call(F.embedding_bag), call(TF.embedding_bag), *arrays)


def test_embedding_bag_mean_last_offset_and_grad_by_freq():
    """Where PyTorch 2.13's CPU kernel disagrees with its own definition (with include_last_offset its float64
    bags run to the end of the input and its float32 mean divides by that count; scale_grad_by_freq scales by
    wrong counts), mytorch follows the definition: the last offset ends the last bag (PyTorch's float32 sum),
    and F.embedding's 1 / frequency scaling."""
    args = (torch.tensor(_BAG_IN), torch.tensor(randn(10, 3, seed=3).astype(np.float32)), torch.tensor(_BAG_OFFSETS))
    assert_close(F.embedding_bag(*(mytorch.tensor(a.numpy()) for a in args), mode="sum", include_last_offset=True),
                 TF.embedding_bag(*args, mode="sum", include_last_offset=True))
    weight = mytorch.tensor(np.arange(10.0).reshape(10, 1), requires_grad=True)
    bags = F.embedding_bag(mytorch.tensor(_BAG_IN), weight, mytorch.tensor(_BAG_OFFSETS), mode="mean",
                           include_last_offset=True)
    assert_close(bags, torch.tensor([[1.5], [0.0], [13 / 3]], dtype=torch.float64))
    F.embedding_bag(mytorch.tensor(_BAG_IN), weight, mytorch.tensor(_BAG_OFFSETS), mode="sum",
                    scale_grad_by_freq=True).sum().backward()
    ref = torch.tensor(np.arange(10.0).reshape(10, 1), requires_grad=True)
    TF.embedding(torch.tensor(_BAG_IN), ref, scale_grad_by_freq=True).sum().backward()
    assert_close(weight.grad, ref.grad)


def test_embedding_bag_module_is_a_shell():
    torch.manual_seed(0)
    ref = torch.nn.EmbeddingBag(10, 3, mode="max", padding_idx=1)
    mine = nn.EmbeddingBag(10, 3, mode="max", padding_idx=1)
    mine.load_state_dict({k: mytorch.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    assert repr(mine) == repr(ref)
    out = mine(mytorch.tensor(_BAG_IN), mytorch.tensor(_BAG_OFFSETS))
    assert_close(out, ref(torch.tensor(_BAG_IN), torch.tensor(_BAG_OFFSETS)))
    assert type(out.grad_fn).__name__ == "EmbeddingBagBackward0"


# ---------------------------------------------------------------------------------------------
# grid_sample / affine_grid
# ---------------------------------------------------------------------------------------------
GRID_CASES = [(mode, pad, ac) for mode in ("bilinear", "nearest", "bicubic")
              for pad in ("zeros", "border", "reflection") for ac in (False, True)]


@pytest.mark.parametrize("mode,padding_mode,align_corners", GRID_CASES)
def test_grid_sample_2d(mode, padding_mode, align_corners):
    x = randn(2, 3, 5, 6, seed=0)
    grid = np.random.default_rng(1).uniform(-1.3, 1.3, (2, 4, 7, 2))  # some points outside the image
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    check_against_torch(lambda a, g: F.grid_sample(a, g, **kw), lambda a, g: TF.grid_sample(a, g, **kw), x, grid)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_3d(mode, padding_mode):
    x = randn(2, 2, 3, 4, 5, seed=2)
    grid = np.random.default_rng(3).uniform(-1.2, 1.2, (2, 3, 2, 4, 3))
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=False)
    check_against_torch(lambda a, g: F.grid_sample(a, g, **kw), lambda a, g: TF.grid_sample(a, g, **kw), x, grid)
    check_against_torch(lambda a, g: mytorch.grid_sampler_3d(a, g, 0, 1, True),
                        lambda a, g: torch.grid_sampler_3d(a, g, 0, 1, True), x, grid)


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 3, 3, 4, 5)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid(size, align_corners):
    theta = randn(2, len(size) - 2, len(size) - 1, seed=4)
    check_against_torch(lambda t: F.affine_grid(t, size, align_corners=align_corners),
                        lambda t: TF.affine_grid(t, size, align_corners=align_corners), theta)


def test_affine_grid_then_grid_sample_identity():
    x = mytorch.tensor(randn(1, 2, 4, 5, seed=5))
    theta = mytorch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]], dtype=mytorch.float64)
    out = F.grid_sample(x, F.affine_grid(theta, (1, 2, 4, 5), align_corners=False), align_corners=False)
    assert_close(out, torch.tensor(x.numpy()))
    with pytest.warns(UserWarning, match="align_corners=False"):  # PyTorch's warning for the unset default
        F.grid_sample(x, F.affine_grid(theta, (1, 2, 4, 5), align_corners=False))


# ---------------------------------------------------------------------------------------------
# fractional max pooling, pdist, channel_shuffle, rrelu, pad
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d,shape,kernel,out", [(2, (2, 3, 9, 11), (2, 3), (4, 5)), (2, (3, 7, 7), 2, 3),
                                                (3, (2, 2, 7, 8, 9), (2, 2, 3), (3, 4, 5))])
def test_fractional_max_pool(d, shape, kernel, out):
    n, c = (shape[0], shape[1]) if len(shape) == d + 2 else (1, shape[0])
    samples = np.random.default_rng(0).random((n, c, d))
    name = f"fractional_max_pool{d}d"
    mine, ref = _both(name)
    check_against_torch(
        lambda x: mine(x, kernel, output_size=out, return_indices=True, _random_samples=_tensor(mytorch, samples)),
        lambda x: ref(x, kernel, output_size=out, return_indices=True, _random_samples=torch.tensor(samples)),
        randn(*shape, seed=1))


def test_fractional_max_pool_ratio_and_module():
    x = mytorch.randn(2, 3, 10, 12)
    y = F.fractional_max_pool2d(x, 3, output_ratio=(0.5, 0.25))
    assert tuple(y.shape) == (2, 3, 5, 3)
    pool = nn.FractionalMaxPool3d(2, output_size=(3, 2, 2), return_indices=True)
    values, index = pool(mytorch.randn(1, 2, 6, 5, 4))
    assert tuple(values.shape) == tuple(index.shape) == (1, 2, 3, 2, 2)
    assert repr(nn.FractionalMaxPool2d(3, output_ratio=0.5)) == repr(torch.nn.FractionalMaxPool2d(3, output_ratio=0.5))
    with pytest.raises(ValueError):
        nn.FractionalMaxPool2d(3)
    with pytest.raises(ValueError):
        nn.FractionalMaxPool2d(3, output_size=2, output_ratio=0.5)


@pytest.mark.parametrize("p", [0, 0.5, 1, 2, 3, math.inf])
def test_pdist(p):
    x = randn(5, 3, seed=2)
    x[3] = x[1]  # a zero distance
    check_against_torch(lambda a: F.pdist(a, p), lambda a: TF.pdist(a, p), x)


def test_channel_shuffle_and_module():
    x = randn(2, 6, 3, 2, seed=3)
    check_against_torch(lambda a: F.channel_shuffle(a, 3), lambda a: TF.channel_shuffle(a, 3), x)
    out = nn.ChannelShuffle(2)(mytorch.tensor(x))
    assert_close(out, torch.nn.ChannelShuffle(2)(torch.tensor(x)))
    assert repr(nn.ChannelShuffle(2)) == repr(torch.nn.ChannelShuffle(2))


def test_rrelu_eval_and_training():
    x = randn(4, 6, seed=4)
    check_against_torch(lambda a: F.rrelu(a, 0.1, 0.3), lambda a: TF.rrelu(a, 0.1, 0.3), x)
    xt = mytorch.tensor(x, requires_grad=True)
    y = F.rrelu(xt, 0.1, 0.3, training=True)
    slope = y.detach().numpy()[x < 0] / x[x < 0]
    assert np.all((slope >= 0.1) & (slope <= 0.3)) and np.unique(slope).size > 1
    y.sum().backward()
    assert_close(xt.grad, torch.tensor(np.where(x > 0, 1.0, y.detach().numpy() / x)))
    module = nn.RReLU(0.1, 0.3)
    assert repr(module) == repr(torch.nn.RReLU(0.1, 0.3))
    assert_close(module.eval()(mytorch.tensor(x)), torch.nn.RReLU(0.1, 0.3).eval()(torch.tensor(x)))


@pytest.mark.parametrize("mode", ["circular", "replicate"])
@pytest.mark.parametrize("pad", [(-1, 2), (2, -3), (-1, -1), (1, -2, -1, 2)])
def test_pad_negative(mode, pad):
    x = randn(2, 3, 5, 6, seed=5) if len(pad) == 4 else randn(2, 3, 6, seed=5)
    check_against_torch(lambda a: F.pad(a, pad, mode=mode), lambda a: TF.pad(a, pad, mode=mode), x)


# ---------------------------------------------------------------------------------------------
# linear_cross_entropy, multi_head_attention_forward, scaled_dot_product_attention
# ---------------------------------------------------------------------------------------------
LCE_CASES = [{}, {"reduction": "sum", "label_smoothing": 0.1}, {"reduction": "none", "ignore_index": 2},
             {"weight": True}, {"bias": True, "options": 3}, {"options": 2, "ignore_index": 1},
             {"options": 2, "reduction": "none"}, {"options": 3, "weight": True}]


@pytest.mark.parametrize("case", LCE_CASES)
def test_linear_cross_entropy(case):
    x, w = randn(8, 4, seed=6), randn(5, 4, seed=7)
    target = _ints([0, 1, 2, 3, 4, 2, 1, 1])
    case = dict(case)
    extra = [randn(5, seed=8)] if case.pop("bias", False) else []
    chunk = case.pop("options", None)
    cw = case.pop("weight", None)

    def call(lib, fn):
        def run(a, b, t, *bias):
            kw = dict(case, linear_bias=bias[0] if bias else None)
            if cw:
                kw["weight"] = _tensor(lib, [0.2, 1.0, 2.0, 0.5, 1.5], dtype=lib.float64)
            if chunk:
                kw["options"] = lib.nn.LinearCrossEntropyOptions(batch_chunk_size=chunk, chunking_method=None)
            return fn(a, b, t, **kw)
        return run
    check_against_torch(call(mytorch, F.linear_cross_entropy), call(torch, TF.linear_cross_entropy),
                        x, w, target, *extra)


MHA_CASES = [{}, {"separate": True}, {"bias_kv": True, "add_zero_attn": True}, {"key_padding_mask": True},
             {"attn_mask": "bool"}, {"attn_mask": "float", "need_weights": False}, {"average_attn_weights": False},
             {"unbatched": True}]


@pytest.mark.parametrize("case", MHA_CASES)
def test_multi_head_attention_forward(case):
    E, H, L, S, N = 4, 2, 3, 5, 2
    rng = np.random.default_rng(9)
    arrays = {"q": rng.standard_normal((L, N, E)), "k": rng.standard_normal((S, N, E)),
              "v": rng.standard_normal((S, N, E)), "in_w": rng.standard_normal((3 * E, E)),
              "in_b": rng.standard_normal(3 * E), "out_w": rng.standard_normal((E, E)), "out_b": rng.standard_normal(E)}
    if case.get("bias_kv"):
        arrays.update(bk=rng.standard_normal((1, 1, E)), bv=rng.standard_normal((1, 1, E)))
    if case.get("separate"):
        arrays.update(qw=rng.standard_normal((E, E)), kw=rng.standard_normal((E, E)), vw=rng.standard_normal((E, E)))
    if case.get("unbatched"):
        for key in ("q", "k", "v"):
            arrays[key] = arrays[key][:, 0]
    names = list(arrays)
    kpm = np.array([[False, False, True, False, True], [False, False, False, False, False]])
    amask = rng.standard_normal((L, S)) if case.get("attn_mask") == "float" else np.triu(np.ones((L, S), bool), 3)

    def call(lib, fn):
        def run(*tensors):
            t = dict(zip(names, tensors))
            kw = {"need_weights": case.get("need_weights", True),
                  "average_attn_weights": case.get("average_attn_weights", True)}
            if case.get("key_padding_mask"):
                kw["key_padding_mask"] = _tensor(lib, kpm)
            if case.get("attn_mask"):
                kw["attn_mask"] = _tensor(lib, amask)
            if case.get("separate"):
                kw.update(use_separate_proj_weight=True, q_proj_weight=t["qw"], k_proj_weight=t["kw"],
                          v_proj_weight=t["vw"])
            return fn(t["q"], t["k"], t["v"], E, H, None if case.get("separate") else t["in_w"], t["in_b"],
                      t.get("bk"), t.get("bv"), case.get("add_zero_attn", False), 0.0, t["out_w"], t["out_b"],
                      training=False, **kw)
        return run
    check_against_torch(call(mytorch, F.multi_head_attention_forward), call(torch, TF.multi_head_attention_forward),
                        *arrays.values())


def test_multihead_attention_module_sits_on_the_functional():
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(4, 2, batch_first=True, add_bias_kv=True)
    mine = nn.MultiheadAttention(4, 2, batch_first=True, add_bias_kv=True)
    mine.load_state_dict({k: mytorch.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    x = randn(2, 3, 4, seed=10).astype(np.float32)
    out, w = mine(*(mytorch.tensor(x),) * 3)
    ref_out, ref_w = ref(*(torch.tensor(x),) * 3)
    assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    assert_close(w, ref_w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [{"is_causal": True}, {"scale": 0.3}, {"mask": "bool"}, {"mask": "float"},
                                    {"enable_gqa": True}, {"enable_gqa": True, "is_causal": True, "scale": 0.5}])
def test_scaled_dot_product_attention_options(kwargs):
    rng = np.random.default_rng(11)
    kv_heads = 2 if kwargs.get("enable_gqa") else 4
    q, k, v = rng.standard_normal((2, 4, 3, 8)), rng.standard_normal((2, kv_heads, 5, 8)), \
        rng.standard_normal((2, kv_heads, 5, 8))
    kw = dict(kwargs)
    mask = kw.pop("mask", None)
    m = rng.standard_normal((3, 5)) if mask == "float" else rng.random((3, 5)) > 0.3
    m[:, 0] = True if mask == "bool" else m[:, 0]

    def call(lib, fn):
        return lambda a, b, c: fn(a, b, c, attn_mask=_tensor(lib, m) if mask else None, **kw)
    check_against_torch(call(mytorch, F.scaled_dot_product_attention), call(torch, TF.scaled_dot_product_attention),
                        q, k, v)


# ---------------------------------------------------------------------------------------------
# bad inputs: the same exception type as PyTorch
# ---------------------------------------------------------------------------------------------
def _x(*shape):
    return randn(*shape, seed=0)


ERROR_CASES = [
    ("multi_margin p=3", lambda L: L.nn.functional.multi_margin_loss(L.tensor(_x(3, 4)), L.tensor([0, 1, 2]), p=3)),
    ("multi_margin float target",
     lambda L: L.nn.functional.multi_margin_loss(L.tensor(_x(3, 4)), L.tensor([0.0, 1.0, 2.0]))),
    ("multi_margin target size",
     lambda L: L.nn.functional.multi_margin_loss(L.tensor(_x(3, 4)), L.tensor([0, 1]))),
    ("multi_margin 2-D weight", lambda L: L.nn.functional.multi_margin_loss(
        L.tensor(_x(3, 4)), L.tensor([0, 1, 2]), weight=L.ones(2, 2, dtype=L.float64))),
    ("multilabel_margin shape", lambda L: L.nn.functional.multilabel_margin_loss(
        L.tensor(_x(3, 4)), L.tensor(_ints([[0, -1, 0, 0]] * 2)))),
    ("gaussian var size", lambda L: L.nn.functional.gaussian_nll_loss(
        L.tensor(_x(3, 4)), L.tensor(_x(3, 4)), L.ones(2, dtype=L.float64))),
    ("gaussian negative var", lambda L: L.nn.functional.gaussian_nll_loss(
        L.tensor(_x(3, 4)), L.tensor(_x(3, 4)), -L.ones(3, 4, dtype=L.float64))),
    ("gaussian reduction", lambda L: L.nn.functional.gaussian_nll_loss(
        L.tensor(_x(3, 4)), L.tensor(_x(3, 4)), L.ones(3, 4, dtype=L.float64), reduction="avg")),
    ("triplet margin", lambda L: L.nn.functional.triplet_margin_with_distance_loss(
        L.tensor(_x(3, 4)), L.tensor(_x(3, 4)), L.tensor(_x(3, 4)), margin=0)),
    ("triplet ndim", lambda L: L.nn.functional.triplet_margin_with_distance_loss(
        L.tensor(_x(3, 4)), L.tensor(_x(3, 4)), L.tensor(_x(4)))),
    ("pdist 3-D", lambda L: L.nn.functional.pdist(L.tensor(_x(2, 3, 4)))),
    ("channel_shuffle groups", lambda L: L.nn.functional.channel_shuffle(L.tensor(_x(1, 5, 2)), 2)),
    ("channel_shuffle 2-D", lambda L: L.nn.functional.channel_shuffle(L.tensor(_x(4, 4)), 2)),
    ("embedding_bag psw mode", lambda L: L.nn.functional.embedding_bag(
        L.tensor([[0, 1]]), L.tensor(_x(3, 2)), mode="mean", per_sample_weights=L.ones(1, 2, dtype=L.float64))),
    ("embedding_bag 2-D with offsets", lambda L: L.nn.functional.embedding_bag(
        L.tensor([[0, 1]]), L.tensor(_x(3, 2)), L.tensor([0]))),
    ("embedding_bag index range", lambda L: L.nn.functional.embedding_bag(L.tensor([[0, 5]]), L.tensor(_x(3, 2)))),
    ("embedding_bag no offsets", lambda L: L.nn.functional.embedding_bag(L.tensor([0, 1]), L.tensor(_x(3, 2)))),
    ("grid_sample mode", lambda L: L.nn.functional.grid_sample(L.tensor(_x(1, 1, 3, 3)), L.tensor(_x(1, 2, 2, 2)),
                                                               mode="linear", align_corners=False)),
    ("grid_sample batch", lambda L: L.nn.functional.grid_sample(L.tensor(_x(2, 1, 3, 3)), L.tensor(_x(1, 2, 2, 2)),
                                                                align_corners=False)),
    ("grid_sample last dim", lambda L: L.nn.functional.grid_sample(L.tensor(_x(1, 1, 3, 3)),
                                                                   L.tensor(_x(1, 2, 2, 3)), align_corners=False)),
    ("grid_sample bicubic 5-D", lambda L: L.nn.functional.grid_sample(
        L.tensor(_x(1, 1, 3, 3, 3)), L.tensor(_x(1, 2, 2, 2, 3)), mode="bicubic", align_corners=False)),
    ("affine_grid theta shape", lambda L: L.nn.functional.affine_grid(L.tensor(_x(1, 3, 3)), (1, 1, 4, 4),
                                                                      align_corners=False)),
    ("fractional no size", lambda L: L.nn.functional.fractional_max_pool2d(L.tensor(_x(1, 1, 6, 6)), 2)),
    ("fractional too large", lambda L: L.nn.functional.fractional_max_pool2d(L.tensor(_x(1, 1, 6, 6)), 4,
                                                                             output_size=4)),
    ("ctc input_lengths", lambda L: L.nn.functional.ctc_loss(
        L.tensor(_x(5, 2, 4)).log_softmax(2), L.tensor([[1, 2], [1, 1]]), L.tensor([5, 6]), L.tensor([2, 2]))),
    ("ctc target width", lambda L: L.nn.functional.ctc_loss(
        L.tensor(_x(5, 2, 4)).log_softmax(2), L.tensor([[1, 2], [1, 1]]), L.tensor([5, 5]), L.tensor([3, 2]))),
    ("mha embed dim", lambda L: L.nn.functional.multi_head_attention_forward(
        L.tensor(_x(3, 1, 4)), L.tensor(_x(3, 1, 4)), L.tensor(_x(3, 1, 4)), 6, 2, L.tensor(_x(12, 4)), None,
        None, None, False, 0.0, L.tensor(_x(4, 4)), None)),
    ("rrelu bounds", lambda L: L.nn.functional.rrelu(L.tensor(_x(3)), 0.5, 0.1, training=True)),
]


@pytest.mark.parametrize("name,call", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_bad_input_raises_like_torch(name, call):
    with pytest.raises(Exception) as ref:
        call(torch)
    with pytest.raises(Exception) as mine:
        call(mytorch)
    assert type(mine.value) is type(ref.value) or isinstance(mine.value, type(ref.value)), \
        f"{name}: mytorch raised {type(mine.value).__name__}: {mine.value}; torch {type(ref.value).__name__}"


# ---------------------------------------------------------------------------------------------
# grad_fn names, modules
# ---------------------------------------------------------------------------------------------
def _grad_fn_names(L):
    F_ = L.nn.functional
    g = L.Generator().manual_seed(0)
    x = L.randn(4, 5, generator=g, dtype=L.float64, requires_grad=True)
    y = L.randn(4, 5, generator=g, dtype=L.float64)
    p = L.rand(4, 5, generator=g, dtype=L.float64)
    t = L.tensor([0, 3, 1, 4])
    s = L.tensor(_SIGNS[:, :5])
    cases = {
        "mse_loss": lambda r: F_.mse_loss(x, y, reduction=r), "l1_loss": lambda r: F_.l1_loss(x, y, reduction=r),
        "smooth_l1_loss": lambda r: F_.smooth_l1_loss(x, y, reduction=r),
        "huber_loss": lambda r: F_.huber_loss(x, y, reduction=r),
        "binary_cross_entropy": lambda r: F_.binary_cross_entropy(x.sigmoid(), p, reduction=r),
        "bce_with_logits": lambda r: F_.binary_cross_entropy_with_logits(x, p, reduction=r),
        "kl_div": lambda r: F_.kl_div(x, p, reduction=r), "soft_margin": lambda r: F_.soft_margin_loss(x, s, reduction=r),
        "poisson_nll": lambda r: F_.poisson_nll_loss(x, p, reduction=r),
        "cross_entropy": lambda r: F_.cross_entropy(x, t, reduction=r), "nll": lambda r: F_.nll_loss(x, t, reduction=r),
        "hinge": lambda r: F_.hinge_embedding_loss(x, s, reduction=r),
        "margin_ranking": lambda r: F_.margin_ranking_loss(x, y, s, reduction=r),
        "triplet": lambda r: F_.triplet_margin_loss(x, y, p, reduction=r),
        "triplet_with_distance": lambda r: F_.triplet_margin_with_distance_loss(x, y, p, reduction=r),
        "cosine_embedding": lambda r: F_.cosine_embedding_loss(x, y, s[:, 0], reduction=r),
        "multi_margin": lambda r: F_.multi_margin_loss(x, t, reduction=r),
        "multilabel_margin": lambda r: F_.multilabel_margin_loss(x, L.tensor(_ML), reduction=r),
        "multilabel_soft_margin": lambda r: F_.multilabel_soft_margin_loss(x, (p > 0.5).double(), reduction=r),
        "gaussian_nll": lambda r: F_.gaussian_nll_loss(x, y, p + 0.1, reduction=r),
        "ctc": lambda r: F_.ctc_loss(x.reshape(4, 1, 5).log_softmax(2), L.tensor([[1, 2]]), [4], [2], reduction=r),
    }
    names = {k: [type(f(r).grad_fn).__name__ for r in REDUCTIONS] for k, f in cases.items()}
    image = x.reshape(1, 1, 4, 5)
    names.update({
        "pdist": type(F_.pdist(x).grad_fn).__name__,
        "channel_shuffle": type(F_.channel_shuffle(x.reshape(1, 4, 5), 2).grad_fn).__name__,
        "rrelu": type(F_.rrelu(x).grad_fn).__name__,
        "grid_sample": type(F_.grid_sample(image, p[:2, :4].reshape(1, 2, 2, 2), align_corners=False).grad_fn).__name__,
        "affine_grid": type(F_.affine_grid(x[:2, :3].reshape(1, 2, 3), (1, 1, 2, 2), align_corners=False)
                            .grad_fn).__name__,
        "embedding_bag": type(F_.embedding_bag(L.tensor([[0, 1]]), x).grad_fn).__name__,
        "fractional_max_pool2d": type(F_.fractional_max_pool2d(image, 2, output_size=2).grad_fn).__name__,
        "pad": [type(F_.pad(x.reshape(1, 4, 5), (1, 1), mode=m).grad_fn).__name__
                for m in ("constant", "reflect", "replicate")],
    })
    return names


def test_grad_fn_names_match_torch():
    assert _grad_fn_names(mytorch) == _grad_fn_names(torch)


MODULES = [("CTCLoss", {}), ("CTCLoss", {"blank": 3, "reduction": "sum", "zero_infinity": True}),
           ("GaussianNLLLoss", {"full": True, "eps": 0.1}), ("MultiMarginLoss", {"p": 2, "margin": 0.5}),
           ("MultiLabelMarginLoss", {"reduction": "none"}), ("MultiLabelSoftMarginLoss", {}),
           ("TripletMarginWithDistanceLoss", {"margin": 2.0, "swap": True}), ("HingeEmbeddingLoss", {"margin": 2.0}),
           ("FractionalMaxPool2d", {"kernel_size": 2, "output_size": 3}), ("RReLU", {"lower": 0.2}),
           ("ChannelShuffle", {"groups": 2}), ("EmbeddingBag", {"num_embeddings": 5, "embedding_dim": 2})]


@pytest.mark.parametrize("name,kwargs", MODULES, ids=[m[0] for m in MODULES])
def test_module_state_and_repr(name, kwargs):
    mine, ref = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(mine) == repr(ref)
    assert list(mine.state_dict()) == list(ref.state_dict())
    public = {k for k in vars(ref) if not k.startswith("_") and k != "training"}
    for attr in public:
        assert getattr(mine, attr) == getattr(ref, attr) or callable(getattr(ref, attr)), attr


def test_loss_modules_call_their_functional():
    from mytorch.nn.modules.loss import CTCLoss, MultiMarginLoss

    x, target = mytorch.tensor(randn(6, 5, seed=1)), mytorch.tensor(_T6)
    weight = mytorch.tensor([0.2, 1.0, 2.0, 0.5, 1.5], dtype=mytorch.float64)
    assert_close(MultiMarginLoss(p=2, weight=weight)(x, target),
                 TF.multi_margin_loss(torch.tensor(x.numpy()), torch.tensor(_T6), p=2, weight=torch.tensor(weight.numpy())))
    lp, targets, il, tl = _ctc_data()
    assert_close(CTCLoss(reduction="sum")(mytorch.tensor(lp).log_softmax(2), mytorch.tensor(targets),
                                          mytorch.tensor(il), mytorch.tensor(tl)),
                 torch.nn.CTCLoss(reduction="sum")(torch.tensor(lp).log_softmax(2), torch.tensor(targets),
                                                   torch.tensor(il), torch.tensor(tl)))
    with pytest.raises(ValueError):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError):
        nn.TripletMarginWithDistanceLoss(margin=-1)


def test_autocast_runs_the_fp32_ops_in_float32():
    """PyTorch's CPU autocast list keeps multi_margin_loss, multilabel_margin_loss, ctc_loss and grid_sampler in
    float32 (bfloat16 inputs come back float32)."""
    pytest.importorskip("ml_dtypes")
    x = randn(4, 5, seed=1).astype(np.float32)
    lp = randn(6, 2, 5, seed=2).astype(np.float32)

    def dtypes(lib):
        with lib.autocast("cpu", dtype=lib.bfloat16):
            a = lib.tensor(x).to(lib.bfloat16)
            return [str(t.dtype).split(".")[-1] for t in (
                lib.nn.functional.multi_margin_loss(a, lib.tensor([0, 1, 2, 3])),
                lib.nn.functional.multilabel_margin_loss(a, lib.tensor(np.full((4, 5), -1))),
                lib.nn.functional.ctc_loss(lib.tensor(lp).to(lib.bfloat16).log_softmax(2), lib.tensor([[1, 2], [3, 1]]),
                                           [6, 6], [2, 2]),
                lib.nn.functional.grid_sample(a[None, None], lib.zeros(1, 2, 2, 2, dtype=lib.bfloat16),
                                              align_corners=False))]
    assert dtypes(mytorch) == dtypes(torch) == ["float32"] * 4
