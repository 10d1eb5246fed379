"""Big frames gathered in one buffer (the decoder's ``sink``), which a driver may fill by
reading straight into it (``recv_into``) or leave to ``receive_data`` to copy into: either
way, and wherever reads cut the stream, the same messages come out, and sinks reused from
one frame to the next never leak bytes of an earlier one."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from purezmq.zmtp import ZmtpError
from purezmq.zmtp import connection as zconn

from .helpers import messages, raw_frame, raw_message, traffic_conn

pytestmark = pytest.mark.timeout(120)

SINK_MIN, SINK_MAX = 2_000, 9_000  # small, so that examples stay quick
SINK_FIRST = 700  # a sink starts this small and doubles as the frame's bytes arrive


@pytest.fixture
def small_sinks(monkeypatch):
    monkeypatch.setattr(zconn, "_SINK_MIN", SINK_MIN)
    monkeypatch.setattr(zconn, "_SINK_MAX", SINK_MAX)
    monkeypatch.setattr(zconn, "_SPARE_SINK_MAX", SINK_MAX)
    monkeypatch.setattr(zconn, "_SINK_FIRST", SINK_FIRST)
    monkeypatch.setattr(zconn, "_sinks", [])


def _body(size: int, seed: int) -> bytes:
    return bytes((seed * 31 + k * 7) & 0xFF for k in range(size))


sizes = st.sampled_from([0, 5, 300, 1_999, 2_000, 2_001, 4_500, 8_999, 9_000, 9_001, 12_000])
message_lists = st.lists(st.lists(sizes, min_size=1, max_size=3), min_size=1, max_size=8)


def _read(conn, wire: bytes, cuts: list[tuple[int, bool]]) -> list[list[bytes]]:
    """Feed ``wire`` in reads of the given sizes; where the flag is set and the decoder
    offers a sink, write into it as ``recv_into`` would."""
    got: list[list[bytes]] = []
    pos = 0
    steps = iter(cuts)
    while pos < len(wire):
        size, into = next(steps, (len(wire), False))
        sink = conn.sink
        if into and sink is not None:
            n = min(size, len(sink), len(wire) - pos)
            sink[:n] = wire[pos : pos + n]
            got += messages(conn.sink_filled(n, 0.0))
        else:
            got += messages(conn.receive_data(wire[pos : pos + size], 0.0))
            n = size
        pos += n
    return got


# The fixture's small limits hold for every example; its spare sinks carry over from one
# example to the next, as they do between frames.
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(message_lists, st.lists(st.tuples(st.integers(1, 7_000), st.booleans()), max_size=40))
def test_big_frames_decode_alike_however_read(small_sinks, spec, cuts):
    want = [[_body(size, i * 3 + j) for j, size in enumerate(msg)] for i, msg in enumerate(spec)]
    wire = b"".join(raw_message(m) for m in want)
    conn = traffic_conn()
    assert _read(conn, wire, cuts) == want
    assert conn.sink is None


def test_a_reused_sink_larger_than_the_frame_gives_only_the_frame(small_sinks):
    conn = traffic_conn()
    big, small = _body(8_000, 1), _body(2_500, 2)
    wire = raw_frame(big) + raw_frame(small)
    got = _read(conn, wire, [(100, False)] + [(500, True)] * 40)
    assert got == [[big], [small]]
    assert len(zconn._sinks) == 1 and len(zconn._sinks[0]) == 8_000  # the one, reused


def test_frames_past_the_sink_limit_are_gathered_without_one(small_sinks):
    conn = traffic_conn()
    body = _body(SINK_MAX + 1, 3)
    frame = raw_frame(body)
    assert messages(conn.receive_data(frame[:50], 0.0)) == []
    assert conn.sink is None  # no buffer of the announced size before the bytes arrive
    assert messages(conn.receive_data(frame[50:], 0.0)) == [[body]]


def test_a_one_mebibyte_frame_read_into_the_sink(monkeypatch):
    monkeypatch.setattr(zconn, "_sinks", [])
    conn = traffic_conn()
    body = _body(1 << 20, 4)
    wire = raw_frame(body) + raw_frame(b"next")
    assert messages(conn.receive_data(wire[:70_000], 0.0)) == []
    pos = 70_000
    got = []
    while conn.sink is not None:
        sink = conn.sink
        assert len(sink) > 0
        sink[:] = wire[pos : pos + len(sink)]
        pos += len(sink)
        got += messages(conn.sink_filled(len(sink), 0.0))
    assert got == [[body]] and pos == len(wire) - 6
    assert messages(conn.receive_data(wire[-6:], 0.0)) == [[b"next"]]


@pytest.mark.parametrize("announced", [SINK_MIN, 5_000, SINK_MAX])
def test_a_sink_grows_with_the_bytes_received_not_the_announced_size(small_sinks, announced):
    conn = traffic_conn()
    frame = raw_frame(_body(announced, 7))
    conn.receive_data(frame[:12], 0.0)  # the header and 3 bytes of body
    assert 0 < conn.held_bytes <= SINK_FIRST
    fed = 12
    while fed < len(frame) - 1:
        step = min(300, len(frame) - 1 - fed)
        conn.receive_data(frame[fed : fed + step], 0.0)
        fed += step
        assert conn.held_bytes <= max(SINK_FIRST, 2 * fed), (fed, conn.held_bytes)
    assert messages(conn.receive_data(frame[fed:], 0.0)) == [[_body(announced, 7)]]


def test_a_spare_sink_is_used_before_any_new_memory(small_sinks):
    spare = bytearray(3_000)
    zconn._sinks.append(spare)
    conn = traffic_conn()
    conn.receive_data(raw_frame(_body(8_000, 8))[:40], 0.0)
    assert conn.sink is not None and conn.sink.obj is spare and not zconn._sinks


def test_closing_drops_what_a_partial_frame_held(small_sinks):
    conn = traffic_conn()
    conn.receive_data(raw_frame(_body(8_000, 9))[:4_000], 0.0)
    assert conn.sink is not None
    conn.close()
    assert conn.sink is None and conn.held_bytes == 0
    big = traffic_conn()
    big.receive_data(raw_frame(_body(20_000, 9))[:4_000], 0.0)  # past SINK_MAX: in parts
    assert 3_900 <= big.held_bytes < 5_000
    big.close()
    assert big.sink is None and big.held_bytes == 0


def test_an_oversized_frame_fails_at_its_header_before_any_sink(small_sinks):
    conn = traffic_conn(maxmsgsize=3_000)
    with pytest.raises(ZmtpError):
        conn.receive_data(raw_frame(_body(4_000, 5))[:20], 0.0)
    assert conn.sink is None


def test_a_closed_connection_takes_no_more_sink_bytes(small_sinks):
    conn = traffic_conn()
    conn.receive_data(raw_frame(_body(5_000, 6))[:100], 0.0)
    assert conn.sink is not None
    conn.close()
    with pytest.raises(ZmtpError):
        conn.sink_filled(10, 0.0)
