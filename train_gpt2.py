"""Train a GPT on a tokenized dataset (prepare_data/*.py), on one or many processes.

    python prepare_data/prepare_shakespeare.py --path_to_save data/shakespeare
    python train_gpt2.py --config configs/shakespeare_char_cpu.yaml          # 2-core CPU, a few minutes
    bash train_gpt2.sh shakespeare --num_gpus 0 --num_processes 2            # 2 CPU processes
    mytorchrun launch --num_gpus 2 train_gpt2.py --config configs/shakespeare_char.yaml --fused

Flags given on the command line override the values of the --config file. Checkpoints go to
working_directory/project_name/checkpoint_{step}; --resume_from_checkpoint DIR|latest continues a
run exactly where it stopped (same data order, same random state).
"""
import argparse
import json
import math
import os
import re
import shutil
import sys
import time

import numpy as np

import mytorch
from mytorch.utils.data import DataLoader, RandomSampler

LOG_BACKENDS = ("wandb", "mlflow", "jsonl", "tensorboard")
PRECISIONS = ("no", "fp16", "bf16")
SIZE_ALIASES = {"base": "gpt2", "medium": "gpt2-medium", "large": "gpt2-large", "xl": "gpt2-xl"}  # the original's


# ----------------------------------------------------------------------------- flags and config

def build_parser():
    p = argparse.ArgumentParser(description="Train a GPT (nanoGPT-style) with mytorch.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", type=str, default=None,
                   help="YAML or JSON file of flag values (keys are flag names; sections such as "
                        "data:/model:/training: are flattened); command-line flags override it")
    run = p.add_argument_group("run")
    run.add_argument("--project_name", type=str, default="gpt2-shakespeare")
    run.add_argument("--working_directory", type=str, default="work_dir")
    run.add_argument("--path_to_data", type=str, default="data/shakespeare",
                     help="directory with train.bin, val.bin and meta.json")
    run.add_argument("--device", type=str, default="auto", choices=("auto", "cpu", "cuda"))
    run.add_argument("--seed", type=int, default=1337)
    run.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    run.add_argument("--resume_from_checkpoint", type=str, default=None,
                     help="a checkpoint_{step} directory, or 'latest' (newest in the project directory)")
    run.add_argument("--keep_last_k", type=int, default=3, help="checkpoints kept on disk (0 keeps all)")
    model = p.add_argument_group("model")
    model.add_argument("--model_size", type=str, default="small",
                       help="a GPTConfig preset: tiny, small, gpt2 (or base), medium, large, xl, llama-tiny, ...")
    model.add_argument("--context_length", type=int, default=None, help="None: the preset's")
    model.add_argument("--dropout_p", type=float, default=None, help="None: the preset's")
    model.add_argument("--pos_encoding", type=str, default=None,
                       choices=("learned", "sinusoidal", "rope", "alibi", "none"))
    model.add_argument("--norm", type=str, default=None, choices=("layernorm", "rmsnorm"))
    model.add_argument("--mlp", type=str, default=None, choices=("gelu", "swiglu"))
    model.add_argument("--n_kv_heads", type=int, default=None, help="fewer key/value heads (grouped-query)")
    model.add_argument("--n_layer", type=int, default=None, help="override the preset's depth")
    model.add_argument("--n_head", type=int, default=None, help="override the preset's head count")
    model.add_argument("--n_embd", type=int, default=None, help="override the preset's width")
    model.add_argument("--fused", action="store_true", help="Triton fused kernels (model and AdamW)")
    train = p.add_argument_group("training")
    train.add_argument("--train_iterations", type=int, default=2500, help="optimizer steps")
    train.add_argument("--eval_interval", type=int, default=500, help="steps between eval + checkpoint")
    train.add_argument("--eval_iterations", type=int, default=100, help="batches per loss estimate")
    train.add_argument("--batch_size", type=int, default=32, help="micro-batch per process")
    train.add_argument("--gradient_accumulation_steps", type=int, default=1)
    train.add_argument("--max_lr", type=float, default=1e-3)
    train.add_argument("--min_lr", type=float, default=1e-4)
    train.add_argument("--warmup_steps", type=int, default=100)
    train.add_argument("--weight_decay", type=float, default=0.1)
    train.add_argument("--max_grad_norm", type=float, default=1.0, help="0 disables clipping")
    train.add_argument("--beta1", type=float, default=0.9)
    train.add_argument("--beta2", type=float, default=0.95)
    train.add_argument("--mixed_precision", nargs="?", const="auto", default=None,
                       choices=("auto",) + PRECISIONS,
                       help="bare flag: fp16 on CUDA, bf16 on CPU; None: the launcher's setting, else no")
    log = p.add_argument_group("logging")
    log.add_argument("--log_iter", type=int, default=25, help="steps between logged train losses")
    log.add_argument("--log_wandb", action="store_true", help="same as --log_with wandb")
    log.add_argument("--log_with", type=str, default=None, choices=LOG_BACKENDS, action="append",
                     help="experiment tracker (repeatable)")
    return p


