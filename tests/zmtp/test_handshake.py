"""Greeting and NULL handshake: socket-type checks, mechanism and version negotiation."""

from __future__ import annotations

import pytest

from purezmq.zmtp import HandshakeSucceeded, Subscription, ZmtpConnection, ZmtpError
from purezmq.zmtp.mechanisms.null import NullMechanism
from purezmq.zmtp.metadata import decode_metadata, encode_metadata
from purezmq.zmtp.sockettypes import COMPATIBLE, compatible

from .helpers import (
    COMPATIBLE_PAIRS,
    INCOMPATIBLE_PAIRS,
    NULL,
    NULL_ZAP,
    SOCKET_TYPES,
    ConnectionPair,
    all_kits,
    messages,
    null_conn,
    of_type,
    plain_kit,
    raw_command,
    raw_greeting,
    raw_message,
    raw_null_peer,
    raw_ready,
    sent_commands,
    traffic_conn,
    whole_greeting,
)

pytestmark = pytest.mark.timeout(60)

RFC37_TYPES = [
    "REQ",
    "REP",
    "DEALER",
    "ROUTER",
    "PUB",
    "XPUB",
    "SUB",
    "XSUB",
    "PUSH",
    "PULL",
    "PAIR",
]
# The table of RFC 37, "The Socket-Type Property" (row accepts column).
RFC37_TABLE = {
    "REQ": {"REP", "ROUTER"},
    "REP": {"REQ", "DEALER"},
    "DEALER": {"REP", "DEALER", "ROUTER"},
    "ROUTER": {"REQ", "DEALER", "ROUTER"},
    "PUB": {"SUB", "XSUB"},
    "XPUB": {"SUB", "XSUB"},
    "SUB": {"PUB", "XPUB"},
    "XSUB": {"PUB", "XPUB"},
    "PUSH": {"PULL"},
    "PULL": {"PUSH"},
    "PAIR": {"PAIR"},
}


# -- socket types ----------------------------------------------------------------------------
@pytest.mark.parametrize("ours", RFC37_TYPES)
@pytest.mark.parametrize("theirs", RFC37_TYPES)
def test_compatibility_table_matches_rfc37(ours, theirs):
    assert compatible(ours, theirs) == (theirs in RFC37_TABLE[ours])


def test_compatibility_is_symmetric():
    for a in SOCKET_TYPES:
        for b in SOCKET_TYPES:
            assert compatible(a, b) == compatible(b, a), (a, b)


@pytest.mark.parametrize(("client", "server"), COMPATIBLE_PAIRS)
def test_null_handshake_every_compatible_pair(client, server):
    pair = ConnectionPair.create(client, server, NULL).handshake()
    for conn, events, peer_type in (
        (pair.a, pair.events_a, server),
        (pair.b, pair.events_b, client),
    ):
        (ok,) = of_type(events, HandshakeSucceeded)
        assert ok.peer_properties["Socket-Type"] == peer_type.encode()
        assert ok.peer_minor_version == 1
        assert ok.user_id == b""
        assert conn.peer_properties == ok.peer_properties
        assert ("Identity" in ok.peer_properties) == (peer_type in ("REQ", "DEALER", "ROUTER"))
    # Traffic flows both ways once both sides are ready (b"m" is not a subscription).
    assert messages(pair.send(pair.a, [[b"m", b"from client"]])) == [[b"m", b"from client"]]
    assert messages(pair.send(pair.b, [[b"m", b"from server"]])) == [[b"m", b"from server"]]
    assert pair.a.data_to_send() == pair.b.data_to_send() == b""


@pytest.mark.parametrize(("ours", "theirs"), INCOMPATIBLE_PAIRS)
def test_incompatible_socket_type_fails_with_error_command(ours, theirs):
    conn = null_conn(ours)
    with pytest.raises(ZmtpError) as info:
        conn.receive_data(raw_null_peer(theirs))
    assert info.value.kind == "protocol"
    assert not conn.ready
    cmds = sent_commands(conn, greeting=True)
    assert [name for name, _ in cmds] == [b"READY", b"ERROR"]
    reason = cmds[1][1]
    assert reason[1 : 1 + reason[0]] == b"Invalid socket type"


@pytest.mark.parametrize(("client", "server"), [("REQ", "REQ"), ("PUB", "PUB"), ("PUSH", "SUB")])
def test_incompatible_pair_both_sides_fail(client, server):
    pair = ConnectionPair.create(client, server, NULL)
    with pytest.raises(ZmtpError):
        pair.pump()
    assert not pair.a.ready and not pair.b.ready


