"""LayerNorm/RMSNorm, CrossEntropyLoss, MultiheadAttention, scaled_dot_product_attention and Conv2d with
fused=True (Triton kernels, CPU interpreter) against the same layers unfused: outputs, input and parameter
gradients. `mytorch.kernels.launch_counts` proves the fused run used its kernels and the unfused one none."""
import copy

import numpy as np
import pytest

import mytorch as mt
from mytorch import backends, kernels, nn
from mytorch.nn import functional as F
from tests.kernels.kutil import assert_close, randn


@pytest.fixture(autouse=True)
def _clean_switch():
    assert not backends.fused.enabled
    kernels.launch_counts.clear()
    yield
    backends.fused.enabled = False


class _Functional:
    """A functional as a "module": the fused copy runs it with mytorch.backends.fused enabled."""

    def __init__(self, fn, **kwargs):
        self.fn, self.kwargs, self.fused = fn, kwargs, False

    def __call__(self, *args):
        with backends.fused.flags(enabled=self.fused):
            return self.fn(*args, **self.kwargs)

    def named_parameters(self):
        return iter(())


def _tensor(a):
    return mt.tensor(a, requires_grad=True) if a.dtype.kind == "f" else mt.tensor(a)


def _run(module, call, arrays):
    """Forward, backward with a fixed upstream gradient: (output, input grads, {param: grad}) as numpy."""
    tensors = [_tensor(a) for a in arrays]
    y = call(module, *tensors)
    dy = np.asarray(randn(*y.shape, seed=7)).astype(y.detach().numpy().dtype)
    y.backward(mt.tensor(dy))
    grads = [t.grad.numpy() for t in tensors if t.requires_grad]
    params = {n: p.grad.numpy() for n, p in module.named_parameters() if p.grad is not None}
    return y.detach().numpy(), grads, params


def _targets(m, classes, ignore=None, seed=4):
    t = np.random.default_rng(seed).integers(0, classes, m)
    if ignore is not None:
        t[::4] = ignore
    return t


def _bool(*shape, seed=5):
    return np.random.default_rng(seed).random(shape) > 0.35


def _kpm(n, s):
    mask = np.zeros((n, s), bool)  # True = padding (do not attend), as in torch
    mask[0, -3:] = mask[-1, -5:] = True
    return mask


def _sdpa_mask(*shape):
    mask = _bool(*shape)
    mask[..., 0] = True  # every query sees a key (torch gives NaN rows otherwise)
    return mask


def _call(m, *ts):
    return m(*ts)


def _mha_call(**kw):
    def call(m, q, k, v, *masks):
        if masks:
            kw["key_padding_mask"] = masks[0]
        return m(q, k, v, need_weights=False, **kw)[0]
    return call


def _mha_causal(m, x):
    L = x.shape[1]
    causal = mt.tensor(np.triu(np.ones((L, L), bool), 1))
    return m(x, x, x, need_weights=False, attn_mask=causal, is_causal=True)[0]


def _self_attn(m, x, *masks):
    return _mha_call()(m, x, x, x, *masks)


LN, RMS = ["layer_norm_fwd", "layer_norm_bwd"], ["rms_norm_fwd", "rms_norm_bwd"]
CE, FA, CONV = ["cross_entropy_fwd", "cross_entropy_bwd"], ["flash_attention_fwd", "flash_attention_bwd"], \
    ["conv2d_fwd", "conv2d_bwd"]