def read_config_file(path, parser):
    """Flat {flag: value} from a YAML/JSON file; nested sections are flattened."""
    if not os.path.isfile(path):
        parser.error(f"--config: no such file: {path}")
    with open(path) as f:
        text = f.read()
    if path.endswith(".json"):
        raw = json.loads(text)
    else:
        try:
            import yaml
        except ImportError:
            parser.error(f"--config {path}: reading YAML needs PyYAML (pip install pyyaml), or use a .json file")
        raw = yaml.safe_load(text) or {}
    if not isinstance(raw, dict):
        parser.error(f"--config {path}: expected a mapping of flag names to values, got {type(raw).__name__}")
    flat = {}
    for key, value in raw.items():
        if isinstance(value, dict):  # a section (data:, model:, training:)
            flat.update(value)
        else:
            flat[key] = value
    flags = {action.dest: action for action in parser._actions}
    for key, value in flat.items():
        key_ = key.replace("-", "_")
        if key_ not in flags or key_ in ("help", "config"):
            known = ", ".join(sorted(k for k in flags if k not in ("help", "config")))
            parser.error(f"--config {path}: unknown setting '{key}' (known: {known})")
        action = flags[key_]
        if action.choices is not None and value is not None:
            for v in value if isinstance(value, list) else [value]:
                if v not in action.choices:
                    parser.error(f"--config {path}: {key}={v!r} is not one of {list(action.choices)}")
        if action.type is not None and value is not None and not isinstance(value, list):
            try:
                value = action.type(value)
            except (TypeError, ValueError):
                parser.error(f"--config {path}: {key}={value!r} is not a valid {action.type.__name__}")
        if isinstance(action, argparse._AppendAction) and not isinstance(value, list):
            value = [value]
        flat[key] = value
    return {key.replace("-", "_"): value for key, value in flat.items()}


