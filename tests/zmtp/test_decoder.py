"""The frame decoder: chunking, short/long sizes, MAXMSGSIZE, huge sizes, malformed input."""

from __future__ import annotations

import struct

import pytest

try:
    import tracemalloc
except ImportError:  # PyPy has no tracemalloc
    tracemalloc = None

from purezmq.zmtp import HandshakeSucceeded, ZmtpConnection, ZmtpError
from purezmq.zmtp.frames import COMMAND, LONG, MORE, encode_messages, frame_header
from purezmq.zmtp.mechanisms.null import NullMechanism

from .helpers import (
    buffered_bytes,
    messages,
    null_conn,
    raw_command,
    raw_frame,
    raw_greeting,
    raw_message,
    raw_null_peer,
    raw_ready,
    sent_commands,
    split_commands,
    traffic_conn,
)

pytestmark = pytest.mark.timeout(60)


def _body(size: int, seed: int) -> bytes:
    """A recognisable body, so a frame cut or shifted by one byte cannot compare equal."""
    pattern = bytes((seed * 31 + i) & 0xFF for i in range(251))
    return (pattern * (size // 251 + 1))[:size]


# Messages whose frames sit on every interesting size: empty, one byte, the last short size,
# the first long size, and the sizes around 2^16 (the decoder's list-of-chunks threshold).
SMALL_MSGS = [
    [b""],
    [b"\x01"],
    [_body(255, 1)],
    [_body(256, 2)],
    [b"", _body(1, 3), _body(255, 4), _body(256, 5), b""],
    [_body(254, 6), _body(257, 7)],
]
BIG_MSGS = [
    [_body(0, 8), _body(1, 9), _body(255, 10), _body(256, 11)],
    [_body(65535, 12)],
    [b"", _body(65536, 13), b"x"],
    [_body(70000, 14), _body(255, 15)],
    [b"tail"],
]
# A command in the middle of traffic: PING must be answered, an unknown one ignored.
MID_COMMANDS = raw_command(b"PING", b"\x00\x0actx") + raw_command(b"FUTURE", b"ignored")


def _stream(msgs) -> bytes:
    parts = [raw_null_peer("PUSH")]
    for i, m in enumerate(msgs):
        parts.append(raw_message(m))
        if i == 1:
            parts.append(MID_COMMANDS)
    return b"".join(parts)


SMALL_STREAM = _stream(SMALL_MSGS)
BIG_STREAM = _stream(BIG_MSGS)


def _check(events: list, conn: ZmtpConnection, msgs) -> None:
    assert isinstance(events[0], HandshakeSucceeded)
    assert messages(events) == msgs
    assert all(type(f) is bytes for e in events if isinstance(e, list) for f in e)
    assert len(events) == len(msgs) + 1
    ((name, ctx),) = sent_commands(conn, greeting=True)[1:]  # after our READY
    assert (name, ctx) == (b"PONG", b"ctx")
    assert buffered_bytes(conn) == 0


def _feed(chunks) -> tuple[list, ZmtpConnection]:
    conn = null_conn("PULL")
    events: list = []
    for c in chunks:
        events += conn.receive_data(c)
    return events, conn


@pytest.mark.parametrize(("stream", "msgs"), [(SMALL_STREAM, SMALL_MSGS), (BIG_STREAM, BIG_MSGS)])
def test_whole_stream(stream, msgs):
    events, conn = _feed([stream])
    _check(events, conn, msgs)


@pytest.mark.parametrize(("stream", "msgs"), [(SMALL_STREAM, SMALL_MSGS), (BIG_STREAM, BIG_MSGS)])
def test_byte_by_byte(stream, msgs):
    events, conn = _feed(stream[i : i + 1] for i in range(len(stream)))
    _check(events, conn, msgs)


@pytest.mark.parametrize("split", range(len(SMALL_STREAM) + 1))
def test_split_small_stream_at_every_index(split):
    events, conn = _feed([SMALL_STREAM[:split], SMALL_STREAM[split:]])
    _check(events, conn, SMALL_MSGS)


_BUCKET = 4096


@pytest.mark.parametrize("first", range(0, len(BIG_STREAM) + 1, _BUCKET))
def test_split_big_stream_at_every_index(first):
    """Every split point of the big stream, grouped so pytest does not hold 200k items."""
    for split in range(first, min(first + _BUCKET, len(BIG_STREAM) + 1)):
        conn = null_conn("PULL")
        events = conn.receive_data(BIG_STREAM[:split])
        events += conn.receive_data(BIG_STREAM[split:])
        assert messages(events) == BIG_MSGS, split


@pytest.mark.parametrize("chunk", [2, 3, 7, 9, 10, 64, 255, 256, 257, 1460, 4096, 65536, 65537])
def test_fixed_chunk_sizes(chunk):
    events, conn = _feed(BIG_STREAM[i : i + chunk] for i in range(0, len(BIG_STREAM), chunk))
    _check(events, conn, BIG_MSGS)


# -- short / long boundary -------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 254, 255, 256, 257, 65535, 65536])
def test_encoder_uses_short_size_up_to_255(size):
    out: list = []
    total = encode_messages([[_body(size, 0)], [b"", _body(size, 1)]], out)
    wire = b"".join(out)
    assert total == len(wire)
    if size <= 255:
        assert wire[:2] == bytes((0, size))
        assert frame_header(MORE, size) == bytes((MORE, size))
    else:
        assert wire[:9] == bytes((LONG,)) + struct.pack(">Q", size)
        assert frame_header(MORE, size) == bytes((MORE | LONG,)) + struct.pack(">Q", size)
    conn = traffic_conn()
    assert conn.receive_data(wire) == [_body(size, 0), [b"", _body(size, 1)]]  # one frame: bare


@pytest.mark.parametrize("size", [0, 1, 17, 255, 256])
def test_long_frames_with_small_sizes(size):
    # The grammar allows an 8-byte size for any body; libzmq accepts it too.
    conn = traffic_conn()
    wire = raw_frame(b"m", flags=MORE, long=True) + raw_frame(_body(size, 3), long=True)
    assert conn.receive_data(wire) == [[b"m", _body(size, 3)]]
    # Byte by byte, too.
    conn = traffic_conn()
    events = []
    for i in range(len(wire)):
        events += conn.receive_data(wire[i : i + 1])
    assert events == [[b"m", _body(size, 3)]]


def test_long_commands_with_small_sizes():
    conn = null_conn("DEALER")
    ready = raw_command(b"READY", raw_ready("ROUTER")[2 + 6 :], long=True)
    events = conn.receive_data(raw_greeting() + ready)
    assert conn.ready and isinstance(events[0], HandshakeSucceeded)
    conn.data_to_send()
    conn.receive_data(raw_command(b"PING", b"\x00\x00abc", long=True))
    assert sent_commands(conn) == [(b"PONG", b"abc")]


def test_big_handshake_command():
    # Metadata larger than the big-frame threshold still goes through.
    conn = null_conn("DEALER")
    ready = raw_ready("ROUTER", **{"X-Big": _body(100_000, 5)})
    events = conn.receive_data(raw_greeting() + ready[:1000])
    events += conn.receive_data(ready[1000:])
    (ok,) = events
    assert ok.peer_properties["X-Big"] == _body(100_000, 5)


# -- MAXMSGSIZE --------------------------------------------------------------------------------
def _limited(limit: int) -> ZmtpConnection:
    """A connection in traffic whose limit is set after the handshake (see below why)."""
    conn = traffic_conn()
    conn.maxmsgsize = limit
    return conn


def test_maxmsgsize_applies_to_handshake_commands_too():
    # As in libzmq, whose v2_decoder checks every frame (commands included) against
    # ZMQ_MAXMSGSIZE: a limit smaller than the peer's READY makes the handshake fail.
    ready = raw_ready("ROUTER")
    conn = null_conn("DEALER", maxmsgsize=len(ready) - 3)
    with pytest.raises(ZmtpError, match="MAXMSGSIZE"):
        conn.receive_data(raw_greeting() + ready[:2])
    conn = null_conn("DEALER", maxmsgsize=len(ready) - 2)
    conn.receive_data(raw_greeting() + ready)
    assert conn.ready


@pytest.mark.parametrize("limit", [0, 10, 255, 256, 1000, 70000])
def test_maxmsgsize_allows_frames_up_to_the_limit(limit):
    conn = _limited(limit)
    # The limit is per frame (as libzmq's decoder applies it), not per message.
    msg = [_body(limit, 1), _body(limit, 2), b""]
    assert conn.receive_data(raw_message(msg)) == [msg]
    assert conn.receive_data(raw_message(msg, long=True)) == [msg]


@pytest.mark.parametrize(
    ("limit", "long"),
    [(limit, False) for limit in (0, 10, 254)]
    + [(limit, True) for limit in (0, 10, 254, 255, 256, 1000, 70000)],
)
def test_maxmsgsize_exceeded_fails_at_header_time(limit, long):
    size = limit + 1
    conn = _limited(limit)
    header = raw_frame(_body(size, 0), long=long)[: 9 if long else 2]
    with pytest.raises(ZmtpError) as info:
        conn.receive_data(header)  # no body byte has arrived yet
    assert info.value.kind == "protocol"
    assert "MAXMSGSIZE" in info.value.reason


def test_maxmsgsize_exceeded_in_later_frame():
    conn = _limited(100)
    with pytest.raises(ZmtpError):
        conn.receive_data(raw_frame(b"ok", flags=MORE) + bytes((0, 101)))


def test_maxmsgsize_exceeded_after_big_frame_in_same_chunk():
    conn = _limited(70000)
    ok = raw_frame(_body(70000, 1), flags=MORE)
    conn.receive_data(ok[:5000])
    with pytest.raises(ZmtpError):
        conn.receive_data(ok[5000:] + raw_frame(_body(70001, 2))[:9])


def test_unlimited_maxmsgsize_is_minus_one():
    conn = traffic_conn(maxmsgsize=-1)
    assert conn.receive_data(raw_message([_body(100_000, 1)])) == [_body(100_000, 1)]


# -- 8-byte sizes up to 2^64-1 -------------------------------------------------------------------
def _long_header(size: int, flags: int = 0) -> bytes:
    return bytes((flags | LONG,)) + struct.pack(">Q", size)


@pytest.mark.parametrize("size", [1 << 63, (1 << 64) - 1, (1 << 64) - 256])
def test_size_beyond_two_to_the_63_is_refused(size):
    conn = traffic_conn()
    with pytest.raises(ZmtpError):
        conn.receive_data(_long_header(size))


@pytest.mark.parametrize("size", [1 << 62, (1 << 63) - 1, 1 << 40, 1 << 32])
def test_huge_legal_size_waits_without_allocating(size):
    if tracemalloc is None:
        pytest.skip("no tracemalloc on this interpreter (PyPy)")
    conn = traffic_conn()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        fed = 0
        chunk = b"z" * 65536
        assert conn.receive_data(_long_header(size, MORE) + chunk[:100]) == []
        fed += 100
        for _ in range(16):
            assert conn.receive_data(chunk) == []
            fed += len(chunk)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Only what was fed is held: about 1 MiB, never anything sized by the header.
    assert buffered_bytes(conn) == fed
    assert peak - before < 4 * fed + (1 << 20)
    assert after - before < 2 * fed + (1 << 20)


@pytest.mark.parametrize("size", [1 << 62, (1 << 63) - 1, (1 << 64) - 1])
def test_huge_size_with_maxmsgsize_fails_at_header_time(size):
    conn = traffic_conn(maxmsgsize=1 << 30)
    with pytest.raises(ZmtpError):
        conn.receive_data(_long_header(size))


@pytest.mark.parametrize("size", [1 << 62, (1 << 20) + 1])
def test_huge_command_fails_at_header_time(size):
    conn = traffic_conn()
    with pytest.raises(ZmtpError):
        conn.receive_data(_long_header(size, COMMAND))
    conn = null_conn("DEALER")
    with pytest.raises(ZmtpError):
        conn.receive_data(raw_greeting() + _long_header(size, COMMAND))


def test_huge_size_split_header():
    conn = traffic_conn()
    header = _long_header((1 << 64) - 1)
    for i in range(8):
        assert conn.receive_data(header[i : i + 1]) == []
    with pytest.raises(ZmtpError):
        conn.receive_data(header[8:])


# -- flags -------------------------------------------------------------------------------------
@pytest.mark.parametrize("long", [False, True])
@pytest.mark.parametrize("phase", ["handshake", "traffic"])
def test_command_with_more_flag_is_refused_at_header_time(long, phase):
    if phase == "traffic":
        conn = traffic_conn()
        prefix = b""
    else:
        conn = null_conn("DEALER")
        prefix = raw_greeting()
    frame = raw_command(b"PING", b"\x00\x00", flags=MORE, long=long)
    with pytest.raises(ZmtpError) as info:
        conn.receive_data(prefix + frame[: 9 if long else 2])
    assert "MORE" in info.value.reason


@pytest.mark.parametrize("size", [0, 5, 255, 256, 100_000])
def test_message_frame_before_handshake_is_refused(size):
    conn = null_conn("DEALER")
    with pytest.raises(ZmtpError) as info:
        conn.receive_data(raw_greeting() + raw_frame(_body(size, 0)))
    assert info.value.kind == "protocol"
    assert not conn.ready


def test_message_frame_between_greeting_and_ready_is_refused():
    conn = null_conn("DEALER")
    conn.receive_data(raw_greeting())
    with pytest.raises(ZmtpError):
        conn.receive_data(raw_message([b"early"]) + raw_ready("ROUTER"))


def test_message_frame_while_zap_pending_is_refused():
    conn = ZmtpConnection("ROUTER", NullMechanism(as_server=True, zap_enabled=True))
    events = conn.receive_data(raw_null_peer("DEALER"))
    assert [type(e).__name__ for e in events] == ["ZapRequested"]
    with pytest.raises(ZmtpError):
        conn.receive_data(raw_message([b"early"]))


def test_command_between_frames_of_a_message_keeps_the_message():
    # Not allowed by the grammar, but harmless: documented as tolerated.
    conn = traffic_conn()
    wire = raw_frame(b"a", flags=MORE) + raw_command(b"PING", b"\x00\x00") + raw_frame(b"b")
    assert conn.receive_data(wire) == [[b"a", b"b"]]
    assert sent_commands(conn) == [(b"PONG", b"")]


# -- malformed commands and metadata -------------------------------------------------------------
MALFORMED_COMMAND_BODIES = [
    pytest.param(b"", id="empty"),
    pytest.param(b"\x00", id="zero-name"),
    pytest.param(b"\x00READY", id="zero-name-with-data"),
    pytest.param(b"\x05READ", id="name-overruns"),
    pytest.param(b"\xff" + b"A" * 100, id="name-overruns-long"),
]


@pytest.mark.parametrize("body", MALFORMED_COMMAND_BODIES)
@pytest.mark.parametrize("phase", ["handshake", "traffic"])
def test_malformed_command_frame(body, phase):
    conn = traffic_conn() if phase == "traffic" else null_conn("DEALER")
    prefix = b"" if phase == "traffic" else raw_greeting()
    with pytest.raises(ZmtpError):
        conn.receive_data(prefix + raw_frame(body, flags=COMMAND))


def _prop(name: bytes, value: bytes) -> bytes:
    return bytes((len(name),)) + name + struct.pack(">I", len(value)) + value


GOOD = _prop(b"Socket-Type", b"ROUTER")
MALFORMED_METADATA = [
    pytest.param(GOOD + b"\x05", id="truncated-name-size"),
    pytest.param(GOOD + b"\x05Ident", id="missing-value-size"),
    pytest.param(GOOD + b"\x08Identity\x00\x00", id="truncated-value-size"),
    pytest.param(GOOD + b"\x08Identity\x00\x00\x00\x05abc", id="value-overruns"),
    pytest.param(GOOD + b"\x08Identity\xff\xff\xff\xff", id="value-size-huge"),
    pytest.param(b"\x00" + struct.pack(">I", 0) + GOOD, id="empty-name"),
    pytest.param(_prop(b"Socket-\xffType", b"ROUTER"), id="non-ascii-name"),
    pytest.param(GOOD[:-1], id="socket-type-value-cut"),
    pytest.param(b"\xff" + b"A" * 20, id="name-overruns"),
]


@pytest.mark.parametrize("meta", MALFORMED_METADATA)
def test_malformed_ready_metadata(meta):
    conn = null_conn("DEALER")
    with pytest.raises(ZmtpError) as info:
        conn.receive_data(raw_greeting() + raw_command(b"READY", meta))
    assert info.value.kind == "protocol"
    assert not conn.ready


@pytest.mark.parametrize("data", [b"", b"\x00"], ids=repr)
def test_malformed_ping(data):
    conn = traffic_conn()
    with pytest.raises(ZmtpError):
        conn.receive_data(raw_command(b"PING", data))


@pytest.mark.parametrize("ctx", [b"", b"c", bytes(range(16))])
def test_ping_context_sizes(ctx):
    conn = traffic_conn()
    assert conn.receive_data(raw_command(b"PING", b"\x00\x01" + ctx)) == []
    assert sent_commands(conn) == [(b"PONG", ctx)]


@pytest.mark.parametrize("extra", [17, 300, 100_000])
def test_long_ping_context_is_accepted_and_cut_to_16(extra):
    # RFC 37: ping-context = *OCTET.  libzmq echoes at most 16 bytes; so do we, instead
    # of dropping a peer that sends a longer context.
    conn = traffic_conn()
    ctx = bytes(i & 0xFF for i in range(extra))
    assert conn.receive_data(raw_command(b"PING", b"\x00\x01" + ctx)) == []
    assert sent_commands(conn) == [(b"PONG", ctx[:16])]


def test_peer_error_in_traffic():
    conn = traffic_conn()
    with pytest.raises(ZmtpError) as info:
        conn.receive_data(raw_message([b"first"]) + raw_command(b"ERROR", b"\x03bye"))
    assert info.value.kind == "closed"
    assert "bye" in info.value.reason


@pytest.mark.parametrize("data", [b"", b"\x05ab", b"\xff"], ids=repr)
def test_malformed_error_reason_still_closes(data):
    conn = traffic_conn()
    with pytest.raises(ZmtpError):
        conn.receive_data(raw_command(b"ERROR", data))


def test_unknown_and_pong_commands_in_traffic_are_ignored():
    conn = traffic_conn()
    wire = raw_command(b"PONG", b"xyz") + raw_command(b"X" * 255, b"d") + raw_message([b"m"])
    assert conn.receive_data(wire) == [b"m"]
    assert conn.data_to_send() == b""


def test_encoded_commands_parse_back():
    conn = traffic_conn()
    conn.send_command(b"PING", b"\x00\x05")
    conn.send_error("x" * 300)  # reasons are cut to 255 bytes
    (ping, err) = split_commands(conn.data_to_send())
    assert ping == (b"PING", b"\x00\x05")
    assert err[0] == b"ERROR" and err[1][0] == 255 and len(err[1]) == 256
