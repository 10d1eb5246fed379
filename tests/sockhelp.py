"""Socket helpers shared by the in-process pattern suites (test_patterns, test_draft)."""

from __future__ import annotations

import itertools
import os
import threading
import time

import purezmq as zmq

TIMEO = 5000  # RCVTIMEO / SNDTIMEO of test sockets: a lost message fails, never hangs
_names = itertools.count()


def context():
    """Fixture body: a context, destroyed with linger 0 afterwards; a hang fails the test."""
    yield from destroyed_context(zmq)


def destroyed_context(lib):
    """A context of ``lib`` (purezmq or pyzmq), destroyed with linger 0 afterwards; a hang
    fails the test."""
    c = lib.Context()
    yield c
    done = threading.Event()

    def destroy() -> None:
        c.destroy(linger=0)
        done.set()

    threading.Thread(target=destroy, daemon=True).start()
    assert done.wait(10), "Context.destroy(linger=0) hung"


def ipc_directory(tmp_path_factory):
    """Fixture body: a directory short enough for ipc paths."""
    path = tmp_path_factory.mktemp("ipc")
    assert len(str(path)) < 80
    return path


def make(ctx, stype, **options):
    s = ctx.socket(stype)
    s.rcvtimeo = TIMEO
    s.sndtimeo = TIMEO
    for name, value in options.items():
        setattr(s, name, value)
    return s


def fresh_addr(transport: str, ipc_dir) -> str:
    """An address for bind() (tcp: with a wildcard port; use last_endpoint for connect)."""
    n = next(_names)
    if transport == "tcp":
        return "tcp://127.0.0.1:*"
    if transport == "ipc":
        return f"ipc://{ipc_dir}/s{os.getpid()}-{n}"
    return f"inproc://sock-{n}"


def bind(sock, transport: str, ipc_dir) -> str:
    """Bind to a fresh address; return the address peers connect to."""
    sock.bind(fresh_addr(transport, ipc_dir))
    return sock.last_endpoint.decode()


def recv_or_none(sock, timeout_ms: int = 100):
    """The next message as a list of frames, or None if none comes within ``timeout_ms``."""
    if not sock.poll(timeout_ms, zmq.POLLIN):
        return None
    return sock.recv_multipart(zmq.NOBLOCK)


def sync_sub(pub, subs, topic: bytes = b"") -> None:
    """Publish until every SUB got ``topic + b"!sync"`` (subscriptions travel async), then
    drain them (of any such marker: an earlier sync may reach a broader subscriber)."""
    marker = topic + b"!sync"
    pending = list(subs)
    deadline = time.monotonic() + 10
    while pending:
        assert time.monotonic() < deadline, "subscription never arrived"
        pub.send(marker)
        pending = [s for s in pending if recv_or_none(s, 20) is None]
    time.sleep(0.05)
    for s in subs:
        while (m := recv_or_none(s, 20)) is not None:
            assert m[0].endswith(b"!sync"), m
