"""Checkpoint files that can't be turned against the user: what a save does to what is already at the
path, files whose header lies about their size, writers killed mid-save, strict headers, checksums."""
import io
import json
import os
import resource
import signal
import stat
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import mytorch
from mytorch import serialization

safetensors_torch = pytest.importorskip("safetensors.torch")


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# 1. what is already at the path ----------------------------------------------------------------
def test_save_keeps_mode_of_existing_file(tmp_path):
    path = tmp_path / "private.pt"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    mytorch.save({"w": mytorch.ones(3)}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert mytorch.load(path)["w"].tolist() == [1.0, 1.0, 1.0]


def test_new_file_mode_follows_umask(tmp_path):
    old = os.umask(0o027)
    try:
        mytorch.save(mytorch.ones(1), tmp_path / "new.pt")
        mytorch.save_file({"a": mytorch.ones(1)}, tmp_path / "new.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.pt").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "new.safetensors").st_mode) == 0o640


def test_save_writes_through_symlink(tmp_path):
    target = tmp_path / "real.pt"
    target.write_bytes(b"old")
    link = tmp_path / "link.pt"
    link.symlink_to(target)
    mytorch.save(mytorch.arange(4), link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert mytorch.load(target).tolist() == [0, 1, 2, 3]


def test_save_keeps_hard_links(tmp_path):
    first, second = tmp_path / "a.pt", tmp_path / "b.pt"
    first.write_bytes(b"old")
    os.link(first, second)
    mytorch.save(mytorch.arange(3), first)
    assert os.stat(first).st_ino == os.stat(second).st_ino
    assert mytorch.load(second).tolist() == [0, 1, 2]


def test_save_to_fifo_writes_into_it(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo, "rb").read()))
    reader.start()
    mytorch.save(mytorch.arange(5), fifo)
    reader.join(10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a FIFO, not replaced by a regular file
    assert mytorch.load(io.BytesIO(received[0])).tolist() == [0, 1, 2, 3, 4]


def test_save_to_directory_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match="directory"):
        mytorch.save(mytorch.ones(1), tmp_path)


# 2. headers that lie about sizes -----------------------------------------------------------------
def _mytorch_file_claiming(numel):
    spec = {"dtype": "float32", "shape": [numel], "device": "cpu", "requires_grad": False, "parameter": False,
            "offsets": [0, 4 * numel]}
    header = json.dumps({"format": "mytorch", "version": 1, "root": {"T": "tensor", "i": 0},
                         "tensors": [spec]}).encode()
    return serialization.MAGIC + struct.pack("<Q", len(header)) + header + b"\x00" * 16