@pytest.mark.parametrize("bogus", ["BOGUS", "", "DEALER\x00", "ROUTERX"])
def test_unknown_socket_type_refused(bogus):
    conn = null_conn("ROUTER")
    with pytest.raises(ZmtpError):
        conn.receive_data(raw_null_peer(bogus))
    assert [n for n, _ in sent_commands(conn, greeting=True)] == [b"READY", b"ERROR"]


def test_socket_type_property_name_is_case_insensitive():
    conn = null_conn("ROUTER")
    ready = raw_command(b"READY", encode_metadata({"socket-TYPE": b"DEALER"}))
    (ok,) = conn.receive_data(raw_greeting() + ready)
    assert isinstance(ok, HandshakeSucceeded) and conn.ready


def test_missing_socket_type_fails_with_error_command():
    conn = null_conn("DEALER")
    with pytest.raises(ZmtpError) as info:
        conn.receive_data(raw_greeting() + raw_ready(None, Identity=b"x"))
    assert info.value.kind == "protocol"
    cmds = sent_commands(conn, greeting=True)
    assert [n for n, _ in cmds] == [b"READY", b"ERROR"]
    assert b"Missing Socket-Type" in cmds[1][1]


def test_empty_ready_is_missing_socket_type():
    conn = null_conn("DEALER")
    with pytest.raises(ZmtpError):
        conn.receive_data(raw_greeting() + raw_command(b"READY"))


def test_our_ready_carries_metadata():
    conn = ZmtpConnection("DEALER", NullMechanism(), identity=b"me", metadata={"X-App": b"42"})
    cmds = sent_commands(conn, greeting=True)
    assert cmds == []  # READY waits for the peer's greeting
    conn = ZmtpConnection("DEALER", NullMechanism(), identity=b"me", metadata={"X-App": b"42"})
    conn.receive_data(raw_greeting())
    ((name, data),) = sent_commands(conn, greeting=True)
    assert name == b"READY"
    assert decode_metadata(data) == {"Socket-Type": b"DEALER", "Identity": b"me", "X-App": b"42"}


def test_peer_metadata_is_reported():
    conn = null_conn("ROUTER")
    events = conn.receive_data(raw_greeting() + raw_ready("REQ", Identity=b"abc", **{"X-k": b""}))
    (ok,) = of_type(events, HandshakeSucceeded)
    assert ok.peer_properties == {"Socket-Type": b"REQ", "Identity": b"abc", "X-k": b""}


def test_handshake_and_messages_in_one_chunk():
    conn = null_conn("PULL")
    data = raw_null_peer("PUSH") + raw_message([b"a", b"b"]) + raw_message([b"c"])
    events = conn.receive_data(data)
    assert isinstance(events[0], HandshakeSucceeded)
    assert events[1:] == [[b"a", b"b"], b"c"]


@pytest.mark.parametrize("kit", all_kits(), ids=repr)
def test_every_mechanism_handshakes_in_memory(kit):
    """The pair helper drives every mechanism the same way (PLAIN/CURVE plug in here)."""
    pair = ConnectionPair.create("REQ", "REP", kit).handshake()
    assert messages(pair.send(pair.a, [[b"", b"hello"]])) == [[b"", b"hello"]]
    assert messages(pair.send(pair.b, [[b"", b"x" * 70000]], chunk=1000)) == [[b"", b"x" * 70000]]


# -- greeting --------------------------------------------------------------------------------
def test_our_greeting():
    greeting = whole_greeting(null_conn("DEALER"))
    assert len(greeting) == 64
    assert greeting[0] == 0xFF and greeting[9] == 0x7F
    assert greeting[10:12] == b"\x03\x01"
    assert greeting[12:32] == b"NULL".ljust(20, b"\x00")
    assert greeting[32] == 0
    assert greeting[33:] == bytes(31)


def test_null_greeting_as_server_is_zero():
    # RFC 37: with NULL the as-server field MUST be zero, even on the binding side.
    greeting = whole_greeting(ZmtpConnection("ROUTER", NullMechanism(as_server=True)))
    assert greeting[32] == 0


def test_plain_server_greeting_sets_as_server():
    kit = plain_kit()
    assert whole_greeting(ZmtpConnection("REP", kit.server()))[32] == 1
    assert whole_greeting(ZmtpConnection("REQ", kit.client()))[32] == 0


def test_greeting_byte_by_byte_then_ready():
    conn = null_conn("DEALER")
    data = raw_null_peer("ROUTER")
    for i, byte in enumerate(data):
        events = conn.receive_data(bytes((byte,)))
        assert bool(events) == (i == len(data) - 1)
    assert conn.ready


