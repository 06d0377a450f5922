"""GPTConfig and presets, GPT-2's initialization, num_params, configure_optimizers, estimate_mfu, the position
modules, and mytorch / Hugging Face checkpoint loading paths."""
import json
import math
import os

import numpy as np
import pytest
import torch

import mytorch
import mytorch.nn.functional as F
from mytorch import serialization
from mytorch.models import GPT, PRESETS, GPTConfig
from mytorch.models.layers import ALiBi, CausalSelfAttention, SinusoidalPositions, alibi_slopes

from .util import TINY, tiny_model, tokens


def test_config_defaults_presets_and_validation():
    c = GPTConfig()
    assert (c.vocab_size, c.context_length, c.n_layer, c.n_head, c.n_embd, c.n_kv_heads, c.mlp_hidden) == \
        (50304, 1024, 12, 12, 768, 12, 3072)
    assert {"gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "tiny", "small", "llama-tiny"} <= set(PRESETS)
    tiny = GPTConfig.preset("tiny", vocab_size=80)
    assert (tiny.n_layer, tiny.n_head, tiny.n_embd, tiny.context_length, tiny.vocab_size) == (4, 4, 128, 64, 80)
    llama = GPTConfig.preset("llama-tiny")
    assert (llama.pos_encoding, llama.norm, llama.mlp, llama.bias, llama.n_kv_heads) == \
        ("rope", "rmsnorm", "swiglu", False, 2)
    assert llama.mlp_hidden == 384  # 8/3 * 128 rounded up to a multiple of 64
    assert GPTConfig.from_dict({**llama.to_dict(), "model_type": "mytorch-gpt"}) == llama
    json.dumps(llama.to_dict())
    with pytest.raises(ValueError, match="unknown GPT preset"):
        GPTConfig.preset("gpt3")
    with pytest.raises(ValueError, match="pos_encoding"):
        GPTConfig(pos_encoding="xpos")
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=100, n_head=12)
    with pytest.raises(ValueError, match="n_kv_heads"):
        GPTConfig(n_head=12, n_kv_heads=5)


@pytest.mark.parametrize("name", ["gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"])
def test_gpt2_presets_have_openai_sizes(name):
    import transformers

    c = GPTConfig.preset(name)
    sizes = {"gpt2": (12, 12, 768), "gpt2-medium": (24, 16, 1024), "gpt2-large": (36, 20, 1280),
             "gpt2-xl": (48, 25, 1600)}[name]
    with torch.device("meta"):  # count transformers' parameters without allocating them
        hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=sizes[0], n_head=sizes[1],
                                                                  n_embd=sizes[2]))
    assert (c.n_layer, c.n_head, c.n_embd, c.vocab_size, c.context_length) == sizes + (50257, 1024)
    assert hf.num_parameters() == _gpt2_count(c)


def _gpt2_count(c):
    per_layer = 4 * c.n_embd + (3 * c.n_embd * c.n_embd + 3 * c.n_embd) + (c.n_embd * c.n_embd + c.n_embd) + \
        (4 * c.n_embd * c.n_embd + 4 * c.n_embd) + (4 * c.n_embd * c.n_embd + c.n_embd)
    return (c.vocab_size + c.context_length) * c.n_embd + c.n_layer * per_layer + 2 * c.n_embd


@pytest.mark.slow
def test_gpt2_preset_builds_124m_model():
    model = GPT(GPTConfig.preset("gpt2"))
    assert model.num_params(non_embedding=False) == _gpt2_count(model.config) == 124_439_808
    assert model.num_params() == 124_439_808 - 1024 * 768  # minus the position table