def _safetensors_claiming(numel):
    header = json.dumps({"a": {"dtype": "F32", "shape": [numel], "data_offsets": [0, 4 * numel]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\x00" * 16


class _Unseekable(io.RawIOBase):
    def __init__(self, data):
        self._buf = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        return self._buf.readinto(b)


@pytest.mark.parametrize("numel", [2 * 10 ** 9, 10 ** 12])
def test_size_claims_checked_before_allocating(tmp_path, numel):
    before = _peak_rss_mb()
    start = time.perf_counter()
    path = tmp_path / "liar.pt"
    path.write_bytes(_mytorch_file_claiming(numel))
    st_path = tmp_path / "liar.safetensors"
    st_path.write_bytes(_safetensors_claiming(numel))
    with pytest.raises(RuntimeError, match="truncated"):
        mytorch.load(path)
    with pytest.raises(RuntimeError, match="truncated"):
        mytorch.load(_Unseekable(_mytorch_file_claiming(numel)))
    with pytest.raises(RuntimeError, match="truncated"):
        mytorch.load_file(st_path)
    with pytest.raises(RuntimeError, match="truncated"):
        serialization.load_bytes(_safetensors_claiming(numel))
    assert time.perf_counter() - start < 2.0
    assert _peak_rss_mb() - before < 200  # nothing near the claimed gigabytes was allocated


def test_header_length_beyond_file(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(struct.pack("<Q", 50_000_000) + b"{}")
    with pytest.raises(RuntimeError, match="larger than the file"):
        mytorch.load_file(path)


# 3. writers killed mid-save ------------------------------------------------------------------------
_KILLED_WRITER = """
import sys, mytorch
x = mytorch.zeros(64 * 1024 * 1024 // 4)
print("ready", flush=True)
while True:
    mytorch.save({"x": x}, sys.argv[1])
"""


def test_temp_files_of_killed_writers_are_cleaned_up(tmp_path):
    path = tmp_path / "ckpt.pt"
    mytorch.save({"x": mytorch.ones(2)}, path)
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path)], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    deadline = time.time() + 30
    while not any(n.endswith(".tmp") for n in os.listdir(tmp_path)) and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert mytorch.load(path)["x"].shape[0] in (2, 64 * 1024 * 1024 // 4)  # old or new file, never torn
    # an orphan whose writer is dead goes; a live writer's temp file stays
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live_tmp = tmp_path / f".ckpt.pt.{live.pid}.abcdef.tmp"
        live_tmp.write_bytes(b"in progress")
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
        (tmp_path / f".ckpt.pt.{int(dead.stdout)}.123456.tmp").write_bytes(b"orphan")
        mytorch.save({"x": mytorch.ones(3)}, path)
        left = sorted(n for n in os.listdir(tmp_path) if n.endswith(".tmp"))
        assert left == [live_tmp.name]
    finally:
        live.kill()
        live.wait()


# 4. bfloat16 ----------------------------------------------------------------------------------------
@pytest.mark.skipif(not mytorch._dtype._HAS_BF16, reason="bfloat16 needs ml_dtypes")
def test_bfloat16_round_trips_through_every_writer(tmp_path):
    import torch

    x = mytorch.randn(3, 4).to(mytorch.bfloat16)
    mytorch.save({"x": x}, tmp_path / "a.pt")
    assert mytorch.load(tmp_path / "a.pt")["x"].numpy().tobytes() == x.numpy().tobytes()
    mytorch.save_file({"x": x}, tmp_path / "a.safetensors")
    theirs = safetensors_torch.load_file(str(tmp_path / "a.safetensors"))["x"]
    assert theirs.dtype == torch.bfloat16
    assert theirs.view(torch.int16).numpy().tobytes() == x.numpy().tobytes()
    assert serialization.load_bytes(serialization.save_bytes({"x": x}))["x"].numpy().tobytes() == x.numpy().tobytes()


def test_bfloat16_file_without_ml_dtypes_names_the_package(tmp_path, monkeypatch):
    import torch

    safetensors_torch.save_file({"x": torch.ones(2, dtype=torch.bfloat16)}, str(tmp_path / "b.safetensors"))
    monkeypatch.setattr(mytorch._dtype, "_HAS_BF16", False)
    with pytest.raises(TypeError, match="ml_dtypes"):
        mytorch.load_file(tmp_path / "b.safetensors")


# 5. strict headers -------------------------------------------------------------------------------
def _mytorch_file(root, specs=None, version=1, data=b""):
    header = json.dumps({"format": "mytorch", "version": version, "root": root, "tensors": specs or []}).encode()
    return io.BytesIO(serialization.MAGIC + struct.pack("<Q", len(header)) + header + data)


_ONE = [{"dtype": "float32", "shape": [1], "device": "cpu", "requires_grad": False, "parameter": False,
         "offsets": [0, 4]}]


@pytest.mark.parametrize("root,specs,version,message", [
    ({"T": "tensor", "i": -1}, _ONE, 1, "out of range"),
    ({"T": "tensor", "i": 1}, _ONE, 1, "out of range"),
    ({"T": "tensor", "i": True}, _ONE, 1, "out of range"),
    ({"T": "dict", "k": ["a", "b"], "v": [1]}, None, 1, "2 keys but 1 values"),
    (None, None, "x", "format version"),
    (None, None, -3, "format version"),
])
def test_mytorch_header_strictness(root, specs, version, message):
    with pytest.raises(RuntimeError, match=message):
        mytorch.load(_mytorch_file(root, specs, version, data=b"\x00" * 4 if specs else b""))


def _raw_safetensors(header_text, data):
    blob = header_text.encode()
    return struct.pack("<Q", len(blob)) + blob + data


# (duplicate keys: the safetensors package keeps the last one; an ambiguous file is refused here)
@pytest.mark.parametrize("name,raw,message", [
    ("trailing", _raw_safetensors('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 8),
     "trailing bytes"),
    ("duplicate", _raw_safetensors('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                   '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 4),
     "duplicate key"),
    ("metadata", _raw_safetensors('{"__metadata__":{"n":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
                                  b"\x00" * 4), "__metadata__"),
    ("gap", _raw_safetensors('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\x00" * 8),
     "invalid data_offsets"),
])
def test_safetensors_strictness_matches_the_safetensors_package(tmp_path, name, raw, message):
    path = tmp_path / f"{name}.safetensors"
    path.write_bytes(raw)
    if name != "duplicate":
        with pytest.raises(Exception):
            safetensors_torch.load_file(str(path))  # the reference implementation refuses it too
    with pytest.raises(RuntimeError, match=message):
        mytorch.load_file(path)
    with pytest.raises(RuntimeError, match=message):
        serialization.load_bytes(raw)


# 6. checksums -------------------------------------------------------------------------------------
def test_flipped_bits_in_tensor_data_are_detected(tmp_path):
    path = tmp_path / "w.pt"
    mytorch.save({"w": mytorch.randn(64, 64), "b": mytorch.zeros(64)}, path)
    raw = bytearray(path.read_bytes())
    data_start = len(serialization.MAGIC) + 8 + struct.unpack("<Q", raw[8:16])[0]
    rng = np.random.default_rng(0)
    for _ in range(20):
        corrupted = bytearray(raw)
        pos = int(rng.integers(data_start, len(raw)))
        corrupted[pos] ^= 1 << int(rng.integers(0, 8))
        path.write_bytes(corrupted)
        with pytest.raises(RuntimeError, match="checksum"):
            mytorch.load(path)
