"""PLAIN (RFC 24) and CURVE (RFC 25/26) handshakes and traffic between in-memory connections.

Two ``ZmtpConnection`` objects are wired back to back: :class:`Pair` moves the bytes one
side wants to send into the other, one delivery at a time, so a test can stop at any
handshake state and feed garbage there.  A last group runs against real libzmq (through
pyzmq) over loopback TCP.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from purezmq.utils import z85
from purezmq.zmtp.connection import ZmtpConnection, make_greeting
from purezmq.zmtp.errors import ZmtpError
from purezmq.zmtp.events import HandshakeSucceeded, Subscription, ZapRequested
from purezmq.zmtp.frames import COMMAND, LONG, MORE, encode_command, frame_header
from purezmq.zmtp.mechanisms import curve as curve_module
from purezmq.zmtp.mechanisms.curve import CurveMechanism, curve_keypair, curve_public
from purezmq.zmtp.mechanisms.plain import PlainMechanism

nacl_bindings = pytest.importorskip("nacl.bindings")

pytestmark = pytest.mark.timeout(60)

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ZapAnswer = tuple[bytes, bytes, bytes, dict]


# -- helpers ------------------------------------------------------------------------------
def binary_keypair() -> tuple[bytes, bytes]:
    public, secret = curve_keypair()
    return z85.decode(public), z85.decode(secret)


class Pair:
    """A client and a server connection wired back to back, driven one delivery at a time."""

    def __init__(
        self,
        client_mech,
        server_mech,
        *,
        client_type: str = "DEALER",
        server_type: str = "ROUTER",
        zap: Callable[[ZapRequested], ZapAnswer | None] | None = None,
    ) -> None:
        self.client = ZmtpConnection(client_type, client_mech, identity=b"client-id")
        self.server = ZmtpConnection(server_type, server_mech)
        self.zap = zap
        self.events: dict[str, list] = {"client": [], "server": []}
        self._to_server = True  # the client's greeting goes first
        # Both send signature and major version at once and the rest of the greeting once
        # they read the other's: swap those heads now, so that each step below moves a
        # whole greeting or handshake command.
        heads = self.client.data_to_send(), self.server.data_to_send()
        self.server.receive_data(heads[0])
        self.client.receive_data(heads[1])

    def deliver(self, to_server: bool) -> bool:
        """Move everything one side has queued to the other; False when nothing was queued."""
        src, dst = (self.client, self.server) if to_server else (self.server, self.client)
        data = src.data_to_send()
        if not data:
            return False
        self._collect(dst, "server" if to_server else "client", dst.receive_data(data))
        return True

    def _collect(self, conn: ZmtpConnection, who: str, events: list) -> None:
        for ev in events:
            self.events[who].append(ev)
            if isinstance(ev, ZapRequested) and self.zap is not None:
                answer = self.zap(ev)
                if answer is not None:
                    self._collect(conn, who, conn.zap_reply(*answer))

    def step(self) -> bool:
        """One delivery, alternating direction (client first)."""
        moved = self.deliver(self._to_server)
        self._to_server = not self._to_server
        return moved

    def advance(self, steps: int) -> None:
        for _ in range(steps):
            self.step()

    def run(self, max_steps: int = 30) -> None:
        idle = 0
        for _ in range(max_steps):
            idle = 0 if self.step() else idle + 1
            if idle >= 2:
                return

    def succeeded(self, who: str) -> HandshakeSucceeded | None:
        for ev in self.events[who]:
            if isinstance(ev, HandshakeSucceeded):
                return ev
        return None

    @property
    def ready(self) -> bool:
        return self.client.ready and self.server.ready


def send(src: ZmtpConnection, items: list) -> bytes:
    out: list = []
    src.encode(items, out)
    return b"".join(out)


def messages(events: list) -> list[list[bytes]]:
    """The messages among ``events`` as lists (a one-frame message comes as bare bytes)."""
    return [
        [ev] if type(ev) is bytes else [bytes(f) for f in ev]
        for ev in events
        if isinstance(ev, (bytes, list))
    ]


def plain_pair(**kw) -> Pair:
    zap = kw.pop("zap", None)
    username = kw.pop("username", b"admin")
    password = kw.pop("password", b"secret")
    return Pair(
        PlainMechanism(as_server=False, username=username, password=password),
        PlainMechanism(as_server=True, zap_enabled=zap is not None),
        zap=zap,
        **kw,
    )


class CurveKeys:
    def __init__(self) -> None:
        self.server_public, self.server_secret = binary_keypair()
        self.client_public, self.client_secret = binary_keypair()


def curve_pair(keys: CurveKeys | None = None, **kw) -> Pair:
    keys = keys or CurveKeys()
    zap = kw.pop("zap", None)
    server_key = kw.pop("server_key", keys.server_public)
    client_public = kw.pop("client_public", keys.client_public)
    return Pair(
        CurveMechanism(
            as_server=False,
            public_key=client_public,
            secret_key=keys.client_secret,
            server_key=server_key,
        ),
        CurveMechanism(as_server=True, zap_enabled=zap is not None, secret_key=keys.server_secret),
        zap=zap,
        **kw,
    )


def accept_zap(ev: ZapRequested) -> ZapAnswer:
    return (b"200", b"OK", b"user-42", {"Role": b"admin"})


def parse_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split whole ZMTP frames (test-side reference parser)."""
    frames, pos = [], 0
    while pos < len(data):
        flags = data[pos]
        if flags & LONG:
            size = int.from_bytes(data[pos + 1 : pos + 9], "big")
            start = pos + 9
        else:
            size = data[pos + 1]
            start = pos + 2
        frames.append((flags, data[start : start + size]))
        pos = start + size
    return frames


