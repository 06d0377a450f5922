"""Checkpoints: mytorch's own dirs (config.json with "model_type": "mytorch-gpt" + model.safetensors, also
what training checkpoints hold) and Hugging Face GPT-2 / Llama safetensors checkpoints, from a directory
or the local Hugging Face cache. Nothing is ever downloaded here.

Hugging Face layouts mapped onto GPT's parameter names:
- GPT-2 (GPT2LMHeadModel): the same names as ours, but Conv1D stores weights as (in, out): transposed.
- Llama (LlamaForCausalLM): q/k/v_proj are stacked into c_attn; gate/up/down_proj become c_gate/c_fc/c_proj.
  HF's rotary pairs the two halves of each head (rotate_half), as our RoPE does, so q/k need no permutation.
"""
import json
import os
import warnings

from .. import serialization
from ..autograd import no_grad
from ..ops.shape import cat
from .config import GPTConfig

MODEL_TYPE = "mytorch-gpt"
# dense bf16/fp16 tensor-core peaks (no sparsity), flops/s; longer names first ("L40S" before "L40")
PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L40": 181e12, "A10": 125e12,
              "L4": 121e12, "V100": 125e12, "T4": 65e12}
_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def peak_flops(device):
    """A number passes through; a CPU gives None; a GPU name or CUDA device maps through PEAK_FLOPS, and an
    unknown GPU falls back to the A100's peak (nanoGPT's reference) with a warning."""
    if isinstance(device, (int, float)):
        return float(device)
    name = str(device)
    if name.startswith("cpu"):
        return None
    if name.startswith("cuda"):
        from .. import cuda

        if not cuda.is_available():
            return None
        name = cuda.get_device_name(name if ":" in name else None)
    for kind, flops in PEAK_FLOPS.items():
        if kind.lower() in name.lower():
            return flops
    warnings.warn(f"estimate_mfu: no peak flops known for {name!r}; using the A100's 312 TFLOPS (pass the "
                  f"device's peak as a number instead)", stacklevel=3)
    return PEAK_FLOPS["A100"]


