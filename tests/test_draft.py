"""The draft socket types, purezmq to purezmq: CLIENT/SERVER, RADIO/DISH (tcp, ipc, inproc,
udp), SCATTER/GATHER, PEER and CHANNEL.

pyzmq's wheels have no draft API, so libzmq is not a peer here; the wire format is checked
by hand instead (raw ZMTP peers driven by :class:`ZmtpConnection`, raw udp datagrams)
against what libzmq's ``radio.cpp``, ``dish.cpp`` and ``udp_engine.cpp`` write.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import time
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sockhelp import TIMEO, _names, bind, context, fresh_addr, ipc_directory, make  # noqa: F401

import purezmq as zmq
from purezmq.transports import udp
from purezmq.zmtp import ZmtpConnection
from purezmq.zmtp.events import GroupMembership, HandshakeSucceeded
from purezmq.zmtp.frames import COMMAND, MORE
from purezmq.zmtp.mechanisms.null import NullMechanism

pytestmark = pytest.mark.timeout(60)

ctx = pytest.fixture(context)
ipc_dir = pytest.fixture(scope="session")(ipc_directory)


@pytest.fixture(params=["tcp", "ipc", "inproc"])
def transport(request):
    return request.param


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recv_or_none(sock, timeout_ms: int = 100, copy: bool = True):
    if not sock.poll(timeout_ms, zmq.POLLIN):
        return None
    return sock.recv(zmq.NOBLOCK, copy=copy)


def errno_of(fn, *args, **kw) -> int:
    with pytest.raises(zmq.ZMQError) as info:
        fn(*args, **kw)
    return info.value.errno


def sync_radio(radio, dishes, group: str = "sync", timeout: float = 10.0) -> None:
    """Send to ``group`` until every dish (joined to it) got one; then drain them."""
    pending = list(dishes)
    deadline = time.monotonic() + timeout
    while pending:
        assert time.monotonic() < deadline, "the JOINs never reached the radio"
        radio.send(b"!sync", group=group)
        pending = [d for d in pending if recv_or_none(d, 20) is None]
    time.sleep(0.05)
    for d in dishes:
        while recv_or_none(d, 20) is not None:
            pass


# -- constants and the API flags -----------------------------------------------------------
def test_draft_api_flags():
    assert zmq.DRAFT_API is True
    assert zmq.has("draft")
    for name, value in [
        ("SERVER", 12), ("CLIENT", 13), ("RADIO", 14), ("DISH", 15), ("GATHER", 16),
        ("SCATTER", 17), ("PEER", 19), ("CHANNEL", 20),
    ]:  # fmt: skip
        assert getattr(zmq, name) == value


@pytest.mark.parametrize(
    "stype", [zmq.SERVER, zmq.CLIENT, zmq.RADIO, zmq.DISH, zmq.GATHER, zmq.SCATTER,
              zmq.PEER, zmq.CHANNEL],
)  # fmt: skip
def test_draft_types_create(ctx, stype):
    s = ctx.socket(stype)
    assert s.type == stype
    assert s.socket_type == stype
    s.close()


# -- CLIENT / SERVER ---------------------------------------------------------------------
def test_client_server_roundtrip(ctx, transport, ipc_dir):
    server = make(ctx, zmq.SERVER)
    ep = bind(server, transport, ipc_dir)
    c1 = make(ctx, zmq.CLIENT)
    c2 = make(ctx, zmq.CLIENT)
    c1.connect(ep)
    c2.connect(ep)
    c1.send(b"one")
    c2.send(b"two")
    got = {}
    for _ in range(2):
        f = server.recv(copy=False)
        assert isinstance(f.routing_id, int) and 0 < f.routing_id < 2**32
        assert f.get("routing_id") == f.routing_id
        assert not f.more
        got[f.bytes] = f.routing_id
    assert set(got) == {b"one", b"two"}
    assert got[b"one"] != got[b"two"]
    server.send(b"to-one", routing_id=got[b"one"])
    server.send(b"to-two", routing_id=got[b"two"])
    assert c1.recv() == b"to-one"
    assert c2.recv() == b"to-two"
    # Echoing the received Frame replies to its sender (pyzmq keeps the routing id).
    c2.send(b"echo me")
    f = server.recv(copy=False)
    server.send(f)
    assert c2.recv() == b"echo me"
    assert recv_or_none(c1, 50) is None
    # Repeated messages keep their peer's id.
    c1.send(b"again")
    assert server.recv(copy=False).routing_id == got[b"one"]


def test_server_errors(ctx, transport, ipc_dir):
    server = make(ctx, zmq.SERVER)
    ep = bind(server, transport, ipc_dir)
    client = make(ctx, zmq.CLIENT)
    client.connect(ep)
    client.send(b"hi")
    rid = server.recv(copy=False).routing_id
    assert errno_of(server.send, b"x") == zmq.EHOSTUNREACH  # no routing id
    other = rid % 0xFFFFFFFF + 1
    assert errno_of(server.send, b"x", routing_id=other) == zmq.EHOSTUNREACH
    assert errno_of(server.send, b"x", routing_id=0) == zmq.EINVAL
    with pytest.raises(OverflowError):
        server.send(b"x", routing_id=2**32)
    assert errno_of(server.send, b"x", zmq.SNDMORE, routing_id=rid) == zmq.EINVAL
    assert errno_of(server.send_multipart, [b"a", b"b"]) == zmq.EINVAL
    assert errno_of(client.send, b"x", zmq.SNDMORE) == zmq.EINVAL
    assert errno_of(client.send_multipart, [b"a", b"b"]) == zmq.EINVAL
    # send_multipart of one Frame keeps its routing id; of one plain part it is one frame.
    f = zmq.Frame(b"via-multipart")
    f.routing_id = rid
    server.send_multipart([f])
    assert client.recv() == b"via-multipart"
    client.send_multipart([b"single"])
    assert server.recv() == b"single"
    # Nothing was sent by the failed calls.
    assert recv_or_none(client, 50) is None
    assert recv_or_none(server, 50) is None
    assert server.poll(0, zmq.POLLOUT) == zmq.POLLOUT  # as libzmq: SERVER is always writable
    assert server.getsockopt(zmq.THREAD_SAFE) == 0  # purezmq's are not (see docs)


def test_server_forgets_a_gone_client(ctx, transport, ipc_dir):
    server = make(ctx, zmq.SERVER)
    ep = bind(server, transport, ipc_dir)
    client = make(ctx, zmq.CLIENT)
    client.connect(ep)
    client.send(b"hi")
    rid = server.recv(copy=False).routing_id
    client.close(linger=0)
    deadline = time.monotonic() + 5
    while True:
        try:
            server.send(b"x", routing_id=rid, flags=zmq.DONTWAIT)
        except zmq.ZMQError as e:
            assert e.errno == zmq.EHOSTUNREACH
            break
        assert time.monotonic() < deadline, "the server still routes to a closed client"
        time.sleep(0.02)


def test_server_blocks_on_a_full_peer(ctx):
    server = make(ctx, zmq.SERVER, sndhwm=1)
    server.bind("inproc://draft-full")
    client = make(ctx, zmq.CLIENT, rcvhwm=1)
    client.connect("inproc://draft-full")
    client.send(b"hi")
    rid = server.recv(copy=False).routing_id
    sent = 0
    with pytest.raises(zmq.Again):
        for _ in range(100):
            server.send(b"m", routing_id=rid, flags=zmq.DONTWAIT)
            sent += 1
    assert 1 <= sent <= 4
    server.sndtimeo = 50
    with pytest.raises(zmq.Again):
        server.send(b"m", routing_id=rid)
    assert client.recv() == b"m"
    server.send(b"m", routing_id=rid, flags=zmq.DONTWAIT)  # room again


def test_client_load_balances_and_fair_queues(ctx, transport, ipc_dir):
    servers = [make(ctx, zmq.SERVER) for _ in range(2)]
    client = make(ctx, zmq.CLIENT)
    for s in servers:
        client.connect(bind(s, transport, ipc_dir))
    time.sleep(0.2)  # both connections up: round robin over two peers
    for i in range(10):
        client.send(b"%d" % i)
    counts = []
    for s in servers:
        n = 0
        while recv_or_none(s, 200) is not None:
            n += 1
        counts.append(n)
    assert sum(counts) == 10 and all(counts), counts


def test_client_server_poll_and_dontwait(ctx, transport, ipc_dir):
    server = make(ctx, zmq.SERVER)
    ep = bind(server, transport, ipc_dir)
    client = make(ctx, zmq.CLIENT)
    client.connect(ep)
    with pytest.raises(zmq.Again):
        server.recv(zmq.DONTWAIT)
    client.send(b"x")
    assert server.poll(TIMEO, zmq.POLLIN) == zmq.POLLIN
    poller = zmq.Poller()
    poller.register(server, zmq.POLLIN)
    assert dict(poller.poll(TIMEO)) == {server: zmq.POLLIN}
    f = server.recv(copy=False)
    assert f.bytes == b"x" and f.routing_id
    assert server.poll(0, zmq.POLLIN) == 0


def test_send_helpers_take_routing_id(ctx):
    server = make(ctx, zmq.SERVER)
    server.bind("inproc://draft-helpers")
    client = make(ctx, zmq.CLIENT)
    client.connect("inproc://draft-helpers")
    client.send_string("hello")
    f = server.recv(copy=False)
    rid = f.routing_id
    server.send_string("text", routing_id=rid)
    server.send_json({"a": 1}, routing_id=rid)
    server.send_pyobj([1, 2], routing_id=rid)
    assert client.recv_string() == "text"
    assert client.recv_json() == {"a": 1}
    assert client.recv_pyobj() == [1, 2]
    client.send(b"mp")
    (mf,) = server.recv_multipart(copy=False)
    assert mf.bytes == b"mp" and mf.routing_id == rid


def test_multipart_from_a_rogue_client_is_dropped(ctx):
    """A peer that sends multipart messages despite RFC 41: SERVER drops them (libzmq)."""
    server = make(ctx, zmq.SERVER)
    server.bind("tcp://127.0.0.1:*")
    port = int(server.last_endpoint.decode().rsplit(":", 1)[1])
    raw = RawZmtp("CLIENT", ("127.0.0.1", port))
    try:
        raw.send_frames([b"part1", b"part2"])
        raw.send_frames([b"whole"])
        f = server.recv(copy=False)
        assert f.bytes == b"whole" and f.routing_id
        server.send(b"reply", routing_id=f.routing_id)
        assert raw.recv_message() == [b"reply"]
    finally:
        raw.close()


# -- raw ZMTP peers (the wire format) ------------------------------------------------------
class RawZmtp:
    """A ZMTP peer of a given socket type over a plain TCP socket (blocking, with a
    timeout), to look at exactly what a purezmq socket writes."""

    def __init__(self, socket_type: str, address, as_server: bool = False) -> None:
        self.conn = ZmtpConnection(socket_type, NullMechanism(as_server=as_server))
        self.sock = socket.create_connection(address, timeout=5)
        self.events: list = []
        self.raw = bytearray()  # every byte received
        self._flush()
        while not self.conn.ready:
            self._read()
        assert any(isinstance(e, HandshakeSucceeded) for e in self.events)
        self.events = [e for e in self.events if not isinstance(e, HandshakeSucceeded)]

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def _read(self) -> None:
        data = self.sock.recv(65536)
        assert data, "peer closed"
        self.raw.extend(data)
        self.events.extend(self.conn.receive_data(data, time.monotonic()))
        self._flush()

    def send_items(self, items) -> None:
        out: list = []
        self.conn.encode(items, out)
        self.sock.sendall(b"".join(out))

    def send_frames(self, frames) -> None:
        self.send_items([list(frames)])

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_event(self, cls=None):
        while True:
            for i, ev in enumerate(self.events):
                if cls is None or isinstance(ev, cls):
                    return self.events.pop(i)
            self._read()

    def recv_message(self) -> list:
        msg = self.next_event((bytes, list))  # one frame comes bare
        return [msg] if type(msg) is bytes else [bytes(f) for f in msg]

    def close(self) -> None:
        self.sock.close()


def test_radio_wire_format_over_tcp(ctx):
    """RADIO writes a group frame (MORE) then the body, only to peers that sent JOIN."""
    radio = make(ctx, zmq.RADIO)
    radio.bind("tcp://127.0.0.1:*")
    port = int(radio.last_endpoint.decode().rsplit(":", 1)[1])
    raw = RawZmtp("DISH", ("127.0.0.1", port))
    try:
        raw.send_raw(b"\x04\x09\x04JOINnews")  # a JOIN command as libzmq's dish writes it
        deadline = time.monotonic() + 5
        raw.sock.settimeout(0.05)
        while True:
            radio.send(b"other", group="sport")
            radio.send(b"hello", group="news")
            try:
                raw._read()
            except socket.timeout:  # TimeoutError from Python 3.10
                pass
            if any(isinstance(e, (bytes, list)) for e in raw.events):
                break
            assert time.monotonic() < deadline, "the radio never honoured the JOIN"
        raw.sock.settimeout(5)
        assert raw.recv_message() == [b"news", b"hello"]
        # the exact bytes: group frame with MORE, then the body frame
        start = raw.raw.find(b"news")
        assert raw.raw[start - 2 : start] == bytes((MORE, 4))
        assert raw.raw[start + 4 : start + 11] == b"\x00\x05hello"
        assert b"other" not in raw.raw
        # LEAVE: nothing more for that group
        raw.send_raw(b"\x04\x0a\x05LEAVEnews")
        time.sleep(0.2)
        raw.events.clear()
        radio.send(b"late", group="news")
        raw.sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            while True:
                raw._read()
                assert not any(isinstance(e, (bytes, list)) for e in raw.events)
    finally:
        raw.close()


def test_dish_wire_format_over_tcp(ctx):
    """DISH sends JOIN/LEAVE commands (``\\x04JOIN`` + group) and takes group+body frames."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    dish = make(ctx, zmq.DISH)
    dish.join("weather")
    dish.connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    conn, _ = listener.accept()
    listener.close()
    raw = RawZmtpAccepted("RADIO", conn)
    try:
        ev = raw.next_event(GroupMembership)
        assert ev == GroupMembership(b"weather", True)
        assert b"\x04\x0c\x04JOINweather" in raw.raw  # the command frame, byte for byte
        dish.join("traffic")
        assert raw.next_event(GroupMembership) == GroupMembership(b"traffic", True)
        dish.leave("traffic")
        assert raw.next_event(GroupMembership) == GroupMembership(b"traffic", False)
        assert b"\x04\x0d\x05LEAVEtraffic" in raw.raw
        raw.send_frames([b"traffic", b"dropped: left"])
        raw.send_frames([b"weather", b"sunny"])
        f = dish.recv(copy=False)
        assert f.bytes == b"sunny" and f.group == "weather"
        assert f.get("group") == "weather"
        assert recv_or_none(dish, 100) is None
    finally:
        raw.close()


