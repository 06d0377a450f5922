"""Autoregressive generation: a KV cache, sampling (temperature, top-k, top-p, repetition penalty) and a
streaming loop. Everything runs in eval mode under no_grad (the model's mode is restored afterwards).

Past context_length tokens:
- learned / sinusoidal positions (absolute): the context is cropped to the last context_length tokens and
  re-encoded from position 0 at every step (as nanoGPT does), so past that point the cache is rebuilt
  each step;
- rope / alibi / none (relative): positions keep counting and each layer attends to at most
  context_length positions back (a sliding window of context_length, like Mistral's rolling buffer), so
  the cache keeps only the newest context_length - 1 keys. This equals the model run on the whole
  sequence (GPT.forward accepts longer inputs for relative encodings), not a cropped one: upper layers
  still carry information from further back.
A sliding window W also caps the cache at W - 1 keys. Either way each step runs the model on one new token
and attends over the cached keys, so the cost per token does not grow with the prompt beyond the attention
itself.
"""
import contextlib

from .. import _dtype
from ..autograd import no_grad
from ..ops.factory import multinomial, tensor
from ..ops.shape import cat
from ..random import Generator


class LayerKV:
    """One layer's cached keys and values in (B, Hkv, capacity, D) buffers: slots lo..n-1 hold the newest
    positions in order. New keys are written in place, so a step copies nothing old; when the buffer is full
    the live slots move into a new one of twice their size (amortized O(1) per token)."""

    def __init__(self, window):
        self.window = window  # attention window the layer must apply (None: unbounded)
        self.k = self.v = None
        self.lo = self.n = 0

    def __len__(self):
        return self.n - self.lo

    def update(self, k, v):
        """Appends the new (B, Hkv, T, D) keys/values; returns the cached ones plus these for this step's
        attention, and keeps only the window - 1 newest for the next step."""
        T = k.shape[2]
        if self.k is None or self.n + T > self.k.shape[2]:
            self._grow(k, v, T)
        self.k[:, :, self.n:self.n + T] = k
        self.v[:, :, self.n:self.n + T] = v
        self.n += T
        keys, values = self.k[:, :, self.lo:self.n], self.v[:, :, self.lo:self.n]
        if self.window is not None:
            self.lo = max(self.lo, self.n - (self.window - 1))
        return keys, values

    def _grow(self, k, v, T):
        live = len(self)
        B, H, _, D = k.shape
        shape = (B, H, max(2 * (live + T), 64), D)
        new_k, new_v = k.new_zeros(shape), v.new_zeros(shape)
        if live:
            new_k[:, :, :live] = self.k[:, :, self.lo:self.n]
            new_v[:, :, :live] = self.v[:, :, self.lo:self.n]
        self.k, self.v, self.lo, self.n = new_k, new_v, 0, live


class KVCache:
    """Keys/values of every layer plus `pos`, the number of tokens seen (the next token's position)."""

    def __init__(self, config):
        window = config.sliding_window
        if config.pos_encoding in ("rope", "alibi", "none"):  # relative: a rolling window of context_length
            window = min(window or config.context_length, config.context_length)
        self.window, self.pos = window, 0
        self.layers = [LayerKV(window) for _ in range(config.n_layer)]


@contextlib.contextmanager
def inference(model):
    """eval mode and no_grad for a block; the model's training flag is restored after it."""
    was_training = model.training
    if was_training:  # train()/eval() walk every module: skip when there is nothing to switch
        model.eval()
    try:
        with no_grad():
            yield
    finally:
        if was_training:
            model.train()


def process_logits(logits, history, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0):
    """logits (B, V) of the next token, history (B, T) the tokens so far -> float32 logits with the
    filtered-out tokens at -inf. repetition_penalty > 1 divides positive (multiplies negative) logits of
    tokens already in the history (Keskar et al. 2019, CTRL); then logits / temperature; top_k keeps the
    k largest, top_p the smallest set of tokens whose probabilities add up to at least p."""
    logits = logits.float()
    if repetition_penalty != 1.0:
        seen = logits.gather(1, history)
        logits = logits.scatter(1, history, (seen / repetition_penalty).where(seen > 0, seen * repetition_penalty))
    if temperature not in (0, 1):
        logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs >= top_p  # the tokens ahead already hold top_p of the mass
        logits = logits.scatter(1, order, sorted_logits.masked_fill(drop, float("-inf")))
    return logits


