"""The strict fake GPU (mytorch/testing/fake_cupy.py) and mytorch's CUDA code running on it.

- test_fake_*: the fake itself is at least as strict as cupy (runs in every test run, no mytorch involved).
- test_device_*: device-parametrised tests of every module (ops, autograd, nn, optim, serialization, data, amp,
  the Accelerator, models) comparing "cuda" with "cpu"; they run on "cuda" when the suite runs under
  `--fake-cuda` (or on a real GPU).
- test_suite_under_fake_cuda: runs those and a representative slice of the suite (mytorch.testing.DEVICE_TEST_FILES
  with MYTORCH_TEST_DEVICE=cuda, so helpers.pair() builds CUDA tensors) in a subprocess under the fake.
"""
import io
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import mytorch
from mytorch.testing import DEVICE_TEST_SELECT, SMOKE_DEVICE_TEST_FILES, fake_cupy
from mytorch.testing._cupy_names import NAMES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CUDA = mytorch.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not CUDA, reason="no GPU; run with --fake-cuda"))]
TWO_GPUS = pytest.mark.skipif(not CUDA or mytorch.cuda.device_count() < 2, reason="needs two GPUs (--fake-cuda)")


@pytest.fixture
def cp():
    cupy, _ = fake_cupy.build()
    yield cupy
    fake_cupy.Device(0).use()


# the fake is strict ---------------------------------------------------------------------------------
def test_fake_array_is_not_numpy_and_never_converts_implicitly(cp):
    a = cp.arange(6, dtype=np.float32).reshape(2, 3)
    assert not isinstance(a, np.ndarray)
    refused = [lambda: np.asarray(a), lambda: np.array(a), lambda: np.sum(a), lambda: np.exp(a),
               lambda: np.concatenate([a, a]), lambda: a + np.ones(3), lambda: np.ones(3) * a,
               lambda: a[0] < np.zeros(3), lambda: cp.exp(np.ones(3)), lambda: cp.where(a > 1, a, np.zeros(3))]
    for i, fn in enumerate(refused):
        with pytest.raises(TypeError):
            fn()
            pytest.fail(f"case {i} converted a device array implicitly")
    np.testing.assert_array_equal(cp.asnumpy(a * 2 + 1), np.arange(6).reshape(2, 3) * 2 + 1)
    np.testing.assert_array_equal(a.get(), cp.asnumpy(a))
    assert isinstance(cp.asarray(np.ones(2)), cp.ndarray) and type(cp.asnumpy(a)) is np.ndarray
    s = cp.sum(a)  # reductions give 0-d device arrays, as cupy's do, not numpy scalars
    assert isinstance(s, cp.ndarray) and s.ndim == 0 and float(s) == 15.0


def test_fake_exposes_only_real_cupy_names(cp):
    public = {n for n in dir(cp) if not n.startswith("_")}
    assert public <= NAMES["cupy"] | {"ndarray"}, sorted(public - NAMES["cupy"])
    for name in ("busday_count", "asmatrix", "fromregex"):  # numpy has them, cupy doesn't
        assert hasattr(np, name) and name not in NAMES["cupy"]
        with pytest.raises(AttributeError):
            getattr(cp, name)
    a = cp.zeros(3)
    for method in ("setflags", "resize", "ctypes", "__array_interface__"):
        assert hasattr(np.zeros(3), method) and method not in NAMES["cupy.ndarray"]
        with pytest.raises(AttributeError):
            getattr(a, method)
    assert not hasattr(cp.random.default_rng(0), "permutation")  # cupy's Generator has none
    assert {n for n in dir(a) if not n.startswith("_")} <= NAMES["cupy.ndarray"]


def test_fake_two_devices_and_current_device(cp):
    assert cp.cuda.runtime.getDeviceCount() == 2 and cp.cuda.runtime.getDevice() == 0
    a = cp.ones(3)
    with cp.cuda.Device(1):
        b = cp.ones(3)
        assert cp.cuda.runtime.getDevice() == 1 and b.device.id == 1
        with pytest.raises(ValueError, match="different from the current device"):
            a + b  # an array of device 0 used while device 1 is current
        assert (b + 1).device.id == 1
    assert a.device.id == 0 and cp.cuda.runtime.getDevice() == 0
    with pytest.raises(ValueError, match="different from the current device"):
        cp.add(a, b)
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        cp.cuda.Device(2).use()
    with pytest.raises(ValueError, match="Unsupported dtype"):
        cp.zeros(2, dtype=np.dtype("V2"))


