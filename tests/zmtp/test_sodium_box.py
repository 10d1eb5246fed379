"""The CURVE traffic box: the cffi path and PyNaCl's public wrappers agree byte for byte."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("nacl")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from nacl import bindings  # noqa: E402

from purezmq.zmtp.mechanisms import sodium  # noqa: E402
from purezmq.zmtp.mechanisms.sodium import KEEP, Box, CryptoError  # noqa: E402

pytestmark = pytest.mark.timeout(60)

_PK, _SK = bindings.crypto_box_keypair()
KEY = bindings.crypto_box_beforenm(_PK, _SK)
NONCE = os.urandom(24)


def _boxes() -> list[Box]:
    boxes = [Box(KEY, fast=False)]
    if sodium._CFFI is not None:
        boxes.append(Box(KEY, fast=True))
    return boxes


def test_the_fast_path_is_available_with_pynacl() -> None:
    """PyNaCl's cffi layer has the two functions; if it ever loses them, say so here."""
    assert sodium._CFFI is not None
    assert Box(KEY)._fast


@settings(max_examples=200, deadline=None)
@given(flag=st.integers(0, 3), body=st.binary(max_size=3000))
def test_seal_matches_pynacl_and_opens_back(flag: int, body: bytes) -> None:
    expected = bindings.crypto_box_easy_afternm(bytes((flag,)) + body, NONCE, KEY)
    for box in _boxes():
        sealed = box.seal(flag, body, NONCE)
        assert sealed == expected
        for other in _boxes():
            assert other.open(sealed, NONCE) == (flag, body)


@pytest.mark.parametrize("size", [0, 1, 239, 240, KEEP - 17, KEEP, KEEP + 1, 1 << 20])
def test_sizes_around_the_kept_buffer(size: int) -> None:
    body = os.urandom(size)
    for box in _boxes():
        sealed = box.seal(1, body, NONCE)
        assert len(sealed) == size + 1 + sodium.MAC
        assert box.open(sealed, NONCE) == (1, body)
        assert box._cap <= KEEP  # a big frame does not leave a big buffer behind


def test_buffers_are_reused_and_never_leak_old_bytes() -> None:
    for box in _boxes():
        long = box.seal(0, b"x" * 1000, NONCE)
        assert box.open(long, NONCE) == (0, b"x" * 1000)
        short = box.seal(2, b"yz", NONCE)
        assert box.open(short, NONCE) == (2, b"yz")


def test_memoryview_and_bytearray_bodies() -> None:
    data = bytearray(b"abc" * 50)
    for box in _boxes():
        assert box.seal(0, memoryview(data)[3:], NONCE) == box.seal(0, bytes(data[3:]), NONCE)


@pytest.mark.parametrize("where", [0, 15, 16, -1])
def test_tampering_is_refused(where: int) -> None:
    for box in _boxes():
        sealed = bytearray(box.seal(0, b"payload", NONCE))
        sealed[where] ^= 1
        with pytest.raises(CryptoError):
            box.open(bytes(sealed), NONCE)
        with pytest.raises(CryptoError):
            box.open(box.seal(0, b"payload", NONCE), bytes((NONCE[0] ^ 1,)) + NONCE[1:])


def test_too_short_is_refused() -> None:
    for box in _boxes():
        for n in (0, 1, 16):
            with pytest.raises((CryptoError, ValueError)):
                box.open(bytes(n), NONCE)


# -- batches of MESSAGE frames (seal_messages / open_messages) ---------------------------------
PREFIX_C, PREFIX_S = b"CurveZMQMESSAGEC", b"CurveZMQMESSAGES"


def _pair_boxes() -> list[tuple[Box, Box]]:
    """(sender, receiver) boxes over one key, every combination of the two paths."""
    pairs = []
    for fast_tx in (False, True):
        for fast_rx in (False, True):
            if (fast_tx or fast_rx) and sodium._CFFI is None:
                continue
            pairs.append((Box(KEY, fast=fast_tx, send_prefix=PREFIX_C),
                          Box(KEY, fast=fast_rx, recv_prefix=PREFIX_C)))
    return pairs


def _reference(msgs, nonce: int) -> bytes:
    """libzmq's MESSAGE frames, written out by hand with PyNaCl's public wrapper."""
    out = b""
    for m in msgs:
        m = [m] if isinstance(m, bytes) else m
        for i, frame in enumerate(m):
            short = nonce.to_bytes(8, "big")
            flag = 1 if i < len(m) - 1 else 0
            box = bindings.crypto_box_easy_afternm(bytes((flag,)) + bytes(frame),
                                                   PREFIX_C + short, KEY)
            body = b"\x07MESSAGE" + short + box
            n = len(body)
            head = bytes((0, n)) if n < 256 else b"\x02" + n.to_bytes(8, "big")
            out += head + body
            nonce += 1
    return out


