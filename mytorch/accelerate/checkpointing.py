"""save_state / load_state: a checkpoint directory written atomically, verified on load, never pickled.

Layout (INTERFACES.md): model.safetensors (model_1.safetensors, ...), optimizer.safetensors +
optimizer.json, scheduler.json, scaler.json, custom_checkpoint_{i}.json, random_states_{rank}.json,
the caller's extra files, and accelerator_state.json last: the step, the accumulation and DataLoader
positions, and the sha256 of every other file (plus a checksum of its own content).

Atomicity: everything is written into `.{name}.tmp-XXXX` next to the target, each file fsynced, then
the directory is renamed onto the target name (swapped atomically with an existing checkpoint of the
same name where the filesystem allows). A process killed mid-save leaves the previous checkpoint as it
was and no directory under the final name that isn't complete.
"""
import collections
import ctypes
import glob
import hashlib
import json
import math
import os
import random
import shutil
import uuid
import warnings

import numpy as np

from .. import _dtype
from .. import random as mt_random
from .._array import CPU
from ..serialization import load_file, save_file
from ..tensor import Tensor

STATE_NAME = "accelerator_state.json"
FORMAT_VERSION = 1


# state dicts <-> JSON + a dict of tensors ----------------------------------------------------
def _plain_key(key):
    return isinstance(key, str) and not key.startswith("__")


def encode(obj, tensors, path):
    """A JSON-able tree for a state dict; tensors go into `tensors` under their '/'-joined path."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, Tensor):
        key = "/".join(path)
        tensors[key] = obj.detach()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        key = "/".join(path)
        tensors[key] = Tensor._make(np.ascontiguousarray(obj))
        return {"__ndarray__": key}
    if isinstance(obj, np.generic):
        return encode(obj.item(), tensors, path)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, _dtype.dtype):
        return {"__dtype__": obj.name}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, tensors, path + [str(i)]) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode(v, tensors, path + [str(i)]) for i, v in enumerate(obj)]
    if isinstance(obj, collections.Counter):  # MultiStepLR's milestones
        return {"__counter__": [[encode(k, tensors, path + ["key"]), v] for k, v in obj.items()]}
    if isinstance(obj, dict):
        if all(_plain_key(k) for k in obj):
            return {k: encode(v, tensors, path + [k]) for k, v in obj.items()}
        return {"__dict__": [[encode(k, tensors, path + ["key"]), encode(v, tensors, path + [str(k)])]
                             for k, v in obj.items()]}
    where = "/".join(path) or "<root>"
    raise TypeError(f"save_state cannot store {where!r} of type {type(obj).__module__}.{type(obj).__qualname__}: "
                    "state dicts may hold tensors, numbers, strings, bools, None, dtypes and "
                    "dict/list/tuple containers of them (no pickle)")


def decode(node, tensors, name):
    if node is None or isinstance(node, (bool, str, int, float)):
        return node
    if isinstance(node, list):
        return [decode(v, tensors, name) for v in node]
    if not isinstance(node, dict):
        raise RuntimeError(f"{name}: corrupt checkpoint entry {str(node)[:80]}")
    if len(node) == 1:
        (tag, value), = node.items()
        try:
            if tag in ("__tensor__", "__ndarray__"):
                t = tensors[value]
                return t if tag == "__tensor__" else t.numpy()
            if tag == "__float__":
                if value not in ("inf", "-inf", "nan"):
                    raise ValueError(value)
                return float(value)
            if tag == "__dtype__":
                return _dtype.to_dtype(value)
            if tag == "__tuple__":
                return tuple(decode(v, tensors, name) for v in value)
            if tag == "__counter__":
                return collections.Counter({decode(k, tensors, name): v for k, v in value})
            if tag == "__dict__":
                return {decode(k, tensors, name): decode(v, tensors, name) for k, v in value}
        except (KeyError, TypeError, ValueError) as e:
            raise RuntimeError(f"{name}: corrupt checkpoint entry {tag} ({type(e).__name__}: {e})") from None
    return {k: decode(v, tensors, name) for k, v in node.items()}


# files -------------------------------------------------------------------------------------
def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_bytes(path, data):
    with open(path, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return hashlib.sha256(data).hexdigest()


def _json_bytes(obj):
    return json.dumps(obj, indent=1, allow_nan=False).encode()


def _write_tensors(path, tensors):
    save_file({k: t.detach() for k, t in tensors.items()}, path)  # atomic and fsynced
    return _sha256_file(path)


def _write_state(folder, stem, state, files):
    """`stem`.json (+ `stem`.safetensors when the state holds tensors)."""
    tensors = {}
    tree = encode(state, tensors, [])
    if tensors or stem.startswith("optimizer"):
        files[f"{stem}.safetensors"] = _write_tensors(os.path.join(folder, f"{stem}.safetensors"), tensors)
    files[f"{stem}.json"] = _write_bytes(os.path.join(folder, f"{stem}.json"), _json_bytes(tree))


def _read_state(folder, stem, files):
    name = os.path.join(folder, f"{stem}.json")
    tree = _read_json(name)
    tensors = {}
    if f"{stem}.safetensors" in files:
        tensors = load_file(os.path.join(folder, f"{stem}.safetensors"))
    return decode(tree, tensors, name)


def _read_json(path):
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing from the checkpoint") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise RuntimeError(f"{path}: corrupt checkpoint file (not valid JSON: {e})") from None


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_dirs(a, b):
    """Atomically exchange two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _publish(tmp, final):
    """Move the finished temp dir onto `final`, replacing an older checkpoint of that name."""
    if os.path.lexists(final) and not os.path.isdir(final):
        raise NotADirectoryError(f"save_state: {final} exists and is not a directory")
    if not os.path.lexists(final):
        os.rename(tmp, final)
    elif _swap_dirs(tmp, final):
        shutil.rmtree(tmp)  # tmp now holds the old checkpoint
    else:  # no atomic swap: the old one is moved aside for an instant, then removed
        old = f"{tmp}.old"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old)
    _fsync_dir(os.path.dirname(final))


