"""GPT against transformers: GPT2LMHeadModel, LlamaForCausalLM and MistralForCausalLM built small and random,
saved with save_pretrained (safetensors), loaded with GPT.from_pretrained; logits, loss, gradients, greedy
generation compared."""
import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

import mytorch  # noqa: E402
from mytorch.models import GPT, GPTConfig  # noqa: E402

from .util import tokens  # noqa: E402

VOCAB = 100


def hf_gpt2(tie=True):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=VOCAB, n_positions=32, n_layer=2, n_head=2, n_embd=32,
                                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
                                  tie_word_embeddings=tie)
    return transformers.GPT2LMHeadModel(cfg).eval()


def hf_llama(tie=False, n_kv=2, cls="Llama", **extra):
    torch.manual_seed(0)
    config_cls = getattr(transformers, f"{cls}Config")
    cfg = config_cls(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=n_kv, max_position_embeddings=32,
                     rms_norm_eps=1e-5, tie_word_embeddings=tie, bos_token_id=0, eos_token_id=0,
                     attn_implementation="eager", **extra)
    model = getattr(transformers, f"{cls}ForCausalLM")(cfg).eval()
    with torch.no_grad():  # HF inits with std 0.02: make the weights large enough to matter
        for p in model.parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.2)
    return model


def load_both(hf_model, tmp_path):
    hf_model.save_pretrained(tmp_path, safe_serialization=True)
    return GPT.from_pretrained(str(tmp_path))


def logits_of(model, hf_model, idx):
    mine, _ = model(mytorch.tensor(idx))
    with torch.no_grad():
        ref = hf_model(torch.tensor(idx)).logits
    return mine.detach().numpy(), ref.numpy()


@pytest.mark.parametrize("tie", [True, False])
def test_gpt2_logits(tmp_path, tie):
    hf = hf_gpt2(tie)
    model = load_both(hf, tmp_path)
    assert model.config.tie_weights is tie and model.config.pos_encoding == "learned"
    assert model.num_params(non_embedding=False) == hf.num_parameters()
    idx = tokens(2, 12).numpy()
    mine, ref = logits_of(model, hf, idx)
    assert np.abs(mine - ref).max() < 1e-4


@pytest.mark.parametrize("tie,n_kv", [(False, 2), (True, 4), (False, 1)])
def test_llama_logits(tmp_path, tie, n_kv):
    hf = hf_llama(tie, n_kv)
    model = load_both(hf, tmp_path)
    c = model.config
    assert (c.pos_encoding, c.norm, c.mlp, c.n_kv_heads, c.bias, c.tie_weights) == \
        ("rope", "rmsnorm", "swiglu", n_kv, False, tie)
    assert model.num_params(non_embedding=False) == hf.num_parameters()
    idx = tokens(2, 20).numpy()
    mine, ref = logits_of(model, hf, idx)
    assert np.abs(mine - ref).max() < 1e-4


def test_gpt2_original_openai_key_layout(tmp_path):
    # the hub's original gpt2 files: no "transformer." prefix, fp16-free but with attn.bias mask buffers
    from mytorch import serialization

    hf = hf_gpt2()
    hf.save_pretrained(tmp_path, safe_serialization=True)
    state = serialization.load_file(str(tmp_path / "model.safetensors"))
    state = {k.removeprefix("transformer."): v for k, v in state.items()}
    state["h.0.attn.bias"] = mytorch.ones(1, 1, 32, 32).tril()
    serialization.save_file(state, str(tmp_path / "model.safetensors"))
    model = GPT.from_pretrained(str(tmp_path))
    mine, ref = logits_of(model, hf, tokens(1, 9).numpy())
    assert np.abs(mine - ref).max() < 1e-4


@pytest.mark.parametrize("rope", [dict(rope_type="linear", factor=4.0),
                                  dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                       original_max_position_embeddings=16)])
def test_llama_rope_scaling_logits(tmp_path, rope):
    hf = hf_llama(False, 2, rope_parameters={"rope_theta": 10000.0, **rope})
    model = load_both(hf, tmp_path)
    assert model.config.rope_scaling["rope_type"] == rope["rope_type"]
    idx = tokens(1, 24).numpy()
    mine, ref = logits_of(model, hf, idx)
    assert np.abs(mine - ref).max() < 1e-4
    plain = GPT.from_pretrained(str(tmp_path), rope_scaling=None)  # the scaling changes the numbers
    assert np.abs(plain(mytorch.tensor(idx))[0].detach().numpy() - ref).max() > 1e-3


def test_mistral_sliding_window_logits(tmp_path):
    hf = hf_llama(False, 2, cls="Mistral", sliding_window=4)
    model = load_both(hf, tmp_path)
    assert model.config.sliding_window == 4
    idx = tokens(1, 14).numpy()
    mine, ref = logits_of(model, hf, idx)
    assert np.abs(mine - ref).max() < 1e-4
    model.config.sliding_window = None  # the window matters: without it the logits differ
    for block in model.transformer.h:
        block.attn.window = None
    assert np.abs(model(mytorch.tensor(idx))[0].detach().numpy() - ref).max() > 1e-3