class RawZmtpAccepted(RawZmtp):
    def __init__(self, socket_type: str, sock) -> None:
        self.conn = ZmtpConnection(socket_type, NullMechanism(as_server=True))
        self.sock = sock
        self.sock.settimeout(5)
        self.events = []
        self.raw = bytearray()
        self._flush()
        while not self.conn.ready:
            self._read()
        self.events = [e for e in self.events if not isinstance(e, HandshakeSucceeded)]


def test_join_leave_commands_sans_io():
    """A DISH connection encodes GroupMembership as JOIN/LEAVE; a RADIO one decodes them,
    and other types ignore them (RFC 37: unknown commands are ignored)."""

    def pair(a_type, b_type):
        a = ZmtpConnection(a_type, NullMechanism(as_server=False))
        b = ZmtpConnection(b_type, NullMechanism(as_server=True))
        for _ in range(10):
            for src, dst in ((a, b), (b, a)):
                data = src.data_to_send()
                if data:
                    dst.receive_data(data)
        assert a.ready and b.ready
        return a, b

    dish, radio = pair("DISH", "RADIO")
    out: list = []
    dish.encode([GroupMembership(b"g", True), GroupMembership(b"g", False)], out)
    wire = b"".join(out)
    assert wire == b"\x04\x06\x04JOINg\x04\x07\x05LEAVEg"
    assert wire[0] == COMMAND
    assert radio.receive_data(wire) == [GroupMembership(b"g", True), GroupMembership(b"g", False)]
    q = deque([GroupMembership(b"h", True)])
    out = []
    dish.encode_queue(q, out, 1 << 16)
    assert b"".join(out) == b"\x04\x06\x04JOINh"
    client, server = pair("CLIENT", "SERVER")
    assert server.receive_data(b"\x04\x06\x04JOINg") == []


