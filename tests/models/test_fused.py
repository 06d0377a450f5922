"""fused=True (Triton kernels, here in Triton's CPU interpreter) gives the numbers of fused=False: model
forward, loss and gradients for both families, and the new functionals F.rotary_embedding / F.swiglu
against PyTorch / transformers."""
import numpy as np
import pytest
import torch

import mytorch
import mytorch.nn.functional as F
from mytorch import kernels
from mytorch.models import GPT, GPTConfig

from .util import tokens

pytest.importorskip("triton", reason="triton is not installed; the fused kernels cannot run")

# head dim 16: the flash attention kernel's smallest
FAMILIES = {
    "gpt2": (dict(), ["layer_norm_fwd", "layer_norm_bwd", "flash_attention_fwd", "flash_attention_bwd",
                      "activation_fwd", "cross_entropy_fwd", "embedding_fwd"]),
    "llama": (dict(pos_encoding="rope", norm="rmsnorm", mlp="swiglu", n_kv_heads=2, bias=False, tie_weights=False),
              ["rms_norm_fwd", "rms_norm_bwd", "flash_attention_fwd", "rotary_fwd", "rotary_bwd", "swiglu_fwd",
               "swiglu_bwd", "cross_entropy_fwd"]),
    "alibi-window": (dict(pos_encoding="alibi", sliding_window=3), ["flash_attention_fwd", "flash_attention_bwd"]),
}


def _run(model, idx, targets):
    model.zero_grad()
    logits, loss = model(idx, targets)
    loss.backward()
    return logits.detach().numpy(), loss.item(), {k: p.grad.numpy().copy() for k, p in model.named_parameters()}


@pytest.mark.parametrize("family", FAMILIES)
def test_fused_model_matches_unfused(family):
    overrides, expected_kernels = FAMILIES[family]
    config = GPTConfig(vocab_size=64, context_length=16, n_layer=1, n_head=4, n_embd=64, **overrides)
    mytorch.manual_seed(0)
    plain = GPT(config)
    fused = GPT(GPTConfig(**{**config.to_dict(), "fused": True}))
    fused.load_state_dict(plain.state_dict())
    idx, targets = tokens(1, 8, vocab=64), tokens(1, 8, vocab=64, seed=1)
    kernels.launch_counts.clear()
    logits_f, loss_f, grads_f = _run(fused, idx, targets)
    ran = {k for k, n in kernels.launch_counts.items() if n}
    assert set(expected_kernels) <= ran, f"kernels that did not run: {set(expected_kernels) - ran}"
    kernels.launch_counts.clear()
    logits, loss, grads = _run(plain, idx, targets)
    assert not any(kernels.launch_counts.values())  # fused=False stays on numpy
    np.testing.assert_allclose(logits_f, logits, rtol=1e-4, atol=1e-5)
    assert abs(loss_f - loss) < 1e-5
    for name in grads:
        np.testing.assert_allclose(grads_f[name], grads[name], rtol=1e-3, atol=1e-5, err_msg=name)


@pytest.mark.gpu
@pytest.mark.parametrize("family", FAMILIES)
def test_fused_model_on_gpu_matches_cpu(family):
    overrides, _ = FAMILIES[family]
    config = GPTConfig(vocab_size=64, context_length=16, n_layer=2, n_head=4, n_embd=64, **overrides)
    mytorch.manual_seed(0)
    cpu = GPT(config)
    gpu = GPT(GPTConfig(**{**config.to_dict(), "fused": True}))
    gpu.load_state_dict(cpu.state_dict())
    gpu = gpu.to("cuda")
    idx, targets = tokens(2, 16, vocab=64), tokens(2, 16, vocab=64, seed=1)
    logits, loss, grads = _run(cpu, idx, targets)
    gpu.zero_grad()
    logits_g, loss_g = gpu(idx.to("cuda"), targets.to("cuda"))
    loss_g.backward()
    np.testing.assert_allclose(logits_g.detach().cpu().numpy(), logits, rtol=1e-3, atol=1e-4)
    assert abs(loss_g.item() - loss) < 1e-4
    for name, p in gpu.named_parameters():
        np.testing.assert_allclose(p.grad.cpu().numpy(), grads[name], rtol=1e-2, atol=1e-4, err_msg=name)
    out = gpu.generate(idx[:1, :4].to("cuda"), 8, temperature=0)
    np.testing.assert_array_equal(out.cpu().numpy(), cpu.generate(idx[:1, :4], 8, temperature=0).numpy())