def save_pretrained(model, save_directory):
    os.makedirs(save_directory, exist_ok=True)
    state = model.state_dict()
    if model.config.tie_weights:
        state.pop("lm_head.weight", None)  # the same tensor as transformer.wte.weight
    config = {"model_type": MODEL_TYPE, **model.config.to_dict()}
    with open(os.path.join(save_directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    serialization.save_file({k: v.detach().contiguous() for k, v in state.items()},
                            os.path.join(save_directory, "model.safetensors"), metadata={"format": "pt"})


def from_pretrained(name_or_dir, cache_dir=None, **overrides):
    from .gpt import GPT

    path = resolve(name_or_dir, cache_dir)
    with open(os.path.join(path, "config.json")) as f:
        hf = json.load(f)
    kind = hf.get("model_type")
    if kind == MODEL_TYPE:
        config, convert = GPTConfig.from_dict(hf), None
    elif kind == "gpt2":
        config, convert = _gpt2_config(hf, path), _gpt2_weights
    elif kind in ("llama", "mistral"):
        config, convert = _llama_config(hf, path), _llama_weights
    else:
        raise ValueError(f"{path}/config.json: model_type {kind!r} is not supported (expected {MODEL_TYPE!r}, "
                         f"'gpt2', 'llama' or 'mistral')")
    config = GPTConfig(**{**config.to_dict(), **overrides})
    model = GPT(config)
    weights = load_weights(path)
    if convert is not None:
        weights = convert(weights, config)
    _load_into(model, weights, path)
    return model.eval()


def resolve(name_or_dir, cache_dir=None):
    """A directory holding config.json, or a hub name found in the local Hugging Face cache (cache_dir:
    None means huggingface_hub's default, $HF_HUB_CACHE or ~/.cache/huggingface/hub)."""
    if os.path.isdir(name_or_dir):
        if not os.path.isfile(os.path.join(name_or_dir, "config.json")):
            raise FileNotFoundError(f"{name_or_dir} has no config.json (expected a mytorch or Hugging Face "
                                    f"checkpoint dir)")
        return name_or_dir
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(name_or_dir, cache_dir=cache_dir, local_files_only=True)
        if os.path.isfile(os.path.join(path, "config.json")):
            return path
    except Exception:  # not cached, not a valid repo id, or huggingface_hub missing
        pass
    raise FileNotFoundError(
        f"{name_or_dir!r} is neither a checkpoint directory nor in the local Hugging Face cache. Download it "
        f"once (needs network), e.g.\n  hf download {name_or_dir} config.json model.safetensors   (older "
        f"huggingface_hub: huggingface-cli download ...)\n"
        f"or python -c \"from huggingface_hub import snapshot_download; snapshot_download('{name_or_dir}', "
        f"allow_patterns=['*.json', '*.safetensors'])\", then call from_pretrained again (or pass the dir).")


def load_weights(path):
    """All tensors of model.safetensors, or of the shards listed in model.safetensors.index.json."""
    single, index = os.path.join(path, "model.safetensors"), os.path.join(path, "model.safetensors.index.json")
    if os.path.isfile(single):
        return serialization.load_file(single)
    if os.path.isfile(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        weights = {}
        for shard in shards:
            weights.update(serialization.load_file(os.path.join(path, shard)))
        return weights
    raise FileNotFoundError(f"{path}: no model.safetensors (or model.safetensors.index.json); only safetensors "
                            f"checkpoints can be loaded (pytorch_model.bin needs pickle)")


def _load_into(model, weights, path):
    state = model.state_dict()
    tied = model.config.tie_weights
    missing = [k for k in state if k not in weights and not (tied and k == "lm_head.weight")]
    unexpected = [k for k in weights if k not in state]
    if missing or unexpected:
        raise RuntimeError(f"{path}: checkpoint does not match the model: missing {missing[:8]}, unexpected "
                           f"{unexpected[:8]}")
    with no_grad():
        for name, target in state.items():
            if name not in weights:
                continue
            w = weights[name]
            if tuple(w.shape) != tuple(target.shape):
                raise RuntimeError(f"{path}: {name} has shape {list(w.shape)} in the checkpoint, the model "
                                   f"expects {list(target.shape)}")
            target.copy_(w.to(target.device).to(target.dtype))


def _strip(weights, prefix):
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in weights.items()}


# --- GPT-2 ------------------------------------------------------------------------------------------------
def _gpt2_config(hf, path):
    act = hf.get("activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        raise ValueError(f"{path}: GPT-2 activation_function {act!r} is not supported (tanh GELU only)")
    for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"):
        if hf.get(flag):
            raise ValueError(f"{path}: GPT-2 option {flag}=True is not supported")
    return GPTConfig(vocab_size=hf["vocab_size"], context_length=hf["n_positions"], n_layer=hf["n_layer"],
                     n_head=hf["n_head"], n_embd=hf["n_embd"], mlp_hidden=hf.get("n_inner"), bias=True,
                     norm_eps=hf.get("layer_norm_epsilon", 1e-5), tie_weights=hf.get("tie_word_embeddings", True))


def _gpt2_weights(weights, config):
    out = {}
    for k, v in _strip(weights, "transformer.").items():
        if k.endswith((".attn.bias", ".attn.masked_bias")):
            continue  # old checkpoints store the causal mask as a buffer
        name = k if k == "lm_head.weight" else "transformer." + k
        out[name] = v.t() if k.endswith(_CONV1D) else v
    if config.tie_weights:
        out.pop("lm_head.weight", None)
    return out


# --- Llama ------------------------------------------------------------------------------------------------
def _llama_config(hf, path):
    n_head, n_embd = hf["num_attention_heads"], hf["hidden_size"]
    if hf.get("head_dim", n_embd // n_head) != n_embd // n_head:
        raise ValueError(f"{path}: head_dim {hf['head_dim']} != hidden_size / num_attention_heads is not supported")
    rope = hf.get("rope_parameters") or hf.get("rope_scaling") or {}  # transformers >= 5 | older configs
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in ("default", "linear", "llama3"):
        raise ValueError(f"{path}: rope scaling {rope_type!r} is not supported (default, linear, llama3)")
    scaling = None
    if rope_type != "default":
        keys = ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")
        scaling = {"rope_type": rope_type, **{k: rope[k] for k in keys if k in rope}}
    if hf.get("attention_bias") or hf.get("mlp_bias"):
        raise ValueError(f"{path}: Llama checkpoints with attention_bias / mlp_bias are not supported")
    if hf.get("hidden_act", "silu") != "silu":
        raise ValueError(f"{path}: hidden_act {hf['hidden_act']!r} is not supported (SwiGLU uses silu)")
    return GPTConfig(vocab_size=hf["vocab_size"], context_length=hf["max_position_embeddings"],
                     n_layer=hf["num_hidden_layers"], n_head=n_head, n_embd=n_embd,
                     n_kv_heads=hf.get("num_key_value_heads") or n_head, mlp_hidden=hf["intermediate_size"],
                     bias=False, pos_encoding="rope", norm="rmsnorm", mlp="swiglu",
                     rope_theta=rope.get("rope_theta", hf.get("rope_theta", 10000.0)), rope_scaling=scaling,
                     norm_eps=hf.get("rms_norm_eps", 1e-6), sliding_window=hf.get("sliding_window"),
                     tie_weights=hf.get("tie_word_embeddings", False))


_LLAMA_NAMES = {"input_layernorm.weight": "ln_1.weight", "post_attention_layernorm.weight": "ln_2.weight",
                "self_attn.o_proj.weight": "attn.c_proj.weight", "mlp.gate_proj.weight": "mlp.c_gate.weight",
                "mlp.up_proj.weight": "mlp.c_fc.weight", "mlp.down_proj.weight": "mlp.c_proj.weight"}


def _llama_weights(weights, config):
    w = _strip(weights, "model.")
    out = {"transformer.wte.weight": w.pop("embed_tokens.weight"), "transformer.ln_f.weight": w.pop("norm.weight")}
    if "lm_head.weight" in w and not config.tie_weights:
        out["lm_head.weight"] = w.pop("lm_head.weight")
    w.pop("lm_head.weight", None)
    for i in range(config.n_layer):
        src, dst = f"layers.{i}.", f"transformer.h.{i}."
        qkv = [w.pop(f"{src}self_attn.{p}_proj.weight") for p in "qkv"]
        out[dst + "attn.c_attn.weight"] = cat(qkv, dim=0)
        for theirs, ours in _LLAMA_NAMES.items():
            out[dst + ours] = w.pop(src + theirs)
    w = {k: v for k, v in w.items() if not k.endswith("rotary_emb.inv_freq")}
    out.update(w)  # anything left over is reported as unexpected by _load_into
    return out
