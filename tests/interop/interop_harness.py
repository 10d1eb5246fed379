"""Interop harness: sockets of either library, in this process or in a peer process.

A *side* makes sockets with one library in one place:

* :class:`LocalSide` - pyzmq or purezmq in the test process;
* :class:`RemoteSide` - pyzmq or purezmq in a child process (``interop_peer.py``), driven
  over a pipe; :class:`RemoteSocket` forwards pyzmq's socket methods to it.

A test written against sides runs unchanged in every combination ("purezmq binds here,
pyzmq connects in another process", "pyzmq binds in another process, purezmq connects here",
and the same with the libraries' places swapped).  Every socket a side makes has
``RCVTIMEO``/``SNDTIMEO`` set, so a lost message fails a test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import zmq  # pyzmq, the reference peer

import purezmq

HERE = Path(__file__).resolve().parent
SRC = HERE.parent.parent / "src"
PEER_SCRIPT = HERE / "interop_peer.py"
_LEN = struct.Struct("<Q")

IO_TIMEOUT_MS = 5000  # RCVTIMEO / SNDTIMEO of every harness socket
SIZES = (0, 1, 255, 256, 65536, 1 << 20)


class RemoteError(Exception):
    """A ZMQError raised in the peer process (``errno`` as in ``ZMQError``)."""

    def __init__(self, errno: int, text: str) -> None:
        super().__init__(errno, text)
        self.errno = errno
        self.strerror = text


ZMQ_ERRORS = (zmq.ZMQError, purezmq.ZMQError, RemoteError)


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(size * 7919 + seed).randbytes(size)


@contextlib.contextmanager
def raises_errno(errno: int):
    """Like ``pytest.raises(ZMQError)`` for the error of any library, checking ``errno``."""
    try:
        yield
    except ZMQ_ERRORS as e:
        assert e.errno == errno, f"expected errno {errno}, got {e.errno} ({e})"
    else:
        raise AssertionError(f"expected a ZMQError with errno {errno}")


def peer_env(lib: str) -> dict:
    env = dict(os.environ)
    if lib == "purezmq":
        old = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(SRC) + (os.pathsep + old if old else "")
    else:
        # Keep the pyzmq peer clean of the source tree: "zmq" must be pyzmq.
        env.pop("PYTHONPATH", None)
    return env


class RemoteProcess:
    """One peer process (``interop_peer.py``) and the request/answer pipe to it."""

    def __init__(self, lib: str) -> None:
        self.lib = lib
        self.proc = subprocess.Popen(
            [sys.executable, str(PEER_SCRIPT), lib],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=peer_env(lib),
            cwd=str(HERE),
        )
        self._lock = threading.Lock()
        info = self.rpc("info", timeout=30)
        assert info["lib"] == lib

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read_exact(self, n: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        chunks = []
        while n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.lib} peer did not answer in time")
            r, _, _ = select.select([fd], [], [], remaining)
            if not r:
                continue
            chunk = os.read(fd, min(n, 1 << 20))
            if not chunk:
                raise EOFError(f"{self.lib} peer exited (rc={self.proc.poll()})")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def rpc(self, op: str, *args, timeout: float = 30.0):
        data = pickle.dumps((op, args))
        with self._lock:
            if not self.alive():
                raise EOFError(f"{self.lib} peer is not running")
            try:
                self.proc.stdin.write(_LEN.pack(len(data)) + data)
                self.proc.stdin.flush()
                deadline = time.monotonic() + timeout
                (n,) = _LEN.unpack(self._read_exact(_LEN.size, deadline))
                reply = pickle.loads(self._read_exact(n, deadline))
            except BaseException:
                # Interrupted half-way (a test timeout, a hung peer): the stream is out of
                # step, so this peer is finished; the fixtures start a new one.
                self.kill()
                raise
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "zmqerr":
            if reply[1] == zmq.EAGAIN:
                raise RemoteAgain(reply[1], reply[2])
            raise RemoteError(reply[1], reply[2])
        raise RuntimeError(f"{self.lib} peer failed:\n{reply[1]}")

    def kill(self) -> None:
        """SIGKILL: the peer's sockets vanish without a goodbye."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._close_pipes()

    def close(self) -> None:
        if self.alive():
            try:
                self.rpc("exit", timeout=10)
            except Exception:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._close_pipes()

    def _close_pipes(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                f.close()


class RemoteAgain(RemoteError):
    """``zmq.Again`` raised in the peer process."""


class RemoteSocket:
    """pyzmq's socket methods, run on a socket in a peer process."""

    def __init__(self, proc: RemoteProcess, stype: int) -> None:
        self.proc = proc
        self.socket_type = stype
        self.sid = proc.rpc("socket", stype)
        self.closed = False

    def __repr__(self) -> str:
        return f"<RemoteSocket {self.proc.lib} type={self.socket_type} id={self.sid}>"

    def _call(self, method: str, *args, **kwargs):
        return self.proc.rpc("call", self.sid, method, args, kwargs)

    def bind(self, addr: str) -> None:
        self._call("bind", addr)

    def connect(self, addr: str) -> None:
        self._call("connect", addr)

    def unbind(self, addr: str) -> None:
        self._call("unbind", addr)

    def disconnect(self, addr: str) -> None:
        self._call("disconnect", addr)

    def setsockopt(self, option: int, value) -> None:
        self._call("setsockopt", int(option), value)

    def getsockopt(self, option: int):
        return self._call("getsockopt", int(option))

    set = setsockopt
    get = getsockopt

    def subscribe(self, topic: bytes) -> None:
        self._call("subscribe", topic)

    def unsubscribe(self, topic: bytes) -> None:
        self._call("unsubscribe", topic)

    def send(self, data: bytes, flags: int = 0) -> None:
        self._call("send", data, flags)

    def send_multipart(self, parts, flags: int = 0) -> None:
        self._call("send_multipart", [bytes(p) for p in parts], flags)

    def recv(self, flags: int = 0) -> bytes:
        return self._call("recv", flags)

    def recv_multipart(self, flags: int = 0) -> list:
        return self._call("recv_multipart", flags)

    def poll(self, timeout: int | None = None, flags: int = zmq.POLLIN) -> int:
        return self._call("poll", timeout, flags)

    def close(self, linger: int | None = None) -> None:
        if not self.closed:
            self.closed = True
            if self.proc.alive():
                self.proc.rpc("close", self.sid, linger)


class Side:
    """Makes sockets of one library in one place; see the module docstring."""

    lib: str
    remote: bool

    @property
    def label(self) -> str:
        return f"{self.lib}@{'peer' if self.remote else 'test'}"

    def __repr__(self) -> str:
        return f"<Side {self.label}>"

    def _configure(self, sock, timeo: int) -> None:
        sock.setsockopt(zmq.RCVTIMEO, timeo)
        sock.setsockopt(zmq.SNDTIMEO, timeo)

    def socket(self, stype: int, *, timeo: int = IO_TIMEOUT_MS, **options):
        sock = self._make(int(stype))
        self._configure(sock, timeo)
        for name, value in options.items():
            sock.setsockopt(getattr(zmq, name.upper()), value)
        return sock


class LocalSide(Side):
    remote = False

    def __init__(self, lib: str) -> None:
        self.lib = lib
        self.module = zmq if lib == "pyzmq" else purezmq
        self.ctx = self.module.Context()
        self.sockets: list = []
        self.brokers: list[tuple[threading.Thread, threading.Event]] = []

    def _make(self, stype: int):
        sock = self.ctx.socket(stype)
        self.sockets.append(sock)
        return sock

    def start_broker(self, front, back):
        """Run a Poller-based ROUTER/DEALER queue in a thread; returns ``stop()``."""
        from interop_peer import run_broker

        stop = threading.Event()
        thread = threading.Thread(
            target=run_broker, args=(self.module, front, back, stop), daemon=True
        )
        thread.start()
        self.brokers.append((thread, stop))

        def stopper() -> bool:
            stop.set()
            thread.join(5)
            return not thread.is_alive()

        return stopper

    def cleanup(self) -> None:
        for thread, stop in self.brokers:
            stop.set()
            thread.join(5)
        for sock in self.sockets:
            sock.close(linger=0)
        self.sockets.clear()
        done = threading.Event()
        threading.Thread(target=lambda: (self.ctx.term(), done.set()), daemon=True).start()
        assert done.wait(10), f"{self.lib} Context.term() hung after closing with linger=0"


class RemoteSide(Side):
    remote = True

    def __init__(self, proc: RemoteProcess) -> None:
        self.proc = proc
        self.lib = proc.lib

    def _make(self, stype: int) -> RemoteSocket:
        return RemoteSocket(self.proc, stype)

    def start_broker(self, front: RemoteSocket, back: RemoteSocket):
        key = self.proc.rpc("broker", front.sid, back.sid)
        return lambda: self.proc.rpc("stop_broker", key)

    def cleanup(self) -> None:
        if self.proc.alive():
            self.proc.rpc("reset")


# -- helpers that work on sockets of any side ------------------------------------------------
def last_endpoint(sock) -> str:
    ep = sock.getsockopt(zmq.LAST_ENDPOINT)
    return ep.decode() if isinstance(ep, bytes) else ep


_ipc_counter = 0


def bind_any(sock, transport: str, ipc_dir: Path | None = None) -> str:
    """Bind to a fresh endpoint (an ephemeral 127.0.0.1 port, or a socket file in ipc_dir)."""
    global _ipc_counter
    if transport == "tcp":
        sock.bind("tcp://127.0.0.1:*")
        return last_endpoint(sock)
    if transport == "ipc":
        _ipc_counter += 1
        addr = f"ipc://{ipc_dir}/s{os.getpid()}-{_ipc_counter}"
        sock.bind(addr)
        return addr
    raise ValueError(transport)


def recv_or_none(sock, timeout_ms: int):
    """One message, or None if nothing came within ``timeout_ms``."""
    if not sock.poll(timeout_ms, zmq.POLLIN):
        return None
    return sock.recv_multipart(zmq.NOBLOCK)


def sync_pubsub(pub, subs, topic: bytes = b"", timeout: float = 10.0) -> None:
    """Publish ``topic + b"!sync"`` until every subscriber got one, then drain the rest.

    Subscriptions travel asynchronously (the slow-joiner problem), so a test must wait
    until the publisher knows each subscriber before checking what is delivered.
    """
    marker = topic + b"!sync"
    pending = list(subs)
    deadline = time.monotonic() + timeout
    while pending:
        assert time.monotonic() < deadline, "subscription never reached the publisher"
        pub.send_multipart([marker])
        still = []
        for sub in pending:
            msg = recv_or_none(sub, 50)
            if msg is None:
                still.append(sub)
            else:
                assert msg == [marker], msg
        pending = still
    time.sleep(0.05)
    for sub in subs:
        while (msg := recv_or_none(sub, 50)) is not None:
            assert msg == [marker], msg
