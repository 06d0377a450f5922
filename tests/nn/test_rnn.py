"""RNN / LSTM / GRU and their cells against PyTorch with copied weights (float64): outputs, final states,
and gradients of the input, the initial states and every parameter; packed sequences; errors."""
import numpy as np
import pytest
import torch

import mytorch
import mytorch.nn as nn
from mytorch.nn.utils.rnn import pack_padded_sequence, pack_sequence, pad_packed_sequence, pad_sequence

from ..helpers import assert_close


def _copy_from_torch(mine, ref):
    state = {k: mytorch.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()}
    mine.load_state_dict(state)
    return mine


def _pair(cls, *args, **kwargs):
    ref = getattr(torch.nn, cls)(*args, **kwargs).double()
    mine = getattr(nn, cls)(*args, **kwargs).double()
    assert list(mine.state_dict()) == list(ref.state_dict())
    assert [tuple(p.shape) for p in mine.parameters()] == [tuple(p.shape) for p in ref.parameters()]
    return _copy_from_torch(mine, ref), ref


def _leaf(array):
    return mytorch.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


def _flat(out):
    return [o for o in (out if isinstance(out, tuple) else (out,))]


def _compare_run(mine, ref, x, hx=None):
    mx, tx = _leaf(x)
    m_h = t_h = None
    leaves = [(mx, tx)]
    if hx is not None:
        pairs = [_leaf(h) for h in hx]
        leaves += pairs
        m_h = tuple(p[0] for p in pairs) if len(pairs) == 2 else pairs[0][0]
        t_h = tuple(p[1] for p in pairs) if len(pairs) == 2 else pairs[0][1]
    m_out, m_state = mine(mx, m_h)
    t_out, t_state = ref(tx, t_h)
    assert_close(m_out, t_out, msg="output")
    assert_close(_flat(m_state), _flat(t_state), msg="state")
    # a loss touching the output and every final state
    weights = [np.random.randn(*o.shape) for o in [t_out, *_flat(t_state)]]
    m_loss = sum((o * mytorch.tensor(w)).sum() for o, w in zip([m_out, *_flat(m_state)], weights))
    t_loss = sum((o * torch.tensor(w)).sum() for o, w in zip([t_out, *_flat(t_state)], weights))
    m_loss.backward()
    t_loss.backward()
    for i, (m_leaf, t_leaf) in enumerate(leaves):
        assert_close(m_leaf.grad, t_leaf.grad, msg=f"grad of input {i}")
    for (name, mp), (_, tp) in zip(mine.named_parameters(), ref.named_parameters()):
        assert_close(mp.grad, tp.grad, msg=f"grad of {name}")


CASES = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
    ("RNN", {"bidirectional": True, "batch_first": True, "bias": False}),
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"batch_first": True, "proj_size": 3}),
    ("LSTM", {"num_layers": 2, "proj_size": 2, "bidirectional": True, "bias": False}),
    ("GRU", {}),
    ("GRU", {"num_layers": 3, "batch_first": True}),
    ("GRU", {"bidirectional": True, "num_layers": 2}),
]


def _state_arrays(cls, kwargs, batch, hidden):
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    out = kwargs.get("proj_size", 0) or hidden
    shapes = [(layers, batch, out)] + ([(layers, batch, hidden)] if cls == "LSTM" else [])
    return [np.random.randn(*s) for s in shapes]


@pytest.mark.parametrize("cls,kwargs", CASES)
def test_recurrent_layers_match_torch(cls, kwargs):
    mine, ref = _pair(cls, 4, 5, **kwargs)
    steps, batch = 6, 3
    shape = (batch, steps, 4) if kwargs.get("batch_first") else (steps, batch, 4)
    _compare_run(mine, ref, np.random.randn(*shape))
    mine.zero_grad()
    ref.zero_grad()
    _compare_run(mine, ref, np.random.randn(*shape), _state_arrays(cls, kwargs, batch, 5))


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_unbatched_input(cls):
    mine, ref = _pair(cls, 3, 4, num_layers=2)
    _compare_run(mine, ref, np.random.randn(5, 3))
    states = [s[:, 0] for s in _state_arrays(cls, {"num_layers": 2}, 1, 4)]
    _compare_run(mine, ref, np.random.randn(5, 3), states)


