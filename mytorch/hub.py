"""torch.hub: run a GitHub repo's (or a local directory's) ``hubconf.py`` entrypoints, download files,
and load checkpoints by URL.

Running ``hubconf.py`` is code execution by design, as in PyTorch: the user names the repo to run.
Checkpoints are data: ``load_state_dict_from_url`` never runs code from the file. It loads with ``mytorch.load``,
which reads mytorch's format and PyTorch's (mytorch/_torch_format.py).
"""
import contextlib
import errno
import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
import warnings
import zipfile
from pathlib import Path
from urllib.parse import urlparse

from . import serialization

# `list` and `help` below are torch.hub's names; this module never calls the builtins they shadow
__all__ = ["download_url_to_file", "get_dir", "help", "list", "load", "load_state_dict_from_url", "set_dir"]

HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")  # bfd8deac in resnet18-bfd8deac.pth
_TRUSTED_REPO_OWNERS = ("facebookresearch", "facebookincubator", "pytorch", "fairinternal")
ENV_GITHUB_TOKEN = "GITHUB_TOKEN"
ENV_TORCH_HOME = "TORCH_HOME"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"
DEFAULT_CACHE_DIR = "~/.cache"
VAR_DEPENDENCY = "dependencies"
MODULE_HUBCONF = "hubconf.py"
READ_DATA_CHUNK = 128 * 1024
URL_TIMEOUT = 60  # seconds a connect or read may stall; urllib's default is to wait forever
_hub_dir = None


# cache directory -------------------------------------------------------------------------------
def _get_torch_home():
    default = os.path.join(os.getenv(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR), "torch")
    return os.path.expanduser(os.getenv(ENV_TORCH_HOME, default))


def get_dir():
    """The hub cache directory: set_dir's, else ``$TORCH_HOME/hub`` (TORCH_HOME defaults to
    ``$XDG_CACHE_HOME/torch``, XDG_CACHE_HOME to ``~/.cache``)."""
    if os.getenv("TORCH_HUB"):
        warnings.warn("TORCH_HUB is deprecated, please use env TORCH_HOME instead", stacklevel=2)
    if _hub_dir is not None:
        return _hub_dir
    return os.path.join(_get_torch_home(), "hub")


def set_dir(d):
    """Use the folder ``d`` for downloaded repos and weights."""
    global _hub_dir
    _hub_dir = os.path.expanduser(d)


# downloading -----------------------------------------------------------------------------------
def _urlopen(url):
    return urllib.request.urlopen(url, timeout=URL_TIMEOUT)  # looked up per call: tests patch it


def _read_url(url):
    with _urlopen(url) as response:
        return response.read().decode(response.headers.get_content_charset("utf-8"))


class _TextProgress:
    """The progress shown when tqdm isn't installed: a percentage (or a byte count) on stderr."""

    def __init__(self, total, disable):
        self.total, self.disable, self.n = total, disable, 0

    def update(self, n):
        if self.disable:
            return
        self.n += n
        text = f"{self.n:.1f} bytes" if self.total is None else f"{100 * self.n / float(self.total):.1f}%"
        sys.stderr.write("\r" + text)
        sys.stderr.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.disable:
            sys.stderr.write("\n")


def _progress_bar(total, progress):
    try:
        from tqdm import tqdm
    except ImportError:
        return _TextProgress(total, disable=not progress)
    return tqdm(total=total, disable=not progress, unit="B", unit_scale=True, unit_divisor=1024)


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    """Download ``url`` to the path ``dst``. The bytes go to a temporary file beside ``dst`` that is
    moved into place only once complete and, with ``hash_prefix``, once its SHA256 starts with it."""
    dst = os.path.expanduser(dst)
    # not NamedTemporaryFile: its 0600 mode would stick to the download; the name is unique instead
    for _ in range(tempfile.TMP_MAX):
        tmp_dst = f"{dst}.{uuid.uuid4().hex}.partial"
        try:
            f = open(tmp_dst, "xb")
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(errno.EEXIST, "No usable temporary file name found")
    try:
        with f, _urlopen(urllib.request.Request(url, headers={"User-Agent": "torch.hub"})) as response:
            lengths = response.info().get_all("Content-Length")
            file_size = int(lengths[0]) if lengths else None
            sha256 = hashlib.sha256() if hash_prefix is not None else None
            written = 0
            with _progress_bar(file_size, progress) as bar:
                while buffer := response.read(READ_DATA_CHUNK):
                    f.write(buffer)
                    written += len(buffer)
                    if sha256 is not None:
                        sha256.update(buffer)
                    bar.update(len(buffer))
        if file_size is not None and written != file_size:
            raise RuntimeError(f"incomplete download of {url}: got {written} of {file_size} bytes")
        if sha256 is not None:
            digest = sha256.hexdigest()
            if digest[:len(hash_prefix)] != hash_prefix:
                raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "{digest}")')
        os.replace(tmp_dst, dst)  # same folder, so same filesystem: atomic
    finally:
        if os.path.exists(tmp_dst):
            os.remove(tmp_dst)