def test_padding_is_not_validated():
    # RFC 37: "A peer SHALL NOT assign any significance to the padding field".
    greeting = bytearray(raw_greeting())
    greeting[1:9] = b"\x00\x00\x00\x00\x00\x00\x00\x2a"
    conn = null_conn("DEALER")
    conn.receive_data(bytes(greeting) + raw_ready("ROUTER"))
    assert conn.ready


@pytest.mark.parametrize("first", [0x00, 0x01, 0x7F, 0xFE, ord("G")])
def test_bad_signature_fails_on_first_byte(first):
    conn = null_conn("DEALER")
    with pytest.raises(ZmtpError) as info:
        conn.receive_data(bytes((first,)))
    assert info.value.kind == "protocol"


def test_zmtp10_long_identity_fails_at_tenth_byte():
    # ZMTP 1.0 with a long identity: 0xFF, 8-byte length, then flags with bit 0 clear.
    conn = null_conn("DEALER")
    data = b"\xff" + (300).to_bytes(8, "big") + b"\x00"
    for byte in data[:9]:
        assert conn.receive_data(bytes((byte,))) == []
    with pytest.raises(ZmtpError):
        conn.receive_data(data[9:10])


def test_http_request_is_refused_at_once():
    conn = null_conn("DEALER")
    with pytest.raises(ZmtpError):
        conn.receive_data(b"GET / HTTP/1.1\r\n\r\n")


def test_zmtp10_peer_fails_at_eleventh_byte():
    conn = null_conn("DEALER")
    head = b"\xff" + bytes(8) + b"\x7f" + b"\x00"
    for byte in head[:10]:
        assert conn.receive_data(bytes((byte,))) == []
    with pytest.raises(ZmtpError) as info:
        conn.receive_data(head[10:11])  # the 11th byte: no waiting for 64
    assert info.value.kind == "protocol"
    assert "0" in info.value.reason


# -- ZMTP 2.0 peers (RFC 15: libzmq 3.x, JeroMQ 0.3) ------------------------------------------
V2_SIGNATURE = b"\xff" + bytes(7) + b"\x01\x7f"


def v2_greeting(type_code: int, identity: bytes = b"", revision: int = 1) -> bytes:
    """A ZMTP 2.0 greeting: signature, revision, socket type, identity frame."""
    return V2_SIGNATURE + bytes((revision, type_code, 0, len(identity))) + identity


@pytest.mark.parametrize("revision", [1, 2])
def test_zmtp20_peer_handshakes_in_one_chunk(revision):
    conn = null_conn("ROUTER", identity=b"r")
    events = conn.receive_data(v2_greeting(5, b"peer-id", revision) + raw_message([b"a", b"b"]))
    (ok,) = of_type(events, HandshakeSucceeded)
    assert ok.peer_properties == {"Socket-Type": b"DEALER", "Identity": b"peer-id"}
    assert ok.peer_minor_version == 0 and conn.ready
    assert messages(events) == [[b"a", b"b"]]
    # Ours: signature and major version, then a ZMTP 2.0 socket type (ROUTER = 6) and our
    # identity frame instead of the rest of a 3.x greeting.
    assert conn.data_to_send() == V2_SIGNATURE + b"\x03" + b"\x06\x00\x01r"


def test_zmtp20_peer_byte_by_byte():
    conn = null_conn("PULL")
    events: list = []
    for byte in v2_greeting(8) + raw_message([b"hello"]):  # a PUSH, empty identity
        events += conn.receive_data(bytes((byte,)))
    (ok,) = of_type(events, HandshakeSucceeded)
    assert ok.peer_properties["Socket-Type"] == b"PUSH"
    assert messages(events) == [[b"hello"]]


def test_zmtp20_peer_of_an_incompatible_type_fails():
    with pytest.raises(ZmtpError) as info:
        null_conn("PULL").receive_data(v2_greeting(7))  # PULL to PULL
    assert info.value.kind == "protocol"
    with pytest.raises(ZmtpError):
        null_conn("PULL").receive_data(v2_greeting(42))  # no such type


def test_zmtp20_peer_is_refused_with_security_or_zap():
    """ZMTP 2.0 has no security handshake: PLAIN, CURVE or a ZAP check cannot be kept."""
    with pytest.raises(ZmtpError):
        ZmtpConnection("REP", plain_kit().server()).receive_data(v2_greeting(3))
    with pytest.raises(ZmtpError):
        ZmtpConnection("REP", NULL_ZAP.server()).receive_data(v2_greeting(3))