def frame(flags: int, body: bytes) -> bytes:
    return frame_header(flags, len(body)) + body


def only_zmtp_errors(fn: Callable[[], object]) -> ZmtpError | None:
    """Run ``fn``; a ZmtpError is an allowed answer to garbage, anything else fails the test."""
    try:
        fn()
    except ZmtpError as exc:
        assert exc.kind in ("protocol", "auth", "closed"), exc.kind
        return exc
    return None


# -- PLAIN ----------------------------------------------------------------------------------
def test_plain_handshake_without_zap() -> None:
    pair = plain_pair()
    pair.run()
    assert pair.ready
    server_ok, client_ok = pair.succeeded("server"), pair.succeeded("client")
    assert server_ok and client_ok
    assert server_ok.peer_properties["Socket-Type"] == b"DEALER"
    assert server_ok.peer_properties["Identity"] == b"client-id"
    assert client_ok.peer_properties["Socket-Type"] == b"ROUTER"


def test_plain_wire_format() -> None:
    pair = plain_pair(username=b"me", password=b"pw")
    pair.advance(2)  # greetings both ways: the client's HELLO is now queued
    hello = pair.client.data_to_send()
    assert parse_frames(hello) == [(COMMAND, b"\x05HELLO\x02me\x02pw")]
    pair.server.receive_data(hello)
    assert parse_frames(pair.server.data_to_send()) == [(COMMAND, b"\x07WELCOME")]


def test_plain_zap_accept_sets_user_id_and_credentials() -> None:
    seen: list[ZapRequested] = []

    def zap(ev: ZapRequested) -> ZapAnswer:
        seen.append(ev)
        return accept_zap(ev)

    pair = plain_pair(zap=zap)
    pair.run()
    assert pair.ready
    assert seen == [ZapRequested(b"PLAIN", [b"admin", b"secret"])]
    assert pair.succeeded("server").user_id == b"user-42"
    assert pair.server.mechanism.zap_properties == {"Role": b"admin"}


@pytest.mark.parametrize("code", [b"400", b"500"])
def test_plain_zap_refusal_sends_error_with_status_code(code: bytes) -> None:
    pair = plain_pair(zap=lambda ev: None)
    pair.advance(3)  # the server holds the HELLO and waits for ZAP
    with pytest.raises(ZmtpError) as info:
        pair.server.zap_reply(code, b"Invalid password", b"", {})
    assert info.value.kind == "auth"
    error = pair.server.data_to_send()
    # libzmq sends the bare status code, which libzmq clients turn into a monitor event.
    assert parse_frames(error) == [(COMMAND, b"\x05ERROR\x03" + code)]
    with pytest.raises(ZmtpError) as info:
        pair.client.receive_data(error)
    assert info.value.kind == "auth"
    assert not pair.client.ready


def test_plain_zap_temporary_failure_closes_silently() -> None:
    pair = plain_pair(zap=lambda ev: None)
    pair.advance(3)
    with pytest.raises(ZmtpError) as info:
        pair.server.zap_reply(b"300", b"try later", b"", {})
    assert info.value.kind == "auth"
    assert pair.server.data_to_send() == b""  # RFC 26 / libzmq: no ERROR for 300


def test_plain_zap_invalid_status_is_protocol_error() -> None:
    pair = plain_pair(zap=lambda ev: None)
    pair.advance(3)
    with pytest.raises(ZmtpError) as info:
        pair.server.zap_reply(b"201", b"", b"", {})
    assert info.value.kind == "protocol"
    assert pair.server.data_to_send() == b""


def test_plain_command_while_waiting_for_zap_is_refused() -> None:
    pair = plain_pair(zap=lambda ev: None)
    pair.advance(3)
    with pytest.raises(ZmtpError):
        pair.server.receive_data(encode_command(b"INITIATE", b""))