# -- RADIO / DISH ------------------------------------------------------------------------
def test_radio_dish_groups(ctx, transport, ipc_dir):
    radio = make(ctx, zmq.RADIO)
    ep = bind(radio, transport, ipc_dir)
    d1 = make(ctx, zmq.DISH)
    d2 = make(ctx, zmq.DISH)
    for d in (d1, d2):
        d.connect(ep)
        d.join("sync")
    d1.join("a")
    d2.join(b"b")
    sync_radio(radio, [d1, d2])
    radio.send(b"for-a", group="a")
    radio.send(b"for-b", group=b"b")
    radio.send(b"for-c", group="c")
    f = d1.recv(copy=False)
    assert (f.bytes, f.group) == (b"for-a", "a")
    f = d2.recv(copy=False)
    assert (f.bytes, f.group) == (b"for-b", "b")
    assert recv_or_none(d1, 100) is None
    assert recv_or_none(d2, 50) is None
    # A Frame carries its group; a received one can be re-sent as is.
    out = zmq.Frame(b"framed")
    out.group = "a"
    radio.send(out)
    got = d1.recv(copy=False)
    assert got.group == "a"
    radio.send(got)
    assert d1.recv() == b"framed"
    # leave: no more of that group
    d1.leave("a")
    d1.join("c")
    sync_radio(radio, [d1], "c")
    radio.send(b"for-a again", group="a")
    radio.send(b"for-c", group="c")
    assert d1.recv() == b"for-c"
    assert recv_or_none(d1, 100) is None