def test_zmtp20_peer_gets_no_heartbeats_and_subscriptions_as_messages():
    conn = null_conn("SUB", heartbeat_ivl=1.0)
    conn.receive_data(v2_greeting(1))  # a PUB
    conn.data_to_send()
    assert conn.next_timer() is None
    conn.handle_timer(10.0)
    assert conn.data_to_send() == b""
    assert conn.peer_minor == 0  # so the engine frames subscriptions as messages


def test_zmtp20_bad_identity_frame_fails():
    with pytest.raises(ZmtpError):
        null_conn("PULL").receive_data(V2_SIGNATURE + b"\x01\x08\x04\x00")  # a command?


@pytest.mark.parametrize(("major", "minor"), [(3, 2), (3, 255), (4, 0), (255, 255)])
def test_higher_versions_are_accepted(major, minor):
    # RFC 37: "A peer MUST accept higher protocol versions as valid."
    greeting = bytearray(raw_greeting())
    greeting[10:12] = bytes((major, minor))
    conn = null_conn("DEALER")
    (ok,) = conn.receive_data(bytes(greeting) + raw_ready("ROUTER"))
    assert ok.peer_minor_version == 1
    assert conn.peer_minor == 1


@pytest.mark.parametrize(
    "theirs", [b"PLAIN", b"CURVE", b"", b"null", b"NULLX", b"GSSAPI"], ids=repr
)
def test_mechanism_mismatch_fails_at_greeting(theirs):
    conn = null_conn("DEALER")
    greeting = raw_greeting(theirs)
    assert conn.receive_data(greeting[:63]) == []
    with pytest.raises(ZmtpError) as info:
        conn.receive_data(greeting[63:])
    assert info.value.kind == "protocol"
    assert "mechanism" in info.value.reason


def test_mechanism_mismatch_between_real_connections():
    pair = ConnectionPair.create("DEALER", "ROUTER", NULL)
    pair.b = ZmtpConnection("ROUTER", plain_kit().server())
    with pytest.raises(ZmtpError, match="mechanism"):
        pair.pump()


def test_peer_error_during_handshake():
    conn = null_conn("DEALER")
    with pytest.raises(ZmtpError) as info:
        conn.receive_data(raw_greeting() + raw_command(b"ERROR", b"\x0bgo away now"))
    assert info.value.kind == "auth"
    assert "go away now" in info.value.reason


def test_closed_connection_refuses_data():
    conn = traffic_conn()
    conn.close()
    assert not conn.ready
    with pytest.raises(ZmtpError):
        conn.receive_data(raw_message([b"x"]))


# -- ZMTP 3.0 and 3.1 peers: subscriptions and heartbeats -------------------------------------
def _encode(conn, items) -> bytes:
    out: list = []
    conn.encode(items, out)
    return b"".join(out)


@pytest.mark.parametrize("ours", ["SUB", "XSUB"])
def test_zmtp30_peer_gets_subscriptions_as_messages(ours):
    conn = null_conn(ours, heartbeat_ivl=1.0)
    (ok,) = conn.receive_data(raw_null_peer("PUB", minor=0))
    assert ok.peer_minor_version == 0 and conn.peer_minor == 0
    conn.data_to_send()
    wire = _encode(conn, [Subscription(b"topic"), Subscription(b"topic", False), [b"msg"]])
    assert wire == b"\x00\x06\x01topic" + b"\x00\x06\x00topic" + b"\x00\x03msg"


def test_zmtp30_peer_gets_no_ping():
    conn = null_conn("SUB", heartbeat_ivl=1.0, heartbeat_timeout=2.0)
    conn.receive_data(raw_null_peer("PUB", minor=0))
    conn.data_to_send()
    assert conn.next_timer() is None
    for t in (1.0, 2.0, 5.0, 100.0):
        conn.handle_timer(t)
    assert conn.data_to_send() == b""


def test_zmtp30_peer_still_gets_pong():
    conn = traffic_conn("PUB", "SUB", minor=0)
    conn.receive_data(raw_command(b"PING", b"\x00\x00ctx"))
    assert sent_commands(conn) == [(b"PONG", b"ctx")]


@pytest.mark.parametrize("ours", ["SUB", "XSUB"])
def test_zmtp31_peer_gets_subscribe_and_cancel_commands(ours):
    conn = traffic_conn(ours, "XPUB")
    wire = _encode(conn, [Subscription(b"topic"), Subscription(b"", False), [b"\x01raw"]])
    assert wire == (
        raw_command(b"SUBSCRIBE", b"topic") + raw_command(b"CANCEL") + raw_message([b"\x01raw"])
    )


