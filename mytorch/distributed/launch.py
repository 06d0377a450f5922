"""Start, watch and stop the worker processes of one node.

`python -m mytorch.distributed.launch [flags] script.py args` is the original MyTorch spelling of
`mytorchrun launch`; the flags are the same (see mytorch/distributed/run.py).

Each worker runs in its own session (process group), so stopping a worker also stops whatever it
started (DataLoader workers, shell pipelines). The first worker to fail sets the exit code and the
others get SIGTERM, then SIGKILL after a grace period. Signals sent to the launcher (Ctrl-C, SIGTERM)
go to every worker; a second Ctrl-C (any signal while stopping) kills them at once.
"""
import functools
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

FORWARDED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
                          if hasattr(signal, name))

# A line ends with \n, \r\n or a lone \r (progress bars redraw with \r; each redraw keeps its prefix).
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\n|\r)")


def split_lines(buffer):
    """Split bytes into complete lines (terminators kept) and the unfinished rest."""
    lines, end = [], 0
    for match in _LINE.finditer(buffer):
        if match.end() == len(buffer) and buffer.endswith(b"\r"):
            break  # the \n of a \r\n may still be on its way
        lines.append(match.group())
        end = match.end()
    return lines, buffer[end:]


class _Pump(threading.Thread):
    """Copies one worker pipe to our stdout/stderr, a whole prefixed line per write."""

    def __init__(self, pipe, stream, prefix, lock):
        super().__init__(daemon=True)
        self.pipe, self.stream, self.prefix, self.lock = pipe, stream, prefix, lock
        self.closed = False

    def run(self):
        rest = b""
        fd = self.pipe.fileno()
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            lines, rest = split_lines(rest + chunk)
            self._write(lines)
        if rest:
            self._write([rest if rest.endswith((b"\n", b"\r")) else rest + b"\n"])
        self.pipe.close()

    def _write(self, lines):
        data = b"".join(self.prefix + line for line in lines if line != b"\r")
        if data and not self.closed:
            with self.lock:
                try:
                    _write_bytes(self.stream(), data)
                except (OSError, ValueError):  # our stdout went away (`| head`): keep draining the worker
                    self.closed = True


def _write_bytes(stream, data):
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(data)
        buffer.flush()
    else:  # a text-only stream (e.g. a test's capture)
        stream.write(data.decode(errors="replace"))
        stream.flush()


if sys.platform.startswith("linux"):
    import ctypes

    _libc = ctypes.CDLL(None, use_errno=True)
    _PR_SET_PDEATHSIG = 1

    def _die_with_launcher(launcher_pid):
        """Runs in the child before exec: the kernel kills it if the launcher dies, even by SIGKILL."""
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != launcher_pid:  # the launcher died before prctl took effect
            os._exit(1)
else:
    _die_with_launcher = None