@pytest.mark.parametrize("cls,kwargs", [("LSTM", {"bidirectional": True, "num_layers": 2}),
                                        ("GRU", {"batch_first": True}), ("RNN", {"bidirectional": True})])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_sequences_match_torch(cls, kwargs, enforce_sorted):
    mine, ref = _pair(cls, 3, 4, **kwargs)
    batch_first = kwargs.get("batch_first", False)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    x = np.random.randn(4, 5, 3) if batch_first else np.random.randn(5, 4, 3)
    mx, tx = _leaf(x)
    m_packed = pack_padded_sequence(mx, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=batch_first,
                                                       enforce_sorted=enforce_sorted)
    assert_close(m_packed.data, t_packed.data)
    assert m_packed.batch_sizes.tolist() == t_packed.batch_sizes.tolist()
    hx = _state_arrays(cls, kwargs, 4, 4)
    m_h = [mytorch.tensor(h, requires_grad=True) for h in hx]
    t_h = [torch.tensor(h, requires_grad=True) for h in hx]
    m_out, m_state = mine(m_packed, tuple(m_h) if cls == "LSTM" else m_h[0])
    t_out, t_state = ref(t_packed, tuple(t_h) if cls == "LSTM" else t_h[0])
    assert_close(m_out.data, t_out.data, msg="packed output")
    assert_close(_flat(m_state), _flat(t_state), msg="final states")
    m_pad, m_len = pad_packed_sequence(m_out, batch_first=batch_first, padding_value=-1.0, total_length=6)
    t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=batch_first, padding_value=-1.0,
                                                          total_length=6)
    assert_close(m_pad, t_pad, msg="padded output")
    assert m_len.tolist() == t_len.tolist() and m_len.dtype == mytorch.int64
    w = np.random.randn(*t_pad.shape)
    ((m_pad * mytorch.tensor(w)).sum() + sum(s.sum() for s in _flat(m_state))).backward()
    ((t_pad * torch.tensor(w)).sum() + sum(s.sum() for s in _flat(t_state))).backward()
    assert_close(mx.grad, tx.grad, msg="input grad")
    for m, t in zip(m_h, t_h):
        assert_close(m.grad, t.grad, msg="hx grad")
    for (name, mp), (_, tp) in zip(mine.named_parameters(), ref.named_parameters()):
        assert_close(mp.grad, tp.grad, msg=name)


def test_pad_sequence_and_pack_sequence():
    arrays = [np.random.randn(n, 2) for n in (2, 4, 1)]
    mine = [mytorch.tensor(a) for a in arrays]
    ref = [torch.tensor(a) for a in arrays]
    for kwargs in ({}, {"batch_first": True, "padding_value": 7.0}, {"padding_side": "left"}):
        assert_close(pad_sequence(mine, **kwargs), torch.nn.utils.rnn.pad_sequence(ref, **kwargs))
    m_packed = pack_sequence(mine, enforce_sorted=False)
    t_packed = torch.nn.utils.rnn.pack_sequence(ref, enforce_sorted=False)
    assert_close(m_packed.data, t_packed.data)
    assert m_packed.sorted_indices.tolist() == t_packed.sorted_indices.tolist()
    assert m_packed.unsorted_indices.tolist() == t_packed.unsorted_indices.tolist()
    for m, t in zip(nn.utils.rnn.unpack_sequence(m_packed), torch.nn.utils.rnn.unpack_sequence(t_packed)):
        assert_close(m, t)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_padded_sequence(mytorch.zeros(3, 2, 1), [1, 3])


