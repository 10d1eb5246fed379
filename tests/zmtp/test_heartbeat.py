"""Heartbeats and the handshake deadline, on a fake clock (time is the ``now`` argument)."""

from __future__ import annotations

import struct

import pytest

from purezmq.zmtp import ZmtpConnection, ZmtpError
from purezmq.zmtp.mechanisms.null import NullMechanism

from .helpers import (
    NULL,
    ConnectionPair,
    all_kits,
    messages,
    null_conn,
    raw_command,
    raw_greeting,
    raw_message,
    raw_null_peer,
    raw_ready,
    sent_commands,
    split_commands,
    traffic_conn,
)

pytestmark = pytest.mark.timeout(60)


def _pair(now: float = 0.0, **client_kw) -> ConnectionPair:
    return ConnectionPair.create("DEALER", "ROUTER", NULL, now=now, client_kw=client_kw).handshake(
        now
    )


def _ping_ttl(data: bytes) -> int:
    return struct.unpack(">H", data[:2])[0]


# -- sending PING ------------------------------------------------------------------------------
def test_no_timers_without_heartbeats_after_handshake():
    pair = _pair()
    assert pair.a.next_timer() is None and pair.b.next_timer() is None
    pair.a.handle_timer(1e9)
    assert pair.a.data_to_send() == b""


def test_ping_sent_at_heartbeat_ivl():
    pair = _pair(now=10.0, heartbeat_ivl=1.0, heartbeat_ttl=5.0)
    a = pair.a
    assert a.next_timer() == 11.0
    a.handle_timer(10.999)
    assert a.data_to_send() == b""
    a.handle_timer(11.0)
    ((name, data),) = sent_commands(a)
    assert name == b"PING"
    assert _ping_ttl(data) == 50  # deciseconds
    assert data[2:] == b""  # no context
    # The next PING is due one interval later; the timeout (default: the interval) too.
    assert a.next_timer() == 12.0


def test_ping_interval_repeats_while_peer_answers():
    pair = _pair(heartbeat_ivl=2.0, heartbeat_timeout=3.0)
    a, b = pair.a, pair.b
    for k in range(1, 20):
        now = 2.0 * k
        a.handle_timer(now)
        ping = a.data_to_send()
        assert [n for n, _ in split_commands(ping)] == [b"PING"]
        pair.deliver(a, ping, now + 0.1)
        pong = b.data_to_send()
        assert split_commands(pong) == [(b"PONG", b"")]
        pair.deliver(b, pong, now + 0.2)
        assert a.next_timer() == now + 2.0


@pytest.mark.parametrize(
    ("ttl", "wire"),
    [(0.0, 0), (0.1, 1), (0.3, 3), (0.7, 7), (1.0, 10), (6553.5, 65535), (10000.0, 65535)],
)
def test_ping_ttl_encoding(ttl, wire):
    pair = _pair(heartbeat_ivl=1.0, heartbeat_ttl=ttl)
    pair.a.handle_timer(1.0)
    ((name, data),) = sent_commands(pair.a)
    assert name == b"PING" and _ping_ttl(data) == wire


def test_no_ping_before_handshake():
    conn = null_conn("DEALER", heartbeat_ivl=1.0, handshake_ivl=0)
    conn.data_to_send()
    assert conn.next_timer() is None
    conn.handle_timer(5.0)
    assert conn.data_to_send() == b""
    conn.receive_data(raw_greeting(), 6.0)
    conn.handle_timer(8.0)
    assert [n for n, _ in sent_commands(conn, greeting=True)] == [b"READY"]


def test_no_ping_to_zmtp30_peer():
    conn = traffic_conn("DEALER", "ROUTER", minor=0, heartbeat_ivl=1.0)
    assert conn.next_timer() is None
    conn.handle_timer(10.0)
    assert conn.data_to_send() == b""


# -- answering PING ------------------------------------------------------------------------------
@pytest.mark.parametrize("ctx", [b"", b"\x00", b"context!", bytes(range(16))])
def test_pong_echoes_the_context(ctx):
    conn = traffic_conn()
    assert conn.receive_data(raw_command(b"PING", b"\x00\x00" + ctx), 1.0) == []
    assert sent_commands(conn) == [(b"PONG", ctx)]


def test_pong_comes_out_of_encode_too():
    conn = traffic_conn("PUSH", "PULL")
    conn.receive_data(raw_command(b"PING", b"\x00\x00ab"))
    out: list = []
    conn.encode([[b"msg"]], out)
    assert b"".join(out) == raw_command(b"PONG", b"ab") + raw_message([b"msg"])


@pytest.mark.parametrize("kit", all_kits(), ids=repr)
def test_heartbeat_round_trip_every_mechanism(kit):
    pair = ConnectionPair.create(
        "DEALER", "ROUTER", kit, client_kw={"heartbeat_ivl": 1.0, "heartbeat_timeout": 2.0}
    ).handshake()
    pair.a.handle_timer(1.0)
    assert pair.a.has_output
    pair.pump(1.5)  # PING -> PONG
    pair.a.handle_timer(2.9)  # the PONG cleared the timeout
    pair.a.handle_timer(3.0)
    # Messages still flow between the heartbeats.
    assert messages(pair.send(pair.b, [[b"x"]], now=3.1)) == [[b"x"]]