def test_gpt2_initialization_and_weight_tying():
    mytorch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=512, context_length=64, n_layer=4, n_head=4, n_embd=128))
    assert model.lm_head.weight is model.transformer.wte.weight
    params = dict(model.named_parameters())
    assert "lm_head.weight" not in params  # tied: counted once
    for name, p in params.items():
        a = p.detach().numpy()
        if name.endswith("c_proj.weight"):
            assert abs(a.std() - 0.02 / math.sqrt(2 * 4)) < 1e-3, name
        elif p.dim() == 2:
            assert abs(a.std() - 0.02) < 1e-3 and abs(a.mean()) < 1e-3, name
        elif name.endswith("bias"):
            assert not a.any(), name
        else:
            assert (a == 1).all(), name  # LayerNorm gains
    untied = GPT(GPTConfig(**{**TINY, "tie_weights": False}))
    assert untied.lm_head.weight is not untied.transformer.wte.weight
    assert untied.num_params() == untied.num_params(False) - 100 * 32 - 16 * 32


def test_configure_optimizers_decays_only_matrices():
    model = tiny_model(norm="rmsnorm")
    opt = model.configure_optimizers(weight_decay=0.1, learning_rate=3e-4, betas=(0.9, 0.95))
    assert isinstance(opt, mytorch.optim.AdamW)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    ids = [id(p) for g in opt.param_groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert decay["lr"] == 3e-4 and decay["betas"] == (0.9, 0.95)
    _, loss = model(tokens(2, 8), tokens(2, 8, seed=1))
    loss.backward()
    opt.step()  # runs


def test_estimate_mfu():
    model = tiny_model()
    c = model.config
    per_token = 6 * model.num_params() + 12 * c.n_layer * c.n_head * c.head_dim * c.context_length
    assert model.estimate_mfu(1000.0, device=1e12) == pytest.approx(per_token * 1000.0 / 1e12)
    assert model.estimate_mfu(1000.0, "NVIDIA H100 80GB HBM3") == pytest.approx(per_token * 1000.0 / 989e12)
    assert model.estimate_mfu(1000.0, "A100") == pytest.approx(per_token * 1000.0 / 312e12)
    assert model.estimate_mfu(1000.0) is None and model.estimate_mfu(1.0, "cpu") is None  # CPU: no peak
    assert model.estimate_mfu(1.0, "NVIDIA L40S") == pytest.approx(per_token / 362e12)
    with pytest.warns(UserWarning, match="no peak flops known for 'Imaginary GPU'"):
        assert model.estimate_mfu(1.0, "Imaginary GPU") == pytest.approx(per_token / 312e12)
    windowed = tiny_model(sliding_window=4)
    assert windowed.estimate_mfu(1.0, 1.0) == 6 * windowed.num_params() + 12 * 2 * 4 * 8 * 4


def test_sinusoidal_table_and_alibi_slopes():
    table = SinusoidalPositions(10, 6).table.numpy()
    pos, i = np.arange(10)[:, None], np.arange(0, 6, 2)[None, :]
    np.testing.assert_allclose(table[:, 0::2], np.sin(pos / 10000 ** (i / 6)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(table[:, 1::2], np.cos(pos / 10000 ** (i / 6)), rtol=1e-5, atol=1e-6)
    assert alibi_slopes(8) == [2.0 ** -k for k in range(1, 9)]
    assert alibi_slopes(12) == [2.0 ** -k for k in range(1, 9)] + [2.0 ** -(k + 0.5) for k in range(4)]


def test_alibi_attention_matches_torch():
    # one attention layer against torch SDPA with the bias -slope * (i - j) and a causal -inf mask
    config = GPTConfig(**{**TINY, "pos_encoding": "alibi"})
    attn = CausalSelfAttention(config, alibi=ALiBi(config.n_head)).eval()
    x = np.random.default_rng(0).standard_normal((2, 6, 32)).astype(np.float32)
    mine = attn(mytorch.tensor(x)).detach().numpy()
    w, b = torch.tensor(attn.c_attn.weight.detach().numpy()), torch.tensor(attn.c_attn.bias.detach().numpy())
    q, k, v = (torch.tensor(x) @ w.T + b).split(32, dim=2)
    q, k, v = (t.view(2, 6, 4, 8).transpose(1, 2) for t in (q, k, v))
    slopes = torch.tensor(alibi_slopes(4))[:, None, None]
    dist = torch.arange(6)[:, None] - torch.arange(6)[None, :]
    bias = (-slopes * dist).masked_fill(dist < 0, float("-inf"))
    y = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    ref = y.transpose(1, 2).reshape(2, 6, 32) @ torch.tensor(attn.c_proj.weight.detach().numpy()).T + \
        torch.tensor(attn.c_proj.bias.detach().numpy())
    np.testing.assert_allclose(mine, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_save_and_load_mytorch_dir(tmp_path):
    model = tiny_model(pos_encoding="rope", n_kv_heads=2, mlp="swiglu")
    model.save_pretrained(str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "mytorch-gpt" and config["pos_encoding"] == "rope"
    assert "lm_head.weight" not in serialization.load_file(str(tmp_path / "model.safetensors"))  # tied: once
    loaded = GPT.from_pretrained(str(tmp_path), dropout=0.1)
    assert loaded.config.dropout == 0.1 and not loaded.training
    assert loaded.lm_head.weight is loaded.transformer.wte.weight
    idx = tokens(2, 9)
    np.testing.assert_array_equal(loaded(idx)[0].detach().numpy(), model(idx)[0].detach().numpy())


def test_load_training_checkpoint_layout(tmp_path):
    # a training checkpoint: the full state_dict (tied weight under both names) + config.json + other files
    model = tiny_model()
    serialization.save_file(model.state_dict(), str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mytorch-gpt", **model.config.to_dict()}))
    (tmp_path / "meta.json").write_text(json.dumps({"tokenizer": "char"}))
    loaded = GPT.from_pretrained(str(tmp_path))
    idx = tokens(1, 7)
    np.testing.assert_array_equal(loaded(idx)[0].detach().numpy(), model(idx)[0].detach().numpy())


def test_bad_checkpoints_raise_clear_errors(tmp_path):
    model = tiny_model()
    model.save_pretrained(str(tmp_path))
    state = serialization.load_file(str(tmp_path / "model.safetensors"))
    state["transformer.h.0.attn.c_attn.weight"] = state["transformer.h.0.attn.c_attn.weight"][:, :8]
    serialization.save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(RuntimeError, match=r"c_attn.weight has shape \[96, 8\]"):
        GPT.from_pretrained(str(tmp_path))
    del state["transformer.ln_f.weight"]
    serialization.save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(RuntimeError, match="missing.*ln_f.weight"):
        GPT.from_pretrained(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="'bert' is not supported"):
        GPT.from_pretrained(str(tmp_path))
    os.remove(tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mytorch-gpt", **model.config.to_dict()}))
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        GPT.from_pretrained(str(tmp_path))


def test_hub_names_resolve_through_the_local_cache(tmp_path):
    with pytest.raises(FileNotFoundError, match="hf download no-such-org/gpt2-nothing config.json model.safetensors"):
        GPT.from_pretrained("no-such-org/gpt2-nothing", cache_dir=str(tmp_path))
    # lay out a hub cache entry the way huggingface_hub stores one: refs/main -> snapshots/<commit>/
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "models--tiny-org--tiny-gpt" / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (tmp_path / "models--tiny-org--tiny-gpt" / "refs").mkdir()
    (tmp_path / "models--tiny-org--tiny-gpt" / "refs" / "main").write_text(commit)
    model = tiny_model()
    model.save_pretrained(str(snapshot))
    loaded = GPT.from_pretrained("tiny-org/tiny-gpt", cache_dir=str(tmp_path))
    idx = tokens(1, 5)
    np.testing.assert_array_equal(loaded(idx)[0].detach().numpy(), model(idx)[0].detach().numpy())


def test_forward_shapes_loss_and_errors():
    model = tiny_model()
    idx, targets = tokens(3, 16), tokens(3, 16, seed=1)
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 16, 100) and loss.ndim == 0
    ref = F.cross_entropy(logits.reshape(-1, 100), targets.reshape(-1))
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    assert model(idx)[1] is None
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(idx[0])
    with pytest.raises(ValueError, match="context_length 16"):
        model(tokens(1, 17))
    long = tiny_model(pos_encoding="rope")(tokens(1, 40))[0]  # relative encodings: longer inputs are fine
    assert long.shape == (1, 40, 100)