def test_radio_without_group_sends_to_the_empty_group(ctx):
    radio = make(ctx, zmq.RADIO)
    radio.bind("inproc://draft-empty")
    dish = make(ctx, zmq.DISH)
    dish.connect("inproc://draft-empty")
    dish.join("")
    radio.send(b"no group")
    f = dish.recv(copy=False)
    assert f.bytes == b"no group" and f.group == ""


def test_radio_dish_errors(ctx):
    radio = make(ctx, zmq.RADIO)
    dish = make(ctx, zmq.DISH)
    assert errno_of(radio.recv) == zmq.ENOTSUP
    assert errno_of(dish.send, b"x") == zmq.ENOTSUP
    assert errno_of(dish.send, b"x", group="g") == zmq.ENOTSUP
    assert errno_of(radio.send, b"x", zmq.SNDMORE, group="g") == zmq.EINVAL
    assert errno_of(radio.send_multipart, [b"a", b"b"]) == zmq.EINVAL
    assert errno_of(radio.join, "g") == zmq.ENOTSUP
    assert errno_of(ctx.socket(zmq.SUB).join, "g") == zmq.ENOTSUP
    dish.join("g")
    assert errno_of(dish.join, "g") == zmq.EINVAL  # twice
    assert errno_of(dish.leave, "h") == zmq.EINVAL  # not joined
    dish.leave("g")
    assert errno_of(dish.leave, "g") == zmq.EINVAL
    dish.join("x" * 255)  # ZMQ_GROUP_MAX_LENGTH of libzmq 4.3.5
    assert errno_of(dish.join, "x" * 256) == zmq.EINVAL
    assert errno_of(dish.join, b"a\x00b") == zmq.EINVAL
    assert errno_of(radio.send, b"x", group="y" * 256) == zmq.EINVAL
    f = zmq.Frame(b"x")
    with pytest.raises(zmq.ZMQError):
        f.set("group", "z" * 256)
    f.set("group", "ok")
    assert f.group == "ok" and f.get("group") == "ok"
    assert zmq.Frame(b"").get("group") == ""
    with pytest.raises(zmq.ZMQError):
        zmq.Frame(b"").get("routing_id")
    f.set("routing_id", 7)
    assert f.get("routing_id") == 7
    assert radio.poll(0, zmq.POLLOUT) == zmq.POLLOUT
    assert dish.poll(0, zmq.POLLIN) == 0
    assert dish.linger == 0  # as libzmq's dish_t
    dish.close()
    assert errno_of(dish.join, "g") == zmq.ENOTSOCK