def _group_alive(pgid):
    """Whether process group `pgid` still has a live (non-zombie) member."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not os.path.isdir("/proc"):
        return True
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":  # fields after "pid (comm)": state, ppid, pgrp
            return True
    return False


class WorkerGroup:
    """The worker processes of this node: `start()`, then `wait()` returns the launcher's exit code."""

    def __init__(self, command, envs, ranks, prefix_output=True, shutdown_timeout=5.0, log=None):
        self.command, self.envs, self.ranks = list(command), list(envs), list(ranks)
        self.prefix_output = prefix_output
        self.shutdown_timeout = shutdown_timeout
        self.log = log or (lambda message: print(message, file=sys.stderr, flush=True))
        self.procs, self._pumps = [], []
        self._exits = queue.Queue()
        self._lock = threading.RLock()  # reentrant: a signal handler may log while the main thread writes
        self._kill_at = None  # when SIGKILL follows the SIGTERM
        self.stopping = False
        self.failure = None  # (rank, exit code) of the first worker that failed
        self.received_signal = None
        self.timed_out = False
        self._old_handlers = {}

    def start(self):
        self._install_signal_handlers()
        pipe = subprocess.PIPE if self.prefix_output else None
        preexec = functools.partial(_die_with_launcher, os.getpid()) if _die_with_launcher else None
        for env in self.envs:
            if self.stopping:  # interrupted while starting: start no more
                break
            if self.prefix_output:
                # Prints reach the prefixer as they happen. Without a prefix the workers share our stdout and
                # keep their own buffering: unbuffered, print's text and its newline are two writes, and two
                # ranks' lines could mix.
                env = {**env, "PYTHONUNBUFFERED": "1"}
            try:
                proc = subprocess.Popen(self.command, env=env, stdin=subprocess.DEVNULL, stdout=pipe, stderr=pipe,
                                        start_new_session=True, preexec_fn=preexec)
            except OSError as err:
                self._signal_all(signal.SIGKILL)
                for sig, handler in self._old_handlers.items():
                    signal.signal(sig, handler)
                raise OSError(f"cannot start {self.command[0]!r}: {err}") from err
            self.procs.append(proc)
        # Threads start only after every fork: forking while other threads run can deadlock a child.
        for index, proc in enumerate(self.procs):
            threading.Thread(target=self._watch, args=(index, proc), daemon=True).start()
            if self.prefix_output:
                prefix = f"[rank{self.ranks[index]}]: ".encode()
                for pipe, stream in ((proc.stdout, lambda: sys.stdout), (proc.stderr, lambda: sys.stderr)):
                    pump = _Pump(pipe, stream, prefix, self._lock)
                    pump.start()
                    self._pumps.append(pump)
        return self

    def _watch(self, index, proc):
        proc.wait()
        self._exits.put(index)

    def _say(self, message):
        with self._lock:
            self.log(f"mytorchrun: {message}")

    def _signal_all(self, sig):
        for proc in self.procs:
            _killpg(proc.pid, sig)

    def stop(self, sig=signal.SIGTERM):
        """Send `sig` to every worker's process group; SIGKILL follows after shutdown_timeout."""
        self.stopping = True
        if self._kill_at is None:
            self._kill_at = time.monotonic() + self.shutdown_timeout
        self._signal_all(sig)

    def _on_signal(self, signum, frame):
        name = signal.Signals(signum).name
        if self.stopping:  # a second Ctrl-C, or a signal while a failure stops the run: no more waiting
            self._say(f"got {name} while stopping; killing the workers now")
            self._signal_all(signal.SIGKILL)
            return
        self.received_signal = signum
        self._say(f"got {name}, passing it to the workers")
        self.stop(signum)

    def _install_signal_handlers(self):
        """Catch the signals to forward. One the launcher was started ignoring (nohup's SIGHUP, a background
        job's SIGINT) stays ignored, here and, through exec, in the workers."""
        self._old_handlers = {}
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set handlers; the caller owns signals then
        for sig in FORWARDED_SIGNALS:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def wait(self, timeout=None):
        """Wait for every worker; returns the exit code (first failure's code, 128+signal, 124 on timeout)."""
        try:
            self._wait(timeout)
        finally:
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)
        return self.exit_code()

    def _wait(self, timeout):
        give_up_at = None if timeout is None else time.monotonic() + timeout
        running = len(self.procs)
        while running:
            try:
                index = self._exits.get(timeout=0.05)
            except queue.Empty:
                index = None
            if index is not None:
                running -= 1
                code = self.procs[index].returncode
                if code != 0 and self.failure is None and not self.stopping:
                    self.failure = (self.ranks[index], code)
                    self._say(f"rank {self.ranks[index]} (pid {self.procs[index].pid}) failed with "
                              f"{_describe(code)}; stopping the other ranks")
                    self.stop(signal.SIGTERM)
            now = time.monotonic()
            if self._kill_at is not None and now >= self._kill_at:
                stuck = [rank for rank, proc in zip(self.ranks, self.procs) if proc.returncode is None]
                if stuck:
                    self._say(f"rank(s) {', '.join(map(str, stuck))} still running {self.shutdown_timeout:g} s "
                              "after SIGTERM; sending SIGKILL")
                self._signal_all(signal.SIGKILL)
                self._kill_at = float("inf")  # once is enough; SIGKILL cannot be ignored
            if give_up_at is not None and now >= give_up_at and not self.stopping:
                self.timed_out = True
                self._say(f"workers still running after {timeout:g} s; stopping them")
                self.stop(signal.SIGTERM)
        self._stop_leftovers()
        for pump in self._pumps:
            pump.join(timeout=2.0)

    def _stop_leftovers(self):
        """Workers are done; end what they left running in their process groups (no orphans)."""
        groups = [proc.pid for proc in self.procs if _group_alive(proc.pid)]
        if not groups:
            return
        for pgid in groups:
            _killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout
        while groups and time.monotonic() < deadline:
            time.sleep(0.05)
            groups = [pgid for pgid in groups if _group_alive(pgid)]
        for pgid in groups:
            _killpg(pgid, signal.SIGKILL)

    def exit_code(self):
        if self.received_signal is not None:
            return 128 + self.received_signal
        if self.failure is not None:
            code = self.failure[1]
            return code if code > 0 else 128 - code
        return 124 if self.timed_out else 0


def _killpg(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _describe(code):
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def run_workers(command, envs, ranks, prefix_output=True, shutdown_timeout=5.0, timeout=None):
    """Run `command` once per environment in `envs` (labelled by `ranks`); returns the exit code."""
    return WorkerGroup(command, envs, ranks, prefix_output, shutdown_timeout).start().wait(timeout)


if __name__ == "__main__":
    from mytorch.distributed.run import main

    sys.exit(main(["launch", *sys.argv[1:]]))