# name: (factory(mt dtype), inputs(np dtype), call(module, *tensors) -> output, kernels that must launch)
CASES = {
    "layer_norm": (lambda dt: nn.LayerNorm(37, dtype=dt), lambda dt: [randn(3, 5, 37, dtype=dt)], _call, LN),
    "layer_norm_no_affine": (lambda dt: nn.LayerNorm(23, elementwise_affine=False, dtype=dt),
                             lambda dt: [randn(7, 23, dtype=dt)], _call, LN),
    "layer_norm_no_bias": (lambda dt: nn.LayerNorm(19, bias=False, eps=1e-3, dtype=dt),
                           lambda dt: [randn(2, 4, 19, dtype=dt)], _call, LN),
    "layer_norm_2d_shape": (lambda dt: nn.LayerNorm((3, 7), dtype=dt), lambda dt: [randn(5, 3, 7, dtype=dt)],
                            _call, LN),
    "rms_norm": (lambda dt: nn.RMSNorm(29, dtype=dt), lambda dt: [randn(3, 6, 29, dtype=dt)], _call, RMS),
    "rms_norm_eps_no_affine": (lambda dt: nn.RMSNorm(13, eps=1e-5, elementwise_affine=False, dtype=dt),
                               lambda dt: [randn(9, 13, dtype=dt)], _call, RMS),
    "ce_mean": (lambda dt: nn.CrossEntropyLoss(), lambda dt: [randn(11, 37, dtype=dt), _targets(11, 37)], _call, CE),
    "ce_mean_ignore_smooth": (lambda dt: nn.CrossEntropyLoss(ignore_index=-1, label_smoothing=0.1),
                              lambda dt: [randn(13, 29, dtype=dt), _targets(13, 29, -1)], _call, CE),
    "ce_sum_ignore": (lambda dt: nn.CrossEntropyLoss(reduction="sum", ignore_index=3),
                      lambda dt: [randn(9, 21, dtype=dt), _targets(9, 21, 3)], _call, CE),
    "ce_none_smooth": (lambda dt: nn.CrossEntropyLoss(reduction="none", label_smoothing=0.2),
                       lambda dt: [randn(10, 17, dtype=dt), _targets(10, 17, -100)], _call, CE),
    "ce_spatial": (lambda dt: nn.CrossEntropyLoss(label_smoothing=0.05),  # (N, C, d): class axis moved last
                   lambda dt: [randn(3, 11, 5, dtype=dt), _targets(15, 11).reshape(3, 5)], _call, CE),
    "mha_self_kpm": (lambda dt: nn.MultiheadAttention(48, 3, batch_first=True, dtype=dt),
                     lambda dt: [randn(3, 11, 48, dtype=dt), _kpm(3, 11)], _self_attn, FA),
    "mha_causal": (lambda dt: nn.MultiheadAttention(32, 2, dtype=dt, batch_first=True),
                   lambda dt: [randn(2, 13, 32, dtype=dt)], _mha_causal, FA),
    "mha_cross_kdim": (lambda dt: nn.MultiheadAttention(32, 2, kdim=20, vdim=12, dtype=dt),
                       lambda dt: [randn(7, 2, 32, dtype=dt), randn(9, 2, 20, dtype=dt, seed=1),
                                   randn(9, 2, 12, dtype=dt, seed=2), _kpm(2, 9)], _mha_call(), FA),
    "sdpa_causal": (lambda dt: _Functional(F.scaled_dot_product_attention, is_causal=True),
                    lambda dt: [randn(2, 2, 13, 16, dtype=dt, seed=s) for s in range(3)], _call, FA),
    "sdpa_bool_mask": (lambda dt: _Functional(F.scaled_dot_product_attention),
                       lambda dt: [randn(2, 3, 9, 24, dtype=dt, seed=s) for s in range(3)]
                       + [_sdpa_mask(2, 1, 9, 9)], _call, FA),
    "sdpa_float_mask": (lambda dt: _Functional(F.scaled_dot_product_attention, scale=0.3,
                                               attn_mask=mt.tensor(randn(7, 7, seed=4), dtype=dt)),
                        lambda dt: [randn(1, 2, 7, 16, dtype=dt, seed=s) for s in range(3)], _call, FA),
    "sdpa_gqa": (lambda dt: _Functional(F.scaled_dot_product_attention, enable_gqa=True, is_causal=True),
                 lambda dt: [randn(1, 6, 11, 16, dtype=dt), randn(1, 2, 11, 16, dtype=dt, seed=1),
                             randn(1, 2, 11, 16, dtype=dt, seed=2)], _call, FA),
    "sdpa_window": (lambda dt: _Functional(F.scaled_dot_product_attention, window_size=4),
                    lambda dt: [randn(2, 2, 19, 16, dtype=dt, seed=s) for s in range(3)], _call, FA),
    "sdpa_cross": (lambda dt: _Functional(F.scaled_dot_product_attention),  # Lq != Lk
                   lambda dt: [randn(2, 2, 5, 32, dtype=dt), randn(2, 2, 14, 32, dtype=dt, seed=1),
                               randn(2, 2, 14, 32, dtype=dt, seed=2)], _call, FA),
    "sdpa_cross_causal_mask": (lambda dt: _Functional(F.scaled_dot_product_attention, is_causal=True),
                               lambda dt: [randn(1, 2, 6, 16, dtype=dt), randn(1, 2, 10, 16, dtype=dt, seed=1),
                                           randn(1, 2, 10, 16, dtype=dt, seed=2), _sdpa_mask(6, 10)], _call, FA),
    "conv2d": (lambda dt: nn.Conv2d(3, 5, 3, dtype=dt), lambda dt: [randn(2, 3, 9, 11, dtype=dt)], _call, CONV),
    "conv2d_stride_pad": (lambda dt: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dtype=dt),
                          lambda dt: [randn(2, 4, 9, 7, dtype=dt)], _call, CONV),
    "conv2d_groups_dilation": (lambda dt: nn.Conv2d(6, 9, 3, padding=2, dilation=2, groups=3, bias=False, dtype=dt),
                               lambda dt: [randn(1, 6, 10, 7, dtype=dt)], _call, CONV),
    "conv2d_same_reflect": (lambda dt: nn.Conv2d(2, 3, 3, padding="same", padding_mode="reflect", dtype=dt),
                            lambda dt: [randn(2, 2, 6, 5, dtype=dt)], _call, CONV),
    "conv2d_unbatched": (lambda dt: nn.Conv2d(3, 4, 3, stride=2, padding=1, dtype=dt),
                         lambda dt: [randn(3, 7, 9, dtype=dt)], _call, CONV),
}
MT = {np.float32: mt.float32, np.float16: mt.float16}


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("name", list(CASES))
def test_fused_matches_unfused(name, dtype):
    factory, inputs, call, launched = CASES[name]
    mt.manual_seed(0)
    plain = factory(MT[dtype])
    fused = copy.deepcopy(plain)
    fused.fused = True
    if isinstance(plain, nn.Module):
        assert repr(fused) == repr(plain)
    arrays = inputs(dtype)
    ref = _run(plain, call, arrays)
    assert not kernels.launch_counts, "the unfused layer launched a kernel"
    out = _run(fused, call, arrays)
    for k in launched:
        assert kernels.launch_counts[k] >= 1, f"{k} did not run: the fused layer fell back"
    scale = 3 if dtype == np.float16 and name.startswith(("sdpa", "mha", "conv")) else 1
    assert out[0].dtype == ref[0].dtype and out[0].shape == ref[0].shape
    assert_close(out[0], ref[0], dtype, scale)
    assert len(out[1]) == len(ref[1])
    for a, b in zip(out[1], ref[1]):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert_close(a, b, dtype, scale)
    assert out[2].keys() == ref[2].keys()
    for n in ref[2]:
        assert out[2][n].dtype == ref[2][n].dtype
        assert_close(out[2][n], ref[2][n], dtype, scale * 4)  # summed over many rows


