"""Every kernel compiles for real GPUs (sm_80, sm_90; fp16/bf16/fp32) at the configs the launchers choose,
with no register spills in the default configs; no GPU needed (Triton compiles ahead of time for a target).

The compile runs in a subprocess without TRITON_INTERPRET (this directory's conftest turns the interpreter
on). Results are cached in benchmarks/results/kernels_compile.json, keyed on a hash of Triton's version,
each kernel's source (and the jit functions it calls), its specialisation, options and target: a change to
a kernel recompiles exactly its variants. `python benchmarks/compile_kernels.py` refreshes the cache and
the table in benchmarks/results/kernels_compile.md.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CACHE = ROOT / "benchmarks" / "results" / "kernels_compile.json"

# Default configs allowed to spill, {(kernel, dtype): reason}; anything else that spills fails the test.
KNOWN_SPILLS = {}


def _compile(tmp_path, *flags):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    out = tmp_path / "rows.json"
    subprocess.run([sys.executable, "-m", "mytorch.kernels.aot", "--json", str(out), "--jobs", "2", *flags],
                   cwd=ROOT, env=env, check=True, timeout=3000)
    return json.loads(out.read_text())["rows"]


def _check(rows, default_only):
    failed = [f"{r['kernel']} {r['dtype']} {r['arch']} [{r['config']}]: {r['error']}" for r in rows if not r["ok"]]
    assert not failed, "kernels that do not compile:\n" + "\n".join(failed)
    assert {r["arch"] for r in rows} == {"sm80", "sm90"} and {r["dtype"] for r in rows} == {"fp16", "bf16", "fp32"}
    spills = [f"{r['kernel']} {r['dtype']} {r['arch']} [{r['config']}]: {r['spill_stores']} B spilled"
              for r in rows if r["default"] and r["spill_stores"] and (r["kernel"], r["dtype"]) not in KNOWN_SPILLS]
    assert not spills, "new register spills in default configs:\n" + "\n".join(spills)
    if default_only:
        assert all(r["default"] for r in rows)


@pytest.mark.skipif(sys.platform != "linux", reason="Triton's NVIDIA toolchain (ptxas) ships for Linux")
def test_default_configs_compile_without_spills(tmp_path):
    pytest.importorskip("triton.backends.nvidia")
    rows = _compile(tmp_path, "--cache", str(CACHE))
    _check(rows, default_only=True)
    names = {r["kernel"] for r in rows}
    for kernel in ("softmax_fwd_kernel", "ce_kernel", "norm_bwd_kernel", "matmul_kernel", "attn_bwd_dq_kernel",
                   "conv_dw_kernel", "adamw_multi_kernel", "rotary_kernel", "embedding_bwd_kernel", "swiglu_kernel"):
        assert kernel in names


def test_cache_is_what_the_compiler_says(tmp_path):
    """A cached row must be reproducible: recompile two of them from scratch and compare."""
    pytest.importorskip("triton.backends.nvidia")
    rows = _compile(tmp_path, "--arch", "sm90", "--only", "softmax_bwd_kernel,scale_rows_kernel", "--dtype", "fp16")
    cached = {r["key"]: r for r in json.loads(CACHE.read_text())["rows"]}
    assert rows and all(not r["cached"] for r in rows)
    for row in rows:
        assert row["key"] in cached, f"{row['kernel']} [{row['config']}] is missing from {CACHE.name}: rerun " \
                                     "benchmarks/compile_kernels.py"
        for field in ("ok", "registers", "spill_stores", "smem"):
            assert row[field] == cached[row["key"]][field], (row, cached[row["key"]])


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("MYTORCH_COMPILE_SWEEP") != "1",
                    reason="the full config sweep compiles ~3000 variants (about an hour on 2 cores where the "
                           "cache misses); set MYTORCH_COMPILE_SWEEP=1")
def test_every_launcher_config_compiles(tmp_path):
    _check(_compile(tmp_path, "--all", "--cache", str(CACHE)), default_only=False)
