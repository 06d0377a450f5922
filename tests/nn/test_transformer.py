"""nn.Transformer and its encoder/decoder layers and stacks against PyTorch with copied weights (float64,
dropout 0): outputs and gradients of inputs and parameters, for post/pre-norm, activations, layouts and masks."""
import numpy as np
import pytest
import torch

import mytorch
import mytorch.nn as nn

from ..helpers import assert_close

D, H, FF = 8, 2, 16


def _copy(mine, ref):
    assert list(mine.state_dict()) == list(ref.state_dict())
    mine.load_state_dict({k: mytorch.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    return mine.double(), ref.double()


def _leaf(array):
    return mytorch.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


def _compare(mine, ref, arrays, m_kwargs, t_kwargs, eval_mode):
    if eval_mode:
        mine.eval()
        ref.eval()
    leaves = [_leaf(a) for a in arrays]
    m_out = mine(*[m for m, _ in leaves], **m_kwargs)
    t_out = ref(*[t for _, t in leaves], **t_kwargs)  # inputs need grad: torch skips its fused fast path
    assert_close(m_out, t_out, msg="output")
    w = np.random.randn(*t_out.shape)
    (m_out * mytorch.tensor(w)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    for i, (m, t) in enumerate(leaves):
        assert_close(m.grad, t.grad, msg=f"grad of input {i}")
    for (name, mp), (_, tp) in zip(mine.named_parameters(), ref.named_parameters()):
        assert_close(mp.grad, tp.grad, msg=f"grad of {name}")


def _masks(L, S, N, kind):
    """(mytorch kwargs, torch kwargs) pieces: a causal/boolean attention mask and a key padding mask."""
    if kind == "none":
        return None, None, None, None
    if kind == "float_causal":
        m = nn.Transformer.generate_square_subsequent_mask(L, dtype=mytorch.float64)
        t = torch.nn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
    else:  # boolean: True = may not attend
        arr = np.triu(np.ones((L, S), dtype=bool), 1)
        m, t = mytorch.tensor(arr), torch.tensor(arr)
    pad = np.zeros((N, S), dtype=bool)
    pad[0, -2:] = True
    return m, t, mytorch.tensor(pad), torch.tensor(pad)


LAYER_CASES = [
    ({}, "none"),
    ({"norm_first": True}, "float_causal"),
    ({"activation": "gelu", "batch_first": True}, "bool"),
    ({"activation": torch.tanh, "norm_first": True, "batch_first": True}, "float_causal"),
    ({"bias": False, "layer_norm_eps": 1e-3}, "bool"),
]


def _mine_kwargs(kwargs):
    out = dict(kwargs)
    if out.get("activation") is torch.tanh:
        out["activation"] = mytorch.tanh
    return out


def _shape(L, N, batch_first):
    return (N, L, D) if batch_first else (L, N, D)


@pytest.mark.parametrize("kwargs,masks", LAYER_CASES)
@pytest.mark.parametrize("eval_mode", [False, True])
def test_encoder_layer_and_stack(kwargs, masks, eval_mode):
    ref = torch.nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, **kwargs)
    mine = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, **_mine_kwargs(kwargs))
    mine, ref = _copy(mine, ref)
    L, N = 5, 3
    m_mask, t_mask, m_pad, t_pad = _masks(L, L, N, masks)
    x = np.random.randn(*_shape(L, N, kwargs.get("batch_first", False)))
    _compare(mine, ref, [x], {"src_mask": m_mask, "src_key_padding_mask": m_pad},
             {"src_mask": t_mask, "src_key_padding_mask": t_pad}, eval_mode)
    mine.zero_grad()
    ref.zero_grad()
    t_stack = torch.nn.TransformerEncoder(ref, 2, norm=torch.nn.LayerNorm(D), enable_nested_tensor=False)
    m_stack = nn.TransformerEncoder(mine, 2, norm=nn.LayerNorm(D))
    m_stack, t_stack = _copy(m_stack, t_stack)
    _compare(m_stack, t_stack, [x], {"mask": m_mask, "src_key_padding_mask": m_pad},
             {"mask": t_mask, "src_key_padding_mask": t_pad}, eval_mode)


@pytest.mark.parametrize("kwargs,masks", LAYER_CASES)
def test_decoder_layer_and_stack(kwargs, masks):
    ref = torch.nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, **kwargs)
    mine = nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, **_mine_kwargs(kwargs))
    mine, ref = _copy(mine, ref)
    L, S, N = 4, 6, 2
    bf = kwargs.get("batch_first", False)
    m_mask, t_mask, m_pad, t_pad = _masks(L, L, N, masks)
    _, _, m_mpad, t_mpad = _masks(L, S, N, masks)
    tgt, memory = np.random.randn(*_shape(L, N, bf)), np.random.randn(*_shape(S, N, bf))
    m_kw = {"tgt_mask": m_mask, "tgt_key_padding_mask": m_pad, "memory_key_padding_mask": m_mpad}
    t_kw = {"tgt_mask": t_mask, "tgt_key_padding_mask": t_pad, "memory_key_padding_mask": t_mpad}
    _compare(mine, ref, [tgt, memory], m_kw, t_kw, eval_mode=False)
    mine.zero_grad()
    ref.zero_grad()
    m_stack, t_stack = _copy(nn.TransformerDecoder(mine, 2), torch.nn.TransformerDecoder(ref, 2))
    _compare(m_stack, t_stack, [tgt, memory], m_kw, t_kw, eval_mode=True)