def test_switches_off_nothing_launches():
    for name, (factory, inputs, call, _) in CASES.items():
        _run(factory(mt.float32), call, inputs(np.float32))
    assert not kernels.launch_counts


def test_global_switch_and_op_flags():
    x = mt.tensor(randn(4, 16), requires_grad=True)
    q = mt.tensor(randn(1, 2, 5, 16), requires_grad=True)
    img = mt.tensor(randn(1, 2, 5, 5), requires_grad=True)
    w = mt.tensor(randn(3, 2, 3, 3), requires_grad=True)

    def everything():
        F.layer_norm(x, (16,)).sum().backward()
        F.rms_norm(x, (16,)).sum().backward()
        F.cross_entropy(x, mt.tensor([1, 2, 3, 4])).backward()
        F.scaled_dot_product_attention(q, q, q).sum().backward()
        F.conv2d(img, w, padding=1).sum().backward()

    with backends.fused.flags(enabled=True):  # the global switch alone routes the functionals
        everything()
    for k in LN + RMS + CE + FA + CONV:
        assert kernels.launch_counts[k] == 1, k
    kernels.launch_counts.clear()
    ops = dict(layer_norm=False, rms_norm=False, cross_entropy=False, flash_attention=False, conv2d=False,
               linear=False)
    with backends.fused.flags(enabled=True, **ops):
        everything()
    with backends.fused.flags(**ops):  # an op flag off also vetoes the module's request
        nn.LayerNorm(16, fused=True)(x)
        nn.RMSNorm(16, fused=True)(x)
        nn.CrossEntropyLoss(fused=True)(x, mt.tensor([1, 2, 3, 4]))
        nn.MultiheadAttention(16, 1, fused=True)(x, x, x, need_weights=False)
        nn.Conv2d(2, 3, 3, fused=True)(img)
    assert not kernels.launch_counts


