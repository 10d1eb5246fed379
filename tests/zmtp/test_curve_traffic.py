"""CURVE traffic through the decoder's bulk path: commands inside boxes, replays, tampering
and cuts anywhere, with the same outcome as frame by frame."""

from __future__ import annotations

import pytest

from tests.zmtp.helpers import ConnectionPair, curve_kit, messages

pytestmark = pytest.mark.timeout(60)

KIT = curve_kit()
if KIT is None:  # pragma: no cover - without PyNaCl
    pytest.skip("CURVE needs PyNaCl", allow_module_level=True)

MSGS = [b"a" * 64, [b"id", b"", b"x" * 300], b"", b"y" * 70000, [b"p"] * 5, b"last"]


def _pair(**client_kw) -> ConnectionPair:
    return ConnectionPair.create("DEALER", "ROUTER", KIT, client_kw=client_kw).handshake()


def _expected() -> list:
    return [m if isinstance(m, list) else [m] for m in MSGS]


@pytest.mark.parametrize("chunk", [0, 1, 7, 97, 1000, 65536])
def test_messages_arrive_whole_in_any_cut(chunk: int) -> None:
    pair = _pair()
    assert messages(pair.send(pair.a, MSGS, chunk=chunk)) == _expected()
    assert messages(pair.send(pair.b, MSGS, chunk=chunk)) == _expected()


def test_a_ping_inside_the_traffic_is_answered_and_the_messages_go_on() -> None:
    pair = _pair(heartbeat_ivl=1.0, heartbeat_ttl=5.0)
    out: list = []
    pair.a.encode(MSGS[:2], out)
    pair.a.handle_timer(1.5)  # queues an encrypted PING
    pair.a.take_commands(out)
    pair.a.encode(MSGS[2:], out)
    events = pair.deliver(pair.a, b"".join(out))
    assert messages(events) == _expected()
    pong = pair.b.data_to_send()
    assert pong  # the PONG, boxed
    pair.deliver(pair.b, pong)
    assert pair.a.ready and pair.b.ready


def test_a_replayed_frame_is_refused() -> None:
    pair = _pair()
    out: list = []
    pair.a.encode([b"once"], out)
    frame = b"".join(out)
    assert messages(pair.deliver(pair.a, frame)) == [[b"once"]]
    with pytest.raises(Exception, match="replayed"):
        pair.deliver(pair.a, frame)


def test_a_tampered_frame_is_refused_after_the_good_ones() -> None:
    pair = _pair()
    out: list = []
    pair.a.encode([b"good", b"bad", b"never"], out)
    wire = bytearray(b"".join(out))
    third = len(wire) // 3
    wire[third + 30] ^= 1
    with pytest.raises(Exception) as info:
        pair.b.receive_data(bytes(wire))
    assert messages(info.value.events) == [[b"good"]]
