"""Property tests: garbage at any phase only ever yields events or ZmtpError; round trips.

"Only ZmtpError" is the contract the stream engine relies on: it catches ZmtpError, sends
``data_to_send()`` (maybe an ERROR) and closes.  Any other exception would kill the I/O
thread's callback instead, so hypothesis hunts for one.
"""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from purezmq.zmtp import (
    HandshakeSucceeded,
    PeerErrorReceived,
    Subscription,
    ZapRequested,
    ZmtpConnection,
    ZmtpError,
)
from purezmq.zmtp.metadata import decode_metadata, encode_metadata

from .helpers import (
    NULL,
    ConnectionPair,
    all_kits,
    messages,
    null_conn,
    raw_command,
    raw_greeting,
    raw_null_peer,
    traffic_conn,
)

pytestmark = pytest.mark.timeout(60)

# ZMTP_FUZZ_EXAMPLES=20000 makes a deep run; the default keeps the suite quick.
EXAMPLES = int(os.environ.get("ZMTP_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EVENT_TYPES = (bytes, list, HandshakeSucceeded, PeerErrorReceived, Subscription, ZapRequested)
KITS = all_kits()

# -- strategies ------------------------------------------------------------------------------
COMMAND_NAMES = [
    b"READY", b"ERROR", b"PING", b"PONG", b"SUBSCRIBE", b"CANCEL",
    b"HELLO", b"WELCOME", b"INITIATE", b"MESSAGE",
]  # fmt: skip


def _frame(flags: int, body: bytes) -> bytes:
    if flags & 0x02:
        return bytes((flags,)) + struct.pack(">Q", len(body)) + body
    return bytes((flags, len(body))) + body


properties = st.dictionaries(
    st.sampled_from(["Socket-Type", "Identity", "socket-type", "X-A", "Resource"]),
    st.one_of(
        st.sampled_from([b"DEALER", b"ROUTER", b"PUB", b"SUB", b"PUSH", b"PULL", b"REQ"]),
        st.binary(max_size=40),
    ),
    max_size=4,
)
metadata = st.one_of(properties.map(encode_metadata), st.binary(max_size=60))
command_frames = st.builds(
    lambda name, data, long: raw_command(name, data, long=long),
    st.one_of(st.sampled_from(COMMAND_NAMES), st.binary(min_size=1, max_size=12)),
    st.one_of(st.binary(max_size=80), metadata),
    st.booleans(),
)
any_frames = st.builds(
    _frame,
    st.one_of(st.integers(0, 7), st.integers(0, 255)),
    st.binary(max_size=255),
)
huge_headers = st.builds(
    lambda flags, size: bytes((flags | 0x02,)) + struct.pack(">Q", size),
    st.integers(0, 7),
    st.one_of(st.integers(0, 1 << 20), st.integers(0, (1 << 64) - 1)),
)
junk = st.one_of(
    st.binary(max_size=400),
    st.lists(st.one_of(command_frames, any_frames, huge_headers), max_size=6).map(b"".join),
)
chunkings = st.lists(st.integers(1, 300), min_size=1, max_size=8)


def chunks(data: bytes, sizes: list[int]):
    pos, i = 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        yield data[pos : pos + n]
        pos += n
        i += 1


def feed_expecting_only_zmtp_errors(conn: ZmtpConnection, data: bytes, sizes, now=0.0) -> list:
    """Feed ``data`` in pieces; stop at the first ZmtpError.  Anything else fails the test."""
    events: list = []
    try:
        for piece in chunks(data, sizes):
            got = conn.receive_data(piece, now)
            assert isinstance(got, list)
            for ev in got:
                assert isinstance(ev, EVENT_TYPES), ev
                if isinstance(ev, list):
                    # one frame comes bare, so a list has at least two
                    assert len(ev) >= 2 and all(isinstance(f, bytes) for f in ev)
            events += got
            conn.data_to_send()
    except ZmtpError as e:
        assert e.kind in ("protocol", "auth", "timeout", "closed")
        conn.data_to_send()  # what the driver does before closing: must not raise either
    return events


# -- garbage at each phase ---------------------------------------------------------------------
@FUZZ
@given(data=st.one_of(st.binary(max_size=200), junk), sizes=chunkings)
def test_random_bytes_from_the_start(data, sizes):
    feed_expecting_only_zmtp_errors(null_conn("DEALER"), data, sizes)


@FUZZ
@given(
    head=st.sampled_from(
        [b"", b"\xff", b"\xff" + bytes(8) + b"\x7f", b"\xff" + bytes(8) + b"\x7f\x03"]
    ),
    data=st.binary(max_size=120),
    sizes=chunkings,
)
def test_random_greetings(head, data, sizes):
    feed_expecting_only_zmtp_errors(null_conn("DEALER"), head + data, sizes)


@FUZZ
@given(
    minor=st.integers(0, 255),
    socket_type=st.sampled_from(["DEALER", "ROUTER", "PUB", "SUB", "XPUB", "PAIR"]),
    data=junk,
    sizes=chunkings,
)
def test_random_bytes_after_a_valid_greeting(minor, socket_type, data, sizes):
    conn = null_conn(socket_type)
    feed_expecting_only_zmtp_errors(conn, raw_greeting(minor=minor) + data, sizes)


@FUZZ
@given(
    ours=st.sampled_from([("PULL", "PUSH"), ("XPUB", "XSUB"), ("PUB", "SUB"), ("SUB", "PUB")]),
    minor=st.sampled_from([0, 1]),
    maxmsgsize=st.sampled_from([-1, 0, 100, 300]),
    data=junk,
    sizes=chunkings,
)
def test_random_bytes_in_traffic(ours, minor, maxmsgsize, data, sizes):
    conn = traffic_conn(*ours, minor=minor)
    conn.maxmsgsize = maxmsgsize
    feed_expecting_only_zmtp_errors(conn, data, sizes)


@FUZZ
@given(
    kit=st.sampled_from(KITS),
    target=st.sampled_from(["client", "server"]),
    cut=st.integers(0, 1500),
    data=junk,
    sizes=chunkings,
    flip=st.booleans(),
)
def test_garbage_injected_at_every_phase(kit, target, cut, data, sizes, flip):
    """A real exchange (handshake, then traffic) where one side's output turns to garbage
    after ``cut`` bytes: either junk replaces the rest, or one byte of it is flipped."""
    pair = ConnectionPair.create("DEALER", "ROUTER", kit)
    dst = pair.a if target == "client" else pair.b
    src = pair.other(dst)
    sent = 0
    corrupted = False
    msgs = [[b"hello", b"x" * 300], [b""], [b"y" * 70000]]

    def tap(data_out: bytes) -> bytes:
        nonlocal sent, corrupted
        if corrupted:
            return b""  # the broken peer says nothing sensible any more
        if sent + len(data_out) <= cut:
            sent += len(data_out)
            return data_out
        keep = cut - sent
        sent += len(data_out)
        corrupted = True
        if flip and keep < len(data_out):
            b = bytearray(data_out)
            b[keep] ^= 0xFF if not data else (data[0] or 1)
            return bytes(b)
        return data_out[:keep] + data

    try:
        for _ in range(40):
            moved = False
            for conn in (pair.a, pair.b):
                out = conn.data_to_send()
                if conn is src and pair.a.ready and pair.b.ready and msgs:
                    parts: list = [out]
                    conn.encode(msgs, parts)
                    out = b"".join(parts)
                    msgs = []
                if conn is src:
                    out = tap(out)
                if not out:
                    continue
                moved = True
                other = pair.other(conn)
                for piece in chunks(out, sizes):
                    got = other.receive_data(piece)
                    for ev in got:
                        assert isinstance(ev, EVENT_TYPES)
                        if isinstance(ev, ZapRequested):
                            other.zap_reply(b"200", b"OK", b"", {})
            if not moved:
                break
    except ZmtpError:
        pass


@FUZZ
@given(kit=st.sampled_from(KITS), times=st.lists(st.floats(0, 1e6), max_size=6))
def test_timers_only_raise_zmtp_errors(kit, times):
    pair = ConnectionPair.create(
        "DEALER", "ROUTER", kit, client_kw={"heartbeat_ivl": 1.0, "heartbeat_ttl": 2.0}
    ).handshake()
    try:
        for t in sorted(times):
            pair.a.handle_timer(t)
            pair.b.handle_timer(t)
            pair.pump(t)
    except ZmtpError as e:
        assert e.kind == "timeout"


# -- round trips ---------------------------------------------------------------------------------
def _big(size: int, seed: int) -> bytes:
    return bytes((seed + i) & 0xFF for i in range(256)) * (size // 256) + b"\x07" * (size % 256)


frames = st.one_of(
    st.binary(max_size=300),
    st.builds(_big, st.sampled_from([255, 256, 65535, 65536, 70000]), st.integers(0, 255)),
)
multipart = st.lists(frames, min_size=1, max_size=5)


@settings(FUZZ, max_examples=max(EXAMPLES // 3, 1))
@given(msgs=st.lists(multipart, max_size=8), sizes=st.lists(st.integers(100, 70000), min_size=1))
def test_encode_decode_round_trip(msgs, sizes):
    pair = ConnectionPair.create("DEALER", "DEALER", NULL).handshake()
    out: list = []
    total = pair.a.encode(msgs, out)
    data = b"".join(out)
    assert total == len(data)
    events = []
    for piece in chunks(data, sizes):
        events += pair.b.receive_data(piece)
    assert messages(events) == msgs
    # a one-frame message comes as its bare bytes, a longer one as a list of bytes
    assert all(type(m) is bytes or len(m) >= 2 and all(type(f) is bytes for f in m)
               for m in events)


@settings(
    max_examples=max(EXAMPLES // 8, 1), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    kit=st.sampled_from(KITS),
    msgs=st.lists(st.lists(st.binary(max_size=300), min_size=1, max_size=4), max_size=6),
    chunk=st.integers(1, 500),
)
def test_round_trip_every_mechanism(kit, msgs, chunk):
    pair = ConnectionPair.create("DEALER", "ROUTER", kit).handshake()
    assert messages(pair.send(pair.a, msgs, chunk=chunk)) == msgs
    assert messages(pair.send(pair.b, msgs, chunk=chunk)) == msgs


@FUZZ
@given(
    minor=st.sampled_from([0, 1]),
    items=st.lists(
        st.one_of(
            st.builds(Subscription, st.binary(max_size=300), st.booleans()),
            st.lists(st.binary(min_size=1, max_size=20).filter(lambda b: b[0] > 1), min_size=1),
        ),
        max_size=10,
    ),
    sizes=chunkings,
)
def test_subscription_round_trip(minor, items, sizes):
    sub = null_conn("XSUB")
    sub.receive_data(raw_null_peer("XPUB", minor=minor))
    sub.data_to_send()  # greeting + READY
    out: list = []
    sub.encode(items, out)
    pub = traffic_conn("XPUB", "XSUB")
    events: list = []
    for piece in chunks(b"".join(out), sizes):
        events += pub.receive_data(piece)
    assert [[e] if type(e) is bytes else e for e in events] == items  # one frame: bare


@FUZZ
@given(
    props=st.dictionaries(
        st.text("abcXYZ-_.+0123456789", min_size=1, max_size=255),
        st.binary(max_size=300),
        max_size=5,
    )
)
def test_metadata_round_trip(props):
    assert decode_metadata(encode_metadata(props)) == props


@FUZZ
@given(data=st.binary(max_size=200))
def test_metadata_decoder_only_raises_zmtp_error(data):
    try:
        props = decode_metadata(data)
    except ZmtpError:
        return
    assert all(isinstance(k, str) and isinstance(v, bytes) for k, v in props.items())


# -- issue 18: attacks by announcement, repeated metadata, command floods ------------------------
from purezmq.zmtp import connection as _zconn  # noqa: E402
from purezmq.zmtp.sockettypes import COMPATIBLE  # noqa: E402

announced_frames = st.lists(
    st.tuples(
        st.sampled_from([0x00, 0x01, 0x02, 0x03]),  # (LONG or not, MORE or not)
        st.one_of(
            st.integers(0, 255),
            st.integers(1 << 10, 1 << 18),
            st.integers(1 << 18, 1 << 26),  # the sink's range
            st.integers(1 << 26, (1 << 64) - 1),
        ),
        st.integers(0, 3_000),  # bytes of the body actually sent
    ),
    min_size=1,
    max_size=4,
)


@FUZZ
@given(frames=announced_frames, sizes=chunkings, maxmsgsize=st.sampled_from([-1, 1 << 20]))
def test_memory_follows_bytes_received_never_announced_sizes(frames, sizes, maxmsgsize):
    """Whatever sizes the headers announce, what the decoder holds stays within twice what
    arrived plus the sink's first allocation (a header costs no more than its 9 bytes)."""
    conn = traffic_conn("PULL", "PUSH", maxmsgsize=maxmsgsize)
    wire = b""
    for flags, size, sent in frames:
        if not flags & 0x02:
            size = min(size, 255)
        header = (
            bytes((flags, size)) if not flags & 0x02 else bytes((flags,)) + struct.pack(">Q", size)
        )
        wire += header + bytes(min(sent, size))
    fed = 0
    try:
        for piece in chunks(wire, sizes):
            conn.receive_data(piece, 0.0)
            fed += len(piece)
            assert conn.held_bytes <= 2 * fed + _zconn._SINK_FIRST, (fed, conn.held_bytes)
    except ZmtpError as e:
        assert e.kind == "protocol"
    conn.close()
    assert conn.held_bytes == 0


@FUZZ
@given(
    ours=st.sampled_from(sorted(COMPATIBLE)),
    props=st.lists(
        st.tuples(
            st.sampled_from([b"Socket-Type", b"socket-type", b"SOCKET-TYPE", b"Identity", b"X"]),
            st.one_of(st.sampled_from([t.encode() for t in COMPATIBLE]), st.binary(max_size=8)),
        ),
        max_size=5,
    ),
)
def test_a_ready_passes_only_if_every_socket_type_in_it_fits(ours, props):
    body = b"".join(bytes((len(n),)) + n + struct.pack(">I", len(v)) + v for n, v in props)
    conn = null_conn(ours, as_server=True)
    try:
        conn.receive_data(raw_greeting() + raw_command(b"READY", body), 0.0)
    except ZmtpError:
        accepted = False
    else:
        accepted = conn.ready
    types = [v for n, v in props if n.lower() == b"socket-type"]
    assert accepted == (bool(types) and all(t.decode("latin-1") in COMPATIBLE[ours]
                                            for t in types))


traffic_commands = st.lists(
    st.builds(
        lambda name, data: raw_command(name, data),
        st.sampled_from([b"PING", b"PONG", b"SUBSCRIBE", b"CANCEL", b"JOIN", b"LEAVE",
                         b"READY", b"HELLO", b"X"]),
        st.binary(max_size=40),
    ),
    max_size=200,
)


@FUZZ
@given(ours=st.sampled_from(["PULL", "PUB", "XPUB", "DEALER"]), commands=traffic_commands,
       sizes=chunkings)
def test_command_floods_get_at_most_one_answer(ours, commands, sizes):
    """Any sequence of commands in traffic: only ZmtpError, and whatever the count of PINGs,
    the answer queued for a peer that reads nothing is one PONG at most (no amplification)."""
    peer = {"PULL": "PUSH", "PUB": "SUB", "XPUB": "SUB", "DEALER": "ROUTER"}[ours]
    conn = traffic_conn(ours, peer)
    try:
        for piece in chunks(b"".join(commands), sizes):
            conn.receive_data(piece, 0.0)
    except ZmtpError as e:
        assert e.kind in ("protocol", "closed")
        return
    assert len(conn.data_to_send()) <= 2 + 5 + 16  # one PONG: header, name, context