def _load_file(path, map_location):
    """mytorch.load: mytorch's format or a torch.save file (read without running code, mytorch/_torch_format.py)."""
    return serialization.load(path, map_location=map_location)


# torch.save files of torch < 1.6 were often zipped by hand: a zip holding just that file
def _is_legacy_zip_format(filename):
    if zipfile.is_zipfile(filename):
        with zipfile.ZipFile(filename) as zf:
            members = zf.infolist()
        return len(members) == 1 and not members[0].is_dir()
    return False


def _legacy_zip_load(filename, model_dir, map_location):
    warnings.warn("Falling back to the old format < 1.6. This support will be deprecated in favor of default "
                  "zipfile format introduced in 1.6. Please redo torch.save() to save it in the new zipfile "
                  "format.", FutureWarning, stacklevel=3)
    with zipfile.ZipFile(filename) as zf:
        members = zf.infolist()
        if len(members) != 1:
            raise RuntimeError("Only one file(not dir) is allowed in the zipfile")
        _safe_extract_zip(zf, model_dir)
        extracted = os.path.join(model_dir, members[0].filename)
    return _load_file(extracted, map_location)


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True, check_hash=False,
                             file_name=None, weights_only=False):
    """Download ``url`` into ``model_dir`` (default ``<hub_dir>/checkpoints``) unless it is there
    already, then load it. ``check_hash``: the file name's ``-<sha256 prefix>.`` part must match the
    contents. Loading never runs code from the file, whatever ``weights_only`` says."""
    if os.getenv("TORCH_MODEL_ZOO"):
        warnings.warn("TORCH_MODEL_ZOO is deprecated, please use env TORCH_HOME instead", stacklevel=2)
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name if file_name is not None else os.path.basename(urlparse(url).path)
    cached_file = os.path.join(model_dir, filename)
    if not os.path.exists(cached_file):
        sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
        hash_prefix = None
        if check_hash:
            match = HASH_REGEX.search(filename)
            hash_prefix = match.group(1) if match else None
        download_url_to_file(url, cached_file, hash_prefix, progress=progress)
    if _is_legacy_zip_format(cached_file):
        return _legacy_zip_load(cached_file, model_dir, map_location)
    return _load_file(cached_file, map_location)


# repos: github archives and hubconf.py ---------------------------------------------------------
def _remove_if_exists(path):
    if os.path.isfile(path) or os.path.islink(path):
        os.remove(path)
    elif os.path.exists(path):
        shutil.rmtree(path)


def _safe_extract_zip(zip_file, extract_to):
    """Extract ``zip_file`` into ``extract_to``; ValueError, before anything is written, if a member
    would land outside it (zip slip)."""
    root = Path(extract_to).resolve()
    for member in zip_file.infolist():
        name = member.filename
        if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
            raise ValueError(f"Archive entry has absolute path: {name}")
        if ".." in re.split(r"[/\\]", name):
            raise ValueError(f"Archive entry contains directory traversal: {name}")
        if not (root / name).resolve().is_relative_to(root):
            raise ValueError(f"Archive entry escapes target directory: {name}")
    for member in zip_file.infolist():
        zip_file.extract(member, root)


def _git_archive_link(repo_owner, repo_name, ref):
    return f"https://github.com/{repo_owner}/{repo_name}/zipball/{ref}"  # redirects to codeload.github.com


def _parse_repo_info(github):
    repo_info, ref = github.split(":", 1) if ":" in github else (github, None)
    parts = repo_info.split("/")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f'Invalid github repo "{github}": expected the form "repo_owner/repo_name[:ref]"')
    repo_owner, repo_name = parts
    if ref is None:  # the default branch: main if it exists, else master
        try:
            with _urlopen(f"https://github.com/{repo_owner}/{repo_name}/tree/main/"):
                ref = "main"
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise
            ref = "master"
        except OSError as e:  # URLError, timeouts: offline, so only a cached copy can do
            for candidate in ("main", "master"):
                if os.path.exists(os.path.join(get_dir(), f"{repo_owner}_{repo_name}_{candidate}")):
                    ref = candidate
                    break
            if ref is None:
                raise RuntimeError("It looks like there is no internet connection and the repo could not be "
                                   f"found in the cache ({get_dir()})") from e
    return repo_owner, repo_name, ref


