"""A small TCP key-value store for rendezvous (the NCCL unique id, who has joined).

Rank 0 serves a dict over TCP; every rank (rank 0 included) talks to it as a client. `get` and
`wait` block on the server until the key is set or the timeout passes, so no rank busy-polls.
It carries only bytes between processes, never a collective: the collectives themselves run in
NCCL or gloo. The API follows torch.distributed.TCPStore (set / get / add / check / wait).
"""
import datetime
import socket
import socketserver
import struct
import threading
import time

_SET, _GET, _ADD, _CHECK, _DELETE = range(5)
_OK, _MISSING = 0, 1
_HEADER = struct.Struct("!BIQ")  # command, key length, value length


def _seconds(timeout):
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return float(timeout)


def _recv_exact(sock, n):
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionError("the store connection closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _send(sock, code, key, value):
    key = key.encode()
    sock.sendall(_HEADER.pack(code, len(key), len(value)) + key + value)


def _recv(sock):
    code, key_len, value_len = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    key = _recv_exact(sock, key_len).decode()
    return code, key, _recv_exact(sock, value_len)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port):
        super().__init__(("", port), _Handler)
        self.data = {}
        self.changed = threading.Condition()


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server, sock = self.server, self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            try:
                code, key, value = _recv(sock)
            except (ConnectionError, OSError):
                return
            with server.changed:
                if code == _SET:
                    server.data[key] = value
                    server.changed.notify_all()
                    reply = (_OK, b"")
                elif code == _ADD:
                    total = int(server.data.get(key, b"0")) + int(value)
                    server.data[key] = str(total).encode()
                    server.changed.notify_all()
                    reply = (_OK, str(total).encode())
                elif code == _GET:  # value: the timeout in seconds, as text
                    found = server.changed.wait_for(lambda: key in server.data, timeout=float(value))
                    reply = (_OK, server.data[key]) if found else (_MISSING, b"")
                elif code == _CHECK:
                    reply = (_OK if key in server.data else _MISSING, b"")
                else:  # _DELETE
                    reply = (_OK if server.data.pop(key, None) is not None else _MISSING, b"")
            _send(sock, reply[0], "", reply[1])


class TCPStore:
    """TCPStore(host_name, port, world_size=None, is_master=False, timeout=timedelta(seconds=300)).

    The master binds `port` (0 picks a free one, then read `.port`); clients retry connecting until
    `timeout`, then raise a RuntimeError naming the address."""

    def __init__(self, host_name, port, world_size=None, is_master=False, timeout=datetime.timedelta(seconds=300),
                 wait_for_workers=False):
        self.host, self.world_size, self.timeout = host_name, world_size, timeout
        self._server = None
        if is_master:
            self._server = _Server(port)
            port = self._server.server_address[1]
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="mytorch-store",
                             daemon=True).start()
        self.port = port
        self._lock = threading.Lock()
        self._sock = self._connect(_seconds(timeout))
        if world_size:
            self.add("_store/workers", 1)
            if is_master and wait_for_workers:
                self._wait_count("_store/workers", world_size)

    def _connect(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=max(timeout_s, 1.0))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(None)
                return sock
            except OSError as err:
                if time.monotonic() >= deadline:
                    raise RuntimeError(f"could not connect to the store at {self.host}:{self.port} within "
                                       f"{datetime.timedelta(seconds=timeout_s)}: {err}") from None
                time.sleep(0.05)

    def _call(self, code, key, value=b""):
        with self._lock:
            _send(self._sock, code, key, value)
            status, _, payload = _recv(self._sock)
        return status, payload

    def set(self, key, value):
        self._call(_SET, key, value.encode() if isinstance(value, str) else bytes(value))

    def get(self, key, timeout=None):
        timeout_s = _seconds(self.timeout if timeout is None else timeout)
        status, value = self._call(_GET, key, str(timeout_s).encode())
        if status == _MISSING:
            raise RuntimeError(f"store at {self.host}:{self.port}: key {key!r} was not set within "
                               f"{datetime.timedelta(seconds=timeout_s)}")
        return value

    def add(self, key, amount):
        return int(self._call(_ADD, key, str(int(amount)).encode())[1])

    def check(self, keys):
        return all(self._call(_CHECK, key)[0] == _OK for key in keys)

    def wait(self, keys, timeout=None):
        for key in keys:
            self.get(key, timeout)

    def delete_key(self, key):
        return self._call(_DELETE, key)[0] == _OK

    def _wait_count(self, key, target, timeout=None):
        deadline = time.monotonic() + _seconds(self.timeout if timeout is None else timeout)
        while self.add(key, 0) < target:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"store at {self.host}:{self.port}: only {self.add(key, 0)} of {target} "
                                   f"workers joined within {self.timeout}")
            time.sleep(0.02)

    def close(self):
        try:
            self._sock.close()
        finally:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def wait_for_server(host, port, timeout):
    """Block until something accepts connections at host:port, or raise after `timeout` (a client
    rank waiting for rank 0's store, with an exact deadline and no backend retry noise)."""
    timeout_s = _seconds(timeout)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection((host, port), timeout=max(min(deadline - time.monotonic(), 1.0), 0.05)).close()
            return
        except OSError as err:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"nothing answered at {host}:{port} within "
                                   f"{datetime.timedelta(seconds=timeout_s)}: {err}") from None
            time.sleep(0.05)


def wait_for_peers(store, rank, world_size, timeout, where):
    """Every rank checks in; returns once all `world_size` have, else raises a RuntimeError that
    names the missing ranks, the address and the timeout (instead of hanging in the backend's init).
    Works with this TCPStore and with torch.distributed's (both have set / add / check)."""
    store.set(f"mytorch/joined/{rank}", "1")
    store.add("mytorch/joined", 1)
    timeout_s = _seconds(timeout)
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while store.add("mytorch/joined", 0) < world_size:
        if time.monotonic() >= deadline:
            missing = [r for r in range(world_size) if not store.check([f"mytorch/joined/{r}"])]
            raise RuntimeError(f"mytorch.distributed: rank {rank} of world size {world_size} timed out after "
                               f"{datetime.timedelta(seconds=timeout_s)} waiting for ranks {missing} to join at "
                               f"{where}; start all {world_size} processes (same MASTER_ADDR/MASTER_PORT) or "
                               f"raise `timeout`")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
