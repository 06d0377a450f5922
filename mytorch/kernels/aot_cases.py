"""The launcher calls that aot.py compiles: each case calls real launchers on small inputs under aot.capture().

DEFAULT cases are the configs the launchers pick on their own for typical model shapes (GPT-2/Llama sizes);
SWEEP cases add every other config a launcher can choose: each block size its size rule can produce,
every constexpr flag, mask kind, head dim. Shapes only drive the launchers' choices (the arrays are
tiny or never read), so a case costs nothing to capture.
"""
import numpy as np

from . import activations, adamw, conv2d, cross_entropy, dropout, embedding, flash_attention, layer_norm, linear
from . import rotary, softmax

DEFAULT, SWEEP = [], []


def case(*, default):
    def register(fn):
        (DEFAULT if default else SWEEP).append(fn)
        return fn
    return register


def _arr(shape, dtype):
    return np.zeros(shape, dtype)


@case(default=True)
def softmax_rows(dt):
    for n_cols in (1024, 50257):  # one block; streamed in 4096-column blocks
        x = _arr((2, n_cols), dt)
        for log in (False, True):
            y = softmax.softmax_fwd(x, log=log)
            softmax.softmax_bwd(x, y, log=log)


@case(default=False)
def softmax_blocks(dt):
    for n_cols in [2 ** i for i in range(13)]:
        x = _arr((1, n_cols), dt)
        for log in (False, True):
            softmax.softmax_bwd(x, softmax.softmax_fwd(x, log=log), log=log)


@case(default=True)
def cross_entropy_vocab(dt):
    logits, target = _arr((2, 50257), dt), np.zeros(2, np.int64)
    cross_entropy.cross_entropy_fwd(logits, target, compute_grad=False)
    loss, d, _ = cross_entropy.cross_entropy_fwd(logits, target)
    cross_entropy.cross_entropy_bwd(d, np.ones((), np.float32))
    cross_entropy.cross_entropy_bwd(d, np.ones(2, np.float32))


@case(default=False)
def cross_entropy_blocks(dt):
    for n_cols in [2 ** i for i in range(1, 14)]:
        logits = _arr((1, n_cols), dt)
        loss, d, _ = cross_entropy.cross_entropy_fwd(logits, np.zeros(1, np.int64))
        cross_entropy.cross_entropy_bwd(d, np.ones((), np.float32))


def _norms(dt, n, options):
    x, w, b = _arr((2, n), dt), _arr(n, dt), _arr(n, dt)
    for rms, residual, affine in options:
        res = x if residual else None
        weight, bias = (w, None if rms else b) if affine else (None, None)
        y, h, mean, rstd = layer_norm.norm_fwd(x, weight, bias, residual=res, rms=rms)
        layer_norm.norm_bwd(x, h, weight, mean, rstd, rms=rms, has_bias=bias is not None,
                            dresidual=x if residual else None)


@case(default=True)
def norms_model(dt):
    for n in (768, 4096):
        _norms(dt, n, [(False, False, True), (False, True, True), (True, False, True), (True, True, True)])


@case(default=False)
def norms_blocks(dt):
    flags = [(rms, res, aff) for rms in (False, True) for res in (False, True) for aff in (False, True)]
    for n in [2 ** i for i in range(3, 14)] + [8192]:
        _norms(dt, n, flags)


@case(default=True)
def linear_layers(dt):
    x, w, b = _arr((64, 96), dt), _arr((128, 96), dt), _arr(128, dt)
    y, _ = linear.linear_fwd(x, w, b)
    linear.linear_bwd(y, x, w, need_dbias=False)
    y, pre = linear.linear_fwd(x, w, b, activation="gelu")
    linear.linear_bwd(y, x, w, pre, activation="gelu", need_dbias=False)


@case(default=False)
def linear_options(dt):
    x, w, b = _arr((64, 96), dt), _arr((128, 96), dt), _arr(128, dt)
    for act in linear.ACTIVATIONS:
        for bias in (None, b):
            for tf32 in (False, True):
                linear.linear_fwd(x, w, bias, activation=act, allow_tf32=tf32)
                linear.linear_fwd(x, w, bias, activation=act, allow_tf32=tf32, blocks=(16, 16, 16))


