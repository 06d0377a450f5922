"""Sample text from a trained GPT, streaming each token as it is generated (KV cache).

    python inference_gpt2.py work_dir/shakespeare-char-cpu                 # newest checkpoint of a project
    python inference_gpt2.py work_dir/shakespeare-char-cpu/checkpoint_2000 --prompt "ROMEO:" --temperature 0.8 --topk 15
    python inference_gpt2.py path/to/hf-gpt2 --prompt "Hello" --device cuda  # a Hugging Face GPT-2 directory
    python inference_gpt2.py work_dir/shakespeare-char-cpu --split val --examples 3 --length 128

With --split, the model continues --examples excerpts of the data set (the one the checkpoint was
trained on, or --path_to_data) and each continuation is printed next to the real one.
"""
import argparse
import json
import os
import re
import sys

import numpy as np

import mytorch


def build_parser():
    p = argparse.ArgumentParser(description="Sample from a GPT checkpoint.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("path", help="a checkpoint_{step} dir, a project dir (newest checkpoint) or a Hugging Face dir")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--topk", type=int, default=None, help="sample among the k most likely tokens")
    p.add_argument("--topp", type=float, default=None, help="nucleus sampling: smallest set with this mass")
    p.add_argument("--max_tokens", type=int, default=500, help="tokens to generate per sample")
    p.add_argument("--prompt", type=str, default="\n", help="text to continue")
    p.add_argument("--num_samples", type=int, default=1)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--split", choices=("train", "val"), default=None,
                   help="continue excerpts of this data split instead of --prompt")
    p.add_argument("--examples", type=int, default=3, help="with --split: number of excerpts")
    p.add_argument("--length", type=int, default=None,
                   help="with --split: tokens of each excerpt and of its continuation; None: half the context")
    p.add_argument("--path_to_data", default=None, help="with --split: data dir; None: the one the checkpoint was trained on")
    return p


def resolve_model_dir(path):
    """A directory holding config.json + weights: path itself, or the newest checkpoint in it."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such directory (want a checkpoint, project or Hugging Face dir)")
    if os.path.isfile(os.path.join(path, "config.json")):
        return path
    steps = [(int(m.group(1)), name) for name in os.listdir(path) if (m := re.fullmatch(r"checkpoint_(\d+)", name))]
    if not steps:
        raise FileNotFoundError(f"{path}: neither a model dir (config.json) nor a project dir with "
                                f"checkpoint_* subdirectories")
    return os.path.join(path, max(steps)[1])


def load_tokenizer_for(model_dir):
    """The checkpoint's own tokenizer (meta.json), else GPT-2's BPE for a Hugging Face GPT-2."""
    from mytorch.tokenizers import load_tokenizer
    if os.path.isfile(os.path.join(model_dir, "meta.json")):
        return load_tokenizer(model_dir)
    from mytorch.tokenizers import GPT2Tokenizer
    try:
        return GPT2Tokenizer()
    except (ImportError, OSError) as e:  # no tiktoken, or its BPE files neither cached nor downloadable
        raise type(e)(f"{model_dir} has no meta.json, so its text goes through GPT-2's tokenizer: {e}") from e


class StreamPrinter:
    """Prints decoded text as tokens arrive. Decodes the whole sequence each time so multi-byte
    characters split across BPE tokens come out whole (held back while incomplete)."""

    def __init__(self, tokenizer, out=None):
        self.tokenizer, self.out = tokenizer, out or sys.stdout
        self.ids, self.printed = [], 0

    def add(self, token):
        self.ids.append(int(token))
        text = self.tokenizer.decode(self.ids)
        if text.endswith("\ufffd"):  # an unfinished UTF-8 sequence
            return
        self.out.write(text[self.printed:])
        self.out.flush()
        self.printed = len(text)

    def text(self):
        return self.tokenizer.decode(self.ids)


def sample(model, tokenizer, prompt_ids, args, device, seed=None):
    """Stream one continuation of prompt_ids to stdout; return its text."""
    idx = mytorch.tensor([prompt_ids], dtype=mytorch.long, device=device)
    printer = StreamPrinter(tokenizer)
    for token in model.stream(idx, args.max_tokens, temperature=args.temperature, top_k=args.topk,
                              top_p=args.topp, seed=seed):
        printer.add(token)
    print(flush=True)
    return printer.text()


def excerpts(data_dir, split, count, length, seed):
    """count random (prompt, true continuation) token lists of `length` each from split.bin."""
    path = os.path.join(data_dir, f"{split}.bin")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--split {split}: {path} not found (set --path_to_data to the prepared data dir)")
    data = np.memmap(path, dtype=np.uint16, mode="r")
    if len(data) < 2 * length + 1:
        raise ValueError(f"--length {length}: {path} has only {len(data)} tokens")
    starts = np.random.default_rng(seed).integers(0, len(data) - 2 * length, size=count)
    return [(data[s:s + length].tolist(), data[s + length:s + 2 * length].tolist()) for s in starts]


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.temperature < 0:
        parser.error(f"--temperature must be >= 0, got {args.temperature}")
    if args.topk is not None and args.topk <= 0:
        parser.error(f"--topk must be a positive integer, got {args.topk}")
    if args.topp is not None and not 0 < args.topp <= 1:
        parser.error(f"--topp must be in (0, 1], got {args.topp}")
    for name in ("max_tokens", "num_samples", "examples"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.device.startswith("cuda") and not mytorch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device available (needs cupy and an NVIDIA GPU)")

    from mytorch.models import GPT
    model_dir = resolve_model_dir(args.path)
    tokenizer = load_tokenizer_for(model_dir)
    model = GPT.from_pretrained(model_dir).to(args.device)
    model.eval()
    print(f"# {model_dir}: {model.num_params() / 1e6:.2f}M parameters, vocabulary {tokenizer.vocab_size}",
          file=sys.stderr)

    if args.split is None:
        prompt_ids = tokenizer.encode(args.prompt)
        if not prompt_ids:
            parser.error("--prompt encodes to no tokens; give some text")
        for i in range(args.num_samples):
            if args.num_samples > 1:
                print(f"---------- sample {i + 1} ----------")
            print(args.prompt, end="", flush=True)
            sample(model, tokenizer, prompt_ids, args, args.device,
                   None if args.seed is None else args.seed + i)
        return

    data_dir = args.path_to_data
    if data_dir is None:
        train_args = os.path.join(model_dir, "train_args.json")
        if not os.path.isfile(train_args):
            parser.error(f"--split: {model_dir} does not record its data dir; pass --path_to_data")
        with open(train_args) as f:
            data_dir = json.load(f)["path_to_data"]
    length = args.length or model.config.context_length // 2
    args.max_tokens = length
    for i, (prompt, truth) in enumerate(excerpts(data_dir, args.split, args.examples, length, args.seed)):
        print(f"========== example {i + 1}: {args.split} excerpt ==========")
        print(tokenizer.decode(prompt))
        print("---------- model continuation ----------")
        sample(model, tokenizer, prompt, args, args.device, None if args.seed is None else args.seed + i)
        print("---------- real continuation ----------")
        print(tokenizer.decode(truth), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