def test_dish_poll_ignores_other_groups(ctx):
    radio = make(ctx, zmq.RADIO)
    radio.bind("inproc://draft-poll")
    dish = make(ctx, zmq.DISH)
    dish.join("yes")
    dish.connect("inproc://draft-poll")
    radio.send(b"x", group="no")
    assert dish.poll(100, zmq.POLLIN) == 0
    radio.send(b"y", group="yes")
    assert dish.poll(TIMEO, zmq.POLLIN) == zmq.POLLIN
    f = dish.recv(copy=False)
    assert (f.bytes, f.group) == (b"y", "yes")


def test_radio_drops_at_hwm_unless_nodrop(ctx):
    radio = make(ctx, zmq.RADIO, sndhwm=2)
    radio.bind("inproc://draft-hwm")
    dish = make(ctx, zmq.DISH, rcvhwm=2)
    dish.join("g")
    dish.connect("inproc://draft-hwm")
    for i in range(20):
        radio.send(b"%d" % i, group="g")  # never blocks: drops
    got = []
    while (m := recv_or_none(dish, 50)) is not None:
        got.append(m)
    assert 1 <= len(got) < 20 and got[0] == b"0"
    radio.setsockopt(zmq.XPUB_NODROP, 1)
    sent = 0
    with pytest.raises(zmq.Again):
        for i in range(20):
            radio.send(b"%d" % i, zmq.DONTWAIT, group="g")
            sent += 1
    assert 1 <= sent < 20


def test_dish_connects_before_radio_binds(ctx, transport, ipc_dir):
    addr = fresh_addr(transport, ipc_dir)
    if transport == "tcp":
        addr = f"tcp://127.0.0.1:{free_tcp_port()}"
    dish = make(ctx, zmq.DISH)
    dish.join("early")
    dish.connect(addr)
    radio = make(ctx, zmq.RADIO)
    radio.bind(addr)
    dish.join("sync")
    sync_radio(radio, [dish])
    radio.send(b"hi", group="early")
    assert dish.recv() == b"hi"


def test_dish_rejoins_after_reconnect(ctx, ipc_dir):
    """The dish connects; its radio goes away and a new one binds the same address: the
    dish sends its JOINs again on the new connection (libzmq's xhiccuped)."""
    for addr in (f"tcp://127.0.0.1:{free_tcp_port()}", f"ipc://{ipc_dir}/rejoin-{os.getpid()}"):
        dish = make(ctx, zmq.DISH, reconnect_ivl=20)
        dish.join("sync")
        dish.join("news")
        radio = make(ctx, zmq.RADIO)
        radio.bind(addr)
        dish.connect(addr)
        sync_radio(radio, [dish])
        radio.send(b"first", group="news")
        assert dish.recv() == b"first"
        radio.close(linger=0)
        time.sleep(0.2)
        dish.join("late")  # joined while disconnected: queued, then sent too
        radio = make(ctx, zmq.RADIO)
        radio.bind(addr)
        sync_radio(radio, [dish])
        radio.send(b"second", group="news")
        radio.send(b"third", group="late")
        assert dish.recv() == b"second"
        assert dish.recv() == b"third"
        radio.close(linger=0)
        dish.close(linger=0)
        time.sleep(0.05)


def test_radio_reconnects_to_a_new_dish(ctx):
    """The radio connects; its dish is replaced: the new dish's JOINs reach the radio."""
    addr = f"tcp://127.0.0.1:{free_tcp_port()}"
    radio = make(ctx, zmq.RADIO, reconnect_ivl=20)
    radio.connect(addr)
    dish = make(ctx, zmq.DISH)
    dish.join("sync")
    dish.join("a")
    dish.bind(addr)
    sync_radio(radio, [dish])
    radio.send(b"a1", group="a")
    assert dish.recv() == b"a1"
    dish.close(linger=0)
    time.sleep(0.2)
    dish = make(ctx, zmq.DISH)
    dish.join("sync")
    dish.join("b")
    dish.bind(addr)
    sync_radio(radio, [dish])
    radio.send(b"a2", group="a")  # the old dish's group: not for this one
    radio.send(b"b1", group="b")
    f = dish.recv(copy=False)
    assert (f.bytes, f.group) == (b"b1", "b")


