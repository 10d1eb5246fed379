"""The sans-I/O ZWS 2.0 connection (transports/ws_protocol.py) without sockets: the
subprotocol choice, the wire form of frames, extensions, and failures."""

from __future__ import annotations

import base64
import hashlib

import pytest

pytest.importorskip("wsproto")

from wsproto import ConnectionType, WSConnection  # noqa: E402
from wsproto.events import AcceptConnection, BytesMessage, Message, Ping, Request  # noqa: E402
from wsproto.extensions import PerMessageDeflate  # noqa: E402

from purezmq.transports.ws_protocol import ZwsConnection, subprotocols  # noqa: E402
from purezmq.zmtp.connection import ZmtpConnection  # noqa: E402
from purezmq.zmtp.errors import ZmtpError  # noqa: E402
from purezmq.zmtp.events import HandshakeSucceeded, Subscription  # noqa: E402
from purezmq.zmtp.mechanisms.null import NullMechanism  # noqa: E402
from purezmq.zmtp.mechanisms.plain import PlainMechanism  # noqa: E402


def zws(socket_type: str, client: bool, mech=None, **kw) -> ZwsConnection:
    mech = mech or NullMechanism(as_server=False)
    inner = ZmtpConnection(socket_type, mech, identity=kw.pop("identity", b""),
                           heartbeat_ivl=kw.pop("heartbeat_ivl", 0.0))  # fmt: skip
    return ZwsConnection(inner, client=client, host="127.0.0.1:1", path="/p", **kw)


def pump(a: ZwsConnection, b: ZwsConnection) -> list:
    events = []
    for _ in range(6):
        for x, y in ((a, b), (b, a)):
            data = x.data_to_send()
            if data:
                events += y.receive_data(data)
    return events


def test_offers():
    assert subprotocols(b"NULL", "SUB") == ["ZWS2.0", "ZWS2.0/NULL"]
    # heartbeats: libzmq's order (libzmq aborts on a ping over a bare connection)
    assert subprotocols(b"NULL", "SUB", heartbeats=True) == ["ZWS2.0/NULL", "ZWS2.0"]
    assert subprotocols(b"NULL", "CLIENT") == ["ZWS2.0/NULL"]  # no ZMTP 2.0 form
    assert subprotocols(b"NULL", "REP", zap_enabled=True) == ["ZWS2.0/NULL"]
    assert subprotocols(b"PLAIN", "REQ") == ["ZWS2.0/PLAIN"]
    assert subprotocols(b"CURVE", "REQ") == ["ZWS2.0/CURVE"]


def test_request_names_host_path_and_bare_first():
    c = zws("REQ", True)
    request = c.data_to_send()
    assert request.startswith(b"GET /p HTTP/1.1\r\n")
    assert b"sec-websocket-protocol: zws2.0, zws2.0/null" in request.lower()
    assert b"host: 127.0.0.1:1" in request.lower()


@pytest.mark.parametrize("offer,chosen", [
    (["ZWS2.0", "ZWS2.0/NULL"], "ZWS2.0"),
    (["ZWS2.0/NULL", "ZWS2.0"], "ZWS2.0/NULL"),  # libzmq's order: the client's wins
    (["x-other", "ZWS2.0/NULL"], "ZWS2.0/NULL"),
])  # fmt: skip
def test_server_takes_the_first_it_speaks_and_declines_deflate(offer, chosen):
    s = zws("REP", False, NullMechanism(as_server=False))
    client = WSConnection(ConnectionType.CLIENT)
    req = Request(host="h", target="/p", subprotocols=offer, extensions=[PerMessageDeflate()])
    s.receive_data(client.send(req))
    reply = s.data_to_send()
    assert b"sec-websocket-extensions" not in reply.lower()
    client.receive_data(reply)
    ev = next(client.events())  # (then, with the bare ZWS2.0, the server's routing id)
    assert isinstance(ev, AcceptConnection) and ev.subprotocol == chosen
    assert ev.extensions == []
    assert s.subprotocol == chosen