def test_unexpected_zap_reply_is_refused() -> None:
    pair = plain_pair()
    with pytest.raises(ZmtpError):
        pair.client.zap_reply(b"200", b"", b"", {})


def test_plain_limits() -> None:
    with pytest.raises(ValueError):
        PlainMechanism(as_server=False, username=b"u" * 256)
    with pytest.raises(ValueError):
        PlainMechanism(as_server=False, password=b"p" * 256)
    pair = plain_pair(username=b"u" * 255, password=b"p" * 255)
    pair.run()
    assert pair.ready


@pytest.mark.parametrize(
    "data",
    [b"", b"\x05", b"\x05admin", b"\x05admin\x06secre", b"\x05admin\x06secret!", b"\xff"],
)
def test_plain_malformed_hello(data: bytes) -> None:
    pair = plain_pair()
    pair.advance(2)
    pair.client.data_to_send()  # drop the real HELLO
    with pytest.raises(ZmtpError):
        pair.server.receive_data(encode_command(b"HELLO", data))


def test_plain_welcome_with_data_is_refused() -> None:
    pair = plain_pair()
    pair.advance(3)
    pair.server.data_to_send()
    with pytest.raises(ZmtpError):
        pair.client.receive_data(encode_command(b"WELCOME", b"x"))


# -- CURVE handshake -------------------------------------------------------------------------
def test_curve_handshake_without_zap() -> None:
    pair = curve_pair()
    pair.run()
    assert pair.ready
    assert pair.client.mechanism.encrypts and pair.server.mechanism.encrypts
    assert pair.succeeded("server").peer_properties["Identity"] == b"client-id"
    assert pair.succeeded("client").peer_properties["Socket-Type"] == b"ROUTER"


def test_curve_wire_sizes_and_nonces() -> None:
    """Sizes and short-nonce counters as RFC 26 and libzmq lay them out."""
    keys = CurveKeys()
    pair = curve_pair(keys)
    pair.advance(2)
    hello = parse_frames(pair.client.data_to_send())
    assert [(f, len(b)) for f, b in hello] == [(COMMAND, 200)]
    body = hello[0][1]
    assert body[:8] == b"\x05HELLO\x01\x00" and body[8:80] == bytes(72)
    assert int.from_bytes(body[112:120], "big") == 1
    pair.server.receive_data(frame(*hello[0]))

    welcome = parse_frames(pair.server.data_to_send())
    assert [(f, len(b)) for f, b in welcome] == [(COMMAND, 168)]
    pair.client.receive_data(frame(*welcome[0]))

    initiate = parse_frames(pair.client.data_to_send())
    assert initiate[0][1][:9] == b"\x08INITIATE" and len(initiate[0][1]) >= 257
    assert int.from_bytes(initiate[0][1][105:113], "big") == 2
    pair.server.receive_data(frame(*initiate[0]))

    ready = parse_frames(pair.server.data_to_send())
    assert ready[0][1][:6] == b"\x05READY" and len(ready[0][1]) >= 30
    assert int.from_bytes(ready[0][1][6:14], "big") == 1
    pair.client.receive_data(frame(*ready[0]))
    assert pair.ready

    # Traffic continues each side's counter: client 3, 4, ...; server 2, 3, ...
    c_msg = parse_frames(send(pair.client, [[b"a"]]))[0][1]
    s_msg = parse_frames(send(pair.server, [[b"b"]]))[0][1]
    assert c_msg[:8] == b"\x07MESSAGE" and int.from_bytes(c_msg[8:16], "big") == 3
    assert s_msg[:8] == b"\x07MESSAGE" and int.from_bytes(s_msg[8:16], "big") == 2


def test_curve_message_flag_byte_layout() -> None:
    """Bit 0 MORE and bit 1 COMMAND in the boxed flag byte (libzmq's msg_t flags)."""
    pair = curve_pair()
    pair.run()
    client, server = pair.client.mechanism, pair.server.mechanism
    # White box: open the boxes with the key each side precomputed from C' and S'.
    for flags, expected in ((0, 0), (MORE, 1), (COMMAND, 2), (MORE | COMMAND, 3)):
        data = client.encrypt(flags, b"payload")
        plain = nacl_bindings.crypto_box_open_easy_afternm(
            data[8:], b"CurveZMQMESSAGEC" + data[:8], server._precom
        )
        assert plain == bytes((expected,)) + b"payload"
        assert server.decrypt(data) == (flags, b"payload")
    data = server.encrypt(MORE, b"x")
    plain = nacl_bindings.crypto_box_open_easy_afternm(
        data[8:], b"CurveZMQMESSAGES" + data[:8], client._precom
    )
    assert plain == b"\x01x"


