"""OpenWebText (or any text dataset) -> DIR/train.bin, DIR/val.bin and DIR/meta.json, nanoGPT style.

Documents are tokenized in parallel with datasets' map(num_proc=N); each gets an <|endoftext|> after
it, and all ids are written in order into one uint16 file per split.

    python prepare_data/prepare_owt.py --num_proc 8 --path_to_save data/openwebtext     # GPT-2 BPE
    python prepare_data/prepare_owt.py --num_proc 2 --path_to_save data/mytext \\
        --dataset docs.jsonl --tokenizer bpe --vocab_size 4096                             # local, offline
The Hugging Face cache (downloads and tokenized shards) lives in $HF_HOME (default ~/.cache/huggingface).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # repo root: no install needed
from prepare_data.common import TOKEN_DTYPE, build_tokenizer, check_vocab_fits, write_meta  # noqa: E402

BUILDERS = {".txt": "text", ".text": "text", ".json": "json", ".jsonl": "json", ".csv": "csv",
            ".parquet": "parquet"}


def load_documents(dataset, num_proc):
    """The train split of a hub dataset, a local data file (by extension: .txt lines, .json/.jsonl
    records, .csv, .parquet), a directory of such files, or a dataset saved with save_to_disk."""
    import datasets

    if os.path.isfile(dataset):
        ext = os.path.splitext(dataset)[1].lower()
        if ext not in BUILDERS:
            raise SystemExit(f"error: --dataset {dataset!r}: unknown file type {ext!r}; use one of {sorted(BUILDERS)}")
        return datasets.load_dataset(BUILDERS[ext], data_files=dataset, split="train")
    saved = ("state.json", "dataset_dict.json")  # what save_to_disk writes
    if os.path.isdir(dataset) and any(os.path.exists(os.path.join(dataset, name)) for name in saved):
        loaded = datasets.load_from_disk(dataset)
        return loaded["train"] if isinstance(loaded, datasets.DatasetDict) else loaded
    return datasets.load_dataset(dataset, split="train", num_proc=num_proc)


def tokenize_document(example, tokenizer, text_column):
    # special-token strings inside a document are plain text; the document boundary is the real eot
    ids = tokenizer.encode_ordinary(example[text_column])
    ids.append(tokenizer.eot_token)
    return {"ids": ids, "len": len(ids)}


def write_split(dset, path, max_shards=1024):
    """Concatenate the `ids` of every document into one uint16 memmap, a contiguous shard at a time."""
    total = int(np.sum(dset["len"], dtype=np.uint64))
    arr = np.memmap(path, dtype=TOKEN_DTYPE, mode="w+", shape=(total,))
    num_shards = min(max_shards, len(dset))
    idx = 0
    for shard_idx in range(num_shards):
        shard = dset.shard(num_shards=num_shards, index=shard_idx, contiguous=True).with_format("numpy")
        ids = np.concatenate(shard["ids"])
        arr[idx:idx + len(ids)] = ids
        idx += len(ids)
    arr.flush()
    return total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_proc", type=int, default=8, help="processes for loading and tokenizing")
    parser.add_argument("--path_to_save", required=True, help="output directory")
    parser.add_argument("--dataset", default="Skylion007/openwebtext",
                        help="hub dataset name, or a local .txt/.json/.jsonl/.csv/.parquet file or saved dataset dir")
    parser.add_argument("--text_column", default="text")
    parser.add_argument("--tokenizer", default="gpt2", help="gpt2 (tiktoken) | bpe (trained here) | path to a "
                                                            "saved tokenizer.json / meta.json")
    parser.add_argument("--vocab_size", type=int, default=None, help="total vocabulary for --tokenizer bpe")
    parser.add_argument("--bpe_train_chars", type=int, default=20_000_000,
                        help="train the BPE on the first this many characters of the train split")
    parser.add_argument("--val_fraction", type=float, default=0.0005, help="documents held out for val.bin")
    parser.add_argument("--seed", type=int, default=2357)
    args = parser.parse_args(argv)
    if args.num_proc < 1:
        raise SystemExit(f"error: --num_proc must be >= 1, got {args.num_proc}")
    if args.tokenizer == "char":
        raise SystemExit("error: --tokenizer char has no <|endoftext|> to separate documents; use bpe or gpt2")

    start = time.perf_counter()
    docs = load_documents(args.dataset, args.num_proc)
    if args.text_column not in docs.column_names:
        raise SystemExit(f"error: dataset {args.dataset!r} has columns {docs.column_names}, no "
                         f"--text_column {args.text_column!r}")
    if len(docs) < 2:
        raise SystemExit(f"error: dataset {args.dataset!r} has {len(docs)} documents; need at least 2 for train/val")
    num_val = min(len(docs) - 1, max(1, round(len(docs) * args.val_fraction)))
    splits = docs.train_test_split(test_size=num_val, seed=args.seed, shuffle=True)
    splits["val"] = splits.pop("test")

    train_text = None
    if args.tokenizer == "bpe":
        train_text, size = [], 0
        for text in splits["train"][args.text_column]:
            train_text.append(text)
            size += len(text)
            if size >= args.bpe_train_chars:
                break
        train_text = "\n".join(train_text)
    tokenizer = build_tokenizer(args.tokenizer, train_text, args.vocab_size)
    check_vocab_fits(tokenizer.vocab_size)
    if tokenizer.eot_token is None:
        raise SystemExit(f"error: the {tokenizer.kind} tokenizer has no <|endoftext|> token to end each document")

    os.makedirs(args.path_to_save, exist_ok=True)
    info = {"dataset": args.dataset}
    for split_name, dset in splits.items():
        tokenized = dset.map(tokenize_document, fn_kwargs={"tokenizer": tokenizer, "text_column": args.text_column},
                             remove_columns=dset.column_names, num_proc=min(args.num_proc, len(dset)),
                             desc=f"tokenizing {split_name}")
        info[f"{split_name}_tokens"] = write_split(tokenized, os.path.join(args.path_to_save, f"{split_name}.bin"))
        info[f"{split_name}_documents"] = len(dset)
    write_meta(args.path_to_save, tokenizer, **info)
    print(f"{tokenizer.kind} tokenizer, vocab_size {tokenizer.vocab_size}: train {info['train_tokens']:,} tokens "
          f"({info['train_documents']:,} documents), val {info['val_tokens']:,} tokens -> {args.path_to_save} "
          f"({time.perf_counter() - start:.1f}s)")


if __name__ == "__main__":
    main()
