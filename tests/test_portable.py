"""Portability by construction: the pieces that differ on Windows and macOS.

No Windows or Mac runs these tests.  What runs here: the ``select.select`` stand-in for
``select.poll`` (against real sockets, closed ones included), the Windows error-number and
bind rules with stand-ins for Windows' modules, and a child interpreter with the POSIX-only
parts of the standard library removed (``tests/nonposix.py``) doing real traffic.
``PUREZMQ_TEST_NONPOSIX=1`` runs whole test modules that way (CI leg 40-nonposix).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types

import pytest

import purezmq as zmq
from purezmq import _compat

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


# -- the select.select stand-in for poll ---------------------------------------------------
def test_selectpoll_reports_readable_and_writable(pair):
    a, b = pair
    p = _compat.SelectPoll()
    p.register(a, _compat.POLLIN)
    assert p.poll(0) == []
    b.send(b"x")
    assert p.poll(1000) == [(a.fileno(), _compat.POLLIN)]
    p.modify(a.fileno(), _compat.POLLIN | _compat.POLLOUT)
    assert dict(p.poll(0)) == {a.fileno(): _compat.POLLIN | _compat.POLLOUT}
    p.unregister(a)
    with pytest.raises(KeyError):
        p.unregister(a)
    with pytest.raises(FileNotFoundError):
        p.modify(a, _compat.POLLIN)


def test_selectpoll_agrees_with_poll(pair):
    """Where the platform has poll, both give the same answers for the events they share."""
    if not hasattr(__import__("select"), "poll"):
        pytest.skip("no select.poll to compare with")
    import select

    a, b = pair
    real, ours = select.poll(), _compat.SelectPoll()
    for p in (real, ours):
        p.register(a, select.POLLIN)
        p.register(b, select.POLLOUT)
    b.send(b"x")
    assert sorted(real.poll(1000)) == sorted(ours.poll(1000))


def test_selectpoll_timeout_and_wakeup(pair):
    a, b = pair
    p = _compat.SelectPoll()
    p.register(a.fileno(), _compat.POLLIN)
    t = time.monotonic()
    assert p.poll(50) == []
    assert time.monotonic() - t >= 0.04
    threading.Timer(0.05, lambda: b.send(b"x")).start()
    assert p.poll(-1) == [(a.fileno(), _compat.POLLIN)]  # forever, until woken


def test_selectpoll_closed_descriptor_is_reported_as_poll_does(pair):
    """select.select fails as a whole on a closed descriptor; poll reports POLLNVAL for it
    and the others as usual: the stand-in does what poll does."""
    a, b = pair
    c, d = socket.socketpair()
    try:
        p = _compat.SelectPoll()
        p.register(a.fileno(), _compat.POLLIN)
        p.register(c.fileno(), _compat.POLLIN)
        cfd = c.fileno()
        c.close()
        b.send(b"x")
        events = dict(p.poll(1000))
        assert events == {cfd: _compat.POLLNVAL, a.fileno(): _compat.POLLIN}
    finally:
        d.close()


def test_selectpoll_with_nothing_registered_sleeps():
    p = _compat.SelectPoll()
    t = time.monotonic()
    assert p.poll(30) == []
    assert time.monotonic() - t >= 0.02


def test_poller_over_selectpoll_with_a_closed_python_socket(monkeypatch, pair):
    """The Poller on a platform without poll: a registered Python socket that is closed
    comes back as POLLERR (as with poll's POLLNVAL), not as an exception or a hang."""
    monkeypatch.setattr(_compat, "poll", _compat.SelectPoll)
    a, b = pair
    c, d = socket.socketpair()
    poller = zmq.Poller()
    poller.register(a, zmq.POLLIN)
    poller.register(c, zmq.POLLIN)
    b.send(b"x")
    assert dict(poller.poll(1000)).get(a) == zmq.POLLIN
    c.close()
    events = dict(poller.poll(1000))
    assert events[c] & zmq.POLLERR
    d.close()


def test_hosted_receive_over_selectpoll(monkeypatch):
    """Blocking receives (hosted on the caller's thread: io/host.py) through select."""
    import purezmq.io.host as host

    made = []

    def select_poll():
        made.append(_compat.SelectPoll())
        return made[-1]

    monkeypatch.setattr(host, "poll", select_poll)
    ctx = zmq.Context()
    try:
        rep = ctx.socket(zmq.REP)
        rep.rcvtimeo = rep.sndtimeo = 5000
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        req = ctx.socket(zmq.REQ)
        req.rcvtimeo = req.sndtimeo = 5000
        req.connect(f"tcp://127.0.0.1:{port}")
        for i in range(50):
            req.send(b"%d" % i)
            assert rep.recv() == b"%d" % i
            rep.send(b"ok")
            assert req.recv() == b"ok"
        assert made, "no blocking receive was hosted (so SelectPoll was not exercised)"
    finally:
        ctx.destroy(linger=0)


# -- Windows rules, with stand-ins ---------------------------------------------------------
WINDOWS_ERRNO = types.SimpleNamespace(
    # Python's errno module on Windows: the WSA codes, and (for names the C runtime also
    # has) E* names whose values are the WSA ones for socket errors.
    WSAEADDRINUSE=10048, WSAECONNREFUSED=10061, WSAEWOULDBLOCK=10035, WSAEACCES=10013,
    WSAENOTSOCK=10038, WSAECONNRESET=10054, WSAEOPNOTSUPP=10045, WSAEHOSTUNREACH=10065,
    EACCES=13, EADDRINUSE=10048, ECONNREFUSED=10061,
)  # fmt: skip


def test_windows_socket_errors_become_zmq_errno():
    table = _compat.errno_table(WINDOWS_ERRNO)
    assert table[10048] == zmq.EADDRINUSE
    assert table[10061] == zmq.ECONNREFUSED
    assert table[10054] == zmq.ECONNRESET
    assert table[10065] == zmq.EHOSTUNREACH
    assert table[10035] == zmq.EAGAIN  # WSAEWOULDBLOCK, as libzmq translates it
    assert table[10045] == zmq.ENOTSUP
    assert table[10013] == 13  # EACCES: not a zmq constant, the C runtime's number
    assert 10038 in table and table[10038] == zmq.ENOTSOCK


def test_zmq_errno_is_the_identity_off_windows():
    for code in (None, 0, zmq.EADDRINUSE, zmq.ECONNREFUSED, 13):
        assert _compat.zmq_errno(code) == code


class _RecordingSocket:
    def __init__(self) -> None:
        self.opts: list[tuple[int, int, int]] = []

    def setsockopt(self, level: int, opt: int, value: int) -> None:
        self.opts.append((level, opt, value))


def test_listener_uses_exclusive_address_use_on_windows(monkeypatch):
    monkeypatch.setattr(socket, "SO_EXCLUSIVEADDRUSE", -5, raising=False)  # Windows' value
    s = _RecordingSocket()
    _compat.reuse_listen_addr(s)
    assert s.opts == [(socket.SOL_SOCKET, -5, 1)]  # and not SO_REUSEADDR


def test_listener_uses_reuseaddr_elsewhere(monkeypatch):
    monkeypatch.delattr(socket, "SO_EXCLUSIVEADDRUSE", raising=False)
    s = _RecordingSocket()
    _compat.reuse_listen_addr(s)
    assert s.opts == [(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)]


def test_second_bind_of_a_port_fails():
    """The reason for SO_EXCLUSIVEADDRUSE: a second listener must not take a bound port."""
    ctx = zmq.Context()
    try:
        a = ctx.socket(zmq.PULL)
        port = a.bind_to_random_port("tcp://127.0.0.1")
        b = ctx.socket(zmq.PULL)
        with pytest.raises(zmq.ZMQError) as e:
            b.bind(f"tcp://127.0.0.1:{port}")
        assert e.value.errno == zmq.EADDRINUSE
    finally:
        ctx.destroy(linger=0)


# -- a child interpreter without the POSIX-only pieces -------------------------------------
CHILD = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{tests!r}, {src!r}]
    from nonposix import strip_posix
    strip_posix()
    import select, socket
    assert not hasattr(select, "poll") and not hasattr(socket, "AF_UNIX")
    import purezmq as zmq
    from purezmq import _compat
    assert _compat.AF_UNIX is None and isinstance(_compat.poll(), _compat.SelectPoll)

    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    try:
        s.bind("ipc:///tmp/purezmq-nonposix")
    except zmq.ZMQError as e:
        assert e.errno == zmq.EPROTONOSUPPORT, e
    else:
        raise AssertionError("ipc bind without AF_UNIX")
    rep = ctx.socket(zmq.REP)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    req = ctx.socket(zmq.REQ)
    req.connect("tcp://127.0.0.1:%d" % port)
    for s_ in (rep, req):
        s_.rcvtimeo = s_.sndtimeo = 5000
    for i in range(20):
        req.send(b"ping")
        assert rep.recv() == b"ping"
        rep.send(b"pong")
        assert req.recv() == b"pong"
    # the Poller over a purezmq socket and a Python socket together (select.select)
    a, b = socket.socketpair()
    poller = zmq.Poller()
    poller.register(rep, zmq.POLLIN)
    poller.register(a, zmq.POLLIN)
    b.send(b"x")
    assert dict(poller.poll(2000)).get(a) == zmq.POLLIN
    a.recv(1)
    req.send(b"again")
    assert dict(poller.poll(2000)).get(rep) == zmq.POLLIN
    # inproc and the FD option
    push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    pull.bind("inproc://x"); push.connect("inproc://x")
    fd = pull.getsockopt(zmq.FD)
    push.send(b"hi")
    import select as sel
    assert sel.select([fd], [], [], 2)[0]
    assert pull.recv() == b"hi"
    ctx.destroy(linger=0)
    print("ok")
    """
)


def test_child_without_posix_pieces_runs_traffic():
    code = CHILD.format(tests=HERE, src=SRC)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.skipif(
    not os.environ.get("PUREZMQ_NONPOSIX_STRIPPED"), reason="only under PUREZMQ_TEST_NONPOSIX=1"
)
def test_this_session_runs_without_posix_pieces():
    import select

    assert not hasattr(select, "poll") and not hasattr(socket, "AF_UNIX")
    assert not hasattr(os, "fork")
    assert _compat.AF_UNIX is None
    ctx = zmq.Context()
    try:
        with pytest.raises(zmq.ZMQError) as e:
            ctx.socket(zmq.PAIR).connect("ipc://anything")
        assert e.value.errno == zmq.EPROTONOSUPPORT
    finally:
        ctx.destroy(linger=0)


def _have_fcntl() -> bool:
    try:
        import fcntl  # noqa: F401
    except ImportError:  # (removed under PUREZMQ_TEST_NONPOSIX)
        return False
    return True


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(socket, "if_nametoindex")
    or not _have_fcntl(),
    reason="the fallback is Linux's ioctl; compared with the socket module's functions",
)
def test_interface_lookups_without_the_socket_functions(monkeypatch):
    """PyPy 3.9's socket module has no if_nametoindex/if_nameindex: the Linux fallback
    (an ioctl and /proc/self/net/dev) agrees with what CPython's functions say."""
    real_index = socket.if_nametoindex("lo")
    real_list = socket.if_nameindex()
    monkeypatch.delattr(socket, "if_nametoindex")
    monkeypatch.delattr(socket, "if_nameindex")
    assert _compat.if_nametoindex("lo") == real_index
    assert sorted(_compat.if_nameindex()) == sorted(real_list)
    for bad in ("no-such-if0", "", "../lo"):
        with pytest.raises(OSError):
            _compat.if_nametoindex(bad)