def test_curve_zap_accept_passes_client_key() -> None:
    keys = CurveKeys()
    seen: list[ZapRequested] = []

    def zap(ev: ZapRequested) -> ZapAnswer:
        seen.append(ev)
        return accept_zap(ev)

    pair = curve_pair(keys, zap=zap)
    pair.run()
    assert pair.ready
    assert seen == [ZapRequested(b"CURVE", [keys.client_public])]
    assert pair.succeeded("server").user_id == b"user-42"


@pytest.mark.parametrize("code", [b"400", b"500"])
def test_curve_zap_refusal(code: bytes) -> None:
    pair = curve_pair(zap=lambda ev: None)
    pair.advance(5)  # HELLO, WELCOME, INITIATE: the server waits for ZAP
    assert any(isinstance(e, ZapRequested) for e in pair.events["server"])
    with pytest.raises(ZmtpError) as info:
        pair.server.zap_reply(code, b"No access", b"", {})
    assert info.value.kind == "auth"
    error = pair.server.data_to_send()
    assert parse_frames(error) == [(COMMAND, b"\x05ERROR\x03" + code)]
    with pytest.raises(ZmtpError) as info:
        pair.client.receive_data(error)
    assert info.value.kind == "auth"


def test_curve_zap_temporary_failure_closes_silently() -> None:
    pair = curve_pair(zap=lambda ev: None)
    pair.advance(5)
    with pytest.raises(ZmtpError) as info:
        pair.server.zap_reply(b"300", b"", b"", {})
    assert info.value.kind == "auth"
    assert pair.server.data_to_send() == b""


def test_curve_wrong_server_key() -> None:
    other_public, _ = binary_keypair()
    pair = curve_pair(server_key=other_public)
    pair.advance(2)
    with pytest.raises(ZmtpError) as info:
        pair.deliver(to_server=True)  # the HELLO signature box does not open
    assert info.value.kind == "protocol"
    assert pair.server.data_to_send() == b""  # libzmq sends no ERROR for this


def test_curve_client_public_key_not_matching_its_secret() -> None:
    wrong_public, _ = binary_keypair()
    pair = curve_pair(client_public=wrong_public)
    pair.advance(4)
    with pytest.raises(ZmtpError):
        pair.deliver(to_server=True)  # the vouch does not open with the claimed key


def test_curve_initiate_replayed_to_another_connection() -> None:
    """A recorded HELLO may be replayed (it is harmless) but its INITIATE may not."""
    keys = CurveKeys()
    pair = curve_pair(keys)
    pair.advance(2)
    hello = pair.client.data_to_send()
    pair.server.receive_data(hello)
    pair.client.receive_data(pair.server.data_to_send())
    initiate = pair.client.data_to_send()
    pair.server.receive_data(initiate)
    assert pair.server.ready

    other = ZmtpConnection("ROUTER", CurveMechanism(as_server=True, secret_key=keys.server_secret))
    other.receive_data(make_greeting(b"CURVE", False))
    other.receive_data(hello)
    with pytest.raises(ZmtpError):
        other.receive_data(initiate)


def test_curve_first_short_nonce_is_free_later_ones_must_grow() -> None:
    pair = curve_pair()
    pair.client.mechanism._nonce = 0  # HELLO with nonce 0: accepted, as libzmq does
    pair.run()
    assert pair.ready

    pair = curve_pair()
    pair.advance(3)  # HELLO (nonce 1) delivered, WELCOME queued
    pair.client.mechanism._nonce = 1  # make the INITIATE reuse the HELLO's nonce
    pair.deliver(to_server=False)
    with pytest.raises(ZmtpError) as info:
        pair.deliver(to_server=True)
    assert info.value.kind == "protocol"


def test_curve_keys_accept_z85_text() -> None:
    s_pub, s_sec = curve_keypair()
    c_pub, c_sec = curve_keypair()
    pair = Pair(
        CurveMechanism(as_server=False, public_key=c_pub, secret_key=c_sec, server_key=s_pub),
        CurveMechanism(as_server=True, secret_key=s_sec),
    )
    pair.run()
    assert pair.ready