@pytest.mark.parametrize("cls,kwargs", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu", "bias": False}),
                                        ("LSTMCell", {}), ("GRUCell", {}), ("GRUCell", {"bias": False})])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(cls, kwargs, batched):
    mine, ref = _pair(cls, 3, 4, **kwargs)
    shape = (2,) if batched else ()
    x = np.random.randn(*shape, 3)
    n_states = 2 if cls == "LSTMCell" else 1
    for hx in (None, [np.random.randn(*shape, 4) for _ in range(n_states)]):
        mx, tx = _leaf(x)
        pairs = [_leaf(h) for h in hx] if hx is not None else []
        pack = (lambda hs: tuple(hs) if n_states == 2 else hs[0]) if hx is not None else (lambda hs: None)
        m_out = _flat(mine(mx, pack([p[0] for p in pairs])))
        t_out = _flat(ref(tx, pack([p[1] for p in pairs])))
        assert_close(m_out, t_out)
        sum((o * (i + 1)).sum() for i, o in enumerate(m_out)).backward()
        sum((o * (i + 1)).sum() for i, o in enumerate(t_out)).backward()
        assert_close(mx.grad, tx.grad)
        for m_leaf, t_leaf in pairs:
            assert_close(m_leaf.grad, t_leaf.grad)
        for (name, mp), (_, tp) in zip(mine.named_parameters(), ref.named_parameters()):
            assert_close(mp.grad, tp.grad, msg=name)


def test_init_range_repr_and_dropout():
    lstm = nn.LSTM(10, 20, num_layers=2, batch_first=True, dropout=0.5)
    assert repr(lstm) == repr(torch.nn.LSTM(10, 20, num_layers=2, batch_first=True, dropout=0.5))
    assert repr(nn.GRUCell(3, 4, bias=False)) == repr(torch.nn.GRUCell(3, 4, bias=False))
    bound = 1 / np.sqrt(20)
    for p in lstm.parameters():
        values = p.detach().numpy()
        assert values.min() >= -bound and values.max() <= bound and values.std() > bound / 3
    x = mytorch.randn(2, 7, 10)
    lstm.eval()
    out_eval, _ = lstm(x)
    assert_close(lstm(x)[0], out_eval)
    lstm.train()
    out_train, _ = lstm(x)
    assert out_train.shape == (2, 7, 20) and not np.allclose(out_train.detach().numpy(), out_eval.detach().numpy())
    out_train.sum().backward()
    assert all(p.grad is not None for p in lstm.parameters())


def test_errors():
    gru = nn.GRU(4, 5, num_layers=2)
    with pytest.raises(RuntimeError, match="input_size. Expected 4, got 3"):
        gru(mytorch.zeros(2, 1, 3))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 1, 5\)"):
        gru(mytorch.zeros(2, 1, 4), mytorch.zeros(1, 1, 5))
    with pytest.raises(ValueError, match="2D or 3D"):
        gru(mytorch.zeros(1, 2, 1, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(2, 2, nonlinearity="gelu")
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(2, 2, proj_size=3)
    with pytest.raises(ValueError, match="dropout"):
        nn.LSTM(2, 2, dropout=1.5)


@pytest.mark.gpu
@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_cuda_matches_cpu(cls):
    cpu = getattr(nn, cls)(4, 6, num_layers=2, bidirectional=True)
    gpu = getattr(nn, cls)(4, 6, num_layers=2, bidirectional=True)
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    x = np.random.randn(5, 3, 4).astype(np.float32)
    x_cpu = mytorch.tensor(x, requires_grad=True)
    x_gpu = mytorch.tensor(x, device="cuda", requires_grad=True)
    out_cpu, _ = cpu(x_cpu)
    out_gpu, _ = gpu(x_gpu)
    assert out_gpu.device.type == "cuda"
    assert_close(out_gpu.cpu(), out_cpu, rtol=1e-4, atol=1e-5)
    out_cpu.sum().backward()
    out_gpu.sum().backward()
    assert_close(x_gpu.grad.cpu(), x_cpu.grad, rtol=1e-4, atol=1e-5)
    for (name, p_cpu), p_gpu in zip(cpu.named_parameters(), gpu.parameters()):
        assert_close(p_gpu.grad.cpu(), p_cpu.grad, rtol=1e-4, atol=1e-5, msg=name)