def test_radio_dish_incompatible_with_client(ctx):
    radio = make(ctx, zmq.RADIO)
    radio.bind("tcp://127.0.0.1:*")
    client = make(ctx, zmq.CLIENT, sndtimeo=0)
    client.connect(radio.last_endpoint.decode())
    mon = client.get_monitor_socket()
    mon.rcvtimeo = TIMEO
    deadline = time.monotonic() + 5
    from purezmq.utils.monitor import recv_monitor_message

    while True:
        ev = recv_monitor_message(mon)
        if ev["event"] in (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_DISCONNECTED):
            break
        assert ev["event"] != zmq.EVENT_HANDSHAKE_SUCCEEDED
        assert time.monotonic() < deadline


# -- udp ---------------------------------------------------------------------------------
def test_udp_unicast(ctx):
    dish = make(ctx, zmq.DISH)
    dish.bind("udp://127.0.0.1:*")
    ep = dish.last_endpoint.decode()
    assert ep.startswith("udp://127.0.0.1:") and not ep.endswith(":*")
    dish.join("a")
    radio = make(ctx, zmq.RADIO)
    radio.connect(ep)
    assert radio.last_endpoint.decode() == ep
    radio.send(b"not joined", group="b")
    radio.send(b"joined", group="a")
    f = dish.recv(copy=False)
    assert (f.bytes, f.group) == (b"joined", "a")
    assert recv_or_none(dish, 100) is None
    # bigger than one libzmq read (8192) but one datagram
    radio.send(b"x" * 20000, group="a")
    assert dish.recv() == b"x" * 20000
    dish.leave("a")
    radio.send(b"left", group="a")
    assert recv_or_none(dish, 100) is None


def _loopback_multicast(group: str) -> bool:
    """Whether this host delivers multicast on the loopback interface (plain sockets)."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("0.0.0.0", 0))
        mreq = socket.inet_aton(group) + socket.inet_aton("127.0.0.1")
        rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        tx.sendto(b"probe", (group, rx.getsockname()[1]))
        rx.settimeout(1)
        return rx.recv(16) == b"probe"
    except OSError:
        return False
    finally:
        rx.close()
        tx.close()


def test_udp_multicast_on_loopback(ctx):
    group = f"239.255.{os.getpid() % 250}.{next(_names) % 250 + 1}"
    if not _loopback_multicast(group):
        pytest.skip("no multicast on the loopback interface here")
    d1 = make(ctx, zmq.DISH)
    d1.bind(f"udp://127.0.0.1;{group}:*")
    port = int(d1.last_endpoint.decode().rsplit(":", 1)[1])
    d2 = make(ctx, zmq.DISH)
    d2.bind(f"udp://lo;{group}:{port}")  # an interface by name, the same port
    for d in (d1, d2):
        d.join("m")
    radio = make(ctx, zmq.RADIO)
    radio.connect(f"udp://127.0.0.1;{group}:{port}")
    radio.send(b"to all", group="m")
    for d in (d1, d2):
        f = d.recv(copy=False)
        assert (f.bytes, f.group) == (b"to all", "m")


def test_udp_datagram_format():
    """Byte for byte what libzmq's udp engine writes and reads: len(group), group, body."""
    ctx = zmq.Context()
    try:
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        raw.bind(("127.0.0.1", 0))
        raw.settimeout(5)
        radio = make(ctx, zmq.RADIO)
        radio.connect(f"udp://127.0.0.1:{raw.getsockname()[1]}")
        radio.send(b"body", group="grp")
        assert raw.recv(100) == b"\x03grpbody"
        radio.send(b"", group="")
        assert raw.recv(100) == b"\x00"
        dish = make(ctx, zmq.DISH)
        dish.bind("udp://127.0.0.1:*")
        dish.join("g")
        port = int(dish.last_endpoint.decode().rsplit(":", 1)[1])
        for junk in (b"", b"\x05ab", b"\x01hbody"):  # empty, truncated, another group
            raw.sendto(junk, ("127.0.0.1", port))
        raw.sendto(b"\x01gpayload", ("127.0.0.1", port))
        f = dish.recv(copy=False)
        assert (f.bytes, f.group) == (b"payload", "g")
        assert recv_or_none(dish, 100) is None
        raw.close()
    finally:
        ctx.destroy(linger=0)


