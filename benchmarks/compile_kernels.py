"""Compile every Triton kernel for sm_80 and sm_90 (fp16/bf16/fp32) without a GPU and write
benchmarks/results/kernels_compile.md (the table) and kernels_compile.json (the rows, also the cache that
tests/kernels/test_compile.py reuses by key).

    python benchmarks/compile_kernels.py            # the configs the launchers pick by default
    python benchmarks/compile_kernels.py --all      # + every other config they can choose (about an hour)
    python benchmarks/compile_kernels.py --all --only adamw_multi_kernel   # one kernel's configs (others kept)
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def compile_rows(all_configs, jobs, cache_path, only=None):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    out = RESULTS / "kernels_compile.tmp.json"
    cmd = [sys.executable, "-m", "mytorch.kernels.aot", "--json", str(out), "--jobs", str(jobs), "--cache", str(cache_path)]
    cmd += (["--all"] if all_configs else []) + (["--only", ",".join(sorted(only))] if only else [])
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)
    data = json.loads(out.read_text())
    out.unlink()
    return data


def usage(row):
    if not row["ok"]:
        return "FAILS"
    spill = f", **spill {row['spill_stores']} B**" if row["spill_stores"] else ""
    return f"{row['registers']} regs, {row['smem'] // 1024 if row['smem'] >= 1024 else row['smem']}" \
           f"{' KB' if row['smem'] >= 1024 else ' B'} smem{spill}"


def table(rows):
    by_variant = {}
    for r in rows:
        by_variant.setdefault((r["kernel"], r["config"], r["dtype"]), {})[r["arch"]] = r
    lines = ["| kernel | config | dtype | sm_80 | sm_90 |", "|---|---|---|---|---|"]
    for (kernel, config, dtype), arch in sorted(by_variant.items()):
        cells = [usage(arch[a]) if a in arch else "-" for a in ("sm80", "sm90")]
        lines.append(f"| {kernel} | `{config}` | {dtype} | {cells[0]} | {cells[1]} |")
    return lines


def write_markdown(rows, seconds):
    import triton

    default = [r for r in rows if r["default"]]
    sweep = [r for r in rows if not r["default"]]
    spilled = [r for r in default if r["spill_stores"]]
    lines = [
        "# Kernels compiled for real GPUs (no GPU needed)",
        "",
        f"Triton {triton.__version__}; `triton.compile(ASTSource(...), target=GPUTarget('cuda', arch, 32))` of the",
        "launches the launchers make (captured from real launcher calls, see mytorch/kernels/aot_cases.py), then",
        "the bundled `ptxas -v` for registers and spills; smem is the shared memory the kernel needs. Written by",
        "`python benchmarks/compile_kernels.py`; tests/kernels/test_compile.py fails on a compile error or on a",
        "new spill in a default config. bf16 is compiled from the fp16 launch with bf16 pointers.",
        "",
        f"- variants: {len(rows)} ({len(default)} default-config, {len(sweep)} sweep), failures: "
        f"{sum(not r['ok'] for r in rows)}, default configs that spill: {len(spilled)}",
        f"- this run: {seconds:.0f} s wall; only variants missing from kernels_compile.json (keyed by source hash)"
        " are compiled",
        "",
        "## Default configs (what the launchers pick for typical shapes)",
        "",
        *table(default),
    ]
    if sweep:
        lines += ["", "## Other configs the launchers can choose", "", *table(sweep)]
    (RESULTS / "kernels_compile.md").write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also every non-default config (slow)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", help="comma-separated kernel names to compile; the other kernels' rows are kept")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    cache_path = RESULTS / "kernels_compile.json"
    old = json.loads(cache_path.read_text())["rows"] if cache_path.exists() else []
    data = compile_rows(args.all, args.jobs, cache_path, only)
    rows = data["rows"]
    keys = {r["key"] for r in rows}

    def keep(row):
        """An earlier row this run did not produce: another kernel's (under --only), or a sweep row of an
        earlier --all run (its key still says whether it is current)."""
        if row["key"] in keys:
            return False
        if only and row["kernel"] not in only:
            return True
        return not args.all and not row["default"]

    rows = rows + [r for r in old if keep(r)]
    for r in rows:
        r.pop("cached", None)
    import triton

    cache_path.write_text(json.dumps({"triton": triton.__version__, "rows": rows}, indent=0) + "\n")
    write_markdown(rows, data["seconds"])
    print(f"{len(rows)} variants, {sum(not r['ok'] for r in rows)} failures, {data['seconds']} s")


if __name__ == "__main__":
    main()
