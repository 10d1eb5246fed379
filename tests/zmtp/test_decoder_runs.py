"""The decoder's bulk path for runs of same-size one-frame messages, against the encoder:
whatever the mix of runs, other sizes, multipart messages, LONG frames and commands, and
wherever the reads cut the stream, the same messages come out in the same order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from purezmq.zmtp.frames import encode_command, encode_messages

from .helpers import messages, raw_frame, traffic_conn

pytestmark = pytest.mark.timeout(120)

# A run: (count, size, variant) -> ``count`` one-frame messages of ``size`` bytes whose
# bodies differ (a shifted run cannot compare equal); variant 1 puts a multipart message
# after it, 2 a LONG-encoded frame of the same size, 3 a PING command.
runs = st.lists(
    st.tuples(st.integers(1, 700), st.sampled_from([0, 1, 2, 63, 64, 65, 200, 254, 255, 256]),
              st.integers(0, 3)),
    min_size=1,
    max_size=8,
)


def _body(size: int, i: int) -> bytes:
    return bytes((i * 7 + k) & 0xFF for k in range(size))


def _stream(spec) -> tuple[bytes, list[list[bytes]]]:
    msgs: list = []
    wire: list = []
    n = 0
    for count, size, variant in spec:
        run = [_body(size, n + i) for i in range(count)]
        n += count
        encode_messages(run, wire)
        msgs += [[m] for m in run]
        if variant == 1:
            multi = [_body(size, n), _body(3, n)]
            encode_messages([multi], wire)
            msgs.append(multi)
        elif variant == 2:
            wire.append(raw_frame(_body(size, n), long=True))
            msgs.append([_body(size, n)])
        elif variant == 3:
            wire.append(encode_command(b"PING", b"\x00\x00"))
        n += 1
    return b"".join(wire), msgs


@settings(max_examples=150, deadline=None)
@given(runs, st.lists(st.integers(1, 5000), max_size=30))
def test_runs_decode_like_frame_by_frame(spec, cuts):
    wire, want = _stream(spec)
    conn = traffic_conn()
    got = []
    pos = 0
    for c in cuts:
        got += messages(conn.receive_data(wire[pos : pos + c], 0.0))
        pos += c
        if pos >= len(wire):
            break
    got += messages(conn.receive_data(wire[pos:], 0.0))
    assert got == want


def test_reserved_flag_bits_inside_a_run_end_it_and_are_ignored():
    """As frame by frame (and libzmq): the reserved bits do not matter, but the bulk path
    must not take that frame's header for one of its run."""
    wire, want = _stream([(300, 64, 0)])
    frame = 66
    odd = wire[: frame * 150] + b"\x10" + wire[frame * 150 + 1 :]
    conn = traffic_conn()
    assert messages(conn.receive_data(odd, 0.0)) == want
