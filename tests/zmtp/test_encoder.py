"""The sending side: ``encode`` and the engine's ``encode_queue`` batch encoder."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from purezmq.zmtp import Subscription
from purezmq.zmtp.frames import encode_queue

from .helpers import NULL, ConnectionPair, all_kits, raw_command, raw_message, traffic_conn

pytestmark = pytest.mark.timeout(60)

frames = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"a" * 255, b"b" * 256, b"c" * 65536]),
)
plain_msgs = st.lists(st.lists(frames, min_size=1, max_size=4), max_size=12)


def _encode(conn, items) -> bytes:
    out: list = []
    conn.encode(items, out)
    return b"".join(out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msgs=plain_msgs, limit=st.integers(1, 200_000))
def test_encode_queue_matches_encode(msgs, limit):
    conn = traffic_conn("DEALER", "ROUTER")
    expected = _encode(conn, msgs)
    q = deque(msgs)
    wire = b""
    while q:
        out: list = []
        conn.encode_queue(q, out, limit)
        assert out, "encode_queue made no progress"
        wire += b"".join(out)
    assert wire == expected


@pytest.mark.parametrize("limit", [1, 100, 1000])
def test_encode_queue_stops_at_the_limit(limit):
    conn = traffic_conn("PUSH", "PULL")
    q = deque([[b"x" * 50]] * 100)
    out: list = []
    conn.encode_queue(q, out, limit)
    size = len(b"".join(out))
    assert limit <= size < limit + 52  # stops after the message that reaches the limit
    assert len(q) == 100 - size // 52


def test_encode_queue_flushes_protocol_bytes_first():
    conn = traffic_conn("PUSH", "PULL")
    conn.receive_data(raw_command(b"PING", b"\x00\x00hi"))
    q = deque([[b"m"]])
    out: list = []
    conn.encode_queue(q, out, 1000)
    assert b"".join(out) == raw_command(b"PONG", b"hi") + raw_message([b"m"])
    assert not conn.has_output


@pytest.mark.parametrize("minor", [0, 1])
@pytest.mark.parametrize("ours", ["SUB", "XSUB"])
def test_encode_queue_subscriptions(ours, minor):
    conn = traffic_conn(ours, "XPUB", minor=minor)
    items = [Subscription(b"a"), [b"m", b"n"], Subscription(b"a", False), [b"x" * 300]]
    expected = _encode(conn, items)
    q = deque(items)
    out: list = []
    conn.encode_queue(q, out, 1 << 20)
    assert not q
    assert b"".join(out) == expected
    if minor:
        assert expected.startswith(raw_command(b"SUBSCRIBE", b"a"))
    else:
        assert expected.startswith(raw_message([b"\x01a"]))


def test_frames_encode_queue_returns_odd_items():
    q = deque([[b"a"], Subscription(b"t"), [b"b"]])
    out: list = []
    odd = encode_queue(q, out, 1000)
    assert odd == Subscription(b"t")
    assert b"".join(out) == raw_message([b"a"])
    assert list(q) == [[b"b"]]
    assert encode_queue(q, out, 1000) is None and not q


def test_encode_queue_odd_item_on_plain_connection():
    # A Subscription can reach a non-SUB pipe (XPUB/XSUB proxies): it is still encoded.
    conn = traffic_conn("DEALER", "ROUTER")
    q = deque([[b"a"], Subscription(b"t"), [b"b"]])
    out: list = []
    conn.encode_queue(q, out, 1000)
    assert b"".join(out) == (
        raw_message([b"a"]) + raw_command(b"SUBSCRIBE", b"t") + raw_message([b"b"])
    )


@pytest.mark.parametrize("kit", all_kits(), ids=repr)
def test_encode_queue_every_mechanism(kit):
    pair = ConnectionPair.create("DEALER", "ROUTER", kit).handshake()
    # Pipes carry a one-frame message as bare bytes or as a one-item list: both encode.
    msgs = [[b"a", b""], [b"x" * 70000], [b"z"], b"y" * 300, b""]
    q = deque(msgs)
    out: list = []
    while q:
        pair.a.encode_queue(q, out, 100)
    events = pair.b.receive_data(b"".join(out))
    assert events == [[b"a", b""], b"x" * 70000, b"z", b"y" * 300, b""]  # one frame: bare


def test_encode_returns_the_byte_count():
    pair = ConnectionPair.create("DEALER", "ROUTER", NULL).handshake()
    out: list = []
    n = pair.a.encode([[b"a" * 255, b"b" * 256], [b""]], out)
    assert n == len(b"".join(out)) == (2 + 255) + (9 + 256) + 2