@pytest.mark.parametrize("overrides", [dict(pos_encoding="rope", n_kv_heads=2),
                                       dict(pos_encoding="alibi", sliding_window=3)], ids=["rope-gqa", "alibi-window"])
def test_fused_generation_matches_unfused(overrides):
    # decode steps: one query over cached keys, a boolean window mask or ALiBi's float bias in the kernel
    config = GPTConfig(vocab_size=64, context_length=16, n_layer=1, n_head=4, n_embd=64, **overrides)
    mytorch.manual_seed(0)
    plain = GPT(config)
    fused = GPT(GPTConfig(**{**config.to_dict(), "fused": True}))
    fused.load_state_dict(plain.state_dict())
    idx = tokens(1, 5, vocab=64)
    np.testing.assert_array_equal(fused.generate(idx, 4, temperature=0).numpy(),
                                  plain.generate(idx, 4, temperature=0).numpy())


@pytest.mark.parametrize("fused", [False, True])
def test_rotary_embedding_matches_transformers(fused):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    rng = np.random.default_rng(0)
    q, k = (rng.standard_normal((2, 3, 7, 16)).astype(np.float32) for _ in range(2))
    cos, sin = F.rotary_cos_sin(7, 16, base=500.0)
    mq, mk = mytorch.tensor(q, requires_grad=True), mytorch.tensor(k, requires_grad=True)
    with mytorch.backends.fused.flags(enabled=fused):
        oq, ok = F.rotary_embedding(mq, cos, sin), F.rotary_embedding(mk, cos, sin)
        (oq * oq.detach() + ok * 2).sum().backward()  # any upstream gradient
    tq, tk = torch.tensor(q, requires_grad=True), torch.tensor(k, requires_grad=True)
    full_cos = torch.tensor(np.concatenate([cos.numpy()] * 2, -1))[None]  # HF: (1, T, D), halves repeated
    full_sin = torch.tensor(np.concatenate([sin.numpy()] * 2, -1))[None]
    rq, rk = apply_rotary_pos_emb(tq, tk, full_cos, full_sin)
    (rq * rq.detach() + rk * 2).sum().backward()
    np.testing.assert_allclose(oq.detach().numpy(), rq.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ok.detach().numpy(), rk.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mq.grad.numpy(), tq.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mk.grad.numpy(), tk.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fused", [False, True])
def test_rotary_interleaved_and_partial(fused):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 5, 12)).astype(np.float32)
    cos, sin = F.rotary_cos_sin(5, 8)  # rotary dim 8 of 12: the last 4 features pass through
    c, s = cos.numpy(), sin.numpy()
    with mytorch.backends.fused.flags(enabled=fused):
        out = F.rotary_embedding(mytorch.tensor(x), cos, sin, interleaved=True).numpy()
    x1, x2 = x[..., 0:8:2], x[..., 1:8:2]
    ref = x.copy()
    ref[..., 0:8:2], ref[..., 1:8:2] = x1 * c - x2 * s, x2 * c + x1 * s
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="cos/sin"):
        F.rotary_embedding(mytorch.tensor(x), cos[:4], sin[:4])


@pytest.mark.parametrize("fused", [False, True])
def test_swiglu_matches_torch(fused):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((3, 4, 10)).astype(np.float32) for _ in range(2))
    ma, mb = mytorch.tensor(a, requires_grad=True), mytorch.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    w = rng.standard_normal((3, 4, 10)).astype(np.float32)
    with mytorch.backends.fused.flags(enabled=fused):
        out = F.swiglu(ma, mb)
        (out * mytorch.tensor(w)).sum().backward()
    ref = torch.nn.functional.silu(ta) * tb
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ma.grad.numpy(), ta.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mb.grad.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-6)
    halves = F.swiglu(mytorch.tensor(np.concatenate([a, b], -1))).numpy()
    np.testing.assert_allclose(halves, ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="shapes differ"):
        F.swiglu(ma, mb[..., :5])
