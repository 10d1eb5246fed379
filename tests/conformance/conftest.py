"""Fixtures of the transport conformance suite.

Every test runs once per transport (tcp, ipc, inproc) and once per library: purezmq, and
pyzmq (libzmq) as the reference.  A check that pyzmq fails is not libzmq's behaviour and
does not belong here; one that only purezmq fails is a purezmq bug.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
try:
    import purezmq  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(SRC))

TIMEO = 5000  # RCVTIMEO / SNDTIMEO of every socket: a lost message fails, never hangs
_names = itertools.count()


@pytest.fixture(params=["purezmq", "pyzmq"])
def zmq(request):
    """The library under test: ``zmq.Context``, ``zmq.PUSH``... as in user code."""
    if request.param == "pyzmq":
        return pytest.importorskip("zmq")
    return importlib.import_module("purezmq")


@pytest.fixture(params=["tcp", "ipc", "inproc"])
def transport(request):
    return request.param


@pytest.fixture(scope="session")
def ipc_dir():
    path = tempfile.mkdtemp(prefix="pzconf-")  # short: sun_path holds 107 bytes
    yield path
    shutil.rmtree(path, ignore_errors=True)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_io_errors():
    """Fail if an exception reached purezmq's I/O-thread safety net (logged at ERROR)."""
    handler = _Collect()
    logger = logging.getLogger("purezmq")
    logger.addHandler(handler)
    yield
    logger.removeHandler(handler)
    assert not handler.records, [r.getMessage() for r in handler.records]


class Env:
    """One context of one library, and endpoints of one transport."""

    def __init__(self, zmq, transport: str, ipc_dir: str) -> None:
        self.zmq = zmq
        self.transport = transport
        self.ipc_dir = ipc_dir
        self.ctx = zmq.Context()

    def socket(self, stype, **options):
        s = self.ctx.socket(stype)
        s.rcvtimeo = TIMEO
        s.sndtimeo = TIMEO
        for name, value in options.items():
            setattr(s, name, value)
        return s

    def fresh(self) -> str:
        """An endpoint to bind (tcp: a wildcard port; connect to LAST_ENDPOINT)."""
        n = next(_names)
        if self.transport == "tcp":
            return "tcp://127.0.0.1:*"
        if self.transport == "ipc":
            return f"ipc://{self.ipc_dir}/{os.getpid()}-{n}"
        return f"inproc://conformance-{n}"

    def bind(self, sock) -> str:
        sock.bind(self.fresh())
        return sock.last_endpoint.decode()

    def concrete(self) -> str:
        """An endpoint nobody binds yet, to connect to before anything binds it."""
        if self.transport != "tcp":
            return self.fresh()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))  # the kernel picks a free port; released at once
        port = probe.getsockname()[1]
        probe.close()
        return f"tcp://127.0.0.1:{port}"

    def bind_again(self, sock, endpoint: str, timeout: float = 5.0) -> None:
        """Bind ``endpoint`` that a closed socket held: its close completes asynchronously
        (libzmq too), so EADDRINUSE is retried for a while."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock.bind(endpoint)
                return
            except self.zmq.ZMQError as e:
                if e.errno != self.zmq.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def recv_or_none(self, sock, timeout_ms: int = 200):
        if not sock.poll(timeout_ms, self.zmq.POLLIN):
            return None
        return sock.recv_multipart(self.zmq.NOBLOCK)

    def destroy(self) -> None:
        done = threading.Event()

        def run() -> None:
            self.ctx.destroy(linger=0)
            done.set()

        threading.Thread(target=run, daemon=True).start()
        assert done.wait(10), "Context.destroy(linger=0) hung"


@pytest.fixture
def env(zmq, transport, ipc_dir):
    e = Env(zmq, transport, ipc_dir)
    yield e
    e.destroy()