def _self_checksum(state):
    body = {k: v for k, v in state.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


# RNG states --------------------------------------------------------------------------------
def rng_state(step):
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    generators = {}
    for dev, gen in list(mt_random._default_generators.items()):
        entry = {"seed": gen.initial_seed()}
        if dev == CPU:
            entry["bit_generator"] = gen.rng.bit_generator.state
        generators[str(dev)] = entry
    return {"python": [version, list(internal), gauss],
            "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
            "mytorch": generators, "step": step}


def set_rng_state(state, name):
    try:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
        for dev, entry in state["mytorch"].items():
            gen = mt_random.default_generator(CPU) if dev == "cpu" else _cuda_generator(dev)
            if gen is None:
                continue
            if "bit_generator" in entry:
                gen._seed = int(entry["seed"])
                gen.rng.bit_generator.state = entry["bit_generator"]
            else:
                # a cupy generator's state can't be read back: reseed from (seed, step), reproducible
                # but not the continuation of the interrupted stream
                gen.manual_seed((int(entry["seed"]) + 1_000_003 * int(state.get("step", 0))) % (1 << 63))
    except (KeyError, TypeError, ValueError) as e:
        raise RuntimeError(f"{name}: corrupt RNG state ({type(e).__name__}: {e})") from None


def _cuda_generator(dev):
    from .. import cuda
    from .._array import device

    if not cuda.is_available():
        warnings.warn(f"checkpoint holds the RNG state of {dev}, but CUDA is not available; skipped")
        return None
    return mt_random.default_generator(device(dev))


# save / load -------------------------------------------------------------------------------
_RESERVED = ("model", "optimizer", "scheduler", "scaler", "random_states_", "custom_checkpoint_", "accelerator_state")


def _check_extra_name(name):
    if not isinstance(name, str) or not name or os.path.basename(name) != name or name in (".", ".."):
        raise ValueError(f"extra_files names must be plain file names, got {name!r}")
    if name.startswith(_RESERVED) or name.startswith("."):
        raise ValueError(f"extra_files name {name!r} clashes with a file save_state writes itself "
                         f"(names starting with {', '.join(_RESERVED)} are reserved)")


def _extra_bytes(name, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2).encode()
    raise TypeError(f"extra_files[{name!r}] must be a JSON-able dict/list, a str or bytes, "
                    f"got {type(value).__name__}")


def _stem(kind, i):
    """'model', 'model_1', ...: the file name stem of the i-th prepared object of a kind."""
    return kind if i == 0 else f"{kind}_{i}"


def save_accelerator_state(acc, output_dir, extra_files=None):
    final = os.path.abspath(os.fspath(output_dir))
    parent, name = os.path.split(final)
    extra_files = dict(extra_files or {})
    for key in extra_files:
        _check_extra_name(key)
    if acc.gradient_state.micro_step:
        warnings.warn(f"save_state in the middle of an accumulation window ({acc.gradient_state.micro_step} of "
                      f"{acc.gradient_accumulation_steps} micro-steps): the accumulated gradients are not saved")
    tmp = None
    if acc.is_main_process:
        os.makedirs(parent, exist_ok=True)
        for stale in glob.glob(os.path.join(glob.escape(parent), f".{glob.escape(name)}.tmp-*")):
            shutil.rmtree(stale, ignore_errors=True)  # left by a save that was killed
        tmp = os.path.join(parent, f".{name}.tmp-{uuid.uuid4().hex[:12]}")
        os.mkdir(tmp)
    tmp = acc._broadcast_object(tmp)
    files = {}
    try:
        if acc.is_main_process:
            for i, model in enumerate(acc._models):
                fname = f"{_stem('model', i)}.safetensors"
                state = acc.unwrap_model(model).state_dict()
                files[fname] = _write_tensors(os.path.join(tmp, fname), dict(state))
            for i, opt in enumerate(acc._optimizers):
                _write_state(tmp, _stem("optimizer", i), opt.optimizer.state_dict(), files)
            for i, sched in enumerate(acc._schedulers):
                _write_state(tmp, _stem("scheduler", i), sched.scheduler.state_dict(), files)
            if acc.scaler is not None:
                _write_state(tmp, "scaler", acc.scaler.state_dict(), files)
            for i, obj in enumerate(acc._custom_objects):
                _write_state(tmp, f"custom_checkpoint_{i}", obj.state_dict(), files)
            for fname, value in extra_files.items():
                files[fname] = _write_bytes(os.path.join(tmp, fname), _extra_bytes(fname, value))
        rng_name = f"random_states_{acc.process_index}.json"
        files[rng_name] = _write_bytes(os.path.join(tmp, rng_name), _json_bytes(rng_state(acc.step)))
        all_files = acc._gather_object(files)
        if acc.is_main_process:
            merged = {k: v for part in all_files for k, v in part.items()}
            state = {"format": "mytorch-accelerate", "version": FORMAT_VERSION, "step": acc.step,
                     "num_processes": acc.num_processes, "mixed_precision": acc.mixed_precision,
                     "gradient_accumulation_steps": acc.gradient_accumulation_steps,
                     "gradient_state": acc.gradient_state.state_dict(),
                     "optimizer_steps": [opt.num_steps for opt in acc._optimizers],
                     "dataloaders": [dl.state_dict() for dl in acc._dataloaders],
                     "counts": {"models": len(acc._models), "optimizers": len(acc._optimizers),
                                "schedulers": len(acc._schedulers), "custom": len(acc._custom_objects)},
                     "files": dict(sorted(merged.items()))}
            state["checksum"] = _self_checksum(state)
            _write_bytes(os.path.join(tmp, STATE_NAME), _json_bytes(state))
            _fsync_dir(tmp)
            _publish(tmp, final)
    except BaseException:
        if acc.is_main_process and tmp and os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    acc.wait_for_everyone()
    return final


def _verify(folder, state, rank, state_path):
    files = state.get("files")
    if not isinstance(files, dict):
        raise RuntimeError(f"{state_path}: corrupt checkpoint file (no 'files' table)")
    for fname, digest in files.items():
        if fname.startswith("random_states_") and fname != f"random_states_{rank}.json":
            continue  # another rank's file
        path = os.path.join(folder, fname)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: listed in {STATE_NAME} but missing (incomplete checkpoint)")
        actual = _sha256_file(path)
        if actual != digest:
            raise RuntimeError(f"{path}: checksum mismatch (sha256 {actual[:16]}..., {STATE_NAME} recorded "
                               f"{str(digest)[:16]}...): the file is truncated or was modified after saving")
    return files


def load_accelerator_state(acc, input_dir):
    folder = os.path.abspath(os.fspath(input_dir))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"load_state: checkpoint directory {folder} does not exist")
    state_path = os.path.join(folder, STATE_NAME)
    if not os.path.isfile(state_path):
        raise FileNotFoundError(f"{state_path}: missing; {folder} is not a complete Accelerator.save_state checkpoint")
    state = _read_json(state_path)
    if not isinstance(state, dict) or state.get("format") != "mytorch-accelerate":
        raise RuntimeError(f"{state_path}: not a mytorch Accelerator checkpoint state file")
    if state.get("checksum") != _self_checksum(state):
        raise RuntimeError(f"{state_path}: checksum mismatch: the file is truncated or was modified after saving")
    if state.get("version", 0) > FORMAT_VERSION:
        raise RuntimeError(f"{state_path}: written by a newer mytorch (format version {state['version']})")
    files = _verify(folder, state, acc.process_index, state_path)

    counts = state["counts"]
    ours = {"models": len(acc._models), "optimizers": len(acc._optimizers), "schedulers": len(acc._schedulers),
            "custom": len(acc._custom_objects)}
    for kind, n in ours.items():
        if counts.get(kind, 0) != n:
            raise ValueError(f"load_state: {folder} holds {counts.get(kind, 0)} {kind}, but {n} were prepared "
                             f"(or registered) in this run")

    for i, model in enumerate(acc._models):
        path = os.path.join(folder, f"{_stem('model', i)}.safetensors")
        weights = load_file(path, device=acc.device)
        try:
            acc.unwrap_model(model).load_state_dict(weights)
        except RuntimeError as e:
            raise RuntimeError(f"{path}: does not fit the prepared model: {e}") from None
    for i, opt in enumerate(acc._optimizers):
        opt.optimizer.load_state_dict(_read_state(folder, _stem("optimizer", i), files))
    for i, opt in enumerate(acc._optimizers):
        opt.num_steps = state.get("optimizer_steps", [0] * len(acc._optimizers))[i]
    for i, sched in enumerate(acc._schedulers):
        sched.scheduler.load_state_dict(_read_state(folder, _stem("scheduler", i), files))
    if acc.scaler is not None:
        if "scaler.json" in files:
            acc.scaler.load_state_dict(_read_state(folder, "scaler", files))
        else:
            warnings.warn(f"load_state: {folder} has no scaler.json (saved without fp16); the GradScaler keeps "
                          "its current scale")
    for i, obj in enumerate(acc._custom_objects):
        obj.load_state_dict(_read_state(folder, f"custom_checkpoint_{i}", files))

    loaders = state.get("dataloaders", [])
    if len(loaders) != len(acc._dataloaders):
        warnings.warn(f"load_state: {folder} holds the position of {len(loaders)} DataLoaders, "
                      f"{len(acc._dataloaders)} were prepared; matching them in order")
    for dl, dl_state in zip(acc._dataloaders, loaders):
        dl.load_state_dict(dl_state)
    acc.gradient_state.load_state_dict(state["gradient_state"])
    acc.step = int(state["step"])

    rng_path = os.path.join(folder, f"random_states_{acc.process_index}.json")
    if os.path.isfile(rng_path):
        set_rng_state(_read_json(rng_path), rng_path)
    else:
        warnings.warn(f"load_state: {rng_path} not found (saved with {state['num_processes']} processes); "
                      "RNG states not restored on this rank")
