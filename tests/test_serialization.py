"""mytorch.save/load (JSON header + raw bytes, never pickle) and safetensors interop with PyTorch."""
import argparse
import collections
import io
import json
import pickle
import os
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import load_file as th_load_file
from safetensors.torch import save as th_save_bytes
from safetensors.torch import save_file as th_save_file

import mytorch
from mytorch import serialization

DTYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]
if mytorch._dtype._HAS_BF16:
    DTYPES.append("bfloat16")
SHAPES = [(), (0,), (5,), (2, 3), (2, 1, 4)]


def _array(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype in ("float64", "float32", "float16", "bfloat16"):
        arr = rng.standard_normal(shape) * 100
        return arr.astype(mytorch.float32.np if dtype == "bfloat16" else dtype).astype(getattr(mytorch, dtype).np)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def _mt(dtype, shape, seed=0):
    return mytorch.from_numpy(np.asarray(_array(dtype, shape, seed)))


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    mytorch.save(obj, buf)
    buf.seek(0)
    return mytorch.load(buf, **load_kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_save_load_every_dtype(dtype, shape):
    t = _mt(dtype, shape)
    out = _roundtrip(t)
    assert isinstance(out, mytorch.Tensor) and out.dtype == t.dtype and tuple(out.shape) == shape
    assert _same_bits(out.numpy(), t.numpy())
    out.add_(1) if dtype != "bool" else None  # loaded tensors are writable


def test_nested_containers_and_scalars():
    w = mytorch.randn(3, 4)
    obj = {
        "state_dict": collections.OrderedDict(weight=w, bias=mytorch.zeros(4)),
        "optimizer": {"state": {0: {"step": mytorch.tensor(5.0), "exp_avg": mytorch.ones(3, 4)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0], "amsgrad": False}]},
        "epoch": 7, "big": 2 ** 70, "nan": float("nan"), "ninf": float("-inf"), "neg_zero": -0.0,
        "name": "gpt2", "raw": b"\x00\xff", "none": None, (1, "a"): [True, 1.5], "dtype": mytorch.float16,
        "device": mytorch.device("cpu"), "np_scalar": np.float32(0.5), "empty": {}, "set": {1, 2},
    }
    out = _roundtrip(obj)
    assert list(out) == list(obj)
    assert type(out["state_dict"]) is collections.OrderedDict and list(out["state_dict"]) == ["weight", "bias"]
    assert _same_bits(out["state_dict"]["weight"].numpy(), w.numpy())
    assert out["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert isinstance(out["optimizer"]["param_groups"][0]["betas"], tuple)
    assert 0 in out["optimizer"]["state"] and out["optimizer"]["state"][0]["step"].item() == 5.0
    assert out["big"] == 2 ** 70 and np.isnan(out["nan"]) and out["ninf"] == float("-inf")
    assert str(out["neg_zero"]) == "-0.0" and out["raw"] == b"\x00\xff" and out["none"] is None
    assert out[(1, "a")] == [True, 1.5] and out["dtype"] is mytorch.float16 and out["device"] == mytorch.device("cpu")
    assert out["np_scalar"] == 0.5 and out["empty"] == {} and out["set"] == {1, 2}


def test_identity_requires_grad_and_views():
    w = mytorch.randn(4, 4, requires_grad=True)
    view = mytorch.from_numpy(w.detach().numpy()[1:3, ::2])  # non-contiguous view: stored as its own copy
    out = _roundtrip({"a": w, "b": w, "v": view})
    assert out["a"] is out["b"] and out["a"].requires_grad and out["a"].is_leaf
    assert not out["v"].requires_grad and _same_bits(out["v"].numpy(), view.numpy())


def test_parameter_loads_like_torch():
    nn = pytest.importorskip("mytorch.nn")
    if not (isinstance(nn.Parameter, type) and issubclass(nn.Parameter, mytorch.Tensor)):
        pytest.skip("nn.Parameter is not a Tensor subclass yet")
    p = nn.Parameter(mytorch.randn(3))
    out = _roundtrip([p])[0]
    buf = io.BytesIO()
    torch.save(torch.nn.Parameter(torch.randn(3)), buf)
    buf.seek(0)
    assert type(torch.load(buf, weights_only=True)).__name__ == type(out).__name__ == "Parameter"
    assert out.requires_grad and _same_bits(out.detach().numpy(), p.detach().numpy())


@pytest.mark.parametrize("kind", ["str", "pathlib", "fileobj"])
def test_paths_and_file_objects(tmp_path, kind):
    obj = {"x": mytorch.arange(6).reshape(2, 3)}
    path = tmp_path / "ckpt.pt"
    if kind == "fileobj":
        with open(path, "wb") as fh:
            mytorch.save(obj, fh)
        with open(path, "rb") as fh:
            out = mytorch.load(fh)
    else:
        target = str(path) if kind == "str" else path
        mytorch.save(obj, target)
        out = mytorch.load(target)
    assert out["x"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert mytorch.load(path, mmap=True)["x"].tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("map_location", ["cpu", mytorch.device("cpu"), {"cpu": "cpu"}, None])
def test_map_location(tmp_path, map_location):
    mytorch.save({"w": mytorch.ones(2)}, tmp_path / "m.pt")
    out = mytorch.load(tmp_path / "m.pt", map_location=map_location)
    assert out["w"].device == mytorch.device("cpu")


def test_map_location_callable(tmp_path):
    seen = []
    mytorch.save([mytorch.ones(2), mytorch.zeros(1)], tmp_path / "m.pt")
    out = mytorch.load(tmp_path / "m.pt", map_location=lambda t, loc: seen.append(loc) or t * 2)
    assert seen == ["cpu", "cpu"] and out[0].tolist() == [2.0, 2.0]


@pytest.mark.gpu
def test_cuda_map_location_and_load_file(tmp_path):
    mytorch.save({"w": mytorch.arange(4.0)}, tmp_path / "m.pt")
    on_gpu = mytorch.load(tmp_path / "m.pt", map_location="cuda")["w"]
    assert on_gpu.device.type == "cuda" and on_gpu.cpu().tolist() == [0.0, 1.0, 2.0, 3.0]
    mytorch.save({"g": on_gpu}, tmp_path / "g.pt")
    assert mytorch.load(tmp_path / "g.pt")["g"].device.type == "cuda"
    assert mytorch.load(tmp_path / "g.pt", map_location={"cuda:0": "cpu"})["g"].device.type == "cpu"
    mytorch.save_file({"g": on_gpu}, tmp_path / "g.safetensors")
    assert mytorch.load_file(tmp_path / "g.safetensors", device="cuda")["g"].device.type == "cuda"


def test_atomic_write_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    mytorch.save({"v": 1}, path)
    with pytest.raises(TypeError, match="cannot store objects of type"):
        mytorch.save({"v": object()}, path)  # rejected before anything is written

    def fail_midway(fh, arrays, offsets, start):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(serialization, "_write_chunks", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        mytorch.save({"v": mytorch.ones(3)}, path)
    with pytest.raises(OSError, match="disk full"):
        mytorch.save({"v": mytorch.ones(3)}, tmp_path / "new.pt")
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]  # no temp files, no partial new file
    assert mytorch.load(path) == {"v": 1}


def _header_file(tmp_path, header, data=b""):
    blob = json.dumps(header).encode()
    path = tmp_path / "evil.pt"
    path.write_bytes(serialization.MAGIC + struct.pack("<Q", len(blob)) + blob + data)
    return path


BAD_FILES = [
    ("garbage", lambda p: p.write_bytes(b"\x80\x04\x95 cos\nsystem\n"), "not a mytorch checkpoint"),
    ("empty", lambda p: p.write_bytes(b""), "not a mytorch checkpoint"),
    ("truncated", lambda p: p.write_bytes(serialization.MAGIC + struct.pack("<Q", 100) + b"{}"), "truncated"),
    ("huge_header", lambda p: p.write_bytes(serialization.MAGIC + struct.pack("<Q", 1 << 62)), "too large"),
    ("bad_json", lambda p: p.write_bytes(serialization.MAGIC + struct.pack("<Q", 3) + b"{x}"), "corrupt"),
]


@pytest.mark.parametrize("name,make,message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_rejected(tmp_path, name, make, message):
    path = tmp_path / "bad.pt"
    make(path)
    with pytest.raises(RuntimeError, match=message) as info:
        mytorch.load(path)
    assert "bad.pt" in str(info.value)


@pytest.mark.parametrize("zipped", [True, False])
def test_torch_save_files_load_without_running_code(tmp_path, zipped):
    """torch.save's checkpoints (the zip format and the older stream) load as mytorch tensors; a pickle that
    names anything but tensors and plain containers is refused before it runs."""
    ref = torch.nn.Linear(3, 2)
    path = tmp_path / "torch.pt"
    torch.save({"model": ref.state_dict(), "step": 7}, path, _use_new_zipfile_serialization=zipped)
    with open(path, "rb") as fh:  # a file object too
        loaded = mytorch.load(fh)
    model = mytorch.nn.Linear(3, 2)
    model.load_state_dict(loaded["model"])
    assert loaded["step"] == 7
    np.testing.assert_array_equal(model.weight.detach().numpy(), ref.weight.detach().numpy())
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):  # unpickling this would create `marker`
            return open, (str(marker), "w")

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"weight": Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="unsupported global io.open"):
        mytorch.load(evil)
    assert not marker.exists()
    with mytorch.serialization.safe_globals([collections.Counter, argparse.Namespace]):  # allowed, as in torch
        torch.save({"args": argparse.Namespace(lr=0.1)}, path)
        assert mytorch.load(path)["args"].lr == 0.1
    with pytest.raises(pickle.UnpicklingError, match="argparse.Namespace"):
        mytorch.load(path)


EVIL_HEADERS = [
    ({"format": "mytorch", "version": 1, "root": {"T": "object", "v": "os.system"}, "tensors": []}, "unknown node"),
    ({"format": "mytorch", "version": 1, "root": {"T": "tensor", "i": 3}, "tensors": []}, "corrupt"),
    ({"format": "mytorch", "version": 1, "root": None,
      "tensors": [{"dtype": "float32", "shape": [1000], "offsets": [0, 4]}]}, "needs 4000 bytes"),
    ({"format": "mytorch", "version": 1, "root": None,
      "tensors": [{"dtype": "float32", "shape": [-1], "offsets": [0, 4]}]}, "bad tensor shape"),
    ({"format": "mytorch", "version": 1, "root": None,
      "tensors": [{"dtype": "object", "shape": [1], "offsets": [0, 8]}]}, "corrupt header"),
    ({"format": "mytorch", "version": 1, "root": None,
      "tensors": [{"dtype": "float32", "shape": [4], "offsets": [0, 16]}]}, "truncated"),
    ({"format": "pickle", "root": None, "tensors": []}, "corrupt"),
]


@pytest.mark.parametrize("header,message", EVIL_HEADERS)
def test_malicious_headers_rejected(tmp_path, header, message):
    with pytest.raises(RuntimeError, match=message):
        mytorch.load(_header_file(tmp_path, header, b"\x00" * 8))


# safetensors -----------------------------------------------------------------------------------
def _mixed_state_dict(seed=0):
    return {f"layer{i}.{dtype}": _mt(dtype, shape, seed + i)
            for i, (dtype, shape) in enumerate(zip(DTYPES * 2, SHAPES * 4))}


def test_safetensors_mytorch_to_torch_bit_exact(tmp_path):
    sd = _mixed_state_dict()
    path = tmp_path / "m.safetensors"
    mytorch.save_file(sd, path, metadata={"format": "pt"})
    loaded = th_load_file(str(path))
    assert set(loaded) == set(sd)
    for k, t in sd.items():
        assert str(loaded[k].dtype) == f"torch.{t.dtype.name}" and tuple(loaded[k].shape) == tuple(t.shape)
        got = loaded[k].view(torch.int16) if loaded[k].dtype == torch.bfloat16 else loaded[k]
        assert got.numpy().tobytes() == t.numpy().tobytes()
    # the very same bytes as the safetensors package writes
    as_torch = {k: (torch.from_numpy(v.numpy().view(np.int16).copy()).view(torch.bfloat16)
                    if v.dtype == mytorch.bfloat16 else torch.from_numpy(v.numpy().copy())) for k, v in sd.items()}
    assert serialization.save_bytes(sd, {"format": "pt"}) == th_save_bytes(as_torch, {"format": "pt"})
    assert serialization.load_metadata(path) == {"format": "pt"}


def test_safetensors_torch_to_mytorch_bit_exact(tmp_path):
    g = torch.Generator().manual_seed(0)
    sd = {"f64": torch.randn(3, generator=g, dtype=torch.float64), "f32": torch.randn(2, 5, generator=g),
          "f16": torch.randn(4, generator=g).half(), "bf16": torch.randn(4, generator=g).bfloat16(),
          "i64": torch.randint(-2 ** 62, 2 ** 62, (3,), generator=g), "i32": torch.arange(5, dtype=torch.int32),
          "i16": torch.tensor([-3, 7], dtype=torch.int16), "i8": torch.tensor([-128, 127], dtype=torch.int8),
          "u8": torch.tensor([0, 255], dtype=torch.uint8), "bool": torch.tensor([True, False]),
          "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3)}
    path = str(tmp_path / "t.safetensors")
    th_save_file(sd, path)
    if not mytorch._dtype._HAS_BF16:
        with pytest.raises(TypeError, match="bfloat16"):
            mytorch.load_file(path)
        del sd["bf16"]
        th_save_file(sd, path)
    out = mytorch.load_file(path)
    assert set(out) == set(sd)
    for k, t in sd.items():
        assert out[k].dtype.name == str(t.dtype).replace("torch.", "") and tuple(out[k].shape) == tuple(t.shape)
        raw = t.view(torch.int16) if t.dtype == torch.bfloat16 else t
        assert out[k].numpy().tobytes() == raw.numpy().tobytes()


def test_safetensors_validation(tmp_path):
    with pytest.raises(TypeError, match="expected mytorch.Tensor"):
        mytorch.save_file({"a": np.ones(2)}, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="metadata"):
        mytorch.save_file({"a": mytorch.ones(2)}, tmp_path / "x.safetensors", metadata={"a": 1})
    assert not os.listdir(tmp_path)
    header = json.dumps({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}).encode()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", len(header)) + header + b"\x00" * 8)
    with pytest.raises(RuntimeError, match="invalid data_offsets"):
        mytorch.load_file(bad)
    bad.write_bytes(b"\x01\x00")
    with pytest.raises(RuntimeError, match="bad.safetensors"):
        mytorch.load_file(bad)
