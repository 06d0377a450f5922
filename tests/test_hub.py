"""mytorch.hub against torch.hub: cache dirs, atomic downloads, checkpoints by URL (PyTorch's formats read
without running their code), hubconf.py entrypoints, and GitHub repos through a fake, offline urlopen."""
import hashlib
import inspect
import json
import os
import pickle
import sys
import urllib.error
import urllib.request
import uuid
import zipfile

import numpy as np
import pytest
import torch
import torch.hub

import mytorch
from mytorch import hub
from tests.helpers import assert_close

REAL_URLOPEN = urllib.request.urlopen


@pytest.fixture
def home(tmp_path, monkeypatch):
    """TORCH_HOME in tmp_path for both libraries; returns the hub dir."""
    for var in ("TORCH_HUB", "TORCH_MODEL_ZOO", "XDG_CACHE_HOME", "GITHUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return tmp_path / "torch_home" / "hub"


def _file_url(path):
    return "file://" + os.path.abspath(path)


def _sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _only_files(folder):
    return sorted(p.name for p in folder.iterdir())


class FakeNet:
    """urlopen for both libraries: URLs in `routes` are served from local files, file:// URLs pass
    through, anything else fails like a machine without network. Records each call's timeout."""

    def __init__(self, monkeypatch):
        self.routes, self.calls = {}, []
        monkeypatch.setattr(urllib.request, "urlopen", self)
        monkeypatch.setattr(torch.hub, "urlopen", self)

    def __call__(self, url, data=None, timeout=None, **kwargs):
        full_url = url.full_url if isinstance(url, urllib.request.Request) else url
        self.calls.append((full_url, timeout))
        if full_url.startswith("file://"):
            return REAL_URLOPEN(url)
        if full_url in self.routes:
            return REAL_URLOPEN(_file_url(self.routes[full_url]))
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution (test: no network)")


@pytest.fixture
def net(monkeypatch):
    return FakeNet(monkeypatch)


# cache directory -------------------------------------------------------------------------------
@pytest.mark.parametrize("env", [{"TORCH_HOME": "{tmp}/th"}, {"XDG_CACHE_HOME": "{tmp}/xdg"},
                                 {"TORCH_HOME": "~/th", "XDG_CACHE_HOME": "{tmp}/xdg"}, {}])
def test_get_dir_matches_torch(env, home, tmp_path, monkeypatch):
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    assert hub.get_dir() == torch.hub.get_dir()
    assert hub.get_dir().endswith(os.sep + "hub")


def test_set_dir_matches_torch(home, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    hub.set_dir("~/elsewhere")
    torch.hub.set_dir("~/elsewhere")
    assert hub.get_dir() == torch.hub.get_dir() == str(tmp_path / "user" / "elsewhere")


def test_hub_reachable_from_mytorch():
    import importlib

    assert mytorch.hub is importlib.import_module("mytorch.hub")
    assert sorted(hub.__all__) == sorted(torch.hub.__all__)


@pytest.mark.parametrize("name", sorted(torch.hub.__all__))
def test_signatures_match_torch(name):
    def params(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert params(getattr(hub, name)) == params(getattr(torch.hub, name))


# download_url_to_file --------------------------------------------------------------------------
@pytest.fixture
def payload(tmp_path):
    src = tmp_path / "src" / "blob.bin"
    src.parent.mkdir()
    src.write_bytes(np.random.default_rng(0).bytes(300_000))  # a few read chunks
    return src


@pytest.mark.parametrize("prefix", [None, "", "full", "8"])
def test_download(payload, tmp_path, prefix):
    digest = _sha256(payload)
    hash_prefix = {"full": digest, "8": digest[:8]}.get(prefix, prefix)
    out = tmp_path / "out"
    out.mkdir()
    hub.download_url_to_file(_file_url(payload), str(out / "blob.bin"), hash_prefix=hash_prefix, progress=False)
    assert (out / "blob.bin").read_bytes() == payload.read_bytes()
    assert _only_files(out) == ["blob.bin"]  # no temporary left behind


def test_download_bad_hash_leaves_nothing(payload, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.bin").write_bytes(b"old")
    with pytest.raises(RuntimeError) as mine:
        hub.download_url_to_file(_file_url(payload), str(out / "keep.bin"), hash_prefix="0000", progress=False)
    with pytest.raises(RuntimeError) as ref:
        torch.hub.download_url_to_file(_file_url(payload), str(out / "keep.bin"), hash_prefix="0000",
                                       progress=False)
    assert str(mine.value) == str(ref.value) == f'invalid hash value (expected "0000", got "{_sha256(payload)}")'
    assert _only_files(out) == ["keep.bin"] and (out / "keep.bin").read_bytes() == b"old"


def test_download_missing_url_leaves_nothing(tmp_path):
    with pytest.raises(urllib.error.URLError):
        hub.download_url_to_file(_file_url(tmp_path / "nope.bin"), str(tmp_path / "dst.bin"), progress=False)
    assert _only_files(tmp_path) == []


def test_download_progress(payload, tmp_path, capsys):
    hub.download_url_to_file(_file_url(payload), str(tmp_path / "a.bin"), progress=False)
    assert capsys.readouterr().err == ""
    hub.download_url_to_file(_file_url(payload), str(tmp_path / "b.bin"), progress=True)
    assert capsys.readouterr().err != ""


def test_download_progress_without_tqdm(payload, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `from tqdm import tqdm` now raises ImportError
    hub.download_url_to_file(_file_url(payload), str(tmp_path / "a.bin"), progress=True)
    assert capsys.readouterr().err.rstrip().endswith("100.0%")
    hub.download_url_to_file(_file_url(payload), str(tmp_path / "b.bin"), progress=False)
    assert capsys.readouterr().err == ""


def test_download_uses_a_timeout(payload, tmp_path, net):
    hub.download_url_to_file(_file_url(payload), str(tmp_path / "a.bin"), progress=False)
    assert net.calls == [(_file_url(payload), hub.URL_TIMEOUT)]


# load_state_dict_from_url ----------------------------------------------------------------------
def _torch_linear_checkpoint(folder, **save_kwargs):
    """A torch nn.Linear's state_dict saved by torch.save as folder/linear-<sha256[:10]>.pth."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    tmp = folder / "linear.pth"
    folder.mkdir(exist_ok=True)
    torch.save(model.state_dict(), tmp, **save_kwargs)
    path = folder / f"linear-{_sha256(tmp)[:10]}.pth"
    tmp.rename(path)
    return model, path


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_torch_saved_state_dict_loads_into_mytorch_linear(home, tmp_path, legacy, capsys):
    ref_model, path = _torch_linear_checkpoint(tmp_path / "src", _use_new_zipfile_serialization=not legacy)
    state = hub.load_state_dict_from_url(_file_url(path), check_hash=True, progress=False)
    assert (home / "checkpoints" / path.name).read_bytes() == path.read_bytes()
    assert f'Downloading: "{_file_url(path)}"' in capsys.readouterr().out
    model = mytorch.nn.Linear(4, 3)
    model.load_state_dict(state)
    assert_close(model.weight, ref_model.weight)
    assert_close(model.bias, ref_model.bias)
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    assert_close(model(mytorch.tensor(x)), ref_model(torch.tensor(x)))
    ref_state = torch.hub.load_state_dict_from_url(_file_url(path), model_dir=str(tmp_path / "torch_cache"),
                                                   check_hash=True, progress=False)
    assert list(state) == list(ref_state)
    assert_close([state[k] for k in state], [ref_state[k] for k in ref_state])


def test_load_state_dict_from_url_reuses_cache(home, tmp_path, capsys):
    _, path = _torch_linear_checkpoint(tmp_path / "src")
    first = hub.load_state_dict_from_url(_file_url(path), progress=False)
    path.unlink()  # the source is gone: only the cache can answer
    capsys.readouterr()
    second = hub.load_state_dict_from_url(_file_url(path), progress=False)
    assert "Downloading" not in capsys.readouterr().out
    assert_close(second["weight"], first["weight"])


def test_hash_from_file_name(home, tmp_path):
    _, path = _torch_linear_checkpoint(tmp_path / "src")
    wrong = path.with_name("linear-deadbeef.pth")
    path.rename(wrong)
    with pytest.raises(RuntimeError, match='invalid hash value \\(expected "deadbeef"'):
        hub.load_state_dict_from_url(_file_url(wrong), check_hash=True, progress=False)
    assert _only_files(home / "checkpoints") == []  # nothing cached, not even a partial file
    state = hub.load_state_dict_from_url(_file_url(wrong), check_hash=False, progress=False)  # unchecked: loads
    assert state["weight"].shape == (3, 4)


def test_file_name_and_model_dir(home, tmp_path):
    _, path = _torch_linear_checkpoint(tmp_path / "src")
    state = hub.load_state_dict_from_url(_file_url(path), model_dir=str(tmp_path / "mine"), file_name="w.pth",
                                         progress=False)
    assert _only_files(tmp_path / "mine") == ["w.pth"] and not (home / "checkpoints").exists()
    assert state["bias"].shape == (3,)


@pytest.mark.parametrize("map_location", [None, "cpu", mytorch.device("cpu"), {"cpu": "cpu"},
                                          lambda t, location: t])
def test_map_location(home, tmp_path, map_location):
    _, path = _torch_linear_checkpoint(tmp_path / "src")
    state = hub.load_state_dict_from_url(_file_url(path), map_location=map_location, progress=False)
    assert state["weight"].device == mytorch.device("cpu")


def test_cuda_saved_checkpoint_maps_to_cpu(home, tmp_path):
    """A checkpoint saved from a GPU (its storages' location rewritten to cuda:0), loaded on the CPU."""
    _, path = _torch_linear_checkpoint(tmp_path / "src")
    gpu = tmp_path / "src" / "gpu.pth"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(gpu, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            dst.writestr(info, data)
    ref = torch.load(gpu, map_location="cpu", weights_only=True)
    state = hub.load_state_dict_from_url(_file_url(gpu), map_location="cpu", progress=False)
    assert_close([state["weight"], state["bias"]], [ref["weight"], ref["bias"]])
    if not mytorch.cuda.is_available():
        with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
            hub.load_state_dict_from_url(_file_url(gpu), progress=False)


def test_mytorch_checkpoint_by_url(home, tmp_path):
    src = tmp_path / "m.pt"
    mytorch.save({"w": mytorch.arange(6).reshape(2, 3), "n": 3}, src)
    state = hub.load_state_dict_from_url(_file_url(src), progress=False)
    assert state["n"] == 3 and state["w"].tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("inner", ["legacy", "zip"])
def test_legacy_zip_archive(home, tmp_path, inner):
    """A zip holding one torch.save file (how checkpoints of torch < 1.6 were often shipped)."""
    ref_model, path = _torch_linear_checkpoint(tmp_path / "src", _use_new_zipfile_serialization=inner == "zip")
    archive = tmp_path / "src" / "linear.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(path, "linear.pth")
    with pytest.warns(FutureWarning, match="Falling back to the old format"):
        state = hub.load_state_dict_from_url(_file_url(archive), progress=False)
    assert sorted(_only_files(home / "checkpoints")) == ["linear.pth", "linear.zip"]
    assert_close(state["weight"], ref_model.weight.detach())


# torch checkpoints of many kinds, compared with torch.load(weights_only=True) of the same file
_BASE = torch.arange(24.0).reshape(4, 6)
_SHARED = torch.arange(10, dtype=torch.float64)
CASES = {
    "float32": lambda: torch.randn(3, 5),
    "float64_int64_bool": lambda: {"f": torch.randn(2, dtype=torch.float64), "i": torch.arange(4),
                                   "b": torch.tensor([True, False])},
    "float16_int8_uint8_int16_int32": lambda: [torch.randn(3).half(), torch.tensor([-3, 4], dtype=torch.int8),
                                               torch.tensor([250], dtype=torch.uint8),
                                               torch.tensor([7], dtype=torch.int16), torch.tensor([9], dtype=torch.int32)],
    "complex": lambda: torch.tensor([1 + 2j, 3 - 1j]),
    "scalar_and_empty": lambda: (torch.tensor(2.5), torch.empty(0, 3)),
    "transposed": lambda: _BASE.t(),
    "offset_slice": lambda: _BASE[1:3, 2:],
    "shared_storage": lambda: {"whole": _SHARED, "tail": _SHARED[6:], "step": _SHARED[::3]},
    "parameter": lambda: torch.nn.Parameter(torch.randn(2, 2)),
    "nested_python": lambda: collections_case(),
    "module_state_dict": lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).state_dict(),
}


def collections_case():
    import collections

    return collections.OrderedDict(epoch=3, name="run", tags={"a", "b"}, blob=b"\x00\xff", ratio=0.5,
                                   z=complex(1, 2), shape=torch.Size([2, 3]), dtype=torch.float16,
                                   device=torch.device("cpu"), history=[(1, 2.0), None, True])


def _compare(mine, ref, where="obj"):
    if isinstance(ref, torch.Tensor):
        assert isinstance(mine, mytorch.Tensor), where
        assert isinstance(mine, mytorch.nn.Parameter) == isinstance(ref, torch.nn.Parameter), where
        assert mine.requires_grad == ref.requires_grad, where
        if ref.is_complex():  # assert_close would compare real parts only
            assert mine.dtype == getattr(mytorch, str(ref.dtype).split(".")[-1]), where
            np.testing.assert_array_equal(mine.detach().numpy(), ref.detach().numpy(), err_msg=where)
        else:
            assert_close(mine, ref, msg=where)
    elif isinstance(ref, dict):
        assert type(mine) is type(ref) and list(mine) == list(ref), where
        for k in ref:
            _compare(mine[k], ref[k], f"{where}[{k!r}]")
    elif isinstance(ref, (list, tuple)) and not isinstance(ref, torch.Size):
        assert type(mine) is type(ref) and len(mine) == len(ref), where
        for i, (m, r) in enumerate(zip(mine, ref)):
            _compare(m, r, f"{where}[{i}]")
    elif isinstance(ref, (torch.dtype, torch.device, torch.Size)):
        assert str(mine).replace("mytorch.", "torch.") == str(ref), where
    else:
        assert mine == ref and type(mine) is type(ref), where


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_torch_checkpoints_match_torch_load(case, legacy, tmp_path):
    torch.manual_seed(0)
    obj = CASES[case]()
    path = tmp_path / "ckpt.pth"
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    _compare(hub._load_file(str(path), None), torch.load(path, weights_only=True))


@pytest.mark.skipif(not mytorch._dtype._HAS_BF16, reason="bfloat16 needs ml_dtypes")
def test_bfloat16_checkpoint(tmp_path):
    ref = torch.randn(2, 3).bfloat16()
    torch.save(ref, tmp_path / "bf.pth")
    mine = hub._load_file(str(tmp_path / "bf.pth"), None)
    assert mine.dtype == mytorch.bfloat16
    np.testing.assert_array_equal(mine.float().numpy(), ref.float().numpy())


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("weights_only", [False, True])
def test_checkpoint_code_never_runs(home, tmp_path, legacy, weights_only):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.ones(2), "x": _Evil(marker)}, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(pickle.UnpicklingError, match="unsupported global posix.mkdir"):
        hub.load_state_dict_from_url(_file_url(path), weights_only=weights_only, progress=False)
    assert not marker.exists()


def test_whole_module_pickle_is_refused(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "model.pth")
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.linear.Linear"):
        hub._load_file(str(tmp_path / "model.pth"), None)


def test_storage_too_small_for_tensor(tmp_path):
    """A checkpoint whose tensor claims more elements than its storage holds: an error, never a read
    past the bytes."""
    torch.save(torch.arange(8.0), tmp_path / "ok.pth")
    with zipfile.ZipFile(tmp_path / "ok.pth") as src, zipfile.ZipFile(tmp_path / "bad.pth", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data[:12] if info.filename.endswith("/data/0") else data)
    with pytest.raises(RuntimeError, match="corrupt checkpoint"):
        hub._load_file(str(tmp_path / "bad.pth"), None)


def test_truncated_legacy_checkpoint(tmp_path):
    torch.save({"w": torch.arange(100.0)}, tmp_path / "ok.pth", _use_new_zipfile_serialization=False)
    data = (tmp_path / "ok.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[:-40])
    with pytest.raises(RuntimeError, match="file is truncated"):
        hub._load_file(str(tmp_path / "cut.pth"), None)


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "x.pth").write_bytes(b"hello world, not a checkpoint")
    with pytest.raises(RuntimeError, match="not a mytorch checkpoint"):
        hub._load_file(str(tmp_path / "x.pth"), None)


# hubconf.py entrypoints ------------------------------------------------------------------------
HUBCONF = '''
dependencies = ["os", "json"]
import {helper}

def linear(in_features, out_features=2, bias=True):
    """A mytorch Linear from hubconf."""
    import mytorch
    return mytorch.nn.Linear(in_features, out_features, bias=bias)

def add(a, b=10):
    """Adds a and b."""
    return {helper}.plus(a, b)

def _private():
    return 0

NOT_CALLABLE = 3
'''


@pytest.fixture
def write_repo(tmp_path):
    """write_repo(folder, dependencies=None): a hubconf.py plus a sibling module it imports."""
    helpers = []

    def write(folder, dependencies=None):
        helper = f"hub_helper_{uuid.uuid4().hex[:8]}"  # unique: sys.modules caches sibling modules
        helpers.append(helper)
        folder.mkdir(parents=True, exist_ok=True)
        text = HUBCONF.format(helper=helper)
        if dependencies is not None:
            text = text.replace('["os", "json"]', repr(dependencies))
        (folder / "hubconf.py").write_text(text)
        (folder / f"{helper}.py").write_text("def plus(a, b):\n    return a + b\n")
        return folder

    yield write
    for name in helpers:
        sys.modules.pop(name, None)


def test_load_local(write_repo, tmp_path):
    repo = str(write_repo(tmp_path / "repo"))
    model = hub.load(repo, "linear", 5, source="local", bias=False)
    assert isinstance(model, mytorch.nn.Linear) and model.weight.shape == (2, 5) and model.bias is None
    assert hub.load(repo, "add", 1, b=2, source="LOCAL") == torch.hub.load(repo, "add", 1, b=2, source="local") == 3
    assert repo not in sys.path


@pytest.mark.parametrize("dependencies, missing", [
    (["os", "no_such_pkg_xyz", "json"], "no_such_pkg_xyz"),
    (["no_such_pkg_xyz", "no_such_other"], "no_such_pkg_xyz, no_such_other"),
])
def test_missing_dependencies_match_torch(write_repo, tmp_path, dependencies, missing):
    repo = str(write_repo(tmp_path / "repo", dependencies=dependencies))
    for lib in (hub, torch.hub):
        with pytest.raises(RuntimeError) as info:
            lib.load(repo, "add", 1, source="local")
        assert str(info.value) == f"Missing dependencies: {missing}"


def test_missing_dotted_dependency(write_repo, tmp_path):
    # torch.hub lets find_spec's ModuleNotFoundError escape here; a missing parent is a missing dependency
    repo = str(write_repo(tmp_path / "repo", dependencies=["os.path", "no_such.sub"]))
    with pytest.raises(RuntimeError, match="^Missing dependencies: no_such.sub$"):
        hub.load(repo, "add", 1, source="local")


@pytest.mark.parametrize("model, error, message", [
    ("nope", RuntimeError, "Cannot find callable nope in hubconf"),
    ("NOT_CALLABLE", RuntimeError, "Cannot find callable NOT_CALLABLE in hubconf"),
    (3, ValueError, "Invalid input: model should be a string of function name"),
])
def test_bad_entrypoint_matches_torch(write_repo, tmp_path, model, error, message):
    repo = str(write_repo(tmp_path / "repo"))
    for lib in (hub, torch.hub):
        with pytest.raises(error) as info:
            lib.load(repo, model, source="local")
        assert str(info.value) == message


def test_unknown_source_matches_torch(tmp_path):
    for lib in (hub, torch.hub):
        with pytest.raises(ValueError) as info:
            lib.load(str(tmp_path), "x", source="gitlab")
        assert str(info.value) == 'Unknown source: "gitlab". Allowed values: "github" | "local".'


# GitHub repos, offline -------------------------------------------------------------------------
def test_list_help_load_from_cached_repo_match_torch(home, write_repo, net, capsys):
    write_repo(home / "owner_repo_main")
    assert hub.list("owner/repo:main") == torch.hub.list("owner/repo:main") == ["add", "linear"]
    assert hub.help("owner/repo:main", "add") == torch.hub.help("owner/repo:main", "add") == "Adds a and b."
    assert hub.load("owner/repo:main", "add", 4) == 14
    assert "Using cache found in" in capsys.readouterr().err
    hub.load("owner/repo:main", "add", 4, verbose=False)
    assert capsys.readouterr().err == ""
    with pytest.raises(RuntimeError, match="Cannot find callable nope in hubconf"):
        hub.help("owner/repo:main", "nope")
    assert all(not url.startswith("http") for url, _ in net.calls)  # the cache answered: no network asked


def test_offline_without_cache_fails_cleanly(home, net):
    with pytest.raises(RuntimeError) as mine:
        hub.load("owner/repo", "add", 1, trust_repo=True)
    with pytest.raises(RuntimeError) as ref:
        torch.hub.load("owner/repo", "add", 1, trust_repo=True)
    assert str(mine.value) == str(ref.value)
    assert "no internet connection" in str(mine.value)
    assert net.calls[0] == ("https://github.com/owner/repo/tree/main/", hub.URL_TIMEOUT)


@pytest.mark.parametrize("skip_validation", [False, True])
def test_offline_download_fails_cleanly(home, net, skip_validation):
    with pytest.raises(urllib.error.URLError, match="no network"):
        hub.load("owner/repo:dev", "add", 1, trust_repo=True, skip_validation=skip_validation)
    assert _only_files(home) == ["trusted_list"]  # no archive or partial download left
    assert all(timeout == hub.URL_TIMEOUT for _, timeout in net.calls)


def test_offline_default_branch_from_cache(home, write_repo, net):
    write_repo(home / "owner_repo_master")
    assert hub.load("owner/repo", "add", 1, b=1) == 2  # main can't be checked offline: the cached master answers


def _serve_repo(net, tmp_path, write_repo, zip_extra=()):
    """Routes for a GitHub repo owner/repo whose main branch is at commit abc123."""
    src = write_repo(tmp_path / "github_src")
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("owner-repo-abc123/", "")
        for f in sorted(src.iterdir()):
            zf.write(f, f"owner-repo-abc123/{f.name}")
        for name, data in zip_extra:
            zf.writestr(name, data)
    branches = tmp_path / "branches.json"
    branches.write_text(json.dumps([{"name": "main", "commit": {"sha": "abc123"}}]))
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    api = "https://api.github.com/repos/owner/repo"
    net.routes.update({"https://github.com/owner/repo/tree/main/": empty,
                       f"{api}/branches?per_page=100&page=1": branches,
                       f"{api}/branches?per_page=100&page=2": empty,
                       f"{api}/tags?per_page=100&page=1": empty,
                       "https://github.com/owner/repo/zipball/main": archive})


def test_github_download_extract_load(home, tmp_path, write_repo, net, monkeypatch):
    _serve_repo(net, tmp_path, write_repo)
    assert hub.load("owner/repo", "add", 1, b=2, trust_repo=True) == 3
    assert sorted(_only_files(home)) == ["owner_repo_main", "trusted_list"]
    assert (home / "trusted_list").read_text() == "owner_repo\n"
    assert (home / "owner_repo_main" / "hubconf.py").exists()
    assert all(timeout == hub.URL_TIMEOUT for _, timeout in net.calls)
    # torch.hub on the same fake GitHub gives the same answer and the same cache layout
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_ref"))
    assert torch.hub.load("owner/repo", "add", 1, b=2, trust_repo=True) == 3
    assert sorted(_only_files(tmp_path / "torch_ref" / "hub")) == ["owner_repo_main", "trusted_list"]
    # offline now: the cache answers
    monkeypatch.setenv("TORCH_HOME", str(home.parent))
    net.routes.clear()
    assert hub.list("owner/repo") == ["add", "linear"]


def test_github_forked_ref_rejected(home, tmp_path, write_repo, net):
    _serve_repo(net, tmp_path, write_repo)
    net.routes["https://github.com/owner/repo/zipball/fork-branch"] = net.routes.pop(
        "https://github.com/owner/repo/zipball/main")
    with pytest.raises(ValueError, match="Cannot find fork-branch in https://github.com/owner/repo"):
        hub.load("owner/repo:fork-branch", "add", 1, trust_repo=True)
    assert hub.load("owner/repo:fork-branch", "add", 1, trust_repo=True, skip_validation=True) == 11


def test_github_force_reload(home, tmp_path, write_repo, net):
    _serve_repo(net, tmp_path, write_repo)
    hub.load("owner/repo:main", "add", 1, trust_repo=True)
    (home / "owner_repo_main" / "hubconf.py").write_text("def add(a, b=0):\n    return -1\n")
    assert hub.load("owner/repo:main", "add", 1, trust_repo=True) == -1  # the cache, edited
    assert hub.load("owner/repo:main", "add", 1, trust_repo=True, force_reload=True) == 11


def test_github_zip_slip_rejected(home, tmp_path, write_repo, net):
    _serve_repo(net, tmp_path, write_repo, zip_extra=[("../../evil.txt", "x")])
    with pytest.raises(ValueError, match="directory traversal"):
        hub.load("owner/repo:main", "add", 1, trust_repo=True)
    assert not (home.parent.parent / "evil.txt").exists() and not (home.parent / "evil.txt").exists()
    assert _only_files(home) == ["trusted_list"]  # checked before extracting: nothing written, archive removed


def test_trust_repo(home, tmp_path, write_repo, net, monkeypatch):
    _serve_repo(net, tmp_path, write_repo)
    prompts = []

    def answer(reply):
        monkeypatch.setattr("builtins.input", lambda text: prompts.append(text) or reply)

    answer("n")
    with pytest.raises(Exception, match="Untrusted repository."):
        hub.load("owner/repo:main", "add", 1)  # trust_repo="check": not trusted yet, so it asks
    assert "owner_repo does not belong to the list of trusted repositories" in prompts[-1]
    answer("maybe")
    with pytest.raises(ValueError, match="Unrecognized response maybe."):
        hub.load("owner/repo:main", "add", 1)
    answer("y")
    assert hub.load("owner/repo:main", "add", 1) == 11
    assert (home / "trusted_list").read_text() == "owner_repo\n"
    asked = len(prompts)
    assert hub.load("owner/repo:main", "add", 1) == 11  # trusted now: no question
    assert len(prompts) == asked
    answer("n")
    with pytest.raises(Exception, match="Untrusted repository."):
        hub.load("owner/repo:main", "add", 1, trust_repo=False)  # False always asks
    answer("")
    with pytest.raises(Exception, match="Untrusted repository."):
        hub.load("pytorch/other:main", "add", 1, trust_repo=False)


def test_trusted_owner_needs_no_prompt(home, write_repo, net, monkeypatch):
    write_repo(home / "pytorch_thing_main")
    monkeypatch.setattr("builtins.input", lambda text: pytest.fail("asked"))
    assert hub.load("pytorch/thing:main", "add", 1) == 11


def test_bad_repo_spec(home, net):
    with pytest.raises(ValueError, match="repo_owner/repo_name"):
        hub.load("just-a-name", "add", trust_repo=True)


def test_read_url_decodes(tmp_path, net):
    (tmp_path / "page.txt").write_bytes("héllo".encode())
    assert hub._read_url(_file_url(tmp_path / "page.txt")) == "héllo"