@case(default=True)
def elementwise(dt):
    x = _arr((4, 1024), dt)
    for act in ("gelu", "gelu_tanh", "silu"):
        activations.activation_bwd(x, activations.activation_fwd(x, act), act)
    activations.swiglu_bwd(x, x, x)
    activations.swiglu_fwd(x, x)
    dropout.dropout_fwd(x, 0.1, seed=0)
    embedding.embedding_bwd(embedding.embedding_fwd(np.zeros(3, np.int64), x), np.zeros(3, np.int64), 4)
    p, s = [_arr(4096, dt), _arr(100, dt)], [_arr(4096, np.float32), _arr(100, np.float32)]
    adamw.adamw_multi_step(p, p, s, s, step=1)  # what AdamW(fused=True).step() launches per group


@case(default=False)
def elementwise_options(dt):
    x = _arr((4, 100), dt)
    for act in ("relu", "none"):
        activations.activation_bwd(x, activations.activation_fwd(x, act), act)
    activations.swiglu_fwd(x, x)
    for n in (8, 64, 2048):
        embedding.embedding_fwd(np.zeros(3, np.int64), _arr((4, n), dt))
    p, s = [_arr(4096, dt)], [_arr(4096, np.float32)]
    for amsgrad in (False, True):
        for maximize in (False, True):
            adamw.adamw_multi_step(p, p, s, s, s if amsgrad else None, step=1, amsgrad=amsgrad, maximize=maximize)


@case(default=True)
def rotary_heads(dt):
    for d in (64, 128):
        x = _arr((1, 2, 8, d), dt)
        cos, sin = rotary.rotary_cos_sin(8, d)
        rotary.rotary_bwd(rotary.rotary_fwd(x, cos, sin), cos, sin)


@case(default=False)
def rotary_options(dt):
    x = _arr((1, 2, 8, 80), dt)
    cos, sin = rotary.rotary_cos_sin(8, 64)
    rotary.rotary_bwd(rotary.rotary_fwd(x, cos, sin, interleaved=True), cos, sin, interleaved=True)


def _attention(dt, d, masks=(None,), dropouts=(0.0,), causal=(True,), hq=2, hkv=2):
    q, kv = _arr((1, hq, 8, d), dt), _arr((1, hkv, 8, d), dt)
    for mask in masks:
        for p in dropouts:
            for c in causal:
                kw = dict(attn_mask=mask, causal=c, dropout_p=p)
                out, lse = flash_attention.flash_attention_fwd(q, kv, kv, **kw)
                flash_attention.flash_attention_bwd(out, q, kv, kv, out, lse, **kw)


@case(default=True)
def attention_heads(dt):
    for d in (64, 128):
        _attention(dt, d, dropouts=(0.0, 0.1))


@case(default=False)
def attention_options(dt):
    masks = (None, np.ones((8, 8), bool), _arr((8, 8), dt))
    for d in (16, 32, 64, 128):
        _attention(dt, d, masks=masks, dropouts=(0.0, 0.1), causal=(False, True), hq=4, hkv=2)
    flash_attention.dropout_keep_mask(1, 1, 4, 4, 0.1, 0)


@case(default=True)
def conv_layers(dt):
    x, w, b = _arr((1, 64, 8, 8), dt), _arr((64, 64, 3, 3), dt), _arr(64, dt)
    for tf32 in (None, False):  # PyTorch's cudnn default (TF32 for fp32), and fp32-accurate products
        y = conv2d.conv2d_fwd(x, w, b, padding=1, allow_tf32=tf32)
        conv2d.conv2d_bwd(y, x, w, padding=1, allow_tf32=tf32)
    x = _arr((8, 64, 32, 32), dt)  # enough (n, oh, ow) rows for a split-K dW
    conv2d.conv2d_bwd(x, x, w, padding=1, need_dx=False, need_dbias=False)


@case(default=False)
def conv_options(dt):
    x, w = _arr((1, 8, 8, 8), dt), _arr((8, 4, 1, 1), dt)
    conv2d.conv2d_bwd(conv2d.conv2d_fwd(x, w, None, stride=2, groups=2), x, w, stride=2, groups=2)


def capture_all(np_dtype, default_only=True):
    """All launches of the cases for one numpy dtype, each tagged with its case name."""
    from .aot import capture

    chosen = DEFAULT if default_only else DEFAULT + SWEEP
    with capture() as (launches, current):
        for fn in chosen:
            current["name"] = fn.__name__
            fn(np.dtype(np_dtype))
    return launches
