"""Tiny Shakespeare -> DIR/train.bin, DIR/val.bin (uint16 token ids, 90/10 split) and DIR/meta.json.

    python prepare_data/prepare_shakespeare.py --path_to_save data/shakespeare              # char-level
    python prepare_data/prepare_shakespeare.py --path_to_save data/shakespeare_bpe --tokenizer bpe --vocab_size 1024
    python prepare_data/prepare_shakespeare.py --path_to_save data/shakespeare_gpt2 --tokenizer gpt2
"""
import argparse
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # repo root: no install needed
from prepare_data.common import build_tokenizer, check_vocab_fits, write_meta, write_tokens  # noqa: E402

URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"


def read_corpus(input_file, directory, url=URL):
    """The text of `input_file`, else DIR/input.txt, downloading it first if it is not there yet."""
    if input_file is not None:
        if not os.path.isfile(input_file):
            raise SystemExit(f"error: --input_file {input_file!r} does not exist")
        path = input_file
    else:
        path = os.path.join(directory, "input.txt")
        if not os.path.isfile(path):
            print(f"downloading {url} -> {path}")
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    data = response.read()
            except OSError as err:  # URLError, timeouts, refused connections
                raise SystemExit(f"error: could not download tiny Shakespeare from {url} ({err}). Offline? Pass "
                                 f"--input_file PATH to a local copy of the corpus.") from None
            with open(path, "wb") as f:
                f.write(data)
    with open(path, encoding="utf-8") as f:
        return f.read(), path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path_to_save", required=True, help="output directory")
    parser.add_argument("--input_file", default=None, help="local corpus (default: download tiny Shakespeare)")
    parser.add_argument("--tokenizer", default="char",
                        help="char | bpe (trained on the train split) | gpt2 (tiktoken) | path to a saved tokenizer")
    parser.add_argument("--vocab_size", type=int, default=None, help="total BPE vocabulary (256 bytes + merges + "
                                                                     "<|endoftext|>), e.g. 1024")
    parser.add_argument("--val_fraction", type=float, default=0.1, help="last fraction of the text for val.bin")
    args = parser.parse_args(argv)
    if not 0 < args.val_fraction < 1:
        raise SystemExit(f"error: --val_fraction must be in (0, 1), got {args.val_fraction}")

    os.makedirs(args.path_to_save, exist_ok=True)
    text, source = read_corpus(args.input_file, args.path_to_save)
    split = int(len(text) * (1 - args.val_fraction))
    train_text, val_text = text[:split], text[split:]

    start = time.perf_counter()
    # char: the vocabulary is every character of the corpus, so val never meets an unknown one;
    # bpe: merges learned from the train split only
    tokenizer = build_tokenizer(args.tokenizer, text if args.tokenizer == "char" else train_text, args.vocab_size)
    check_vocab_fits(tokenizer.vocab_size)
    counts = {}
    for split_name, part in (("train", train_text), ("val", val_text)):
        ids = tokenizer.encode_ordinary(part)
        counts[f"{split_name}_tokens"] = write_tokens(os.path.join(args.path_to_save, f"{split_name}.bin"), ids)
    write_meta(args.path_to_save, tokenizer, **counts, train_chars=len(train_text), val_chars=len(val_text),
               source=os.path.abspath(source))
    print(f"{tokenizer.kind} tokenizer, vocab_size {tokenizer.vocab_size}: train {counts['train_tokens']:,} tokens, "
          f"val {counts['val_tokens']:,} tokens -> {args.path_to_save} ({time.perf_counter() - start:.1f}s)")


if __name__ == "__main__":
    main()