MIXED = [b"", b"a", b"x" * 64, b"y" * 222, b"z" * 223, [b"p", b"q" * 300, b""],
         os.urandom(KEEP + 5), [b"m" * 5000] * 20, b"end"]


@pytest.mark.parametrize("tx,rx", _pair_boxes(), ids=lambda b: "fast" if b._fast else "slow")
def test_batches_are_libzmqs_frames_and_open_back(tx: Box, rx: Box) -> None:
    out: list = []
    total, nxt = tx.seal_messages(MIXED, out, 7)
    wire = b"".join(out)
    assert wire == _reference(MIXED, 7)
    assert total == len(wire)
    assert nxt == 7 + sum(1 if isinstance(m, bytes) else len(m) for m in MIXED)
    # Open it in bulk where the receiver can, frame by frame (as the decoder's slow path
    # does through ``open``) where it stops.
    events: list = []
    cur: list = []
    pos, peer = 0, 6
    while pos < len(wire):
        pos, cur, peer, opened = rx.open_messages(wire, pos, events, cur, peer)
        assert opened is None
        if pos < len(wire):  # a frame the bulk path leaves to the caller (too big, slow)
            long = wire[pos] & 2
            size = int.from_bytes(wire[pos + 1 : pos + 9], "big") if long else wire[pos + 1]
            start = pos + (9 if long else 2)
            body = wire[start : start + size]
            short = body[8:16]
            flag, frame = rx.open(body[16:], PREFIX_C + short)
            peer = int.from_bytes(short, "big")
            if flag & 1:
                cur.append(frame)
            else:
                events.append(cur + [frame] if cur else frame)
                cur = []
            pos = start + size
    assert events == [m if isinstance(m, bytes) else list(m) for m in MIXED]
    assert peer == nxt - 1


def _sealed(msgs, nonce: int = 1) -> bytes:
    out: list = []
    Box(KEY, send_prefix=PREFIX_C).seal_messages(msgs, out, nonce)
    return b"".join(out)


@pytest.mark.skipif(sodium._CFFI is None, reason="the bulk opener needs PyNaCl's cffi layer")
def test_open_stops_before_what_it_cannot_take_and_changes_nothing() -> None:
    rx = Box(KEY, recv_prefix=PREFIX_C)
    wire = _sealed([b"one", b"two", b"three"], 5)
    frame = len(wire) // 3
    # A replayed nonce: the third frame's nonce is not above the one given.
    events: list = []
    assert rx.open_messages(wire, 0, events, [], 6) == (0, [], 6, None)
    pos, cur, peer, opened = rx.open_messages(wire, 0, events, [], 4)
    assert (pos, peer, events) == (len(wire), 7, [b"one", b"two", b"three"])
    # Tampered: stops before the bad frame, with the good ones delivered.
    bad = bytearray(wire)
    bad[frame + 30] ^= 1
    events = []
    assert rx.open_messages(bytes(bad), 0, events, [], 0)[:3] == (frame, [], 5)
    assert events == [b"one"]
    # Cut short: stops at the frame that has not all arrived.
    events = []
    assert rx.open_messages(wire[:-1], 0, events, [], 0)[0] == 2 * frame
    # Not a MESSAGE (a plain command): stops at once.
    events = []
    assert rx.open_messages(b"\x04\x05\x04PING", 0, events, [], 0)[0] == 0
    assert events == []


@pytest.mark.skipif(sodium._CFFI is None, reason="the bulk opener needs PyNaCl's cffi layer")
def test_open_returns_a_command_inside_the_box() -> None:
    tx = Box(KEY, send_prefix=PREFIX_C)
    rx = Box(KEY, recv_prefix=PREFIX_C)
    ping = tx.seal(2, b"\x04PING\x00\x00", PREFIX_C + (2).to_bytes(8, "big"))
    body = b"\x07MESSAGE" + (2).to_bytes(8, "big") + ping
    wire = _sealed([b"before"], 1) + bytes((0, len(body))) + body + _sealed([b"after"], 3)
    events: list = []
    pos, cur, peer, opened = rx.open_messages(wire, 0, events, [], 0)
    assert opened == (2, b"\x04PING\x00\x00") and peer == 2 and events == [b"before"]
    pos, cur, peer, opened = rx.open_messages(wire, pos, events, cur, peer)
    assert (pos, opened, events) == (len(wire), None, [b"before", b"after"])


def test_nonce_exhaustion_is_a_protocol_error() -> None:
    from purezmq.zmtp.errors import ZmtpError

    for fast in (False, True):
        with pytest.raises(ZmtpError, match="nonce exhausted"):
            Box(KEY, fast=fast, send_prefix=PREFIX_C).seal_messages([b"a", b"b"], [], 2**64 - 1)
