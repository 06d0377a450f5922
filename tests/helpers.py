"""Shared test helpers: build the same inputs in mytorch and PyTorch, compare values and grads."""
import os

import numpy as np
import torch

import mytorch

# The device the mytorch side of pair()/check_against_torch runs on; "cuda" under the fake GPU
# (tests/test_fake_cuda.py runs a subset of the suite that way).
DEVICE = os.environ.get("MYTORCH_TEST_DEVICE", "cpu")
TOL = {np.float64: (1e-10, 1e-12), np.float32: (1e-5, 1e-6), np.float16: (1e-2, 1e-3)}


def to_numpy(x):
    if isinstance(x, mytorch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy(force=True)
    return np.asarray(x)


def assert_close(mine, ref, rtol=None, atol=None, msg=""):
    """Compare a mytorch result with a PyTorch one (tensors, numbers, or nested tuples/lists)."""
    if isinstance(ref, (tuple, list)):
        assert isinstance(mine, (tuple, list)) and len(mine) == len(ref), f"{msg}: {type(mine)} vs {type(ref)}"
        for i, (m, r) in enumerate(zip(mine, ref)):
            assert_close(m, r, rtol, atol, f"{msg}[{i}]")
        return
    if ref is None:
        assert mine is None, f"{msg}: expected None, got {mine!r}"
        return
    m, r = to_numpy(mine), to_numpy(ref)
    assert m.shape == r.shape, f"{msg}: shape {m.shape} != torch {r.shape}"
    if isinstance(ref, torch.Tensor):
        assert str(mine.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1], \
            f"{msg}: dtype {mine.dtype} != torch {ref.dtype}"
    if m.dtype.kind in "biu":
        np.testing.assert_array_equal(m, r, err_msg=msg)
        return
    d_rtol, d_atol = TOL.get(m.dtype.type, (1e-5, 1e-6))
    np.testing.assert_allclose(m.astype(np.float64), r.astype(np.float64), rtol=rtol or d_rtol,
                               atol=atol if atol is not None else d_atol, err_msg=msg, equal_nan=True)


def pair(array, requires_grad=False):
    """The same data as a mytorch tensor and a torch tensor."""
    array = np.asarray(array)
    rg = requires_grad and array.dtype.kind == "f"
    mt = mytorch.tensor(array.copy(), requires_grad=rg, device=DEVICE)
    th = torch.tensor(array.copy(), requires_grad=rg)
    return mt, th


def check_against_torch(mt_fn, th_fn, *arrays, grad=True, rtol=None, atol=None, kwargs=None, th_kwargs=None,
                        non_contiguous=False):
    """Run mt_fn and th_fn on the same inputs; compare outputs and (float) input gradients.

    arrays: numpy arrays (tensors) or other objects passed through unchanged (ints, tuples...).
    """
    kwargs = kwargs or {}
    th_kwargs = kwargs if th_kwargs is None else th_kwargs
    mt_args, th_args, leaves = [], [], []
    for a in arrays:
        if isinstance(a, np.ndarray):
            src = a
            if non_contiguous and a.ndim >= 2:
                src = np.ascontiguousarray(a.swapaxes(-1, -2))
            m, t = pair(src, requires_grad=grad)
            if non_contiguous and a.ndim >= 2:
                m_in, t_in = m.transpose(-1, -2), t.transpose(-1, -2)
            else:
                m_in, t_in = m, t
            mt_args.append(m_in)
            th_args.append(t_in)
            if m.requires_grad:
                leaves.append((m, t))
        else:
            mt_args.append(a)
            th_args.append(a)
    mine = mt_fn(*mt_args, **kwargs)
    ref = th_fn(*th_args, **th_kwargs)
    assert_close(mine, ref, rtol, atol, "forward")
    if not (grad and leaves):
        return mine, ref
    outs_m = mine if isinstance(mine, (tuple, list)) else (mine,)
    outs_t = ref if isinstance(ref, (tuple, list)) else (ref,)
    rng = np.random.default_rng(1)
    loss_m, loss_t = None, None
    for om, ot in zip(outs_m, outs_t):
        if isinstance(ot, torch.Tensor) and ot.requires_grad:
            w = rng.standard_normal(ot.shape).astype(to_numpy(ot).dtype)
            lm = (om * mytorch.tensor(w, device=om.device)).sum()
            lt = (ot * torch.tensor(w)).sum()
            loss_m = lm if loss_m is None else loss_m + lm
            loss_t = lt if loss_t is None else loss_t + lt
    if loss_t is None:
        return mine, ref
    loss_m.backward()
    loss_t.backward()
    for i, (m, t) in enumerate(leaves):
        if t.grad is None:
            assert m.grad is None or not np.any(to_numpy(m.grad)), f"grad[{i}]: torch has None"
            continue
        assert m.grad is not None, f"grad[{i}]: mytorch grad is None"
        assert_close(m.grad, t.grad, rtol, atol, f"grad[{i}]")
    return mine, ref


def randn(*shape, dtype=np.float64, seed=None):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(dtype)
