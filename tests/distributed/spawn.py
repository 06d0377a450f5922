"""Start the ranks of a test worker as separate processes, as a launcher would.

Each rank runs `python <test file> <worker> <args...>` with RANK / WORLD_SIZE / LOCAL_RANK /
MASTER_ADDR / MASTER_PORT set (a free local port each time), its output in a log file (no pipe can
fill up and stall it), and the whole group killed if it outlives `timeout`. A worker saves its
arrays with `save(...)`; `run_ranks` returns them, one dict per rank.
"""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(test_file, worker, tmp_path, world_size=2, timeout=90, args=()):
    port = free_port()
    procs, logs = [], []
    for rank in range(world_size):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                   LOCAL_WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   TEST_OUT_DIR=str(tmp_path), WANDB_MODE="offline", OMP_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        log = open(tmp_path / f"rank{rank}.log", "w")
        logs.append(log)
        procs.append(subprocess.Popen([sys.executable, str(test_file), worker, *map(str, args)], env=env,
                                      stdout=log, stderr=subprocess.STDOUT, cwd=REPO))
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        pass
    finally:
        hung = [r for r, p in enumerate(procs) if p.poll() is None]
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    report = "\n".join(f"--- rank {r} (exit {p.returncode}) ---\n" + (tmp_path / f"rank{r}.log").read_text()[-4000:]
                       for r, p in enumerate(procs))
    assert not hung, f"ranks {hung} of {worker} did not finish within {timeout}s\n{report}"
    assert all(p.returncode == 0 for p in procs), f"{worker} failed\n{report}"
    return [dict(np.load(tmp_path / f"rank{r}.npz")) if (tmp_path / f"rank{r}.npz").exists() else {}
            for r in range(world_size)]


def save(**arrays):
    """Worker side: this rank's results, for the test process to compare."""
    out = Path(os.environ["TEST_OUT_DIR"]) / f"rank{os.environ['RANK']}.npz"
    np.savez(out, **{k: np.asarray(v) for k, v in arrays.items()})


def worker_main(namespace):
    """`if __name__ == "__main__": worker_main(globals())` in a test file: run the named worker."""
    namespace[sys.argv[1]](*sys.argv[2:])
