"""Drop-in details: pyzmq's ResourceWarnings for misuse, logging through ``logging``."""

from __future__ import annotations

import ast
import errno
import gc
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
import weakref
from pathlib import Path

import pytest

import purezmq as zmq

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PKG = SRC / "purezmq"


def _cli_modules() -> set[str]:
    """Modules whose job is to talk to a terminal: ``__main__`` and its subcommand modules."""
    from purezmq.__main__ import EXTENSION_MODULES

    mods = {"__main__.py", "log/__main__.py", "curve_keygen.py"}  # and pyzmq's `python -m`s
    for name in EXTENSION_MODULES:
        rel = name.split(".", 1)[1].replace(".", "/") if "." in name else name
        mods.add(rel + ".py")
        mods.add(rel + "/__init__.py")
    return mods


def _collect() -> None:
    # A purezmq socket is in reference cycles (socket <-> pattern), so the cyclic collector,
    # not the refcount, frees it; two passes to be sure.
    gc.collect()
    gc.collect()


def _term_in_thread(ctx: zmq.Context, timeout: float = 10.0) -> bool:
    """``ctx.term()`` in a helper thread; whether it returned within ``timeout``."""
    t = threading.Thread(target=ctx.term, daemon=True)
    t.start()
    t.join(timeout)
    return not t.is_alive()


# -- Socket ---------------------------------------------------------------------------------
@pytest.mark.parametrize("socket_type", [zmq.PAIR, zmq.REQ, zmq.PUB, zmq.SUB, zmq.ROUTER])
def test_unclosed_socket_warns_and_is_closed(socket_type):
    ctx = zmq.Context()
    try:
        sock = ctx.socket(socket_type)
        sock.linger = 0
        ref = weakref.ref(sock)
        # (The collector may run at any allocation: drop the last reference inside.)
        with pytest.warns(ResourceWarning, match="Unclosed socket"):
            del sock
            _collect()
        assert ref() is None
        # It was closed on the way out, so term() does not wait for it.
        assert _term_in_thread(ctx)
    finally:
        ctx.destroy(linger=0)


def test_closed_socket_does_not_warn():
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.PUSH)
        sock.close()
        del sock
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            _collect()
        with ctx.socket(zmq.PULL) as sock:  # the context manager closes it
            pass
        del sock
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            _collect()
    finally:
        ctx.term()


def test_warning_names_the_socket():
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.DEALER)
        with pytest.warns(ResourceWarning) as record:
            del sock
            _collect()
        messages = [str(w.message) for w in record if issubclass(w.category, ResourceWarning)]
        assert any("DEALER" in m for m in messages), messages
    finally:
        ctx.term()


def test_socket_with_endpoints_stays_open_until_closed():
    """A socket with a bound endpoint is held by the I/O thread (see COMPATIBILITY.md).

    It keeps working after the user drops every reference to it, and closing it through
    ``destroy()`` still works.
    """
    ctx = zmq.Context()
    try:
        pull = ctx.socket(zmq.PULL)
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        ref = weakref.ref(pull)
        del pull
        _collect()
        pull = ref()
        assert pull is not None and not pull.closed
        push = ctx.socket(zmq.PUSH)
        push.connect(f"tcp://127.0.0.1:{port}")
        push.send(b"still here")
        pull.rcvtimeo = 5000
        assert pull.recv() == b"still here"
        del pull
    finally:
        ctx.destroy(linger=0)


def test_async_shadow_socket_does_not_close_the_original():
    zaio = pytest.importorskip("purezmq.asyncio")
    ctx = zmq.Context()
    try:
        sync = ctx.socket(zmq.PAIR)
        shadow = zaio.Socket.from_socket(sync)
        del shadow
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            _collect()
        assert not sync.closed
        sync.close()
    finally:
        ctx.term()