def parse_args(argv=None):
    parser = build_parser()
    known, _ = parser.parse_known_args(argv)
    if known.config:
        parser.set_defaults(**read_config_file(known.config, parser))
    args = parser.parse_args(argv)
    positive = ["train_iterations", "eval_interval", "eval_iterations", "batch_size",
                "gradient_accumulation_steps", "log_iter"]
    for name in positive:
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    for name in ("warmup_steps", "num_workers", "keep_last_k"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be >= 0, got {getattr(args, name)}")
    if not 0 < args.max_lr or not 0 <= args.min_lr <= args.max_lr:
        parser.error(f"need 0 < --min_lr <= --max_lr, got min_lr={args.min_lr}, max_lr={args.max_lr}")
    if args.dropout_p is not None and not 0 <= args.dropout_p < 1:
        parser.error(f"--dropout_p must be in [0, 1), got {args.dropout_p}")
    from mytorch.models import PRESETS
    args.model_size = SIZE_ALIASES.get(args.model_size, args.model_size)
    if args.model_size not in PRESETS:
        parser.error(f"--model_size {args.model_size!r} is not a GPTConfig preset; choose from "
                     f"{', '.join(list(PRESETS) + list(SIZE_ALIASES))}")
    for name in ("train.bin", "val.bin", "meta.json"):
        if not os.path.isfile(os.path.join(args.path_to_data, name)):
            parser.error(f"--path_to_data {args.path_to_data}: missing {name} (prepare it first, e.g. "
                         f"python prepare_data/prepare_shakespeare.py --path_to_save {args.path_to_data})")
    args.log_with = sorted(set(args.log_with or []) | ({"wandb"} if args.log_wandb else set())) or None
    return args


# ----------------------------------------------------------------------------- pieces

def lr_multiplier(step, warmup_steps, train_iterations, min_ratio):
    """Linear warmup to 1, then cosine decay to min_ratio at the last step (times max_lr)."""
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    progress = min(1.0, (step - warmup_steps) / max(1, train_iterations - warmup_steps))
    return min_ratio + 0.5 * (1.0 + math.cos(math.pi * progress)) * (1.0 - min_ratio)


def forever(loader):
    """Batches of epoch after epoch."""
    while True:
        yield from loader


def checkpoints_in(project_dir):
    """checkpoint_{step} directories of a project, oldest first."""
    if not os.path.isdir(project_dir):
        return []
    found = [(int(m.group(1)), name) for name in os.listdir(project_dir)
             if (m := re.fullmatch(r"checkpoint_(\d+)", name))]
    return [os.path.join(project_dir, name) for _, name in sorted(found)]


@mytorch.no_grad()
def estimate_loss(model, loaders, accelerator):
    """Mean loss over each loader's batches, averaged over all processes."""
    model.eval()
    out = {}
    for split, loader in loaders.items():
        total, count = 0.0, 0
        for x, y in loader:
            with accelerator.autocast():
                _, loss = model(x, y)
            total, count = total + loss.item(), count + 1
        mean = mytorch.tensor([total / max(count, 1)], device=accelerator.device)
        out[split] = accelerator.reduce(mean, reduction="mean").item()
    model.train()
    return out


def save_loss_curve(history, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    if history["train"]:
        ax.plot(*zip(*history["train"]), label="train (per step)", alpha=0.6)
    for split, style in (("eval_train", "o--"), ("eval_val", "o-")):
        if history[split]:
            ax.plot(*zip(*history[split]), style, label=split.replace("eval_", "") + " (estimate)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------- training

def main(argv=None):
    args = parse_args(argv)
    from tqdm.auto import tqdm

    from mytorch.accelerate import Accelerator
    from mytorch.models import GPT, GPTConfig
    from mytorch.optim.lr_scheduler import LambdaLR
    from mytorch.utils.data import TokenDataset

    project_dir = os.path.join(args.working_directory, args.project_name)
    mixed_precision = args.mixed_precision
    if mixed_precision == "auto":  # the bare flag: the device's usual half type (fp16 + loss scaling on GPUs)
        mixed_precision = "fp16" if args.device != "cpu" and mytorch.cuda.is_available() else "bf16"
    accelerator = Accelerator(mixed_precision=mixed_precision, cpu=args.device == "cpu",
                              gradient_accumulation_steps=args.gradient_accumulation_steps,
                              log_with=args.log_with, project_dir=project_dir)
    if args.device == "cuda" and accelerator.device.type != "cuda":
        raise RuntimeError("--device cuda was requested but no CUDA device is available (cupy + an NVIDIA GPU)")

    # model: a preset, the data's vocabulary, and any block options given as flags
    with open(os.path.join(args.path_to_data, "meta.json")) as f:
        meta = json.load(f)
    overrides = {k: v for k, v in dict(pos_encoding=args.pos_encoding, norm=args.norm, mlp=args.mlp,
                                       n_kv_heads=args.n_kv_heads, n_layer=args.n_layer, n_head=args.n_head,
                                       n_embd=args.n_embd, context_length=args.context_length,
                                       dropout=args.dropout_p).items()
                 if v is not None}
    config = GPTConfig.preset(args.model_size, vocab_size=meta["vocab_size"], fused=args.fused, **overrides)
    mytorch.manual_seed(args.seed)  # same initial weights on every process
    model = GPT(config)
    mytorch.manual_seed(args.seed + accelerator.process_index)  # but different dropout masks
    optimizer = model.configure_optimizers(args.weight_decay, args.max_lr, betas=(args.beta1, args.beta2),
                                           fused=args.fused or None)
    scheduler = LambdaLR(optimizer, lambda step: lr_multiplier(step, args.warmup_steps, args.train_iterations,
                                                               args.min_lr / args.max_lr))

    # resume: the checkpoint's step and loss history (its weights and states load after prepare)
    resume_dir, start_step = None, 0
    history = {"train": [], "eval_train": [], "eval_val": []}
    if args.resume_from_checkpoint:
        resume_dir = args.resume_from_checkpoint
        if resume_dir == "latest":
            found = checkpoints_in(project_dir)
            if not found:
                raise FileNotFoundError(f"--resume_from_checkpoint latest: no checkpoint_* directory in {project_dir}")
            resume_dir = found[-1]
        if not os.path.isdir(resume_dir):
            raise FileNotFoundError(f"--resume_from_checkpoint {resume_dir}: no such directory")
        state_file = os.path.join(resume_dir, "trainer_state.json")
        if not os.path.isfile(state_file):
            raise FileNotFoundError(f"--resume_from_checkpoint {resume_dir}: not a training checkpoint "
                                    f"(no trainer_state.json)")
        with open(state_file) as f:
            trainer_state = json.load(f)
        start_step, history = trainer_state["step"], trainer_state["history"]

    # data: random windows; the prepared loaders shard them over processes and resume exactly
    train_ds = TokenDataset(os.path.join(args.path_to_data, "train.bin"), config.context_length)
    val_ds = TokenDataset(os.path.join(args.path_to_data, "val.bin"), config.context_length)
    train_loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, drop_last=True,
                              num_workers=args.num_workers)
    eval_samples = args.eval_iterations * args.batch_size * accelerator.num_processes
    eval_loaders = {split: DataLoader(ds, batch_size=args.batch_size, num_workers=args.num_workers,
                                      sampler=RandomSampler(ds, num_samples=min(eval_samples, len(ds))))
                    for split, ds in (("train", train_ds), ("val", val_ds))}

    model, optimizer, scheduler, train_loader, eval_loaders["train"], eval_loaders["val"] = accelerator.prepare(
        model, optimizer, scheduler, train_loader, eval_loaders["train"], eval_loaders["val"])
    if resume_dir:
        accelerator.load_state(resume_dir)
        accelerator.print(f"resumed from {resume_dir} at step {start_step}")
    raw_model = accelerator.unwrap_model(model)

    run_config = dict(vars(args), model=config.to_dict(), num_processes=accelerator.num_processes,
                      mixed_precision=accelerator.mixed_precision)
    accelerator.init_trackers(args.project_name, config=run_config)
    tokens_per_step = (args.batch_size * config.context_length * args.gradient_accumulation_steps
                       * accelerator.num_processes)
    accelerator.print(f"{raw_model.num_params() / 1e6:.2f}M parameters | {accelerator.num_processes} process(es) "
                      f"on {accelerator.device} | mixed precision {accelerator.mixed_precision} | "
                      f"{tokens_per_step} tokens per step")

    def checkpoint(step):
        path = os.path.join(project_dir, f"checkpoint_{step}")
        model_config = dict(config.to_dict(), model_type="mytorch-gpt")
        accelerator.save_state(path, extra_files={
            "config.json": model_config, "meta.json": meta, "train_args.json": vars(args),
            "trainer_state.json": {"step": step, "history": history}})
        accelerator.wait_for_everyone()
        if accelerator.is_main_process and args.keep_last_k:
            for old in checkpoints_in(project_dir)[:-args.keep_last_k]:
                shutil.rmtree(old, ignore_errors=True)

    def evaluate(step):
        losses = estimate_loss(model, eval_loaders, accelerator)
        history["eval_train"].append([step, losses["train"]])
        history["eval_val"].append([step, losses["val"]])
        accelerator.log({"eval/train_loss": losses["train"], "eval/val_loss": losses["val"]}, step=step)
        accelerator.print(f"step {step}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")

    step = start_step
    bar = tqdm(total=args.train_iterations, initial=start_step, disable=not accelerator.is_main_process,
               dynamic_ncols=True, desc=args.project_name)
    step_loss, t0 = 0.0, time.perf_counter()
    model.train()
    for x, y in forever(train_loader):
        if step >= args.train_iterations:
            break
        with accelerator.accumulate(model):
            with accelerator.autocast():
                _, loss = model(x, y)
            accelerator.backward(loss)
            step_loss = step_loss + loss.detach() / args.gradient_accumulation_steps  # no device sync here
            if accelerator.sync_gradients:
                lr = optimizer.param_groups[0]["lr"]  # this step's, before the scheduler moves on
                if args.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        if not accelerator.sync_gradients:
            continue

        step += 1
        loss_all = accelerator.reduce(step_loss.reshape(1).float(), "mean").item()
        history["train"].append([step, loss_all])
        dt, t0, step_loss = time.perf_counter() - t0, time.perf_counter(), 0.0
        postfix = {"loss": f"{loss_all:.4f}", "lr": f"{lr:.2e}", "tok/s": f"{tokens_per_step / dt:,.0f}"}
        if accelerator.device.type == "cuda":
            postfix["mfu"] = f"{100 * raw_model.estimate_mfu(tokens_per_step / dt, accelerator.device):.1f}%"
        bar.set_postfix(postfix, refresh=False)
        bar.update()
        if step % args.log_iter == 0:
            accelerator.log({"train/loss": loss_all, "train/lr": lr, "train/tokens_per_s": tokens_per_step / dt},
                            step=step)
        if step % args.eval_interval == 0 or step == args.train_iterations:
            evaluate(step)
            checkpoint(step)
            t0 = time.perf_counter()  # the next step's time leaves out eval and checkpointing
    bar.close()

    if accelerator.is_main_process:
        curve = os.path.join(project_dir, "loss_curve.png")
        save_loss_curve(history, curve, f"{args.project_name} ({raw_model.num_params() / 1e6:.2f}M params)")
        accelerator.print(f"loss curve: {curve}")
    accelerator.end_training()
    return history


if __name__ == "__main__":
    main(sys.argv[1:])