@pytest.mark.parametrize("ours", ["PUB", "XPUB"])
@pytest.mark.parametrize("minor", [0, 1])
def test_publisher_accepts_both_subscription_forms(ours, minor):
    conn = traffic_conn(ours, "SUB", minor=minor)
    events = conn.receive_data(
        raw_command(b"SUBSCRIBE", b"a")
        + raw_command(b"CANCEL", b"a")
        + raw_message([b"\x01b"])
        + raw_message([b"\x00b"])
        + raw_message([b"\x01"])
        + raw_command(b"SUBSCRIBE")
    )
    assert events == [
        Subscription(b"a", True),
        Subscription(b"a", False),
        Subscription(b"b", True),
        Subscription(b"b", False),
        Subscription(b"", True),
        Subscription(b"", True),
    ]


def test_publisher_passes_other_messages_through():
    conn = traffic_conn("XPUB", "XSUB")
    events = conn.receive_data(raw_message([b"\x02x"]) + raw_message([b"\x01a", b"b"]))
    assert events == [b"\x02x", [b"\x01a", b"b"]]


@pytest.mark.parametrize("ours", ["DEALER", "SUB", "PULL"])
def test_subscribe_command_ignored_by_non_publishers(ours):
    peer = {"DEALER": "DEALER", "SUB": "PUB", "PULL": "PUSH"}[ours]
    conn = traffic_conn(ours, peer)
    assert conn.receive_data(raw_command(b"SUBSCRIBE", b"x") + raw_command(b"CANCEL")) == []
    # ... and \x01 messages are just messages for them.
    assert conn.receive_data(raw_message([b"\x01x"])) == [b"\x01x"]


@pytest.mark.parametrize("kit", all_kits(), ids=repr)
@pytest.mark.parametrize(("sub", "pub"), [("SUB", "PUB"), ("XSUB", "XPUB")])
def test_subscriptions_round_trip_between_connections(kit, sub, pub):
    pair = ConnectionPair.create(sub, pub, kit).handshake()
    items = [Subscription(b"a"), Subscription(b""), Subscription(b"\x00\x01", False)]
    assert pair.send(pair.a, items) == items
    assert messages(pair.send(pair.b, [[b"a", b"body"]])) == [[b"a", b"body"]]


def test_every_socket_type_is_known_to_the_table():
    assert set(RFC37_TYPES) <= set(COMPATIBLE)


# -- NULL with ZAP -------------------------------------------------------------------------------
def _zap_server() -> ZmtpConnection:
    conn = ZmtpConnection("ROUTER", NullMechanism(as_server=True, zap_enabled=True))
    events = conn.receive_data(raw_null_peer("DEALER"))
    (req,) = events
    assert req.mechanism == b"NULL" and req.credentials == []
    assert not conn.ready
    assert sent_commands(conn, greeting=True) == []  # READY waits for the verdict
    return conn


def test_null_zap_allowed():
    conn = _zap_server()
    (ok,) = conn.zap_reply(b"200", b"OK", b"alice", {"X-Role": b"admin"})
    assert isinstance(ok, HandshakeSucceeded) and ok.user_id == b"alice"
    assert conn.ready
    assert [n for n, _ in sent_commands(conn)] == [b"READY"]


@pytest.mark.parametrize(
    ("code", "error_sent"), [(b"400", True), (b"500", True), (b"300", False), (b"999", False)]
)
def test_null_zap_refused(code, error_sent):
    conn = _zap_server()
    with pytest.raises(ZmtpError) as info:
        conn.zap_reply(code, b"no", b"", {})
    assert info.value.kind == ("protocol" if code == b"999" else "auth")
    assert not conn.ready
    cmds = sent_commands(conn)
    if error_sent:
        assert cmds == [(b"ERROR", bytes((len(code),)) + code)]
    else:
        assert cmds == []


def test_null_zap_reply_twice_is_refused():
    conn = _zap_server()
    conn.zap_reply(b"200", b"OK", b"", {})
    with pytest.raises(ZmtpError):
        conn.zap_reply(b"200", b"OK", b"", {})


def test_null_zap_pair_handshake():
    pair = ConnectionPair.create("DEALER", "ROUTER", NULL_ZAP).handshake()
    (ok,) = of_type(pair.events_b, HandshakeSucceeded)
    assert ok.user_id == b"user"
