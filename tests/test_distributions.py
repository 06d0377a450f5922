"""mytorch.distributions against torch.distributions: values and gradients on the same float64 parameters,
sample shapes / statistics, reparameterised gradients, validation errors, KL, and small training loops."""
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributions as tD

import mytorch
import mytorch.distributions as mD
from tests.helpers import assert_close

RNG = np.random.default_rng(0)
B = (3, 2)  # batch shape of the parameter tables


def positive(*shape, low=0.5, high=3.0):
    return RNG.uniform(low, high, size=shape)


def real(*shape):
    return RNG.normal(size=shape)


def unit(*shape):
    return RNG.uniform(0.1, 0.9, size=shape)


def spd(*batch, n=3):
    a = RNG.normal(size=batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def tril(*batch, n=3):
    m = np.tril(RNG.normal(size=batch + (n, n)) * 0.5, -1)
    return m + np.eye(n) * RNG.uniform(0.5, 2.0, size=batch + (n,))[..., None]


def simplex(*shape):
    p = RNG.uniform(0.1, 1.0, size=shape)
    return p / p.sum(-1, keepdims=True)


def counts(*shape, n=5):
    return RNG.integers(0, n + 1, size=shape).astype(np.float64)


# name: (build(module, *params), parameter arrays, a function making valid values of sample shape (4,))
CASES = {
    "Normal": (lambda D, loc, scale: D.Normal(loc, scale), [real(*B), positive(*B)], lambda: real(4, *B)),
    "Uniform": (lambda D, lo, hi: D.Uniform(lo, lo + hi), [real(*B), positive(*B)], None),
    "Laplace": (lambda D, loc, scale: D.Laplace(loc, scale), [real(*B), positive(*B)], lambda: real(4, *B)),
    "Exponential": (lambda D, rate: D.Exponential(rate), [positive(*B)], lambda: positive(4, *B, low=0.01)),
    "Gamma": (lambda D, a, r: D.Gamma(a, r), [positive(*B), positive(*B)], lambda: positive(4, *B, low=0.01)),
    "Beta": (lambda D, a, b: D.Beta(a, b), [positive(*B), positive(*B)], lambda: unit(4, *B)),
    "Dirichlet": (lambda D, c: D.Dirichlet(c), [positive(*B, 4)], lambda: simplex(4, *B, 4)),
    "LogNormal": (lambda D, loc, scale: D.LogNormal(loc, scale), [real(*B), positive(*B)],
                  lambda: positive(4, *B, low=0.05)),
    "Gumbel": (lambda D, loc, scale: D.Gumbel(loc, scale), [real(*B), positive(*B)], lambda: real(4, *B)),
    "Bernoulli(probs)": (lambda D, p: D.Bernoulli(probs=p), [unit(*B)], lambda: counts(4, *B, n=1)),
    "Bernoulli(logits)": (lambda D, l: D.Bernoulli(logits=l), [real(*B)], lambda: counts(4, *B, n=1)),
    "Categorical(probs)": (lambda D, p: D.Categorical(probs=p), [positive(*B, 5)], lambda: counts(4, *B, n=4)),
    "Categorical(logits)": (lambda D, l: D.Categorical(logits=l), [real(*B, 5)], lambda: counts(4, *B, n=4)),
    "OneHotCategorical": (lambda D, l: D.OneHotCategorical(logits=l), [real(*B, 5)],
                          lambda: np.eye(5)[RNG.integers(0, 5, size=(4, *B))]),
    "Poisson": (lambda D, rate: D.Poisson(rate), [positive(*B)], lambda: counts(4, *B, n=6)),
    "Binomial": (lambda D, p: D.Binomial(5, probs=p), [unit(*B)], lambda: counts(4, *B, n=5)),
    "Binomial(logits)": (lambda D, l: D.Binomial(mytorch_or_torch(D).tensor([[3.0, 7.0]] * 3, dtype=l.dtype),
                                                  logits=l), [real(*B)], lambda: counts(4, *B, n=3)),
    "MultivariateNormal(cov)": (lambda D, loc, cov: D.MultivariateNormal(loc, covariance_matrix=cov),
                                [real(2, 3), spd(2)], lambda: real(4, 2, 3)),
    "MultivariateNormal(prec)": (lambda D, loc, prec: D.MultivariateNormal(loc, precision_matrix=prec),
                                 [real(3), spd(2)], lambda: real(4, 2, 3)),
    "MultivariateNormal(tril)": (lambda D, loc, L: D.MultivariateNormal(loc, scale_tril=L),
                                 [real(2, 3), tril(2)], lambda: real(4, 2, 3)),
    "Independent(Normal)": (lambda D, loc, scale: D.Independent(D.Normal(loc, scale), 1), [real(*B), positive(*B)],
                            lambda: real(4, *B)),
    "Tanh(Normal)": (lambda D, loc, scale: D.TransformedDistribution(
        D.Normal(loc, scale), [D.transforms.TanhTransform(), D.transforms.AffineTransform(1.0, 2.0)]),
        [real(*B), positive(*B)], lambda: 1 + 2 * np.tanh(real(4, *B))),
    "Sigmoid(Normal)": (lambda D, loc, scale: D.TransformedDistribution(D.Normal(loc, scale), D.transforms.SigmoidTransform()),
                        [real(*B), positive(*B)], lambda: unit(4, *B)),
    "RelaxedBernoulli": (lambda D, l: D.RelaxedBernoulli(mytorch_or_torch(D).tensor(0.7, dtype=l.dtype), logits=l),
                         [real(*B)], lambda: unit(4, *B)),
}


def mytorch_or_torch(D):
    return mytorch if D is mD else torch


def build(name, requires_grad=True):
    make, params, values = CASES[name]
    mt_params = [mytorch.tensor(p, requires_grad=requires_grad) for p in params]
    th_params = [torch.tensor(p, requires_grad=requires_grad) for p in params]
    return make(mD, *mt_params), make(tD, *th_params), mt_params, th_params, values


def _try(fn):
    try:
        return fn(), None
    except NotImplementedError as e:
        return None, e


@pytest.mark.parametrize("name", list(CASES))
def test_values_and_gradients_match_torch(name):
    mt, th, mt_params, th_params, values = build(name)
    assert mt.batch_shape == th.batch_shape and mt.event_shape == th.event_shape
    assert mt.has_rsample == th.has_rsample
    assert repr(mt) == repr(th).replace("torch.", "mytorch.")
    if values is None:  # Uniform: draw inside the support
        lo, hi = CASES[name][1][0], CASES[name][1][0] + CASES[name][1][1]
        values = lambda: lo + (hi - lo) * RNG.uniform(size=(4, *B))  # noqa: E731
    value = values()
    for prop in ("mean", "variance", "stddev", "mode"):
        ref, err = _try(lambda: getattr(th, prop))
        if err is None:
            assert_close(getattr(mt, prop), ref, rtol=1e-9, msg=f"{name}.{prop}")
        else:
            with pytest.raises(NotImplementedError):
                getattr(mt, prop)
    for method, arg in (("log_prob", value), ("entropy", None), ("cdf", value), ("icdf", None)):
        if method == "icdf":
            arg = RNG.uniform(0.05, 0.95, size=(4, *B))
        th_args = () if arg is None else (torch.tensor(arg),)
        ref, err = _try(lambda: getattr(th, method)(*th_args))
        if err is not None:
            continue  # PyTorch has none: nothing to compare
        mine = getattr(mt, method)(*(() if arg is None else (mytorch.tensor(arg),)))
        assert_close(mine, ref, rtol=1e-8, atol=1e-10, msg=f"{name}.{method}")
        if not ref.requires_grad:
            continue
        try:
            th_grads = torch.autograd.grad(ref.sum(), th_params, allow_unused=True, retain_graph=True)
        except NotImplementedError:  # e.g. igamma's derivative in its first argument
            continue
        mt_grads = mytorch.autograd.grad(mine.sum(), mt_params, allow_unused=True, retain_graph=True)
        for i, (m, t) in enumerate(zip(mt_grads, th_grads)):
            if t is None:
                continue
            assert_close(m, t, rtol=1e-7, atol=1e-9, msg=f"{name}.{method} grad of parameter {i}")


@pytest.mark.parametrize("name", list(CASES))
def test_sample_shapes_dtypes_and_expand(name):
    mt, th, *_ = build(name, requires_grad=False)
    for shape in ((), (5,), (2, 3)):
        s = mt.sample(shape)
        ref = th.sample(shape)
        assert s.shape == ref.shape and str(s.dtype) == str(ref.dtype).replace("torch", "mytorch"), (shape, s.dtype)
        assert bool(mt.support.check(s).all()), f"{name} sample outside its support"
    big = mt.expand((4,) + tuple(mt.batch_shape))
    ref_big = th.expand((4,) + tuple(th.batch_shape))
    assert big.batch_shape == ref_big.batch_shape and big.event_shape == ref_big.event_shape
    assert big.sample().shape == ref_big.sample().shape
    value = big.sample((2,))
    assert_close(big.log_prob(value), ref_big.log_prob(torch.tensor(value.numpy())), rtol=1e-8, atol=1e-10)