def _validate_not_a_forked_repo(repo_owner, repo_name, ref):
    """ValueError unless ``ref`` is a branch, tag or commit prefix of the repo itself (not of a fork)."""
    headers = {"Accept": "application/vnd.github.v3+json"}
    token = os.environ.get(ENV_GITHUB_TOKEN)
    if token is not None:
        headers["Authorization"] = f"token {token}"
    for url_prefix in (f"https://api.github.com/repos/{repo_owner}/{repo_name}/branches",
                       f"https://api.github.com/repos/{repo_owner}/{repo_name}/tags"):
        page = 0
        while True:
            page += 1
            url = f"{url_prefix}?per_page=100&page={page}"
            try:
                response = json.loads(_read_url(urllib.request.Request(url, headers=headers)))
            except urllib.error.HTTPError:
                if headers.pop("Authorization", None) is None:
                    raise
                # retry without the token, in case it lacks the permissions
                response = json.loads(_read_url(urllib.request.Request(url, headers=headers)))
            if not response:
                break
            for branch in response:
                if branch["name"] == ref or branch["commit"]["sha"].startswith(ref):
                    return
    raise ValueError(f"Cannot find {ref} in https://github.com/{repo_owner}/{repo_name}. If it's a commit from a "
                     "forked repo, please call hub.load() with forked repo directly.")


def _check_repo_is_trusted(repo_owner, repo_name, owner_name_branch, trust_repo):
    hub_dir = get_dir()
    filepath = os.path.join(hub_dir, "trusted_list")
    Path(filepath).touch()
    with open(filepath) as fh:
        trusted_repos = tuple(line.strip() for line in fh)
    # repos downloaded before the trusted list existed count as trusted
    downloaded = next(os.walk(hub_dir))[1]
    owner_name = f"{repo_owner}_{repo_name}"
    is_trusted = (owner_name in trusted_repos or owner_name_branch in downloaded
                  or repo_owner in _TRUSTED_REPO_OWNERS)
    if trust_repo is False or (trust_repo == "check" and not is_trusted):
        response = input(f"The repository {owner_name} does not belong to the list of trusted repositories and as "
                         "such cannot be downloaded. Do you trust this repository and wish to add it to the "
                         "trusted list of repositories (y/N)?")
        if response.lower() in ("y", "yes"):
            if is_trusted:
                print("The repository is already trusted.")
        elif response.lower() in ("n", "no", ""):
            raise Exception("Untrusted repository.")  # torch raises this exact plain Exception
        else:
            raise ValueError(f"Unrecognized response {response}.")
    if not is_trusted:
        with open(filepath, "a") as fh:
            fh.write(owner_name + "\n")


def _get_cache_or_reload(github, force_reload, trust_repo, verbose=True, skip_validation=False):
    """The local folder of ``owner/repo[:ref]``, downloaded from GitHub unless cached."""
    hub_dir = get_dir()
    os.makedirs(hub_dir, exist_ok=True)
    repo_owner, repo_name, ref = _parse_repo_info(github)
    normalized_ref = ref.replace("/", "_")  # branch names may hold '/'
    owner_name_branch = "_".join([repo_owner, repo_name, normalized_ref])
    repo_dir = os.path.join(hub_dir, owner_name_branch)
    _check_repo_is_trusted(repo_owner, repo_name, owner_name_branch, trust_repo=trust_repo)
    if not force_reload and os.path.exists(repo_dir):
        if verbose:
            sys.stderr.write(f"Using cache found in {repo_dir}\n")
        return repo_dir
    if not skip_validation:
        _validate_not_a_forked_repo(repo_owner, repo_name, ref)
    cached_file = os.path.join(hub_dir, normalized_ref + ".zip")
    _remove_if_exists(cached_file)
    url = _git_archive_link(repo_owner, repo_name, ref)
    sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
    try:
        download_url_to_file(url, cached_file, progress=False)
    except urllib.error.HTTPError as err:
        if err.code != 300:
            raise
        # 300 Multiple Choices: the ref is both a tag and a branch; like git, assume the branch
        warnings.warn(f"The ref {ref} is ambiguous. Perhaps it is both a tag and a branch in the repo? Torchhub "
                      "will now assume that it's a branch. You can disambiguate tags and branches by explicitly "
                      "passing refs/heads/branch_name or refs/tags/tag_name as the ref. That might require using "
                      "skip_validation=True.", stacklevel=3)
        download_url_to_file(_git_archive_link(repo_owner, repo_name, f"refs/heads/{ref}"), cached_file,
                             progress=False)
    try:
        with zipfile.ZipFile(cached_file) as zf:
            # GitHub names the archive's top folder <owner>-<repo>-<sha>; it becomes repo_dir
            extracted_repo = os.path.join(hub_dir, zf.infolist()[0].filename)
            _remove_if_exists(extracted_repo)
            _safe_extract_zip(zf, hub_dir)
    finally:
        _remove_if_exists(cached_file)
    _remove_if_exists(repo_dir)
    shutil.move(extracted_repo, repo_dir)
    return repo_dir


