"""Small PyTorch APIs real scripts touch: randint overloads, formatting, backend flags, accelerator,
onnx, compile, lazy samplers, whole-module save, safe_globals, activation checkpointing, pinning."""
import io
import itertools
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import mytorch
import mytorch.nn as nn
from mytorch.utils.checkpoint import checkpoint, checkpoint_sequential
from mytorch.utils.data import DataLoader, RandomSampler, TensorDataset

from .helpers import assert_close


@pytest.mark.parametrize("args,kwargs,shape,low,high", [
    ((10, (3,)), {}, (3,), 0, 10),
    ((2, 5, (2, 4)), {}, (2, 4), 2, 5),
    ((), {"high": 4, "size": (6,)}, (6,), 0, 4),
    ((3,), {"size": (2, 2)}, (2, 2), 0, 3),
    ((), {"low": -3, "high": 0, "size": [5]}, (5,), -3, 0),
])
def test_randint_overloads(args, kwargs, shape, low, high):
    ref = torch.randint(*args, **kwargs)
    out = mytorch.randint(*args, **kwargs)
    assert tuple(out.shape) == tuple(ref.shape) == shape and out.dtype == mytorch.int64
    values = out.numpy()
    assert values.min() >= low and values.max() < high
    assert mytorch.randint(7, (2,), dtype=mytorch.int32).dtype == mytorch.int32


def test_randint_errors():
    with pytest.raises(TypeError):
        mytorch.randint(5)
    with pytest.raises(RuntimeError):
        mytorch.randint(5, 5, (2,))


@pytest.mark.parametrize("value,spec", [(1.234567, ".4f"), (3.0, ""), (2.5, "8.2e"), (7, "d"), (7, ">5"),
                                        (True, ""), (0.1, ".2%")])
def test_format_zero_dim_like_torch(value, spec):
    assert format(mytorch.tensor(value), spec) == format(torch.tensor(value), spec)


def test_format_nd():
    t, r = mytorch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])
    assert f"{t}" == str(t)
    with pytest.raises(TypeError):
        format(t, ".2f")
    with pytest.raises(TypeError):
        format(r, ".2f")
    loss = (mytorch.tensor([1.5, 2.5], requires_grad=True) ** 2).mean()
    assert f"loss {loss:.4f}" == "loss 4.2500"


def test_backend_flags_match_torch_defaults():
    import mytorch.backends.cudnn as cudnn  # a module path, as in pytorch/examples

    assert cudnn is mytorch.backends.cudnn
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(cudnn, name) == getattr(torch.backends.cudnn, name), name
    assert mytorch.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32 is False
    assert mytorch.backends.mps.is_available() is False
    assert mytorch.backends.fused.enabled is False  # the fused flags live on beside them
    with cudnn.flags(enabled=False, deterministic=True):
        assert cudnn.enabled is False and cudnn.deterministic is True
    assert cudnn.enabled is True and cudnn.deterministic is False
    old = mytorch.backends.cuda.matmul.allow_tf32
    try:
        mytorch.backends.cuda.matmul.allow_tf32 = True
        from mytorch.kernels import linear  # noqa: F401  (the kernels read the same object)

        assert mytorch.backends.cuda.matmul.allow_tf32 is True
    finally:
        mytorch.backends.cuda.matmul.allow_tf32 = old


def test_accelerator():
    acc = mytorch.accelerator
    assert acc.is_available() == mytorch.cuda.is_available()
    assert acc.device_count() == mytorch.cuda.device_count()
    current = acc.current_accelerator()
    if mytorch.cuda.is_available():
        assert current == mytorch.device("cuda")
    else:
        assert current is None
        with pytest.raises(RuntimeError, match="no accelerator"):
            acc.current_device_index()


def test_onnx_import_and_clear_export_error():
    import mytorch.onnx

    with pytest.raises(RuntimeError, match="state_dict"):
        mytorch.onnx.export(nn.Linear(2, 2), (mytorch.randn(1, 2),), "model.onnx")


