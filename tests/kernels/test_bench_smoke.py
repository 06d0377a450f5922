"""benchmarks/bench_kernels.py --smoke runs end to end on the CPU Triton interpreter, and its checks can fail."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "bench_kernels.py")


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_kernels", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(importlib.util.find_spec("triton") is None,
                    reason="triton is not installed; the fused kernels cannot run")
def test_smoke_run_writes_every_op(tmp_path):
    env = dict(os.environ, TRITON_INTERPRET="1")
    proc = subprocess.run([sys.executable, SCRIPT, "--smoke", "--out", str(tmp_path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = (tmp_path / "kernels_smoke.md").read_text()
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    ops = {row[0].strip("| ") for row in rows}
    assert ops == set(load_bench().OPS)
    assert all(row[-1].strip(" |") == "ok" for row in rows)
    for row in rows:  # every implementation produced a finite throughput
        assert all(np.isfinite(float(v)) and float(v) > 0 for v in row[4:7]), row


@pytest.mark.parametrize("shift, ok", [(0.0, True), (1e-6, True), (1e-2, False)])
def test_compare_flags_errors(shift, ok):
    bench = load_bench()
    case = bench.Case("op", "size", {}, ("x",), None, "GB/s", (1, 1), ("op",), tol=1e-4)
    ref = (np.linspace(-1, 1, 50), {"x": np.ones(50)})
    got = (ref[0] + shift, {"x": ref[1]["x"] - shift})
    err, good = bench.compare(case, got, ref)
    assert err == pytest.approx(shift) and good is ok


def test_dropout_check_rejects_wrong_scale():
    bench = load_bench()
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal(4000) + 5, rng.standard_normal(4000)  # no zeros in x
    keep = rng.random(4000) < 0.5
    inputs = {"x": x}
    assert bench.dropout_check(inputs, x * keep * 2, {"x": dy * keep * 2}, dy) < 1e-12
    assert bench.dropout_check(inputs, x * keep, {"x": dy * keep}, dy) > 1      # missing 1/(1-p)
    assert bench.dropout_check(inputs, x * 2, {"x": dy * 2}, dy) == np.inf     # nothing dropped