def test_udp_errors_and_endpoints(ctx):
    radio = make(ctx, zmq.RADIO)
    dish = make(ctx, zmq.DISH)
    assert errno_of(radio.bind, "udp://127.0.0.1:5555") == zmq.ENOCOMPATPROTO
    assert errno_of(dish.connect, "udp://127.0.0.1:5555") == zmq.ENOCOMPATPROTO
    for stype in (zmq.SERVER, zmq.PUB, zmq.SUB, zmq.SCATTER):
        s = ctx.socket(stype)
        assert errno_of(s.bind, "udp://127.0.0.1:5555") == zmq.ENOCOMPATPROTO
        assert errno_of(s.connect, "udp://127.0.0.1:5555") == zmq.ENOCOMPATPROTO
        s.close()
    assert errno_of(radio.connect, "udp://127.0.0.1") == zmq.EINVAL
    assert errno_of(radio.connect, "udp://127.0.0.1:*") == zmq.EINVAL
    assert errno_of(radio.connect, "udp://*:5555") == zmq.EINVAL
    assert errno_of(radio.connect, "udp://127.0.0.1;127.0.0.2:5555") == zmq.EINVAL  # not mcast
    assert errno_of(radio.connect, "udp://239.1.1.1;239.1.1.2:5555") == zmq.EINVAL
    assert errno_of(dish.bind, "udp://no-such-interface-x:5555") == errno.ENODEV
    assert errno_of(dish.bind, "udp://127.0.0.1:70000") == zmq.EINVAL
    # unbind / disconnect by the given or the resolved endpoint
    dish.bind("udp://127.0.0.1:*")
    ep = dish.last_endpoint.decode()
    radio.connect(ep)
    dish.join("g")
    radio.send(b"1", group="g")
    assert dish.recv() == b"1"
    radio.disconnect(ep)
    radio.send(b"2", group="g")  # no peer: dropped
    dish.unbind(ep)
    assert errno_of(dish.unbind, ep) == errno.ENOENT
    dish.bind("udp://*:*")
    ep2 = dish.last_endpoint.decode()
    dish.unbind("udp://*:*")
    assert errno_of(dish.unbind, ep2) == errno.ENOENT


def test_udp_resolve():
    r = udp.resolve("127.0.0.1:5555", bind=False)
    assert r.target == ("127.0.0.1", 5555) and not r.multicast
    r = udp.resolve("*:5555", bind=True)
    assert r.bind == ("0.0.0.0", 5555)
    r = udp.resolve("239.1.2.3:5555", bind=True)
    assert r.multicast and r.bind == ("0.0.0.0", 5555) and r.target[0] == "239.1.2.3"
    r = udp.resolve("lo;239.1.2.3:5555", bind=True)
    assert r.iface == "127.0.0.1" and r.bind == ("127.0.0.1", 5555)
    r = udp.resolve("localhost:5555", bind=False)
    assert r.target == ("127.0.0.1", 5555)
    assert udp.resolve("127.0.0.1:*", bind=True).bind == ("127.0.0.1", 0)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["127.0.0.1", "*", ";", ":", "239.1.1.1", "lo", "[::1]", "::1",
                             "5555", "0", "*", "%", "\x00", "\udc80", "65536", "[", "]"]),
            st.text(max_size=6),
        ),
        max_size=6,
    ).map("".join),
    st.booleans(),
    st.booleans(),
)  # fmt: skip
def test_udp_resolve_fuzz(address, bind, ipv6):
    """Any string resolves or fails with ZMQError, never anything else (no name lookups)."""
    try:
        r = udp.resolve(address, bind=bind, ipv6=ipv6, dns=False)
    except zmq.ZMQError:
        return
    assert 0 <= r.target[1] < 65536
    assert r.bind[1] == r.target[1]


# -- SCATTER / GATHER --------------------------------------------------------------------
def test_scatter_gather(ctx, transport, ipc_dir):
    g1 = make(ctx, zmq.GATHER)
    g2 = make(ctx, zmq.GATHER)
    scatter = make(ctx, zmq.SCATTER)
    for g in (g1, g2):
        scatter.connect(bind(g, transport, ipc_dir))
    time.sleep(0.2)
    for i in range(10):
        scatter.send(b"%d" % i)
    got = []
    for g in (g1, g2):
        part = []
        while (m := recv_or_none(g, 200)) is not None:
            part.append(m)
        assert part
        got += part
    assert sorted(got) == sorted(b"%d" % i for i in range(10))
    assert errno_of(scatter.send, b"x", zmq.SNDMORE) == zmq.EINVAL
    assert errno_of(scatter.send_multipart, [b"a", b"b"]) == zmq.EINVAL
    assert errno_of(scatter.recv) == zmq.ENOTSUP
    assert errno_of(g1.send, b"x") == zmq.ENOTSUP
    # fair-queued in from two scatters
    s2 = make(ctx, zmq.SCATTER)
    s2.connect(g1.last_endpoint.decode())
    scatter.disconnect(g2.last_endpoint.decode())
    for i in range(3):
        scatter.send(b"a%d" % i)
        s2.send(b"b%d" % i)
    got = sorted(g1.recv() for _ in range(6))
    assert got == [b"a0", b"a1", b"a2", b"b0", b"b1", b"b2"]


# -- PEER --------------------------------------------------------------------------------
def test_peer(ctx, transport, ipc_dir):
    a = make(ctx, zmq.PEER)
    ep = bind(a, transport, ipc_dir)
    b = make(ctx, zmq.PEER)
    rid = b.connect_peer(ep)
    assert isinstance(rid, int) and rid
    b.send(b"hello a", routing_id=rid)  # queued before the connection exists
    f = a.recv(copy=False)
    assert f.bytes == b"hello a" and f.routing_id
    a.send(b"hello b", routing_id=f.routing_id)
    f = b.recv(copy=False)
    assert (f.bytes, f.routing_id) == (b"hello b", rid)
    c = make(ctx, zmq.PEER)
    rid2 = c.connect_peer(ep)
    c.send(b"from c", routing_id=rid2)
    assert a.recv() == b"from c"
    unknown = rid % 0xFFFFFFFF + 1
    assert errno_of(b.send, b"x", routing_id=unknown) == zmq.EHOSTUNREACH