def test_compile_is_eager():
    model = nn.Linear(3, 2)
    compiled = mytorch.compile(model, mode="max-autotune", fullgraph=True, dynamic=False)
    assert compiled is model and list(compiled.state_dict()) == ["weight", "bias"]

    @mytorch.compile(backend="eager")
    def double(x):
        return x * 2

    assert double(mytorch.tensor(2.0)).item() == 4.0
    assert mytorch.compile(double, backend=lambda gm, inputs: gm) is double
    with pytest.raises(RuntimeError, match="Unrecognized mode"):
        mytorch.compile(model, mode="fastest")
    with pytest.raises(RuntimeError, match="both"):
        mytorch.compile(model, mode="default", options={})


def test_random_sampler_huge_num_samples_is_lazy():
    sampler = RandomSampler(range(10), replacement=True, num_samples=10 ** 10)
    assert len(sampler) == 10 ** 10
    first = list(itertools.islice(iter(sampler), 100))  # would need 80 GB if drawn up front
    assert len(first) == 100 and 0 <= min(first) and max(first) < 10 and len(set(first)) > 3
    loader = DataLoader(TensorDataset(mytorch.arange(10.0)), sampler=sampler, batch_size=4)
    (batch,) = next(iter(loader))
    assert batch.shape == (4,)
    exact = RandomSampler(range(5), replacement=True, num_samples=70)
    assert len(list(exact)) == 70
    gen = mytorch.Generator().manual_seed(3)
    a = list(RandomSampler(range(5), replacement=True, num_samples=50, generator=gen))
    gen.manual_seed(3)
    assert a == list(RandomSampler(range(5), replacement=True, num_samples=50, generator=gen))


def test_save_whole_module_points_to_state_dict():
    model = nn.Sequential(nn.Linear(2, 2))
    for obj in (model, {"model": model, "step": 3}):
        with pytest.raises(TypeError, match=r"state_dict\(\)") as info:
            mytorch.save(obj, io.BytesIO())
        assert "Sequential" in str(info.value)
    buf = io.BytesIO()
    mytorch.save(model.state_dict(), buf)
    buf.seek(0)
    assert set(mytorch.load(buf)) == {"0.weight", "0.bias"}


def test_safe_globals_accepted():
    ser = mytorch.serialization
    ser.clear_safe_globals()
    ser.add_safe_globals([np.dtype])
    with ser.safe_globals([dict]):
        assert ser.get_safe_globals() == [np.dtype, dict]
        buf = io.BytesIO()
        mytorch.save({"x": mytorch.ones(2)}, buf)
        buf.seek(0)
        assert mytorch.load(buf, weights_only=True)["x"].tolist() == [1.0, 1.0]
    assert ser.get_safe_globals() == [np.dtype]
    ser.clear_safe_globals()


def _grads(module):
    return [p.grad for p in module.parameters()]


def test_checkpoint_matches_plain_backward_with_dropout():
    net = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.3), nn.GELU(), nn.Linear(16, 3))
    x = mytorch.randn(5, 4, requires_grad=True)
    state = mytorch.get_rng_state()
    out = checkpoint(net, x, use_reentrant=False)
    assert "Checkpoint" in type(out.grad_fn).__name__
    (out ** 2).sum().backward()
    ck_grads, ck_x = [g.clone() for g in _grads(net)], x.grad.clone()
    net.zero_grad()
    x.grad = None
    mytorch.set_rng_state(state)  # same dropout mask as the checkpointed first run
    ref = net(x)
    (ref ** 2).sum().backward()
    assert_close(out, ref)
    assert_close(ck_x, x.grad)
    for mine, plain in zip(ck_grads, _grads(net)):
        assert_close(mine, plain)