@pytest.mark.parametrize(
    "kwargs",
    [
        {"as_server": True},
        {"as_server": True, "secret_key": b"short"},
        {"as_server": False, "secret_key": bytes(32)},
        {"as_server": False, "secret_key": bytes(32), "server_key": bytes(31)},
    ],
)
def test_curve_bad_key_options(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        CurveMechanism(**kwargs)


def test_curve_without_pynacl_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(curve_module, "_nacl", None)
    with pytest.raises(ImportError, match=r"purezmq\[curve\]"):
        CurveMechanism(as_server=True, secret_key=bytes(32))
    with pytest.raises(ImportError, match=r"purezmq\[curve\]"):
        curve_keypair()
    assert not curve_module.has_curve()


# -- CURVE traffic ----------------------------------------------------------------------------
@pytest.mark.parametrize("make", [plain_pair, curve_pair], ids=["plain", "curve"])
def test_messages_both_ways(make) -> None:
    pair = make()
    pair.run()
    assert pair.ready
    big = bytes(range(256)) * 280  # 71,680 bytes
    assert messages(pair.server.receive_data(send(pair.client, [[b"frame1", b"frame2"]]))) == [
        [b"frame1", b"frame2"]
    ]
    assert messages(pair.client.receive_data(send(pair.server, [[b"id", b"", b"reply"]]))) == [
        [b"id", b"", b"reply"]
    ]
    batch = [[b"one"], [b"", b"x" * 300, b""], [big], [b"head", big, b"tail"]]
    assert messages(pair.server.receive_data(send(pair.client, batch))) == batch
    assert messages(pair.client.receive_data(send(pair.server, batch))) == batch


@pytest.mark.parametrize("make", [plain_pair, curve_pair], ids=["plain", "curve"])
@pytest.mark.parametrize("chunk", [1, 7, 1000, 65536])
def test_large_message_in_chunks(make, chunk: int) -> None:
    pair = make()
    pair.run()
    big = bytes(range(256)) * 280
    msg = [b"a", big, b"z" * 256]
    if chunk == 1:
        msg = [b"a", b"b" * 300]  # byte by byte stays quick
    data = send(pair.client, [msg])
    events: list = []
    for i in range(0, len(data), chunk):
        events += pair.server.receive_data(data[i : i + chunk])
    assert messages(events) == [msg]


def test_curve_commands_travel_boxed() -> None:
    """PING/PONG and SUBSCRIBE go inside MESSAGE boxes with the COMMAND flag."""
    pair = curve_pair(client_type="SUB", server_type="PUB")
    pair.run()
    wire = send(pair.client, [Subscription(b"topic"), Subscription(b"old", subscribe=False)])
    assert all(body[:8] == b"\x07MESSAGE" for _, body in parse_frames(wire))
    assert b"SUBSCRIBE" not in wire and b"topic" not in wire
    events = pair.server.receive_data(wire)
    assert events == [Subscription(b"topic"), Subscription(b"old", subscribe=False)]

    pair.client.send_command(b"PING", b"\x00\x0actx")
    ping = pair.client.data_to_send()
    assert b"PING" not in ping
    assert pair.server.receive_data(ping) == []
    pong = pair.server.data_to_send()
    assert parse_frames(pong)[0][1][:8] == b"\x07MESSAGE" and b"PONG" not in pong
    assert pair.client.receive_data(pong) == []


def test_curve_replayed_message_is_refused() -> None:
    pair = curve_pair()
    pair.run()
    data = send(pair.client, [[b"pay", b"me"]])
    assert messages(pair.server.receive_data(data)) == [[b"pay", b"me"]]
    with pytest.raises(ZmtpError) as info:
        pair.server.receive_data(data)
    assert info.value.kind == "protocol"


def test_curve_reordered_message_is_refused() -> None:
    pair = curve_pair()
    pair.run()
    first = send(pair.client, [[b"1"]])
    second = send(pair.client, [[b"2"]])
    assert messages(pair.server.receive_data(second)) == [[b"2"]]
    with pytest.raises(ZmtpError) as info:
        pair.server.receive_data(first)
    assert info.value.kind == "protocol"


def test_curve_message_from_the_wrong_direction_is_refused() -> None:
    """A server's own MESSAGE reflected back must not open (distinct nonce prefixes)."""
    pair = curve_pair()
    pair.run()
    echo = send(pair.server, [[b"x"]])
    with pytest.raises(ZmtpError):
        pair.server.receive_data(echo)


def test_curve_refuses_unboxed_commands_in_traffic() -> None:
    pair = curve_pair(client_type="SUB", server_type="PUB")
    pair.run()
    # An attacker on the path injects a plain-text SUBSCRIBE: it must not be obeyed.
    with pytest.raises(ZmtpError):
        pair.server.receive_data(encode_command(b"SUBSCRIBE", b"injected"))


def test_curve_nonce_exhaustion() -> None:
    pair = curve_pair()
    pair.run()
    pair.client.mechanism._nonce = (1 << 64) - 1
    pair.client.mechanism.encrypt(0, b"last")
    with pytest.raises(ZmtpError):
        pair.client.mechanism.encrypt(0, b"one too many")


# -- fuzzing: garbage at every handshake state ---------------------------------------------------
KNOWN_NAMES = [b"HELLO", b"WELCOME", b"INITIATE", b"READY", b"ERROR", b"MESSAGE", b"PING"]
SIZES = [0, 1, 8, 24, 25, 30, 160, 194, 248, 300]
command_names = st.one_of(st.sampled_from(KNOWN_NAMES), st.binary(min_size=1, max_size=12))
command_data = st.one_of(
    st.binary(max_size=320),
    st.sampled_from(SIZES).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
)
# Handshake deliveries: 0 = nothing yet, 1-2 greetings, 3 HELLO, 4 WELCOME, 5 INITIATE,
# 6 READY (done); odd counts leave the client's turn next, so either side can be fuzzed.
states = st.integers(min_value=0, max_value=7)
sides = st.sampled_from(["client", "server"])
mechs = st.sampled_from(["plain", "curve"])
zap_modes = st.sampled_from(["none", "accept", "hold"])


def fuzz_pair(mech: str, zap_mode: str) -> Pair:
    zap = {"none": None, "accept": accept_zap, "hold": lambda ev: None}[zap_mode]
    return plain_pair(zap=zap) if mech == "plain" else curve_pair(zap=zap)


@FUZZ
@given(mechs, zap_modes, states, sides, command_names, command_data)
def test_fuzz_garbage_commands(mech, zap_mode, state, side, name, data) -> None:
    pair = fuzz_pair(mech, zap_mode)
    pair.advance(state)
    conn = getattr(pair, side)
    only_zmtp_errors(lambda: conn.receive_data(encode_command(name, data)))


@FUZZ
@given(mechs, zap_modes, states, sides, st.binary(min_size=1, max_size=400))
def test_fuzz_raw_bytes(mech, zap_mode, state, side, junk) -> None:
    pair = fuzz_pair(mech, zap_mode)
    pair.advance(state)
    conn = getattr(pair, side)
    only_zmtp_errors(lambda: conn.receive_data(junk))


@FUZZ
@given(mechs, st.integers(min_value=3, max_value=6), st.data())
def test_fuzz_truncated_and_mutated_handshake(mech, state, data) -> None:
    """Cut or flip the real next handshake command; CURVE must always refuse a flip."""
    pair = fuzz_pair(mech, "accept")
    pair.advance(state - 1)
    to_server = state % 2 == 1
    src, dst = (pair.client, pair.server) if to_server else (pair.server, pair.client)
    frames = parse_frames(src.data_to_send())
    if not frames:
        return
    flags, body = frames[0]
    if data.draw(st.booleans(), label="truncate"):
        cut = data.draw(st.integers(min_value=0, max_value=max(len(body) - 1, 0)), label="cut")
        bad = frame(flags & ~LONG, body[:cut])
        err = only_zmtp_errors(lambda: dst.receive_data(bad))
        if mech == "curve" and cut > 0:
            assert err is not None
        return
    pos = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="pos")
    xor = data.draw(st.integers(min_value=1, max_value=255), label="xor")
    mutated = body[:pos] + bytes((body[pos] ^ xor,)) + body[pos + 1 :]
    err = only_zmtp_errors(lambda: dst.receive_data(frame(flags & ~LONG, mutated)))
    if mech == "curve":
        assert err is not None, "a flipped CURVE handshake byte went unnoticed"