@contextlib.contextmanager
def _add_to_sys_path(path):
    sys.path.insert(0, path)
    try:
        yield
    finally:
        sys.path.remove(path)


def _import_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise AssertionError(f"failed to load spec from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _import_hubconf(repo_dir):
    with _add_to_sys_path(repo_dir):
        return _import_module(MODULE_HUBCONF, os.path.join(repo_dir, MODULE_HUBCONF))


def _load_attr_from_module(module, func_name):
    return getattr(module, func_name) if func_name in dir(module) else None


def _check_module_exists(name):
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a missing parent package, or a module without a spec
        return False


def _check_dependencies(module):
    dependencies = _load_attr_from_module(module, VAR_DEPENDENCY)
    if dependencies is not None:
        missing = [pkg for pkg in dependencies if not _check_module_exists(pkg)]
        if missing:
            raise RuntimeError(f"Missing dependencies: {', '.join(missing)}")


def _load_entry_from_hubconf(module, model):
    if not isinstance(model, str):
        raise ValueError("Invalid input: model should be a string of function name")
    # a dependency that hubconf.py imports at top level fails earlier, with Python's own ImportError
    _check_dependencies(module)
    func = _load_attr_from_module(module, model)
    if func is None or not callable(func):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return func


def list(github, force_reload=False, skip_validation=False, trust_repo="check", verbose=True):
    """The names of the callable entrypoints in the ``hubconf.py`` of ``owner/repo[:ref]`` (those not
    starting with ``_``)."""
    repo_dir = _get_cache_or_reload(github, force_reload, trust_repo, verbose=verbose,
                                    skip_validation=skip_validation)
    hub_module = _import_hubconf(repo_dir)
    return [name for name in dir(hub_module) if callable(getattr(hub_module, name)) and not name.startswith("_")]


def help(github, model, force_reload=False, skip_validation=False, trust_repo="check"):
    """The docstring of entrypoint ``model`` in the ``hubconf.py`` of ``owner/repo[:ref]``."""
    repo_dir = _get_cache_or_reload(github, force_reload, trust_repo, verbose=True,
                                    skip_validation=skip_validation)
    return _load_entry_from_hubconf(_import_hubconf(repo_dir), model).__doc__


def load(repo_or_dir, model, *args, source="github", trust_repo="check", force_reload=False, verbose=True,
         skip_validation=False, **kwargs):
    """Call entrypoint ``model`` of a repo's ``hubconf.py`` with ``*args, **kwargs`` and return its result.
    ``source="github"``: ``repo_or_dir`` is ``owner/repo[:ref]`` (downloaded unless cached);
    ``source="local"``: a directory holding ``hubconf.py``."""
    source = source.lower()
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    if source == "github":
        repo_or_dir = _get_cache_or_reload(repo_or_dir, force_reload, trust_repo, verbose=verbose,
                                           skip_validation=skip_validation)
    return _load_local(repo_or_dir, model, *args, **kwargs)


def _load_local(hubconf_dir, model, *args, **kwargs):
    # the entrypoint runs with its repo on sys.path, so it can import the repo's modules lazily
    with _add_to_sys_path(hubconf_dir):
        hub_module = _import_module(MODULE_HUBCONF, os.path.join(hubconf_dir, MODULE_HUBCONF))
        entry = _load_entry_from_hubconf(hub_module, model)
        return entry(*args, **kwargs)
