"""KV cache and generation: cached logits equal full-forward logits, greedy output with the cache equals
greedy output without it (every block option, also past context_length), sampling filters against
transformers' logits processors, seeds, stop tokens, streaming, eval mode / no_grad."""
import numpy as np
import pytest
import torch

import mytorch
from mytorch.models import KVCache, process_logits

from .util import OPTIONS, tokens, tiny_model


@pytest.mark.parametrize("option", OPTIONS)
def test_cached_logits_equal_full_forward(option):
    model = tiny_model(**OPTIONS[option])
    idx = tokens(2, 14)
    full, _ = model(idx)
    cache = KVCache(model.config)
    with mytorch.no_grad():
        parts = [model(idx[:, :5], kv_cache=cache)[0]]  # prefill, then one token at a time
        parts += [model(idx[:, t:t + 1], kv_cache=cache)[0] for t in range(5, 14)]
    assert cache.pos == 14
    np.testing.assert_allclose(mytorch.cat(parts, 1).numpy(), full.detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("option", OPTIONS)
def test_greedy_with_cache_equals_without(option):
    model = tiny_model(**OPTIONS[option])
    idx = tokens(2, 10)
    # 10 + 14 tokens run past context_length 16: cropping (absolute positions) or a rolling cache (relative)
    cached = model.generate(idx, 14, temperature=0)
    plain = model.generate(idx, 14, temperature=0, use_cache=False)
    assert cached.shape == (2, 24) and cached.dtype == mytorch.int64
    np.testing.assert_array_equal(cached[:, :10].numpy(), idx.numpy())
    np.testing.assert_array_equal(cached.numpy(), plain.numpy())


def test_greedy_is_not_trivial():
    # the models above really produce varied tokens (a constant output would make the equality vacuous)
    out = tiny_model().generate(tokens(1, 10), 14, temperature=0)
    assert len(set(out[0, 10:].tolist())) > 3


def test_rolling_cache_keeps_a_bounded_window():
    model = tiny_model(pos_encoding="rope", sliding_window=5)
    cache = KVCache(model.config)
    with mytorch.no_grad():
        model(tokens(1, 12), kv_cache=cache)
        for t in range(20):
            model(tokens(1, 1, seed=t), kv_cache=cache)
    assert cache.pos == 32 and all(len(layer) == 4 and layer.k.shape[2] <= 64 for layer in cache.layers)
    rolling = KVCache(tiny_model(pos_encoding="alibi").config)
    assert rolling.window == 16  # relative encodings: a window of context_length


def test_prompt_longer_than_context_is_cropped():
    model = tiny_model()
    idx = tokens(1, 30)
    out = model.generate(idx, 3, temperature=0)
    ref = model.generate(idx[:, -16:], 3, temperature=0)
    np.testing.assert_array_equal(out[:, 30:].numpy(), ref[:, 16:].numpy())
    with pytest.raises(ValueError, match="context_length 16"):
        model(idx)


@pytest.mark.parametrize("kwargs", [dict(top_k=5), dict(top_p=0.6), dict(repetition_penalty=1.3),
                                    dict(temperature=0.7, top_k=10, top_p=0.9, repetition_penalty=1.2)])
def test_process_logits_matches_transformers(kwargs):
    from transformers.generation import logits_process as lp

    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 50)).astype(np.float32) * 2
    history = rng.integers(0, 50, (3, 7))
    mine = process_logits(mytorch.tensor(logits), mytorch.tensor(history), **kwargs).numpy()
    ref = torch.tensor(logits)
    steps = []
    if kwargs.get("repetition_penalty", 1.0) != 1.0:
        steps.append(lp.RepetitionPenaltyLogitsProcessor(kwargs["repetition_penalty"]))
    if "temperature" in kwargs:
        steps.append(lp.TemperatureLogitsWarper(kwargs["temperature"]))
    if "top_k" in kwargs:
        steps.append(lp.TopKLogitsWarper(kwargs["top_k"]))
    if "top_p" in kwargs:
        steps.append(lp.TopPLogitsWarper(kwargs["top_p"]))
    for step in steps:
        ref = step(torch.tensor(history), ref)
    ref = ref.numpy()
    np.testing.assert_array_equal(np.isinf(mine), np.isinf(ref))
    np.testing.assert_allclose(mine[~np.isinf(mine)], ref[~np.isinf(ref)], rtol=1e-6)