@FUZZ
@given(st.binary(max_size=200), st.data())
def test_fuzz_curve_traffic(payload, data) -> None:
    pair = curve_pair()
    pair.run()
    wire = send(pair.client, [[payload]])
    flags, body = parse_frames(wire)[0]
    choice = data.draw(st.sampled_from(["flip", "truncate", "random"]), label="how")
    if choice == "flip":
        # Flips inside the name make an unknown plain-text command, which the connection
        # ignores (see test_curve_refuses_unboxed_commands_in_traffic); flip the boxed part.
        pos = data.draw(st.integers(min_value=8, max_value=len(body) - 1), label="pos")
        xor = data.draw(st.integers(min_value=1, max_value=255), label="xor")
        body = body[:pos] + bytes((body[pos] ^ xor,)) + body[pos + 1 :]
        bad = frame(flags & ~LONG, body)
        assert only_zmtp_errors(lambda: pair.server.receive_data(bad)) is not None
    elif choice == "truncate":
        cut = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="cut")
        bad = frame(flags & ~LONG, body[:cut])
        assert only_zmtp_errors(lambda: pair.server.receive_data(bad)) is not None
    else:
        junk = data.draw(st.binary(max_size=120), label="junk")
        bad = encode_command(b"MESSAGE", junk)
        assert only_zmtp_errors(lambda: pair.server.receive_data(bad)) is not None