def sample_next(logits, history, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0,
                generator=None):
    """(B,) next token ids: argmax for temperature 0 (after the repetition penalty), else a draw from
    softmax(process_logits(...))."""
    if temperature == 0:
        return process_logits(logits, history, 1.0, None, None, repetition_penalty).argmax(-1)
    logits = process_logits(logits, history, temperature, top_k, top_p, repetition_penalty)
    return multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]


def _check(model, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty, stop_tokens):
    from ..tensor import Tensor

    if not isinstance(idx, Tensor) or idx.dtype not in (_dtype.int64, _dtype.int32):
        raise TypeError(f"generate: idx must be an integer Tensor of token ids, got "
                        f"{getattr(idx, 'dtype', type(idx).__name__)}")
    if idx.ndim == 1:
        idx = idx[None]
    if idx.ndim != 2 or idx.shape[1] == 0:
        raise ValueError(f"generate: idx must be (B, T) with T >= 1, got shape {list(idx.shape)}")
    if max_new_tokens < 0:
        raise ValueError(f"generate: max_new_tokens must be >= 0, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"generate: temperature must be >= 0 (0 = greedy), got {temperature}")
    if top_k is not None and (int(top_k) != top_k or top_k < 1):
        raise ValueError(f"generate: top_k must be a positive integer, got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"generate: top_p must be in (0, 1], got {top_p}")
    if repetition_penalty <= 0:
        raise ValueError(f"generate: repetition_penalty must be > 0, got {repetition_penalty}")
    stops = [] if stop_tokens is None else [int(stop_tokens)] if isinstance(stop_tokens, int) else \
        [int(t) for t in stop_tokens]
    return idx.long().to(model.lm_head.weight.device), stops


def _steps(model, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0,
           stop_tokens=None, seed=None, use_cache=True):
    """Yields (next tokens (B,), all tokens (B, T + n)) after each step until max_new_tokens or every
    row has produced a stop token (finished rows then repeat their stop token)."""
    tokens, stops = _check(model, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty,
                           stop_tokens)
    config = model.config
    ctx, absolute = config.context_length, config.pos_encoding in ("learned", "sinusoidal")
    generator = None if seed is None else Generator(tokens.device).manual_seed(seed)
    cache, finished = None, None
    for _ in range(max_new_tokens):
        with inference(model):
            if not use_cache:  # the same numbers as the cache, recomputed from the visible tokens
                h = model.hidden_states(tokens[:, -ctx:] if absolute else tokens)
            elif cache is None or (absolute and cache.pos >= ctx):  # (re)fill from the cropped context
                cache = KVCache(config)
                h = model.hidden_states(tokens[:, -ctx:], cache)
            else:
                h = model.hidden_states(tokens[:, -1:], cache)
            logits = model.lm_head(h[:, -1, :])
            nxt = sample_next(logits, tokens, temperature, top_k, top_p, repetition_penalty, generator)
            if finished is not None:
                nxt = nxt.where(~finished, tokens[:, -1])
            tokens = cat([tokens, nxt[:, None]], dim=1)
        yield nxt, tokens
        if stops:
            hit = (nxt[:, None] == tensor(stops, device=nxt.device)[None, :]).any(-1)
            finished = hit if finished is None else finished | hit
            if bool(finished.all()):
                return


def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0,
             stop_tokens=None, seed=None, use_cache=True):
    """Returns idx followed by the generated tokens, (B, T + new); stops early once every row has emitted
    one of stop_tokens (that token included). seed makes sampling reproducible."""
    tokens, _ = _check(model, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty, stop_tokens)
    for _, tokens in _steps(model, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty,
                            stop_tokens, seed, use_cache):
        pass
    return tokens


def stream(model, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0,
           stop_tokens=None, seed=None, use_cache=True):
    """Like generate, but yields each new token as soon as it is sampled: an int for batch 1, else (B,)."""
    _check(model, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty, stop_tokens)
    steps = _steps(model, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty, stop_tokens, seed,
                   use_cache)
    return (nxt.item() if nxt.shape[0] == 1 else nxt for nxt, _ in steps)