def test_sampling_respects_filters_and_seed():
    model = tiny_model(std=0.1)
    idx = tokens(1, 4)
    a = model.generate(idx, 12, seed=7)
    b = model.generate(idx, 12, seed=7)
    c = model.generate(idx, 12, seed=8)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    greedy = model.generate(idx, 12, temperature=0)
    np.testing.assert_array_equal(model.generate(idx, 12, top_k=1, seed=3).numpy(), greedy.numpy())
    np.testing.assert_array_equal(model.generate(idx, 12, top_p=1e-6, seed=3).numpy(), greedy.numpy())
    # top_k=3: every sampled token is among the 3 most likely of its step
    out = model.generate(idx, 12, top_k=3, temperature=2.0, seed=1)
    logits, _ = model(out[:, :-1])
    top3 = np.argsort(-logits.detach().numpy()[0], axis=-1)[:, :3]
    new = out[0, 4:].numpy()
    assert all(tok in top3[3 + i] for i, tok in enumerate(new))


def test_repetition_penalty_changes_greedy_output():
    model = tiny_model(std=0.1)
    idx = tokens(1, 4)
    plain = model.generate(idx, 16, temperature=0)[0, 4:].tolist()
    penalized = model.generate(idx, 16, temperature=0, repetition_penalty=5.0)[0, 4:].tolist()
    assert len(set(penalized)) > len(set(plain)) or plain != penalized


def test_stop_tokens_and_stream():
    model = tiny_model()
    idx = tokens(1, 5)
    full = model.generate(idx, 12, temperature=0)[0].tolist()
    stop = full[5 + 3]  # the 4th new token
    first = full.index(stop, 5)
    out = model.generate(idx, 12, temperature=0, stop_tokens=[stop, 99999])
    assert out[0].tolist() == full[:first + 1]  # stops right after emitting the stop token
    streamed = list(model.stream(idx, 12, temperature=0, stop_tokens=stop))
    assert all(isinstance(t, int) for t in streamed) and streamed == full[5:first + 1]
    assert list(model.stream(idx, 12, temperature=0)) == full[5:]
    assert list(model.stream(idx, 8, seed=5)) == model.generate(idx, 8, seed=5)[0, 5:].tolist()  # sampled


def test_batched_stop_tokens_pad_finished_rows():
    model = tiny_model()
    idx = tokens(2, 5)
    full = model.generate(idx, 10, temperature=0)
    stop = int(full[0, 7])
    out = model.generate(idx, 10, temperature=0, stop_tokens=stop)
    row0 = full[0].tolist()
    end0 = row0.index(stop, 5)
    assert out[0, :end0 + 1].tolist() == row0[:end0 + 1] and set(out[0, end0:].tolist()) == {stop}
    assert out[1].tolist() == full[1, :out.shape[1]].tolist()  # the other row is unaffected
    steps = list(model.stream(idx, 3, temperature=0))
    assert all(isinstance(s, mytorch.Tensor) and s.shape == (2,) for s in steps)


def test_generation_runs_in_eval_mode_without_grad():
    model = tiny_model(dropout=0.5).train()
    seen = []
    model.lm_head.register_forward_hook(lambda m, i, o: seen.append((mytorch.is_grad_enabled(), model.training)))
    idx = tokens(1, 5)
    a = model.generate(idx, 6, temperature=0)
    b = model.generate(idx, 6, temperature=0)
    np.testing.assert_array_equal(a.numpy(), b.numpy())  # no dropout while generating
    assert set(seen) == {(False, False)}
    assert model.training and mytorch.is_grad_enabled()  # restored afterwards
    assert not a.requires_grad


def test_generate_rejects_bad_arguments():
    model = tiny_model()
    idx = tokens(1, 4)
    with pytest.raises(TypeError, match="integer Tensor"):
        model.generate(idx.float(), 2)
    with pytest.raises(ValueError, match="top_p"):
        model.generate(idx, 2, top_p=1.5)
    with pytest.raises(ValueError, match="top_k"):
        model.generate(idx, 2, top_k=0)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(idx, 2, temperature=-1)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model.generate(tokens(1, 4)[:, :0], 2)
    assert model.generate(idx[0], 3, temperature=0).shape == (1, 7)  # 1-D prompt: batch of one
