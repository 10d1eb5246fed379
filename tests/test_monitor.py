"""Socket monitor events: each one reported in the situation that causes it, as libzmq does.

Event values follow libzmq: a file descriptor for CONNECTED, ACCEPTED, LISTENING, CLOSED and
DISCONNECTED, the reconnect interval for CONNECT_RETRIED, an errno for failures, the ZAP
status code for HANDSHAKE_FAILED_AUTH.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import purezmq as zmq
from purezmq.utils.monitor import parse_monitor_message, recv_monitor_message

pytestmark = pytest.mark.timeout(60)

SRC = Path(__file__).resolve().parent.parent / "src"
E = zmq.Event


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


def next_event(mon, timeout: float = 5.0) -> dict:
    if not mon.poll(int(timeout * 1000)):
        raise AssertionError("no monitor event")
    return recv_monitor_message(mon)


def wait_event(mon, event: int, timeout: float = 5.0) -> tuple[dict, list[dict]]:
    """Read events until ``event``; return it and everything seen before it."""
    deadline = time.monotonic() + timeout
    seen: list[dict] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not mon.poll(int(remaining * 1000) + 1):
            names = [E(e["event"]).name for e in seen]
            raise AssertionError(f"{E(event).name} not reported; got {names}")
        ev = recv_monitor_message(mon)
        if ev["event"] == event:
            return ev, seen
        seen.append(ev)


def free_port() -> int:
    """A port nothing listens on (bound then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- the message format -------------------------------------------------------------------------


def test_parse_monitor_message_format():
    raw = [struct.pack("<HI", int(E.CONNECTED), 17), b"tcp://127.0.0.1:5555"]
    ev = parse_monitor_message(raw)
    assert ev == {"event": E.CONNECTED, "value": 17, "endpoint": b"tcp://127.0.0.1:5555"}
    assert isinstance(ev["event"], E)
    frames = [zmq.Frame(raw[0]), zmq.Frame(raw[1])]
    assert parse_monitor_message(frames)["endpoint"] == b"tcp://127.0.0.1:5555"
    for bad in ([raw[0]], [raw[0][:5], raw[1]], [*raw, b""]):
        with pytest.raises(RuntimeError):
            parse_monitor_message(bad)


def test_parse_monitor_message_matches_pyzmq():
    pyzmq_monitor = pytest.importorskip("zmq.utils.monitor")
    for event, value in [
        (E.CONNECTED, 9),
        (E.CONNECT_RETRIED, 200),
        (E.HANDSHAKE_FAILED_PROTOCOL, int(E.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)),
        (E.HANDSHAKE_FAILED_AUTH, 400),
        (E.MONITOR_STOPPED, 0),
    ]:
        raw = [struct.pack("<HI", int(event), value), b"tcp://h:1"]
        ours, theirs = parse_monitor_message(raw), pyzmq_monitor.parse_monitor_message(raw)
        assert int(ours["event"]) == int(theirs["event"])
        assert int(ours["value"]) == int(theirs["value"])
        assert ours["endpoint"] == theirs["endpoint"]


def test_wire_format_of_an_event(ctx):
    sock = ctx.socket(zmq.PULL)
    mon = sock.get_monitor_socket()
    sock.bind("tcp://127.0.0.1:*")
    frames = mon.recv_multipart()
    assert len(frames) == 2 and len(frames[0]) == 6
    event, value = struct.unpack("<HI", frames[0])
    assert event == E.LISTENING
    assert frames[1] == sock.last_endpoint


# -- connection life cycle ------------------------------------------------------------------------


def test_listening_accepted_connected_handshake_disconnected(ctx):
    server = ctx.socket(zmq.ROUTER)
    smon = server.get_monitor_socket()
    server.bind("tcp://127.0.0.1:*")
    endpoint = server.last_endpoint
    listening = next_event(smon)
    assert listening["event"] == E.LISTENING
    assert listening["endpoint"] == endpoint
    assert listening["value"] > 0  # the listening socket's fd

    client = ctx.socket(zmq.DEALER)
    cmon = client.get_monitor_socket()
    client.connect(endpoint.decode())

    delayed, _ = wait_event(cmon, E.CONNECT_DELAYED)
    assert delayed["value"] == errno.EINPROGRESS
    assert delayed["endpoint"] == endpoint
    connected, _ = wait_event(cmon, E.CONNECTED)
    assert connected["value"] > 0 and connected["endpoint"] == endpoint
    hs, _ = wait_event(cmon, E.HANDSHAKE_SUCCEEDED)
    assert hs["value"] == 0 and hs["endpoint"] == endpoint

    accepted, _ = wait_event(smon, E.ACCEPTED)
    assert accepted["value"] > 0 and accepted["endpoint"] == endpoint
    wait_event(smon, E.HANDSHAKE_SUCCEEDED)

    client.send(b"ping")
    rid, msg = server.recv_multipart()
    assert msg == b"ping"

    # The server goes away: the client's connection is DISCONNECTED, with its fd.
    server.close(linger=0)
    disconnected, _ = wait_event(cmon, E.DISCONNECTED)
    assert disconnected["value"] == connected["value"]
    assert disconnected["endpoint"] == endpoint
    # ... and it keeps trying to reconnect
    wait_event(cmon, E.CONNECT_RETRIED)


def test_connect_retried_reports_the_interval(ctx):
    client = ctx.socket(zmq.DEALER)
    client.reconnect_ivl = 50
    mon = client.get_monitor_socket()
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    client.connect(endpoint)
    retried, seen = wait_event(mon, E.CONNECT_RETRIED)
    assert retried["value"] >= 50  # libzmq adds a jitter; purezmq may too
    assert retried["endpoint"] == endpoint.encode()
    names = [e["event"] for e in seen]
    assert E.CONNECTED not in names
    # libzmq closes the failed attempt's socket first: CLOSED, with that socket's fd
    closed = [e for e in seen if e["event"] == E.CLOSED]
    assert closed and closed[-1]["value"] > 0 and closed[-1]["endpoint"] == endpoint.encode()
    retried2, _ = wait_event(mon, E.CONNECT_RETRIED)  # and again, after the interval


def test_connect_retried_backs_off(ctx):
    client = ctx.socket(zmq.DEALER)
    client.reconnect_ivl = 20
    client.reconnect_ivl_max = 200
    mon = client.get_monitor_socket()
    client.connect(f"tcp://127.0.0.1:{free_port()}")
    values = [wait_event(mon, E.CONNECT_RETRIED)[0]["value"] for _ in range(5)]
    assert values[0] >= 20
    assert max(values) > values[0]
    assert all(v <= 2 * 200 for v in values)


def test_bind_failed(ctx):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        sock = ctx.socket(zmq.PULL)
        mon = sock.get_monitor_socket()
        with pytest.raises(zmq.ZMQError) as info:
            sock.bind(f"tcp://127.0.0.1:{port}")
        assert info.value.errno == errno.EADDRINUSE
        ev = next_event(mon)
        assert ev["event"] == E.BIND_FAILED
        assert ev["value"] == errno.EADDRINUSE
        assert ev["endpoint"] == f"tcp://127.0.0.1:{port}".encode()
    finally:
        blocker.close()


def test_closed_on_unbind(ctx):
    sock = ctx.socket(zmq.PULL)
    mon = sock.get_monitor_socket()
    sock.bind("tcp://127.0.0.1:*")
    endpoint = sock.last_endpoint
    listening = next_event(mon)
    sock.unbind(endpoint.decode())
    closed, _ = wait_event(mon, E.CLOSED)
    assert closed["value"] == listening["value"]
    assert closed["endpoint"] == endpoint


def test_monitor_stopped_on_disable(ctx):
    sock = ctx.socket(zmq.PULL)
    mon = sock.get_monitor_socket()
    sock.disable_monitor()
    ev = next_event(mon)
    assert ev["event"] == E.MONITOR_STOPPED
    assert ev["value"] == 0
    # no more events after that
    sock.bind("tcp://127.0.0.1:*")
    assert not mon.poll(100)


def test_monitor_stopped_on_close(ctx):
    sock = ctx.socket(zmq.PULL)
    mon = sock.get_monitor_socket()
    sock.bind("inproc://monitor-stopped")
    sock.close()
    ev, _ = wait_event(mon, E.MONITOR_STOPPED)
    assert ev["value"] == 0


def test_monitor_none_disables(ctx):
    sock = ctx.socket(zmq.PULL)
    mon = sock.get_monitor_socket()
    sock.monitor(None)
    assert next_event(mon)["event"] == E.MONITOR_STOPPED


def test_event_mask(ctx):
    server = ctx.socket(zmq.PULL)
    server.bind("tcp://127.0.0.1:*")
    client = ctx.socket(zmq.PUSH)
    mon = client.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    client.connect(server.last_endpoint.decode())
    ev = next_event(mon)
    assert ev["event"] == E.HANDSHAKE_SUCCEEDED  # CONNECT_DELAYED, CONNECTED were masked


def test_monitor_requires_inproc(ctx):
    sock = ctx.socket(zmq.PULL)
    with pytest.raises(zmq.ZMQError):
        sock.monitor("tcp://127.0.0.1:5555")


def test_monitor_with_explicit_address(ctx):
    sock = ctx.socket(zmq.PULL)
    sock.monitor("inproc://my-monitor", zmq.EVENT_LISTENING)
    mon = ctx.socket(zmq.PAIR)
    mon.connect("inproc://my-monitor")
    sock.bind("tcp://127.0.0.1:*")
    assert next_event(mon)["event"] == E.LISTENING


# -- handshake failures -------------------------------------------------------------------------


def _raw_client(endpoint: bytes) -> socket.socket:
    host, port = endpoint.decode().rsplit("/", 1)[1].rsplit(":", 1)
    return socket.create_connection((host, int(port)))


def test_handshake_failed_protocol(ctx):
    server = ctx.socket(zmq.PULL)
    mon = server.get_monitor_socket()
    server.bind("tcp://127.0.0.1:*")
    raw = _raw_client(server.last_endpoint)
    try:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
        failed, seen = wait_event(mon, E.HANDSHAKE_FAILED_PROTOCOL)
        assert E.ACCEPTED in [e["event"] for e in seen]
        assert failed["endpoint"] == server.last_endpoint
        # the value is one of libzmq's ZMQ_PROTOCOL_ERROR_ZMTP_* codes
        assert 0x10000000 <= failed["value"] < 0x20000000
        # then the connection is dropped
        wait_event(mon, E.DISCONNECTED)
        raw.settimeout(5)
        try:
            while raw.recv(4096):
                pass
        except ConnectionResetError:
            pass
    finally:
        raw.close()


def test_handshake_failed_protocol_mechanism_mismatch(ctx):
    server = ctx.socket(zmq.PULL)
    server.plain_server = True
    mon = server.get_monitor_socket()
    server.bind("tcp://127.0.0.1:*")
    client = ctx.socket(zmq.PUSH)  # NULL mechanism
    client.connect(server.last_endpoint.decode())
    failed, _ = wait_event(mon, E.HANDSHAKE_FAILED_PROTOCOL)
    assert failed["value"] == E.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH


def test_handshake_failed_no_detail_on_timeout(ctx):
    server = ctx.socket(zmq.PULL)
    server.handshake_ivl = 200
    mon = server.get_monitor_socket()
    server.bind("tcp://127.0.0.1:*")
    raw = _raw_client(server.last_endpoint)  # connects, then says nothing
    try:
        t0 = time.monotonic()
        failed, _ = wait_event(mon, E.HANDSHAKE_FAILED_NO_DETAIL)
        assert 0.15 <= time.monotonic() - t0 < 5
        assert failed["endpoint"] == server.last_endpoint
        wait_event(mon, E.DISCONNECTED)
    finally:
        raw.close()


def test_handshake_failed_no_detail_when_peer_hangs_up(ctx):
    server = ctx.socket(zmq.PULL)
    mon = server.get_monitor_socket()
    server.bind("tcp://127.0.0.1:*")
    raw = _raw_client(server.last_endpoint)
    wait_event(mon, E.ACCEPTED)
    raw.close()
    failed, _ = wait_event(mon, E.HANDSHAKE_FAILED_NO_DETAIL)
    # libzmq's errno for a connection closed by the peer (EPIPE), or reset (our greeting
    # was unread when the raw client closed, so its kernel may answer with a RST)
    assert failed["value"] in (errno.EPIPE, errno.ECONNRESET)
    wait_event(mon, E.DISCONNECTED)


def test_handshake_failed_auth_from_a_pyzmq_server(ctx):
    """A pyzmq (libzmq) PLAIN server refuses our credentials: the client reports 400."""
    pyzmq = pytest.importorskip("zmq")
    pyzmq_thread = pytest.importorskip("zmq.auth.thread")
    pctx = pyzmq.Context()
    auth = pyzmq_thread.ThreadAuthenticator(pctx)
    auth.start()
    try:
        auth.configure_plain(domain="*", passwords={"admin": "secret"})
        server = pctx.socket(pyzmq.PULL)
        server.plain_server = True
        server.linger = 0
        port = server.bind_to_random_port("tcp://127.0.0.1")
        client = ctx.socket(zmq.PUSH)
        client.plain_username = b"admin"
        client.plain_password = b"wrong"
        mon = client.get_monitor_socket()
        client.connect(f"tcp://127.0.0.1:{port}")
        failed, _ = wait_event(mon, E.HANDSHAKE_FAILED_AUTH)
        assert failed["value"] == 400
        client.close(0)
        server.close()
    finally:
        auth.stop()
        pctx.destroy(linger=0)


def test_handshake_failed_auth_on_a_purezmq_server(ctx):
    """Our PLAIN server with a ZAP handler that refuses: the server reports the status."""
    try:
        from purezmq.auth.thread import ThreadAuthenticator
    except ImportError as e:  # pragma: no cover
        pytest.skip(f"purezmq.auth not available: {e}")
    auth = ThreadAuthenticator(ctx)
    auth.start()
    try:
        auth.configure_plain(domain="*", passwords={"admin": "secret"})
        server = ctx.socket(zmq.PULL)
        server.plain_server = True
        smon = server.get_monitor_socket()
        server.bind("tcp://127.0.0.1:*")
        client = ctx.socket(zmq.PUSH)
        client.plain_username = b"admin"
        client.plain_password = b"wrong"
        cmon = client.get_monitor_socket()
        client.connect(server.last_endpoint.decode())
        failed, _ = wait_event(smon, E.HANDSHAKE_FAILED_AUTH)
        assert failed["value"] == 400
        assert failed["endpoint"] == server.last_endpoint
        failed, _ = wait_event(cmon, E.HANDSHAKE_FAILED_AUTH)
        assert failed["value"] == 400
        # and good credentials still get through
        good = ctx.socket(zmq.PUSH)
        good.plain_username = b"admin"
        good.plain_password = b"secret"
        good.connect(server.last_endpoint.decode())
        good.send(b"welcome")
        server.rcvtimeo = 5000
        assert server.recv() == b"welcome"
    finally:
        auth.stop()


# -- accept failures ------------------------------------------------------------------------------

_ACCEPT_FAILED_CHILD = textwrap.dedent(
    """
    import os, resource, sys
    import purezmq as zmq
    from purezmq.utils.monitor import recv_monitor_message

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    mon = sock.get_monitor_socket()
    sock.bind("tcp://127.0.0.1:*")
    ev = recv_monitor_message(mon)
    assert ev["event"] == zmq.EVENT_LISTENING
    open_fds = len(os.listdir("/proc/self/fd"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # No descriptor left for accept(): it fails with EMFILE.
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_fds - 1, hard))
    print(sock.last_endpoint.decode(), flush=True)
    mon.rcvtimeo = 10000
    while True:
        ev = recv_monitor_message(mon)
        if ev["event"] == zmq.EVENT_ACCEPT_FAILED:
            print("ACCEPT_FAILED", int(ev["value"]), ev["endpoint"].decode(), flush=True)
            os._exit(0)
    """
)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs RLIMIT_NOFILE and /proc/self/fd"
)
def test_accept_failed():
    env = dict(os.environ, PYTHONPATH=str(SRC))
    child = subprocess.Popen(
        [sys.executable, "-c", _ACCEPT_FAILED_CHILD],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        endpoint = child.stdout.readline().strip()
        assert endpoint.startswith("tcp://"), child.stderr.read()
        raw = _raw_client(endpoint.encode())
        try:
            out, err = child.communicate(timeout=20)
        finally:
            raw.close()
        assert child.returncode == 0, err
        name, value, ep = out.split()
        assert name == "ACCEPT_FAILED"
        assert int(value) in (errno.EMFILE, errno.ENFILE)
        assert ep == endpoint
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# -- monitoring from another thread -----------------------------------------------------------


def test_monitor_read_in_another_thread(ctx):
    server = ctx.socket(zmq.PULL)
    mon = server.get_monitor_socket()
    events: list[int] = []

    def reader() -> None:
        while True:
            ev = recv_monitor_message(mon)
            events.append(int(ev["event"]))
            if ev["event"] == E.MONITOR_STOPPED:
                return

    t = threading.Thread(target=reader)
    t.start()
    server.bind("tcp://127.0.0.1:*")
    client = ctx.socket(zmq.PUSH)
    client.connect(server.last_endpoint.decode())
    client.send(b"x")
    assert server.recv() == b"x"
    server.close()
    t.join(10)
    assert not t.is_alive()
    assert events[0] == E.LISTENING
    assert E.ACCEPTED in events and E.HANDSHAKE_SUCCEEDED in events
    assert events[-1] == E.MONITOR_STOPPED


def test_get_monitor_socket_twice_returns_the_same(ctx):
    sock = ctx.socket(zmq.PULL)
    mon = sock.get_monitor_socket()
    assert sock.get_monitor_socket() is mon  # as pyzmq: already monitoring
    sock.disable_monitor()
    assert next_event(mon)["event"] == E.MONITOR_STOPPED
    mon2 = sock.get_monitor_socket()
    assert mon2 is not mon
    sock.bind("tcp://127.0.0.1:*")
    assert next_event(mon2)["event"] == E.LISTENING


def test_monitor_address_as_bytes(ctx):
    sock = ctx.socket(zmq.PULL)
    sock.monitor(b"inproc://bytes-monitor", zmq.EVENT_LISTENING)
    mon = ctx.socket(zmq.PAIR)
    mon.connect("inproc://bytes-monitor")
    sock.bind("tcp://127.0.0.1:*")
    assert next_event(mon)["event"] == E.LISTENING


def test_events_while_the_monitor_is_disabled_concurrently(ctx):
    """The I/O thread reports events while the user thread stops the monitor: no error."""
    server = ctx.socket(zmq.PULL)
    server.bind("tcp://127.0.0.1:*")
    endpoint = server.last_endpoint.decode()
    clients = []
    for _ in range(20):
        c = ctx.socket(zmq.PUSH)
        mon = c.get_monitor_socket()
        c.connect(endpoint)
        c.disable_monitor()
        mon.close()
        clients.append(c)
    for c in clients:
        c.send(b"x")
    for _ in clients:
        assert server.recv() == b"x"
