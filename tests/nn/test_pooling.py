"""Pooling and resampling vs PyTorch: max/avg/lp pooling (indices included), adaptive pooling, max_unpool,
interpolate (nearest, linear, bilinear, bicubic, area; size or scale_factor) and the modules' reprs."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import mytorch
import mytorch.nn.functional as F
from mytorch import nn
from tests.helpers import assert_close, check_against_torch, randn

F32_TOL = {"rtol": 1e-4, "atol": 1e-5}


def _both(name, x, dtype=np.float64, **kw):
    tol = {} if dtype == np.float64 else F32_TOL
    return check_against_torch(lambda a: getattr(F, name)(a, **kw), lambda a: getattr(TF, name)(a, **kw),
                               x.astype(dtype), **tol)


# (id, function, input shape, kwargs)
MAX_POOL = [
    ("1d", "max_pool1d", (2, 3, 9), dict(kernel_size=2)),
    ("1d_all", "max_pool1d", (2, 3, 10), dict(kernel_size=4, stride=3, padding=2, dilation=1, ceil_mode=True)),
    ("1d_dilation", "max_pool1d", (2, 2, 11), dict(kernel_size=3, stride=2, dilation=2, padding=1)),
    ("2d", "max_pool2d", (2, 3, 8, 6), dict(kernel_size=2)),
    ("2d_overlap_pad_ceil", "max_pool2d", (2, 3, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("2d_rect", "max_pool2d", (1, 2, 9, 7), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0))),
    ("2d_dilation", "max_pool2d", (2, 2, 9, 9), dict(kernel_size=3, stride=1, dilation=(2, 3), padding=(1, 1))),
    ("2d_ceil_odd", "max_pool2d", (1, 1, 5, 5), dict(kernel_size=2, ceil_mode=True)),
    ("2d_unbatched", "max_pool2d", (3, 6, 5), dict(kernel_size=2, stride=1)),
    ("3d", "max_pool3d", (1, 2, 4, 5, 6), dict(kernel_size=2, stride=(1, 2, 2), padding=(1, 0, 1))),
]


@pytest.mark.parametrize("case", MAX_POOL, ids=[c[0] for c in MAX_POOL])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool(case, dtype):
    _, name, shape, kw = case
    x = randn(*shape, seed=0)
    _both(name, x, dtype, **kw)
    _both(name, x, dtype, return_indices=True, **kw)  # indices: PyTorch's flat per-plane positions


def test_max_pool_ties_pick_first():
    x = np.random.default_rng(0).integers(0, 3, (2, 2, 6, 6)).astype(np.float64)
    _both("max_pool2d", x, kernel_size=3, stride=1, return_indices=True)
    _both("adaptive_max_pool2d", x, output_size=(4, 3), return_indices=True)


AVG_POOL = [
    ("1d", "avg_pool1d", (2, 3, 9), dict(kernel_size=3)),
    ("1d_pad_ceil", "avg_pool1d", (2, 3, 10), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
    ("1d_exclude_pad", "avg_pool1d", (2, 3, 10), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True,
                                                      count_include_pad=False)),
    ("2d", "avg_pool2d", (2, 3, 8, 6), dict(kernel_size=2)),
    ("2d_pad_ceil", "avg_pool2d", (2, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("2d_exclude_pad", "avg_pool2d", (2, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                                        count_include_pad=False)),
    ("2d_divisor", "avg_pool2d", (1, 2, 6, 7), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1),
                                                    divisor_override=5)),
    ("2d_unbatched", "avg_pool2d", (3, 5, 5), dict(kernel_size=2, stride=1)),
    ("3d", "avg_pool3d", (1, 2, 4, 5, 6), dict(kernel_size=(2, 3, 2), stride=2, padding=1,
                                               count_include_pad=False)),
]


@pytest.mark.parametrize("case", AVG_POOL, ids=[c[0] for c in AVG_POOL])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_avg_pool(case, dtype):
    _, name, shape, kw = case
    _both(name, randn(*shape, seed=1), dtype, **kw)


ADAPTIVE = [
    ("avg1d", "adaptive_avg_pool1d", (2, 3, 10), 4),
    ("avg1d_up", "adaptive_avg_pool1d", (2, 3, 5), 8),
    ("avg2d", "adaptive_avg_pool2d", (2, 3, 7, 9), (3, 4)),
    ("avg2d_global", "adaptive_avg_pool2d", (2, 3, 5, 6), 1),
    ("avg2d_none", "adaptive_avg_pool2d", (3, 7, 5), (2, None)),
    ("avg2d_up", "adaptive_avg_pool2d", (1, 2, 3, 4), (5, 7)),
    ("avg3d", "adaptive_avg_pool3d", (1, 2, 4, 5, 3), (2, 3, 2)),
    ("max1d", "adaptive_max_pool1d", (2, 3, 10), 4),
    ("max2d", "adaptive_max_pool2d", (2, 3, 7, 9), (3, 4)),
    ("max2d_up", "adaptive_max_pool2d", (1, 2, 3, 4), (5, 7)),
    ("max2d_unbatched", "adaptive_max_pool2d", (3, 6, 5), 2),
    ("max3d", "adaptive_max_pool3d", (1, 2, 4, 5, 3), (3, 2, 2)),
]


@pytest.mark.parametrize("case", ADAPTIVE, ids=[c[0] for c in ADAPTIVE])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adaptive_pool(case, dtype):
    _, name, shape, out = case
    x = randn(*shape, seed=2)
    _both(name, x, dtype, output_size=out)
    if "max" in name:
        _both(name, x, dtype, output_size=out, return_indices=True)


@pytest.mark.parametrize("d,shape,kw", [(1, (2, 3, 8), dict(kernel_size=2)),
                                        (2, (2, 2, 6, 7), dict(kernel_size=3, stride=2, padding=1, output_size=(6, 7))),
                                        (2, (1, 2, 4, 4), dict(kernel_size=2, output_size=(5, 5))),
                                        (3, (1, 2, 4, 4, 4), dict(kernel_size=2))])
def test_max_unpool(d, shape, kw):
    pool_kw = {k: v for k, v in kw.items() if k != "output_size"}
    values, idx = getattr(TF, f"max_pool{d}d")(torch.tensor(randn(*shape, seed=3)), return_indices=True, **pool_kw)
    idx_m = mytorch.tensor(idx.numpy())
    check_against_torch(lambda a: getattr(F, f"max_unpool{d}d")(a, idx_m, **kw),
                        lambda a: getattr(TF, f"max_unpool{d}d")(a, idx, **kw), values.numpy())
    module = getattr(nn, f"MaxUnpool{d}d")(**pool_kw)
    assert repr(module) == repr(getattr(torch.nn, f"MaxUnpool{d}d")(**pool_kw))


@pytest.mark.parametrize("name,shape,args", [("lp_pool1d", (2, 3, 9), (2, 3)),
                                             ("lp_pool2d", (2, 2, 6, 7), (3.0, (2, 3), 2)),
                                             ("lp_pool2d", (1, 2, 5, 5), (1.5, 2, None, True))])
def test_lp_pool(name, shape, args):
    x = np.abs(randn(*shape, seed=4)) + 0.1
    check_against_torch(lambda a: getattr(F, name)(a, *args), lambda a: getattr(TF, name)(a, *args), x)


# ---- interpolate ----------------------------------------------------------------------------------------

INTERP = [
    ("nearest_x2", (2, 3, 4, 5), dict(scale_factor=2)),
    ("nearest_size", (2, 3, 4, 5), dict(size=(7, 3))),
    ("nearest_scale_tuple", (1, 2, 5, 6), dict(scale_factor=(1.7, 0.6))),
    ("nearest_recompute", (1, 2, 5, 6), dict(scale_factor=(1.7, 0.6), recompute_scale_factor=True)),
    ("nearest_1d", (2, 3, 5), dict(size=12)),
    ("nearest_3d", (1, 2, 2, 3, 2), dict(scale_factor=(2, 1, 3))),
    ("nearest_exact", (1, 2, 5, 7), dict(size=(8, 4), mode="nearest-exact")),
    ("bilinear_up", (2, 2, 4, 5), dict(size=(9, 7), mode="bilinear")),
    ("bilinear_down", (2, 2, 9, 8), dict(size=(4, 3), mode="bilinear")),
    ("bilinear_align", (2, 2, 4, 5), dict(size=(9, 7), mode="bilinear", align_corners=True)),
    ("bilinear_scale", (1, 2, 5, 4), dict(scale_factor=2.3, mode="bilinear")),
    ("bilinear_to_1", (1, 2, 5, 4), dict(size=(1, 3), mode="bilinear", align_corners=True)),
    ("linear", (2, 3, 6), dict(scale_factor=2, mode="linear")),
    ("linear_align", (2, 3, 6), dict(size=4, mode="linear", align_corners=True)),
    ("trilinear", (1, 2, 3, 4, 3), dict(size=(5, 3, 4), mode="trilinear")),
    ("bicubic", (1, 2, 5, 6), dict(size=(9, 4), mode="bicubic")),
    ("bicubic_align", (1, 2, 5, 6), dict(size=(8, 11), mode="bicubic", align_corners=True)),
    ("area", (2, 3, 8, 9), dict(size=(3, 4), mode="area")),
    ("area_scale", (2, 3, 8, 9), dict(scale_factor=0.5, mode="area")),
]


@pytest.mark.parametrize("case", INTERP, ids=[c[0] for c in INTERP])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_interpolate(case, dtype):
    _, shape, kw = case
    _both("interpolate", randn(*shape, seed=5), dtype, **kw)


INTERP_ERRORS = [
    (dict(size=4, scale_factor=2), ValueError),
    (dict(), ValueError),
    (dict(size=4, align_corners=True), ValueError),
    (dict(size=(4, 4, 4)), ValueError),
    (dict(size=4, mode="linear"), NotImplementedError),
    (dict(size=4, mode="cubic"), NotImplementedError),
]


@pytest.mark.parametrize("kw,exc", INTERP_ERRORS)
def test_interpolate_errors(kw, exc):
    with pytest.raises(exc):
        TF.interpolate(torch.randn(1, 2, 3, 3), **kw)
    with pytest.raises(exc):
        F.interpolate(mytorch.randn(1, 2, 3, 3), **kw)


POOL_ERRORS = [
    ("pad too big", lambda F_, T: F_.max_pool2d(T.randn(1, 1, 5, 5), 2, padding=2), RuntimeError),
    ("avg pad too big", lambda F_, T: F_.avg_pool1d(T.randn(1, 1, 5), 3, padding=2), RuntimeError),
    ("output too small", lambda F_, T: F_.max_pool2d(T.randn(1, 1, 2, 2), 3), RuntimeError),
    ("pool dims", lambda F_, T: F_.max_pool2d(T.randn(5), 2), RuntimeError),
]


@pytest.mark.parametrize("case", POOL_ERRORS, ids=[c[0] for c in POOL_ERRORS])
def test_pool_errors(case):
    _, call, exc = case
    with pytest.raises(exc):
        call(TF, torch)
    with pytest.raises(exc):
        call(F, mytorch)


# ---- modules -------------------------------------------------------------------------------------------

# (module, constructor args, constructor kwargs, input shape)
MODULES = [
    ("MaxPool1d", (3,), dict(stride=2, padding=1), (2, 3, 9)),
    ("MaxPool2d", (2,), {}, (2, 3, 6, 6)),
    ("MaxPool2d", ((3, 2),), dict(stride=1, dilation=2, ceil_mode=True, return_indices=True), (1, 2, 7, 6)),
    ("MaxPool3d", (2,), dict(padding=1), (1, 2, 3, 4, 4)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 9)),
    ("AvgPool2d", (3,), dict(stride=2, ceil_mode=True, divisor_override=4), (2, 2, 7, 7)),
    ("AvgPool3d", ((1, 2, 2),), {}, (1, 2, 3, 4, 4)),
    ("AdaptiveAvgPool1d", (3,), {}, (2, 3, 8)),
    ("AdaptiveAvgPool2d", ((1, 1),), {}, (2, 3, 5, 5)),
    ("AdaptiveAvgPool2d", ((3, None),), {}, (2, 3, 7, 5)),
    ("AdaptiveAvgPool3d", (2,), {}, (1, 2, 4, 5, 3)),
    ("AdaptiveMaxPool1d", (3,), dict(return_indices=True), (2, 3, 8)),
    ("AdaptiveMaxPool2d", ((2, 3),), {}, (2, 3, 5, 7)),
    ("AdaptiveMaxPool3d", (2,), {}, (1, 2, 4, 5, 3)),
    ("LPPool1d", (2, 3), {}, (2, 3, 9)),
    ("LPPool2d", (3, 2), dict(stride=1), (1, 2, 5, 5)),
    ("Upsample", (), dict(scale_factor=2), (2, 3, 4, 4)),
    ("Upsample", (), dict(size=(5, 7), mode="bilinear", align_corners=False), (2, 3, 4, 4)),
    ("Upsample", (), dict(scale_factor=(2, 3), mode="bicubic"), (1, 2, 3, 3)),
    ("Upsample", (), dict(size=9, mode="linear", align_corners=True), (2, 3, 4)),
    ("UpsamplingNearest2d", (), dict(size=(5, 3)), (1, 2, 4, 4)),
    ("UpsamplingBilinear2d", (), dict(scale_factor=2), (1, 2, 3, 4)),
]


@pytest.mark.parametrize("case", MODULES, ids=[f"{c[0]}-{i}" for i, c in enumerate(MODULES)])
def test_module_matches_torch(case):
    name, args, kwargs, shape = case
    mt, th = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(mt) == repr(th)
    x = randn(*shape, seed=6)
    if name.startswith("LP"):
        x = np.abs(x) + 0.1
    check_against_torch(mt, th, x)


def test_max_pool_module_indices_feed_unpool():
    x = mytorch.tensor(randn(1, 2, 6, 6, seed=7))
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    out, idx = pool(x)
    assert idx.dtype == mytorch.int64 and not idx.requires_grad
    restored = unpool(out, idx)
    t_out, t_idx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x.numpy()))
    assert_close(restored, torch.nn.MaxUnpool2d(2)(t_out, t_idx))