def test_endpoints_may_be_bytes():
    """pyzmq takes str or bytes endpoints, so ``sock.unbind(sock.last_endpoint)`` works."""
    ctx = zmq.Context()
    try:
        pull = ctx.socket(zmq.PULL)
        pull.linger = 0
        pull.bind(b"tcp://127.0.0.1:*")
        endpoint = pull.last_endpoint
        assert isinstance(endpoint, bytes)
        push = ctx.socket(zmq.PUSH)
        push.linger = 0
        push.connect(endpoint)
        push.send(b"over a bytes endpoint")
        pull.rcvtimeo = 5000
        assert pull.recv() == b"over a bytes endpoint"
        push.disconnect(endpoint)
        pull.unbind(endpoint)
        with pytest.raises(zmq.ZMQError) as info:
            pull.unbind(endpoint)  # gone already: pyzmq's errno
        assert info.value.errno == errno.ENOENT
    finally:
        ctx.destroy(linger=0)


# -- Context --------------------------------------------------------------------------------
def test_unclosed_context_warns_without_hanging():
    ctx = zmq.Context()
    ref = weakref.ref(ctx)
    t0 = time.monotonic()
    with pytest.warns(ResourceWarning, match="Unclosed context"):
        del ctx  # no cycle here: freed at once, by its reference count
        _collect()
    assert ref() is None
    assert time.monotonic() - t0 < 5


def test_unclosed_context_and_socket_warn_without_hanging():
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    ref = weakref.ref(ctx)
    del ctx, sock
    t0 = time.monotonic()
    with pytest.warns(ResourceWarning) as record:
        _collect()
    assert ref() is None
    assert time.monotonic() - t0 < 5
    messages = " ".join(str(w.message) for w in record)
    assert "Unclosed socket" in messages and "Unclosed context" in messages


def test_terminated_context_does_not_warn():
    ctx = zmq.Context()
    ctx.socket(zmq.PAIR).close()
    ctx.term()
    del ctx
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        _collect()


def test_process_exits_with_open_context_and_connections():
    """Open sockets with live TCP connections and no term(): the process still exits."""
    code = (
        "import purezmq as zmq\n"
        "ctx = zmq.Context()\n"
        "a = ctx.socket(zmq.PAIR)\n"
        "port = a.bind_to_random_port('tcp://127.0.0.1')\n"
        "b = ctx.socket(zmq.PAIR)\n"
        "b.connect(f'tcp://127.0.0.1:{port}')\n"
        "b.send(b'x')\n"
        "assert a.recv() == b'x'\n"
        "b.send(b'queued, never read')\n"
        "print('done')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", code],
        capture_output=True, text=True, timeout=30, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    assert "ResourceWarning" not in proc.stderr  # none at interpreter exit, as pyzmq


# -- logging ----------------------------------------------------------------------------------
def _print_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
    ]


def test_library_code_does_not_print():
    cli_modules = _cli_modules()
    assert "perf.py" in cli_modules
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        if rel in cli_modules:
            continue
        offenders += [f"{rel}:{line}" for line in _print_calls(path)]
    assert not offenders, f"print() outside the CLI (use logging.getLogger('purezmq')): {offenders}"


def test_protocol_errors_are_logged_to_the_purezmq_logger(caplog):
    caplog.set_level(logging.DEBUG, logger="purezmq")
    ctx = zmq.Context()
    try:
        server = ctx.socket(zmq.PULL)
        server.linger = 0
        port = server.bind_to_random_port("tcp://127.0.0.1")
        # Not ZMTP: the engine gives up on the connection and says so at DEBUG level.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if any(r.name == "purezmq" for r in caplog.records):
                    break
                time.sleep(0.05)
        records = [r for r in caplog.records if r.name == "purezmq"]
        assert records, "nothing logged to the 'purezmq' logger"
        assert all(r.levelno <= logging.WARNING for r in records)
        server.close()
    finally:
        ctx.term()


def test_nothing_printed_by_library_on_protocol_errors():
    """The same bad peer as above, in a subprocess: nothing reaches stdout or stderr."""
    code = (
        "import socket, time\n"
        "import purezmq as zmq\n"
        "ctx = zmq.Context()\n"
        "s = ctx.socket(zmq.PULL); s.linger = 0\n"
        "port = s.bind_to_random_port('tcp://127.0.0.1')\n"
        "with socket.create_connection(('127.0.0.1', port), timeout=5) as raw:\n"
        "    raw.sendall(b'\\xff' * 10 + b'\\x7f' + b'garbage' * 20)\n"
        "    time.sleep(0.5)\n"
        "s.close(); ctx.term()\n"
    )
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