def test_peer_errors(ctx):
    server = make(ctx, zmq.SERVER)
    assert errno_of(server.connect_peer, "tcp://127.0.0.1:5555") == zmq.ENOTSUP
    p = make(ctx, zmq.PEER, immediate=1)
    assert errno_of(p.connect_peer, "tcp://127.0.0.1:5555") == zmq.EFAULT
    p2 = make(ctx, zmq.PEER)
    server.bind("inproc://draft-peer-server")
    p2.connect_peer("inproc://draft-peer-no")  # nobody there yet: fine, queued
    assert errno_of(p2.send, b"x", zmq.SNDMORE) == zmq.EINVAL


# -- CHANNEL -----------------------------------------------------------------------------
def test_channel(ctx, transport, ipc_dir):
    a = make(ctx, zmq.CHANNEL)
    ep = bind(a, transport, ipc_dir)
    b = make(ctx, zmq.CHANNEL)
    b.connect(ep)
    b.send(b"ping")
    assert a.recv() == b"ping"
    a.send(b"pong")
    assert b.recv() == b"pong"
    assert errno_of(a.send, b"x", zmq.SNDMORE) == zmq.EINVAL
    assert errno_of(a.send_multipart, [b"x", b"y"]) == zmq.EINVAL
    if transport != "inproc":
        third = make(ctx, zmq.CHANNEL)
        third.connect(ep)
        third.sndtimeo = 0
        try:
            third.send(b"intruder")  # queued on its side, never delivered
        except zmq.Again:
            pass
        b.send(b"still b")
        assert a.recv() == b"still b"
        assert recv_or_none(a, 200) is None


# -- asyncio -----------------------------------------------------------------------------
def test_asyncio_server_and_dish():
    import purezmq.asyncio as zaio

    async def main():
        ctx = zaio.Context()
        try:
            server = ctx.socket(zmq.SERVER)
            server.bind("inproc://draft-aio")
            client = ctx.socket(zmq.CLIENT)
            client.connect("inproc://draft-aio")
            await client.send(b"hi")
            f = await asyncio.wait_for(server.recv(copy=False), 5)
            assert f.routing_id
            await server.send(b"back", routing_id=f.routing_id)
            assert await asyncio.wait_for(client.recv(), 5) == b"back"
            await server.send(f)  # a Frame keeps its routing id
            assert await asyncio.wait_for(client.recv(), 5) == b"hi"
            with pytest.raises(zmq.ZMQError):
                await client.send(b"x", zmq.SNDMORE)
            radio = ctx.socket(zmq.RADIO)
            radio.bind("inproc://draft-aio-rd")
            dish = ctx.socket(zmq.DISH)
            dish.join("g")
            dish.connect("inproc://draft-aio-rd")
            await radio.send(b"r", group="g")
            (mf,) = await asyncio.wait_for(dish.recv_multipart(copy=False), 5)
            assert (mf.bytes, mf.group) == (b"r", "g")
        finally:
            ctx.destroy(linger=0)

    asyncio.run(main())


# -- against libzmq (pyzmq's wheel) --------------------------------------------------------
# pyzmq's libzmq is built without the draft API: it creates the draft socket types, but
# exports none of the draft functions (zmq_join, zmq_msg_routing_id, zmq_msg_set_group...)
# and aborts (an assertion in mechanism.cpp's socket_type_string) as soon as one of them
# starts a ZMTP handshake.  What is left to try is udp, which has no handshake: a libzmq
# RADIO sending to the empty group (pyzmq can set no other) to our DISH.
@pytest.fixture
def lz():
    pyzmq = pytest.importorskip("zmq")
    c = pyzmq.Context()
    made = []

    def make_libzmq(stype):
        s = c.socket(stype)
        s.rcvtimeo = TIMEO
        s.sndtimeo = TIMEO
        s.linger = 0
        made.append(s)
        return s

    yield pyzmq, make_libzmq
    for s in made:
        s.close(0)
    c.term()


def test_libzmq_radio_to_purezmq_dish_udp(ctx, lz):
    pyzmq, make_libzmq = lz
    dish = make(ctx, zmq.DISH)
    dish.bind("udp://127.0.0.1:*")
    dish.join("")
    radio = make_libzmq(pyzmq.RADIO)
    radio.connect(dish.last_endpoint.decode())
    deadline = time.monotonic() + 10
    while True:  # the udp engine starts asynchronously in libzmq
        assert time.monotonic() < deadline, "no datagram from libzmq's RADIO"
        radio.send(b"datagram")
        f = recv_or_none(dish, 50, copy=False)
        if f is not None:
            break
    assert (f.bytes, f.group) == (b"datagram", "")