@pytest.mark.parametrize("batch_first,norm_first", [(False, False), (True, True)])
def test_full_transformer(batch_first, norm_first):
    kwargs = {"d_model": D, "nhead": H, "num_encoder_layers": 2, "num_decoder_layers": 1, "dim_feedforward": FF,
              "dropout": 0.0, "batch_first": batch_first, "norm_first": norm_first}
    mine, ref = _copy(nn.Transformer(**kwargs), torch.nn.Transformer(**kwargs))
    S, L, N = 5, 4, 2
    src, tgt = np.random.randn(*_shape(S, N, batch_first)), np.random.randn(*_shape(L, N, batch_first))
    _, _, m_spad, t_spad = _masks(S, S, N, "bool")
    m_kw = {"tgt_mask": mine.generate_square_subsequent_mask(L, dtype=mytorch.float64), "src_key_padding_mask": m_spad,
            "memory_key_padding_mask": m_spad}
    t_kw = {"tgt_mask": ref.generate_square_subsequent_mask(L, dtype=torch.float64), "src_key_padding_mask": t_spad,
            "memory_key_padding_mask": t_spad}
    _compare(mine, ref, [src, tgt], m_kw, t_kw, eval_mode=False)


def test_init_mask_and_errors():
    model = nn.Transformer(D, H, 1, 1, FF)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in torch.nn.Transformer(D, H, 1, 1, FF)
                                                        .named_parameters()]
    w = model.encoder.layers[0].linear1.weight.detach().numpy()
    bound = np.sqrt(6 / (D + FF))  # xavier_uniform_ on every matrix
    assert np.abs(w).max() <= bound and w.std() > bound / 3
    assert_close(nn.Transformer.generate_square_subsequent_mask(3),
                 torch.nn.Transformer.generate_square_subsequent_mask(3))
    layer = nn.TransformerEncoderLayer(D, H, FF)
    assert not np.shares_memory(nn.TransformerEncoder(layer, 2).layers[1].linear1.weight.detach().numpy(),
                                layer.linear1.weight.detach().numpy())
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(D, H, activation="swish")
    with pytest.raises(RuntimeError, match="batch number"):
        model(mytorch.randn(3, 2, D), mytorch.randn(3, 4, D))
    with pytest.raises(RuntimeError, match="d_model"):
        model(mytorch.randn(3, 2, D), mytorch.randn(3, 2, D + 1))


def test_dropout_in_training():
    layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.5)
    x = mytorch.randn(4, 2, D)
    train_out = layer(x)
    layer.eval()
    eval_out = layer(x)
    assert_close(layer(x), eval_out)
    assert not np.allclose(train_out.detach().numpy(), eval_out.detach().numpy())


@pytest.mark.gpu
def test_cuda_matches_cpu():
    cpu = nn.Transformer(D, H, 1, 1, FF, dropout=0.0)
    gpu = nn.Transformer(D, H, 1, 1, FF, dropout=0.0)
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    src, tgt = np.random.randn(5, 2, D).astype(np.float32), np.random.randn(4, 2, D).astype(np.float32)
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    out_cpu = cpu(mytorch.tensor(src), mytorch.tensor(tgt), tgt_mask=mask)
    out_gpu = gpu(mytorch.tensor(src, device="cuda"), mytorch.tensor(tgt, device="cuda"), tgt_mask=mask.to("cuda"))
    assert_close(out_gpu.cpu(), out_cpu, rtol=1e-4, atol=1e-5)
    out_cpu.sum().backward()
    out_gpu.sum().backward()
    for (name, p_cpu), p_gpu in zip(cpu.named_parameters(), gpu.parameters()):
        assert_close(p_gpu.grad.cpu(), p_cpu.grad, rtol=1e-3, atol=1e-5, msg=name)