def _loss_and_grads(model, hf, idx):
    T = idx.shape[1]
    targets = np.concatenate([idx[:, 1:], np.full((idx.shape[0], 1), -1)], axis=1)  # -1: ignored
    model.zero_grad()
    _, loss = model(mytorch.tensor(idx), mytorch.tensor(targets))
    loss.backward()
    out = hf(torch.tensor(idx), labels=torch.tensor(idx))  # HF shifts the labels itself
    out.loss.backward()
    assert T > 1
    return loss.item(), out.loss.item()


def test_gpt2_loss_and_gradients(tmp_path):
    hf = hf_gpt2()
    model = load_both(hf, tmp_path)
    mine, ref = _loss_and_grads(model, hf, tokens(2, 12).numpy())
    assert abs(mine - ref) < 1e-5
    hp = dict(hf.named_parameters())
    mp = dict(model.named_parameters())
    pairs = [("transformer.wte.weight", False), ("transformer.wpe.weight", False),
             ("transformer.h.0.attn.c_attn.weight", True), ("transformer.h.1.mlp.c_proj.weight", True),
             ("transformer.h.0.ln_1.weight", False), ("transformer.h.1.attn.c_proj.bias", False),
             ("transformer.ln_f.bias", False)]
    for name, conv1d in pairs:
        ref_grad = hp[name].grad.numpy()
        np.testing.assert_allclose(mp[name].grad.numpy(), ref_grad.T if conv1d else ref_grad, rtol=1e-4, atol=1e-6,
                                   err_msg=name)


def test_llama_loss_and_gradients(tmp_path):
    hf = hf_llama(False, 2)
    model = load_both(hf, tmp_path)
    mine, ref = _loss_and_grads(model, hf, tokens(2, 12).numpy())
    assert abs(mine - ref) < 1e-5
    hp = {k: v.grad.numpy() for k, v in hf.named_parameters()}
    mp = {k: v.grad.numpy() for k, v in model.named_parameters()}
    qkv = mp["transformer.h.0.attn.c_attn.weight"]
    ref_qkv = np.concatenate([hp[f"model.layers.0.self_attn.{p}_proj.weight"] for p in "qkv"])
    pairs = [(qkv, ref_qkv), (mp["transformer.h.1.mlp.c_gate.weight"], hp["model.layers.1.mlp.gate_proj.weight"]),
             (mp["transformer.h.1.mlp.c_fc.weight"], hp["model.layers.1.mlp.up_proj.weight"]),
             (mp["transformer.h.0.ln_2.weight"], hp["model.layers.0.post_attention_layernorm.weight"]),
             (mp["transformer.wte.weight"], hp["model.embed_tokens.weight"]),
             (mp["lm_head.weight"], hp["lm_head.weight"])]
    for i, (g, ref_g) in enumerate(pairs):
        np.testing.assert_allclose(g, ref_g, rtol=1e-4, atol=1e-5, err_msg=str(i))


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_greedy_generation_matches_transformers(tmp_path, family):
    hf = hf_gpt2() if family == "gpt2" else hf_llama()
    model = load_both(hf, tmp_path)
    idx = tokens(1, 6).numpy()
    with torch.no_grad():
        ref = hf.generate(torch.tensor(idx), max_new_tokens=10, do_sample=False, eos_token_id=None,
                          pad_token_id=0).numpy()
    mine = model.generate(mytorch.tensor(idx), 10, temperature=0).numpy()
    np.testing.assert_array_equal(mine, ref)


def test_presets_are_the_transformers_architectures(tmp_path):
    from mytorch.models.pretrained import _gpt2_config

    # OpenAI's GPT-2 sizes map onto our presets exactly
    for name, (layers, heads, width) in {"gpt2": (12, 12, 768), "gpt2-xl": (48, 25, 1600)}.items():
        hf_config = transformers.GPT2Config(n_layer=layers, n_head=heads, n_embd=width).to_dict()
        assert _gpt2_config(hf_config, name) == GPTConfig.preset(name)
    # a LlamaForCausalLM with llama-tiny's sizes loads as exactly the llama-tiny preset, and trains alike
    preset = GPTConfig.preset("llama-tiny")
    torch.manual_seed(0)
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=preset.vocab_size, hidden_size=preset.n_embd, intermediate_size=preset.mlp_hidden,
        num_hidden_layers=preset.n_layer, num_attention_heads=preset.n_head, num_key_value_heads=preset.n_kv_heads,
        max_position_embeddings=preset.context_length, rms_norm_eps=preset.norm_eps, tie_word_embeddings=False,
        attn_implementation="eager", bos_token_id=0, eos_token_id=0))
    model = load_both(hf, tmp_path)
    assert model.config == preset
    mine, ref = _loss_and_grads(model, hf, tokens(2, 16, vocab=preset.vocab_size).numpy())
    assert abs(mine - ref) < 1e-5
    np.testing.assert_allclose(model.transformer.h[3].mlp.c_gate.weight.grad.numpy(),
                               hf.model.layers[3].mlp.gate_proj.weight.grad.numpy(), rtol=1e-4, atol=1e-6)