def test_bare_wire_form_identity_messages_subscriptions():
    c = zws("SUB", True, identity=b"me")
    s = zws("PUB", False, NullMechanism(as_server=False))
    events = pump(c, s)
    assert c.subprotocol == s.subprotocol == "ZWS2.0"
    assert any(isinstance(e, HandshakeSucceeded) for e in events)
    # Seen from a raw WebSocket: the SUB's subscription is the message "\x00" + "\x01topic".
    from collections import deque

    out: list = []
    c.encode_queue(deque([Subscription(b"topic", True)]), out, 1 << 16)
    assert s.receive_data(b"".join(out)) == [Subscription(b"topic", True)]
    out = []
    s.encode_queue(deque([[b"topic", b"body"]]), out, 1 << 16)
    data = b"".join(out)
    # unmasked server frames: 0x82, length, flags byte, body
    assert data == b"\x82\x06\x01topic" + b"\x82\x05\x00body"


def test_null_mechanism_handshake_and_heartbeat_pings():
    # CLIENT and SERVER have no ZMTP 2.0 form: they offer only ZWS2.0/NULL
    c = zws("CLIENT", True, heartbeat_ivl=1.0)
    s = zws("SERVER", False, NullMechanism(as_server=False))
    events = pump(c, s)
    assert s.subprotocol == "ZWS2.0/NULL"
    hs = [e for e in events if isinstance(e, HandshakeSucceeded)]
    assert len(hs) == 2
    when = c.next_timer()
    assert when is not None
    c.handle_timer(when + 0.01)
    raw = c.data_to_send()
    assert raw[:1] == b"\x89"  # FIN + PING opcode (masked, from a client)


def test_plain_over_ws():
    c = zws("REQ", True, PlainMechanism(as_server=False, username=b"u", password=b"p"))
    s = zws("REP", False, PlainMechanism(as_server=True))
    events = pump(c, s)
    assert c.subprotocol == s.subprotocol == "ZWS2.0/PLAIN"
    assert sum(isinstance(e, HandshakeSucceeded) for e in events) == 2


def test_client_refuses_a_protocol_it_did_not_offer():
    c = zws("REQ", True)
    request = c.data_to_send().decode()
    key = next(line.split(":", 1)[1].strip() for line in request.split("\r\n")
               if line.lower().startswith("sec-websocket-key:"))  # fmt: skip
    accept = base64.b64encode(
        hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    ).decode()
    reply = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: ZWS2.0/PLAIN\r\n\r\n"
    )
    with pytest.raises(ZmtpError) as e:
        c.receive_data(reply.encode())
    assert e.value.value == 0x30000000 and not c.ready


def test_ping_is_answered_and_counts_as_life():
    c = zws("DEALER", True)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(c.data_to_send())
    (req,) = list(server.events())
    c.receive_data(server.send(AcceptConnection(subprotocol="ZWS2.0")))
    c.data_to_send()  # its routing id
    c.receive_data(server.send(Message(data=b"\x00")) + server.send(Ping(b"hi")))
    server.receive_data(c.data_to_send())
    evs = list(server.events())
    assert any(getattr(e, "payload", None) == b"hi" for e in evs)
    assert not any(isinstance(e, BytesMessage) for e in evs)  # nothing but the pong
    assert c.receive_data(server.send(Message(data=b"\x00hello"))) == [b"hello"]


def test_client_given_garbage_answers_nothing():
    c = zws("REQ", True)
    c.data_to_send()
    with pytest.raises(ZmtpError) as e:
        c.receive_data(b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f\x03\x01NULL" + b"\r\n\r\n")
    assert e.value.value == 0x30000000
    assert c.data_to_send() == b""  # no HTTP response goes back to a server


def test_a_ping_flood_gets_one_pong_for_the_latest_ping():
    s = zws("REP", False, NullMechanism(as_server=False))
    client = WSConnection(ConnectionType.CLIENT)
    s.receive_data(client.send(Request(host="h", target="/p", subprotocols=["ZWS2.0"])))
    client.receive_data(s.data_to_send())
    list(client.events())
    s.receive_data(b"".join(client.send(Ping(b"%d" % i)) for i in range(1000)))
    client.receive_data(s.data_to_send())
    pongs = [e.payload for e in client.events() if e.__class__.__name__ == "Pong"]
    assert pongs == [b"999"]