# -- keys --------------------------------------------------------------------------------------
MANPAGE_KEYS = [
    (b"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", b"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"),
    (b"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", b"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"),
]


@pytest.mark.parametrize(("public", "secret"), MANPAGE_KEYS)
def test_curve_public_known_answers(public: bytes, secret: bytes) -> None:
    assert curve_public(secret) == public
    assert curve_public(secret.decode()) == public


def test_curve_keypair_matches_pyzmq() -> None:
    zmq = pytest.importorskip("zmq")
    for _ in range(20):
        public, secret = curve_keypair()
        assert len(public) == len(secret) == 40
        assert curve_public(secret) == public
        assert zmq.curve_public(secret) == public
        zpub, zsec = zmq.curve_keypair()
        assert curve_public(zsec) == zpub


def test_curve_public_rejects_bad_length() -> None:
    with pytest.raises(ValueError):
        curve_public(b"x" * 39)


def test_core_does_not_import_pyzmq() -> None:
    code = (
        "import sys; import purezmq.zmtp.mechanisms.curve, purezmq.zmtp.mechanisms.plain, "
        "purezmq.utils.z85; assert 'zmq' not in sys.modules, 'pyzmq imported'"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=30)


# -- against real libzmq ------------------------------------------------------------------------
try:
    import zmq
    from zmq.utils.monitor import recv_monitor_message
except ImportError:  # pragma: no cover - pyzmq is a test dependency
    zmq = None

needs_libzmq = pytest.mark.skipif(zmq is None, reason="pyzmq (libzmq) not installed")
libzmq_curve = pytest.mark.skipif(
    zmq is None or not zmq.has("curve"), reason="libzmq built without CURVE"
)


def pump_socket(
    sock: socket.socket,
    conn: ZmtpConnection,
    done: Callable[[list], bool],
    *,
    timeout: float = 5.0,
    on_event: Callable[[object], list] | None = None,
) -> list:
    """Shuttle bytes between a TCP socket and a connection until ``done(events)``."""
    events: list = []
    sock.settimeout(0.05)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done(events):
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:  # TimeoutError from Python 3.10
            continue
        if not chunk:
            break
        for ev in conn.receive_data(chunk):
            events.append(ev)
            if on_event is not None:
                events += on_event(ev)
    out = conn.data_to_send()
    if out:
        sock.sendall(out)
    return events


def has_handshake(events: list) -> bool:
    return any(isinstance(e, HandshakeSucceeded) for e in events)


@pytest.fixture
def zctx():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def libzmq_curve_server(zctx):
    spub, ssec = zmq.curve_keypair()
    srv = zctx.socket(zmq.ROUTER)
    srv.curve_server = True
    srv.curve_secretkey = ssec
    srv.rcvtimeo = 2000
    port = srv.bind_to_random_port("tcp://127.0.0.1")
    return srv, port, spub