def test_checkpoint_against_torch_and_kwargs():
    w = np.random.randn(3, 3)
    x = np.random.randn(2, 3)

    def block(lib, h, weight, scale=1.0):
        return lib.tanh(h @ weight) * scale

    mw, mx = mytorch.tensor(w, requires_grad=True), mytorch.tensor(x, requires_grad=True)
    tw, tx = torch.tensor(w, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = checkpoint(block, mytorch, mx, mw, use_reentrant=False, scale=2.0)
    ref = torch.utils.checkpoint.checkpoint(block, torch, tx, tw, use_reentrant=False, scale=2.0)
    out.sum().backward()
    ref.sum().backward()
    assert_close(out, ref)
    assert_close(mx.grad, tx.grad)
    assert_close(mw.grad, tw.grad)
    with mytorch.no_grad():
        assert checkpoint(block, mytorch, mx, mw, use_reentrant=False).grad_fn is None


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpoint_input_without_grad(use_reentrant):
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x = mytorch.randn(2, 3)  # only the parameters need gradients
    if use_reentrant:  # PyTorch's reentrant flavour records nothing here, and says so
        with pytest.warns(UserWarning, match="None of the inputs"):
            assert checkpoint(net, x, use_reentrant=True).grad_fn is None
        return
    checkpoint(net, x, use_reentrant=False).sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    net(x).sum().backward()
    for mine, plain in zip(grads, net.parameters()):
        assert_close(mine, plain.grad)


def test_checkpoint_sequential():
    net = nn.Sequential(*[nn.Linear(4, 4) for _ in range(5)])
    x = mytorch.randn(2, 4, requires_grad=True)
    out = checkpoint_sequential(net, 2, x, use_reentrant=False)
    assert_close(out, net(x))
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_pin_memory():
    t = mytorch.arange(4.0)
    assert not t.is_pinned()
    pinned = t.pin_memory()
    assert pinned.is_pinned() and pinned.tolist() == t.tolist() and pinned.pin_memory() is pinned
    assert not t.is_pinned()


def test_torch_alias_imports_are_mytorch():
    """`sys.modules["torch"] = mytorch` then `import torch.x.y` gives mytorch's own modules, not copies."""
    code = textwrap.dedent("""
        import sys, mytorch
        sys.modules["torch"] = mytorch
        import torch.nn as nn, torch.nn.functional as F, torch.backends.cudnn as cudnn, torch.onnx
        from torch.utils.data import DataLoader
        from torch.cuda.amp import GradScaler
        import torch.utils.checkpoint
        assert nn is mytorch.nn and F is mytorch.nn.functional and cudnn is mytorch.backends.cudnn
        assert type(nn.Linear(2, 2)(torch.randn(1, 2))) is mytorch.Tensor
        copies = [n for n in sys.modules if n.startswith("torch.") and sys.modules[n] is not
                  sys.modules["mytorch." + n[6:]]]
        assert not copies, copies
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


MODULE_PATHS = {
    "dropout": ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"],
    "sparse": ["Embedding", "EmbeddingBag"], "rnn": ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "RNNBase"],
    "transformer": ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
                    "TransformerDecoderLayer"],
    "linear": ["Identity", "Linear", "Bilinear"], "conv": ["Conv1d", "Conv2d", "ConvTranspose2d"],
    "activation": ["ReLU", "GELU", "Softmax", "MultiheadAttention"], "loss": ["CrossEntropyLoss", "MSELoss", "NLLLoss"],
    "normalization": ["LayerNorm", "GroupNorm", "RMSNorm"], "pooling": ["MaxPool2d", "AdaptiveAvgPool2d"],
    "container": ["Sequential", "ModuleList", "ModuleDict"], "module": ["Module"],
    "batchnorm": ["BatchNorm1d", "BatchNorm2d"], "instancenorm": ["InstanceNorm2d"], "padding": ["ZeroPad2d"],
    "pixelshuffle": ["PixelShuffle"], "fold": ["Fold", "Unfold"], "flatten": ["Flatten", "Unflatten"],
    "distance": ["PairwiseDistance", "CosineSimilarity"], "channelshuffle": ["ChannelShuffle"],
    "upsampling": ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"],
}


@pytest.mark.parametrize("path", sorted(MODULE_PATHS))
def test_nn_modules_paths(path):
    import importlib

    mine = importlib.import_module(f"mytorch.nn.modules.{path}")
    ref = importlib.import_module(f"torch.nn.modules.{path}")
    for name in MODULE_PATHS[path]:
        assert hasattr(ref, name), f"torch.nn.modules.{path} has no {name}: the table is wrong"
        assert getattr(mine, name) is getattr(mytorch.nn, name), f"mytorch.nn.modules.{path}.{name}"


def test_nn_modules_utils():
    from mytorch.nn.modules.utils import _pair, _single, _triple, consume_prefix_in_state_dict_if_present
    from torch.nn.modules import utils as ref

    for value in (3, (1, 2), [4, 5, 6]):
        assert _pair(value) == ref._pair(value) and _single(value) == ref._single(value)
        assert _triple(value) == ref._triple(value)
    state = {"module.w": 1, "module.b": 2, "other": 3}
    consume_prefix_in_state_dict_if_present(state, "module.")
    assert state == {"w": 1, "b": 2, "other": 3}


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("layout", ["offsets", "last_offset", "2d", "weights"])
def test_embedding_bag_matches_torch(mode, padding_idx, layout):
    if layout == "weights" and mode != "sum":
        pytest.skip("per_sample_weights exist for mode='sum' only (the error is tested below)")
    ref = torch.nn.EmbeddingBag(10, 3, mode=mode, padding_idx=padding_idx,
                                include_last_offset=layout == "last_offset").double()
    mine = nn.EmbeddingBag(10, 3, mode=mode, padding_idx=padding_idx,
                           include_last_offset=layout == "last_offset").double()
    mine.load_state_dict({"weight": mytorch.tensor(ref.weight.detach().numpy())})
    assert repr(mine) == repr(ref)
    indices = [1, 2, 4, 5, 4, 3, 2, 9]
    args = {"offsets": ([0, 0, 2, 5],), "last_offset": ([0, 3, 3, 8],), "2d": (), "weights": ([0, 2, 2, 6],)}[layout]
    m_args = [mytorch.tensor(indices if layout != "2d" else [indices[:4], indices[4:]])]
    t_args = [torch.tensor(indices if layout != "2d" else [indices[:4], indices[4:]])]
    m_args += [mytorch.tensor(a) for a in args]
    t_args += [torch.tensor(a) for a in args]
    m_kw, t_kw = {}, {}
    if layout == "weights":
        w = np.random.rand(len(indices))
        m_kw["per_sample_weights"] = mytorch.tensor(w, requires_grad=True)
        t_kw["per_sample_weights"] = torch.tensor(w, requires_grad=True)
    m_out, t_out = mine(*m_args, **m_kw), ref(*t_args, **t_kw)
    assert_close(m_out, t_out)
    (m_out ** 2).sum().backward()
    (t_out ** 2).sum().backward()
    assert_close(mine.weight.grad, ref.weight.grad)
    if layout == "weights":
        assert_close(m_kw["per_sample_weights"].grad, t_kw["per_sample_weights"].grad)


def test_embedding_bag_errors_and_pretrained():
    bag = nn.EmbeddingBag.from_pretrained(mytorch.eye(4), mode="sum")
    assert not bag.weight.requires_grad
    assert bag(mytorch.tensor([[0, 1], [2, 2]])).tolist() == [[1, 1, 0, 0], [0, 0, 2, 0]]
    with pytest.raises(ValueError, match="offsets has to be None"):
        bag(mytorch.tensor([[0, 1]]), mytorch.tensor([0]))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor"):
        bag(mytorch.tensor([0, 1]))
    with pytest.raises(NotImplementedError, match="per_sample_weights"):  # PyTorch's error for mean/max
        nn.EmbeddingBag(4, 2)(mytorch.tensor([[0, 1]]), per_sample_weights=mytorch.ones(1, 2))
    from mytorch.nn.modules.sparse import EmbeddingBag
    assert EmbeddingBag is nn.EmbeddingBag


@pytest.mark.parametrize("shape,groups", [((2, 6, 3, 3), 3), ((1, 4, 5), 2), ((2, 8, 1, 2, 2), 4)])
def test_channel_shuffle_matches_torch(shape, groups):
    x = np.random.randn(*shape)
    mx, tx = mytorch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = nn.ChannelShuffle(groups)(mx), torch.nn.ChannelShuffle(groups)(tx)
    assert_close(out, ref)
    w = np.random.randn(*shape)
    (out * mytorch.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    assert_close(mx.grad, tx.grad)
    assert repr(nn.ChannelShuffle(groups)) == repr(torch.nn.ChannelShuffle(groups))
    with pytest.raises(RuntimeError, match="divisible"):
        nn.ChannelShuffle(5)(mx)