# device-parametrised tests of mytorch ----------------------------------------------------------------
def _host(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("device", DEVICES)
def test_device_ops_and_autograd_match_cpu(device):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((4, 5)).astype(np.float32)
    w_data = rng.standard_normal((5, 3)).astype(np.float32)
    results = {}
    for dev in ("cpu", device):
        x = mytorch.tensor(data, device=dev, requires_grad=True)
        w = mytorch.tensor(w_data, device=dev, requires_grad=True)
        h = (x @ w).tanh() * mytorch.tensor(2.0) + x[:, :3].exp().mean(0)  # a CPU scalar tensor joins in
        idx = mytorch.tensor([[2], [0], [1], [0]], device=dev)
        loss = h.softmax(-1).gather(1, idx).sum() + h.max() + h.cumsum(0).std() + h[idx[:, 0] > 0].sum()
        loss.backward()
        assert loss.device.type == dev and x.grad.device.type == dev
        results[dev] = (_host(loss), _host(x.grad), _host(w.grad), _host(h.sort(1).values))
    for a, b in zip(results["cpu"], results[device]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.skipif(not CUDA, reason="no GPU; run with --fake-cuda")
def test_device_mismatch_raises_pytorchs_error():
    x, other = mytorch.ones(2, 3, device="cuda"), "cpu"
    for fn in (lambda a, b: a + b, lambda a, b: a @ b.T, lambda a, b: mytorch.cat([a, b]),
               lambda a, b: mytorch.nn.functional.mse_loss(a, b)):
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            fn(x, mytorch.ones(2, 3, device=other))


@TWO_GPUS
def test_device_cuda1_stays_on_cuda1():
    assert mytorch.cuda.current_device() == 0
    made = [mytorch.zeros(2, device="cuda:1"), mytorch.randn(2, device="cuda:1"), mytorch.arange(3, device="cuda:1"),
            mytorch.randperm(4, device="cuda:1"), mytorch.full((2,), 3.0, device="cuda:1"),
            mytorch.eye(2, device="cuda:1"), mytorch.ones(2).to("cuda:1")]
    assert [str(t.device) for t in made] == ["cuda:1"] * len(made)
    assert sorted(made[3].tolist()) == [0, 1, 2, 3]
    x = mytorch.randn(3, 4, device="cuda:1", requires_grad=True)
    y = (x.relu() @ x.T).logsumexp(-1).sum()
    y.backward()
    assert (y.device, x.grad.device) == (mytorch.device("cuda:1"),) * 2
    with pytest.raises(RuntimeError, match=r"Expected all tensors to be on the same device.*cuda:1 and cuda:0"):
        x + mytorch.ones(3, 4, device="cuda:0")


@TWO_GPUS
def test_device_current_device_context_is_honoured():
    import cupy

    with cupy.cuda.Device(1):
        assert mytorch.cuda.current_device() == 1
        assert mytorch.ones(2, device="cuda").device == mytorch.device("cuda:1")  # "cuda" = the current GPU
    mytorch.cuda.set_device(1)
    try:
        assert mytorch.zeros(1, device="cuda").device.index == 1
    finally:
        mytorch.cuda.set_device(0)
    assert mytorch.zeros(1, device="cuda").device.index == 0


@pytest.mark.parametrize("device", DEVICES)
def test_device_nn_layers_and_optimizer_match_cpu(device):
    import mytorch.nn as nn
    import mytorch.nn.functional as F

    target_dev = "cuda:1" if device == "cuda" and mytorch.cuda.device_count() > 1 else device
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    tokens = rng.integers(0, 10, (2, 5))
    runs = {}
    for dev in ("cpu", target_dev):
        mytorch.manual_seed(0)
        conv, norm = nn.Conv2d(3, 4, 3, padding=1), nn.LayerNorm(16)
        emb, attn, head = nn.Embedding(10, 16), nn.MultiheadAttention(16, 2, batch_first=True), nn.Linear(16, 10)
        bn = nn.BatchNorm2d(4)
        mods = nn.ModuleList([conv, norm, emb, attn, head, bn]).to(dev)
        opt = mytorch.optim.AdamW(mods.parameters(), lr=1e-2)
        for _ in range(2):
            img = F.max_pool2d(bn(conv(mytorch.tensor(x, device=dev))).relu(), 2).flatten(1)[:, :16]
            seq = norm(emb(mytorch.tensor(tokens, device=dev)) + img[:, None, :])
            out, _ = attn(seq, seq, seq, need_weights=False)
            loss = F.cross_entropy(head(out).flatten(0, 1), mytorch.tensor(tokens, device=dev).flatten())
            opt.zero_grad()
            loss.backward()
            mytorch.nn.utils.clip_grad_norm_(mods.parameters(), 1.0)
            opt.step()
        state = opt.state[conv.weight]["exp_avg"]
        assert str(state.device) == str(mytorch.device(dev)) and str(bn.running_mean.device) == str(state.device)
        runs[dev] = [_host(loss)] + [_host(p) for p in mods.parameters()] + [_host(bn.running_var)]
    for a, b in zip(runs["cpu"], runs[target_dev]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_device_serialization_round_trip(device, tmp_path):
    t = mytorch.arange(6, dtype=mytorch.float32, device=device).reshape(2, 3)
    mytorch.save({"t": t, "n": 3}, tmp_path / "x.pt")
    back = mytorch.load(tmp_path / "x.pt")
    assert back["t"].device.type == device and back["t"].tolist() == t.tolist()
    assert mytorch.load(tmp_path / "x.pt", map_location="cpu")["t"].device.type == "cpu"
    buf = io.BytesIO()
    mytorch.save(mytorch.nn.Linear(3, 2).to(device).state_dict(), buf)
    buf.seek(0)
    assert {v.device.type for v in mytorch.load(buf).values()} == {device}
    from mytorch.serialization import load_file, save_file

    save_file({"t": t}, tmp_path / "x.safetensors")
    assert load_file(tmp_path / "x.safetensors", device=device)["t"].tolist() == t.tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_device_data_loader_batches_move(device):
    from mytorch.utils.data import DataLoader, TensorDataset

    ds = TensorDataset(mytorch.arange(10.0).reshape(5, 2), mytorch.arange(5))
    got = []
    for x, y in DataLoader(ds, batch_size=2, pin_memory=device == "cuda"):
        x, y = x.to(device, non_blocking=True), y.to(device)
        assert x.device.type == device
        got.append(_host(x * y[:, None]))
    np.testing.assert_array_equal(np.concatenate(got), np.arange(10.0).reshape(5, 2) * np.arange(5)[:, None])


@pytest.mark.parametrize("device", DEVICES)
def test_device_amp_autocast_and_grad_scaler(device):
    x = mytorch.randn(4, 8, device=device)
    w = mytorch.randn(8, 8, device=device, requires_grad=True)
    dtype = mytorch.float16 if device == "cuda" else mytorch.bfloat16
    with mytorch.autocast(device, dtype=dtype):
        y = x @ w
        assert y.dtype == dtype and y.device.type == device
    scaler = mytorch.amp.GradScaler(device, init_scale=4.0)
    opt = mytorch.optim.SGD([w], lr=0.1)
    before = _host(w).copy()
    scaler.scale(y.float().sum()).backward()
    scaler.step(opt)
    scaler.update()
    assert scaler.is_enabled() and not scaler._last_step_skipped
    np.testing.assert_allclose(_host(w), before - 0.1 * _host(x).sum(0)[:, None], rtol=1e-2, atol=1e-2)
    w.grad = mytorch.full_like(w, float("inf"))  # an overflowed step is skipped and the scale backs off
    scaler.step(opt)
    scaler.update()
    assert scaler._last_step_skipped and scaler.get_scale() == 2.0


@pytest.mark.parametrize("device", DEVICES)
def test_device_accelerator_trains_and_checkpoints(device, tmp_path):
    from mytorch.accelerate import Accelerator
    from tests.accelerate._common import loader, mlp, mse, regression_data

    x, y = regression_data()
    losses = {}
    for dev in ("cpu", device):
        acc = Accelerator(cpu=dev == "cpu")
        assert acc.device.type == dev
        model = mlp()
        opt = mytorch.optim.AdamW(model.parameters(), lr=1e-2)
        model, opt, dl = acc.prepare(model, opt, loader(x, y, 8))
        for batch in dl:
            assert batch[0].device.type == dev
            loss = mse(model, batch)
            acc.backward(loss)
            opt.step()
            opt.zero_grad()
        acc.save_state(tmp_path / dev)
        acc.load_state(tmp_path / dev)
        assert next(model.parameters()).device.type == dev
        losses[dev] = [_host(p) for p in model.parameters()]
    for a, b in zip(losses["cpu"], losses[device]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_device_gpt_forward_and_generate_match_cpu(device):
    from mytorch.models import GPT, GPTConfig

    mytorch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", n_layer=2)).eval()
    idx = mytorch.randint(0, 65, (2, 12))
    logits_cpu, _ = model(idx)
    out_cpu = model.generate(idx[:1, :4], 6, temperature=0)
    model.to(device)
    logits, _ = model(idx.to(device))
    out = model.generate(idx[:1, :4].to(device), 6, temperature=0)
    assert logits.device.type == device and out.device.type == device
    np.testing.assert_allclose(_host(logits), _host(logits_cpu), rtol=1e-4, atol=1e-5)
    assert out.tolist() == out_cpu.tolist()


@pytest.mark.skipif(not CUDA, reason="no GPU; run with --fake-cuda")
def test_device_cuda_queries():
    props = mytorch.cuda.get_device_properties(0)
    assert props.total_memory > 0 and props.name == mytorch.cuda.get_device_name(0)
    major, minor = mytorch.cuda.get_device_capability()
    assert major >= 5 and minor >= 0
    free, total = mytorch.cuda.mem_get_info()
    assert 0 < free <= total == props.total_memory


@pytest.mark.skipif(not CUDA, reason="no GPU; run with --fake-cuda")
def test_device_cuda_events_and_streams():
    """The timing pattern of PyTorch scripts: events around work on a side stream, elapsed_time in ms."""
    start, end = mytorch.cuda.Event(enable_timing=True), mytorch.cuda.Event(enable_timing=True)
    side = mytorch.cuda.Stream()
    side.wait_stream(mytorch.cuda.current_stream())
    start.record()
    with mytorch.cuda.stream(side):
        y = (mytorch.ones(64, 64, device="cuda") @ mytorch.ones(64, 64, device="cuda")).sum()
    mytorch.cuda.current_stream().wait_stream(side)
    end.record()
    end.synchronize()
    assert end.query() and side.query() and float(y) == 64.0 ** 3
    assert start.elapsed_time(end) >= 0.0
    with pytest.raises(RuntimeError, match="enable_timing=True"):
        mytorch.cuda.Event().elapsed_time(end)
    assert mytorch.cuda.default_stream() == mytorch.cuda.default_stream()


def test_cuda_queries_without_gpu_say_why():
    if CUDA:
        pytest.skip("a GPU (or the fake) is present")
    for fn in (mytorch.cuda.get_device_capability, mytorch.cuda.mem_get_info, mytorch.cuda.get_device_properties,
               mytorch.cuda.Event, mytorch.cuda.Stream):
        with pytest.raises(RuntimeError, match="CUDA is not available: cupy is (not installed|installed but)"):
            fn()


# the suite under the fake --------------------------------------------------------------------------
def _junit(path):
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    cases = list(suite.iter("testcase"))
    failed = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
    skipped = [c.get("name") for c in cases if c.find("skipped") is not None]
    return {k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")}, failed, skipped


def test_suite_under_fake_cuda(tmp_path):
    """A representative slice of the suite with CUDA tensors on the fake GPU: every test passes, none skipped."""
    if os.environ.get("MYTORCH_FAKE_CUDA") == "1":
        pytest.skip("already running under the fake GPU")
    env = dict(os.environ, MYTORCH_FAKE_CUDA="1", MYTORCH_TEST_DEVICE="cuda", WANDB_MODE="offline",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    xml = tmp_path / "fake.xml"
    files = [os.path.relpath(__file__, ROOT)] + list(SMOKE_DEVICE_TEST_FILES)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", f"--junitxml={xml}",
                           "-k", DEVICE_TEST_SELECT, *files], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=170)
    counts, failed, skipped = _junit(xml)
    assert proc.returncode == 0 and not failed, proc.stdout[-4000:] + proc.stderr[-2000:]
    # only this test and the no-GPU error test may skip: every CUDA case ran on the fake
    assert counts["tests"] >= 1000 and sorted(skipped) == ["test_cuda_queries_without_gpu_say_why",
                                                          "test_suite_under_fake_cuda"], (counts, skipped)


def test_cuda_without_a_driver_says_so(tmp_path):
    """cupy installed on a machine without a usable driver: is_available() is False and errors name the cause."""
    stub = tmp_path / "cupy"
    stub.mkdir()
    (stub / "__init__.py").write_text(
        "class CUDARuntimeError(RuntimeError):\n    pass\n"
        "class _Runtime:\n    @staticmethod\n    def getDeviceCount():\n"
        "        raise CUDARuntimeError('cudaErrorInsufficientDriver: CUDA driver version is insufficient')\n"
        "class cuda:\n    runtime = _Runtime\n")
    code = ("import mytorch\nassert not mytorch.cuda.is_available() and mytorch.cuda.device_count() == 0\n"
            "for fn in (mytorch.cuda.get_device_capability, mytorch.cuda.mem_get_info, lambda: mytorch.ones(1).cuda()):\n"
            "    try:\n        fn()\n    except RuntimeError as e:\n        print(e)\n")
    env = {k: v for k, v in os.environ.items() if k != "MYTORCH_FAKE_CUDA"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), ROOT])
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3 and all("cudaErrorInsufficientDriver" in line for line in lines), lines
    assert "no usable NVIDIA GPU" in lines[0] and "mytorch[gpu-cuda13]" in lines[2]
