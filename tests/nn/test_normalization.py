"""Normalization layers vs PyTorch: functional forms (values, input and parameter grads) and modules
(torch weights copied in through load_state_dict, train/eval, running statistics)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import mytorch
import mytorch.nn.functional as F
from mytorch import nn
from tests.helpers import assert_close, check_against_torch, randn


def _lin(n, seed):
    return randn(n, seed=seed) * 0.5 + 1.0


# (name, mytorch fn, torch fn, input shape, extra array shapes (weight, bias...), kwargs)
FUNCTIONAL = [
    ("layer_norm_1d", lambda x, w, b: F.layer_norm(x, (8,), w, b), lambda x, w, b: TF.layer_norm(x, (8,), w, b),
     (4, 8), [(8,), (8,)]),
    ("layer_norm_2d", lambda x, w, b: F.layer_norm(x, (3, 8), w, b, eps=1e-3),
     lambda x, w, b: TF.layer_norm(x, (3, 8), w, b, eps=1e-3), (2, 3, 8), [(3, 8), (3, 8)]),
    ("layer_norm_noaffine", lambda x: F.layer_norm(x, 8), lambda x: TF.layer_norm(x, (8,)), (2, 5, 8), []),
    ("layer_norm_nobias", lambda x, w: F.layer_norm(x, [8], w), lambda x, w: TF.layer_norm(x, [8], w),
     (5, 8), [(8,)]),
    ("rms_norm", lambda x, w: F.rms_norm(x, (8,), w), lambda x, w: TF.rms_norm(x, (8,), w), (3, 4, 8), [(8,)]),
    ("rms_norm_eps", lambda x: F.rms_norm(x, (4, 8), eps=1e-2), lambda x: TF.rms_norm(x, (4, 8), eps=1e-2),
     (3, 4, 8), []),
    ("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), lambda x, w, b: TF.group_norm(x, 2, w, b),
     (3, 6, 4, 5), [(6,), (6,)]),
    ("group_norm_2d", lambda x: F.group_norm(x, 3), lambda x: TF.group_norm(x, 3), (4, 6), []),
    ("group_norm_1group", lambda x, w, b: F.group_norm(x, 1, w, b, eps=1e-3),
     lambda x, w, b: TF.group_norm(x, 1, w, b, eps=1e-3), (2, 4, 7), [(4,), (4,)]),
    ("instance_norm", lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
     lambda x, w, b: TF.instance_norm(x, weight=w, bias=b), (3, 4, 5, 6), [(4,), (4,)]),
    ("instance_norm_1d", lambda x: F.instance_norm(x), lambda x: TF.instance_norm(x), (3, 4, 9), []),
    ("batch_norm_train_no_running", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), (6, 4, 3), [(4,), (4,)]),
    ("local_response_norm", lambda x: F.local_response_norm(x, 3, alpha=0.1, beta=0.6, k=2.0),
     lambda x: TF.local_response_norm(x, 3, alpha=0.1, beta=0.6, k=2.0), (2, 6, 3, 3), []),
    ("local_response_norm_even", lambda x: F.local_response_norm(x, 4), lambda x: TF.local_response_norm(x, 4),
     (2, 7, 5), []),
]


@pytest.mark.parametrize("name,mt_fn,th_fn,shape,params", FUNCTIONAL, ids=[c[0] for c in FUNCTIONAL])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_functional_matches_torch(name, mt_fn, th_fn, shape, params, dtype):
    x = randn(*shape, seed=1).astype(dtype) * 2 + 0.5
    extra = [_lin(int(np.prod(s)), seed=2 + i).reshape(s).astype(dtype) for i, s in enumerate(params)]
    tol = {} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
    check_against_torch(mt_fn, th_fn, x, *extra, **tol)


@pytest.mark.parametrize("momentum", [0.1, 0.5])
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (2, 3, 4, 4)])
def test_batch_norm_functional_running_stats(momentum, shape):
    x = randn(*shape, seed=3) * 3 + 1
    w, b = _lin(3, 4), _lin(3, 5)
    rm_m, rv_m = mytorch.zeros(3, dtype=mytorch.float64), mytorch.ones(3, dtype=mytorch.float64)
    rm_t, rv_t = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    check_against_torch(lambda x, w, b: F.batch_norm(x, rm_m, rv_m, w, b, True, momentum),
                        lambda x, w, b: TF.batch_norm(x, rm_t, rv_t, w, b, True, momentum), x, w, b)
    assert_close(rm_m, rm_t)
    assert_close(rv_m, rv_t)
    # eval mode uses the running statistics (a different backward: no gradient through the stats)
    check_against_torch(lambda x, w, b: F.batch_norm(x, rm_m, rv_m, w, b, False),
                        lambda x, w, b: TF.batch_norm(x, rm_t, rv_t, w, b, False), x, w, b)


def test_instance_norm_running_stats_functional():
    x = randn(3, 4, 6, seed=3)
    rm_m, rv_m = mytorch.zeros(4, dtype=mytorch.float64), mytorch.ones(4, dtype=mytorch.float64)
    rm_t, rv_t = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    check_against_torch(lambda x: F.instance_norm(x, rm_m, rv_m, momentum=0.3),
                        lambda x: TF.instance_norm(x, rm_t, rv_t, momentum=0.3), x)
    assert_close(rm_m, rm_t)
    assert_close(rv_m, rv_t)
    check_against_torch(lambda x: F.instance_norm(x, rm_m, rv_m, use_input_stats=False),
                        lambda x: TF.instance_norm(x, rm_t, rv_t, use_input_stats=False), x)


def test_rms_norm_default_eps_is_finfo_eps():
    x = (randn(2, 8, seed=0) * 1e-4).astype(np.float32)
    check_against_torch(lambda x: F.rms_norm(x, (8,)), lambda x: TF.rms_norm(x, (8,)), x, rtol=1e-4)


def test_half_precision_stays_half():
    x = randn(4, 16, seed=0).astype(np.float16)
    out = F.layer_norm(mytorch.tensor(x), (16,))
    assert out.dtype == mytorch.float16
    assert_close(out, TF.layer_norm(torch.tensor(x).float(), (16,)).half(), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: F.layer_norm(mytorch.randn(2, 3), (4,)), RuntimeError, r"expected input with shape \[\*, 4\]"),
    (lambda: F.group_norm(mytorch.randn(2, 6), 4), RuntimeError, "divisible by num_groups"),
    (lambda: F.batch_norm(mytorch.randn(1, 3), mytorch.zeros(3), mytorch.ones(3), training=True), ValueError,
     "Expected more than 1 value per channel when training"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# ---------------------------------------------------------------------------------------------
# modules: same construction in both libraries, torch's state copied in with load_state_dict
# ---------------------------------------------------------------------------------------------
def _copy_state(mt_module, th_module):
    state = {k: mytorch.tensor(v.detach().numpy().copy()) for k, v in th_module.state_dict().items()}
    mt_module.load_state_dict(state)


def _randomize(th_module):
    with torch.no_grad():
        for p in th_module.parameters():
            p.copy_(torch.randn_like(p) * 0.5 + 1)


MODULES = [
    ("LayerNorm", lambda m: m.LayerNorm(8), (3, 5, 8)),
    ("LayerNorm_2d_nobias", lambda m: m.LayerNorm((5, 8), eps=1e-3, bias=False), (3, 5, 8)),
    ("LayerNorm_noaffine", lambda m: m.LayerNorm([8], elementwise_affine=False), (4, 8)),
    ("RMSNorm", lambda m: m.RMSNorm(8), (3, 5, 8)),
    ("RMSNorm_eps", lambda m: m.RMSNorm([5, 8], eps=1e-5), (3, 5, 8)),
    ("GroupNorm", lambda m: m.GroupNorm(3, 6), (2, 6, 4)),
    ("GroupNorm_noaffine", lambda m: m.GroupNorm(2, 4, affine=False), (2, 4, 3, 3)),
    ("BatchNorm1d_2d", lambda m: m.BatchNorm1d(4), (6, 4)),
    ("BatchNorm1d_3d", lambda m: m.BatchNorm1d(4, momentum=0.3), (6, 4, 5)),
    ("BatchNorm1d_cumulative", lambda m: m.BatchNorm1d(4, momentum=None), (6, 4, 5)),
    ("BatchNorm2d", lambda m: m.BatchNorm2d(3), (4, 3, 5, 5)),
    ("BatchNorm2d_noaffine", lambda m: m.BatchNorm2d(3, affine=False), (4, 3, 2, 2)),
    ("BatchNorm2d_notrack", lambda m: m.BatchNorm2d(3, track_running_stats=False), (4, 3, 2, 2)),
    ("BatchNorm3d", lambda m: m.BatchNorm3d(2, eps=1e-3), (2, 2, 3, 3, 3)),
    ("InstanceNorm1d", lambda m: m.InstanceNorm1d(4), (3, 4, 6)),
    ("InstanceNorm2d_affine_track", lambda m: m.InstanceNorm2d(4, affine=True, track_running_stats=True),
     (3, 4, 5, 5)),
    ("InstanceNorm3d", lambda m: m.InstanceNorm3d(2, affine=True), (2, 2, 3, 3, 3)),
    ("LocalResponseNorm", lambda m: m.LocalResponseNorm(3), (2, 5, 4, 4)),
]


def _run_module(mt_mod, th_mod, x):
    xm = mytorch.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ym, yt = mt_mod(xm), th_mod(xt)
    assert_close(ym, yt, rtol=1e-4, atol=1e-5, msg="output")
    w = randn(*yt.shape, seed=9).astype(np.float32)
    (ym * mytorch.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    assert_close(xm.grad, xt.grad, rtol=1e-4, atol=1e-5, msg="input grad")
    th_params = dict(th_mod.named_parameters())
    for name, p in mt_mod.named_parameters():
        assert_close(p.grad, th_params[name].grad, rtol=1e-4, atol=1e-5, msg=f"grad of {name}")
        p.grad = None
        th_params[name].grad = None


@pytest.mark.parametrize("name,make,shape", MODULES, ids=[c[0] for c in MODULES])
def test_module_matches_torch(name, make, shape):
    th_mod = make(torch.nn)
    _randomize(th_mod)
    mt_mod = make(nn)
    _copy_state(mt_mod, th_mod)
    assert repr(mt_mod) == repr(th_mod)
    assert sorted(mt_mod.state_dict()) == sorted(th_mod.state_dict())
    for step in range(3):  # train steps update running stats (cumulative average with momentum=None)
        _run_module(mt_mod, th_mod, (randn(*shape, seed=step) * 2 + 1).astype(np.float32))
    for key, value in th_mod.state_dict().items():
        assert_close(mt_mod.state_dict()[key], value, rtol=1e-5, atol=1e-6, msg=key)
    mt_mod.eval()
    th_mod.eval()
    _run_module(mt_mod, th_mod, (randn(*shape, seed=7) * 2 + 1).astype(np.float32))


def test_fused_flag_accepted_and_hidden_from_repr():
    ln = nn.LayerNorm(16, fused=True)
    assert ln.fused and "fused" not in repr(ln)
    assert not nn.RMSNorm(4).fused
    assert repr(nn.RMSNorm(4, fused=True)) == repr(torch.nn.RMSNorm(4))