def test_fused_falls_back_where_the_kernel_does_not_apply():
    x64 = mt.randn(3, 8, dtype=mt.float64)
    nn.LayerNorm(8, dtype=mt.float64, fused=True)(x64)
    nn.RMSNorm(8, dtype=mt.float64, fused=True)(x64)
    nn.CrossEntropyLoss(weight=mt.rand(8), fused=True)(mt.randn(3, 8), mt.tensor([0, 1, 2]))  # class weights
    nn.CrossEntropyLoss(fused=True)(mt.randn(3, 8), mt.softmax(mt.randn(3, 8), -1))  # probability targets
    x = mt.randn(2, 5, 16)
    with backends.fused.flags(linear=False):  # MHA's projections would run the linear kernel
        nn.MultiheadAttention(16, 1, batch_first=True, fused=True)(x, x, x)  # need_weights=True
        nn.MultiheadAttention(16, 2, batch_first=True, fused=True)(x, x, x, need_weights=False)  # head_dim 8
    q = mt.randn(2, 4, 16)  # 3-D
    mask = mt.randn(4, 4, requires_grad=True)  # a mask that wants its gradient
    with backends.fused.flags(enabled=True):
        F.scaled_dot_product_attention(q, q, q)
        F.scaled_dot_product_attention(q[None], q[None], q[None], mask)
    nn.Conv2d(2, 3, 2, padding="same", fused=True)(mt.randn(1, 2, 5, 5))  # uneven padding
    nn.Conv1d(2, 3, 3, fused=True)(mt.randn(1, 2, 7))
    assert not kernels.launch_counts


def test_fused_cross_entropy_backward_twice():
    logits = mt.tensor(randn(6, 13), requires_grad=True)
    target = mt.tensor(_targets(6, 13, -100))
    loss = nn.CrossEntropyLoss(fused=True, label_smoothing=0.1)(logits, target)
    loss.backward(retain_graph=True)
    first = logits.grad.numpy().copy()
    (loss * 3).backward()
    assert_close(logits.grad.numpy(), 4 * first)
    ref = mt.tensor(logits.detach().numpy(), requires_grad=True)
    F.cross_entropy(ref, target, label_smoothing=0.1).backward()
    assert_close(first, ref.grad.numpy())
    assert kernels.launch_counts["cross_entropy_bwd"] == 2


def test_fused_attention_dropout_is_seeded():
    q = mt.tensor(randn(1, 2, 9, 16))
    with backends.fused.flags(enabled=True):
        mt.manual_seed(3)
        a = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy()
        b = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy()
        mt.manual_seed(3)
        c = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(a, c)
    assert (a != b).any()
    assert kernels.launch_counts["flash_attention_fwd"] == 3