# -- heartbeat timeout ---------------------------------------------------------------------------
def test_timeout_when_nothing_received_after_ping():
    pair = _pair(heartbeat_ivl=1.0, heartbeat_timeout=3.0)
    a = pair.a
    a.handle_timer(1.0)  # PING, timeout at 4.0
    a.handle_timer(2.0)  # PING again; the timeout is not pushed back
    a.handle_timer(3.0)
    assert len(sent_commands(a)) == 3
    assert a.next_timer() == 4.0
    a.handle_timer(3.999)
    with pytest.raises(ZmtpError) as info:
        a.handle_timer(4.0)
    assert info.value.kind == "timeout"


def test_default_timeout_is_the_interval():
    pair = _pair(heartbeat_ivl=2.0)
    pair.a.handle_timer(2.0)
    pair.a.handle_timer(3.9)
    with pytest.raises(ZmtpError):
        pair.a.handle_timer(4.0)


def test_any_traffic_counts_as_a_sign_of_life():
    pair = _pair(heartbeat_ivl=1.0, heartbeat_timeout=3.0)
    a = pair.a
    a.handle_timer(1.0)
    a.data_to_send()
    # No PONG (it could be stuck behind traffic), but a message arrives.
    assert messages(pair.send(pair.b, [[b"alive"]], now=3.5)) == [[b"alive"]]
    a.handle_timer(4.0)  # no timeout: a new PING instead, timeout now at 7.0
    assert [n for n, _ in sent_commands(a)] == [b"PING"]
    a.handle_timer(6.9)
    with pytest.raises(ZmtpError):
        a.handle_timer(7.0)


def test_zero_timeout_disables_it():
    pair = _pair(heartbeat_ivl=1.0, heartbeat_timeout=0.0)
    for t in range(1, 50):
        pair.a.handle_timer(float(t))
    assert len(sent_commands(pair.a)) == 49


# -- the peer's TTL ------------------------------------------------------------------------------
def test_ttl_from_peer_ping_is_enforced():
    conn = traffic_conn(now=0.0)
    conn.receive_data(raw_command(b"PING", struct.pack(">H", 20)), 10.0)  # 2.0 s
    assert conn.next_timer() == 12.0
    conn.handle_timer(11.99)
    with pytest.raises(ZmtpError) as info:
        conn.handle_timer(12.0)
    assert info.value.kind == "timeout"


def test_ttl_restarts_with_any_traffic():
    conn = traffic_conn()
    conn.receive_data(raw_command(b"PING", struct.pack(">H", 20)), 10.0)
    conn.receive_data(raw_message([b"m"]), 11.5)
    assert conn.next_timer() == 13.5
    conn.handle_timer(13.4)
    with pytest.raises(ZmtpError):
        conn.handle_timer(13.5)


def test_zero_ttl_is_no_deadline():
    conn = traffic_conn()
    conn.receive_data(raw_command(b"PING", b"\x00\x00"), 10.0)
    assert conn.next_timer() is None
    conn.handle_timer(1e6)


def test_max_ttl():
    conn = traffic_conn()
    conn.receive_data(raw_command(b"PING", b"\xff\xff"), 0.0)
    assert conn.next_timer() == pytest.approx(6553.5)


def test_ttl_between_real_connections():
    pair = _pair(heartbeat_ivl=1.0, heartbeat_ttl=3.0, heartbeat_timeout=100.0)
    pair.a.handle_timer(1.0)
    pair.pump(1.0)  # b got the PING (TTL 3 s) and answered
    assert pair.b.next_timer() == 4.0
    with pytest.raises(ZmtpError):
        pair.b.handle_timer(4.0)


# -- handshake deadline ------------------------------------------------------------------------
def test_handshake_timeout_silent_peer():
    conn = ZmtpConnection("DEALER", NullMechanism(), handshake_ivl=5.0, now=100.0)
    assert conn.next_timer() == 105.0
    conn.handle_timer(104.99)
    with pytest.raises(ZmtpError) as info:
        conn.handle_timer(105.0)
    assert info.value.kind == "timeout"


def test_handshake_timeout_after_greeting_only():
    conn = ZmtpConnection("DEALER", NullMechanism(), handshake_ivl=5.0, now=0.0)
    conn.receive_data(raw_greeting(), 1.0)
    assert conn.next_timer() == 5.0  # receiving bytes does not push the deadline back
    with pytest.raises(ZmtpError):
        conn.handle_timer(5.0)


def test_handshake_timeout_while_zap_pending():
    conn = ZmtpConnection(
        "ROUTER", NullMechanism(as_server=True, zap_enabled=True), handshake_ivl=5.0
    )
    conn.receive_data(raw_null_peer("DEALER"), 1.0)
    with pytest.raises(ZmtpError):
        conn.handle_timer(5.0)


def test_handshake_deadline_cleared_on_success():
    conn = ZmtpConnection("DEALER", NullMechanism(), handshake_ivl=5.0, now=0.0)
    conn.receive_data(raw_greeting() + raw_ready("ROUTER"), 4.0)
    assert conn.ready and conn.next_timer() is None
    conn.handle_timer(5.0)
    conn.handle_timer(500.0)


def test_handshake_deadline_then_heartbeat():
    conn = ZmtpConnection("DEALER", NullMechanism(), handshake_ivl=5.0, heartbeat_ivl=10.0, now=0.0)
    assert conn.next_timer() == 5.0
    conn.receive_data(raw_greeting() + raw_ready("ROUTER"), 3.0)
    assert conn.next_timer() == 13.0


def test_zero_handshake_ivl_means_no_deadline():
    conn = ZmtpConnection("DEALER", NullMechanism(), handshake_ivl=0.0)
    assert conn.next_timer() is None
    conn.handle_timer(1e9)