@libzmq_curve
def test_libzmq_curve_server_accepts_our_client(zctx) -> None:
    srv, port, spub = libzmq_curve_server(zctx)
    cpub, csec = curve_keypair()
    conn = ZmtpConnection(
        "DEALER",
        CurveMechanism(as_server=False, public_key=cpub, secret_key=csec, server_key=spub),
        identity=b"purezmq",
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        events = pump_socket(sock, conn, has_handshake)
        ok = next(e for e in events if isinstance(e, HandshakeSucceeded))
        assert ok.peer_properties["Socket-Type"] == b"ROUTER"


@libzmq_curve
def test_libzmq_curve_client_accepted_by_our_server_with_zap(zctx) -> None:
    cpub, csec = zmq.curve_keypair()
    spub, ssec = curve_keypair()
    cli = zctx.socket(zmq.DEALER)
    cli.curve_serverkey, cli.curve_publickey, cli.curve_secretkey = spub, cpub, csec
    seen: list = []

    def on_event(ev) -> list:
        if isinstance(ev, ZapRequested):
            seen.append(ev.credentials)
            return conn.zap_reply(b"200", b"OK", b"libzmq-client", {})
        return []

    with socket.create_server(("127.0.0.1", 0)) as lst:
        cli.connect(f"tcp://127.0.0.1:{lst.getsockname()[1]}")
        sock, _ = lst.accept()
        with sock:
            conn = ZmtpConnection(
                "ROUTER", CurveMechanism(as_server=True, zap_enabled=True, secret_key=ssec)
            )
            events = pump_socket(sock, conn, has_handshake, on_event=on_event)
    assert has_handshake(events)
    assert seen == [[z85.decode(cpub)]]


@libzmq_curve
def test_libzmq_curve_messages_both_ways(zctx) -> None:
    srv, port, spub = libzmq_curve_server(zctx)
    cpub, csec = curve_keypair()
    conn = ZmtpConnection(
        "DEALER",
        CurveMechanism(as_server=False, public_key=cpub, secret_key=csec, server_key=spub),
        identity=b"purezmq",
    )
    big = b"x" * 70_000
    with socket.create_connection(("127.0.0.1", port)) as sock:
        pump_socket(sock, conn, has_handshake)
        sock.sendall(send(conn, [[b"hello", big]]))
        assert srv.recv_multipart() == [b"purezmq", b"hello", big]
        srv.send_multipart([b"purezmq", b"back", big])
        events = pump_socket(sock, conn, lambda evs: bool(messages(evs)))
        assert messages(events) == [[b"back", big]]


@libzmq_curve
def test_our_curve_zap_refusal_reaches_libzmq_as_auth_failure(zctx) -> None:
    cpub, csec = zmq.curve_keypair()
    spub, ssec = curve_keypair()
    cli = zctx.socket(zmq.DEALER)
    cli.curve_serverkey, cli.curve_publickey, cli.curve_secretkey = spub, cpub, csec
    monitor = cli.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
    with socket.create_server(("127.0.0.1", 0)) as lst:
        cli.connect(f"tcp://127.0.0.1:{lst.getsockname()[1]}")
        sock, _ = lst.accept()
        with sock:
            conn = ZmtpConnection(
                "ROUTER", CurveMechanism(as_server=True, zap_enabled=True, secret_key=ssec)
            )
            events = pump_socket(
                sock, conn, lambda evs: any(isinstance(e, ZapRequested) for e in evs)
            )
            assert any(isinstance(e, ZapRequested) for e in events)
            with pytest.raises(ZmtpError):
                conn.zap_reply(b"400", b"No access", b"", {})
            sock.sendall(conn.data_to_send())
            assert monitor.poll(3000)
            event = recv_monitor_message(monitor)
            assert event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH
            assert event["value"] == 400


@needs_libzmq
def test_libzmq_plain_server_with_zap_handler(zctx) -> None:
    from zmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(zctx)
    auth.start()
    try:
        auth.configure_plain(domain="*", passwords={"admin": "secret"})
        srv = zctx.socket(zmq.ROUTER)
        srv.plain_server = True
        srv.rcvtimeo = 2000
        port = srv.bind_to_random_port("tcp://127.0.0.1")
        conn = ZmtpConnection(
            "DEALER",
            PlainMechanism(as_server=False, username=b"admin", password=b"secret"),
            identity=b"purezmq",
        )
        with socket.create_connection(("127.0.0.1", port)) as sock:
            assert has_handshake(pump_socket(sock, conn, has_handshake))
            sock.sendall(send(conn, [[b"frame1", b"frame2"]]))
            assert srv.recv_multipart() == [b"purezmq", b"frame1", b"frame2"]
            srv.send_multipart([b"purezmq", b"reply"])
            events = pump_socket(sock, conn, lambda evs: bool(messages(evs)))
            assert messages(events) == [[b"reply"]]

        # A wrong password: libzmq's PLAIN ERROR is malformed ("\x05ERROR" in a C string
        # reads as "^RROR"), so all we can promise is a clean ZmtpError.
        bad = ZmtpConnection(
            "DEALER", PlainMechanism(as_server=False, username=b"admin", password=b"wrong")
        )
        with socket.create_connection(("127.0.0.1", port)) as sock:
            with pytest.raises(ZmtpError):
                pump_socket(sock, bad, has_handshake, timeout=3)
                raise AssertionError("handshake should not have succeeded")
    finally:
        auth.stop()


@needs_libzmq
def test_libzmq_plain_client_with_our_server(zctx) -> None:
    cli = zctx.socket(zmq.DEALER)
    cli.plain_username, cli.plain_password = b"admin", b"secret"
    cli.rcvtimeo = 2000

    def on_event(ev) -> list:
        if isinstance(ev, ZapRequested):
            assert ev.credentials == [b"admin", b"secret"]
            return conn.zap_reply(b"200", b"OK", b"admin", {})
        return []

    with socket.create_server(("127.0.0.1", 0)) as lst:
        cli.connect(f"tcp://127.0.0.1:{lst.getsockname()[1]}")
        sock, _ = lst.accept()
        with sock:
            conn = ZmtpConnection("ROUTER", PlainMechanism(as_server=True, zap_enabled=True))
            events = pump_socket(sock, conn, has_handshake, on_event=on_event)
            assert has_handshake(events)
            cli.send_multipart([b"a", b"b"])
            events = pump_socket(sock, conn, lambda evs: bool(messages(evs)))
            assert messages(events) == [[b"a", b"b"]]
            sock.sendall(send(conn, [[b"back"]]))
            assert cli.recv_multipart() == [b"back"]
